//! The measures of issue 5, each ours (the release CLI, whole process) beside its reference.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::chart::Point;
use crate::report::{dur, mbps, rate, size, Row};
use crate::{proc, reference};

pub struct Bench {
    pub cli: PathBuf,
    /// The desktop binary (release build by default); measured only if it exists.
    pub desktop: PathBuf,
    pub scratch: PathBuf,
}

#[derive(Default)]
pub struct Outcome {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
    pub seed_points: Vec<Point>,
}

const STATUS_RUNS: usize = 9;
const GOAL_SIZE: u64 = 1_000_000;

impl Bench {
    /// `pipeline-db ARGS` on the data dir `home` (for the other measure modules).
    pub(crate) fn cli_cmd(&self, home: &Path, args: &[&str]) -> Command {
        self.cli(home, args)
    }

    /// `pipeline-db ARGS` on the data dir `home`, with no config or log settings leaking in.
    fn cli(&self, home: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(&self.cli);
        c.args(args)
            .env("PIPELINE_DB_HOME", home)
            .env_remove("PIPELINE_DB_CONFIG")
            .env_remove("RUST_LOG");
        c
    }

    pub fn all(&self, sizes: &[u64]) -> Result<Outcome> {
        let mut out = Outcome::default();
        let mut last: Option<(PathBuf, proc::Run)> = None;
        for &n in sizes {
            let home = self.scratch.join(format!("home-{n}"));
            let ours = self.seed_row(&home, n, &mut out)?;
            if let Some((prev, _)) = last.replace((home, ours)) {
                let _ = std::fs::remove_dir_all(prev);
            }
        }
        let (home, seed) = last.context("no sizes")?;
        let n = *sizes.last().context("no sizes")?;
        let db = home.join("dev.sqlite3");
        let judged = n >= GOAL_SIZE;
        let rss_mib = seed.max_rss_kib as f64 / 1024.0;
        out.rows.push(
            Row::new(format!("peak RSS, `seed dev --jobs {n}`"))
                .ours(format!("{rss_mib:.1} MB"))
                .goal("< 64 MB", judged.then_some(rss_mib < 64.0)),
        );
        out.rows.push(self.status_row(&home, &db, n)?);
        out.rows.extend(crate::desktop::rows(&home, n)?);
        let cold = cold_start_row(&self.desktop, &home, &mut out.notes);
        let workbench = self.workbench_rows(&home, &db, n, &mut out.notes)?;
        out.rows.extend(workbench);
        let backup = self.backup_rows(&home, &db, n, &mut out)?;
        // Right after the backup it holds the database: no new pre-restore backup. Restored a
        // second time (the database now differs from every backup: a new one is taken).
        for again in [false, true] {
            let row = self.restore_row(&home, &db, &backup, n, again, &mut out.notes)?;
            out.rows.push(row);
        }
        let reset = self.reset_rows(&home, &db, n, &mut out.notes)?;
        out.rows.extend(reset);
        out.rows.push(self.retention_row(n)?);
        out.rows.push(cold);
        if !judged {
            out.notes.push(format!(
                "goals stated for 1M jobs are not judged at {} (quick mode / smaller sizes)",
                size(n)
            ));
        }
        Ok(out)
    }

