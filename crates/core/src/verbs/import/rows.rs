//! Reading an import file row by row: the table's columns, each field typed by its column. A row
//! that cannot be typed (a wrong value, a wrong number of fields, an unknown key) is a bad row and
//! reading goes on; a file that cannot be read on (a quote that never ends, bytes that are not
//! UTF-8) stops it, naming the line.

use std::io::BufReader;
use std::path::Path;

use rusqlite::types::Value;
use rusqlite::Connection;

use super::file::Hashed;
use super::{InputFormat, RowIssue};
use crate::error::{Error, Result};
use crate::workbench::input::{CsvReader, InputError, LineReader};

/// A table's columns and their declared types, read from the env.
pub(super) struct Table {
    pub name: String,
    pub columns: Vec<(String, String)>,
}

impl Table {
    pub fn read(c: &Connection, name: &str) -> Result<Table> {
        let mut stmt = c
            .prepare("SELECT name, upper(type) FROM pragma_table_info(?1) ORDER BY cid")
            .map_err(Error::sql("reading the table's columns"))?;
        let columns = stmt
            .query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<(String, String)>>>())
            .map_err(Error::sql("reading the table's columns"))?;
        if columns.is_empty() {
            return Err(Error::Refused(format!(
                "the database has no table {name}; run `pipeline-db migrate`"
            )));
        }
        Ok(Table {
            name: name.to_string(),
            columns,
        })
    }

    pub fn index(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|(n, _)| n == column)
    }

    fn is_json(&self, i: usize) -> bool {
        crate::workbench::format::JSON_COLUMNS.contains(&(self.name.as_str(), &self.columns[i].0))
    }
}

/// One row of the file: its line and (column index, value) for each column it gives.
pub(super) struct Row {
    pub line: u64,
    pub values: Vec<(usize, Value)>,
}

impl Row {
    /// About the memory the row's values take (text and blobs by their length).
    pub fn bytes(&self) -> usize {
        self.values
            .iter()
            .map(|(_, v)| {
                32 + match v {
                    Value::Text(t) => t.len(),
                    Value::Blob(b) => b.len(),
                    _ => 0,
                }
            })
            .sum()
    }

    pub fn get(&self, i: Option<usize>) -> Option<&Value> {
        let i = i?;
        self.values.iter().find(|(c, _)| *c == i).map(|(_, v)| v)
    }
}

/// A value as a plan or an error shows it (cut to 60 characters).
pub(super) fn show(v: &Value) -> String {
    let s = match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Text(t) => format!("{t:?}"),
        Value::Blob(b) => format!("{} bytes", b.len()),
    };
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// What reading one row gave.
pub(super) enum Read {
    Row(Row),
    /// A row that cannot be typed; the rows after it are still read.
    Bad(RowIssue),
}

impl Read {
    /// About the memory it takes (see [`Row::bytes`]).
    pub fn bytes(&self) -> usize {
        match self {
            Read::Row(r) => r.bytes(),
            Read::Bad(i) => 64 + i.value.len() + i.rule.len(),
        }
    }
}

enum Reader {
    Csv(CsvReader<BufReader<Hashed>>),
    Ndjson(LineReader<BufReader<Hashed>>),
}

/// The rows of an import file, read through one open file that hashes what it reads.
pub(super) struct Rows {
    r: Reader,
    /// The columns the rows give: the CSV header's (once read), or the table's (NDJSON).
    columns: Vec<String>,
    /// CSV: each header column's index in the table.
    index: Vec<usize>,
    /// The table's columns and declared types.
    table: Vec<(String, String)>,
    types: Vec<String>,
    json: Vec<bool>,
    /// CSV: empty lines skipped.
    blank: u64,
}

fn bad_file(file: &Path, e: InputError) -> Error {
    Error::BadInput {
        path: file.to_path_buf(),
        detail: e.to_string(),
    }
}

