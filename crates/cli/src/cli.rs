//! The command-line interface: clap types only. Each `///` is the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Reset, migrate, seed, back up and inspect the per-environment SQLite databases of the pipeline
/// platform. Every destructive step is preceded by a verified backup.
#[derive(Debug, Parser)]
#[command(
    name = "pipeline-db",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Data directory (default: the platform data dir, e.g. ~/.local/share/pipeline-db)
    #[arg(
        long,
        global = true,
        env = "PIPELINE_DB_HOME",
        value_name = "DIR",
        help_heading = "Global options"
    )]
    pub data_dir: Option<PathBuf>,
    /// Config file (default: <data dir>/pipeline-db.toml)
    #[arg(
        long,
        global = true,
        env = "PIPELINE_DB_CONFIG",
        value_name = "FILE",
        help_heading = "Global options"
    )]
    pub config: Option<PathBuf>,
    /// How long to wait for a database another process is using, in milliseconds (default 5000)
    #[arg(
        long,
        global = true,
        value_name = "MS",
        help_heading = "Global options"
    )]
    pub busy_timeout_ms: Option<u64>,
    /// More log output on stderr (-v info, -vv debug); RUST_LOG also works
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Global options")]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Drop everything in ENV's database and rebuild it from the migrations (verified backup first)
    #[command(
        after_help = "Examples:\n  pipeline-db reset dev --with-sample-data\n  pipeline-db reset dev --dry-run --json\n  pipeline-db reset prod --confirm-env prod"
    )]
    Reset(ResetArgs),
    /// Apply pending migrations to ENV (creates and tags the file if missing)
    #[command(
        after_help = "Examples:\n  pipeline-db migrate test\n  pipeline-db migrate prod --dry-run"
    )]
    Migrate(MigrateArgs),
    /// Inspect or create migrations
    #[command(subcommand)]
    Migrations(MigrationsCmd),
    /// Add realistic sample data to ENV (never to protected envs)
    #[command(
        after_help = "Examples:\n  pipeline-db seed dev --jobs 1000000\n  pipeline-db seed dev --rng-seed 7 --as-of 2026-01-31"
    )]
    Seed(SeedArgs),
    /// Show every environment (or one): file, tag, schema, rows, backups
    #[command(after_help = "Examples:\n  pipeline-db status\n  pipeline-db status prod --json")]
    Status(StatusArgs),
    /// Take a verified backup of ENV now
    #[command(
        after_help = "Examples:\n  pipeline-db backup dev --label before-demo\n  pipeline-db backup prod --output /media/usb/prod.sqlite3"
    )]
    Backup(BackupArgs),
    /// Inspect backups
    #[command(subcommand)]
    Backups(BackupsCmd),
    /// Manage environments: add an existing database file, remove, repoint, retag
    #[command(subcommand)]
    Env(EnvCmd),
    /// Show or change the config file (data dir, envs, retention, busy timeout)
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Show the audit log
    #[command(after_help = "Examples:\n  pipeline-db log --env prod --limit 20")]
    Log(LogArgs),
    /// Replace ENV's database with a verified backup (the current one is backed up first)
    #[command(
        after_help = "Examples:\n  pipeline-db backups list dev\n  pipeline-db restore dev 20261126T121500123Z-pre-reset.sqlite3"
    )]
    Restore(RestoreArgs),
    /// Restore the pre-action backup of the last destructive action on ENV
    #[command(after_help = "Examples:\n  pipeline-db undo dev --dry-run\n  pipeline-db undo dev")]
    Undo(UndoArgs),
    /// Check ENV's database: header, integrity, foreign keys, drift, tag, migrations, backups
    #[command(after_help = "Examples:\n  pipeline-db check prod\n  pipeline-db check dev --json")]
    Check(CheckArgs),
    /// Run one read-only SQL statement on ENV (writes, ATTACH, PRAGMAs that set, extensions are
    /// refused with exit 3; a time limit and a row cap apply)
    Query(QueryArgs),
    /// Write a table or a query's rows as CSV, JSON or NDJSON to stdout or a new file (never
    /// overwritten)
    Export(ExportArgs),
    /// Add rows from a CSV or NDJSON file to users, pipelines or jobs: plan, confirmation,
    /// verified backup, one transaction; one bad row refuses the whole file
    Import(ImportArgs),
    /// Print the shell completion script for SHELL on stdout (the packages install them)
    #[command(after_help = "Examples:\n  \
        pipeline-db completions bash > ~/.local/share/bash-completion/completions/pipeline-db\n  \
        pipeline-db completions zsh > ~/.zfunc/_pipeline-db\n  \
        pipeline-db completions fish > ~/.config/fish/completions/pipeline-db.fish")]
    Completions(CompletionsArgs),
    /// Write the man pages (pipeline-db.1 and one per command) into DIR; used by `make package`
    #[command(hide = true)]
    Manpages(ManpagesArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManpagesArgs {
    /// Directory to write the pages into (created if missing)
    pub dir: PathBuf,
}

/// How query results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueryFormat {
    /// Columns fitted to the terminal (long cells cut with …)
    Table,
    Csv,
    Json,
    Ndjson,
}

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// RFC 4180, header first; NULL is an empty unquoted field, "" an empty string
    Csv,
    /// One array of objects; types kept, JSON columns nested
    Json,
    /// One object per line
    Ndjson,
}

