//! Reads `tauri.conf.json` and declares every app command, so the ACL can deny what no
//! capability grants (without `AppManifest::commands` Tauri allows every command to every window);
//! sets the git commit the About panel reports.

include!("../build-support/git_commit.rs");

fn main() {
    emit_git_commit();
    // tauri_build's own rerun-if-changed lines replace cargo's default (any file of the package).
    println!("cargo:rerun-if-changed=src/commands/list.rs");
    let manifest = tauri_build::AppManifest::new().commands(pipeline_db_desktop_commands());
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri build script failed");
}

// `app_commands!`: the one list of commands, shared with `src/lib.rs`.
include!("src/commands/list.rs");

/// Every command's name (the granted ones and the others), for `AppManifest::commands`.
fn pipeline_db_desktop_commands() -> &'static [&'static str] {
    macro_rules! names {
        (granted: [$($g:ident::$gc:ident),* $(,)?], not_granted: [$($n:ident::$nc:ident),* $(,)?] $(,)?) => {
            &[$(stringify!($gc),)* $(stringify!($nc),)*]
        };
    }
    app_commands!(names)
}
