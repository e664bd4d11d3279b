//! Text read from a file (a database's tag, the audit log, a manifest) made safe to show: control
//! characters and bidirectional overrides are escaped, so a value can neither clear a terminal,
//! retitle a window nor forge a line of output.

/// `s` with every control character (C0, DEL, C1) and bidirectional-override character written
/// as `\u{..}`; everything else as it is.
pub fn printable(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Any SQLite value as printable text (a tag column holding NULL, a number or a blob is shown, not
/// an error from the driver).
pub fn value(v: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => String::new(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => printable(&String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("<{} bytes>", b.len()),
    }
}

/// A size for people: `512 B`, `1.5 MiB`, `65.2 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let (mut v, mut u) = (n as f64, 0);
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    match u {
        0 => format!("{n} B"),
        _ => format!("{v:.1} {}", UNITS[u]),
    }
}

/// Input echoed back in a message: escaped like [`printable`] and cut to 64 characters, so a
/// huge argument (10 MB from a script or a page) is never sent back whole.
pub fn echo(s: &str) -> String {
    const MAX: usize = 64;
    let shown: String = s
        .chars()
        .take(MAX)
        .collect::<String>()
        .escape_debug()
        .to_string();
    match s.chars().nth(MAX) {
        None => shown,
        Some(_) => format!("{shown}… ({} bytes in all)", s.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn terminal_escapes_and_newlines_are_escaped() {
        assert_eq!(printable("0.1.0"), "0.1.0");
        assert_eq!(
            printable("\u{1b}[2J\u{1b}]0;x\u{7}"),
            "\\u{1b}[2J\\u{1b}]0;x\\u{7}"
        );
        assert_eq!(printable("reset\nstatus: ok"), "reset\\u{a}status: ok");
        assert_eq!(printable("a\u{202e}b"), "a\\u{202e}b");
    }

    proptest! {
        #[test]
        fn printable_text_holds_no_control_character(s in any::<String>()) {
            let p = printable(&s);
            prop_assert!(!p.chars().any(needs_escape));
            if !s.chars().any(needs_escape) {
                prop_assert_eq!(p, s);
            }
        }
    }

    #[test]
    fn echo_is_bounded_and_escaped() {
        assert_eq!(super::echo("dev"), "dev");
        assert_eq!(super::echo("a\x1b[2J"), "a\\u{1b}[2J");
        let big = "x".repeat(10 << 20);
        let e = super::echo(&big);
        assert!(
            e.len() < 120 && e.ends_with("(10485760 bytes in all)"),
            "{e}"
        );
    }
}