/// What an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    Csv,
    Ndjson,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    pub env: String,
    /// One SELECT (WITH, EXPLAIN and read-only PRAGMAs such as table_info also work)
    pub sql: String,
    #[arg(long, value_enum, default_value = "table")]
    pub format: QueryFormat,
    /// Return at most N rows (a notice says when more existed); at most 100000
    #[arg(long, value_name = "N", default_value_t = pipeline_db_core::workbench::query::DEFAULT_MAX_ROWS)]
    pub max_rows: u64,
    /// Stop the query after MS milliseconds (1 to 600000)
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub timeout_ms: u64,
    /// CSV for a spreadsheet: text beginning with = + - @ (which Excel or LibreOffice would run as
    /// a formula) is written after a '
    #[arg(long)]
    pub escape_formulas: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    pub env: String,
    /// The table to export (every row, in rowid order)
    #[arg(required_unless_present = "query", conflicts_with = "query")]
    pub table: Option<String>,
    /// Export the rows of this read-only query instead of a table
    #[arg(long, value_name = "SQL")]
    pub query: Option<String>,
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Write to this new file (never overwritten); default: stdout
    #[arg(long, value_name = "PATH")]
    pub output: Option<std::path::PathBuf>,
    /// Stop a --query export after MS milliseconds (default 600000; 1 to 86400000, a day)
    #[arg(long, value_name = "MS", requires = "query", value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub timeout_ms: Option<u64>,
    /// With --output: print the outcome as JSON
    #[arg(long, requires = "output")]
    pub json: bool,
    /// CSV for a spreadsheet: text beginning with = + - @ (which Excel or LibreOffice would run as
    /// a formula) is written after a ' — the file then no longer imports back byte for byte
    #[arg(long)]
    pub escape_formulas: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    pub env: String,
    /// users, pipelines or jobs
    pub table: String,
    /// A CSV file with a header line, or NDJSON (one object per line)
    pub file: std::path::PathBuf,
    /// Default: from the file's extension (.csv, .ndjson, .jsonl)
    #[arg(long, value_enum)]
    pub format: Option<ImportFormat>,
    #[command(flatten)]
    pub confirm: ConfirmArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
}

/// Confirmation flags shared by destructive verbs.
#[derive(Debug, Args, Clone, Default)]
pub struct ConfirmArgs {
    /// Do not ask (dev/test). Protected envs also need --confirm-env
    #[arg(long)]
    pub force: bool,
    /// Name the env again to confirm a change to a protected env without a prompt
    #[arg(long, value_name = "NAME")]
    pub confirm_env: Option<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct PlanArgs {
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Machine-readable output on stdout (the plan with --dry-run, else the outcome)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Environment (dev, test, prod, or one from the config)
    pub env: String,
    #[command(flatten)]
    pub confirm: ConfirmArgs,
    /// Insert sample data after the reset (never on protected envs)
    #[arg(long)]
    pub with_sample_data: bool,
    /// Also check what a restore checks (CHECK constraints, foreign keys): a database that
    /// breaks them is kept as a byte-identical evidence copy instead of a backup, then rebuilt
    /// (needs the env name typed)
    #[arg(long)]
    pub keep_evidence: bool,
    #[command(flatten)]
    pub seed: SeedSizeArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Environment: dev, test, prod, or one the config adds (`pipeline-db config show`)
    pub env: String,
    #[command(flatten)]
    pub confirm: ConfirmArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Subcommand)]
