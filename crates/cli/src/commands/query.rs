//! `pipeline-db query`: core runs the guarded query; here it is printed (a table fitted to the
//! terminal, or core's CSV / JSON / NDJSON).

use std::time::Duration;

use pipeline_db_core::workbench::format::Format;
use pipeline_db_core::workbench::query::{self, QueryRequest, QueryResult};
use pipeline_db_core::{exit, Result, Workspace};

use crate::cli::{QueryArgs, QueryFormat};

pub fn run(ws: &Workspace, a: QueryArgs) -> Result<u8> {
    let req = QueryRequest {
        env: a.env.clone(),
        sql: a.sql.clone(),
        max_rows: a.max_rows,
        timeout: Duration::from_millis(a.timeout_ms),
    };
    // Past the limit, core answers without the thread still finishing a row; this process ends
    // on the error, and the thread with it.
    let res =
        query::run_bounded(ws, &req, pipeline_db_core::progress::Quiet).map_err(|e| match e {
            pipeline_db_core::Error::QueryRunaway { limit_ms, .. } => {
                pipeline_db_core::Error::QueryRunaway {
                    limit_ms,
                    left: "it was stopped with this process".into(),
                }
            }
            e => e,
        })?;
    let format = match a.format {
        QueryFormat::Table => None,
        QueryFormat::Csv => Some(Format::Csv),
        QueryFormat::Json => Some(Format::Json),
        QueryFormat::Ndjson => Some(Format::Ndjson),
    };
    let formulas = match format {
        Some(f) => {
            use std::io::IsTerminal as _;
            let out = std::io::stdout().lock();
            let escape = a.escape_formulas;
            let written = match std::io::stdout().is_terminal() {
                true => res.write(f, &mut crate::ui::TerminalSafe::new(out), escape),
                false => res.write(f, &mut { out }, escape),
            };
            // A reader that stopped early (`| head`) ends it as any Unix tool: 128 + SIGPIPE.
            match written {
                Err(e) if crate::ui::is_broken_pipe(&e) => return Ok(crate::ui::EXIT_BROKEN_PIPE),
                w => w?,
            }
        }
        None => 0,
    };
    if format.is_none() {
        print_table(&res, terminal_width());
    }
    if formulas > 0 {
        match a.escape_formulas {
            true => errln!("note: {formulas} text cells a spreadsheet would run as formulas were written after a '"),
            false => errln!("note: {formulas} text cells begin with = + - @ (or a tab or CR before one): a spreadsheet opening this CSV may run them as formulas; --escape-formulas writes them after a '"),
        }
    }
    if res.truncated {
        errln!(
            "note: truncated at {} rows (more rows exist); raise --max-rows (at most {}) or use `pipeline-db export {} --query SQL`",
            res.max_rows,
            query::MAX_MAX_ROWS,
            a.env
        );
    } else if format.is_none() {
        errln!(
            "({}, {} ms)",
            crate::ui::rows(res.rows.len() as u64),
            res.elapsed_ms
        );
    }
    Ok(exit::OK)
}

/// The terminal's width; `None` when stdout is not a terminal (nothing is cut then), unless
/// `COLUMNS` says otherwise.
fn terminal_width() -> Option<usize> {
    if let Some((_, cols)) = console::Term::stdout().size_checked() {
        return Some(cols as usize);
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok())
}

/// One line of text per cell: control characters (newlines, tabs) become spaces.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

const SEP: &str = " | ";

fn print_table(res: &QueryResult, width: Option<usize>) {
    let header: Vec<String> = res.columns.iter().map(|c| one_line(&c.name)).collect();
    let rows: Vec<Vec<String>> = res
        .text_rows()
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| c.map(|s| one_line(&s)).unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect();
    let widths = fit(&header, &rows, width);
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, &w)| {
                let cut = console::truncate_str(c, w, "…");
                let pad = w.saturating_sub(console::measure_text_width(&cut));
                format!("{cut}{}", " ".repeat(pad))
            })
            .collect::<Vec<_>>()
            .join(SEP)
            .trim_end()
            .to_string()
    };
    outln!("{}", line(&header));
    outln!(
        "{}",
        widths
            .iter()
            .map(|&w| "-".repeat(w))
            .collect::<Vec<_>>()
            .join("-+-")
    );
    for r in &rows {
        outln!("{}", line(r));
    }
}

/// Column widths: each column's widest cell, then the widest columns narrowed until the line
/// fits `width` (no column narrower than 3).
fn fit(header: &[String], rows: &[Vec<String>], width: Option<usize>) -> Vec<usize> {
    let mut w: Vec<usize> = header
        .iter()
        .map(|h| console::measure_text_width(h))
        .collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(console::measure_text_width(c));
        }
    }
    let Some(total) = width else {
        return w;
    };
    let seps = SEP.len() * w.len().saturating_sub(1);
    while w.iter().sum::<usize>() + seps > total {
        let (i, &max) = match w.iter().enumerate().max_by_key(|(_, &v)| v) {
            Some(m) => m,
            None => break,
        };
        if max <= 3 {
            break;
        }
        w[i] = max - 1;
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_shrink_to_fit_the_widest_first() {
        let h = vec!["id".to_string(), "params".to_string()];
        let rows = vec![vec!["1".to_string(), "x".repeat(200)]];
        let w = fit(&h, &rows, Some(40));
        assert_eq!(w[0], 2);
        assert_eq!(w.iter().sum::<usize>() + SEP.len(), 40);
        assert_eq!(fit(&h, &rows, None)[1], 200);
    }
}
