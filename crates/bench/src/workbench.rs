//! The workbench rows (issue 13): `export dev jobs --format csv` against `sqlite3 -csv` of the same
//! table in the same run (time, peak RSS), and `import` of that CSV into a fresh env (whose users
//! and pipelines were imported first) against `sqlite3`'s own `.import` of the same file into a
//! table without constraints (the raw speed: `.import` reads empty fields as '' where our CSV
//! means NULL, so it cannot fill our constrained `jobs` table).

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::measures::Bench;
use crate::proc;
use crate::report::{dur, rate, size, Row};

impl Bench {
    /// The export and import rows for the `n`-job env `dev` of `home`.
    pub fn workbench_rows(
        &self,
        home: &Path,
        db: &Path,
        n: u64,
        notes: &mut Vec<String>,
    ) -> Result<Vec<Row>> {
        let dir = self.scratch.join("workbench");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let csv = |name: &str| dir.join(format!("{name}.csv"));
        let jobs = csv("jobs");
        eprintln!("export {} jobs to CSV…", size(n));
        let ours = proc::run(self.export(home, "jobs", &jobs), &self.scratch)?;
        let mut rows = vec![];
        let has_sqlite3 = proc::first_line("sqlite3", &["-version"]).is_some();
        let export =
            Row::new(format!("export {} jobs to CSV (whole process)", size(n))).ours(format!(
                "{} · {} · peak RSS {:.1} MB",
                dur(ours.wall),
                rate(n, ours.wall),
                mib(ours.max_rss_kib)
            ));
        rows.push(match has_sqlite3 {
            false => export.reference("n/a: sqlite3 CLI not installed"),
            true => {
                let out = dir.join("ref.csv");
                let mut c = Command::new("sqlite3");
                c.args(["-readonly", "-csv", "-header", "-cmd"])
                    .arg(format!(".output {}", out.display()))
                    .arg(db)
                    .arg("SELECT * FROM jobs");
                let r = proc::run(c, &self.scratch)?;
                std::fs::remove_file(&out)?;
                export
                    .reference(format!(
                        "{} · peak RSS {:.1} MB (`sqlite3 -csv`)",
                        dur(r.wall),
                        mib(r.max_rss_kib)
                    ))
                    .ratio(r.wall.as_secs_f64() / ours.wall.as_secs_f64())
                    .goal(
                        "at least as fast as `sqlite3 -csv`, peak RSS < 64 MB",
                        (n >= 1_000_000)
                            .then_some(ours.wall <= r.wall && mib(ours.max_rss_kib) < 64.0),
                    )
            }
        });
        rows.push(self.import_row(home, &dir, &jobs, n, has_sqlite3, notes)?);
        if has_sqlite3 {
            rows.push(self.engine_floor_row(&dir, db, n)?);
        }
        let _ = std::fs::remove_dir_all(&dir);
        // The env `test` filled by the import is not measured again.
        for p in [
            "test.sqlite3",
            "test.sqlite3-wal",
            "test.sqlite3-shm",
            "backups/test",
        ] {
            let p = home.join(p);
            let _ = std::fs::remove_file(&p).or_else(|_| std::fs::remove_dir_all(&p));
        }
        Ok(rows)
    }

