//! Terminal interaction: prompts scaled to risk, progress bars, errors, JSON on stdout.

use std::io::{BufRead, IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};
use pipeline_db_core::{Confirmation, Confirmed, Error, Observer, Progress, Verb};
use serde::Serialize;

use crate::cli::ConfirmArgs;

static DATA_DIR_SOURCE: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Where the data dir came from (`from --data-dir`, `from PIPELINE_DB_HOME`, the default), for
/// the first line of every plan.
pub fn set_data_dir_source(source: &'static str) {
    let _ = DATA_DIR_SOURCE.set(source);
}

/// `Data dir: /home/ana/.local/share/pipeline-db (the default: …)`, printed above a plan.
pub fn print_data_dir(ws: &pipeline_db_core::Workspace) {
    outln!(
        "Data dir: {} ({})",
        ws.data_dir.display(),
        DATA_DIR_SOURCE.get().copied().unwrap_or("the default")
    );
}

/// The first failed write to stdout (a full disk, a closed descriptor); a reader that went away
/// (a broken pipe: `| head`) is no failure.
static STDOUT_FAILURE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Remembers a failed write to stdout (see [`stdout_failure`]).
/// Whether `outln!` writes to stderr for now: the plan shown before a prompt with `--json`,
/// whose stdout is the JSON alone.
static OUT_TO_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// One line of output: on stdout (or stderr within [`on_stderr`]).
pub fn out_line(line: &str) {
    use std::io::Write as _;
    match OUT_TO_STDERR.load(std::sync::atomic::Ordering::Relaxed) {
        true => {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
        false => wrote(writeln!(std::io::stdout(), "{line}")),
    }
}

/// Runs `f` with `outln!` writing to stderr.
pub fn on_stderr(f: impl FnOnce()) {
    OUT_TO_STDERR.store(true, std::sync::atomic::Ordering::Relaxed);
    f();
    OUT_TO_STDERR.store(false, std::sync::atomic::Ordering::Relaxed);
}

pub fn wrote(r: std::io::Result<()>) {
    if let Err(e) = r {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let _ = STDOUT_FAILURE.set(e.to_string());
        }
    }
}

/// Why a write to stdout failed, if one did; stdout is flushed first.
pub fn stdout_failure() -> Option<String> {
    use std::io::Write as _;
    wrote(std::io::stdout().flush());
    STDOUT_FAILURE.get().cloned()
}

/// The exit code of a process a closed pipe stopped (128 + SIGPIPE), as the shell reports it.
pub const EXIT_BROKEN_PIPE: u8 = 141;

/// Whether `e` is a write into a pipe whose reader went away.
pub fn is_broken_pipe(e: &pipeline_db_core::Error) -> bool {
    match e {
        pipeline_db_core::Error::Io { source, .. } => {
            source.kind() == std::io::ErrorKind::BrokenPipe
        }
        pipeline_db_core::Error::Step { source, .. } => is_broken_pipe(source),
        _ => false,
    }
}

/// "1 row", "2 rows".
pub fn rows(n: impl Into<u64>) -> String {
    let n = n.into();
    format!("{n} row{}", if n == 1 { "" } else { "s" })
}

pub fn print_json<T: Serialize>(value: &T) {
    use std::io::Write as _;
    match serde_json::to_string_pretty(value) {
        // JSON escapes control characters itself; its text goes out as it is.
        Ok(s) => wrote(writeln!(std::io::stdout(), "{s}")),
        Err(e) => errln!("error: cannot serialize output: {e}"),
    }
}

/// A name read from a database (a table's, an index's), for a line of output: every control
/// character escaped, newlines too — a name holding one would print as a line of a plan.
pub fn name(s: &str) -> String {
    pipeline_db_core::storage::text::printable(s)
}

/// `s` with every control character but newline and tab, and every bidirectional override,
/// written as `\u{..}` (core's `text::printable`, line by line).
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let lines: Vec<String> = s
        .split('\n')
        .map(|line| {
            // A CRLF line ending (CSV's) stays one: only a CR inside a line can rewrite it.
            let (body, cr) = match line.strip_suffix('\r') {
                Some(body) => (body, "\r"),
                None => (line, ""),
            };
            let safe = body
                .split('\t')
                .map(pipeline_db_core::storage::text::printable)
                .collect::<Vec<_>>()
                .join("\t");
            safe + cr
        })
        .collect();
    std::borrow::Cow::Owned(lines.join("\n"))
}

