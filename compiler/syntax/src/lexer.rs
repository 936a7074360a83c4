//! Lexemes: the nom parsers that recognise one token or one piece of trivia at a byte
//! offset. The recursive-descent driver in `parser.rs` asks for one token at a time, so
//! the lexer keeps no state and never allocates; decoding (string escapes, number
//! shapes) happens when the parser consumes a token.
//!
//! INVARIANT: every function here returns an end offset strictly greater than the start
//! offset unless the input is exhausted, so the parser always makes progress.

use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, digit1};
use nom::combinator::{opt, recognize};
use nom::sequence::delimited;
use nom::{IResult, Parser};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumShape {
    /// `42`, `-1`, `0.92`
    Plain,
    /// `5m`, `4Gi`: the number ends at this byte offset, the suffix follows.
    Unit { number_end: usize },
    /// `99.9%`
    Percent,
    /// `2027-03-31` shaped (digits-digits-digits); validated by the parser.
    Date,
    /// `1.2.3`, `1_000`: no reading makes sense.
    Malformed,
    /// `2fa_enabled`: a digit followed by identifier characters; probably meant as a name.
    IdentLike,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Ident,
    Number(NumShape),
    /// A string literal; `terminated` is false when the line or file ended first.
    Str {
        terminated: bool,
    },
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Colon,
    Comma,
    Semi,
    Dot,
    DotDot,
    Eq,
    /// Any other character (one whole UTF-8 character).
    Unknown,
    Eof,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
    /// A line break (or the start of the file) lies between the previous token and this one.
    pub line_start: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trivia {
    /// Spaces, tabs and line breaks; `newline` when at least one `\n` was seen.
    Space { newline: bool },
    /// `// ...` up to (not including) the line break.
    LineComment,
    /// `/// ...` up to (not including) the line break.
    DocComment,
    /// `/* ... */`, nested; `closed` is false when the file ended first.
    BlockComment { closed: bool },
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whitespace; a byte-order mark counts too, so files saved with one still parse.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '\u{c}' | '\u{feff}')
}

/// Offset of `rest` inside `src` (both slices of the same string).
fn offset(src: &str, rest: &str) -> usize {
    src.len() - rest.len()
}

/// The trivia starting at `pos`, with its end, or `None` when a token (or the end) is next.
pub(crate) fn trivia(src: &str, pos: usize) -> Option<(Trivia, usize)> {
    let input = src.get(pos..)?;
    if let Ok((rest, spaces)) = take_while1::<_, &str, ()>(is_space).parse(input) {
        let kind = Trivia::Space {
            newline: spaces.contains('\n'),
        };
        return Some((kind, offset(src, rest)));
    }
    if let Ok((rest, text)) = line_comment(input) {
        // `///` followed by a fourth `/` is a plain comment, as in Rust.
        let is_doc = text.starts_with("///") && !text.starts_with("////");
        let kind = if is_doc {
            Trivia::DocComment
        } else {
            Trivia::LineComment
        };
        return Some((kind, offset(src, rest)));
    }
    if input.starts_with("/*") {
        let (end, closed) = block_comment_end(input);
        return Some((Trivia::BlockComment { closed }, pos + end));
    }
    None
}

fn line_comment(i: &str) -> IResult<&str, &str, ()> {
    recognize((tag("//"), take_while(|c| c != '\n'))).parse(i)
}

/// End of a (possibly nested) block comment starting at the beginning of `input`.
fn block_comment_end(input: &str) -> (usize, bool) {
    let bytes = input.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match (bytes.get(i), bytes.get(i + 1)) {
            (Some(b'/'), Some(b'*')) => {
                depth += 1;
                i += 2;
            }
            (Some(b'*'), Some(b'/')) => {
                depth = depth.saturating_sub(1);
                i += 2;
                if depth == 0 {
                    return (i, true);
                }
            }
            _ => i += 1,
        }
    }
    // Never inside a UTF-8 sequence: we only stop on ASCII or at the end.
    (bytes.len(), false)
}

