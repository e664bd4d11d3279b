//! Reading files to import, which are untrusted: RFC 4180 CSV that knows which fields were
//! quoted (an unquoted empty field is NULL, `""` an empty string — what `format` writes) and NDJSON
//! lines. Records and lines are bounded, so are fields per record; text must be UTF-8; every
//! problem names its line.

use std::io::BufRead;

/// Longest record (CSV, quoted newlines included) or line (NDJSON) accepted.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Most fields one CSV record may have.
pub const MAX_FIELDS: usize = 64;

/// A problem in the input, at a line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

fn err(line: u64, message: impl Into<String>) -> InputError {
    InputError {
        line,
        message: message.into(),
    }
}

fn read_err(line: u64, e: std::io::Error) -> InputError {
    err(line, format!("cannot read the file: {e}"))
}

/// One CSV field: its text and whether it was quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub text: String,
    pub quoted: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: the end of the field, or the first of `""`.
    QuoteInQuoted,
}

/// RFC 4180 records (CRLF or LF line ends, a UTF-8 BOM at the start skipped).
pub struct CsvReader<R> {
    r: R,
    /// The line the next byte is on.
    line: u64,
    started: bool,
    /// A CR ended the last record: a LF right after it belongs to it.
    skip_lf: bool,
}

impl<R: BufRead> CsvReader<R> {
    pub fn new(r: R) -> CsvReader<R> {
        CsvReader {
            r,
            line: 1,
            started: false,
            skip_lf: false,
        }
    }

    /// The reader, with whatever it had read ahead and not used.
    pub fn into_inner(self) -> R {
        self.r
    }

    /// The next record and the line it starts on; `None` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<(u64, Vec<Field>)>, InputError> {
        if !self.started {
            self.started = true;
            let head = self.r.fill_buf().map_err(|e| read_err(1, e))?;
            if head.starts_with(b"\xEF\xBB\xBF") {
                self.r.consume(3);
            }
        }
        let mut rec = Record::new(self.line);
        loop {
            let buf = self.r.fill_buf().map_err(|e| read_err(self.line, e))?;
            if buf.is_empty() {
                return rec.at_end();
            }
            let mut used = 0;
            let mut end = false;
            while used < buf.len() && !end {
                if std::mem::take(&mut self.skip_lf) && buf[used] == b'\n' {
                    used += 1;
                    continue;
                }
                // A run of plain bytes is copied at once; the byte that ends it is handled alone.
                let run = plain_run(&buf[used..], rec.state);
                if run > 0 {
                    rec.plain(&buf[used..used + run])?;
                    used += run;
                    continue;
                }
                end = rec.special(buf[used], &mut self.line, &mut self.skip_lf)?;
                used += 1;
            }
            self.r.consume(used);
            if end {
                return Ok(Some((rec.start, rec.fields)));
            }
        }
    }
}

/// The record being read.
struct Record {
    start: u64,
    fields: Vec<Field>,
    cur: Vec<u8>,
    state: State,
    size: usize,
    any: bool,
}

impl Record {
    fn new(start: u64) -> Record {
        Record {
            start,
            fields: vec![],
            cur: vec![],
            state: State::FieldStart,
            size: 0,
            any: false,
        }
    }

    fn at_end(mut self) -> Result<Option<(u64, Vec<Field>)>, InputError> {
        match self.state {
            State::Quoted => Err(err(
                self.start,
                "a quoted field that starts in this record never ends (a missing closing quote)",
            )),
            _ if !self.any => Ok(None),
            _ => {
                push_field(&mut self.fields, &mut self.cur, self.state, self.start)?;
                Ok(Some((self.start, self.fields)))
            }
        }
    }

    fn grow(&mut self, n: usize) -> Result<(), InputError> {
        self.any = true;
        self.size += n;
        if self.size > MAX_RECORD_BYTES {
            return Err(err(
                self.start,
                format!("a record longer than {MAX_RECORD_BYTES} bytes"),
            ));
        }
        Ok(())
    }

