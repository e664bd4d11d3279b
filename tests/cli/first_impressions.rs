//! What a new user meets first (issue 14, part 6), by the real binary: the user's tables apart
//! from pipeline-db's bookkeeping, actions that cannot apply said so (and refused by core), and a
//! plan that names the backup file it then really makes.

use std::path::{Path, PathBuf};

use pipeline_db_e2e::Env;

fn json(e: &Env, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&e.ok(args)).unwrap()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| pipeline_db_e2e::is_backup_name(&p.file_name().unwrap().to_string_lossy()));
    v.sort();
    v
}

/// The value after `label` on the line that starts with it (trimmed), e.g. `backup:`.
fn line_value<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .map(str::trim_start)
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{text}"))
        .trim()
}

/// Core's reason why `action` cannot apply (it must not).
fn unavailable<'a>(actions: &'a serde_json::Value, action: &str) -> &'a str {
    assert_eq!(actions[action]["available"], false, "{action}: {actions}");
    actions[action]["reason"].as_str().unwrap()
}

#[test]
fn an_empty_prod_reads_as_empty_with_its_bookkeeping_apart() {
    let e = Env::new();
    e.ok(&["migrate", "prod"]);
    let status = e.ok(&["status", "prod"]);
    let rows = line_value(&status, "rows:");
    assert!(
        rows.starts_with("jobs 0") && rows.ends_with("(empty)"),
        "{status}"
    );
    assert!(!rows.contains("pipeline_db_meta"), "{status}");
    let book = line_value(&status, "bookkeeping:");
    assert!(book.starts_with("3 tables,"), "{status}");
    for t in [
        "pipeline_db_meta",
        "refinery_schema_history",
        "job_daily_stats",
    ] {
        assert!(book.contains(t), "{t}: {status}");
    }
    let v = json(&e, &["status", "prod", "--json"]);
    let tables = v[0]["tables"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = tables
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("jobs", "data"),
            ("pipelines", "data"),
            ("users", "data"),
            ("job_daily_stats", "bookkeeping"),
            ("pipeline_db_meta", "bookkeeping"),
            ("refinery_schema_history", "bookkeeping"),
        ]
    );
    // The plan of a reset counts the user's rows: none.
    let plan = json(&e, &["reset", "prod", "--dry-run", "--json"]);
    assert_eq!(plan["data_rows"], 0, "{plan}");
    assert!(
        plan["total_rows"].as_u64().unwrap() > 0,
        "bookkeeping rows exist"
    );
    let text = e.ok(&["reset", "prod", "--dry-run"]);
    let drop = line_value(&text, "will drop:");
    assert!(
        drop.starts_with("3 tables, empty (and bookkeeping: 3 tables"),
        "{text}"
    );
}

#[test]
fn status_says_which_actions_cannot_apply_and_core_refuses_them() {
    let e = Env::new();
    let v = json(&e, &["status", "prod", "--json"]);
    let a = &v[0]["actions"];
    assert_eq!(a["migrate"]["available"], true, "{a}");
    let why = unavailable(a, "reset");
    assert!(
        why.contains("prod does not exist yet: Migrate creates it"),
        "{why}"
    );
    assert!(unavailable(a, "undo").contains("nothing to undo"));
    assert_eq!(a["backup"]["available"], false, "{a}");
    assert_eq!(a["seed"]["available"], false, "protected");
    // The text status prints the same reasons.
    let text = e.ok(&["status", "prod"]);
    assert!(
        text.contains("prod does not exist yet: Migrate creates it"),
        "{text}"
    );
    // Invoked anyway, core refuses: nothing is created.
    let (code, _, err) = e.run(&["reset", "prod", "--confirm-env", "prod"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("Migrate creates it"), "{err}");
    assert!(!e.db("prod").exists());
    // Once it exists: reset can apply; migrate has nothing to apply; undo still nothing.
    e.ok(&["migrate", "prod"]);
    let v = json(&e, &["status", "prod", "--json"]);
    let a = &v[0]["actions"];
    assert_eq!(a["reset"]["available"], true, "{a}");
    assert!(unavailable(a, "migrate").contains("nothing to apply"));
    assert_eq!(a["backup"]["available"], true, "{a}");
    // dev after a reset: undo can apply.
    e.seeded("dev");
    e.ok(&["reset", "dev", "--force"]);
    let v = json(&e, &["status", "dev", "--json"]);
    assert_eq!(v[0]["actions"]["undo"]["available"], true, "{v}");
}

#[test]
fn a_reset_makes_the_backup_file_its_plan_named_and_says_so_everywhere() {
    let e = Env::new();
    e.seeded("dev");
    // The printed plan (before the confirmation --force gives), then the outcome.
    let out = e.ok(&["reset", "dev", "--force"]);
    let planned = line_value(&out, "backup:")
        .split(" (verified")
        .next()
        .unwrap()
        .to_string();
    let made = line_value(&out, "Backed up to")
        .split(" (")
        .next()
        .unwrap()
        .to_string();
    assert_eq!(planned, made, "{out}");
    let dir = e.data().join("backups/dev");
    let pre_reset: Vec<PathBuf> = files_in(&dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with("-pre-reset.sqlite3.zst"))
        .collect();
    assert_eq!(pre_reset, vec![PathBuf::from(&planned)], "{out}");
    let log = json(&e, &["log", "--env", "dev", "--json"]);
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["verb"], "reset");
    assert_eq!(last["backup"].as_str(), Some(planned.as_str()), "{last}");
    // With --json: the outcome's plan names the backup that was made, not a fresh name.
    let out = json(&e, &["reset", "dev", "--force", "--json"]);
    let made = out["backup"]["path"].as_str().unwrap();
    assert_eq!(out["plan"]["backup"]["path"].as_str(), Some(made), "{out}");
    assert!(Path::new(made).exists());
    let log = json(&e, &["log", "--env", "dev", "--json"]);
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["backup"].as_str(), Some(made), "{last}");
    // A dry run's path is a name of this env's backup dir, of the same form.
    let plan = json(&e, &["reset", "dev", "--dry-run", "--json"]);
    let named = PathBuf::from(plan["backup"]["path"].as_str().unwrap());
    assert_eq!(named.parent(), Some(dir.as_path()));
    assert!(named.to_string_lossy().ends_with("-pre-reset.sqlite3.zst"));
}

