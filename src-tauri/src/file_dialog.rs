//! The native file dialogs run in a process of their own on Linux: GTK's file chooser opens and
//! closes files in the folders it lists (to guess their types — a database's `-shm`, and the
//! database itself under a name like `*.db`), and on POSIX closing *any* handle of a file drops
//! every lock the process holds on it, SQLite's included. In this process that would take the
//! locks from the connections of a query, an export or a change running meanwhile (another
//! program could then checkpoint and delete their log). The app starts itself again with
//! [`FLAG`]; that child shows the dialog, prints the chosen path on stdout and exits — it holds
//! no database open.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// The first argument that makes `pipeline-db-desktop` a file dialog instead of the app.
pub const FLAG: &str = "--file-dialog";

/// What comes before the chosen path on the child's stdout: GLib may print its own messages there
/// (`G_MESSAGES_DEBUG`), and a path holds no NUL byte, so the path is what follows the last mark.
const MARK: &[u8] = b"\0pipeline-db-file-dialog-path\0";

/// The child's exit codes: a path printed, the user cancelled, misuse, no display to show it on,
/// the path could not be written out.
const CHOSEN: i32 = 0;
const CANCELLED: i32 = 1;
const MISUSE: i32 = 2;
const NO_DISPLAY: i32 = 3;
const NOT_PRINTED: i32 = 4;

/// In `main`, before anything else: when started as a file dialog (`FLAG open|save TITLE ARG`),
/// shows it, prints the chosen path (its bytes) and exits with one of the codes above.
pub fn serve_if_asked() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().map(OsString::as_os_str) != Some(OsStr::new(FLAG)) {
        return;
    }
    // GLib's debug messages would go to stdout (single-threaded here: GTK is not started yet).
    std::env::remove_var("G_MESSAGES_DEBUG");
    let code = match args.as_slice() {
        [_, kind, title, arg] if kind == "open" || kind == "save" => {
            // GTK would wait for a display forever.
            let display = ["DISPLAY", "WAYLAND_DISPLAY"]
                .iter()
                .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
            match display {
                false => NO_DISPLAY,
                true => match show(kind == "open", &title.to_string_lossy(), arg) {
                    Some(p) => {
                        use std::io::Write;
                        let mut out = std::io::stdout();
                        let framed = [MARK, path_bytes(&p)].concat();
                        match out.write_all(&framed).and_then(|()| out.flush()) {
                            Ok(()) => CHOSEN,
                            Err(_) => NOT_PRINTED,
                        }
                    }
                    None => CANCELLED,
                },
            }
        }
        _ => MISUSE,
    };
    leave(code)
}

/// Ends the dialog's process without running the libraries' exit handlers: rfd's GTK thread is
/// still dispatching X events then, and `exit()` unloading Xlib under it crashed the process
/// (SIGSEGV in `XSetErrorHandler` on a freed mutex, from a core dump of the E2E) after it had
/// printed the path — the app then rightly took no path from it. Nothing is left buffered: the
/// path was written and flushed, stderr is unbuffered.
fn leave(code: i32) -> ! {
    // SAFETY: `_exit` only ends the process; no Rust state is observed afterwards.
    unsafe { libc::_exit(code) }
}

fn show(open: bool, title: &str, arg: &OsStr) -> Option<PathBuf> {
    let dialog = rfd::FileDialog::new().set_title(title);
    match open {
        true => dialog.set_directory(arg).pick_file(),
        false => dialog.set_file_name(arg.to_string_lossy()).save_file(),
    }
}

/// Shows a file dialog in a child process (see the module): the path, `None` when the user
/// cancelled, `Err` (why) when it could not be shown. The child is this very program
/// (`/proc/self/exe`: also after a package upgrade replaced the file on disk).
pub fn ask(kind: &str, title: &str, arg: &OsStr) -> crate::confirm::Picked {
    let out = std::process::Command::new("/proc/self/exe")
        .arg(FLAG)
        .arg(kind)
        .arg(title)
        .arg(arg)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output();
    let o = out.map_err(|e| format!("its process could not start: {e}"))?;
    match o.status.code() {
        Some(CHOSEN) => match framed_path(&o.stdout) {
            Some(p) => Ok(Some(p)),
            None => Err("its process printed no path".into()),
        },
        Some(CANCELLED) => Ok(None),
        Some(NO_DISPLAY) => Err("there is no display to show it on".into()),
        _ => Err(format!("its process ended with {}", o.status)),
    }
}

/// The path after the last [`MARK`] on the child's stdout (anything before it is noise).
fn framed_path(stdout: &[u8]) -> Option<PathBuf> {
    let at = stdout.windows(MARK.len()).rposition(|w| w == MARK)?;
    let bytes = &stdout[at + MARK.len()..];
    (!bytes.is_empty()).then(|| path_from(bytes.to_vec()))
}

#[cfg(unix)]
fn path_bytes(p: &std::path::Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes()
}

#[cfg(unix)]
fn path_from(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(OsString::from_vec(bytes))
}

#[cfg(test)]
mod tests {
    /// Any path, non-UTF-8 bytes included, crosses from the dialog's process unchanged, whatever
    /// GLib printed before it; no mark, or nothing after it, is no path.
    #[test]
    fn a_path_crosses_the_pipe_byte_for_byte() {
        use std::os::unix::ffi::OsStrExt;
        let p = std::path::Path::new(std::ffi::OsStr::from_bytes(b"/tmp/a b/\xff\xfe-\n.csv"));
        let noise = b"(pipeline-db-desktop:1): GLib-GIO-DEBUG: found\n/not/this\n".to_vec();
        let out = [noise.as_slice(), super::MARK, super::path_bytes(p)].concat();
        assert_eq!(super::framed_path(&out).as_deref(), Some(p));
        assert_eq!(super::framed_path(&noise), None);
        assert_eq!(super::framed_path(super::MARK), None);
    }
}
