//! A small YAML writer for the Kubernetes target: a serde `Serializer` that appends block
//! style YAML straight to a `String`, for the shapes `api.rs` produces (structs, string
//! maps, sequences, strings, integers, booleans).
//!
//! Why not a general YAML library: the target writes ~25 KB per service, and a general
//! serializer's per-scalar work (style selection, folding, tag and anchor bookkeeping)
//! was most of the render time at 5,000 services. This one does one pass per scalar.
//!
//! Layout: mappings indent by two; a sequence under a key starts at the key's column
//! (`ports:\n- name: http`), as `kubectl` writes it; a mapping inside a sequence starts on
//! the `- ` line. Empty mappings and sequences are `{}` and `[]`.
//!
//! Strings are written plain when a YAML 1.1 or 1.2 reader reads them back as the same
//! string, and otherwise double-quoted with escapes ([`write_quoted`]); a multi-line
//! string whose lines are safe is a literal block (`|-`), so PromQL stays readable. The
//! rules are conservative: when in doubt, quote. `tests.rs` round-trips hostile strings
//! through a real YAML parser.

use serde::ser::{self, Serialize};
use std::fmt::{self, Write as _};

#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

type Result<T = ()> = std::result::Result<T, Error>;

/// Appends `value` as one YAML document (no `---`) to `out`.
pub fn write<T: Serialize + ?Sized>(value: &T, out: &mut String) -> Result {
    value.serialize(Node {
        out,
        indent: 0,
        at: At::Root,
    })
}

/// Appends `key: value` (a string) as one mapping entry at `column`, exactly as the
/// serializer writes a string field there.
pub fn write_entry(out: &mut String, column: usize, key: &str, value: &str) {
    pad(out, column);
    write_key(out, key);
    out.push(':');
    Node {
        out,
        indent: column,
        at: At::Key,
    }
    .string_value(value);
}

/// `value` as one YAML document.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let mut out = String::new();
    write(value, &mut out)?;
    Ok(out)
}

/// Where the next node is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    /// The start of the document.
    Root,
    /// After `key:` (no space yet).
    Key,
    /// After `- `.
    Item,
}

/// Serializes one node at a position; `indent` is the column of the enclosing key or
/// sequence dash.
struct Node<'a> {
    out: &'a mut String,
    indent: usize,
    at: At,
}

/// `n` in decimal digits.
fn push_decimal(out: &mut String, n: u64) {
    // u64::MAX has 20 digits.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = n;
    loop {
        start -= 1;
        if let Some(d) = digits.get_mut(start) {
            // The remainder is below 10, so the cast cannot truncate.
            *d = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
        if rest == 0 || start == 0 {
            break;
        }
    }
    for &d in digits.get(start..).unwrap_or_default() {
        out.push(char::from(d));
    }
}

fn pad(out: &mut String, n: usize) {
    const SPACES: &str = "                                ";
    let mut n = n;
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(SPACES.get(..k).unwrap_or_default());
        n -= k;
    }
}

impl<'a> Node<'a> {
    fn scalar(self, text: &str) -> Result {
        if self.at == At::Key {
            self.out.push(' ');
        }
        self.out.push_str(text);
        self.out.push('\n');
        Ok(())
    }

    /// An integer, in decimal: written digit by digit rather than through `core::fmt`,
    /// since most of a manifest's numbers (ports, counts, seconds) are small.
    fn number(self, negative: bool, magnitude: u64) -> Result {
        if self.at == At::Key {
            self.out.push(' ');
        }
        if negative {
            self.out.push('-');
        }
        push_decimal(self.out, magnitude);
        self.out.push('\n');
        Ok(())
    }

    fn string(self, s: &str) -> Result {
        self.string_value(s);
        Ok(())
    }

    fn string_value(self, s: &str) {
        if self.at == At::Key {
            self.out.push(' ');
        }
        // Content of a block scalar is indented past the key or the dash.
        let content = self.indent + 2;
        write_string(self.out, s, content);
        self.out.push('\n');
    }

