//! The result table (`measure | ours | reference | ratio | goal`), the machine it ran on, and
//! the append to `bench/results.md`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;

/// One line of the table. `met` is `None` where there is no goal or nothing was measured.
#[derive(Debug, Clone)]
pub struct Row {
    pub measure: String,
    pub ours: String,
    pub reference: String,
    pub ratio: String,
    pub goal: String,
    pub met: Option<bool>,
}

impl Row {
    pub fn new(measure: impl Into<String>) -> Row {
        Row {
            measure: measure.into(),
            ours: "—".into(),
            reference: "—".into(),
            ratio: "—".into(),
            goal: "—".into(),
            met: None,
        }
    }

    pub fn ours(mut self, s: impl Into<String>) -> Row {
        self.ours = s.into();
        self
    }

    pub fn reference(mut self, s: impl Into<String>) -> Row {
        self.reference = s.into();
        self
    }

    pub fn ratio(mut self, r: f64) -> Row {
        self.ratio = format!("{r:.2}");
        self
    }

    pub fn goal(mut self, g: impl Into<String>, met: Option<bool>) -> Row {
        self.goal = g.into();
        self.met = met;
        self
    }
}

/// The table as Markdown (the goal column says whether it was met).
pub fn markdown(rows: &[Row]) -> String {
    let mut s =
        String::from("| measure | ours | reference | ratio | goal |\n|---|---|---|---|---|\n");
    for r in rows {
        let verdict = match r.met {
            Some(true) => " — met",
            Some(false) => " — **not met**",
            None => "",
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {}{} |",
            r.measure, r.ours, r.reference, r.ratio, r.goal, verdict
        );
    }
    s
}

/// Cores, CPU model, SQLite versions, commit, date: the context a figure needs.
pub fn machine(cli: &Path, mode: &str) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1048576.0))
        .unwrap_or_else(|| "?".into());
    let commit = crate::proc::first_line("git", &["rev-parse", "--short", "HEAD"])
        .unwrap_or_else(|| "unknown".into());
    let dirty = crate::proc::first_line("git", &["status", "--porcelain", "--untracked-files=no"])
        .map(|_| " (with uncommitted changes)")
        .unwrap_or("");
    let sqlite3 = crate::proc::first_line("sqlite3", &["-version"])
        .and_then(|v| v.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "not installed".into());
    format!(
        "- date: {} ({mode})\n- machine: {cores} cores, {cpu}, {mem} RAM, {} {}\n- SQLite: {} bundled (ours and the seed reference); sqlite3 CLI {sqlite3}\n- commit: {commit}{dirty}; CLI: `{}`\n",
        pipeline_db_core::now_rfc3339(),
        std::env::consts::OS,
        std::env::consts::ARCH,
        rusqlite::version(),
        cli.display(),
    )
}

/// Appends one run (machine details, table, notes) to `path`, creating it with a title if new.
pub fn append(path: &Path, machine: &str, table: &str, notes: &[String]) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if new {
        writeln!(
            f,
            "# Benchmark results\n\nAppended by `make bench` / `make bench-quick` \
             (`pipeline-db-bench`), newest last.\n"
        )?;
    }
    writeln!(f, "## Run of {}\n", pipeline_db_core::now_rfc3339())?;
    writeln!(f, "{machine}\n{table}")?;
    for n in notes {
        writeln!(f, "- {n}")?;
    }
    writeln!(f)?;
    Ok(())
}

/// `1.23 s`, `45.6 ms`, `789 µs`.
pub fn dur(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 0.001 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

/// `123k rows/s`.
pub fn rate(rows: u64, d: Duration) -> String {
    let r = rows as f64 / d.as_secs_f64();
    if r >= 1e6 {
        format!("{:.2}M rows/s", r / 1e6)
    } else {
        format!("{:.0}k rows/s", r / 1e3)
    }
}

pub fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1048576.0 / d.as_secs_f64()
}

/// `10k`, `1M`.
pub fn size(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_says_which_goals_are_met() {
        let rows = [
            Row::new("a").ours("1").ratio(0.5).goal("g", Some(true)),
            Row::new("b").goal("h", Some(false)),
            Row::new("c"),
        ];
        let md = markdown(&rows);
        assert!(md.starts_with("| measure | ours | reference | ratio | goal |"));
        assert!(md.contains("| a | 1 | — | 0.50 | g — met |"));
        assert!(md.contains("| b | — | — | — | h — **not met** |"));
        assert!(md.contains("| c | — | — | — | — |"));
        assert_eq!(size(1_000_000), "1M");
        assert_eq!(size(10_000), "10k");
        assert_eq!(dur(Duration::from_millis(1500)), "1.50 s");
    }
}
