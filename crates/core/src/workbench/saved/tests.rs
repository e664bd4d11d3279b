//! Saved queries on real files in temp dirs: names, save/rename/delete, and the file as untrusted
//! input (never a panic; a bad file is a clear error and is left as it was).

use super::*;
use proptest::prelude::*;

fn ws() -> (tempfile::TempDir, Workspace) {
    let d = tempfile::tempdir().unwrap();
    let ws = Workspace::at(d.path().join("data")).unwrap();
    (d, ws)
}

fn names(qs: &[SavedQuery]) -> Vec<&str> {
    qs.iter().map(|q| q.name.as_str()).collect()
}

#[test]
fn save_rename_delete_and_list_sorted_by_name() {
    let (_d, ws) = ws();
    assert!(list(&ws, "dev").unwrap().is_empty());
    save(
        &ws,
        "dev",
        "Failed jobs",
        "SELECT * FROM jobs WHERE status = 'failed'",
        false,
    )
    .unwrap();
    save(&ws, "dev", "all users", "SELECT * FROM users", false).unwrap();
    assert_eq!(
        names(&list(&ws, "dev").unwrap()),
        ["all users", "Failed jobs"]
    );
    // Per env: test sees none of dev's.
    assert!(list(&ws, "test").unwrap().is_empty());
    // A taken name (whatever its case) is refused unless saving over it.
    let e = save(&ws, "dev", "failed JOBS", "SELECT 1", false).unwrap_err();
    assert!(e.to_string().contains("already saved"), "{e}");
    save(&ws, "dev", "Failed jobs", "SELECT 2", true).unwrap();
    let qs = list(&ws, "dev").unwrap();
    assert_eq!(qs[1].sql, "SELECT 2");
    let e = rename(&ws, "dev", "Failed jobs", "All Users").unwrap_err();
    assert!(e.to_string().contains("already saved"), "{e}");
    rename(&ws, "dev", "Failed jobs", "Zz failures").unwrap();
    assert_eq!(
        names(&list(&ws, "dev").unwrap()),
        ["all users", "Zz failures"]
    );
    let e = delete(&ws, "dev", "nope").unwrap_err();
    assert!(e.to_string().contains("no saved query"), "{e}");
    delete(&ws, "dev", "all users").unwrap();
    assert_eq!(names(&list(&ws, "dev").unwrap()), ["Zz failures"]);
    // Kept in the data dir, not in the database; no temp file left behind.
    let dir = ws.data_dir.join(DIR);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    files.sort();
    assert_eq!(files, [".lock", "dev.json"].map(std::ffi::OsString::from));
    assert!(!ws.data_dir.join("dev.sqlite3").exists());
}

#[test]
fn bad_names_sql_and_unknown_envs_are_refused_before_anything_is_written() {
    let (_d, ws) = ws();
    for (name, says) in [
        ("", "empty"),
        (" x", "space"),
        ("x ", "space"),
        ("a/b", "letters"),
        ("a\nb", "letters"),
        ("a\u{202e}b", "letters"),
        (&"x".repeat(65), "64"),
    ] {
        let e = save(&ws, "dev", name, "SELECT 1", false).unwrap_err();
        assert!(e.to_string().contains(says), "{name:?}: {e}");
        assert_eq!(e.exit_code(), crate::exit::USAGE);
    }
    assert!(save(&ws, "dev", "ok", "   ", false).is_err());
    let long = "x".repeat(MAX_SQL_BYTES as usize + 1);
    assert!(save(&ws, "dev", "ok", &long, false).is_err());
    assert!(save(&ws, "nope", "ok", "SELECT 1", false).is_err());
    assert!(!ws.data_dir.join(DIR).exists());
}

