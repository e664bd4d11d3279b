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

/// In `main`, before anything else: when started as a file dialog (`FLAG open|save TITLE ARG`),
/// shows it, prints the chosen path (its bytes) and exits — 0 with a path, 1 cancelled, 2 misuse.
pub fn serve_if_asked() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().map(OsString::as_os_str) != Some(OsStr::new(FLAG)) {
        return;
    }
    let code = match args.as_slice() {
        [_, kind, title, arg] => match show(kind, &title.to_string_lossy(), arg) {
            Some(p) => {
                use std::io::Write;
                let mut out = std::io::stdout();
                let written = out.write_all(path_bytes(&p)).and_then(|()| out.flush());
                i32::from(written.is_err())
            }
            None => 1,
        },
        _ => 2,
    };
    std::process::exit(code);
}

fn show(kind: &OsStr, title: &str, arg: &OsStr) -> Option<PathBuf> {
    let dialog = rfd::FileDialog::new().set_title(title);
    match kind.to_str()? {
        "open" => dialog.set_directory(arg).pick_file(),
        "save" => dialog.set_file_name(arg.to_string_lossy()).save_file(),
        _ => None,
    }
}

/// Shows a file dialog in a child process (see the module); `None` when the user cancelled — or
/// when the dialog could not be shown, which is logged.
pub fn ask(kind: &str, title: &str, arg: &OsStr) -> Option<PathBuf> {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            tracing::error!("no file dialog: this program's path cannot be read: {e}");
            return None;
        }
    };
    let out = std::process::Command::new(exe)
        .arg(FLAG)
        .arg(kind)
        .arg(title)
        .arg(arg)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output();
    match out {
        Ok(o) if o.status.success() && !o.stdout.is_empty() => Some(path_from(o.stdout)),
        Ok(o) if o.status.code() == Some(1) => None,
        Ok(o) => {
            tracing::error!("the file dialog process ended with {}", o.status);
            None
        }
        Err(e) => {
            tracing::error!("the file dialog process could not start: {e}");
            None
        }
    }
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
    /// Any path, non-UTF-8 bytes included, crosses from the dialog's process unchanged.
    #[test]
    fn a_path_crosses_the_pipe_byte_for_byte() {
        use std::os::unix::ffi::OsStrExt;
        let p = std::path::Path::new(std::ffi::OsStr::from_bytes(b"/tmp/a b/\xff\xfe-\n.csv"));
        assert_eq!(super::path_from(super::path_bytes(p).to_vec()), p);
    }
}