    /// Bytes that are text of the current field ([`plain_run`]).
    fn plain(&mut self, bytes: &[u8]) -> Result<(), InputError> {
        self.grow(bytes.len())?;
        self.cur.extend_from_slice(bytes);
        if self.state == State::FieldStart {
            self.state = State::Unquoted;
        }
        Ok(())
    }

    /// One byte that may end or change the field; `true`: the record ended.
    fn special(&mut self, b: u8, line: &mut u64, skip_lf: &mut bool) -> Result<bool, InputError> {
        self.grow(1)?;
        match (self.state, b) {
            (State::Quoted, b'"') => self.state = State::QuoteInQuoted,
            (State::Quoted, _) => {
                if b == b'\n' {
                    *line += 1;
                }
                self.cur.push(b);
            }
            (State::QuoteInQuoted, b'"') => {
                self.cur.push(b'"');
                self.state = State::Quoted;
            }
            (_, b',') => {
                push_field(&mut self.fields, &mut self.cur, self.state, self.start)?;
                self.state = State::FieldStart;
            }
            (_, b'\n' | b'\r') => {
                push_field(&mut self.fields, &mut self.cur, self.state, self.start)?;
                *line += 1;
                *skip_lf = b == b'\r';
                return Ok(true);
            }
            (State::FieldStart, b'"') => self.state = State::Quoted,
            (State::Unquoted, b'"') => {
                return Err(err(
                    *line,
                    "a quote inside an unquoted field (quote the whole field and double the quote: \"a \"\"b\"\"\")",
                ));
            }
            (State::FieldStart | State::Unquoted, _) => {
                self.cur.push(b);
                self.state = State::Unquoted;
            }
            (State::QuoteInQuoted, _) => {
                return Err(err(
                    *line,
                    "text after the closing quote of a field (a field is either all quoted or not at all)",
                ));
            }
        }
        if self.fields.len() > MAX_FIELDS {
            return Err(err(self.start, format!("more than {MAX_FIELDS} fields")));
        }
        Ok(false)
    }
}

/// How many bytes from the start of `buf` are plain text in `state` (nothing that ends or
/// changes the field: no quote, delimiter or line end — a newline inside quotes counts lines).
fn plain_run(buf: &[u8], state: State) -> usize {
    let end = match state {
        State::Quoted => buf.iter().position(|&b| b == b'"' || b == b'\n'),
        State::FieldStart | State::Unquoted => buf
            .iter()
            .position(|&b| matches!(b, b',' | b'\n' | b'\r' | b'"')),
        State::QuoteInQuoted => Some(0),
    };
    end.unwrap_or(buf.len())
}

fn push_field(
    fields: &mut Vec<Field>,
    cur: &mut Vec<u8>,
    state: State,
    line: u64,
) -> Result<(), InputError> {
    // Copied out at its size: `cur` keeps its capacity for the next field.
    let text = std::str::from_utf8(cur)
        .map_err(|e| {
            err(
                line,
                format!(
                    "field {} is not valid UTF-8 (at byte {} of the field); save the file as UTF-8",
                    fields.len() + 1,
                    e.valid_up_to()
                ),
            )
        })?
        .to_owned();
    cur.clear();
    fields.push(Field {
        text,
        quoted: matches!(state, State::QuoteInQuoted),
    });
    if fields.len() > MAX_FIELDS {
        return Err(err(line, format!("more than {MAX_FIELDS} fields")));
    }
    Ok(())
}

/// Lines of an NDJSON file, bounded, UTF-8, blank lines skipped (and counted), CRLF accepted.
pub struct LineReader<R> {
    r: R,
    line: u64,
    blank: u64,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(r: R) -> LineReader<R> {
        LineReader {
            r,
            line: 0,
            blank: 0,
        }
    }

    /// How many blank (or all-whitespace) lines were skipped so far.
    pub fn blank_lines(&self) -> u64 {
        self.blank
    }

