//! `pipeline-db-bench`: measures the release `pipeline-db` CLI side by side with SQLite's and the
//! OS's own limits, in one run on one machine, prints `measure | ours | reference | ratio | goal`
//! and appends it with the machine's details to `bench/results.md` (see issue 5 and README).
//!
//! `--quick`: 10k jobs only (CI proves the benchmark still works; nothing asserts on time).

mod chart;
mod desktop;
mod measures;
mod proc;
mod reference;
mod report;
mod workbench;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Command-line options (no clap: four flags).
struct Args {
    quick: bool,
    sizes: Vec<u64>,
    cli: PathBuf,
    desktop: PathBuf,
    results: PathBuf,
    chart: PathBuf,
    scratch: Option<PathBuf>,
    append: bool,
    /// `--queries DIR`: only the desktop query rows, on DIR/dev.sqlite3 (read-only).
    queries: Option<PathBuf>,
}

const HELP: &str = "pipeline-db-bench [--quick] [--sizes 10000,100000,1000000] [--cli PATH]
    [--desktop PATH] [--results bench/results.md] [--chart bench/seed.svg] [--scratch DIR] [--no-append]
pipeline-db-bench --queries DATA_DIR   (only the desktop query rows, on DATA_DIR/dev.sqlite3, read-only)";

fn parse_args() -> Result<Args> {
    let root = workspace_root();
    let mut a = Args {
        quick: false,
        sizes: vec![10_000, 100_000, 1_000_000],
        cli: root.join("target/release/pipeline-db"),
        desktop: root.join("target/release/pipeline-db-desktop"),
        results: root.join("bench/results.md"),
        chart: root.join("bench/seed.svg"),
        scratch: None,
        append: true,
        queries: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--quick" => a.quick = true,
            "--sizes" => {
                a.sizes = value()?
                    .split(',')
                    .map(|s| s.trim().parse::<u64>())
                    .collect::<Result<_, _>>()
                    .context("--sizes: comma-separated job counts")?
            }
            "--cli" => a.cli = value()?.into(),
            "--desktop" => a.desktop = value()?.into(),
            "--results" => a.results = value()?.into(),
            "--chart" => a.chart = value()?.into(),
            "--scratch" => a.scratch = Some(value()?.into()),
            "--no-append" => a.append = false,
            "--queries" => a.queries = Some(value()?.into()),
            "-h" | "--help" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{HELP}"),
        }
    }
    if a.quick {
        a.sizes = vec![10_000];
    }
    if a.sizes.is_empty() || a.sizes.contains(&0) {
        bail!("--sizes needs at least one positive job count");
    }
    a.sizes.sort_unstable();
    Ok(a)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("."))
}

/// A scratch directory removed at the end (also on error).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The desktop query rows alone, on an existing database (nothing written or appended).
fn queries_only(home: &Path) -> Result<()> {
    let db = home.join("dev.sqlite3");
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("opening {}", db.display()))?;
    let n: i64 = conn.query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))?;
    drop(conn);
    let rows = desktop::rows(home, n as u64)?;
    println!("{}", report::markdown(&rows));
    Ok(())
}

fn main() -> Result<()> {
    let args = parse_args()?;
    if let Some(home) = &args.queries {
        return queries_only(home);
    }
    if !args.cli.is_file() {
        bail!(
            "{} not found: build it first with `cargo build --release -p pipeline-db-cli` (or `make bench`)",
            args.cli.display()
        );
    }
    let base = args.scratch.clone().unwrap_or_else(std::env::temp_dir);
    let scratch = Scratch(base.join(format!("pipeline-db-bench-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0)?;
    let mode = if args.quick { "quick" } else { "full" };
    eprintln!(
        "pipeline-db-bench ({mode}): sizes {:?}, scratch {}",
        args.sizes,
        scratch.0.display()
    );
    let m = measures::Bench {
        cli: args.cli.clone(),
        desktop: args.desktop.clone(),
        scratch: scratch.0.clone(),
    };
    let out = m.all(&args.sizes)?;
    let table = report::markdown(&out.rows);
    let machine = report::machine(&args.cli, mode);
    println!("\n{machine}\n{table}");
    for n in &out.notes {
        println!("- {n}");
    }
    let svg = chart::seed_svg(
        &out.seed_points,
        "Seeding jobs: pipeline-db vs SQLite's own INSERT … SELECT",
    );
    std::fs::write(&args.chart, svg)
        .with_context(|| format!("writing {}", args.chart.display()))?;
    println!("\nchart: {}", args.chart.display());
    if args.append {
        report::append(&args.results, &machine, &table, &out.notes)?;
        println!("appended to {}", args.results.display());
    }
    Ok(())
}
