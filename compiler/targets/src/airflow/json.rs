//! The JSON documents handed to task containers (`PLINTH_SPEC`), written so Airflow's
//! Jinja templating leaves them alone.
//!
//! KubernetesPodOperator renders its env vars (and arguments, image, labels, ...) with
//! Jinja before starting the pod, so a spec string containing `{{ ... }}` or `{% ... %}`
//! would run as a template. Jinja only reacts to `{{`, `{%` and `{#`; in pretty-printed
//! JSON a structural `{` is always followed by a newline or `}`, so writing `{` and `}`
//! inside strings as `\u007b` and `\u007d` leaves no delimiter anywhere. JSON escapes
//! control characters and the document ends with `}`, so Jinja's newline handling and
//! Airflow's template-file extensions (`.json`, `.yaml`) cannot touch it either.

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};
use std::io;

/// Pretty JSON of `value` with no Jinja delimiter in it.
pub fn jinja_inert_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::new();
    // An empty document would fail loudly downstream (the DAG test suite parses every
    // PLINTH_SPEC).
    if write_jinja_inert_json(value, &mut out).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// [`jinja_inert_json`], appended to `out` (a buffer the caller reuses). Serializing the
/// typed documents of this target into memory cannot fail; the error is serde's.
pub fn write_jinja_inert_json<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, JinjaInert(PrettyFormatter::new()));
    value.serialize(&mut ser)
}

struct JinjaInert<'a>(PrettyFormatter<'a>);

impl Formatter for JinjaInert<'_> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some(pos) = rest.find(['{', '}']) {
            let (head, tail) = rest.split_at(pos);
            writer.write_all(head.as_bytes())?;
            let mut chars = tail.chars();
            let escape: &[u8] = if chars.next() == Some('{') {
                b"\\u007b"
            } else {
                b"\\u007d"
            };
            writer.write_all(escape)?;
            rest = chars.as_str();
        }
        writer.write_all(rest.as_bytes())
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(writer, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_value(writer)
    }
}
