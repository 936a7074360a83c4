//! One escape function per output format of the evidence: Markdown (model cards,
//! scorecard, cost table), HTML (the report, the one place HTML escaping is right) and
//! DOT strings (the lineage graph). Each has an inverse so property tests can check that
//! a spec string reads back as itself and never becomes markup.

/// ASCII punctuation that is never Markdown syntax (CommonMark or GFM) wherever it
/// stands, so it is left as is for readable cards. Every other ASCII punctuation
/// character is escaped.
const fn markdown_inert(b: u8) -> bool {
    matches!(b, b',' | b';' | b'%' | b'\'' | b'"' | b'?' | b'/')
}

/// Whether [`markdown`] backslash-escapes `c`.
pub fn markdown_special(c: char) -> bool {
    u8::try_from(c).is_ok_and(markdown_special_byte)
}

/// [`markdown_special`] of a byte (never true for a byte of a multi-byte character).
const fn markdown_special_byte(b: u8) -> bool {
    b.is_ascii_punctuation() && !markdown_inert(b)
}

/// Whether [`markdown`] changes byte `b`: special, or a line break or tab.
const fn markdown_changes(b: u8) -> bool {
    matches!(b, b'\n' | b'\r' | b'\t') || markdown_special_byte(b)
}

/// [`markdown_changes`] of the bytes `base..base + 64` as bits, computed at compile time:
/// [`markdown`] asks about every byte of millions of values.
const fn markdown_changes_mask(base: u8) -> u64 {
    let mut mask = 0;
    let mut bit = 0;
    while bit < 64 {
        if markdown_changes(base + bit) {
            mask |= 1 << bit;
        }
        bit += 1;
    }
    mask
}

const MARKDOWN_CHANGES_LOW: u64 = markdown_changes_mask(0);
const MARKDOWN_CHANGES_HIGH: u64 = markdown_changes_mask(64);

fn markdown_changes_fast(b: u8) -> bool {
    match b {
        0..64 => MARKDOWN_CHANGES_LOW >> b & 1 == 1,
        64..128 => MARKDOWN_CHANGES_HIGH >> (b - 64) & 1 == 1,
        _ => false,
    }
}

/// A spec string as Markdown text: ASCII punctuation that can be syntax is backslash-
/// escaped (CommonMark lets any of it be), and line breaks become numeric character
/// references, so the text can never open emphasis, code, a link or autolink, raw HTML,
/// a heading, a list item or a table cell, and it stays on one source line (safe inside
/// tables and list items).
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    markdown_into(text, &mut out);
    out
}

/// [`markdown`] of `text`, appended to `out` (the model cards escape their values into
/// one buffer per worker).
pub fn markdown_into(text: &str, out: &mut String) {
    // Every character it changes is ASCII, so it scans bytes (a UTF-8 sequence has no
    // ASCII byte in it) and copies the runs between them whole: cards hold millions of
    // values, almost all of them plain.
    let mut plain = 0;
    for (i, b) in text.bytes().enumerate() {
        if !markdown_changes_fast(b) {
            continue;
        }
        out.push_str(text.get(plain..i).unwrap_or_default());
        match b {
            b'\n' => out.push_str("&#10;"),
            b'\r' => out.push_str("&#13;"),
            b'\t' => out.push_str("&#9;"),
            _ => {
                out.push('\\');
                out.push(char::from(b));
            }
        }
        plain = i + 1;
    }
    out.push_str(text.get(plain..).unwrap_or_default());
}

/// The inverse of [`markdown`] (`None` when `text` is not something it produces).
pub fn markdown_unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '\\' {
            let next = rest.get(1..)?.chars().next()?;
            if !markdown_special(next) {
                return None;
            }
            out.push(next);
            rest = rest.get(2..)?;
        } else if c == '&' {
            let (decoded, len) = [("&#10;", '\n'), ("&#13;", '\r'), ("&#9;", '\t')]
                .into_iter()
                .find(|(entity, _)| rest.starts_with(entity))
                .map(|(entity, ch)| (ch, entity.len()))?;
            out.push(decoded);
            rest = rest.get(len..)?;
        } else if markdown_special(c) || c == '\n' || c == '\r' || c == '\t' {
            return None;
        } else {
            out.push(c);
            rest = rest.get(c.len_utf8()..)?;
        }
    }
    Some(out)
}

/// A spec string as HTML text or attribute value (double-quoted).
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The inverse of [`html`] (`None` for a character reference it does not produce).
pub fn html_unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '&' {
            let (decoded, len) = [
                ("&amp;", '&'),
                ("&lt;", '<'),
                ("&gt;", '>'),
                ("&quot;", '"'),
                ("&#39;", '\''),
            ]
            .into_iter()
            .find(|(entity, _)| rest.starts_with(entity))
            .map(|(entity, ch)| (ch, entity.len()))?;
            out.push(decoded);
            rest = rest.get(len..)?;
        } else {
            out.push(c);
            rest = rest.get(c.len_utf8()..)?;
        }
    }
    Some(out)
}

/// A spec string inside a DOT double-quoted string: `"` and `\` escaped, line breaks as
/// DOT's `\n` (a centred line break in a label).
pub fn dot(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}
