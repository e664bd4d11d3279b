//! TypeScript declarations of the types the desktop window receives or sends (feature `ts`).
//!
//! Each type derives `ts_rs::TS` under the feature (serde's renames, tags and skips are followed);
//! [`export`] writes core's, one `<Name>.ts` per type, into a directory. The desktop adds its own
//! types and writes them all to `ui/src/lib/generated/`: `make types`. The tests here fail when a
//! committed file is not what core generates now (and show the command that fixes it).
//!
//! Two choices the generated files depend on: 64-bit integers are `number`, not `bigint` (the
//! window parses JSON, which yields numbers), and each plan's `verb` is the literal its verb
//! serializes to (`"reset"`, `"backups prune"`, …), so the window can narrow a plan on `verb`.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use ts_rs::{Config, ExportError, TS};

use crate::backups::record::BackupRecord;
use crate::backups::stored::Stored;
use crate::backups::verify::VerifyReport;
use crate::browse::{
    Charts, JobCursor, JobDetail, JobFilter, JobRow, MigrationsView, Order, Page, PipelineRow,
    UserRow,
};
use crate::plan::{BackupStep, TableRows};
use crate::safety::audit::AuditEntry;
use crate::safety::confirm::Confirmation;
use crate::safety::retention::{BackupsView, RetentionReport};
use crate::schema::migrations::MigrationInfo;
use crate::schema::tag::Identity;
use crate::verbs::backup::BackupOutcome;
use crate::verbs::backup::BackupPlan;
use crate::verbs::check::CheckReport;
use crate::verbs::import::{ImportOutcome, ImportPlan};
use crate::verbs::migrate::{MigrateOutcome, MigratePlan};
use crate::verbs::pin::PinOutcome;
use crate::verbs::prune::PrunePlan;
use crate::verbs::repair::{RepairOutcome, RepairPlan};
use crate::verbs::reset::{ResetOutcome, ResetPlan};
use crate::verbs::restore::{RestoreOutcome, RestorePlan};
use crate::verbs::retag::{RetagOutcome, RetagPlan};
use crate::verbs::seed::{SeedOutcome, SeedPlan};
use crate::verbs::settings::{SettingsOutcome, SettingsPlan};
use crate::verbs::status::EnvStatus;
use crate::verbs::undo::UndoPlan;
use crate::workbench::export::{ExportOutcome, Source};
use crate::workbench::format::Format;
use crate::workbench::query::QueryView;
use crate::workbench::saved::SavedQuery;
use crate::workbench::schema::SchemaView;
use crate::workspace::config::Retention;
use crate::workspace::env::EnvTarget;
use crate::{Progress, Verb};

/// The environment variable that makes the staleness tests write the files instead of comparing
/// them (`make types` sets it).
pub const WRITE_ENV: &str = "PIPELINE_DB_WRITE_TYPES";

/// The generated index, re-exporting every other file of the directory (each declares the one
/// type it is named after).
pub const INDEX: &str = "index.ts";

/// How the declarations are generated: into `dir`, 64-bit integers as `number`.
pub fn config(dir: &Path) -> Config {
    Config::new().with_large_int("number").with_out_dir(dir)
}

/// Writes the declaration of every core type the window receives or sends (and of every type
/// they use) into `dir`, one file per type.
pub fn export(dir: &Path) -> Result<(), ExportError> {
    let cfg = config(dir);
    macro_rules! export_all {
        ($($t:ty),* $(,)?) => {
            $(<$t as TS>::export_all(&cfg)?;)*
        };
    }
    export_all!(
        // The plans the window shows, and what each action returns.
        ResetPlan,
        ResetOutcome,
        MigratePlan,
        MigrateOutcome,
        SeedPlan,
        SeedOutcome,
        BackupPlan,
        BackupRecord,
        BackupOutcome,
        PinOutcome,
        BackupsView,
        RetentionReport,
        Stored,
        RestorePlan,
        RestoreOutcome,
        UndoPlan,
        PrunePlan,
        RetagPlan,
        RetagOutcome,
        RepairPlan,
        RepairOutcome,
        SettingsPlan,
        SettingsOutcome,
        ImportPlan,
        ImportOutcome,
        // Their shared pieces.
        Verb,
        Confirmation,
        Identity,
        TableRows,
        BackupStep,
        MigrationInfo,
        Progress,
        // Read-only views.
        EnvStatus,
        EnvTarget,
        Retention,
        VerifyReport,
        CheckReport,
        AuditEntry,
        MigrationsView,
        // The data browser and charts.
        JobFilter,
        Order,
        JobCursor,
        Page<JobRow, JobCursor>,
        JobRow,
        JobDetail,
        UserRow,
        PipelineRow,
        Charts,
        // The query view, its exports and saved queries, the schema view.
        QueryView,
        SavedQuery,
        SchemaView,
        Source,
        Format,
        ExportOutcome,
    );
    Ok(())
}

