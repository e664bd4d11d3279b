//! What the CLI says about itself: the version line, shell completions and man pages, all
//! generated from the clap types (never written by hand). No workspace is loaded for these.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManpagesArgs};

/// `0.1.0 (commit 45b3b02a1c3d, SQLite 3.50.4)`: the version, the git commit it was built from
/// (`unknown` outside a git checkout) and the SQLite it carries.
pub fn version() -> String {
    format!(
        "{} (commit {}, SQLite {})",
        env!("CARGO_PKG_VERSION"),
        env!("PIPELINE_DB_GIT_COMMIT"),
        pipeline_db_core::sqlite_version()
    )
}

/// The clap command with the version line filled in (it is known only at run time: SQLite's).
pub fn command() -> clap::Command {
    let v: &'static str = Box::leak(version().into_boxed_str());
    Cli::command().version(v)
}

/// The completion script on stdout: generated in memory, then written (a closed pipe or a full
/// disk is an error, exit 1 — clap_complete panics on them when it writes itself).
pub fn completions(a: &CompletionsArgs) -> u8 {
    use std::io::Write as _;
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut command(), "pipeline-db", &mut buf);
    let mut out = std::io::stdout().lock();
    match out.write_all(&buf).and_then(|()| out.flush()) {
        Ok(()) => pipeline_db_core::exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => crate::ui::EXIT_BROKEN_PIPE,
        Err(e) => {
            errln!("error: writing the completion script: {e}");
            pipeline_db_core::exit::FAILED
        }
    }
}

/// The man pages into `a.dir`, each as a new file: generated into a private directory of their
/// own, then copied into `a.dir` without following a link or replacing anything there (a page
/// already there, or a symlink by its name, is refused — exit 3 — and nothing is written over).
pub fn manpages(a: &ManpagesArgs) -> u8 {
    match write_manpages(&a.dir) {
        Ok(()) => pipeline_db_core::exit::OK,
        Err((code, e)) => {
            errln!("error: man pages into {}: {e}", a.dir.display());
            code
        }
    }
}

fn write_manpages(dir: &std::path::Path) -> Result<(), (u8, String)> {
    use pipeline_db_core::exit;
    let failed = |e: std::io::Error| (exit::FAILED, e.to_string());
    std::fs::create_dir_all(dir).map_err(failed)?;
    let private = std::env::temp_dir().join(format!(
        "pipeline-db-man-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir(&private).map_err(failed)?;
    let copied = (|| {
        clap_mangen::generate_to(command(), &private).map_err(failed)?;
        let mut names: Vec<_> = std::fs::read_dir(&private)
            .map_err(failed)?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in &names {
            let to = dir.join(name);
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&to)
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists => (
                        exit::REFUSED,
                        format!("{} is already there (a page or a link by its name); nothing is written over: remove it, or choose an empty directory", to.display()),
                    ),
                    _ => (exit::FAILED, format!("{}: {e}", to.display())),
                })?;
            let bytes = std::fs::read(private.join(name)).map_err(failed)?;
            std::io::Write::write_all(&mut out, &bytes).map_err(failed)?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&private);
    copied
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_names_the_commit_and_sqlite() {
        let v = super::version();
        assert!(v.starts_with(env!("CARGO_PKG_VERSION")), "{v}");
        assert!(v.contains("(commit ") && v.contains(", SQLite 3."), "{v}");
    }

    #[test]
    fn every_shell_gets_a_completion_script() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut super::command(), "pipeline-db", &mut buf);
            let text = String::from_utf8(buf).unwrap();
            assert!(
                text.contains("reset") && text.contains("with-sample-data"),
                "{shell}"
            );
        }
    }
}