/// The token starting at `pos` (no trivia may precede it).
pub(crate) fn token(src: &str, pos: usize, line_start: bool) -> Token {
    let make = |kind, end| Token {
        kind,
        start: pos,
        end,
        line_start,
    };
    let Some(input) = src.get(pos..) else {
        return make(TokenKind::Eof, src.len());
    };
    let Some(first) = input.chars().next() else {
        return make(TokenKind::Eof, src.len());
    };
    let single = |kind| make(kind, pos + 1);
    match first {
        '{' => single(TokenKind::LBrace),
        '}' => single(TokenKind::RBrace),
        '[' => single(TokenKind::LBracket),
        ']' => single(TokenKind::RBracket),
        '(' => single(TokenKind::LParen),
        ')' => single(TokenKind::RParen),
        ':' => single(TokenKind::Colon),
        ',' => single(TokenKind::Comma),
        ';' => single(TokenKind::Semi),
        '=' => single(TokenKind::Eq),
        '.' if input.starts_with("..") => make(TokenKind::DotDot, pos + 2),
        '.' => single(TokenKind::Dot),
        '"' => {
            let (end, terminated) = string_end(input);
            make(TokenKind::Str { terminated }, pos + end)
        }
        c if is_ident_start(c) => {
            let end = ident(input).map_or(pos + 1, |(rest, _)| offset(src, rest));
            make(TokenKind::Ident, end)
        }
        c if c.is_ascii_digit() || (c == '-' && starts_with_digit(tail(input))) => {
            let (shape, len) = number(input);
            make(TokenKind::Number(shape), pos + len)
        }
        c => make(TokenKind::Unknown, pos + c.len_utf8()),
    }
}

fn ident(i: &str) -> IResult<&str, &str, ()> {
    recognize((take_while1(is_ident_start), take_while(is_ident_char))).parse(i)
}