/// Writes `index.ts`: a re-export of every other `.ts` file in `dir`, in name order.
pub fn write_index(dir: &Path) -> io::Result<()> {
    fs::write(dir.join(INDEX), index_text(&ts_files(dir)?))
}

/// The text of `index.ts` for these file names.
pub fn index_text(files: &BTreeSet<String>) -> String {
    let mut out = String::from(
        "// Generated by `make types` (pipeline_db_core::ts::write_index). Do not edit this file manually.\n",
    );
    for name in files.iter().filter(|f| f.as_str() != INDEX) {
        let stem = name.trim_end_matches(".ts");
        out.push_str(&format!("export type {{ {stem} }} from \"./{stem}\";\n"));
    }
    out
}

/// The `.ts` files directly in `dir` (none if it does not exist).
pub fn ts_files(dir: &Path) -> io::Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".ts") {
            out.insert(name);
        }
    }
    Ok(out)
}

/// How the committed files differ from freshly generated ones: one line per file that is
/// missing or different, and (when `whole` — `fresh` holds everything the directory should) per
/// file that nothing generates any more. `index.ts` is compared only when `whole`.
pub fn stale(fresh: &Path, committed: &Path, whole: bool) -> io::Result<Vec<String>> {
    let new = ts_files(fresh)?;
    let old = ts_files(committed)?;
    let mut problems = vec![];
    for name in &new {
        if name == INDEX && !whole {
            continue;
        }
        match fs::read_to_string(committed.join(name)) {
            Ok(text) if text == fs::read_to_string(fresh.join(name))? => {}
            Ok(_) => problems.push(format!("{name}: differs from what the Rust types generate")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                problems.push(format!("{name}: missing"))
            }
            Err(e) => return Err(e),
        }
    }
    if whole {
        for name in old.difference(&new) {
            problems.push(format!("{name}: generated by no Rust type any more"));
        }
    }
    Ok(problems)
}

/// Replaces the `.ts` files of `committed` by those of `fresh` (`whole`: and removes the ones
/// nothing generates); then rewrites the index.
pub fn write(fresh: &Path, committed: &Path, whole: bool) -> io::Result<()> {
    fs::create_dir_all(committed)?;
    if whole {
        for name in ts_files(committed)?.difference(&ts_files(fresh)?) {
            fs::remove_file(committed.join(name))?;
        }
    }
    for name in ts_files(fresh)? {
        if name != INDEX {
            fs::copy(fresh.join(&name), committed.join(&name))?;
        }
    }
    write_index(committed)
}

/// Where the window's generated types are committed: `ui/src/lib/generated/` of this repository.
pub fn committed_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/generated");
    dir.canonicalize().unwrap_or(dir)
}

