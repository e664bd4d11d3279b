//! `pipeline-db export`: core streams the rows to stdout or a new file; here the progress bar and
//! the summary.

use std::time::Duration;

use pipeline_db_core::workbench::export::{self, ExportRequest, Source};
use pipeline_db_core::workbench::format::Format;
use pipeline_db_core::{exit, Result, Workspace};

use crate::cli::{ExportArgs, ExportFormat};
use crate::ui;

pub fn run(ws: &Workspace, a: ExportArgs) -> Result<u8> {
    let source = match (a.table, a.query) {
        (_, Some(sql)) => Source::Query(sql),
        (Some(t), None) => Source::Table(t),
        (None, None) => unreachable!("clap requires a table or --query"),
    };
    let req = ExportRequest {
        env: a.env.clone(),
        source,
        format: match a.format {
            ExportFormat::Csv => Format::Csv,
            ExportFormat::Json => Format::Json,
            ExportFormat::Ndjson => Format::Ndjson,
        },
        output: a.output.clone(),
        timeout: Some(
            a.timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(export::DEFAULT_QUERY_TIMEOUT),
        ),
        escape_formulas: a.escape_formulas,
    };
    let bar = std::sync::Arc::new(ui::Bar::new());
    let out = {
        use std::io::IsTerminal as _;
        let stdout = std::io::BufWriter::new(std::io::stdout());
        let out: Box<dyn std::io::Write + Send> = match std::io::stdout().is_terminal() {
            true => Box::new(ui::TerminalSafe::new(stdout)),
            false => Box::new(stdout),
        };
        // Past the limit, core answers without the thread still finishing a row; this process
        // ends on the error, and the thread with it.
        export::run(ws, &req, out, bar.clone()).map_err(|e| match e {
            pipeline_db_core::Error::QueryRunaway { limit_ms, .. } => {
                pipeline_db_core::Error::QueryRunaway {
                    limit_ms,
                    left: export::left_when_given_up(
                        req.output.as_deref(),
                        "stopped with this process",
                    ),
                }
            }
            pipeline_db_core::Error::CancelledLeftFinishing { .. } => {
                pipeline_db_core::Error::CancelledLeftFinishing {
                    left: export::left_when_given_up(
                        req.output.as_deref(),
                        "stopped with this process",
                    ),
                }
            }
            e => e,
        })
    };
    bar.finish();
    // A reader that stopped early (`| head`) ends the export as it ends any Unix tool writing
    // into a closed pipe: quietly, with 128 + SIGPIPE (the audit line says it was cut short).
    if matches!(&out, Err(e) if crate::ui::is_broken_pipe(e)) && a.output.is_none() {
        return Ok(crate::ui::EXIT_BROKEN_PIPE);
    }
    let out = out?;
    match (&out.path, a.json) {
        (Some(_), true) => ui::print_json(&out),
        (Some(p), false) => outln!(
            "Exported {} of {} to {} ({}, {} ms).",
            ui::rows(out.rows),
            a.env,
            p.display(),
            ui::human_bytes(out.bytes),
            out.duration_ms
        ),
        (None, _) => errln!("({} exported, {} ms)", ui::rows(out.rows), out.duration_ms),
    }
    if out.formula_cells > 0 && !a.json {
        match out.formulas_escaped {
            true => errln!(
                "note: {} text cells a spreadsheet would run as formulas were written after a '",
                out.formula_cells
            ),
            false => errln!(
                "note: {} text cells begin with = + - @ (or a tab or CR before one): a spreadsheet opening this file may run them as formulas. They are written as the database holds them; --escape-formulas writes them after a '",
                out.formula_cells
            ),
        }
    }
    Ok(exit::OK)
}
