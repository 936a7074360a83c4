//! plinth-syntax: source text to syntax tree, and the diagnostic type every phase uses.
//!
//! Architecture invariant: this crate knows nothing about salsa, kinds or files on disk.
//! `parse` never fails and never panics: it returns a tree (with `Error` nodes where the
//! text made no sense) plus diagnostics.

pub mod ast;
mod diagnostic;
mod span;

pub use diagnostic::{Diagnostic, Related, Severity};
pub use span::{Span, line_col};