#[test]
fn an_untagged_file_that_drifted_is_told_the_steps_that_work_in_order() {
    let e = Env::new();
    let outside = tempfile::tempdir().unwrap();
    let legacy = outside.path().join("legacy.db");
    let c = rusqlite::Connection::open(&legacy).unwrap();
    c.execute_batch(
        "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1); CREATE VIEW v AS SELECT x FROM t;",
    )
    .unwrap();
    drop(c);
    let added = e.ok(&["env", "add", "demo", legacy.to_str().unwrap()]);
    let check = added.find("migrations check demo").expect(&added);
    assert!(check < added.find("env set demo").expect(&added), "{added}");
    assert!(!added.contains("pipeline-db reset demo"), "{added}");
    let v = json(&e, &["status", "demo", "--json"]);
    let problem = v[0]["error"].as_str().unwrap();
    let check = problem.find("migrations check demo").expect(problem);
    let tag = problem.find("env set demo").expect(problem);
    assert!(check < tag, "the schema first, then the tag: {problem}");
    assert!(
        !problem.contains("pipeline-db reset demo"),
        "reset refuses it: {problem}"
    );
    // What it says is true: reset refuses the untagged file, tagging refuses the view, and
    // tagging works once the view is gone.
    let (code, _, err) = e.run(&["reset", "demo", "--force"]);
    assert_eq!(code, 3, "{err}");
    let (code, _, err) = e.run(&["env", "set", "demo", "--force"]);
    assert_eq!(code, 3, "{err}");
    let c = rusqlite::Connection::open(&legacy).unwrap();
    c.execute_batch("DROP VIEW v").unwrap();
    drop(c);
    e.ok(&["env", "set", "demo", "--force"]);
    let v = json(&e, &["status", "demo", "--json"]);
    assert_eq!(v[0]["health"], "ok", "{v}");
}

