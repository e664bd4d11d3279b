//! Output formats of query results and exports, streamed row by row to any `Write`.
//!
//! - **CSV** (RFC 4180, CRLF, header first): text is quoted unless it reads as a number, so an
//!   empty string is `""`; NULL is an empty *unquoted* field; integers and reals are unquoted.
//!   Columns holding JSON (`params`, `config`) are their JSON text. Blobs are lowercase hex.
//! - **JSON**: one array of objects (`[` … `]`). **NDJSON**: one object per line.
//!   Types are kept: integers and reals are numbers (±infinity, which JSON cannot hold, is the
//!   string `"Infinity"` / `"-Infinity"`), NULL is `null`, text a string, a blob its lowercase
//!   hex string. A column holding JSON is nested JSON, verbatim; in NDJSON a JSON text that spans
//!   lines, or has whitespace around it, is written as a string instead (import accepts both,
//!   so it round-trips exactly). Text that is not UTF-8 stops a JSON export (never changed).

use std::io::Write;
use std::path::PathBuf;

use rusqlite::types::ValueRef;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// For people: the CLI draws it (core hands it the rows).
    Table,
    Csv,
    Json,
    Ndjson,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
        }
    }
}

/// Columns of our schema that hold JSON text (CHECK json_valid).
pub const JSON_COLUMNS: [(&str, &str); 2] = [("pipelines", "config"), ("jobs", "params")];

/// One output column: its name and whether it holds JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub name: String,
    pub json: bool,
}

impl Column {
    /// A column of `table` (exact: only the schema's JSON columns are JSON).
    pub fn of_table(table: &str, name: &str) -> Column {
        Column {
            name: name.to_string(),
            json: JSON_COLUMNS.contains(&(table, name)),
        }
    }

    /// A result column of a query: JSON when it is named like one of the schema's JSON columns.
    pub fn of_query(name: &str) -> Column {
        Column {
            name: name.to_string(),
            json: JSON_COLUMNS.iter().any(|(_, c)| *c == name),
        }
    }
}

/// Where rows go, one at a time.
pub trait RowSink {
    fn begin(&mut self, columns: &[Column]) -> Result<()>;
    fn row(&mut self, row: &[ValueRef<'_>]) -> Result<()>;
    fn end(&mut self) -> Result<()>;
    /// Text cells a spreadsheet would take for a formula (CSV only; see [`formula_like`]).
    fn formula_cells(&self) -> u64 {
        0
    }
}

/// A writer of `format` (not `table`) into `w`; `dest` names it in errors.
pub fn writer<'w>(
    format: Format,
    w: &'w mut dyn Write,
    dest: PathBuf,
) -> Result<Box<dyn RowSink + 'w>> {
    csv_escaping(format, w, dest, false)
}

/// [`writer`]; a CSV one writes a text cell a spreadsheet would run as a formula with a `'`
/// before it when `escape_formulas` (and counts such cells either way).
pub fn csv_escaping<'w>(
    format: Format,
    w: &'w mut dyn Write,
    dest: PathBuf,
    escape_formulas: bool,
) -> Result<Box<dyn RowSink + 'w>> {
    Ok(match format {
        Format::Csv => Box::new(Csv::new(w, dest, escape_formulas)),
        Format::Json => Box::new(Json::new(w, dest, false)),
        Format::Ndjson => Box::new(Json::new(w, dest, true)),
        Format::Table => {
            return Err(Error::InvalidInput(
                "the table format is for the terminal; choose csv, json or ndjson".into(),
            ))
        }
    })
}

/// A value as text, for the terminal and for CSV (`None`: NULL).
pub fn text_of(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(real_text(f)),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(hex::encode(b)),
    }
}

/// A real as the shortest text that reads back as the same value.
fn real_text(f: f64) -> String {
    if f.is_finite() {
        format!("{f:?}")
    } else if f > 0.0 {
        "Infinity".into()
    } else {
        "-Infinity".into()
    }
}

struct Csv<'w> {
    w: &'w mut dyn Write,
    /// The record being built, handed to `w` in one call.
    line: Vec<u8>,
    columns: usize,
    dest: PathBuf,
    escape_formulas: bool,
    formulas: u64,
}

