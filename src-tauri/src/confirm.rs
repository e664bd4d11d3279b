//! Native dialogs raised from Rust (the webview cannot click them), behind small traits so tests
//! inject accept/deny. The real ones use rfd's GTK backend, called off the main thread; the file
//! dialogs, on Linux, in a child process (`file_dialog`).

use std::path::{Path, PathBuf};

/// A protected action awaiting the user's final word.
#[derive(Debug, Clone)]
pub struct ProtectedAction<'a> {
    pub verb: &'a str,
    pub env: &'a str,
    pub path: &'a Path,
    pub summary: &'a str,
    /// A protected env (the dialog says so).
    pub protected: bool,
    /// What the action does first, for the dialog's last line ("A verified backup is taken first.").
    pub first: &'a str,
}

pub trait Confirmer: Send + Sync {
    /// True only if the user explicitly accepted.
    fn confirm(&self, action: &ProtectedAction<'_>) -> bool;

    /// What the user typed in the native dialog that asks for the env's name before accepting
    /// (`None`: cancelled). Only this text goes to core as the typed name: the page never types
    /// it, and no adapter makes it up.
    fn type_name(&self, action: &ProtectedAction<'_>) -> Option<String>;
}

/// What a file dialog answered: a path, `None` if the user cancelled, `Err` (why) if it could not
/// be shown — never reported as a cancel.
pub type Picked = Result<Option<PathBuf>, String>;

pub trait FilePicker: Send + Sync {
    /// Where to write (a backup export, rows, a new database).
    fn save_path(&self, title: &str, suggested_name: &str) -> Picked;
    /// A file to read (a backup to restore, rows to import, a database to add).
    fn open_path(&self, title: &str, start_dir: &Path) -> Picked;
}

/// A dialog's answer for a command: the path, or the error saying it was cancelled (`cancelled`:
/// what that left undone) or could not be shown.
pub fn chosen(picked: Picked, cancelled: &str) -> crate::error::CmdResult<PathBuf> {
    match picked {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(crate::error::CmdError::cancelled(cancelled)),
        Err(why) => Err(crate::error::CmdError::internal(format!(
            "the file dialog gave no answer ({why}); nothing was changed"
        ))),
    }
}

/// The title of the native confirmation dialog (E2E tests find it by this name).
pub fn dialog_title(action: &ProtectedAction<'_>) -> String {
    let of = if action.verb.ends_with(" of") {
        ""
    } else {
        " of"
    };
    format!("Confirm {}{of} {}", action.verb, action.env.to_uppercase())
}

/// What an action is done to, in the dialog's words.
fn subject(a: &ProtectedAction<'_>) -> String {
    match a.env {
        ALL_ENVS => ALL_ENVS.to_string(),
        // A retention change deleting backups of several protected envs names them all.
        env if env.contains(pipeline_db_core::verbs::settings::PROTECTED_NAMES_SEPARATOR) => {
            format!("the PROTECTED environments {env}")
        }
        env => format!(
            "the {}environment {env}",
            if a.protected { "PROTECTED " } else { "" }
        ),
    }
}

/// What a confirmation dialog says of the action.
fn description(a: &ProtectedAction<'_>) -> String {
    format!(
        "You are about to {} {}.\n\nFile: {}\n{}\n\n{}",
        a.verb,
        subject(a),
        a.path.display(),
        a.summary,
        a.first
    )
}

/// The `env` of an action that concerns every env (a retention change no protected env's
/// backups are deleted by).
pub const ALL_ENVS: &str = "all environments";

pub struct NativeDialogs;

impl Confirmer for NativeDialogs {
    fn confirm(&self, a: &ProtectedAction<'_>) -> bool {
        let ok = format!("{} {}", capitalize(a.verb), a.env);
        let answer = rfd::MessageDialog::new()
            .set_level(rfd::MessageLevel::Warning)
            .set_title(dialog_title(a))
            .set_description(description(a))
            // Cancel is the first button, so it holds the focus: Return or Space on a dialog
            // raised while the user was typing answers Cancel. Only a click on the action (or
            // moving the focus to it) accepts.
            .set_buttons(rfd::MessageButtons::OkCancelCustom(
                "Cancel".into(),
                ok.clone(),
            ))
            .show();
        matches!(answer, rfd::MessageDialogResult::Custom(s) if s == ok)
    }

    fn type_name(&self, a: &ProtectedAction<'_>) -> Option<String> {
        let ok = format!("{} {}", capitalize(a.verb), a.env);
        let text = description(a);
        #[cfg(target_os = "linux")]
        return crate::typed_dialog::ask(dialog_title(a), text, a.env.to_string(), ok);
        // Elsewhere no native dialog with a text field is wired, and a click must not stand for
        // the typed name: the action is not confirmed (the CLI's typed prompt does it).
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (ok, text);
            tracing::warn!(
                "typing {}'s name needs the Linux build's native dialog: use `pipeline-db`",
                a.env
            );
            None
        }
    }
}

/// On Linux in a process of their own (`file_dialog`: GTK's chooser opens and closes the files
/// it lists, which would drop this process's database locks).
#[cfg(target_os = "linux")]
impl FilePicker for NativeDialogs {
    fn save_path(&self, title: &str, suggested_name: &str) -> Picked {
        crate::file_dialog::ask("save", title, suggested_name.as_ref())
    }

