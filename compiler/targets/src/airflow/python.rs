//! Python source fragments: the one escaping function for strings ([`python_str`]), the
//! identifier check ([`check_identifier`]) and the small renderers the DAG template needs
//! (durations as `timedelta(...)`, comments).
//!
//! Every value taken from the spec enters the generated Python through [`python_str`];
//! names that become Python variables pass [`check_identifier`] first. The DAG template
//! only lays these fragments out, so no spec string can end a literal early or add code.

use plinth_ir::Duration;
use std::fmt::{self, Write as _};

/// Python's hard keywords (3.8 to 3.14). Soft keywords (`match`, `case`, `type`, `_`) are
/// valid variable names and are not listed.
pub const KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Names the DAG template binds itself; a task variable must not shadow them.
pub const RESERVED: [&str; 7] = [
    "DAG",
    "KubernetesPodOperator",
    "dag",
    "datetime",
    "k8s",
    "timedelta",
    "timezone",
];

/// Why a derived name cannot be a Python variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentifierProblem {
    Empty,
    BadStart(char),
    BadCharacter(char),
    Keyword,
    Reserved,
}

impl fmt::Display for IdentifierProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentifierProblem::Empty => f.write_str("it is empty"),
            IdentifierProblem::BadStart(c) => write!(f, "it starts with `{c}`"),
            IdentifierProblem::BadCharacter(c) => write!(f, "it contains `{c}`"),
            IdentifierProblem::Keyword => f.write_str("it is a Python keyword"),
            IdentifierProblem::Reserved => {
                f.write_str("it is a name the generated DAG file already uses")
            }
        }
    }
}

/// Checks that `name` is an ASCII Python identifier (`[A-Za-z_][A-Za-z0-9_]*`) that is
/// neither a keyword nor one of the template's own names. ASCII only: Python accepts
/// more, but NFKC-normalizes it, so two different spec names could become one variable.
pub fn check_identifier(name: &str) -> Result<(), IdentifierProblem> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(IdentifierProblem::Empty);
    };
    if !(first.is_ascii_alphabetic() || first == '_') {
        return Err(IdentifierProblem::BadStart(first));
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        return Err(IdentifierProblem::BadCharacter(c));
    }
    if KEYWORDS.contains(&name) {
        return Err(IdentifierProblem::Keyword);
    }
    if RESERVED.contains(&name) {
        return Err(IdentifierProblem::Reserved);
    }
    Ok(())
}

/// Characters written as escapes rather than as themselves: control characters (Python
/// rejects NUL in source and turns a raw `\r` into `\n`), line and paragraph separators,
/// and invisible formatting characters (zero-width and bidirectional controls), so that
/// what a reviewer sees in the generated file is what the string holds ("Trojan Source").
fn must_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{ad}'
        | '\u{61c}'
        | '\u{180e}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2069}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}')
}

fn push_escaped_char(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        c if must_escape(c) => {
            let code = u32::from(c);
            // Writing into a `String` cannot fail.
            let _ = if code <= 0xff {
                write!(out, "\\x{code:02x}")
            } else {
                write!(out, "\\u{code:04x}")
            };
        }
        c => out.push(c),
    }
}

/// The Python string literal whose value is exactly `value`.
///
/// One line, `"..."` (or `'...'` when the text has double quotes and no single ones, as
/// Python's `repr` does), unless the text spans several lines: then a `"""` literal keeps
/// the lines readable. In both forms backslashes, the closing quote and every character
/// of [`must_escape`] (other than the newlines of a triple-quoted literal) are escaped.
pub fn python_str(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    push_python_str(&mut out, value);
    out
}

/// [`python_str`], appended to `out`.
pub fn push_python_str(out: &mut String, value: &str) {
    if value.contains('\n') {
        return push_triple_quoted(out, value);
    }
    let quote = if value.contains('"') && !value.contains('\'') {
        b'\''
    } else {
        b'"'
    };
    out.push(char::from(quote));
    // Runs of printable ASCII other than `\` and the quote are copied as they are (most
    // strings are one such run); each other character goes through the escaping below.
    push_runs(
        out,
        value,
        |b, _| b != quote && b != b'\\' && (0x20..0x7f).contains(&b),
        |out, c, _| {
            if c == char::from(quote) {
                out.push('\\');
                out.push(c);
            } else {
                push_escaped_char(out, c);
            }
        },
    );
    out.push(char::from(quote));
}

