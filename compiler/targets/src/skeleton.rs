//! A template rendered once per *shape* of context, then filled by splicing.
//!
//! Rendering a handlebars template for each of thousands of contexts per environment
//! (Airflow's DAGs, the evidence's model cards) cost more than everything else those
//! targets do: handlebars turns the whole context into a `serde_json::Value` tree
//! (copying every value) and looks each name up in it from the root. But what a template
//! *decides* (how often an `each` repeats, which `if`s hold) depends only on the counts
//! and flags of the context, its *shape*. So handlebars renders each shape once, with a
//! marker in place of every fragment (a value the template writes but never tests); each
//! output of that shape is the skeleton's text with its own fragments put where the
//! markers were. The output is exactly what handlebars would write when each fragment is
//! what the template would write for its value (escaped as the template escapes it) and
//! the shape holds everything the template branches on; each user has a test that
//! renders both ways and compares.
//!
//! Users: `airflow` (whose template inserts every fragment verbatim) and
//! `evidence::card` (whose template escapes every value for Markdown; a marker holds no
//! character that escape changes).

use std::fmt::Write as _;

/// Ends the text before a marker and the marker's number. The template holds no NUL and
/// a marker is only ever looked for in a skeleton, never in a fragment, so fragments may
/// contain anything.
const MARK: char = '\0';

/// The marker of fragment `index`, as rendered into a skeleton.
pub fn marker(index: usize) -> String {
    let mut out = String::with_capacity(8);
    out.push(MARK);
    // Writing into a `String` cannot fail.
    let _ = write!(out, "{index}");
    out.push(MARK);
    out
}

/// A rendered skeleton: text, then the fragment that follows it, repeated; then the tail.
/// A fragment may appear several times (the DAG template writes `resources` twice).
pub struct Skeleton {
    pieces: Vec<(String, usize)>,
    tail: String,
}

impl Skeleton {
    /// Cuts `rendered` (the template rendered with `marker(i)` as fragment `i`, for
    /// `fragments` fragments) at its markers.
    pub fn parse(rendered: &str, fragments: usize) -> Result<Skeleton, String> {
        let mut parts = rendered.split(MARK);
        let mut pieces = Vec::new();
        let mut text = parts.next().unwrap_or_default();
        while let Some(index) = parts.next() {
            let index: usize = index
                .parse()
                .ok()
                .filter(|i| *i < fragments)
                .ok_or_else(|| format!("the template holds an unknown marker `{index}`"))?;
            let next = parts
                .next()
                .ok_or_else(|| "the template holds a NUL character".to_string())?;
            pieces.push((text.to_string(), index));
            text = next;
        }
        Ok(Skeleton {
            pieces,
            tail: text.to_string(),
        })
    }

    /// The file: the skeleton with the fragments spliced in (fragment `i` is
    /// `fragment(i)`), appended to `out`.
    pub fn fill<'f>(
        &self,
        fragment: impl Fn(usize) -> Option<&'f str>,
        out: &mut String,
    ) -> Result<(), String> {
        let len = self.tail.len()
            + self
                .pieces
                .iter()
                .map(|(text, i)| text.len() + fragment(*i).map_or(0, str::len))
                .sum::<usize>();
        out.reserve(len);
        for (text, index) in &self.pieces {
            out.push_str(text);
            out.push_str(fragment(*index).ok_or_else(|| format!("fragment {index} is missing"))?);
        }
        out.push_str(&self.tail);
        Ok(())
    }
}
