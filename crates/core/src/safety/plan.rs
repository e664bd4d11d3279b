//! The plan contract every changing verb follows (`Plan`: confirmation, summary, promises and
//! their digest) and the pieces plans share (rows per table, the backup step).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::backups::record::Reason;
use crate::error::Result;
use crate::safety::confirm::Confirmation;
use crate::schema::tables::{self, TableKind};
use crate::verb::Verb;
use crate::workspace::env::EnvTarget;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TableRows {
    pub name: String,
    pub rows: u64,
    /// The user's data, or pipeline-db's bookkeeping (core's rule: `schema::tables`).
    pub kind: TableKind,
}

impl TableRows {
    pub fn new(name: &str, rows: u64) -> TableRows {
        TableRows {
            name: name.to_string(),
            rows,
            kind: tables::kind(name),
        }
    }
}

/// Rows per table: the user's tables first, then the bookkeeping (each by name).
pub fn table_rows(counts: &BTreeMap<String, u64>) -> Vec<TableRows> {
    let mut out: Vec<TableRows> = counts.iter().map(|(n, r)| TableRows::new(n, *r)).collect();
    out.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    out
}

/// Tables and rows of one kind: (tables, rows).
pub fn totals(tables: &[TableRows], kind: TableKind) -> (usize, u64) {
    tables
        .iter()
        .filter(|t| t.kind == kind)
        .fold((0, 0), |(n, r), t| (n + 1, r + t.rows))
}

/// The backup a plan will take, or why none is needed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BackupStep {
    pub required: bool,
    pub reason: Reason,
    pub dir: PathBuf,
    /// The name it will get (a `-N` suffix is added if taken at that moment).
    pub path: PathBuf,
    pub why: String,
    /// `path` is an existing verified backup that holds exactly the current database: no new
    /// backup is taken (checked again, under the lock, just before the change; if it no longer
    /// holds, a new backup is taken and the outcome names it).
    pub existing: bool,
}

impl BackupStep {
    /// The step that relies on `held`, a verified backup of exactly the current database.
    pub(crate) fn existing(
        target: &EnvTarget,
        reason: Reason,
        held: &crate::backups::record::BackupRecord,
    ) -> BackupStep {
        BackupStep {
            existing: true,
            path: held.path.clone(),
            ..BackupStep::new(
                target,
                reason,
                true,
                "no new backup: this verified backup already holds exactly the current database (compared byte for byte); if the database changes before the copy, a new backup is taken",
            )
        }
    }

    pub fn new(
        target: &EnvTarget,
        reason: Reason,
        required: bool,
        why: impl Into<String>,
    ) -> BackupStep {
        BackupStep {
            required,
            reason,
            dir: target.backup_dir.clone(),
            path: crate::backups::record::default_path(target, reason),
            why: why.into(),
            existing: false,
        }
    }
}

