//! The git commit `pipeline-db --version` reports.

include!("../../build-support/git_commit.rs");

fn main() {
    emit_git_commit();
}
