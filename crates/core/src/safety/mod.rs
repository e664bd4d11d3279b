//! The safety protocol: env lock, the ordered opening of a database for a change, health checks,
//! free space, confirmation, the audit log, and the change ritual every changing verb runs.

pub mod audit;
pub mod confirm;
pub(crate) mod health;
pub mod lock;
pub mod plan;
pub mod retention;
pub(crate) mod ritual;
pub(crate) mod session;
pub mod space;
pub(crate) mod watch;
