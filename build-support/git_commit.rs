// Included by the adapters' build scripts (`crates/cli/build.rs`, `src-tauri/build.rs`): sets
// `PIPELINE_DB_GIT_COMMIT` to the short commit of HEAD, or `unknown` outside a git checkout (a
// source tarball, `cargo install` from a copy). Re-run when HEAD or the branch it names moves.

/// `cargo:rustc-env=PIPELINE_DB_GIT_COMMIT=…` plus the rerun lines.
fn emit_git_commit() {
    println!("cargo:rerun-if-env-changed=PIPELINE_DB_GIT_COMMIT");
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git").args(args).output().ok()?;
        let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !s.is_empty()).then_some(s)
    };
    // An explicit value wins (a release pipeline building from an export).
    let commit = std::env::var("PIPELINE_DB_GIT_COMMIT")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    for path in ["HEAD", "packed-refs"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(&["rev-parse", "--git-path", &branch]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    println!("cargo:rustc-env=PIPELINE_DB_GIT_COMMIT={commit}");
}
