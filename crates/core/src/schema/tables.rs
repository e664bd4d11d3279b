//! Which tables hold the user's data and which are pipeline-db's own bookkeeping (the env tag,
//! the migration history, the job summary): the one rule every status, plan and card follows.

use serde::Serialize;

/// pipeline-db's own tables, in the order they are shown.
pub const BOOKKEEPING: [&str; 3] = [
    super::tag::META_TABLE,
    super::migrations::HISTORY_TABLE,
    super::stats::TABLE,
];

/// What a table is to the user.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    /// The platform's data (users, pipelines, jobs, and any table the tool does not know).
    Data,
    /// Kept by pipeline-db itself; its rows are not the user's data.
    Bookkeeping,
}

pub fn kind(table: &str) -> TableKind {
    match BOOKKEEPING.contains(&table) {
        true => TableKind::Bookkeeping,
        false => TableKind::Data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_three_tables_are_bookkeeping_everything_else_is_data() {
        for t in [
            "pipeline_db_meta",
            "refinery_schema_history",
            "job_daily_stats",
        ] {
            assert_eq!(kind(t), TableKind::Bookkeeping, "{t}");
        }
        for t in [
            "users",
            "pipelines",
            "jobs",
            "notes",
            "pipeline_db_metadata",
        ] {
            assert_eq!(kind(t), TableKind::Data, "{t}");
        }
    }
}
