//! The canonical layout (work in progress: returns the text unchanged when it parses).

/// Formats `text`; `None` when it has syntax errors.
pub fn format(text: &str) -> Option<String> {
    let parse = crate::parse(text);
    if parse.has_errors() {
        return None;
    }
    Some(text.to_string())
}

/// `value` as a canonical Plinth string literal: `"` and `\` escaped, line break and tab
/// as `\n` and `\t`, every other control character as `\u{..}`.
pub fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
