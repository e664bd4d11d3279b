//! What a pipeline-db database holds: the embedded migrations, the env tag, the job summary
//! table, and realistic sample data.

pub mod migrations;
pub mod sample;
pub mod stats;
pub mod tag;