/// The staleness check both crates run: generates into a temporary directory with `export`, then
/// compares with `committed` — or, with `PIPELINE_DB_WRITE_TYPES=1`, writes the files there.
/// Panics with the list of stale files and the command that regenerates them.
pub fn check_or_write(
    committed: &Path,
    whole: bool,
    export: impl FnOnce(&Path) -> Result<(), ExportError>,
) {
    // ts-rs remembers the files it wrote in this process: never reuse a directory.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let tmp = std::env::temp_dir().join(format!("pipeline-db-ts-{}-{run}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    export(&tmp).expect("generating the TypeScript declarations");
    write_index(&tmp).expect("writing index.ts");
    let result = if std::env::var(WRITE_ENV).is_ok_and(|v| v == "1") {
        write(&tmp, committed, whole).map(|()| vec![])
    } else {
        stale(&tmp, committed, whole)
    };
    let _ = fs::remove_dir_all(&tmp);
    let problems = result.expect("comparing the TypeScript declarations");
    assert!(
        problems.is_empty(),
        "the TypeScript types in {} are stale; run `make types` and commit the result:\n  {}",
        committed.display(),
        problems.join("\n  ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Core's files in `ui/src/lib/generated/` are what core generates now (the desktop's test
    /// checks the whole directory, its own types and the index included).
    #[test]
    fn generated_types_are_current() {
        check_or_write(&committed_dir(), false, export);
    }

    fn decl<T: TS + 'static>() -> String {
        T::decl(&config(Path::new(".")))
    }

    /// `"a" | "b"`, as serde_json writes each value.
    fn union<T: serde::Serialize>(values: &[T]) -> String {
        values
            .iter()
            .map(|v| serde_json::to_string(v).unwrap())
            .collect::<Vec<_>>()
            .join(" | ")
    }

    #[test]
    fn string_enums_are_what_serde_writes() {
        use crate::backups::record::Reason;
        use crate::schema::migrations::MigrationState;
        let verbs = Verb::ALL;
        assert_eq!(decl::<Verb>(), format!("type Verb = {};", union(&verbs)));
        let c = [
            Confirmation::None,
            Confirmation::YesNo,
            Confirmation::TypeEnvName,
        ];
        assert_eq!(
            decl::<Confirmation>(),
            format!("type Confirmation = {};", union(&c))
        );
        assert_eq!(
            union(&c),
            r#""none" | "yes_no" | "type_env_name""#,
            "the window's confirmation rule"
        );
        let reasons = [
            Reason::Manual,
            Reason::PreReset,
            Reason::PreMigrate,
            Reason::PreRestore,
            Reason::PreRetag,
            Reason::PreSeed,
            Reason::PreRepair,
            Reason::PreImport,
        ];
        assert_eq!(
            decl::<Reason>(),
            format!("type Reason = {};", union(&reasons))
        );
        let states = [
            MigrationState::Applied,
            MigrationState::Pending,
            MigrationState::Divergent,
            MigrationState::Missing,
        ];
        assert_eq!(
            decl::<MigrationState>(),
            format!("type MigrationState = {};", union(&states))
        );
        let orders = [Order::NewestFirst, Order::OldestFirst];
        assert_eq!(decl::<Order>(), format!("type Order = {};", union(&orders)));
    }

    /// Each plan's `verb` is the literal its verb serializes to: the window's plan union is
    /// discriminated by it.
    #[test]
    fn plan_verbs_are_literals() {
        fn verb_of(decl: &str) -> &str {
            let start = decl.find("verb: ").expect("a verb field") + "verb: ".len();
            let end = start + decl[start..].find(',').unwrap();
            &decl[start..end]
        }
        for (decl, verbs) in [
            (decl::<ResetPlan>(), vec![Verb::Reset]),
            (decl::<MigratePlan>(), vec![Verb::Migrate]),
            (decl::<SeedPlan>(), vec![Verb::Seed]),
            (decl::<BackupPlan>(), vec![Verb::Backup]),
            // A restore plan is also what an undo restores (then its verb is `undo`).
            (decl::<RestorePlan>(), vec![Verb::Restore, Verb::Undo]),
            (decl::<UndoPlan>(), vec![Verb::Undo]),
            (decl::<PrunePlan>(), vec![Verb::Prune]),
            (decl::<RetagPlan>(), vec![Verb::Retag]),
            (decl::<RepairPlan>(), vec![Verb::Repair]),
            (decl::<ImportPlan>(), vec![Verb::Import]),
            (
                decl::<SettingsPlan>(),
                vec![
                    Verb::EnvAdd,
                    Verb::EnvRemove,
                    Verb::EnvPath,
                    Verb::ConfigSet,
                ],
            ),
        ] {
            assert_eq!(verb_of(&decl), union(&verbs), "{decl}");
        }
    }

    #[test]
    fn large_integers_are_numbers_and_paths_strings() {
        let d = decl::<BackupRecord>();
        assert!(d.contains("size_bytes: number"), "{d}");
        assert!(d.contains("path: string"), "{d}");
        assert!(d.contains("row_counts: { [key in string]: number }"), "{d}");
        let tmp = tempfile::tempdir().unwrap();
        export(tmp.path()).unwrap();
        for name in ts_files(tmp.path()).unwrap() {
            let text = fs::read_to_string(tmp.path().join(&name)).unwrap();
            assert!(!text.contains("bigint"), "{name}: {text}");
        }
    }
}
