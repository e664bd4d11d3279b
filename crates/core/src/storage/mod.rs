//! Storage: files and connections — headers, opening, fsync and no-overwrite renames, hashing,
//! fingerprints, timestamps, step timings and test-only failpoints. Knows nothing of envs.

pub(crate) mod check_constraints;
pub(crate) mod db;
pub(crate) mod failpoint;
pub mod fingerprint;
pub mod flush_behind;
pub mod fs;
pub mod hash;
pub mod held_open;
pub mod os;
pub(crate) mod sql_tokens;
pub mod temp;
pub mod text;
pub mod time;
pub mod timing;
