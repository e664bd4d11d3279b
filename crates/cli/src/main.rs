//! `pipeline-db`: parses the command line, confirms, displays. Every rule is a core call.

/// Output that never panics: a closed pipe or a failing disk must not turn into a crash. A failed
/// write to stdout is remembered (`ui::wrote`) and reported once at the end (exit 1 where the
/// command itself succeeded); stderr's are ignored. What it prints is
/// made terminal-safe (`ui::terminal_safe`): names and values read from a database or a file
/// cannot move the cursor, rewrite a plan above a prompt or retitle the window. Data output (CSV,
/// JSON) is written by its own writers, byte for byte.
macro_rules! outln { ($($t:tt)*) => {{ crate::ui::out_line(&crate::ui::terminal_safe(&format!($($t)*))); }} }
macro_rules! errln { ($($t:tt)*) => {{ use std::io::Write as _; let _ = writeln!(std::io::stderr(), "{}", crate::ui::terminal_safe(&format!($($t)*))); }} }
macro_rules! errp { ($($t:tt)*) => {{ use std::io::Write as _; let _ = write!(std::io::stderr(), "{}", crate::ui::terminal_safe(&format!($($t)*))); }} }

mod cli;
mod commands;
mod generate;
mod interrupt;
mod ui;

use std::process::ExitCode;

use clap::FromArgMatches;
use pipeline_db_core::{Workspace, WorkspaceOptions};

fn main() -> ExitCode {
    let empty = take_empty_env_vars();
    let (cli, matches) = match generate::command()
        .try_get_matches()
        .and_then(|m| cli::Cli::from_arg_matches(&m).map(|c| (c, m)))
    {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    // What the CLI says about itself needs no workspace (and must not create a data dir).
    match &cli.command {
        cli::Command::Completions(a) => return ExitCode::from(generate::completions(a)),
        cli::Command::Manpages(a) => return ExitCode::from(generate::manpages(a)),
        _ => {}
    }
    init_logging(cli.verbose);
    if let Some(code) = refuse_empty(&empty, &matches, commands::wants_json(&cli.command)) {
        return code;
    }
    ui::set_data_dir_source(match matches.value_source("data_dir") {
        Some(clap::parser::ValueSource::CommandLine) => "from --data-dir",
        Some(clap::parser::ValueSource::EnvVariable) => "from PIPELINE_DB_HOME",
        _ => "the default: neither --data-dir nor PIPELINE_DB_HOME is set",
    });
    warn_unknown_env_vars();
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
    let result = result.map(|code| match ui::stdout_failure() {
        // The command ran; what it printed did not arrive: say so, and do not exit 0.
        Some(why) if code == 0 => {
            errln!("error: the output could not be written to stdout ({why}); the command itself completed (`pipeline-db log` shows what it did)");
            1
        }
        _ => code,
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            ui::print_error(&e, json);
            ExitCode::from(e.exit_code())
        }
    }
}

/// The variables clap reads that are set but empty (`PIPELINE_DB_HOME=`: a script's variable that
/// was never filled), taken out of the environment before clap sees them (clap would reject them
/// even beside `--help` or the flag itself); [`refuse_empty`] decides once the line is parsed.
/// Single-threaded here: nothing else reads the environment yet.
fn take_empty_env_vars() -> Vec<(&'static str, &'static str)> {
    let mut empty = vec![];
    for (var, arg) in [
        ("PIPELINE_DB_HOME", "data_dir"),
        ("PIPELINE_DB_CONFIG", "config"),
    ] {
        if std::env::var_os(var).is_some_and(|v| v.is_empty()) {
            std::env::remove_var(var);
            empty.push((var, arg));
        }
    }
    empty
}

/// An empty variable is neither a directory nor "unset": pipeline-db must not fall back to the
/// default data dir (or config) and act there. Refused (exit 2) unless the command line gives it.
fn refuse_empty(
    empty: &[(&str, &str)],
    matches: &clap::ArgMatches,
    json: bool,
) -> Option<ExitCode> {
    let (var, arg) = empty.iter().find(|(_, arg)| {
        matches.value_source(arg) != Some(clap::parser::ValueSource::CommandLine)
    })?;
    let what = if *arg == "data_dir" {
        "directory"
    } else {
        "file"
    };
    let msg = format!("{var} is set but empty; set it to a {what} or unset it (`unset {var}`)");
    ui::print_error(&pipeline_db_core::Error::InvalidInput(msg), json);
    Some(ExitCode::from(2))
}

/// A misspelt `PIPELINE_DB_HOME` would silently mean the default data dir: name any
/// `PIPELINE_DB_*` variable that nothing reads.
fn warn_unknown_env_vars() {
    const KNOWN: &[&str] = &[
        "PIPELINE_DB_HOME",
        "PIPELINE_DB_CONFIG",
        // Test-only knobs (failpoints builds, the test suites).
        "PIPELINE_DB_FAILPOINT",
        "PIPELINE_DB_BIN",
        "PIPELINE_DB_FAULT_RUNS",
        "PIPELINE_DB_FUZZ_SEED",
        "PIPELINE_DB_TEST_MAX_PAGE_COUNT",
        "PIPELINE_DB_WRITE_TYPES",
    ];
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        // `PIPELINE_DB_TEST_*`: the test suites' knobs (read by failpoints builds only).
        let test_knob = k.starts_with("PIPELINE_DB_TEST_");
        if k.starts_with("PIPELINE_DB") && !test_knob && !KNOWN.contains(&k.as_ref()) {
            errln!(
                "warning: {k} is set but pipeline-db reads no such variable (the data dir comes from --data-dir or PIPELINE_DB_HOME, the config from --config or PIPELINE_DB_CONFIG)"
            );
        }
    }
}

/// clap's usage errors (exit 2); with `--json` anywhere on the line they are also JSON on stdout,
/// like every other error. Help and version go out as clap prints them.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let json = std::env::args_os().any(|a| a == "--json");
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
    let printed = e.print();
    if e.use_stderr() {
        return ExitCode::from(2);
    }
    // Help or the version on stdout: a full disk or closed pipe is not a success.
    match printed.and_then(|()| std::io::Write::flush(&mut std::io::stdout())) {
        Ok(()) => ExitCode::from(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::from(ui::EXIT_BROKEN_PIPE)
        }
        Err(e) => {
            errln!("error: writing to stdout: {e}");
            ExitCode::from(1)
        }
    }
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
        // Colour only for a person: none into a pipe or a file (`-vv 2>log`).
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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
