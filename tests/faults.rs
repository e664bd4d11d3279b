//! The fault suite: proof that no action loses data. Each case runs an action many times under a
//! fault (kill -9, disk full, I/O errors, locks, permissions, corrupt inputs, concurrent writers)
//! and checks, from a fresh process, that the database is either exactly as before (OLD) or
//! exactly as after (NEW), intact, with every finished backup complete and verified.
//!
//! A libtest-style harness (libtest-mimic): every case is a trial named `group::case` (groups:
//! kill9, disk, fiu, lock, perm, corrupt, consistency, targets, migrations, restore, elsewhere).
//! Each prints one line (runs, OLD, NEW, mixed, lost); a case fails if it saw mixed or lost data.
//! The table of every case that ran follows libtest's summary.
//!
//! ```text
//! make faults                           # the whole suite (builds the debug + release CLI first)
//! make faults FAULTS=kill9::            # FAULTS is passed to the harness: a filter, or flags
//! make faults FAULTS=--list             # every case, e.g. `kill9::during_reset: test`
//! make faults FAULTS="--exact lock::two_resets_at_once"
//! PIPELINE_DB_FAULT_RUNS=3 make faults  # a quick smoke run
//! cargo test -p pipeline-db-cli -p pipeline-db-e2e --features pipeline-db-cli/failpoints \
//!     --test faults -- kill9            # the same by hand (`kill9` also matches restore's kill -9)
//! ```
//!
//! Run counts: `PIPELINE_DB_FAULT_RUNS=N` (default 50, what CI runs) is the number of runs of the
//! kill -9 cases, the largest; every other case scales in proportion, rounded up, at least once:
//! a case that runs `d` times by default runs `ceil(d * N / 50)` times (N = 3: kill -9 3 times,
//! libfiu 2 times per probability, a 5-run case once; N = 100 doubles everything). The kill -9
//! cases with a named failpoint abort there in half their runs (rounded up) and kill at random in
//! the others; two resets at once runs at least twice (one patient, one impatient). Cases that
//! try a fixed list of inputs (corrupt files, odd names, tampered migrations, size limits) always
//! try all of them. The count is `faultlib::runs`.
//!
//! Cases run one at a time (they time kills and fill disks; `--test-threads` overrides that).
//! The `kill9::during_seed_200k` case runs the release binary: `cargo build --release -p
//! pipeline-db-cli` first (`make faults` and `make test` do). Some cases need root (tmpfs mounts,
//! setpriv) or `fiu-run`; CI runs as root with fiu-utils. Without them those cases are reported as
//! ignored, with the reason, and listed as not run in the table — never as passed.

mod faultlib;

use std::process::ExitCode;

use faultlib::*;
use libtest_mimic::{Arguments, Failed, FormatSetting, Trial};

/// A group of cases: its name (the trials' prefix) and its cases.
type Group = (&'static str, fn() -> Vec<Case>);

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    let runs = match fault_runs() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // One case at a time unless asked otherwise: the cases time kills and fill disks.
    args.test_threads.get_or_insert(1);
    let inline = args.test_threads == Some(1)
        && !args.quiet
        && matches!(args.format, None | Some(FormatSetting::Pretty));
    #[allow(unused_mut)]
    let mut groups: Vec<Group> = vec![
        ("kill9", kill9::cases),
        ("disk", disk::cases),
        ("fiu", fiu::cases),
        ("lock", lock::cases),
        ("corrupt", corrupt::cases),
        ("consistency", consistency::cases),
        ("targets", targets::cases),
        ("migrations", migrations::cases),
        ("restore", restore::cases),
        ("elsewhere", elsewhere::cases),
    ];
    // setpriv (util-linux) switches to an unprivileged uid: Linux only.
    #[cfg(target_os = "linux")]
    groups.insert(4, ("perm", perm::cases));
    let mut trials = vec![];
    for (group, cases) in groups {
        for case in cases() {
            let name = format!("{group}::{}", case.name);
            let id = name.clone();
            trials.push(Trial::ignorable_test(name, move || {
                let mut report = Report::default();
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    (case.run)(&mut report)
                }));
                match run {
                    Ok(()) => report.conclude(inline),
                    Err(panic) => {
                        let msg = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "panicked".into());
                        Report::broke(&id, &msg);
                        Err(Failed::from(format!("panicked: {msg}")))
                    }
                }
            }));
        }
    }
    if !args.list {
        // assert_cmd panics when the binary is missing: say what to build instead.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let built = std::panic::catch_unwind(bin).is_ok_and(|p| p.exists());
        std::panic::set_hook(hook);
        if !built {
            eprintln!(
                "error: the pipeline-db binary is missing: `cargo build -p pipeline-db-cli \
                 --features failpoints` first (`make faults` does)"
            );
            return ExitCode::from(2);
        }
        println!("fault suite: {RUNS_VAR}={runs} (default {DEFAULT_RUNS}, what CI runs)");
    }
    let conclusion = libtest_mimic::run(&args, trials);
    let lost = !args.list && Report::print_table();
    if conclusion.has_failed() || lost {
        ExitCode::from(101)
    } else {
        ExitCode::SUCCESS
    }
}
