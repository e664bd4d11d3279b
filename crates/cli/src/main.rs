//! `pipeline-db`: parses the command line, confirms, displays. Every rule is a core call.

/// Output that never panics: a closed pipe or a failing disk must not turn into a crash, so write
/// errors on stdout/stderr are ignored (the exit code still tells the outcome).
macro_rules! outln { ($($t:tt)*) => {{ use std::io::Write as _; let _ = writeln!(std::io::stdout(), $($t)*); }} }
macro_rules! errln { ($($t:tt)*) => {{ use std::io::Write as _; let _ = writeln!(std::io::stderr(), $($t)*); }} }
macro_rules! errp { ($($t:tt)*) => {{ use std::io::Write as _; let _ = write!(std::io::stderr(), $($t)*); }} }

mod cli;
mod commands;
mod interrupt;
mod ui;

use std::process::ExitCode;

use clap::Parser;
use pipeline_db_core::{Workspace, WorkspaceOptions};

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    init_logging(cli.verbose);
    interrupt::install();
    let json = commands::wants_json(&cli.command);
    let opts = WorkspaceOptions {
        data_dir: cli.data_dir.clone(),
        config: cli.config.clone(),
        busy_timeout: cli.busy_timeout_ms.map(std::time::Duration::from_millis),
    };
    let result = Workspace::load(&opts.with_env_vars()).and_then(|ws| {
        for p in ws.clean_leftovers() {
            tracing::info!("removed {} (left by a killed pipeline-db)", p.display());
        }
        commands::run(&ws, cli.command)
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            ui::print_error(&e, json);
            ExitCode::from(e.exit_code())
        }
    }
}

/// clap's usage errors (exit 2); with `--json` anywhere on the line they are also JSON on stdout,
/// like every other error. Help and version go out as clap prints them.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let json = std::env::args().any(|a| a == "--json");
    if json && !matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let rendered = e.render().to_string();
        let message = rendered
            .lines()
            .next()
            .unwrap_or("invalid arguments")
            .trim_start_matches("error: ")
            .to_string();
        errln!("{rendered}");
        ui::print_json(&serde_json::json!({
            "error": { "kind": "usage", "message": message, "exit_code": 2 }
        }));
        return ExitCode::from(2);
    }
    let _ = e.print();
    ExitCode::from(if e.use_stderr() { 2 } else { 0 })
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter)
        .with_target(false)
        .init();
}

/// stderr for log lines that never reports a failed write: tracing-subscriber answers a writer
/// error with `eprintln!`, which panics when stderr itself is broken (seen under injected I/O
/// faults). A log line that cannot be written is dropped; the command's result is unaffected.
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}