/// The packaging helpers are inputs too (review 27): `manpages DIR` wrote through a symlink
/// named like a page (overwriting the file it pointed at) and over existing pages; `completions`
/// panicked (exit 101) on a closed pipe or a full disk.
#[test]
fn man_pages_are_written_as_new_files_and_completions_fail_cleanly() {
    let d = tempfile::tempdir().unwrap();
    let victim = d.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let man = d.path().join("man");
    std::fs::create_dir(&man).unwrap();
    std::os::unix::fs::symlink(&victim, man.join("pipeline-db.1")).unwrap();
    let e = Env::new();
    let (code, _, err) = e.run(&["manpages", man.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("nothing is written over"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let fresh = d.path().join("fresh");
    let (code, _, err) = e.run(&["manpages", fresh.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(fresh.join("pipeline-db-reset.1").exists());
    let (code, _, err) = e.run(&["manpages", fresh.to_str().unwrap()]);
    assert_eq!(code, 3, "a second run writes over nothing: {err}");
    // A full disk and a reader that stopped: exit 1 and 141, no panic.
    assert_a_full_disk_fails(&["completions", "bash"]);
    let e = Env::new();
    assert_reader_stopped_early(&e, &["completions", "bash"]);
}

/// `pipeline-db ARGS` whose reader closed its end at once ends as any Unix tool: 141, no error.
fn assert_reader_stopped_early(e: &Env, args: &[&str]) {
    let mut child = pipeline_db_e2e::spawn_piped(e.data(), args, &[]);
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(141),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Inputs that were taken without a word or with a wrong exit (review 27, review 25).
#[test]
fn arguments_that_cannot_mean_what_they_say_are_usage_errors() {
    let e = Env::new();
    e.seeded("dev");
    let before = pipeline_db_e2e::fingerprint(&e.db("dev"));
    for args in [
        // Sample sizes without --with-sample-data were dropped.
        &["reset", "dev", "--force", "--jobs", "5"][..],
        // A prune keeping none (config and `config set` take 1 to 1000); `-` as a file name.
        &["backups", "prune", "dev", "--keep", "0", "--force"][..],
        &["backup", "dev", "--output", "-"][..],
        // Time limits out of range (0 ran an export into an error after its header).
        &["query", "dev", "SELECT 1", "--timeout-ms", "0"][..],
        &["query", "dev", "SELECT 1", "--timeout-ms", "600001"][..],
        &[
            "export",
            "dev",
            "--query",
            "SELECT 1",
            "--format",
            "csv",
            "--timeout-ms",
            "0",
        ][..],
    ] {
        let (code, _, err) = e.run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
    }
    // A FIFO where the lock file goes: refused, exit 3, saying what it is ("Illegal seek", 1).
    let fifo = e.data().join("dev.sqlite3.lock");
    let _ = std::fs::remove_file(&fifo);
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let (code, _, err) = e.run(&["seed", "dev", "--jobs", "1"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("is a FIFO"), "{err}");
    std::fs::remove_file(&fifo).unwrap();
    // A name typed for another env: refused, exit 3 (dev was reset).
    let (code, _, err) = e.run(&["reset", "dev", "--force", "--confirm-env", "test"]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(pipeline_db_e2e::fingerprint(&e.db("dev")), before);
    // `query --format csv | head`: the reader stopped, as for export: 141, not an error.
    assert_reader_stopped_early(
        &e,
        &["query", "dev", "SELECT * FROM jobs", "--format", "csv"],
    );
}

/// A prune of every env refuses an env whose answer core does not accept before deleting any
/// env's backups (review 25: dev's were deleted, then prod's refusal said "nothing was changed").
#[test]
fn a_prune_of_every_env_refuses_before_it_deletes_anything() {
    let e = Env::new();
    e.seeded("dev");
    e.ok(&["migrate", "prod", "--confirm-env", "prod"]);
    for env in ["dev", "dev", "prod", "prod"] {
        e.ok(&["backup", env]);
    }
    let count = |env: &str| files_in(&e.data().join("backups").join(env)).len();
    let (dev, prod) = (count("dev"), count("prod"));
    let (code, _, err) = e.run(&["backups", "prune", "--keep", "1", "--force"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("prod"), "{err}");
    assert_eq!(
        (count("dev"), count("prod")),
        (dev, prod),
        "nothing deleted: {err}"
    );
    // One env's prune with another env's name typed (review 28: dev's backups were deleted).
    let (code, _, err) = e.run(&[
        "backups",
        "prune",
        "dev",
        "--keep",
        "1",
        "--force",
        "--confirm-env",
        "prod",
    ]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(count("dev"), dev, "{err}");
    let (code, _, err) = e.run(&[
        "backups",
        "prune",
        "--keep",
        "1",
        "--force",
        "--confirm-env",
        "prod",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(count("dev") < dev && count("prod") < prod);
}

/// Output that said something untrue (review 27): `log --limit 0` said no action was recorded,
/// and help written to a full disk exited 0.
#[test]
fn help_to_a_full_disk_fails_and_a_zero_limit_is_a_usage_error() {
    let e = Env::new();
    e.seeded("dev");
    let (code, _, err) = e.run(&["log", "--limit", "0"]);
    assert_eq!(code, 2, "{err}");
    for args in [&["--help"][..], &["--version"][..]] {
        assert_a_full_disk_fails(args);
    }
}

/// `pipeline-db ARGS` writing its output to a full disk (`/dev/full`): exit 1, no panic.
fn assert_a_full_disk_fails(args: &[&str]) {
    let out = std::process::Command::new(pipeline_db_e2e::bin())
        .args(args)
        .stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