    fn open_path(&self, title: &str, start_dir: &Path) -> Picked {
        crate::file_dialog::ask("open", title, start_dir.as_os_str())
    }
}

#[cfg(not(target_os = "linux"))]
impl FilePicker for NativeDialogs {
    fn save_path(&self, title: &str, suggested_name: &str) -> Picked {
        Ok(rfd::FileDialog::new()
            .set_title(title)
            .set_file_name(suggested_name)
            .save_file())
    }

    fn open_path(&self, title: &str, start_dir: &Path) -> Picked {
        Ok(rfd::FileDialog::new()
            .set_title(title)
            .set_directory(start_dir)
            .pick_file())
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Test doubles: always the same answer.
pub struct Always(pub bool);

impl Confirmer for Always {
    fn confirm(&self, _: &ProtectedAction<'_>) -> bool {
        self.0
    }

    /// Accepting, the name is typed as asked.
    fn type_name(&self, a: &ProtectedAction<'_>) -> Option<String> {
        self.0.then(|| a.env.to_string())
    }
}

/// Test double: accepts every dialog, and types this text where a name is asked.
pub struct Typist(pub String);

impl Confirmer for Typist {
    fn confirm(&self, _: &ProtectedAction<'_>) -> bool {
        true
    }

    fn type_name(&self, _: &ProtectedAction<'_>) -> Option<String> {
        Some(self.0.clone())
    }
}

/// File dialogs that answer a fixed path (or cancel).
pub struct FixedFile(pub Option<PathBuf>);

impl FilePicker for FixedFile {
    fn save_path(&self, _: &str, _: &str) -> Picked {
        Ok(self.0.clone())
    }

    fn open_path(&self, _: &str, _: &Path) -> Picked {
        Ok(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    /// A dialog that could not be shown is an error of its own, never a cancel.
    #[test]
    fn a_dialog_not_shown_is_not_a_cancel() {
        let p = std::path::PathBuf::from("/x");
        assert_eq!(super::chosen(Ok(Some(p.clone())), "c").unwrap(), p);
        let cancelled = super::chosen(Ok(None), "cancelled; nothing was changed").unwrap_err();
        assert_eq!(cancelled.kind, "cancelled");
        let failed = super::chosen(Err("no display".into()), "c").unwrap_err();
        assert_ne!(failed.kind, "cancelled");
        assert!(
            failed.message.contains("gave no answer (no display)"),
            "{}",
            failed.message
        );
    }
}
