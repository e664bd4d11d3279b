//! Case 11: tampered migrations — edited applied SQL, CRLF, an edited history checksum, a history
//! row for a file that is missing: refused before any DDL; `migrations repair` fixes only the
//! whitespace case.

use super::*;

fn checksum(name: &str, sql: &str) -> String {
    refinery_core::Migration::unapplied(name, sql)
        .unwrap()
        .checksum()
        .to_string()
}

pub fn cases() -> Vec<Case> {
    vec![Case::new("tampered", tampered)]
}

fn tampered(r: &mut Report) {
    let template = seeded_template(100);
    let sql = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../migrations/V1__initial.sql"
    ))
    .unwrap();
    let cases: Vec<(&str, String, bool)> = vec![
        ("edited applied SQL", format!("UPDATE refinery_schema_history SET checksum = '{}' WHERE version = 1", checksum("V1__initial", &format!("{sql}\nCREATE TABLE sneaky (x);\n"))), false),
        ("CRLF line endings", format!("UPDATE refinery_schema_history SET checksum = '{}' WHERE version = 1", checksum("V1__initial", &sql.replace('\n', "\r\n"))), true),
        ("edited history checksum", "UPDATE refinery_schema_history SET checksum = '12345' WHERE version = 1".into(), false),
        ("missing migration file", format!("INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES ({}, 'gone', '2026-01-01T00:00:00Z', '1')", pipeline_db_core::schema::migrations::latest_version() + 1), false),
    ];
    let mut t = Tally::default();
    for (name, tamper, repairable) in cases {
        let d = fresh_copy(template.path());
        rusqlite::Connection::open(db(d.path()))
            .unwrap()
            .execute_batch(&tamper)
            .unwrap();
        let old = fingerprint(&db(d.path())).unwrap();
        let schema = || -> Vec<String> {
            let c = rusqlite::Connection::open(db(d.path())).unwrap();
            let mut s = c
                .prepare("SELECT coalesce(sql, name) FROM sqlite_schema ORDER BY name")
                .unwrap();
            s.query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let before = schema();
        for verb in [
            &["migrate", "dev", "--force"][..],
            &["seed", "dev", "--jobs", "10"],
        ] {
            let o = run(d.path(), verb);
            if o.status.code() != Some(3) {
                t.fail(format!(
                    "{name}: {verb:?} exited {:?}: {}",
                    o.status.code(),
                    stderr(&o)
                ));
            }
        }
        if schema() != before {
            t.fail(format!("{name}: DDL ran despite the refusal"));
        }
        judge(&mut t, d.path(), &old, &old, false);
        let o = run(d.path(), &["migrations", "repair", "dev", "--force"]);
        let after_repair = run(d.path(), &["migrate", "dev", "--force"]);
        match (
            repairable,
            o.status.success(),
            after_repair.status.success(),
        ) {
            (true, true, true) | (false, false, false) => {}
            other => t.fail(format!(
                "{name}: repair/migrate outcome {other:?}: {} / {}",
                stderr(&o),
                stderr(&after_repair)
            )),
        }
    }
    r.add(
        "tampered migrations refused before DDL; repair only whitespace",
        t,
    );
}