    /// Seeds `n` jobs with our CLI (new database) and with the reference; returns our run.
    fn seed_row(&self, home: &Path, n: u64, out: &mut Outcome) -> Result<proc::Run> {
        eprintln!("seed {}: ours…", size(n));
        let ns = n.to_string();
        let ours = proc::run(
            self.cli(home, &["seed", "dev", "--jobs", &ns]),
            &self.scratch,
        )?;
        let ours_bytes = file_len(&home.join("dev.sqlite3"));
        eprintln!("seed {}: reference…", size(n));
        let refp = self.scratch.join(format!("ref-{n}.sqlite3"));
        let rt = reference::seed(&refp, n)?;
        let ref_bytes = file_len(&refp);
        std::fs::remove_file(&refp)?;
        let ratio = rt.as_secs_f64() / ours.wall.as_secs_f64();
        let per_row = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
        out.seed_points
            .push((n, ours.wall.as_secs_f64(), rt.as_secs_f64()));
        out.rows.push(
            Row::new(format!("seed {} jobs (end to end)", size(n)))
                .ours(format!(
                    "{} · {} · {:.1} µs/row · {} B/row",
                    dur(ours.wall),
                    rate(n, ours.wall),
                    per_row(ours.wall),
                    ours_bytes / n
                ))
                .reference(format!(
                    "{} · {} · {:.1} µs/row · {} B/row",
                    dur(rt),
                    rate(n, rt),
                    per_row(rt),
                    ref_bytes / n
                ))
                .ratio(ratio)
                .goal(
                    "≥ 0.50 of the reference's rows/s at 1M",
                    (n == GOAL_SIZE).then_some(ratio >= 0.5),
                ),
        );
        Ok(ours)
    }

