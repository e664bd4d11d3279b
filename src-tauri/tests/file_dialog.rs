//! The file dialog's own process (`pipeline-db-desktop --file-dialog KIND TITLE ARG`): what it
//! answers when it cannot show a dialog, so the app never takes that for a cancel.

#[cfg(target_os = "linux")]
#[test]
fn the_file_dialog_process_says_why_it_shows_nothing() {
    let exe = env!("CARGO_BIN_EXE_pipeline-db-desktop");
    let run = |args: &[&str]| {
        std::process::Command::new(exe)
            .args(args)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(
        run(&["--file-dialog", "bogus", "T", "/tmp"]),
        Some(2),
        "misuse"
    );
    assert_eq!(run(&["--file-dialog", "open", "T"]), Some(2), "misuse");
    assert_eq!(
        run(&["--file-dialog", "open", "T", "/tmp"]),
        Some(3),
        "no display: said at once, never waited for"
    );
}

/// A display that is set but cannot be reached (a closed `ssh -X` tunnel, a stale Xauthority):
/// said at once with the no-display code, never a child waiting forever (rfd's GTK thread did).
#[cfg(target_os = "linux")]
#[test]
fn an_unreachable_display_is_said_at_once() {
    let exe = env!("CARGO_BIN_EXE_pipeline-db-desktop");
    for (var, value) in [("DISPLAY", ":87"), ("WAYLAND_DISPLAY", "wayland-no-such")] {
        let mut child = std::process::Command::new(exe)
            .args(["--file-dialog", "open", "T", "/tmp"])
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env(var, value)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let end = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if std::time::Instant::now() > end {
                let _ = child.kill();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert_eq!(status.and_then(|s| s.code()), Some(3), "{var}={value}");
    }
}

/// A dialog whose app quits (or crashes) while it is open goes with it: a shell starts the dialog
/// on a display of its own (Xvfb), checks 3 s later that the dialog is still up, and exits; the dialog's process
/// must end within 15 s. (Without the fix the dialog stays on screen, its answer going nowhere.)
#[cfg(target_os = "linux")]
#[test]
fn a_dialog_goes_when_its_app_goes() {
    use std::io::BufRead;
    use std::time::{Duration, Instant};
    let xvfb = Xvfb::start();
    // The shell is the "app": it names itself as the asker, as the app does, prints the
    // dialog's pid, gives GTK time to show the window, and exits.
    let script = r#"PIPELINE_DB_FILE_DIALOG_ASKER=$$ "$0" --file-dialog open T /tmp </dev/null >/dev/null 2>&1 &
echo $!
sleep 3
kill -0 $! && echo up"#;
    let mut sh = std::process::Command::new("sh")
        .args(["-c", script, env!("CARGO_BIN_EXE_pipeline-db-desktop")])
        .env("DISPLAY", &xvfb.display)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(sh.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let dialog: i32 = line.trim().parse().expect("the dialog's pid");
    // The dialog was still up when the "app" went (not ended early for want of a display).
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        "up",
        "the dialog was not up 3 s after it started"
    );
    assert!(sh.wait().unwrap().success());
    let end = Instant::now() + Duration::from_secs(15);
    let alive = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    };
    while alive(dialog) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left = alive(dialog);
    if left {
        // SAFETY: kill only sends a signal to the dialog this test started.
        unsafe { libc::kill(dialog, libc::SIGKILL) };
    }
    assert!(
        !left,
        "the dialog's process outlived the process that asked for it"
    );
}

/// An X server of the test's own on a free display number; stopped when dropped.
#[cfg(target_os = "linux")]
struct Xvfb {
    display: String,
    child: std::process::Child,
}

#[cfg(target_os = "linux")]
impl Xvfb {
    /// Panics when Xvfb is missing: the desktop's tests run where `make desktop-deps` installed it.
    fn start() -> Xvfb {
        let n = (100..400)
            .find(|n| {
                !std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                    && !std::path::Path::new(&format!("/tmp/.X{n}-lock")).exists()
            })
            .expect("a free display number");
        let child = std::process::Command::new("Xvfb")
            .args([
                format!(":{n}").as_str(),
                "-nolisten",
                "tcp",
                "-screen",
                "0",
                "1024x768x24",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("Xvfb (make desktop-deps installs it)");
        let socket = format!("/tmp/.X11-unix/X{n}");
        let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !std::path::Path::new(&socket).exists() {
            assert!(std::time::Instant::now() < end, "Xvfb :{n} did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Xvfb {
            display: format!(":{n}"),
            child,
        }
    }
}

#[cfg(target_os = "linux")]
impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