/// "V1, V2" (or "none").
pub fn versions(list: &[crate::schema::migrations::MigrationInfo]) -> String {
    if list.is_empty() {
        return "none".into();
    }
    list.iter()
        .map(|m| format!("V{}", m.version))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Short human summary of table counts, the user's data first: "3 tables, 526 rows (and
/// bookkeeping: 3 tables, 5 rows)"; user tables without rows are "empty".
pub fn summarize(tables: &[TableRows]) -> String {
    let (n, rows) = totals(tables, TableKind::Data);
    let data = match (n, rows) {
        (0, _) => "no tables".to_string(),
        (_, 0) => format!("{n} {}, empty", plural(n as u64, "table", "tables")),
        _ => format!(
            "{n} {}, {rows} {}",
            plural(n as u64, "table", "tables"),
            plural(rows, "row", "rows")
        ),
    };
    match totals(tables, TableKind::Bookkeeping) {
        (0, _) => data,
        (b, r) => format!(
            "{data} (and bookkeeping: {b} {}, {r} {})",
            plural(b as u64, "table", "tables"),
            plural(r, "row", "rows")
        ),
    }
}

fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// What every changing verb's plan offers the adapters and the ritual.
pub trait Plan: Serialize {
    fn verb(&self) -> Verb;
    fn env(&self) -> &str;
    /// How the user must confirm it (core's one rule; adapters ask, never decide).
    fn confirmation(&self) -> Confirmation;
    /// One line saying what it will do (the audit log's summary).
    fn summary(&self) -> String;
    /// What the plan promises, item by item: `execute` re-plans under the lock and refuses when
    /// any item differs.
    fn promises(&self) -> Promises;
    /// A digest of [`Plan::promises`]; desktop tokens bind it.
    fn digest(&self) -> String {
        self.promises().digest()
    }
    /// The verified backup taken before the change (`None`: nothing that exists is at risk).
    fn backup_step(&self) -> Option<&BackupStep> {
        None
    }
    /// The same, to name the backup that was really made (`name_backup_made`).
    fn backup_step_mut(&mut self) -> Option<&mut BackupStep> {
        None
    }
    /// The file exists but is damaged: the ritual keeps a byte-identical evidence copy and
    /// builds a new database instead of opening it (no verified backup can be taken of it).
    fn damaged(&self) -> bool {
        false
    }
    /// Why the confirmation asked for is needed, when the rule alone does not say it.
    fn why_confirm(&self) -> Option<String> {
        None
    }
}

/// The accessors every plan struct with `env` and `confirmation` fields shares, for its verb.
macro_rules! plan_basics {
    ($verb:expr) => {
        fn verb(&self) -> $crate::verb::Verb {
            $verb
        }
        fn env(&self) -> &str {
            &self.env
        }
        fn confirmation(&self) -> $crate::safety::confirm::Confirmation {
            self.confirmation
        }
    };
}
pub(crate) use plan_basics;

/// Which file is at `path` now: (device, inode), or `missing`. A plan records it when it is made.
pub fn file_id(path: &Path) -> String {
    crate::storage::fs::file_identity(path)
        .map(|(dev, ino)| format!("device {dev}, inode {ino}"))
        .unwrap_or_else(|| "missing".into())
}

/// The items a plan promises (file identity, rows per table, backup, migrations, …), in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Promises(Vec<(String, String)>);

impl Promises {
    pub fn new(verb: Verb, env: &str) -> Promises {
        Promises(vec![
            ("verb".into(), verb.as_str().into()),
            ("env".into(), env.into()),
        ])
    }

    pub fn item(mut self, key: impl Into<String>, value: impl std::fmt::Display) -> Promises {
        self.0.push((key.into(), value.to_string()));
        self
    }

    /// Which file a plan was made from ([`file_id`], recorded then: the plan re-made under the
    /// lock records the file there now, and another file there is a difference).
    pub fn file(self, key: &str, recorded: &str) -> Promises {
        self.item(key, recorded)
    }

    /// Rows per table, one item each.
    pub fn rows(mut self, prefix: &str, tables: &[TableRows]) -> Promises {
        self.0
            .push((format!("{prefix} tables"), tables.len().to_string()));
        for t in tables {
            self.0
                .push((format!("{prefix} {}", t.name), format!("{} rows", t.rows)));
        }
        self
    }

    pub fn backup(self, step: Option<&BackupStep>) -> Promises {
        let v = match step {
            Some(b) if b.existing => format!("none new: {} holds it", b.path.display()),
            Some(b) => format!("{} in {}", b.reason.as_str(), b.dir.display()),
            None => "none".into(),
        };
        self.item("backup", v)
    }

    pub fn digest(&self) -> String {
        let mut text = String::new();
        for (k, v) in &self.0 {
            text.push_str(k);
            text.push('\u{1f}');
            text.push_str(v);
            text.push('\u{1e}');
        }
        crate::storage::hash::sha256_hex(text.as_bytes())
    }

    /// What differs from `now`, for the refusal: "jobs: 20 rows → 300020 rows".
    pub fn differences(&self, now: &Promises) -> Vec<String> {
        let find =
            |p: &Promises, k: &str| p.0.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        let mut keys: Vec<&String> = self.0.iter().map(|(k, _)| k).collect();
        keys.extend(
            now.0
                .iter()
                .map(|(k, _)| k)
                .filter(|k| find(self, k).is_none()),
        );
        keys.into_iter()
            .filter_map(|k| {
                let (a, b) = (find(self, k), find(now, k));
                (a != b).then(|| {
                    let show = |v: Option<String>| v.unwrap_or_else(|| "nothing".into());
                    format!("{k}: {} → {}", show(a), show(b))
                })
            })
            .collect()
    }
}

/// After the backup: the plan (as re-made under the lock, or as shown) names the file that was
/// really made, not the name a re-made plan would give a backup taken now.
pub(crate) fn name_backup_made(
    plan: &mut impl Plan,
    made: Option<&crate::backups::record::BackupRecord>,
) {
    if let (Some(step), Some(made)) = (plan.backup_step_mut(), made) {
        step.existing &= step.path == made.path;
        step.path = made.path.clone();
    }
}

/// Enforces what `plan` asks the user to confirm, with the plan's own reason in the refusal.
pub(crate) fn require_confirmed(
    plan: &impl Plan,
    confirmed: &crate::safety::confirm::Confirmed,
    target: &EnvTarget,
) -> Result<()> {
    confirmed
        .require(plan.confirmation(), target, plan.verb())
        .map_err(|e| match (e, plan.why_confirm()) {
            (crate::Error::Refused(m), Some(why)) => crate::Error::Refused(format!("{why}. {m}")),
            (e, _) => e,
        })
}

/// Refuses with [`Error::Stale`] when the plan re-made under the lock promises something else.
pub(crate) fn require_unchanged(shown: &impl Plan, now: &impl Plan) -> Result<()> {
    let (a, b) = (shown.promises(), now.promises());
    if a == b {
        return Ok(());
    }
    Err(crate::Error::Stale {
        env: shown.env().to_string(),
        what: a.differences(&b).join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(jobs: u64) -> Vec<TableRows> {
        vec![TableRows::new("jobs", jobs), TableRows::new("users", 6)]
    }

    #[test]
    fn summaries_count_the_users_rows_and_show_bookkeeping_apart() {
        let counts =
            |v: &[(&str, u64)]| table_rows(&v.iter().map(|(t, n)| (t.to_string(), *n)).collect());
        let empty_prod = counts(&[
            ("jobs", 0),
            ("job_daily_stats", 0),
            ("pipeline_db_meta", 1),
            ("pipelines", 0),
            ("refinery_schema_history", 2),
            ("users", 0),
        ]);
        let names: Vec<&str> = empty_prod.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "jobs",
                "pipelines",
                "users",
                "job_daily_stats",
                "pipeline_db_meta",
                "refinery_schema_history"
            ],
            "the user's tables first"
        );
        assert_eq!(
            summarize(&empty_prod),
            "3 tables, empty (and bookkeeping: 3 tables, 3 rows)"
        );
        assert_eq!(
            summarize(&counts(&[("users", 1), ("pipeline_db_meta", 1)])),
            "1 table, 1 row (and bookkeeping: 1 table, 1 row)"
        );
        assert_eq!(summarize(&counts(&[("jobs", 20)])), "1 table, 20 rows");
        assert_eq!(summarize(&[]), "no tables");
        assert_eq!(totals(&empty_prod, TableKind::Data), (3, 0));
        assert_eq!(totals(&empty_prod, TableKind::Bookkeeping), (3, 3));
    }

    #[test]
    fn promises_differ_item_by_item_and_say_how() {
        let a = Promises::new(Verb::Reset, "dev").rows("drop", &rows(20));
        let b = Promises::new(Verb::Reset, "dev").rows("drop", &rows(300_020));
        assert_eq!(a.digest(), a.clone().digest());
        assert_ne!(a.digest(), b.digest());
        assert_eq!(
            a.differences(&b),
            vec!["drop jobs: 20 rows → 300020 rows".to_string()]
        );
        let c = Promises::new(Verb::Reset, "dev").rows("drop", &rows(20)[..1]);
        assert_eq!(
            a.differences(&c),
            vec![
                "drop tables: 2 → 1".to_string(),
                "drop users: 6 rows → nothing".to_string()
            ]
        );
    }

    #[test]
    fn a_missing_file_and_an_existing_one_are_different_promises() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.sqlite3");
        let missing = Promises::new(Verb::Migrate, "dev").file("file", &file_id(&p));
        std::fs::write(&p, b"").unwrap();
        let there = Promises::new(Verb::Migrate, "dev").file("file", &file_id(&p));
        assert_ne!(missing.digest(), there.digest());
        let link = d.path().join("y.sqlite3");
        std::fs::hard_link(&p, &link).unwrap();
        assert_eq!(
            there.digest(),
            Promises::new(Verb::Migrate, "dev")
                .file("file", &file_id(&link))
                .digest(),
            "a hard link is the same file"
        );
    }
}