    fn import_row(
        &self,
        home: &Path,
        dir: &Path,
        jobs: &Path,
        n: u64,
        has_sqlite3: bool,
        notes: &mut Vec<String>,
    ) -> Result<Row> {
        for t in ["users", "pipelines"] {
            proc::run(
                self.export(home, t, &dir.join(format!("{t}.csv"))),
                &self.scratch,
            )?;
        }
        proc::run(self.cli_cmd(home, &["migrate", "test"]), &self.scratch)?;
        for t in ["users", "pipelines"] {
            let f = dir.join(format!("{t}.csv"));
            proc::run(
                self.cli_cmd(
                    home,
                    &["import", "test", t, &f.to_string_lossy(), "--force"],
                ),
                &self.scratch,
            )?;
        }
        eprintln!("import {} jobs from CSV…", size(n));
        let ours = proc::run(
            self.cli_cmd(
                home,
                &["import", "test", "jobs", &jobs.to_string_lossy(), "--force"],
            ),
            &self.scratch,
        )?;
        notes.push(format!(
            "`import test jobs` of {} jobs reads the whole file for its plan (every row typed, looked up by key and reference, and checked against the schema on a second thread; keys seen kept in a scratch SQLite file, so memory does not grow with rows), then a verified backup and one transaction (the file read again on a second thread, the job summary's triggers off and its groups added at the end), the foreign-key check, then integrity_check + foreign keys after the commit (undo's fingerprint read beside them); peak RSS {:.1} MB",
            size(n),
            mib(ours.max_rss_kib)
        ));
        let row = Row::new(format!(
            "import of those {} jobs into a fresh env (whole process, every constraint checked)",
            size(n)
        ))
        .ours(format!("{} · {}", dur(ours.wall), rate(n, ours.wall)));
        if !has_sqlite3 {
            return Ok(row.reference("n/a: sqlite3 CLI not installed"));
        }
        let refdb = dir.join("import-ref.sqlite3");
        let mut c = Command::new("sqlite3");
        c.arg(&refdb)
            .args(["-cmd", ".mode csv"])
            .arg(format!(".import {} jobs", jobs.display()));
        let r = proc::run(c, &self.scratch)?;
        let (o, rr) = (
            n as f64 / ours.wall.as_secs_f64(),
            n as f64 / r.wall.as_secs_f64(),
        );
        Ok(row
            .reference(format!(
                "{} · {} (`sqlite3 .import`, no constraints)",
                dur(r.wall),
                rate(n, r.wall)
            ))
            .ratio(o / rr)
            .goal(
                "≥ 0.5× the reference's rows/s",
                (n >= 1_000_000).then_some(o / rr >= 0.5),
            ))
    }

    /// What SQLite alone takes to insert the same jobs into our schema — every constraint and
    /// index, WAL, the summary's trigger off as in our import — from dev's file (no CSV read, no
    /// plan, no backup, no check after): the floor of any import that checks every constraint,
    /// against which the `.import` goal can be judged in the same run.
    fn engine_floor_row(&self, dir: &Path, db: &Path, n: u64) -> Result<Row> {
        let home = dir.join("engine");
        std::fs::create_dir_all(&home)?;
        proc::run(self.cli_cmd(&home, &["migrate", "dev"]), &self.scratch)?;
        let target = home.join("dev.sqlite3");
        let attach = format!(
            "PRAGMA foreign_keys = ON; ATTACH '{}' AS d;",
            db.display().to_string().replace('\'', "''")
        );
        let sql = |body: &str| {
            let mut c = Command::new("sqlite3");
            c.arg(&target).arg(format!("{attach} {body}"));
            c
        };
        proc::run(
            sql("INSERT INTO users SELECT * FROM d.users; INSERT INTO pipelines SELECT * FROM d.pipelines; DROP TRIGGER job_daily_stats_insert;"),
            &self.scratch,
        )?;
        eprintln!("SQLite alone: insert {} jobs into our schema…", size(n));
        let r = proc::run(
            sql("BEGIN; INSERT INTO main.jobs SELECT * FROM d.jobs; COMMIT;"),
            &self.scratch,
        )?;
        let _ = std::fs::remove_dir_all(&home);
        Ok(Row::new(format!(
            "SQLite alone inserting those {} jobs into our schema (every constraint and index, WAL; rows already typed — no CSV, plan, backup or check): the floor of any checked import",
            size(n)
        ))
        .ours(format!("{} · {}", dur(r.wall), rate(n, r.wall)))
        .goal("— (informs the import goal: 0.5× `.import` cannot be faster than this)", None))
    }

    fn export(&self, home: &Path, table: &str, out: &Path) -> Command {
        self.cli_cmd(
            home,
            &[
                "export",
                "dev",
                table,
                "--format",
                "csv",
                "--output",
                &out.to_string_lossy(),
            ],
        )
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