impl<'w> Csv<'w> {
    fn new(w: &'w mut dyn Write, dest: PathBuf, escape_formulas: bool) -> Csv<'w> {
        Csv {
            w,
            line: Vec::with_capacity(4096),
            columns: 0,
            dest,
            escape_formulas,
            formulas: 0,
        }
    }

    /// Appends one field as csv-core's `NonNumeric` style writes it (a test holds the two equal):
    /// as it is when it reads as a number, else in quotes with each quote doubled (RFC 4180) —
    /// after a `'` when it would run as a formula and formulas are escaped.
    fn field(&mut self, bytes: &[u8]) {
        if reads_as_number(bytes) {
            self.line.extend_from_slice(bytes);
            return;
        }
        self.line.push(b'"');
        if formula_like(bytes) {
            self.formulas += 1;
            if self.escape_formulas {
                self.line.push(b'\'');
            }
        }
        let mut rest = bytes;
        while let Some(at) = memchr::memchr(b'"', rest) {
            self.line.extend_from_slice(&rest[..=at]);
            self.line.push(b'"');
            rest = &rest[at + 1..];
        }
        self.line.extend_from_slice(rest);
        self.line.push(b'"');
    }

    /// One record; `None` fields are NULL (nothing written between the delimiters).
    fn record<'a>(&mut self, fields: impl Iterator<Item = Option<Field<'a>>>) -> Result<()> {
        self.line.clear();
        let mut all_null = true;
        for (i, f) in fields.enumerate() {
            if i > 0 {
                self.line.push(b',');
            }
            let mut digits = [0u8; 20];
            match f {
                None => {}
                Some(Field::Bytes(b)) => self.field(b),
                // An integer's digits always read as a number: never quoted.
                Some(Field::Integer(n)) => {
                    self.line.extend_from_slice(integer_text(n, &mut digits))
                }
                Some(Field::Text(t)) => self.field(t.as_bytes()),
            }
            all_null &= f.is_none();
        }
        if self.columns == 1 && all_null {
            // A one-field NULL is an empty line (an empty string is `""`).
            self.line.clear();
        }
        self.line.extend_from_slice(b"\r\n");
        self.w
            .write_all(&self.line)
            .map_err(Error::io("writing", &self.dest))
    }
}

/// Whether CSV leaves `bytes` unquoted: it parses as a float or an integer (csv-core's
/// `is_non_numeric`, asked only when every byte could belong to one — dates, names and JSON are
/// told apart by their first byte that cannot).
fn reads_as_number(bytes: &[u8]) -> bool {
    let may = |c: &u8| c.is_ascii_digit() || b"+-.eEiInNfFtTyYaA".contains(c);
    !bytes.is_empty() && bytes.iter().all(may) && !csv_core::is_non_numeric(bytes)
}