/// Copies `value` to `out`: runs of the ASCII bytes `plain` accepts (given the byte
/// after, if any) as they are, every other character through `escape`, which also gets
/// the text after that character. `plain` must accept no byte of a multi-byte character
/// (all are >= 0x80).
fn push_runs(
    out: &mut String,
    value: &str,
    plain: impl Fn(u8, Option<u8>) -> bool,
    escape: impl Fn(&mut String, char, &str),
) {
    let mut rest = value;
    while let Some(at) = rest
        .bytes()
        .zip(rest.bytes().skip(1).map(Some).chain([None]))
        .position(|(b, next)| !plain(b, next))
    {
        // `at` starts a character: every byte before it is ASCII.
        let Some((run, tail)) = rest.split_at_checked(at) else {
            break;
        };
        out.push_str(run);
        let mut chars = tail.chars();
        let Some(c) = chars.next() else {
            break;
        };
        rest = chars.as_str();
        escape(out, c, rest);
    }
    out.push_str(rest);
}

fn push_triple_quoted(out: &mut String, value: &str) {
    out.reserve(value.len() + 6);
    out.push_str("\"\"\"");
    // Newlines and a `"` not followed by another `"` nor ending the text stand for
    // themselves (a pretty JSON document is mostly such lines and quotes), so they do not
    // end a run; `escape` below handles them the same way, for the record.
    push_runs(
        out,
        value,
        |b, next| match b {
            b'\n' => true,
            b'"' => next.is_some_and(|n| n != b'"'),
            b => b != b'\\' && (0x20..0x7f).contains(&b),
        },
        |out, c, after| match c {
            '\n' => out.push('\n'),
            // INVARIANT: a `"` followed by another `"` or by the closing `"""` is escaped,
            // so no run of two unescaped quotes exists and the literal cannot end early.
            '"' if after.is_empty() || after.starts_with('"') => out.push_str("\\\""),
            '"' => out.push('"'),
            c => push_escaped_char(out, c),
        },
    );
    out.push_str("\"\"\"");
}

/// A `# ...` comment line's text: anything that could end the line is replaced, so a
/// comment can never turn into code. Callers pass identifiers and fixed prose.
pub fn comment(text: &str) -> String {
    // Most comments are printable ASCII, which has nothing to replace.
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text.to_string();
    }
    text.chars()
        .map(|c| if must_escape(c) { ' ' } else { c })
        .collect()
}

/// `timedelta(minutes=5)`: the largest unit that divides the duration exactly.
pub fn timedelta(duration: Duration) -> String {
    let ms = duration.millis();
    if ms == 0 {
        return "timedelta(0)".to_string();
    }
    for (unit, size) in [
        ("days", Duration::DAY),
        ("hours", Duration::HOUR),
        ("minutes", Duration::MINUTE),
        ("seconds", Duration::SECOND),
    ] {
        if ms.is_multiple_of(size) {
            return format!("timedelta({unit}={})", ms / size);
        }
    }
    format!("timedelta(milliseconds={ms})")
}

/// A one-line Python list of string literals: `["a", "b"]`.
pub fn push_list<'s>(out: &mut String, items: impl IntoIterator<Item = &'s str>) {
    out.push('[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_python_str(out, item);
    }
    out.push(']');
}

/// A one-line Python dict of string literals: `{"a": "b", "c": "d"}`.
pub fn push_dict<'s>(out: &mut String, pairs: impl IntoIterator<Item = (&'s str, &'s str)>) {
    out.push('{');
    for (i, (key, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_python_str(out, key);
        out.push_str(": ");
        push_python_str(out, value);
    }
    out.push('}');
}
