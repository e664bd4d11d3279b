//! What a pipeline-db database holds: the embedded migrations, the env tag, the job summary
//! table, which tables are bookkeeping, and realistic sample data.

pub mod migrations;
pub mod sample;
pub mod stats;
pub mod tables;
pub mod tag;
