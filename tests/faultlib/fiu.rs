//! Case 3: random I/O errors injected with libfiu (`fiu-run -x`, Debian fiu-utils) into reset at
//! three probabilities: every run ends OLD or NEW with a clear error, never a panic or a crash.

use super::*;

const RESET: [&str; 10] = [
    "reset",
    "dev",
    "--force",
    "--with-sample-data",
    "--jobs",
    "1500",
    "--rng-seed",
    "9",
    "--as-of",
    AS_OF,
];

/// The template, OLD and NEW, shared by the three probabilities.
type Fixture = (tempfile::TempDir, Fp, Fp);

pub fn cases() -> Vec<Case> {
    let fixture: Arc<Shared<Fixture>> = Shared::new(|| {
        let template = seeded_template(1000);
        let old = fingerprint(&db(template.path())).unwrap();
        let (new, _) = new_state(template.path(), &RESET);
        (template, old, new)
    });
    [
        ("p0.0005", "0.0005"),
        ("p0.005", "0.005"),
        ("p0.05", "0.05"),
    ]
    .into_iter()
    .map(|(name, p)| {
        let f = fixture.clone();
        Case::new(name, move |r| case(r, &f, p))
    })
    .collect()
}

fn case(r: &mut Report, fixture: &Shared<Fixture>, p: &str) {
    let name = format!("random I/O errors (libfiu) p={p}");
    if Command::new("fiu-run").arg("-h").output().is_err() {
        r.not_run(&name, "fiu-run not installed (apt-get install fiu-utils)");
        return;
    }
    let (template, old, new) = fixture.get();
    let mut t = Tally::default();
    for _ in 0..runs(20) {
        let d = fresh_copy(template.path());
        let audit = std::fs::metadata(d.path().join("audit.jsonl")).map_or(0, |m| m.len());
        let out = Command::new("fiu-run")
            .args([
                "-x",
                "-c",
                &format!("enable_random name=posix/io/*,probability={p}"),
            ])
            .arg(bin())
            .arg("--data-dir")
            .arg(d.path())
            .args(RESET)
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = stderr(&out);
        match out.status.code() {
            // libfiu can fail the Rust runtime's own check of fds 0-2 (poll/fcntl), which
            // aborts before `main`: none of our code ran (no output, no audit line), and
            // `judge` below still requires the database to be exactly OLD.
            None if aborted_before_main(&out, d.path(), audit) => {}
            None => t.fail(format!("killed by a signal: {:?} {err}", out.status)),
            Some(101) => t.fail(format!("panicked: {err}")),
            Some(0) => {}
            Some(_) if !err.contains("error:") => {
                t.fail(format!("failed without a clear error: {err}"))
            }
            Some(_) => {}
        }
        judge(&mut t, d.path(), old, new, true);
    }
    r.add(&name, t);
}

/// SIGABRT with nothing written — not to stderr, not to the audit log (which every run of ours
/// appends to, refusals and failures included).
fn aborted_before_main(out: &std::process::Output, data: &Path, audit_before: u64) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let audit_now = std::fs::metadata(data.join("audit.jsonl")).map_or(0, |m| m.len());
    out.status.signal() == Some(6) // SIGABRT
        && out.stdout.is_empty()
        && out.stderr.is_empty()
        && audit_now == audit_before
}