/// End offset of a string literal starting with `"`, and whether it was closed. A string
/// stops at a raw line break so one missing quote costs one line, not the rest of the file.
fn string_end(input: &str) -> (usize, bool) {
    let bytes = input.as_bytes();
    let mut i = 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => return (i + 1, true),
            b'\n' => return (i, false),
            b'\\' => {
                // Skip the escaped character unless it is a line break (then the string is
                // unterminated) or a multi-byte character (handled byte by byte below).
                match bytes.get(i + 1) {
                    Some(b'\n') | None => i += 1,
                    Some(&n) if n.is_ascii() => i += 2,
                    Some(_) => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    (bytes.len(), false)
}

/// `-? digits (. digits)?`
fn number_text(i: &str) -> IResult<&str, &str, ()> {
    recognize((opt(char('-')), digit1, opt((char('.'), digit1)))).parse(i)
}

/// `-digits-digits` after the year of a date.
fn date_tail(i: &str) -> IResult<&str, &str, ()> {
    recognize((char('-'), digit1, opt((char('-'), digit1)))).parse(i)
}

/// Identifier-ish characters glued to a number: `_000`, `fa_enabled`, `x1F`.
fn glued(i: &str) -> IResult<&str, &str, ()> {
    take_while1(is_ident_char).parse(i)
}

/// Shape and length of the numeric literal at the start of `input`.
fn number(input: &str) -> (NumShape, usize) {
    let Ok((rest, text)) = number_text(input) else {
        return (NumShape::Malformed, 1);
    };
    let plain_int = !text.contains('.') && !text.starts_with('-');
    let len_of = |rest: &str| input.len() - rest.len();
    // `1.2.3`: a second fraction.
    if rest.starts_with('.') && starts_with_digit(tail(rest)) {
        let tail: IResult<&str, &str, ()> =
            take_while(|c: char| c.is_ascii_digit() || c == '.').parse(rest);
        let rest = tail.map_or(rest, |(r, _)| r);
        return (
            NumShape::Malformed,
            len_of(glued(rest).map_or(rest, |(r, _)| r)),
        );
    }
    if rest.starts_with('-') && starts_with_digit(tail(rest)) {
        let rest = date_tail(rest).map_or(rest, |(r, _)| r);
        let rest = glued(rest).map_or(rest, |(r, _)| r);
        let shape = if plain_int {
            NumShape::Date
        } else {
            NumShape::Malformed
        };
        return (shape, len_of(rest));
    }
    if let Ok((after, _)) = char::<_, ()>('%').parse(rest) {
        return (NumShape::Percent, len_of(after));
    }
    let suffix: IResult<&str, &str, ()> =
        take_while1(|c: char| c.is_ascii_alphabetic()).parse(rest);
    if let Ok((after, _)) = suffix {
        if after.starts_with(is_ident_char) {
            let after = glued(after).map_or(after, |(r, _)| r);
            return (NumShape::IdentLike, len_of(after));
        }
        return (
            NumShape::Unit {
                number_end: text.len(),
            },
            len_of(after),
        );
    }
    if rest.starts_with('_') {
        let after = glued(rest).map_or(rest, |(r, _)| r);
        let shape = if text.contains('.') || text.starts_with('-') {
            NumShape::Malformed
        } else {
            NumShape::IdentLike
        };
        return (shape, len_of(after));
    }
    (NumShape::Plain, text.len())
}

/// `{...}` after `\u`: the text between the braces (validated by the caller).
pub(crate) fn unicode_escape(i: &str) -> IResult<&str, &str, ()> {
    delimited(
        char('{'),
        take_while(|c: char| c.is_ascii_alphanumeric()),
        char('}'),
    )
    .parse(i)
}

/// `s` without its first byte (which the caller knows is ASCII).
fn tail(s: &str) -> &str {
    s.get(1..).unwrap_or("")
}

fn starts_with_digit(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, &str)> {
        let mut out = Vec::new();
        let mut pos = 0;
        loop {
            while let Some((_, end)) = trivia(src, pos) {
                pos = end;
            }
            let t = token(src, pos, false);
            if t.kind == TokenKind::Eof {
                return out;
            }
            out.push((t.kind, &src[t.start..t.end]));
            pos = t.end;
        }
    }

    #[test]
    fn numbers_have_shapes() {
        use NumShape::*;
        use TokenKind::Number as N;
        assert_eq!(kinds("42"), vec![(N(Plain), "42")]);
        assert_eq!(kinds("-0.5"), vec![(N(Plain), "-0.5")]);
        assert_eq!(kinds("40ms"), vec![(N(Unit { number_end: 2 }), "40ms")]);
        assert_eq!(kinds("99.9%"), vec![(N(Percent), "99.9%")]);
        assert_eq!(kinds("2027-03-31"), vec![(N(Date), "2027-03-31")]);
        assert_eq!(kinds("1.2.3"), vec![(N(Malformed), "1.2.3")]);
        assert_eq!(kinds("2fa_on"), vec![(N(IdentLike), "2fa_on")]);
        assert_eq!(
            kinds("1..2"),
            vec![(N(Plain), "1"), (TokenKind::DotDot, ".."), (N(Plain), "2")]
        );
    }

    #[test]
    fn strings_stop_at_line_end() {
        assert_eq!(
            kinds("\"a\\\"b\" \"open\nx"),
            vec![
                (TokenKind::Str { terminated: true }, "\"a\\\"b\""),
                (TokenKind::Str { terminated: false }, "\"open"),
                (TokenKind::Ident, "x"),
            ]
        );
    }

    #[test]
    fn comments_are_trivia() {
        assert_eq!(trivia("/// d", 0), Some((Trivia::DocComment, 5)));
        assert_eq!(trivia("//// d", 0), Some((Trivia::LineComment, 6)));
        assert_eq!(
            trivia("/* a /* b */ c */x", 0),
            Some((Trivia::BlockComment { closed: true }, 17))
        );
        assert_eq!(
            trivia("/* a", 0),
            Some((Trivia::BlockComment { closed: false }, 4))
        );
        assert_eq!(kinds("é"), vec![(TokenKind::Unknown, "é")]);
    }
}