pub enum MigrationsCmd {
    /// Applied, pending and divergent migrations, with checksums
    List {
        /// Environment: dev, test, prod, or one the config adds (`pipeline-db config show`)
        env: Option<String>,
        /// Machine-readable output on stdout (JSON; errors too, as {"error": {...}})
        #[arg(long)]
        json: bool,
    },
    /// Create the next V<n>__<name>.sql with a header (like `alembic revision -m`); for the
    /// project's developers: it is applied only after pipeline-db is rebuilt
    New {
        name: String,
        /// Migrations directory
        #[arg(long, default_value = "migrations")]
        dir: PathBuf,
    },
    /// Compare the live schema with what the migrations produce; exit 1 on drift
    Check {
        /// Environment: dev, test, prod, or one the config adds (`pipeline-db config show`)
        env: String,
        /// Machine-readable output on stdout (JSON; errors too, as {"error": {...}})
        #[arg(long)]
        json: bool,
    },
    /// Re-record checksums of applied migrations that differ only in line endings/BOM/whitespace,
    /// and rebuild the job summary table if it differs from the jobs (verified backup first)
    Repair {
        /// Environment: dev, test, prod, or one the config adds (`pipeline-db config show`)
        env: String,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        plan: PlanArgs,
    },
}

#[derive(Debug, Args, Clone)]
pub struct SeedSizeArgs {
    /// Users to create (the first six are the documented demo accounts)
    #[arg(long, default_value_t = 6)]
    pub users: u32,
    /// Pipelines to create (real nf-core pipelines)
    #[arg(long, default_value_t = 20)]
    pub pipelines: u32,
    /// Jobs to create, spread over the last 90 days
    #[arg(long, default_value_t = 500)]
    pub jobs: u64,
    /// Seed of the generator: the same seed gives the same data
    #[arg(long, default_value_t = 42)]
    pub rng_seed: u64,
    /// Spread the jobs over the 90 days before this moment (YYYY-MM-DD[THH:MM:SSZ]); default now
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Environment: dev, test, prod, or one the config adds (`pipeline-db config show`)
    pub env: String,
    #[command(flatten)]
    pub size: SeedSizeArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Environment: dev, test, prod, or one the config adds (`pipeline-db config show`)
    pub env: Option<String>,
    /// Machine-readable output on stdout (JSON; errors too, as {"error": {...}})
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Environment: dev, test, prod, or one the config adds (`pipeline-db config show`)
    pub env: String,
    /// Export to this file (e.g. on a USB stick); never overwrites
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// A note stored in the backup's manifest
    #[arg(long)]
    pub label: Option<String>,
    /// Machine-readable output on stdout (JSON; errors too, as {"error": {...}})
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum BackupsCmd {
    /// Backups per env: time, reason, size, trust state (verified, re-verified, FAILED), disk use,
    /// which one `undo` would restore (labels and checksums with --json)
    List {
        /// Environment: dev, test, prod, or one the config adds (`pipeline-db config show`)
        env: Option<String>,
        /// Machine-readable output on stdout (JSON; errors too, as {"error": {...}})
        #[arg(long)]
        json: bool,
    },
    /// Verify a backup and print what was checked (header, schema, sha256 + quick_check, or
    /// without a manifest integrity_check with CHECK constraints on a private copy; foreign keys);
    /// exit 1 if any fails
    Verify {
        /// Backup name (in an env's backup dir) or path
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        name: Option<String>,
        /// Verify every backup (of --env, or of all envs)
        #[arg(long)]
        all: bool,
        #[arg(long, requires = "all")]
        env: Option<String>,
        /// Machine-readable output on stdout (JSON; errors too, as {"error": {...}})
        #[arg(long)]
        json: bool,
    },
    /// Pin a backup: retention and prune never delete it
    Pin {
        /// Environment: dev, test, prod, or one the config adds (`pipeline-db config show`)
        env: String,
        /// Backup name (see `backups list`)
        name: String,
        /// Machine-readable output on stdout (JSON; errors too, as {"error": {...}})
        #[arg(long)]
        json: bool,
    },
    /// Unpin a backup: retention may delete it again
    Unpin {
        /// Environment: dev, test, prod, or one the config adds (`pipeline-db config show`)
        env: String,
        /// Backup name (see `backups list`)
        name: String,
        /// Machine-readable output on stdout (JSON; errors too, as {"error": {...}})
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
    /// Delete old backups by the retention rules (never the newest verified one, undo's, a pinned
    /// one); the same rules run on their own after every backup
    Prune {
        /// Environment: dev, test, prod, or one the config adds (`pipeline-db config show`)
        env: Option<String>,
        /// Keep this many backups per env, 1 to 1000 (default: the config's retention.keep)
        #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000))]
        keep: Option<usize>,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        plan: PlanArgs,
    },
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Environment: dev, test, prod, or one the config adds (`pipeline-db config show`)
    pub env: String,
    /// Backup name (in ENV's backup dir, see `backups list`) or a path to a backup file
    pub backup: String,
    #[command(flatten)]
    pub confirm: ConfirmArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// Environment: dev, test, prod, or one the config adds (`pipeline-db config show`)
    pub env: String,
    #[command(flatten)]
    pub confirm: ConfirmArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Environment: dev, test, prod, or one the config adds (`pipeline-db config show`)
    pub env: String,
    /// Machine-readable output on stdout (JSON; errors too, as {"error": {...}})
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum EnvCmd {
    /// Tag ENV's database file as ENV (after confirmation and a verified backup)
    Set {
        /// Environment: dev, test, prod, or one the config adds (`pipeline-db config show`)
        env: String,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        plan: PlanArgs,
    },
    /// Add an existing SQLite file as a new environment NAME. The file is only read: header,
    /// application id and env tag are checked; an untagged file must then be tagged with `env set`
    Add {
        name: String,
        /// The database file (stored in the config as an absolute path)
        path: PathBuf,
        /// Protect the env (typed confirmation for every change, never seeded); prod always is
        #[arg(long)]
        protected: bool,
        #[command(flatten)]
        plan: PlanArgs,
    },
    /// Remove an added env from the config; its database file and backups are left in place
    Remove {
        name: String,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        plan: PlanArgs,
    },
    /// Point ENV at another database file (checked like `env add`; a missing file is created by
    /// `migrate`), or back to the default <data dir>/ENV.sqlite3 with --default
    Path {
        /// Environment: dev, test, prod, or one the config adds (`pipeline-db config show`)
        env: String,
        #[arg(required_unless_present = "default", conflicts_with = "default")]
        path: Option<PathBuf>,
        /// Back to the default file in the data dir
        #[arg(long)]
        default: bool,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        plan: PlanArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Data dir, config file, envs with their files, retention and busy timeout
    Show {
        /// Machine-readable output on stdout (JSON; errors too, as {"error": {...}})
        #[arg(long)]
        json: bool,
    },
    /// Change one setting in the config file (comments and other keys are kept)
    #[command(subcommand)]
    Set(ConfigSetCmd),
}

#[derive(Debug, Subcommand)]
pub enum ConfigSetCmd {
    /// Backups kept per env by `backups prune` (1 to 1000), optionally a disk bound per env
    Retention {
        keep: usize,
        /// Upper bound on one env's backups in MiB (0 = no bound)
        #[arg(long, value_name = "MIB")]
        max_total_mib: Option<u64>,
        #[command(flatten)]
        confirm: ConfirmArgs,
        #[command(flatten)]
        plan: PlanArgs,
    },
    /// How long to wait for a database another process is using, in milliseconds (0 to 600000)
    BusyTimeout {
        ms: u64,
        #[command(flatten)]
        plan: PlanArgs,
    },
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only this env's entries
    #[arg(long)]
    pub env: Option<String>,
    /// Show only the last N entries (at least 1)
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub limit: Option<usize>,
    /// Machine-readable output on stdout (JSON; errors too, as {"error": {...}})
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