impl Rows {
    /// The rows of `r` for `table`; nothing is read before [`Rows::header`].
    pub fn new(r: Hashed, format: InputFormat, table: &Table) -> Rows {
        let r = BufReader::with_capacity(1 << 16, r);
        let r = match format {
            InputFormat::Csv => Reader::Csv(CsvReader::new(r)),
            InputFormat::Ndjson => Reader::Ndjson(LineReader::new(r)),
        };
        Rows {
            r,
            columns: match format {
                InputFormat::Csv => vec![],
                InputFormat::Ndjson => table.columns.iter().map(|c| c.0.clone()).collect(),
            },
            index: vec![],
            table: table.columns.clone(),
            types: table.columns.iter().map(|c| c.1.clone()).collect(),
            json: (0..table.columns.len()).map(|i| table.is_json(i)).collect(),
            blank: 0,
        }
    }

    /// Blank lines skipped so far: in CSV empty ones (a line of spaces is a row), in NDJSON those
    /// holding only whitespace.
    pub fn blank_lines(&self) -> u64 {
        match &self.r {
            Reader::Csv(_) => self.blank,
            Reader::Ndjson(r) => r.blank_lines(),
        }
    }

    /// Reads a CSV file's header (an unknown or repeated column is refused here); NDJSON has none.
    pub fn header(&mut self, file: &Path, table: &Table) -> Result<()> {
        if !matches!(self.r, Reader::Csv(_)) {
            return Ok(());
        }
        let Some((line, header)) = self.csv_record().map_err(|e| bad_file(file, e))? else {
            return Err(bad_file(
                file,
                InputError {
                    line: 1,
                    message: "the file is empty (a header line is needed)".into(),
                },
            ));
        };
        (self.columns, self.index) =
            header_columns(table, header.into_iter().map(|f| f.text), line)
                .map_err(|e| bad_file(file, e))?;
        Ok(())
    }

    /// The next CSV record that is not an empty line (one unquoted empty field), counting those.
    fn csv_record(
        &mut self,
    ) -> std::result::Result<Option<(u64, Vec<crate::workbench::input::Field>)>, InputError> {
        let Reader::Csv(r) = &mut self.r else {
            return Ok(None);
        };
        loop {
            match r.next_record()? {
                Some((_, fields)) if is_blank(&fields) => self.blank += 1,
                other => return Ok(other),
            }
        }
    }

    /// Reads what is left of the file: the size and sha256 of every byte of it that was read.
    pub fn finish(self) -> Result<super::file::Whole> {
        let r = match self.r {
            Reader::Csv(r) => r.into_inner(),
            Reader::Ndjson(r) => r.into_inner(),
        };
        // What the buffer read ahead was hashed as it was read.
        r.into_inner().finish()
    }
}

/// Whether a CSV record is an empty line: one field, empty and unquoted (`""` is an empty string).
fn is_blank(fields: &[crate::workbench::input::Field]) -> bool {
    matches!(fields, [f] if f.text.is_empty() && !f.quoted)
}

