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

pub fn completions(a: &CompletionsArgs) -> u8 {
    let mut cmd = command();
    let mut out = std::io::stdout();
    clap_complete::generate(a.shell, &mut cmd, "pipeline-db", &mut out);
    pipeline_db_core::exit::OK
}

pub fn manpages(a: &ManpagesArgs) -> u8 {
    let result =
        std::fs::create_dir_all(&a.dir).and_then(|()| clap_mangen::generate_to(command(), &a.dir));
    match result {
        Ok(()) => pipeline_db_core::exit::OK,
        Err(e) => {
            errln!("error: cannot write man pages to {}: {e}", a.dir.display());
            pipeline_db_core::exit::FAILED
        }
    }
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
