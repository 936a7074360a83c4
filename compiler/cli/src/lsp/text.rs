//! Positions and URIs: LSP speaks UTF-16 line/character positions and `file://` URIs;
//! the compiler speaks byte offsets and workspace-relative paths.

use lsp_types::{Position, Range, TextDocumentContentChangeEvent, Uri};
use plinth_syntax::Span;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Byte offsets of line starts, for converting in both directions.
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> LineIndex<'a> {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { text, starts }
    }

    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self
            .starts
            .partition_point(|s| *s <= offset)
            .saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0);
        let character = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.encode_utf16().count());
        Position::new(to_u32(line), to_u32(character))
    }

    pub fn range(&self, span: Span) -> Range {
        Range::new(
            self.position(span.start as usize),
            self.position(span.end as usize),
        )
    }

    /// The byte offset of a position; past the end of a line clamps to its end.
    pub fn offset(&self, pos: Position) -> usize {
        let Some(&start) = self.starts.get(pos.line as usize) else {
            return self.text.len();
        };
        let end = self
            .starts
            .get(pos.line as usize + 1)
            .map_or(self.text.len(), |n| n.saturating_sub(1));
        let line = self.text.get(start..end).unwrap_or("");
        let mut units = 0u32;
        for (i, c) in line.char_indices() {
            if units >= pos.character {
                return start + i;
            }
            units += u32::try_from(c.len_utf16()).unwrap_or(1);
        }
        end
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Applies one `didChange` content change (a range edit, or the whole text).
pub fn apply_change(text: &mut String, change: TextDocumentContentChangeEvent) {
    match change.range {
        None => *text = change.text,
        Some(range) => {
            let index = LineIndex::new(text);
            let start = index.offset(range.start);
            let end = index.offset(range.end).max(start);
            if text.is_char_boundary(start) && text.is_char_boundary(end) {
                text.replace_range(start..end, &change.text);
            }
        }
    }
}

/// The local path of a `file://` URI.
pub fn uri_to_path(uri: &Uri) -> Option<PathBuf> {
    let rest = uri.as_str().strip_prefix("file://")?;
    // `file://host/path` is not local; `file:///path` has an empty host.
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') {
        return None;
    }
    let decoded = percent_decode(path)?;
    // `/C:/dir` on Windows.
    let windows = decoded.len() > 2 && decoded.as_bytes().get(2) == Some(&b':');
    Some(PathBuf::from(if windows {
        decoded.get(1..).unwrap_or(&decoded).to_string()
    } else {
        decoded
    }))
}

pub fn path_to_uri(path: &Path) -> Option<Uri> {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut out = String::from("file://");
    if !text.starts_with('/') {
        out.push('/');
    }
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else if b == b':' && out.len() <= 9 {
            // The drive letter's colon stays: `file:///C:/dir`.
            out.push(':');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Uri::from_str(&out).ok()
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units() {
        let text = "ab\ncé𝄞x\n";
        let index = LineIndex::new(text);
        assert_eq!(index.position(0), Position::new(0, 0));
        assert_eq!(index.position(3), Position::new(1, 0));
        // `é` is one UTF-16 unit, `𝄞` two.
        let x = text.find('x').unwrap();
        assert_eq!(index.position(x), Position::new(1, 4));
        assert_eq!(index.offset(Position::new(1, 4)), x);
        assert_eq!(index.offset(Position::new(1, 99)), text.len() - 1);
        assert_eq!(index.offset(Position::new(9, 0)), text.len());
    }

    #[test]
    fn range_edits_apply() {
        let mut text = String::from("memory: 4Gi\nx\n");
        apply_change(
            &mut text,
            TextDocumentContentChangeEvent {
                range: Some(Range::new(Position::new(0, 9), Position::new(0, 11))),
                range_length: None,
                text: "GB".into(),
            },
        );
        assert_eq!(text, "memory: 4GB\nx\n");
    }

    #[test]
    fn uris_round_trip() {
        let path = PathBuf::from("/tmp/a b/c%d.plinth");
        let uri = path_to_uri(&path).unwrap();
        assert_eq!(uri.as_str(), "file:///tmp/a%20b/c%25d.plinth");
        assert_eq!(uri_to_path(&uri).unwrap(), path);
    }
}