/// The header's columns and their indexes in the table.
fn header_columns(
    table: &Table,
    header: impl Iterator<Item = String>,
    line: u64,
) -> std::result::Result<(Vec<String>, Vec<usize>), InputError> {
    let mut index = vec![];
    let mut columns: Vec<String> = vec![];
    for name in header {
        let i = table.index(&name).ok_or_else(|| InputError {
            line,
            message: format!(
                "unknown column `{name}` for {}; its columns: {}",
                table.name,
                table
                    .columns
                    .iter()
                    .map(|c| c.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        if index.contains(&i) {
            return Err(InputError {
                line,
                message: format!("column `{name}` appears twice in the header"),
            });
        }
        index.push(i);
        columns.push(name);
    }
    Ok((columns, index))
}

fn issue(line: u64, column: &str, value: String, rule: String) -> RowIssue {
    RowIssue {
        line,
        column: column.to_string(),
        value,
        rule,
    }
}

/// The line where the file stops being readable, as the last bad row of a plan.
pub(super) fn unreadable(line: u64, rule: String) -> RowIssue {
    issue(line, "(file)", "-".into(), rule)
}

impl Rows {
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The next row (or bad row); `Err`: the file cannot be read on from the line it names.
    pub fn next_row(&mut self) -> std::result::Result<Option<Read>, InputError> {
        match &mut self.r {
            Reader::Csv(_) => {
                let Some((line, fields)) = self.csv_record()? else {
                    return Ok(None);
                };
                Ok(Some(csv_row(
                    line,
                    fields,
                    &self.columns,
                    &self.index,
                    &self.types,
                )))
            }
            Reader::Ndjson(r) => {
                let Some((line, text)) = r.next_line()? else {
                    return Ok(None);
                };
                Ok(Some(ndjson_row(line, &text, &self.table, &self.json)))
            }
        }
    }
}

fn csv_row(
    line: u64,
    fields: Vec<crate::workbench::input::Field>,
    columns: &[String],
    index: &[usize],
    types: &[String],
) -> Read {
    if fields.len() != index.len() {
        let rule = format!(
            "{} fields, but the header has {} columns",
            fields.len(),
            index.len()
        );
        return Read::Bad(issue(line, "(row)", "-".into(), rule));
    }
    let mut values = Vec::with_capacity(fields.len());
    for ((f, &i), name) in fields.into_iter().zip(index).zip(columns) {
        let v = if f.text.is_empty() && !f.quoted {
            Value::Null
        } else {
            match typed_text(f.text, &types[i]) {
                Ok(v) => v,
                Err((shown, why)) => return Read::Bad(issue(line, name, shown, why)),
            }
        };
        values.push((i, v));
    }
    Read::Row(Row { line, values })
}

fn ndjson_row(line: u64, text: &str, table: &[(String, String)], json: &[bool]) -> Read {
    let object: Members = match serde_json::from_str(text) {
        Ok(o) => o,
        Err(e) => {
            let rule = format!("not a JSON object: {e}");
            return Read::Bad(issue(line, "(row)", "-".into(), rule));
        }
    };
    let mut values: Vec<(usize, Value)> = Vec::with_capacity(object.0.len());
    for (k, raw) in object.0 {
        let Some(i) = table.iter().position(|c| c.0 == k) else {
            let rule = format!("unknown column `{k}`");
            return Read::Bad(issue(line, &k, "-".into(), rule));
        };
        if values.iter().any(|(seen, _)| *seen == i) {
            let rule = format!("`{k}` is given more than once in this row");
            return Read::Bad(issue(line, &k, "-".into(), rule));
        }
        match typed_json(raw.get(), &table[i].1, json[i]) {
            Ok(v) => values.push((i, v)),
            Err(why) => {
                let shown: String = raw.get().chars().take(40).collect();
                return Read::Bad(issue(line, &k, shown, why));
            }
        }
    }
    // One order for every row (the table's), whatever the file's.
    values.sort_by_key(|(i, _)| *i);
    Read::Row(Row { line, values })
}

/// A JSON object's members in the file's order, a repeated key kept twice (serde's maps keep only
/// the last, so a row could say two things of one column and be read as the second).
struct Members<'a>(Vec<(String, &'a serde_json::value::RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Members<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> std::result::Result<Members<'a>, M::Error> {
                let mut members = vec![];
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// A CSV field's text as a value of the column's declared type; `Err((shown value, why))`.
pub(super) fn typed_text(text: String, decl: &str) -> std::result::Result<Value, (String, String)> {
    let fail = |text: &str, want: &str| {
        let shown = show(&Value::Text(text.to_string()));
        (shown.clone(), format!("{shown} is not {want}"))
    };
    match decl {
        "INTEGER" | "INT" => text
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| fail(&text, "an integer")),
        "REAL" => text
            .parse::<f64>()
            .map(Value::Real)
            .map_err(|_| fail(&text, "a number")),
        _ => text_value(text),
    }
}

/// Text as it will be stored. A NUL byte is refused: SQLite's functions (`length`, `GLOB`, …) stop
/// at it while comparisons and indexes do not, so the schema's CHECKs would judge less of the
/// value than is stored (`ADMIN\0…` passes a username rule and looks like `ADMIN`). Errs with the
/// value as shown (the NUL as `\0`) and the rule.
fn text_value(text: String) -> std::result::Result<Value, (String, String)> {
    match text.contains('\0') {
        false => Ok(Value::Text(text)),
        true => {
            let shown = show(&Value::Text(text));
            let why = format!("{shown} holds a NUL byte, which SQLite's checks stop at; remove it");
            Err((shown, why))
        }
    }
}

/// An NDJSON value as a value of the column's declared type. A JSON column takes nested JSON
/// (stored as its text, verbatim) or a string holding JSON text.
pub(super) fn typed_json(
    raw: &str,
    decl: &str,
    json_column: bool,
) -> std::result::Result<Value, String> {
    let integer = matches!(decl, "INTEGER" | "INT");
    let real = decl == "REAL";
    match raw.as_bytes().first() {
        Some(b'n') => Ok(Value::Null),
        Some(b't') if integer => Ok(Value::Integer(1)),
        Some(b'f') if integer => Ok(Value::Integer(0)),
        Some(b'"') if !integer && !real => serde_json::from_str::<String>(raw)
            .map_err(|e| e.to_string())
            .and_then(|t| text_value(t).map_err(|(_, why)| why)),
        Some(b'{' | b'[') if json_column => Ok(Value::Text(raw.to_string())),
        Some(b'-' | b'0'..=b'9') if integer => raw
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| format!("{raw} is not an integer")),
        Some(b'-' | b'0'..=b'9') if real => raw
            .parse::<f64>()
            .map(Value::Real)
            .map_err(|_| format!("{raw} is not a number")),
        _ => {
            let want = if integer {
                "an integer"
            } else if real {
                "a number"
            } else if json_column {
                "a JSON object or a string"
            } else {
                "a string"
            };
            let shown: String = raw.chars().take(40).collect();
            Err(format!("{shown} is not {want}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_are_typed_by_column() {
        assert_eq!(typed_json("null", "TEXT", false), Ok(Value::Null));
        assert_eq!(typed_json("12", "INTEGER", false), Ok(Value::Integer(12)));
        assert_eq!(typed_json("true", "INTEGER", false), Ok(Value::Integer(1)));
        assert_eq!(
            typed_json("\"a\\nb\"", "TEXT", false),
            Ok(Value::Text("a\nb".into()))
        );
        assert_eq!(
            typed_json("{\"b\": 1,\"a\":2}", "TEXT", true),
            Ok(Value::Text("{\"b\": 1,\"a\":2}".into()))
        );
        assert!(typed_json("1.5", "INTEGER", false).is_err());
        assert!(typed_json("\"1\"", "INTEGER", false).is_err());
        assert!(typed_json("{}", "TEXT", false).is_err());
        assert!(typed_json("3", "TEXT", false).is_err());
        let why = typed_json("\"ADMIN\\u0000 x\"", "TEXT", false).unwrap_err();
        assert!(why.contains("holds a NUL byte"), "{why}");
    }

    #[test]
    fn an_ndjson_row_giving_a_column_twice_is_refused() {
        let table = [("username", "TEXT"), ("role", "TEXT")].map(|(n, t)| (n.into(), t.into()));
        let json = [false, false];
        let twice = r#"{"username":"alice","role":"viewer","username":"admin"}"#;
        match ndjson_row(3, twice, &table, &json) {
            Read::Bad(issue) => {
                assert_eq!((issue.line, issue.column.as_str()), (3, "username"));
                assert!(issue.rule.contains("more than once"), "{}", issue.rule);
            }
            Read::Row(_) => panic!("a row giving username twice was read"),
        }
        // Each once, in any order: read, in the table's order.
        match ndjson_row(4, r#"{"role":"viewer","username":"alice"}"#, &table, &json) {
            Read::Row(row) => assert_eq!(
                row.values,
                vec![
                    (0, Value::Text("alice".into())),
                    (1, Value::Text("viewer".into()))
                ]
            ),
            Read::Bad(issue) => panic!("{issue}"),
        }
    }

    #[test]
    fn a_csv_value_of_the_wrong_type_names_its_value() {
        assert_eq!(typed_text("12".into(), "INTEGER"), Ok(Value::Integer(12)));
        let (shown, why) = typed_text("maybe".into(), "INTEGER").unwrap_err();
        assert_eq!(shown, "\"maybe\"");
        assert!(why.contains("not an integer"), "{why}");
        let (shown, why) = typed_text("ADMIN\0 x".into(), "TEXT").unwrap_err();
        assert_eq!(shown, "\"ADMIN\\0 x\"");
        assert!(why.contains("holds a NUL byte"), "{why}");
    }
}
