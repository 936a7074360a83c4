//! The DAG template rendered once per *shape* of DAG, then filled by splicing.
//!
//! Rendering `dag.py.hbs` through handlebars for each of ~10,000 DAGs per environment
//! cost more than everything else the target does: handlebars turns the whole context
//! into a `serde_json::Value` tree (copying every fragment, the `PLINTH_SPEC` documents
//! included) and looks each name up in it. But what the template *decides* (how many
//! tasks, comment and argument lines, which optional lines) depends only on the counts
//! and flags of the context, its [`shape`](Skeleton::shape). So handlebars renders each
//! shape once, with a marker in place of every fragment; each DAG of that shape is the
//! skeleton's text with its own fragments put where the markers were. The output is
//! exactly what handlebars would write for the DAG, because the template inserts every
//! fragment verbatim (no escaping) and never branches on a fragment's text, only on
//! whether an optional one is present.

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
/// A fragment may appear several times (the template writes `resources` twice).
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
                .ok_or_else(|| format!("the DAG template holds an unknown marker `{index}`"))?;
            let next = parts
                .next()
                .ok_or_else(|| "the DAG template holds a NUL character".to_string())?;
            pieces.push((text.to_string(), index));
            text = next;
        }
        Ok(Skeleton {
            pieces,
            tail: text.to_string(),
        })
    }

    /// The file: the skeleton with `fragments` spliced in, appended to `out`.
    pub fn fill(&self, fragments: &[String], out: &mut String) -> Result<(), String> {
        let len = self.tail.len()
            + self
                .pieces
                .iter()
                .map(|(text, i)| text.len() + fragments.get(*i).map_or(0, String::len))
                .sum::<usize>();
        out.reserve(len);
        for (text, index) in &self.pieces {
            out.push_str(text);
            let fragment = fragments.get(*index).ok_or_else(|| {
                format!("fragment {index} is missing ({} given)", fragments.len())
            })?;
            out.push_str(fragment);
        }
        out.push_str(&self.tail);
        Ok(())
    }
}