    fn status_row(&self, home: &Path, db: &Path, n: u64) -> Result<Row> {
        eprintln!("status…");
        let ours = proc::median_of(STATUS_RUNS, &self.scratch, || {
            self.cli(home, &["status", "dev"])
        })?;
        let row = Row::new(format!(
            "`status dev` on {} jobs (whole process, median of {STATUS_RUNS})",
            size(n)
        ))
        .ours(dur(ours));
        let goal = "≤ 1.5× the reference and < 50 ms";
        Ok(match reference::sqlite3_counts(db)? {
            None => row
                .reference("n/a: sqlite3 CLI not installed (apt install sqlite3)")
                .goal(goal, Some(ours < Duration::from_millis(50))),
            Some(_) => {
                let r = proc::median_of(STATUS_RUNS, &self.scratch, || {
                    reference::sqlite3_counts(db)
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| Command::new("false"))
                })?;
                let ratio = ours.as_secs_f64() / r.as_secs_f64();
                row.reference(format!("{} (`sqlite3` count(*) per table)", dur(r)))
                    .ratio(ratio)
                    .goal(goal, Some(ratio <= 1.5 && ours < Duration::from_millis(50)))
            }
        })
    }

    /// Verified backup (whole process), its snapshot step and its verify step, as the CLI's own
    /// `--json` step timings report them; returns the backup.
    fn backup_rows(&self, home: &Path, db: &Path, n: u64, out: &mut Outcome) -> Result<PathBuf> {
        eprintln!("backup…");
        let run = proc::run(self.cli(home, &["backup", "dev", "--json"]), &self.scratch)?;
        let rec: serde_json::Value =
            serde_json::from_str(&run.stdout).context("parsing `backup --json`")?;
        let path = PathBuf::from(rec["path"].as_str().context("backup path")?);
        let steps = Steps::from_json(&rec);
        let bytes = file_len(db);
        let cp = reference::cp_fsync(db, &self.scratch.join("cp.sqlite3"))?;
        let snap = snapshot_step(&steps);
        let verify = steps.get("backup: verify (quick_check ∥ sha256)")
            + steps.get("backup: verify (quick_check ∥ read back)")
            + steps.get("backup: verify (read back)");
        let (ours_mbs, snap_mbs, cp_mbs) =
            (mbps(bytes, run.wall), mbps(bytes, snap), mbps(bytes, cp));
        let refcell = format!("{} · {cp_mbs:.0} MB/s (`cp` + fsync)", dur(cp));
        let mb = bytes as f64 / 1048576.0;
        out.rows.push(
            Row::new(format!(
                "verified backup of {} jobs, {mb:.0} MB (whole process)",
                size(n)
            ))
            .ours(format!("{} · {ours_mbs:.0} MB/s", dur(run.wall)))
            .reference(refcell.clone())
            .ratio(ours_mbs / cp_mbs),
        );
        let judged = n >= GOAL_SIZE;
        out.rows.push(
            Row::new(
                "backup: snapshot step (manual backup: backup API page copy, writers not blocked; then compressed in one read + fsync)",
            )
            .ours(format!("{} · {snap_mbs:.0} MB/s", dur(snap)))
            .reference(refcell)
            .ratio(snap_mbs / cp_mbs)
            .goal(
                "≥ 0.6 of cp's MB/s",
                judged.then_some(snap_mbs / cp_mbs >= 0.6),
            ),
        );
        out.rows.push(
            Row::new("backup: verify (quick_check + row counts ∥ read back of the compressed file, two cores)")
                .ours(format!("{} · {:.0} MB/s", dur(verify), mbps(bytes, verify)))
                .goal("reported separately", None),
        );
        out.notes.push(format!(
            "profile of `backup dev` ({}): {}",
            size(n),
            steps.line(run.wall)
        ));
        Ok(path)
    }

    /// The restore of `backup` (possibly compressed) against `cp` + fsync of the database it holds
    /// (`db`, whose content it is): both measured on the SQLite size.
    fn restore_row(
        &self,
        home: &Path,
        db: &Path,
        backup: &Path,
        n: u64,
        again: bool,
        notes: &mut Vec<String>,
    ) -> Result<Row> {
        let row = Row::new(match again {
            false => format!(
                "restore of that backup ({} jobs) right after it: the backup holds the database, no new one is taken",
                size(n)
            ),
            true => format!(
                "restore of that backup again ({} jobs): a new verified pre-restore backup first",
                size(n)
            ),
        });
        let has_restore = Command::new(&self.cli)
            .args(["restore", "--help"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !has_restore {
            return Ok(row.ours("n/a: this CLI has no `restore` verb yet"));
        }
        eprintln!("restore…");
        let b = backup.to_string_lossy();
        let run = match proc::run(
            self.cli(home, &["restore", "dev", &b, "--force", "--json"]),
            &self.scratch,
        ) {
            Ok(r) => r,
            Err(e) => {
                notes.push(format!("restore failed: {e:#}"));
                return Ok(row.ours("failed (see notes)"));
            }
        };
        let bytes = file_len(db);
        let cp = reference::cp_fsync(db, &self.scratch.join("cp.sqlite3"))?;
        let (o, r) = (mbps(bytes, run.wall), mbps(bytes, cp));
        notes.push(profile(
            match again {
                false => "`restore` (relying on the backup that holds the database)",
                true => "`restore` (includes its verified pre-restore backup of the live database)",
            },
            n,
            &run,
        ));
        Ok(row
            .ours(format!("{} · {o:.0} MB/s", dur(run.wall)))
            .reference(format!("{} · {r:.0} MB/s (`cp` + fsync)", dur(cp)))
            .ratio(o / r)
            .goal(
                "≥ 0.15 of cp's MB/s (goal 0.33)",
                (n >= GOAL_SIZE).then_some(o / r >= 0.15),
            ))
    }

    /// The reset (whole process) and its pre-reset backup's snapshot step: taken under the write
    /// lock, a file copy of the checkpointed main file.
    fn reset_rows(
        &self,
        home: &Path,
        db: &Path,
        n: u64,
        notes: &mut Vec<String>,
    ) -> Result<Vec<Row>> {
        eprintln!("reset…");
        let cp = reference::cp_fsync(db, &self.scratch.join("cp.sqlite3"))?;
        let empty = reference::empty_schema(&self.scratch.join("empty.sqlite3"))?;
        let bytes = file_len(db);
        let run = proc::run(
            self.cli(home, &["reset", "dev", "--force", "--json"]),
            &self.scratch,
        )?;
        notes.push(profile("`reset`", n, &run));
        let steps = serde_json::from_str(&run.stdout)
            .map(|v: serde_json::Value| Steps::from_json(&v))
            .unwrap_or(Steps(vec![]));
        let snap = snapshot_step(&steps);
        let (snap_mbs, cp_mbs) = (mbps(bytes, snap), mbps(bytes, cp));
        let snapshot =
            Row::new("reset: snapshot step (one read of the checkpointed file into the compressed file, fsync; quick_check of the pinned file on the other core)")
                .ours(format!("{} · {snap_mbs:.0} MB/s", dur(snap)))
                .reference(format!("{} · {cp_mbs:.0} MB/s (`cp` + fsync)", dur(cp)))
                .ratio(snap_mbs / cp_mbs)
                .goal(
                    "≥ 0.8 of cp's MB/s (goal 0.9)",
                    (n >= GOAL_SIZE).then_some(snap_mbs / cp_mbs >= 0.8),
                );
        let r = cp + empty;
        let ratio = run.wall.as_secs_f64() / r.as_secs_f64();
        let whole = Row::new(format!(
            "reset of {} jobs incl. the verified backup (whole process)",
            size(n)
        ))
        .ours(dur(run.wall))
        .reference(format!(
            "{} (`cp` + fsync {} + empty schema {})",
            dur(r),
            dur(cp),
            dur(empty)
        ))
        .ratio(ratio)
        .goal(
            "≤ 3× the reference (goal 2×)",
            (n >= GOAL_SIZE).then_some(ratio <= 3.0),
        );
        Ok(vec![whole, snapshot])
    }
}

impl Bench {
    /// Disk used by `backups/` after 8 cycles of "reset, then seed" under the default retention
    /// policy, against the size of the database (seeds of a tenth of the measured size, at
    /// least 1,000 jobs, to keep the bench's time in bounds).
    fn retention_row(&self, n: u64) -> Result<Row> {
        eprintln!("retention cycles…");
        let m = (n / 10).max(1000);
        let home = self.scratch.join("home-retention");
        let _ = std::fs::remove_dir_all(&home);
        let jobs = m.to_string();
        let mut db_bytes = 0;
        for _ in 0..8 {
            proc::run(self.cli(&home, &["reset", "dev", "--force"]), &self.scratch)?;
            proc::run(
                self.cli(&home, &["seed", "dev", "--jobs", &jobs]),
                &self.scratch,
            )?;
            db_bytes = db_bytes.max(file_len(&home.join("dev.sqlite3")));
        }
        let backups = dir_bytes(&home.join("backups"));
        let ratio = backups as f64 / db_bytes as f64;
        let _ = std::fs::remove_dir_all(&home);
        let mb = |b: u64| b as f64 / 1048576.0;
        Ok(Row::new(format!(
            "`backups/` after 8 × (reset, seed {}) with the default retention",
            size(m)
        ))
        .ours(format!("{:.0} MB", mb(backups)))
        .reference(format!("{:.0} MB (the database)", mb(db_bytes)))
        .ratio(ratio)
        .goal(
            "≤ 2× the database (goal 1×)",
            (n >= GOAL_SIZE).then_some(ratio <= 2.0),
        ))
    }
}

/// Bytes of every file under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => dir_bytes(&e.path()),
                    _ => e.metadata().map(|m| m.len()).unwrap_or(0),
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Cold start to first paint and idle RSS of the desktop, with the desktop's own script
/// (`tests/e2e/measure.sh`, under Xvfb) on the seeded data dir, when the binary is built.
fn cold_start_row(desktop: &Path, home: &Path, notes: &mut Vec<String>) -> Row {
    let row = Row::new("desktop cold start to first paint, idle RSS (under Xvfb)");
    let goal = "< 1.5 s, < 150 MB";
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/measure.sh");
    if !desktop.is_file() {
        return row
            .ours(format!(
                "n/a (desktop not built yet: {})",
                desktop.display()
            ))
            .goal(goal, None);
    }
    if !script.is_file() || proc::first_line("sh", &["-c", "command -v Xvfb"]).is_none() {
        return row
            .ours("n/a (needs Xvfb and tests/e2e/measure.sh: `make desktop-deps`)")
            .goal(goal, None);
    }
    eprintln!("desktop cold start…");
    let out = Command::new("bash")
        .arg(&script)
        .arg(desktop)
        .arg(home)
        .output();
    let text = out
        .as_ref()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    match parse_cold_start(&text) {
        Some((ms, mib, pss)) => row
            .ours(format!(
                "{ms} ms, {mib} MB RSS{}",
                pss.map(|p| format!(" ({p} MB PSS)")).unwrap_or_default()
            ))
            .goal(goal, Some(ms < 1500 && mib < 150)),
        None => {
            notes.push(format!("desktop measure failed: {}", text.trim()));
            row.ours("failed (see notes)").goal(goal, None)
        }
    }
}

/// `cold start to first paint: 812 ms`, `idle RSS after 10 s: 97 MiB (…)` and (newer script)
/// `idle PSS after 10 s: 61 MiB`.
fn parse_cold_start(text: &str) -> Option<(u64, u64, Option<u64>)> {
    let num = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    Some((
        num("cold start to first paint: ")?,
        num("idle RSS after 10 s: ")?,
        num("idle PSS after 10 s: "),
    ))
}

/// "profile of WHAT (1M): step 1.2 s · …" from a verb's `--json` output.
fn profile(what: &str, n: u64, run: &proc::Run) -> String {
    let steps = serde_json::from_str(&run.stdout)
        .map(|v: serde_json::Value| Steps::from_json(&v))
        .unwrap_or_default();
    format!("profile of {what} ({}): {}", size(n), steps.line(run.wall))
}

/// The snapshot step of a backup: copy + fsync for a plain one, copy + compress + fsync (one read)
/// for a compressed one (by the file copy: with `quick_check` of the pinned file beside it).
fn snapshot_step(steps: &Steps) -> Duration {
    steps.get("backup: snapshot (copy + fsync)")
        + steps.get("backup: snapshot (copy + compress + fsync)")
        + steps.get("backup: snapshot (copy + compress + fsync ∥ quick_check)")
}

/// The step timings a verb's `--json` outcome carries (`timings: [{step, ms}]`).
#[derive(Default)]
struct Steps(Vec<(String, f64)>);

impl Steps {
    fn from_json(v: &serde_json::Value) -> Steps {
        let list = v["timings"].as_array().cloned().unwrap_or_default();
        Steps(
            list.iter()
                .filter_map(|t| Some((t["step"].as_str()?.to_string(), t["ms"].as_f64()?)))
                .collect(),
        )
    }

    /// The total of the steps named `name` (zero if absent).
    fn get(&self, name: &str) -> Duration {
        let ms: f64 = self
            .0
            .iter()
            .filter(|(s, _)| s == name)
            .map(|(_, ms)| ms)
            .sum();
        Duration::from_secs_f64(ms / 1000.0)
    }

    /// "step 1.2 s · step 0.3 s · … (whole process 4.1 s)".
    fn line(&self, wall: Duration) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(s, ms)| format!("{s} {}", dur(Duration::from_secs_f64(ms / 1000.0))))
            .collect();
        format!("{} (whole process {})", parts.join(" · "), dur(wall))
    }
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cold_start_output_is_parsed() {
        let out = "cold start to first paint: 812 ms\nidle RSS after 10 s: 97 MiB (app 1 KiB)\n";
        assert_eq!(super::parse_cold_start(out), Some((812, 97, None)));
        let out = format!("{out}idle PSS after 10 s: 61 MiB (shared pages split)\n");
        assert_eq!(super::parse_cold_start(&out), Some((812, 97, Some(61))));
        assert_eq!(super::parse_cold_start("no first paint within 30 s"), None);
    }
}