    /// The column where a mapping's keys go, writing what precedes the first key.
    fn map(self) -> MapSer<'a> {
        let (column, first_inline) = match self.at {
            At::Root => (0, false),
            At::Key => (self.indent + 2, false),
            At::Item => (self.indent + 2, true),
        };
        MapSer {
            out: self.out,
            column,
            first_inline,
            at: self.at,
            entries: 0,
        }
    }

    fn seq(self) -> SeqSer<'a> {
        let (column, first_inline) = match self.at {
            At::Root => (0, false),
            // `key:\n- item`: the dash at the key's column.
            At::Key => (self.indent, false),
            At::Item => (self.indent + 2, true),
        };
        SeqSer {
            out: self.out,
            column,
            first_inline,
            at: self.at,
            items: 0,
        }
    }
}

struct MapSer<'a> {
    out: &'a mut String,
    column: usize,
    /// The first key goes on the current line (after `- `).
    first_inline: bool,
    at: At,
    entries: usize,
}

impl MapSer<'_> {
    fn key(&mut self, key: &str) {
        if self.entries == 0 {
            if self.at == At::Key {
                self.out.push('\n');
            }
            if !self.first_inline {
                pad(self.out, self.column);
            }
        } else {
            pad(self.out, self.column);
        }
        self.entries += 1;
        write_key(self.out, key);
        self.out.push(':');
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        value.serialize(Node {
            out: self.out,
            indent: self.column,
            at: At::Key,
        })
    }

    fn end(self) -> Result {
        if self.entries == 0 {
            if self.at == At::Key {
                self.out.push(' ');
            }
            self.out.push_str("{}\n");
        }
        Ok(())
    }
}

struct SeqSer<'a> {
    out: &'a mut String,
    column: usize,
    first_inline: bool,
    at: At,
    items: usize,
}

impl SeqSer<'_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        if self.items == 0 {
            if self.at == At::Key {
                self.out.push('\n');
            }
            if !self.first_inline {
                pad(self.out, self.column);
            }
        } else {
            pad(self.out, self.column);
        }
        self.items += 1;
        self.out.push_str("- ");
        value.serialize(Node {
            out: self.out,
            indent: self.column,
            at: At::Item,
        })
    }

    fn end(self) -> Result {
        if self.items == 0 {
            if self.at == At::Key {
                self.out.push(' ');
            }
            self.out.push_str("[]\n");
        }
        Ok(())
    }
}

/// Map keys are strings (or anything that serializes as one), written as the map's next
/// key straight from the borrowed text: no `String` per key.
struct KeySer<'m, 'a>(&'m mut MapSer<'a>);

fn key_error() -> Error {
    Error("mapping keys must be strings".to_string())
}

macro_rules! key_unsupported {
    ($($name:ident($($t:ty),*)),* $(,)?) => {
        $(fn $name(self, $(_: $t),*) -> Result { Err(key_error()) })*
    };
}

impl ser::Serializer for KeySer<'_, '_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result {
        self.0.key(v);
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result {
        v.serialize(self)
    }
    key_unsupported!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
    );
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result {
        Err(key_error())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result {
        Err(key_error())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(key_error())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(key_error())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(key_error())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(key_error())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(key_error())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(key_error())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(key_error())
    }
}

fn unsupported(what: &str) -> Error {
    Error(format!("the Kubernetes YAML writer does not write {what}"))
}

