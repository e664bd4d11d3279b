//! Case 5: read-only directory and read-only file, as an unprivileged uid (root ignores modes):
//! refused in preflight, before any backup or write.

use std::os::unix::fs::{chown, PermissionsExt};

use super::*;

pub fn cases() -> Vec<Case> {
    let template = Shared::new(|| seeded_template(200));
    let t2 = template.clone();
    vec![
        Case::new("read_only_dir", move |r| {
            case(r, &template, "read-only directory", 0o555, 0o644)
        }),
        Case::new("read_only_file", move |r| {
            case(r, &t2, "read-only database file", 0o755, 0o444)
        }),
    ]
}

fn case(
    r: &mut Report,
    template: &Shared<tempfile::TempDir>,
    name: &str,
    dir_mode: u32,
    file_mode: u32,
) {
    if !is_root() || Command::new("setpriv").arg("--help").output().is_err() {
        r.not_run(name, "needs root and setpriv to switch to uid 65534");
        return;
    }
    let template = template.get();
    let old = fingerprint(&db(template.path())).unwrap();
    let mut t = Tally::default();
    for _ in 0..runs(3) {
        let outer = tempfile::tempdir().unwrap();
        std::fs::set_permissions(outer.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = outer.path().join("data");
        copy_tree(template.path(), &data);
        for p in files_under(&data) {
            chown(&p, Some(65534), Some(65534)).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        std::fs::set_permissions(db(&data), std::fs::Permissions::from_mode(file_mode)).unwrap();
        for d in [data.join("backups/dev"), data.join("backups"), data.clone()] {
            if d.exists() {
                chown(&d, Some(65534), Some(65534)).unwrap();
                std::fs::set_permissions(&d, std::fs::Permissions::from_mode(dir_mode)).unwrap();
            }
        }
        let before = files_under(&data);
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin())
            .arg("--data-dir")
            .arg(&data)
            .args(["reset", "dev", "--force"])
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = stderr(&out);
        if out.status.code() != Some(3) || !err.contains("read-only") {
            t.fail(format!(
                "expected a read-only refusal (exit 3), got {:?}: {err}",
                out.status.code()
            ));
        }
        if files_under(&data) != before {
            t.fail("files appeared or vanished");
        }
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(db(&data), std::fs::Permissions::from_mode(0o644)).unwrap();
        judge(&mut t, &data, &old, &old, true);
    }
    r.add(name, t);
}
