//! SQLite's tokens, as far as reading a schema's text needs them: where strings, quoted names,
//! comments, variables and parentheses begin and end — following SQLite's own tokenizer
//! (`tokenize.c`), so text inside one of them is never taken for SQL.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Open,
    Close,
    Word,
    /// A string, a quoted name, a variable, a number or an operator: nothing to look into.
    Other,
    Comment,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        &sql[self.start..self.end]
    }
}

/// The tokens of `sql`: `'…'` strings and `"…"` / `` `…` `` names (a doubled quote inside), `[…]`
/// names, `--` and `/* */` comments, variables (`?NNN`, and `$` `@` `:` `#` names, whose Tcl form
/// `$name(…)` runs to the first `)` or space), words (letters, digits, `_`, `$` and every
/// non-ASCII character, as SQLite's identifiers), parentheses. Whitespace is SQLite's: space, tab,
/// newline, form feed, carriage return.
pub(crate) fn tokens(sql: &str) -> Vec<Token> {
    let b = sql.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let (kind, end) = match b[i] {
            b'(' => (Kind::Open, i + 1),
            b')' => (Kind::Close, i + 1),
            q @ (b'\'' | b'"' | b'`') => (Kind::Other, quoted_end(b, i, q)),
            b'[' => (Kind::Other, find(b, i, b"]").map_or(b.len(), |p| p + 1)),
            b'-' if b.get(i + 1) == Some(&b'-') => {
                (Kind::Comment, find(b, i, b"\n").unwrap_or(b.len()))
            }
            b'/' if b.get(i + 1) == Some(&b'*') => (
                Kind::Comment,
                find(b, i + 2, b"*/").map_or(b.len(), |p| p + 2),
            ),
            b'$' | b'@' | b':' | b'#' => (Kind::Other, variable_end(b, i)),
            c if is_word_byte(c) => {
                let n = b[i..].iter().take_while(|&&c| is_word_byte(c)).count();
                (Kind::Word, i + n)
            }
            c if is_space(c) => {
                i += 1;
                continue;
            }
            _ => (Kind::Other, i + 1),
        };
        i = end;
        out.push(Token { kind, start, end });
    }
    out
}

/// SQLite's whitespace (`sqlite3Isspace`).
pub(crate) fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r')
}

/// `sql` with every run of whitespace between tokens, and inside comments, made one space (none
/// at either end); strings and quoted names exactly as written (their spaces are part of them).
pub(crate) fn collapse_whitespace(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut last_end = None;
    for t in tokens(sql) {
        if let Some(e) = last_end {
            if t.start > e {
                out.push(' ');
            }
        }
        match t.kind {
            Kind::Comment => {
                let words: Vec<&str> = t
                    .text(sql)
                    .split(|c: char| c.is_ascii() && is_space(c as u8))
                    .filter(|w| !w.is_empty())
                    .collect();
                out.push_str(&words.join(" "));
            }
            _ => out.push_str(t.text(sql)),
        }
        last_end = Some(t.end);
    }
    out
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// Where `pat` next starts in `b` at or after `from`.
fn find(b: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(pat.len())
        .position(|w| w == pat)
        .map(|p| from + p)
}

/// The end of a quoted token opening at `i` with `q` (a doubled `q` is part of it).
fn quoted_end(b: &[u8], mut i: usize, q: u8) -> usize {
    i += 1;
    while i < b.len() {
        if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

/// The end of a variable opening at `i` (`tokenize.c`, `CC_DOLLAR` / `CC_VARALPHA`): identifier
/// characters, `::`, and after at least one of them a `(` that runs to the first `)` (included)
/// or whitespace.
fn variable_end(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    let mut n = 0;
    while i < b.len() {
        let c = b[i];
        if is_word_byte(c) {
            n += 1;
        } else if c == b'(' && n > 0 {
            i += 1;
            while i < b.len() && !is_space(b[i]) && b[i] != b')' {
                i += 1;
            }
            return if b.get(i) == Some(&b')') { i + 1 } else { i };
        } else if c == b':' && b.get(i + 1) == Some(&b':') {
            i += 1;
        } else {
            break;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(Kind, &str)> {
        tokens(sql).iter().map(|t| (t.kind, t.text(sql))).collect()
    }

    #[test]
    fn a_tcl_variable_swallows_parentheses_up_to_the_first_close() {
        assert_eq!(
            kinds("($v(((()) x"),
            vec![
                (Kind::Open, "("),
                (Kind::Other, "$v(((()"),
                (Kind::Close, ")"),
                (Kind::Word, "x")
            ]
        );
        assert_eq!(
            kinds("@a::b :c"),
            vec![(Kind::Other, "@a::b"), (Kind::Other, ":c")]
        );
    }

    #[test]
    fn whitespace_is_collapsed_outside_strings_and_names_only() {
        assert_eq!(
            collapse_whitespace("  CHECK ( x\tIN ('a  b', \"c  d\") ) -- two  spaces\n"),
            "CHECK ( x IN ('a  b', \"c  d\") ) -- two spaces"
        );
        assert_eq!(collapse_whitespace("f(x)"), "f(x)");
        // A no-break space is not whitespace to SQLite: it stays, and two texts differing in
        // it differ.
        assert_ne!(
            collapse_whitespace("GLOB '*[ ]*'"),
            collapse_whitespace("GLOB '*[\u{a0}]*'")
        );
        assert_ne!(collapse_whitespace("a\u{a0}b"), collapse_whitespace("a b"));
    }
}