impl<'a> ser::Serializer for Node<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = SeqSer<'a>;
    type SerializeTuple = SeqSer<'a>;
    type SerializeTupleStruct = SeqSer<'a>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = MapSer<'a>;
    type SerializeStruct = MapSer<'a>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result {
        self.scalar(if v { "true" } else { "false" })
    }
    fn serialize_i8(self, v: i8) -> Result {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result {
        self.number(v < 0, v.unsigned_abs())
    }
    fn serialize_u8(self, v: u8) -> Result {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result {
        self.number(false, v)
    }
    fn serialize_f32(self, v: f32) -> Result {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result {
        if !v.is_finite() {
            return Err(unsupported("non-finite numbers"));
        }
        // `{:?}` keeps a `.0` on whole numbers, so the value reads back as a float.
        self.scalar(&format!("{v:?}"))
    }
    fn serialize_char(self, v: char) -> Result {
        self.string(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result {
        self.string(v)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result {
        Err(unsupported("bytes"))
    }
    fn serialize_none(self) -> Result {
        self.scalar("null")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        self.scalar("null")
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result {
        self.scalar("null")
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.string(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result {
        let mut map = self.map();
        map.key(variant);
        map.value(v)?;
        map.end()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Ok(self.seq())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Ok(self.seq())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Ok(self.seq())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(unsupported("tuple variants"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Ok(self.map())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Ok(self.map())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(unsupported("struct variants"))
    }
}

impl ser::SerializeSeq for SeqSer<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result {
        self.item(v)
    }
    fn end(self) -> Result {
        SeqSer::end(self)
    }
}

impl ser::SerializeTuple for SeqSer<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result {
        self.item(v)
    }
    fn end(self) -> Result {
        SeqSer::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqSer<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result {
        self.item(v)
    }
    fn end(self) -> Result {
        SeqSer::end(self)
    }
}

impl ser::SerializeMap for MapSer<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        key.serialize(KeySer(self))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result {
        self.value(v)
    }
    fn end(self) -> Result {
        MapSer::end(self)
    }
}

impl ser::SerializeStruct for MapSer<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result {
        self.key(key);
        self.value(v)
    }
    fn end(self) -> Result {
        MapSer::end(self)
    }
}

// ---- scalars ----

fn write_key(out: &mut String, key: &str) {
    // A key may not contain `:` at all in plain style (`a:b: c` is ambiguous to some
    // readers), nor be the merge key `<<`; a simple word (most keys) has neither.
    let plain = if is_simple_word(key) {
        key.len() > 5 || !is_ambiguous(key)
    } else {
        is_plain(key) && !key.contains(':') && key != "<<"
    };
    if plain {
        out.push_str(key);
    } else {
        write_quoted(out, key);
    }
}

/// A string value: plain, a literal block (`|-`, lines at `content_indent`) or
/// double-quoted.
fn write_string(out: &mut String, s: &str, content_indent: usize) {
    if is_plain(s) {
        out.push_str(s);
    } else if is_literal_block_safe(s) {
        out.push_str("|-");
        for line in s.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                pad(out, content_indent);
                out.push_str(line);
            }
        }
    } else {
        write_quoted(out, s);
    }
}

/// The common case of a plain scalar (names, label keys, paths, images): a letter, then
/// only letters, digits and `_./-`. No indicator, space, colon or `#` can occur, and no
/// number or timestamp starts with a letter; only a few short words (`no`, `false`,
/// `nan`, ...) are ambiguous ([`is_ambiguous`]).
fn is_simple_word(s: &str) -> bool {
    let bytes = s.as_bytes();
    // Every byte is looked up, without stopping at the first that fails and with `&`
    // rather than `&&`: most strings written are words, so stopping early rarely pays,
    // and one table load a byte is cheaper than seven comparisons (this check ran on
    // every key and value; the comparisons were 8% of the target's time).
    let word_byte = |b: u8| WORD_BYTES.get(usize::from(b)).copied().unwrap_or(false);
    bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.iter().fold(true, |all, &b| all & word_byte(b))
}

/// For each byte, whether a simple word ([`is_simple_word`]) may contain it.
static WORD_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut rest: &mut [bool] = &mut table;
    let mut b: u8 = 0;
    while let [slot, tail @ ..] = rest {
        *slot = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-');
        rest = tail;
        b = b.wrapping_add(1);
    }
    table
};

/// Whether `s` reads back as the same string when written plain, in block context, by a
/// YAML 1.1 or 1.2 reader.
fn is_plain(s: &str) -> bool {
    let bytes = s.as_bytes();
    if is_simple_word(s) {
        return bytes.len() > 5 || !is_ambiguous(s);
    }
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if first == b' ' || last == b' ' || last == b':' {
        return false;
    }
    match first {
        // Indicators that cannot start a plain scalar.
        b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
        | b'"' | b'%' | b'@' | b'`' | b':' => return false,
        // `- x`, `? x` and a lone `-`/`?` are structure; `-x` is text.
        b'-' | b'?' if bytes.get(1).is_none_or(|b| *b == b' ') => return false,
        _ => {}
    }
    // Document markers.
    if (s.starts_with("---") || s.starts_with("..."))
        && bytes.get(3).is_none_or(|b| b.is_ascii_whitespace())
    {
        return false;
    }
    let mut previous = b'\0';
    for &b in bytes {
        match b {
            // Control characters (incl. tab, CR, LF) and DEL need escapes.
            0..=0x1f | 0x7f => return false,
            b'#' if previous == b' ' => return false,
            b' ' if previous == b':' => return false,
            _ => {}
        }
        previous = b;
    }
    if !s.is_ascii() && s.chars().any(needs_escape) {
        return false;
    }
    !is_ambiguous(s)
}

/// Strings a YAML 1.1 or 1.2 reader would resolve to something other than a string:
/// null, booleans (1.1's `yes`/`no`/`on`/`off`/`y`/`n`), numbers in any base, `.inf`
/// and `.nan`, base-60 numbers, timestamps, `=` and `<<`. Conservative: anything made
/// only of digits and number punctuation counts as a number.
fn is_ambiguous(s: &str) -> bool {
    const WORDS: [&str; 12] = [
        "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n", "=", "<<",
    ];
    // Of what follows, only these words and `inf`/`nan` start with a letter, and with
    // one of `ntfyoi`: most names and words written are rejected by one look.
    if s.as_bytes().first().is_some_and(|b| {
        b.is_ascii_alphabetic()
            && !matches!(
                b.to_ascii_lowercase(),
                b'n' | b't' | b'f' | b'y' | b'o' | b'i'
            )
    }) {
        return false;
    }
    // `.inf`, `-.nan`, `+inf`, ...: with or without the sign and the dot.
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let bare = unsigned.strip_prefix('.').unwrap_or(unsigned);
    if WORDS.iter().any(|w| s.eq_ignore_ascii_case(w))
        || bare.eq_ignore_ascii_case("inf")
        || bare.eq_ignore_ascii_case("nan")
    {
        return true;
    }
    let bytes = s.as_bytes();
    let starts_numeric = matches!(bytes.first(), Some(b'0'..=b'9' | b'+' | b'-' | b'.' | b'_'));
    if !starts_numeric {
        return false;
    }
    // 0x.., 0o.., 0b.. in any case, with any digits: quote.
    let ub = unsigned.as_bytes();
    if ub.first() == Some(&b'0')
        && matches!(ub.get(1), Some(b'x' | b'X' | b'o' | b'O' | b'b' | b'B'))
    {
        return true;
    }
    // Decimal numbers, floats with exponents, base 60 (`1:30`), dates and timestamps
    // (`2026-01-01`, `2026-01-01 10:00:00`): only digits and number punctuation.
    s.bytes().all(|b| {
        matches!(
            b,
            b'0'..=b'9'
                | b'+'
                | b'-'
                | b'.'
                | b'_'
                | b':'
                | b'e'
                | b'E'
                | b' '
                | b'T'
                | b't'
                | b'Z'
                | b','
        )
    })
}

/// Characters that must be escaped in any YAML scalar (not printable, or line breaks and
/// byte-order marks that readers normalize or drop).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{FEFF}' | '\u{2028}' | '\u{2029}' | '\u{FFFE}' | '\u{FFFF}'
        )
}

/// A multi-line string as a literal block scalar: only when every character is printable
/// (line feeds aside), the first line starts with a non-space (so the indentation is
/// detected from it) and the string does not end in a line break (`|-` strips it).
fn is_literal_block_safe(s: &str) -> bool {
    s.contains('\n')
        && !s.ends_with('\n')
        && s.split('\n').next().is_some_and(|first| {
            first
                .bytes()
                .next()
                .is_some_and(|b| b != b' ' && b != b'\t')
        })
        && (s
            .bytes()
            // Printable ASCII and line feeds (PromQL): one pass over all the bytes,
            // without branches (see `is_simple_word`).
            .fold(true, |all, b| {
                all & ((b == b'\n') | (b' '..=b'~').contains(&b))
            })
            || !s
                .chars()
                .any(|c| c != '\n' && (needs_escape(c) || c == '\u{85}')))
}

/// `s` double-quoted, escaping `\`, `"` and every character in [`needs_escape`].
pub fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\0' => out.push_str("\\0"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if needs_escape(c) => {
                let code = u32::from(c);
                if code <= 0xFF {
                    let _ = write!(out, "\\x{code:02X}");
                } else {
                    let _ = write!(out, "\\u{code:04X}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_words_have_only_letters_digits_and_four_marks() {
        for b in 0..=u8::MAX {
            let word = [b'a', b, b'z'];
            let Ok(s) = std::str::from_utf8(&word) else {
                continue;
            };
            let expected = b.is_ascii_alphanumeric() || b"_./-".contains(&b);
            assert_eq!(is_simple_word(s), expected, "byte {b:#04x}");
        }
        assert!(!is_simple_word(""));
        assert!(!is_simple_word("1a"));
        assert!(!is_simple_word("-a"));
        assert!(is_simple_word("Z"));
    }

    #[test]
    fn plain_or_quoted() {
        for plain in [
            "fraud-api",
            "20Gi",
            "25%",
            "30s",
            "--load-model=fraud_scorer",
            "s3://bucket/x/",
            "slo:sli_error:ratio_rate5m",
            "a b",
            "pagerduty:risk-ml",
            "len(result) == 0 || isNaN(result[0])",
        ] {
            assert!(is_plain(plain), "{plain}");
        }
        for quoted in [
            "",
            "12.0.3",
            "1",
            "4",
            "yes",
            "No",
            "on",
            "null",
            // Every first letter of the ambiguous words, in either case.
            "TRUE",
            "False",
            "Y",
            "n",
            "OFF",
            "Inf",
            "NaN",
            "~",
            "1e3",
            "0x1F",
            "2026-01-01",
            ".inf",
            "- a",
            "-",
            "a: b",
            "a #b",
            " a",
            "a ",
            "---",
            "#x",
            "a:",
            "1:30",
            "\u{85}",
        ] {
            assert!(!is_plain(quoted), "{quoted:?}");
        }
    }

    #[test]
    fn layout_matches_kubectl_style() {
        #[derive(serde::Serialize)]
        struct Port {
            name: &'static str,
            port: u16,
        }
        #[derive(serde::Serialize)]
        struct Doc {
            kind: &'static str,
            labels: std::collections::BTreeMap<String, String>,
            empty: std::collections::BTreeMap<String, String>,
            ports: Vec<Port>,
            args: Vec<&'static str>,
            none: Vec<u8>,
            expr: &'static str,
            on: bool,
        }
        let doc = Doc {
            kind: "Service",
            labels: [("app".to_string(), "1.0".to_string())].into(),
            empty: Default::default(),
            ports: vec![
                Port {
                    name: "http",
                    port: 8000,
                },
                Port {
                    name: "grpc",
                    port: 8001,
                },
            ],
            args: vec!["a", "b"],
            none: vec![],
            expr: "sum(x)\n/\n  sum(y)",
            on: true,
        };
        assert_eq!(
            to_string(&doc).unwrap(),
            "kind: Service\nlabels:\n  app: \"1.0\"\nempty: {}\nports:\n- name: http\n  port: 8000\n- name: grpc\n  port: 8001\nargs:\n- a\n- b\nnone: []\nexpr: |-\n  sum(x)\n  /\n    sum(y)\n\"on\": true\n"
        );
    }
}