#[test]
fn a_bad_file_is_a_clear_error_and_is_left_as_it_was() {
    let (_d, ws) = ws();
    let p = path(&ws, "dev").unwrap();
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    for (content, says) in [
        (&b"not json"[..], "not a saved-queries file"),
        (br#"{"version":2,"queries":[]}"#, "version 2"),
        (br#"{"version":1,"queries":[],"extra":1}"#, "unknown field"),
        (br#"{"version":1,"queries":[{"name":"a/b","sql":"SELECT 1","saved_at":""}]}"#, "invalid name"),
        (br#"{"version":1,"queries":[{"name":"a","sql":"","saved_at":""}]}"#, "no SQL"),
        (
            br#"{"version":1,"queries":[{"name":"a","sql":"SELECT 1","saved_at":""},{"name":"A","sql":"SELECT 2","saved_at":""}]}"#,
            "twice",
        ),
    ] {
        std::fs::write(&p, content).unwrap();
        let e = list(&ws, "dev").unwrap_err();
        assert!(matches!(e, Error::SavedQueries { .. }), "{e}");
        assert!(e.to_string().contains(says), "{e}");
        let e = save(&ws, "dev", "new", "SELECT 1", false).unwrap_err();
        assert!(matches!(e, Error::SavedQueries { .. }), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), content, "left as it was");
    }
    // Too big: refused without reading it all.
    std::fs::write(&p, vec![b' '; MAX_FILE_BYTES as usize + 10]).unwrap();
    assert!(list(&ws, "dev")
        .unwrap_err()
        .to_string()
        .contains("larger than"));
    // Not a regular file.
    std::fs::remove_file(&p).unwrap();
    std::fs::create_dir(&p).unwrap();
    assert!(list(&ws, "dev")
        .unwrap_err()
        .to_string()
        .contains("not a regular file"));
}

#[cfg(unix)]
#[test]
fn a_symlinked_queries_dir_is_refused() {
    let (d, ws) = ws();
    let elsewhere = d.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(&ws.data_dir).unwrap();
    std::os::unix::fs::symlink(&elsewhere, ws.data_dir.join(DIR)).unwrap();
    let e = save(&ws, "dev", "x", "SELECT 1", false).unwrap_err();
    assert!(e.to_string().contains("not a plain directory"), "{e}");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn at_most_max_queries_are_kept() {
    let (_d, ws) = ws();
    for i in 0..MAX_QUERIES {
        save(&ws, "dev", &format!("q{i}"), "SELECT 1", false).unwrap();
    }
    let e = save(&ws, "dev", "one more", "SELECT 1", false).unwrap_err();
    assert!(e.to_string().contains("Delete one first"), "{e}");
    assert_eq!(list(&ws, "dev").unwrap().len(), MAX_QUERIES);
}

proptest! {
    /// The validator accepts exactly its rule, and never panics.
    #[test]
    fn name_validator_matches_its_rule(name in "\\PC{0,70}|[a-zA-Z0-9 _.,()#:+-]{0,70}") {
        let chars: Vec<char> = name.chars().collect();
        let rule = !chars.is_empty()
            && chars.len() <= MAX_NAME_CHARS
            && chars[0] != ' '
            && chars[chars.len() - 1] != ' '
            && chars.iter().all(|c| c.is_alphanumeric() || " _-.,()#:+".contains(*c));
        prop_assert_eq!(name_problem(&name).is_none(), rule, "{:?}", name);
        if rule {
            prop_assert!(!name.chars().any(char::is_control));
        }
    }

    /// Any valid name and any SQL text survive save → list unchanged.
    #[test]
    fn valid_names_and_any_sql_round_trip(
        name in "[\\p{L}\\p{N}][\\p{L}\\p{N} _.,()#:+-]{0,40}[\\p{L}\\p{N}]",
        sql in "\\PC{1,200}",
    ) {
        prop_assume!(!sql.trim().is_empty());
        let (_d, ws) = ws();
        save(&ws, "dev", &name, &sql, false).unwrap();
        let qs = list(&ws, "dev").unwrap();
        prop_assert_eq!(qs.len(), 1);
        prop_assert_eq!(&qs[0].name, &name);
        prop_assert_eq!(&qs[0].sql, &sql);
    }

    /// Arbitrary bytes as the file: a list or a clear error, never a panic.
    #[test]
    fn any_file_content_parses_or_is_refused(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse(&bytes);
    }

    /// Near-valid files (a real one with one byte changed): parsed and re-checked, or refused.
    #[test]
    fn mutated_files_are_checked_again(at in 0usize..200, byte in any::<u8>()) {
        let good = br#"{"version":1,"queries":[{"name":"Failed jobs","sql":"SELECT * FROM jobs","saved_at":"2026-01-01T00:00:00Z"}]}"#;
        let mut b = good.to_vec();
        let i = at % b.len();
        b[i] = byte;
        if let Ok(qs) = parse(&b) {
            for q in qs {
                prop_assert!(name_problem(&q.name).is_none());
                prop_assert!(!q.sql.trim().is_empty());
            }
        }
    }
}
