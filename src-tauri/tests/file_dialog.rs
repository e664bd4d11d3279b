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