/// One CSV field's content, borrowed where it can be.
#[derive(Clone, Copy)]
enum Field<'a> {
    Bytes(&'a [u8]),
    Integer(i64),
    Text(&'a str),
}

/// An integer's decimal text, written into `buf` (no allocation per value).
fn integer_text(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

impl RowSink for Csv<'_> {
    fn begin(&mut self, columns: &[Column]) -> Result<()> {
        self.columns = columns.len();
        self.record(
            columns
                .iter()
                .map(|c| Some(Field::Bytes(c.name.as_bytes()))),
        )
    }

    fn row(&mut self, row: &[ValueRef<'_>]) -> Result<()> {
        // Reals and blobs (none in our tables) are made as text; the rest is borrowed.
        let made: Vec<Option<String>> = match row
            .iter()
            .any(|v| matches!(v, ValueRef::Real(_) | ValueRef::Blob(_)))
        {
            true => row.iter().map(|v| text_of(*v)).collect(),
            false => vec![],
        };
        self.record(row.iter().enumerate().map(|(i, v)| match *v {
            ValueRef::Null => None,
            ValueRef::Integer(n) => Some(Field::Integer(n)),
            ValueRef::Text(t) => Some(Field::Bytes(t)),
            ValueRef::Real(_) | ValueRef::Blob(_) => {
                made.get(i).and_then(|m| m.as_deref()).map(Field::Text)
            }
        }))
    }

    fn end(&mut self) -> Result<()> {
        self.w.flush().map_err(Error::io("writing", &self.dest))
    }

    fn formula_cells(&self) -> u64 {
        self.formulas
    }
}

/// Whether a spreadsheet (Excel, LibreOffice, Google Sheets) opening the CSV would take a text
/// cell for a formula and run it: it begins with `=`, `+`, `-` or `@`, or a tab or carriage
/// return before one (OWASP's list). Numbers (`-5`) are written unquoted and are not counted.
pub fn formula_like(text: &[u8]) -> bool {
    matches!(
        text.first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

struct Json<'w> {
    w: &'w mut dyn Write,
    ndjson: bool,
    rows: u64,
    columns: Vec<Column>,
    /// Each column's key, already a JSON string followed by `:`.
    keys: Vec<Vec<u8>>,
    dest: PathBuf,
}

impl<'w> Json<'w> {
    fn new(w: &'w mut dyn Write, dest: PathBuf, ndjson: bool) -> Json<'w> {
        Json {
            w,
            ndjson,
            rows: 0,
            columns: vec![],
            keys: vec![],
            dest,
        }
    }
}

/// Appends one value as JSON to `out`.
pub(crate) fn json_value(
    out: &mut Vec<u8>,
    v: ValueRef<'_>,
    json_column: bool,
    one_line: bool,
) -> std::result::Result<(), NotUtf8> {
    let string = |out: &mut Vec<u8>, s: &str| {
        // Writing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    };
    match v {
        ValueRef::Null => out.extend_from_slice(b"null"),
        ValueRef::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        ValueRef::Real(f) if f.is_finite() => {
            let _ = serde_json::to_writer(&mut *out, &f);
        }
        ValueRef::Real(f) => string(out, &real_text(f)),
        ValueRef::Blob(b) => string(out, &hex::encode(b)),
        ValueRef::Text(t) => {
            // JSON holds no bytes that are not UTF-8: such text is refused, never changed.
            let text =
                std::str::from_utf8(t).map_err(|_| NotUtf8(t[..t.len().min(16)].to_vec()))?;
            // Nested only as it is: a JSON text with whitespace around it is a string (import
            // reads both), so the bytes come back exactly.
            let nested = json_column
                && !(one_line && text.contains(['\n', '\r']))
                && text.trim_matches([' ', '\t', '\n', '\r']) == text
                && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
            if nested {
                out.extend_from_slice(text.as_bytes());
            } else {
                string(out, text);
            }
        }
    }
    Ok(())
}

/// Text that is not UTF-8 (its first bytes), which JSON cannot hold.
#[derive(Debug)]
pub(crate) struct NotUtf8(pub Vec<u8>);

/// The columns' names as JSON keys, each once: a query may name two columns alike (`SELECT 1 a,
/// 2 a`), and a JSON object with a key twice keeps one value in most readers. A repeated name gets
/// `_2`, `_3`, … (skipping any name a column already has).
fn unique_keys(columns: &[Column]) -> Vec<String> {
    let mut taken: std::collections::HashSet<String> =
        columns.iter().map(|c| c.name.clone()).collect();
    let mut seen = std::collections::HashSet::new();
    columns
        .iter()
        .map(|c| {
            if seen.insert(c.name.clone()) {
                return c.name.clone();
            }
            let name = (2..)
                .map(|i| format!("{}_{i}", c.name))
                .find(|n| !taken.contains(n))
                .unwrap_or_default();
            taken.insert(name.clone());
            seen.insert(name.clone());
            name
        })
        .collect()
}

impl RowSink for Json<'_> {
    fn begin(&mut self, columns: &[Column]) -> Result<()> {
        self.columns = columns.to_vec();
        self.keys = unique_keys(columns)
            .iter()
            .map(|name| {
                let mut k = serde_json::to_vec(name).unwrap_or_default();
                k.push(b':');
                k
            })
            .collect();
        if !self.ndjson {
            self.w
                .write_all(b"[")
                .map_err(Error::io("writing", &self.dest))?;
        }
        Ok(())
    }

    fn row(&mut self, row: &[ValueRef<'_>]) -> Result<()> {
        let mut out = Vec::with_capacity(256);
        if !self.ndjson {
            out.extend_from_slice(if self.rows == 0 { b"\n" } else { b",\n" });
        }
        out.push(b'{');
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&self.keys[i]);
            json_value(&mut out, *v, self.columns[i].json, self.ndjson).map_err(|NotUtf8(b)| {
                Error::Refused(format!(
                    "row {}, column `{}` holds text that is not valid UTF-8 (its first bytes: {}), which JSON cannot hold: the export was stopped there (into a file: the file is not made). Export it as CSV, which keeps the bytes",
                    self.rows + 1,
                    crate::storage::text::printable(&self.columns[i].name),
                    hex::encode(b)
                ))
            })?;
        }
        out.push(b'}');
        if self.ndjson {
            out.push(b'\n');
        }
        self.rows += 1;
        self.w
            .write_all(&out)
            .map_err(Error::io("writing", &self.dest))
    }

    fn end(&mut self) -> Result<()> {
        if !self.ndjson {
            let tail: &[u8] = if self.rows == 0 { b"]\n" } else { b"\n]\n" };
            self.w
                .write_all(tail)
                .map_err(Error::io("writing", &self.dest))?;
        }
        self.w.flush().map_err(Error::io("writing", &self.dest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keys_are_unique_when_a_query_names_two_columns_alike() {
        let cols: Vec<Column> = ["a", "a", "a_2", "b", "a"]
            .iter()
            .map(|n| Column::of_query(n))
            .collect();
        assert_eq!(unique_keys(&cols), ["a", "a_3", "a_2", "b", "a_4"]);
    }

    fn write(format: Format, cols: &[Column], rows: &[Vec<ValueRef<'_>>]) -> String {
        let mut out = Vec::new();
        {
            let mut w = writer(format, &mut out, "<test>".into()).unwrap();
            w.begin(cols).unwrap();
            for r in rows {
                w.row(r).unwrap();
            }
            w.end().unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    /// A CSV cell: an integer, or text made of the characters that decide quoting (NULL, which
    /// the csv crate cannot write, has its own test below).
    fn cell() -> impl proptest::strategy::Strategy<Value = Result<i64, String>> {
        use proptest::prelude::*;
        prop_oneof![
            any::<i64>().prop_map(Ok),
            "[0-9eE+.,\"\r\n aInfinityNaN\u{e9}-]{0,12}".prop_map(Err),
            proptest::num::f64::ANY.prop_map(|f| Err(f.to_string())),
        ]
    }

    proptest::proptest! {
        /// Our CSV writes every record byte for byte as the `csv` crate does with
        /// `QuoteStyle::NonNumeric` and CRLF (NULL: nothing between the delimiters).
        #[test]
        fn csv_records_are_what_the_csv_crate_writes(
            width in 2usize..5,
            cells in proptest::collection::vec(cell(), 0..20),
        ) {
            let rows: Vec<&[Result<i64, String>]> = cells.chunks_exact(width).collect();
            let cols: Vec<Column> =
                (0..width).map(|i| Column::of_table("t", &format!("c{i}"))).collect();
            let values: Vec<Vec<ValueRef<'_>>> = rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|c| match c {
                            Ok(n) => ValueRef::Integer(*n),
                            Err(t) => ValueRef::Text(t.as_bytes()),
                        })
                        .collect()
                })
                .collect();
            let ours = write(Format::Csv, &cols, &values);
            let mut theirs = csv::WriterBuilder::new()
                .quote_style(csv::QuoteStyle::NonNumeric)
                .terminator(csv::Terminator::CRLF)
                .from_writer(vec![]);
            theirs.write_record(cols.iter().map(|c| c.name.as_str())).unwrap();
            for r in &rows {
                for c in r.iter() {
                    match c {
                        Ok(n) => theirs.write_field(n.to_string()).unwrap(),
                        Err(t) => theirs.write_field(t).unwrap(),
                    }
                }
                theirs.write_record(None::<&[u8]>).unwrap();
            }
            let theirs = String::from_utf8(theirs.into_inner().unwrap()).unwrap();
            proptest::prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn csv_tells_null_from_an_empty_string_and_quotes_what_it_must() {
        let cols = [Column::of_table("t", "a"), Column::of_table("t", "b")];
        let rows = vec![
            vec![ValueRef::Null, ValueRef::Text(b"")],
            vec![ValueRef::Integer(-3), ValueRef::Text(b"a,\"b\"\nc")],
            vec![ValueRef::Real(0.1), ValueRef::Blob(&[0xde, 0xad])],
        ];
        assert_eq!(
            write(Format::Csv, &cols, &rows),
            "\"a\",\"b\"\r\n,\"\"\r\n-3,\"a,\"\"b\"\"\nc\"\r\n0.1,\"dead\"\r\n"
        );
        let one = [Column::of_table("t", "a")];
        let rows = vec![vec![ValueRef::Null], vec![ValueRef::Text(b"")]];
        assert_eq!(write(Format::Csv, &one, &rows), "\"a\"\r\n\r\n\"\"\r\n");
    }

    /// Text a spreadsheet would run as a formula is counted, and written after a `'` only when
    /// asked; numbers (`-3`) are neither (review 19).
    #[test]
    fn formula_like_cells_are_counted_and_escaped_only_when_asked() {
        let cols = [Column::of_table("t", "a")];
        let cells: [&[u8]; 7] = [
            b"=HYPERLINK(\"http://x\")",
            b"@SUM(1)",
            b"+1+1",
            b"-cmd",
            b"\t=1",
            b"plain = text",
            b"",
        ];
        let rows: Vec<Vec<ValueRef<'_>>> = cells
            .iter()
            .map(|c| vec![ValueRef::Text(c)])
            .chain([vec![ValueRef::Integer(-3)], vec![ValueRef::Real(-0.5)]])
            .collect();
        for escape in [false, true] {
            let mut out = vec![];
            let mut sink = csv_escaping(Format::Csv, &mut out, "t".into(), escape).unwrap();
            sink.begin(&cols).unwrap();
            for r in &rows {
                sink.row(r).unwrap();
            }
            sink.end().unwrap();
            assert_eq!(sink.formula_cells(), 5);
            drop(sink);
            let text = String::from_utf8(out).unwrap();
            let q = if escape { "'" } else { "" };
            assert!(
                text.contains(&format!("\"{q}=HYPERLINK(\"\"http://x\"\")\"")),
                "{text}"
            );
            assert!(text.contains(&format!("\"{q}@SUM(1)\"")), "{text}");
            assert!(text.contains("\"plain = text\""), "{text}");
            assert!(text.contains("\r\n-3\r\n-0.5\r\n"), "{text}");
        }
    }

    #[test]
    fn integers_are_written_without_a_string_each() {
        for n in [0, 7, -7, 10, 1_000_000, i64::MAX, i64::MIN] {
            let mut buf = [0u8; 20];
            assert_eq!(integer_text(n, &mut buf), n.to_string().as_bytes());
        }
        let cols = [Column::of_table("t", "a"), Column::of_table("t", "b")];
        let rows = vec![vec![ValueRef::Integer(i64::MIN), ValueRef::Real(-0.5)]];
        assert_eq!(
            write(Format::Csv, &cols, &rows),
            format!("\"a\",\"b\"\r\n{},-0.5\r\n", i64::MIN)
        );
    }

    #[test]
    fn json_keeps_types_and_nests_json_columns() {
        let cols = [
            Column::of_table("jobs", "id"),
            Column::of_table("jobs", "params"),
            Column::of_table("jobs", "output_dir"),
            Column::of_table("jobs", "run_name"),
        ];
        let rows = vec![vec![
            ValueRef::Integer(7),
            ValueRef::Text(br#"{"b": [1, 2], "a": null}"#),
            ValueRef::Null,
            ValueRef::Text(br#"{"not": "json column"}"#),
        ]];
        let nd = write(Format::Ndjson, &cols, &rows);
        assert_eq!(
            nd,
            "{\"id\":7,\"params\":{\"b\": [1, 2], \"a\": null},\"output_dir\":null,\"run_name\":\"{\\\"not\\\": \\\"json column\\\"}\"}\n"
        );
        let v: serde_json::Value =
            serde_json::from_str(&write(Format::Json, &cols, &rows)).unwrap();
        assert_eq!(v[0]["params"]["b"][1], 2);
        assert_eq!(write(Format::Json, &cols, &[]), "[]\n");
        // JSON text over several lines stays one NDJSON line: as a string.
        let rows = vec![vec![
            ValueRef::Integer(1),
            ValueRef::Text(b"{\n \"a\": 1\n}"),
            ValueRef::Real(f64::INFINITY),
            ValueRef::Text(b""),
        ]];
        let nd = write(Format::Ndjson, &cols, &rows);
        assert_eq!(nd.lines().count(), 1, "{nd}");
        let v: serde_json::Value = serde_json::from_str(&nd).unwrap();
        assert_eq!(v["params"], "{\n \"a\": 1\n}");
        assert_eq!(v["output_dir"], "Infinity");
    }
}