    /// The reader, with whatever it had read ahead and not used.
    pub fn into_inner(self) -> R {
        self.r
    }

    /// The next non-blank line and its number; `None` at the end of the file.
    pub fn next_line(&mut self) -> Result<Option<(u64, String)>, InputError> {
        loop {
            self.line += 1;
            let mut bytes = vec![];
            let mut eof = false;
            loop {
                let buf = self.r.fill_buf().map_err(|e| read_err(self.line, e))?;
                if buf.is_empty() {
                    eof = true;
                    break;
                }
                let (take, nl) = match buf.iter().position(|&b| b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (buf.len(), false),
                };
                if bytes.len() + take > MAX_RECORD_BYTES + 2 {
                    return Err(err(
                        self.line,
                        format!("a line longer than {MAX_RECORD_BYTES} bytes"),
                    ));
                }
                bytes.extend_from_slice(&buf[..take]);
                self.r.consume(take);
                if nl {
                    break;
                }
            }
            if eof && bytes.is_empty() {
                return Ok(None);
            }
            while matches!(bytes.last(), Some(b'\n' | b'\r')) {
                bytes.pop();
            }
            if self.line == 1 && bytes.starts_with(b"\xEF\xBB\xBF") {
                bytes.drain(..3);
            }
            let text = String::from_utf8(bytes).map_err(|e| {
                err(
                    self.line,
                    format!(
                        "not valid UTF-8 (at byte {}); save the file as UTF-8",
                        e.utf8_error().valid_up_to()
                    ),
                )
            })?;
            if text.trim().is_empty() {
                self.blank += 1;
                if eof {
                    return Ok(None);
                }
                continue;
            }
            return Ok(Some((self.line, text)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Records = Vec<(u64, Vec<(String, bool)>)>;

    fn records(input: &[u8]) -> Result<Records, InputError> {
        let mut r = CsvReader::new(input);
        let mut out = vec![];
        while let Some((line, fields)) = r.next_record()? {
            out.push((
                line,
                fields.into_iter().map(|f| (f.text, f.quoted)).collect(),
            ));
        }
        Ok(out)
    }

    fn f(t: &str, q: bool) -> (String, bool) {
        (t.to_string(), q)
    }

    #[test]
    fn csv_fields_quotes_newlines_and_line_numbers() {
        let got = records(b"\xEF\xBB\xBFa,b\r\n,\"\"\r\n\"x\ny\",\"say \"\"hi\"\"\"\n3,4").unwrap();
        assert_eq!(
            got,
            vec![
                (1, vec![f("a", false), f("b", false)]),
                (2, vec![f("", false), f("", true)]),
                (3, vec![f("x\ny", true), f("say \"hi\"", true)]),
                (5, vec![f("3", false), f("4", false)]),
            ]
        );
        assert_eq!(records(b"").unwrap(), vec![]);
        assert_eq!(records(b"a\n").unwrap().len(), 1);
    }

    #[test]
    fn bad_csv_is_named_by_line() {
        for (input, line, says) in [
            (&b"a,b\n1,\"open\n"[..], 2, "never ends"),
            (b"a\nx\"y\n", 2, "quote inside an unquoted field"),
            (b"a\n\"x\"y\n", 2, "after the closing quote"),
            (b"a\n\xff\xfe\n", 2, "not valid UTF-8"),
        ] {
            let e = records(input).unwrap_err();
            assert_eq!(e.line, line, "{e}");
            assert!(e.message.contains(says), "{e}");
        }
        let wide = vec![b','; MAX_FIELDS + 5];
        assert!(records(&wide).unwrap_err().message.contains("fields"));
        let long = vec![b'x'; MAX_RECORD_BYTES + 1];
        assert!(records(&long).unwrap_err().message.contains("longer"));
    }

    #[test]
    fn ndjson_lines_are_bounded_and_utf8() {
        let mut r = LineReader::new(&b"{\"a\":1}\r\n\n  \n{\"b\":2}"[..]);
        assert_eq!(r.next_line().unwrap(), Some((1, "{\"a\":1}".into())));
        assert_eq!(r.next_line().unwrap(), Some((4, "{\"b\":2}".into())));
        assert_eq!(r.next_line().unwrap(), None);
        let mut r = LineReader::new(&b"{}\n\xc3\x28\n"[..]);
        r.next_line().unwrap();
        assert_eq!(r.next_line().unwrap_err().line, 2);
        let long = vec![b'x'; MAX_RECORD_BYTES + 10];
        assert!(LineReader::new(&long[..]).next_line().is_err());
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;
    use rusqlite::types::ValueRef;

    use super::*;
    use crate::workbench::format::{writer, Column, Format};

    /// A cell: NULL, or any string (empty, quotes, commas, CR/LF, non-ASCII).
    fn cell() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            1 => Just(None),
            1 => Just(Some(String::new())),
            6 => proptest::option::of("(\\PC|[,\"\r\n ])*"),
        ]
    }

    fn table() -> impl Strategy<Value = Vec<Vec<Option<String>>>> {
        (1usize..5).prop_flat_map(|cols| {
            proptest::collection::vec(proptest::collection::vec(cell(), cols), 0..8)
        })
    }

    fn csv_of(rows: &[Vec<Option<String>>], cols: usize) -> Vec<u8> {
        let columns: Vec<Column> = (0..cols)
            .map(|i| Column::of_query(&format!("c{i}")))
            .collect();
        let mut out = vec![];
        {
            let mut w = writer(Format::Csv, &mut out, "<test>".into()).unwrap();
            w.begin(&columns).unwrap();
            for r in rows {
                let refs: Vec<ValueRef<'_>> = r
                    .iter()
                    .map(|c| match c {
                        None => ValueRef::Null,
                        Some(s) => ValueRef::Text(s.as_bytes()),
                    })
                    .collect();
                w.row(&refs).unwrap();
            }
            w.end().unwrap();
        }
        out
    }

    proptest! {
        /// What export writes, import reads back: every string (and NULL ≠ "") exactly.
        #[test]
        fn csv_export_then_import_round_trips(rows in table()) {
            let cols = rows.first().map_or(1, |r| r.len());
            let bytes = csv_of(&rows, cols);
            let mut r = CsvReader::new(&bytes[..]);
            let (_, header) = r.next_record().unwrap().unwrap();
            prop_assert_eq!(header.len(), cols);
            let mut back = vec![];
            while let Some((_, fields)) = r.next_record().unwrap() {
                back.push(
                    fields
                        .into_iter()
                        .map(|f| (!f.text.is_empty() || f.quoted).then_some(f.text))
                        .collect::<Vec<_>>(),
                );
            }
            prop_assert_eq!(back, rows.clone());
            // An independent RFC 4180 reader (the csv crate) reads the same strings.
            let mut other = csv::ReaderBuilder::new().has_headers(true).from_reader(&bytes[..]);
            let theirs: Vec<Vec<String>> = other
                .records()
                .map(|r| r.unwrap().iter().map(str::to_string).collect())
                .collect();
            let ours: Vec<Vec<String>> = rows
                .iter()
                .filter(|r| !(cols == 1 && r[0].is_none()))
                .map(|r| r.iter().map(|c| c.clone().unwrap_or_default()).collect())
                .collect();
            prop_assert_eq!(theirs, ours);
        }

        /// Arbitrary bytes never panic the readers: a record, the end, or an error with a line.
        #[test]
        fn readers_never_panic_on_junk(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut r = CsvReader::new(&bytes[..]);
            for _ in 0..500 {
                match r.next_record() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => { prop_assert!(e.line >= 1); break; }
                }
            }
            let mut l = LineReader::new(&bytes[..]);
            for _ in 0..500 {
                match l.next_line() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => { prop_assert!(e.line >= 1); break; }
                }
            }
        }
    }
}
