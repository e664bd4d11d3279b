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

/// What the child prints when the user cancelled: an exit code alone could be GDK's own (it ends
/// the process with 1 when its display connection breaks), which must not read as a cancel.
const CANCEL_MARK: &[u8] = b"\0pipeline-db-file-dialog-cancelled\0";

/// The child's exit codes: a path printed, the user cancelled, misuse, no display to show it on,
/// the answer could not be written out.
const CHOSEN: i32 = 0;
const CANCELLED: i32 = 10;
const MISUSE: i32 = 2;
const NO_DISPLAY: i32 = 3;
const NOT_PRINTED: i32 = 4;
const ASKER_GONE: i32 = 5;

/// The app's process id, set by [`ask`] in the child's environment: the child ends when the
/// process that asked is gone (see [`end_with_the_asker`]).
const ASKER_VAR: &str = "PIPELINE_DB_FILE_DIALOG_ASKER";

/// In `main`, before anything else: when started as a file dialog (`FLAG open|save TITLE ARG`),
/// shows it, prints the chosen path (its bytes) or the cancel mark and exits with one of the
/// codes above.
pub fn serve_if_asked() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().map(OsString::as_os_str) != Some(OsStr::new(FLAG)) {
        return;
    }
    end_with_the_asker();
    // GLib's debug messages would go to stdout (single-threaded here: GTK is not started yet).
    std::env::remove_var("G_MESSAGES_DEBUG");
    let code = match args.as_slice() {
        [_, kind, title, arg] if kind == "open" || kind == "save" => {
            match show(kind == "open", &title.to_string_lossy(), arg) {
                Err(NoDisplay) => NO_DISPLAY,
                Ok(Some(p)) => print(&[MARK, path_bytes(&p)].concat(), CHOSEN),
                Ok(None) => print(CANCEL_MARK, CANCELLED),
            }
        }
        _ => MISUSE,
    };
    leave(code)
}

/// Writes `bytes` on stdout: `code` once they are out, else [`NOT_PRINTED`].
fn print(bytes: &[u8], code: i32) -> i32 {
    use std::io::Write;
    let mut out = std::io::stdout();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => code,
        Err(_) => NOT_PRINTED,
    }
}

/// Ends the dialog's process without running the libraries' exit handlers: with GTK's threads
/// still running, `exit()` unloading Xlib under them crashed the process (SIGSEGV in
/// `XSetErrorHandler` on a freed mutex, from a core dump of the E2E, when rfd's GTK thread ran
/// the dialog) after it had printed the path. Nothing is left buffered: the answer was written
/// and flushed, stderr is unbuffered.
fn leave(code: i32) -> ! {
    // SAFETY: `_exit` only ends the process; no Rust state is observed afterwards.
    unsafe { libc::_exit(code) }
}

/// A dialog whose app quit or crashed would stay on screen, its answer going nowhere: the kernel
/// ends this process when the thread that started it ends (`PR_SET_PDEATHSIG`; that thread waits
/// for the answer, so it ends only with the app). An app gone before this ran is seen by its
/// process id no longer being this process's parent.
fn end_with_the_asker() {
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets which signal this process gets.
    let armed = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } == 0;
    let asker = std::env::var(ASKER_VAR)
        .ok()
        .and_then(|v| v.parse::<i32>().ok());
    // SAFETY: getppid only reads this process's parent id.
    let parent = unsafe { libc::getppid() };
    if !armed || asker.is_some_and(|a| a != parent) {
        leave(ASKER_GONE)
    }
}

/// GTK could not be started: no display, or none it can connect to.
struct NoDisplay;

/// GTK's file chooser (the one rfd shows), on this process's main thread: GTK is started here,
/// so a display it cannot connect to is said at once (rfd's own thread would wait forever).
fn show(open: bool, title: &str, arg: &OsStr) -> Result<Option<PathBuf>, NoDisplay> {
    use gtk::prelude::*;
    let display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
    if !display || gtk::init().is_err() {
        return Err(NoDisplay);
    }
    let (action, accept) = match open {
        true => (gtk::FileChooserAction::Open, "_Open"),
        false => (gtk::FileChooserAction::Save, "_Save"),
    };
    let dialog = gtk::FileChooserNative::new(
        Some(title),
        None::<&gtk::Window>,
        action,
        Some(accept),
        Some("_Cancel"),
    );
    match open {
        true => {
            dialog.set_current_folder(arg);
        }
        false => {
            dialog.set_current_name(&arg.to_string_lossy());
            dialog.set_do_overwrite_confirmation(true);
        }
    }
    let chosen = dialog.run() == gtk::ResponseType::Accept;
    Ok(chosen.then(|| dialog.filename()).flatten())
}

/// Shows a file dialog in a child process (see the module): the path, `None` when the user
/// cancelled, `Err` (why) when it could not be shown or ended without an answer. The child is this very program
/// (`/proc/self/exe`: also after a package upgrade replaced the file on disk).
pub fn ask(kind: &str, title: &str, arg: &OsStr) -> crate::confirm::Picked {
    let out = std::process::Command::new("/proc/self/exe")
        .arg(FLAG)
        .arg(kind)
        .arg(title)
        .arg(arg)
        .env(ASKER_VAR, std::process::id().to_string())
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output();
    let o = out.map_err(|e| format!("its process could not start: {e}"))?;
    answer(o.status.code(), &o.stdout)
        .map_err(|why| why.unwrap_or(format!("its process ended with {}", o.status)))
}

/// The child's answer from its exit code and stdout; `Err(None)`: it ended some other way.
fn answer(code: Option<i32>, stdout: &[u8]) -> Result<Option<PathBuf>, Option<String>> {
    match code {
        Some(CHOSEN) => match framed_path(stdout) {
            Some(p) => Ok(Some(p)),
            None => Err(Some("its process printed no path".into())),
        },
        Some(CANCELLED) if stdout.ends_with(CANCEL_MARK) => Ok(None),
        Some(NO_DISPLAY) => Err(Some(
            "there is no display it can be shown on: none is set, or GTK cannot connect".into(),
        )),
        _ => Err(None),
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
    /// Only the cancel mark is a cancel: GDK ends a process whose display connection broke with
    /// exit code 1, printing nothing (review 18), and that is no answer, not "cancelled".
    #[test]
    fn only_the_cancel_mark_is_a_cancel() {
        use super::{answer, CANCELLED, CANCEL_MARK};
        assert_eq!(answer(Some(CANCELLED), CANCEL_MARK), Ok(None));
        assert_eq!(answer(Some(CANCELLED), b""), Err(None));
        assert_eq!(answer(Some(1), b""), Err(None));
        assert_eq!(answer(Some(1), CANCEL_MARK), Err(None));
        assert_eq!(answer(None, CANCEL_MARK), Err(None), "a signal");
    }

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
