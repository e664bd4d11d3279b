//! Terminal interaction: prompts scaled to risk, progress bars, errors, JSON on stdout.

use std::io::{BufRead, IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};
use pipeline_db_core::{Confirmation, Confirmed, Error, Observer, Progress, Verb};
use serde::Serialize;

use crate::cli::ConfirmArgs;

pub fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => outln!("{s}"),
        Err(e) => errln!("error: cannot serialize output: {e}"),
    }
}

pub fn print_error(e: &Error, json: bool) {
    // The one line that says what went wrong must get out: a failed write (a transient I/O
    // error on stderr) is retried a few times before giving up.
    let line = format!("error: {e}\n");
    for _ in 0..5 {
        use std::io::Write as _;
        let mut err = std::io::stderr().lock();
        if err
            .write_all(line.as_bytes())
            .and_then(|()| err.flush())
            .is_ok()
        {
            break;
        }
    }
    if json {
        print_json(&serde_json::json!({
            "error": { "kind": e.kind(), "message": e.to_string(), "exit_code": e.exit_code() }
        }));
    }
}

/// Asks for the confirmation a plan needs. Without a TTY and without the flags, refuses (exit 3)
/// instead of waiting for input that will never come. `n`, an empty answer or EOF cancel (130).
pub fn confirm(
    needed: Confirmation,
    env: &str,
    verb: Verb,
    args: &ConfirmArgs,
) -> Result<Confirmed, Error> {
    let mut c = Confirmed {
        yes: args.force,
        typed_env: args.confirm_env.clone(),
    };
    // Core says whether what was given is enough; only then is nobody asked.
    if c.satisfies(needed, env) {
        return Ok(c);
    }
    if !std::io::stdin().is_terminal() {
        // No one to ask: core refuses (and records the refusal) with what we were given.
        return Ok(c);
    }
    match needed {
        Confirmation::TypeEnvName => {
            let answer = ask(&format!("Type `{env}` to {verb} it: "))?;
            if answer != env {
                errln!("`{answer}` is not `{env}`.");
                return Err(Error::Cancelled);
            }
            c.yes = true;
            c.typed_env = Some(answer);
        }
        _ => {
            let answer = ask(&format!("{verb} {env}? [y/N] "))?;
            if !matches!(answer.to_lowercase().as_str(), "y" | "yes") {
                return Err(Error::Cancelled);
            }
            c.yes = true;
        }
    }
    Ok(c)
}

fn ask(prompt: &str) -> Result<String, Error> {
    errp!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => Err(Error::Cancelled),
        Ok(_) => Ok(line.trim().to_string()),
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
/// It is also the change's Ctrl-C: while a bar lives, Ctrl-C asks core to stop (see `interrupt`).
pub struct Bar {
    bar: ProgressBar,
    bytes: std::sync::atomic::AtomicBool,
    _running: crate::interrupt::Running,
}

impl Bar {
    pub fn new() -> Bar {
        let bar = ProgressBar::new(0);
        if !std::io::stderr().is_terminal() {
            bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>14} [{bar:30}] {human_pos}/{human_len} ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Bar {
            bar,
            bytes: std::sync::atomic::AtomicBool::new(false),
            _running: crate::interrupt::Running::start(),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for Bar {
    fn stage(&self, name: &'static str) {
        self.bar.set_message(name);
    }

    fn progress(&self, p: &Progress) {
        self.set_unit(false);
        self.bar.set_length(p.total);
        self.bar.set_position(p.done);
        self.bar.set_message(p.stage);
    }

    fn bytes(&self, p: &Progress) {
        self.set_unit(true);
        self.bar.set_length(p.total);
        self.bar.set_position(p.done);
        self.bar.set_message(p.stage);
    }

    fn cancelled(&self) -> bool {
        crate::interrupt::requested()
    }
}

impl Bar {
    /// Counts (rows) or sizes (bytes), switched only when the unit changes.
    fn set_unit(&self, bytes: bool) {
        if self.bytes.swap(bytes, std::sync::atomic::Ordering::Relaxed) == bytes {
            return;
        }
        let t = if bytes {
            "{msg:>14} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})"
        } else {
            "{msg:>14} [{bar:30}] {human_pos}/{human_len} ({per_sec}, eta {eta})"
        };
        self.bar.set_style(
            ProgressStyle::with_template(t)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        self.bar.reset_eta();
    }
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