pub fn print_error(e: &Error, json: bool) {
    // The one line that says what went wrong must get out: a failed write (a transient I/O
    // error on stderr) is retried a few times before giving up.
    let line = format!("error: {}\n", terminal_safe(&e.to_string()));
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
    // A name typed for another env is a mistake (a prune of every env takes the protected
    // envs' names, each checked by core against its own env).
    // (Where the typed name is needed, core refuses a wrong one itself, saying which it needs.)
    if let Some(typed) = args.confirm_env.as_deref() {
        if verb != Verb::Prune && typed != env && needed != Confirmation::TypeEnvName {
            return Err(Error::Refused(format!(
                "--confirm-env names `{}`, but this {verb} is of `{env}`; nothing was changed",
                crate::ui::name(typed)
            )));
        }
    }
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
/// Runs a change with a progress bar on stderr (which is also its Ctrl-C), cleared afterwards.
pub fn with_bar<T>(change: impl FnOnce(&Bar) -> T) -> T {
    let bar = Bar::new();
    let out = change(&bar);
    bar.finish();
    out
}

/// It is also the change's Ctrl-C: while a bar lives, Ctrl-C asks core to stop (see `interrupt`).
pub struct Bar {
    bar: ProgressBar,
    /// The style drawn now: [`COUNTS`], [`BYTES`] or [`SPINNER`].
    unit: std::sync::atomic::AtomicU8,
    _running: crate::interrupt::Running,
}

const COUNTS: u8 = 0;
const BYTES: u8 = 1;
/// Rows counted towards a total not known in advance (a query being exported).
const SPINNER: u8 = 2;

impl Bar {
    pub fn new() -> Bar {
        let bar = ProgressBar::new(0);
        if !std::io::stderr().is_terminal() {
            bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        bar.set_style(style(COUNT_TEMPLATE));
        Bar {
            bar,
            unit: std::sync::atomic::AtomicU8::new(COUNTS),
            _running: crate::interrupt::Running::start(),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for Bar {
    fn stage(&self, name: &'static str) {
        if name == pipeline_db_core::progress::COMMITTED {
            crate::interrupt::committed();
        }
        self.bar.set_message(name);
    }

    fn progress(&self, p: &Progress) {
        self.set_unit(if p.total == 0 { SPINNER } else { COUNTS });
        self.bar.set_length(p.total);
        self.bar.set_position(p.done);
        self.bar.set_message(p.stage);
    }

    fn bytes(&self, p: &Progress) {
        self.set_unit(BYTES);
        self.bar.set_length(p.total);
        self.bar.set_position(p.done);
        self.bar.set_message(p.stage);
    }

    fn cancelled(&self) -> bool {
        crate::interrupt::requested()
    }
}

impl Bar {
    /// Counts (rows), sizes (bytes) or a count without a total, switched only when it changes.
    fn set_unit(&self, unit: u8) {
        if self.unit.swap(unit, std::sync::atomic::Ordering::Relaxed) == unit {
            return;
        }
        self.bar.set_style(style(match unit {
            BYTES => BYTES_TEMPLATE,
            SPINNER => SPINNER_TEMPLATE,
            _ => COUNT_TEMPLATE,
        }));
        self.bar.reset_eta();
    }
}

const COUNT_TEMPLATE: &str = "{msg:>14} [{bar:30}] {done}/{total} ({rate}, eta {eta})";
const BYTES_TEMPLATE: &str =
    "{msg:>14} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})";
const SPINNER_TEMPLATE: &str = "{msg:>14} {spinner} {done} rows ({rate})";

/// The bar's style; `{done}`, `{total}` and `{rate}` (rows per second) are counts with
/// separators, [`count`]'s (`1,003,789`, `175,180/s`, where indicatif's `{per_sec}` prints
/// `175180.0219/s`).
fn style(template: &str) -> ProgressStyle {
    type State = indicatif::ProgressState;
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rate", |s: &State, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}/s", count(s.per_sec() as u64));
        })
        .with_key("done", |s: &State, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}", count(s.pos()));
        })
        .with_key("total", |s: &State, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}", count(s.len().unwrap_or(0)));
        })
        .progress_chars("=> ")
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

/// A count with thousands separators: `1003789` → `1,003,789`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count and its noun, singular for 1: `1 row`, `2 rows`, `1,003,789 rows`.
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// What the automatic retention pass after a backup did: each deleted backup, what the policy
/// could not meet, and a failure of the pass itself (the action it followed succeeded).
pub fn retention(r: &Option<pipeline_db_core::safety::retention::RetentionReport>) {
    let Some(r) = r else { return };
    for d in &r.deleted {
        outln!(
            "Retention deleted {} ({}: {}).",
            d.path.display(),
            human_bytes(d.size_bytes),
            d.why
        );
    }
    if let Some(u) = &r.unmet {
        errln!("note: retention policy not met: {u}");
    }
    if let Some(e) = &r.error {
        errln!("warning: retention after the backup failed: {e}");
    }
}

/// Data written to a terminal (CSV or JSON asked for without `--output`): line by line through
/// [`terminal_safe`], since a value holding escape sequences would drive the terminal. Piped or
/// redirected, the bytes go out as they are.
pub struct TerminalSafe<W: std::io::Write> {
    inner: W,
    line: Vec<u8>,
}

impl<W: std::io::Write> TerminalSafe<W> {
    pub fn new(inner: W) -> Self {
        TerminalSafe {
            inner,
            line: Vec::new(),
        }
    }

    fn emit(&mut self) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        self.inner.write_all(terminal_safe(&text).as_bytes())
    }
}

impl<W: std::io::Write> std::io::Write for TerminalSafe<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for part in buf.split_inclusive(|b| *b == b'\n') {
            self.line.extend_from_slice(part);
            if part.ends_with(b"\n") {
                self.emit()?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.emit()?;
        self.inner.flush()
    }
}

impl<W: std::io::Write> Drop for TerminalSafe<W> {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_read_as_english() {
        assert_eq!(super::count(0), "0");
        assert_eq!(super::count(999), "999");
        assert_eq!(super::count(1000), "1,000");
        assert_eq!(super::count(1_003_789), "1,003,789");
        assert_eq!(super::counted(1, "row", "rows"), "1 row");
        assert_eq!(super::counted(0, "row", "rows"), "0 rows");
        assert_eq!(
            super::counted(12_345, "backup", "backups"),
            "12,345 backups"
        );
    }
}
