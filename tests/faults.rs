//! The fault suite: proof that no action loses data. Each case runs an action many times under a
//! fault (kill -9, disk full, I/O errors, locks, permissions, corrupt inputs, concurrent writers)
//! and checks, from a fresh process, that the database is either exactly as before (OLD) or
//! exactly as after (NEW), intact, with every finished backup complete and verified.
//! Prints one line per case and a final table; exits non-zero if any case saw mixed or lost data.
//!
//! Run: `cargo test -p pipeline-db-e2e --features pipeline-db-cli/failpoints --test faults`
//! Some cases need root (tmpfs mounts, setpriv); CI runs as root. Without root they are reported
//! as not run — never as passed.

mod faultlib;

use faultlib::*;

fn main() {
    let filter = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let mut report = Report::default();
    type Case = (&'static str, fn(&mut Report));
    let cases: Vec<Case> = vec![
        ("kill9", kill9::all),
        ("disk", disk::all),
        ("fiu", fiu::all),
        ("lock", lock::all),
        ("perm", perm::all),
        ("corrupt", corrupt::all),
        ("consistency", consistency::all),
        ("targets", targets::all),
        ("migrations", migrations::all),
        ("restore", restore::all),
    ];
    for (name, f) in cases {
        if filter.as_deref().is_none_or(|x| name.contains(x)) {
            f(&mut report);
        }
    }
    std::process::exit(report.finish());
}
