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
//! Users: `airflow` (whose template inserts every fragment verbatim),
//! `evidence::card` (whose template escapes every value for Markdown; a marker holds no
//! character that escape changes) and `triton` (whose skeleton is rendered without
//! escaping, as its escape would change a marker's NUL; each fragment is escaped).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

/// A value a template writes: mostly a spec string borrowed from the platform (which
/// spares a copy of every string of thousands of outputs), owned where it is made for
/// the output, or where a marker takes its place when the skeleton is rendered.
pub type Text<'a> = Cow<'a, str>;

/// Whether handlebars' `{{#if}}` holds for a text value: present and not empty. A
/// shape holds it for each `if` a template tests on a value.
pub fn truthy(text: Option<&Text<'_>>) -> bool {
    text.is_some_and(|t| !t.is_empty())
}

/// A count in a shape (how often an `{{#each}}` repeats).
pub fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

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

/// The skeletons of one template by shape, shared by the workers rendering one set of
/// files. Which worker renders a shape first does not matter: every output of a shape
/// gets the same skeleton.
#[derive(Default)]
pub struct Skeletons(Mutex<HashMap<Vec<u32>, Arc<Skeleton>>>);

impl Skeletons {
    /// The skeleton of `shape`; the first time that shape comes, `render` gives the
    /// template rendered with markers (for a context of that shape) and the number of
    /// fragments.
    pub fn get(
        &self,
        shape: &[u32],
        render: impl FnOnce() -> Result<(String, usize), String>,
    ) -> Result<Arc<Skeleton>, String> {
        // Held while a new shape renders: only the first outputs of each shape wait on it.
        let mut skeletons = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(skeleton) = skeletons.get(shape) {
            return Ok(Arc::clone(skeleton));
        }
        let (rendered, fragments) = render()?;
        let skeleton = Arc::new(Skeleton::parse(&rendered, fragments)?);
        skeletons.insert(shape.to_vec(), Arc::clone(&skeleton));
        Ok(skeleton)
    }
}

/// One output's fragments, written one after another into one buffer a worker reuses.
#[derive(Default)]
pub struct Fragments {
    text: String,
    /// Fragment `i` ends at `ends[i]`.
    ends: Vec<usize>,
}

impl Fragments {
    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    /// Adds the next fragment: what `write` appends to the buffer.
    pub fn push_with(&mut self, write: impl FnOnce(&mut String)) {
        write(&mut self.text);
        self.ends.push(self.text.len());
    }

    /// Fragment `index`, the lookup [`Skeleton::fill`] takes.
    pub fn get(&self, index: usize) -> Option<&str> {
        let start = match index.checked_sub(1) {
            Some(before) => *self.ends.get(before)?,
            None => 0,
        };
        self.text.get(start..*self.ends.get(index)?)
    }
}
