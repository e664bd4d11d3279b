//! End-to-end tests of the `pipeline-db` CLI, in one test binary: the real binary on real files in
//! a private data dir per test. `make check` runs them; by hand, after `cargo build -p
//! pipeline-db-cli --features failpoints`: `cargo test -p pipeline-db-cli -p pipeline-db-e2e
//! --features pipeline-db-cli/failpoints --test cli [FILTER]` (e.g. `backups::`).

mod backups;
mod first_impressions;
mod one_path;
mod settings;
mod untrusted;
mod verbs;
mod workbench;
