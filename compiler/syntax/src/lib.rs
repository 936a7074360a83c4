//! plinth-syntax: source text to syntax tree, and the diagnostic type every phase uses.
//!
//! Architecture invariant: this crate knows nothing about salsa, kinds or files on disk.
//! `parse` never fails and never panics: it returns a tree (with `Error` nodes where the
//! text made no sense) plus diagnostics.
//!
//! - [`parse()`]: text to [`Parse`] (tree + diagnostics).
//! - [`format()`]: the one canonical layout (`plinth fmt`), `None` on syntax errors.
//! - [`dump()`]: a span-free tree dump for tests.

pub mod ast;
mod diagnostic;
mod dump;
mod fmt;
mod lexer;
mod parser;
mod span;
mod suggest;

pub use diagnostic::{CodeDoc, Diagnostic, Related, Severity};
pub use dump::dump;
pub use fmt::{FormatError, format, format_checked, string_literal};
pub use parser::MAX_DEPTH;
pub use span::{Span, line_col};
pub use suggest::did_you_mean;

/// Stable diagnostic codes of the syntax phase. Never reuse or rename one.
pub mod codes {
    /// A token that cannot appear here. The message names what was expected
    /// (`expected `:` or `{` after `replicas`, found `3``); the help shows the shape.
    /// Example: `replicas = 3`. Fix: `replicas: 3`.
    pub const UNEXPECTED: &str = "plinth::syntax::unexpected";
    /// An unclosed `{`, `[`, `(`, string or block comment; the span is the opener, since
    /// the end of the file (or line, for strings) says little about where the fix goes.
    /// Example: `team a {` with no `}`. Fix: add the closer.
    pub const UNCLOSED: &str = "plinth::syntax::unclosed";
    /// A bad escape in a string literal. Example: `"a\q"`, `"\u{110000}"`.
    /// Fix: use `\"`, `\\`, `\n`, `\t` or `\u{hex}`.
    pub const STRING: &str = "plinth::syntax::string";
    /// A malformed number or date. Example: `1.2.3`, `1_000`, `2027-02-30`.
    /// Fix: `1000`, a real `YYYY-MM-DD` date.
    pub const NUMBER: &str = "plinth::syntax::number";
    /// An identifier with uppercase letters or a leading digit. Example: `FraudApi`.
    /// Fix: the help suggests the snake_case form, `fraud_api`.
    pub const IDENT: &str = "plinth::syntax::ident";
    /// Bodies, lists, records or calls nested deeper than [`crate::MAX_DEPTH`]; the inner
    /// part is skipped. Example: generated input with 100 nested lists. Fix: flatten it.
    pub const NESTING: &str = "plinth::syntax::nesting";
}

/// The result of parsing one file: always a tree, plus what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parse {
    pub file: ast::SourceFile,
    /// In source order; `file` is left empty (the caller knows the path).
    pub diagnostics: Vec<Diagnostic>,
}

impl Parse {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parse one `.plinth` file. Never panics; every problem becomes a diagnostic.
pub fn parse(text: &str) -> Parse {
    parser::parse(text)
}
