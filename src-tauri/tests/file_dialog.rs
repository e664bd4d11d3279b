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
