//! Case 6: corrupt inputs — truncated to half, garbled page 2, bad header, random bytes, 0/1/99-byte
//! files: refused by every changing verb but reset, left byte-for-byte unchanged; `check` keeps a
//! byte-identical evidence copy of a corrupt database; `reset --confirm-env dev` (the way out when
//! there is no backup; `--force` alone is refused) keeps a byte-identical evidence copy, then builds a sound new database.

use super::*;

pub fn cases() -> Vec<Case> {
    vec![Case::new("inputs", inputs)]
}

fn inputs(r: &mut Report) {
    let template = seeded_template(3000);
    let good = std::fs::read(db(template.path())).unwrap();
    let page: usize = 4096;
    let mut garbled = good.clone();
    for b in &mut garbled[page..2 * page] {
        *b = 0x5A;
    }
    let mut bad_header = good.clone();
    bad_header[..16].copy_from_slice(b"SQLite format 4\0");
    let random: Vec<u8> = (0..good.len() as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let inputs: Vec<(&str, Vec<u8>, bool)> = vec![
        ("truncated to half", good[..good.len() / 2].to_vec(), true),
        ("garbled page 2", garbled, true),
        ("bad header", bad_header, false),
        ("random bytes", random, false),
        ("0-byte file", vec![], false),
        ("1-byte file", vec![b'S'], false),
        ("99-byte file", good[..99].to_vec(), false),
    ];
    let verbs: [&[&str]; 4] = [
        &["migrate", "dev", "--force"],
        &["seed", "dev"],
        &["backup", "dev"],
        &["env", "set", "dev", "--force"],
    ];
    let mut t = Tally::default();
    for (name, bytes, has_header) in inputs {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(db(d.path()), &bytes).unwrap();
        for v in verbs {
            t.runs += 1;
            let o = run(d.path(), v);
            if o.status.code() != Some(5) {
                t.fail(format!(
                    "{name}: {v:?} exited {:?}, expected 5: {}",
                    o.status.code(),
                    stderr(&o)
                ));
            } else {
                t.old += 1;
            }
            if std::fs::read(db(d.path())).unwrap() != bytes {
                t.fail(format!("{name}: {v:?} changed the file"));
                t.lost_rows += 1;
            }
        }
        if !check_backups(&mut t, d.path()).is_empty() {
            t.fail(format!("{name}: a backup was taken of a corrupt file"));
        }
        // `check` keeps evidence of a corrupt database (when the verb exists in this build).
        let o = run(d.path(), &["check", "dev"]);
        if has_header && o.status.code() != Some(2) {
            t.runs += 1;
            if o.status.code() != Some(5) {
                t.fail(format!(
                    "{name}: check exited {:?}: {}",
                    o.status.code(),
                    stderr(&o)
                ));
            }
            let evidence: Vec<_> = files_under(d.path())
                .into_iter()
                .filter(|p| p.to_string_lossy().contains(".corrupt-"))
                .filter(|p| {
                    !p.to_string_lossy().ends_with("-wal") && !p.to_string_lossy().ends_with("-shm")
                })
                .collect();
            match evidence.as_slice() {
                [e] if std::fs::read(e).unwrap() == bytes => t.old += 1,
                other => t.fail(format!(
                    "{name}: evidence copies {other:?} are not one byte-identical copy"
                )),
            }
            if std::fs::read(db(d.path())).unwrap() != bytes {
                t.fail(format!("{name}: check changed the file"));
            }
        }
        reset_keeps_evidence(&mut t, d.path(), name, &bytes);
    }
    r.add("corrupt inputs (7 kinds x 4 verbs, + check, + reset)", t);
}

/// `reset --force` of a damaged file: exit 0, a byte-identical evidence copy, a sound database, no
/// backup (none can be taken of a damaged file).
fn reset_keeps_evidence(t: &mut Tally, dir: &Path, name: &str, bytes: &[u8]) {
    t.runs += 1;
    let o = run(dir, &["reset", "dev", "--confirm-env", "dev"]);
    if !o.status.success() {
        t.fail(format!(
            "{name}: reset exited {:?}: {}",
            o.status.code(),
            stderr(&o)
        ));
        return;
    }
    // The copy the reset names (one `check` kept of these very bytes is its evidence too: the
    // same bytes are kept once) must be there, byte for byte.
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let kept = evidence_files(dir).into_iter().any(|p| {
        out.contains(&format!("evidence: {}", p.display())) && std::fs::read(&p).unwrap() == bytes
    });
    if !kept {
        t.fail(format!(
            "{name}: reset kept no byte-identical evidence copy"
        ));
        t.lost_rows += 1;
        return;
    }
    if run(dir, &["check", "dev"]).status.code() != Some(0) {
        t.fail(format!("{name}: the rebuilt database does not pass check"));
        return;
    }
    t.new += 1;
}

fn evidence_files(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".corrupt-"))
        .filter(|p| {
            !p.to_string_lossy().ends_with("-wal") && !p.to_string_lossy().ends_with("-shm")
        })
        .collect()
}
