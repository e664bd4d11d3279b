//! Cases 9 and 10: a backup target that exists (valid database, 1-byte junk, symlink to elsewhere)
//! is never overwritten or followed; odd names for backup, restore and export are rejected and
//! nothing is written outside the data dir.

use super::*;

pub fn cases() -> Vec<Case> {
    let template = Shared::new(|| seeded_template(200));
    let t2 = template.clone();
    vec![
        Case::new("existing_target", move |r| {
            existing_targets(r, template.get())
        }),
        Case::new("odd_names", move |r| odd_names(r, t2.get())),
    ]
}

fn existing_targets(r: &mut Report, template: &tempfile::TempDir) {
    let mut t = Tally::default();
    let old = fingerprint(&db(template.path())).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let valid = outside.path().join("valid.sqlite3");
    std::fs::copy(db(template.path()), &valid).unwrap();
    let junk = outside.path().join("junk.sqlite3");
    std::fs::write(&junk, b"x").unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, b"do not touch").unwrap();
    let link = outside.path().join("link.sqlite3");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let dangling = outside.path().join("dangling.sqlite3");
    std::os::unix::fs::symlink(outside.path().join("nowhere.sqlite3"), &dangling).unwrap();
    for target in [&valid, &junk, &link, &dangling] {
        let d = fresh_copy(template.path());
        let before: Vec<(std::path::PathBuf, Vec<u8>)> = files_under(outside.path())
            .into_iter()
            .map(|p| (p.clone(), std::fs::read(&p).unwrap_or_default()))
            .collect();
        let o = run(
            d.path(),
            &["backup", "dev", "--output", target.to_str().unwrap()],
        );
        if o.status.success() {
            t.fail(format!(
                "{}: export over an existing name succeeded",
                target.display()
            ));
        }
        let after: Vec<(std::path::PathBuf, Vec<u8>)> = files_under(outside.path())
            .into_iter()
            .map(|p| (p.clone(), std::fs::read(&p).unwrap_or_default()))
            .collect();
        if before != after {
            t.fail(format!(
                "{}: files outside the data dir changed",
                target.display()
            ));
        }
        if outside.path().join("nowhere.sqlite3").exists() {
            t.fail("a dangling symlink was followed");
        }
        judge(&mut t, d.path(), &old, &old, false);
    }
    r.add("backup target exists (db, junk, symlink, dangling)", t);
}

fn odd_names(r: &mut Report, template: &tempfile::TempDir) {
    let mut t = Tally::default();
    let old = fingerprint(&db(template.path())).unwrap();
    let long = "a".repeat(300);
    let cases: Vec<Vec<String>> = vec![
        vec![
            "restore".into(),
            "dev".into(),
            "../x".into(),
            "--force".into(),
        ],
        vec![
            "restore".into(),
            "dev".into(),
            "../../etc/passwd".into(),
            "--force".into(),
        ],
        vec![
            "restore".into(),
            "dev".into(),
            "/etc/passwd".into(),
            "--force".into(),
        ],
        vec![
            "restore".into(),
            "dev".into(),
            long.clone(),
            "--force".into(),
        ],
        vec![
            "restore".into(),
            "dev".into(),
            "bad\u{7}name".into(),
            "--force".into(),
        ],
        vec![
            "backup".into(),
            "dev".into(),
            "--output".into(),
            "/etc/passwd".into(),
        ],
        vec![
            "backup".into(),
            "dev".into(),
            "--output".into(),
            format!("/tmp/{long}"),
        ],
        vec![
            "backup".into(),
            "dev".into(),
            "--output".into(),
            "/tmp/bad\nname.sqlite3".into(),
        ],
        vec![
            "backup".into(),
            "dev".into(),
            "--label".into(),
            "evil\u{1b}[2Jlabel".into(),
        ],
    ];
    let passwd = std::fs::read("/etc/passwd").unwrap_or_default();
    for args in cases {
        let d = fresh_copy(template.path());
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(d.path(), &argv);
        let code = o.status.code();
        // Refused (usage, safety rule, not a database) or failed verification: never accepted.
        if !matches!(code, Some(1) | Some(2) | Some(3) | Some(5)) {
            t.fail(format!(
                "{:?}: exit {code:?}, expected a refusal: {}",
                &argv[..2],
                stderr(&o)
            ));
        }
        if std::fs::read("/etc/passwd").unwrap_or_default() != passwd {
            t.fail("/etc/passwd changed");
        }
        judge(&mut t, d.path(), &old, &old, false);
    }
    if std::path::Path::new("/tmp/bad\nname.sqlite3").exists() {
        t.fail("a file with a newline in its name was written");
    }
    r.add("odd names for backup / restore / export", t);
}
