//! The one diagnostic type of Plinth. Every phase reports through it; the CLI renders it
//! (miette for humans, JSON, SARIF, JUnit) in one place.

use crate::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A secondary location with its own message ("first declared here").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Related {
    pub file: String,
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// Stable code, e.g. `plinth::type::unit`; documented in `plinth explain`.
    pub code: String,
    pub severity: Severity,
    /// Lowercase sentence; user input in backticks.
    pub message: String,
    /// Workspace-relative path of the file the span points into; filled in by the
    /// phase that knows the file (the parser does not).
    pub file: String,
    pub span: Span,
    /// Short text under the primary span.
    pub label: Option<String>,
    pub help: Option<String>,
    pub related: Vec<Related>,
    /// The policy id for policy violations.
    pub policy: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, code, span, message)
    }

    pub fn warning(code: &str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, code, span, message)
    }

    fn new(severity: Severity, code: &str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code: code.to_string(),
            severity,
            message: message.into(),
            file: String::new(),
            span,
            label: None,
            help: None,
            related: Vec::new(),
            policy: None,
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_file(mut self, file: &str) -> Diagnostic {
        self.file = file.to_string();
        self
    }

    pub fn with_related(
        mut self,
        file: &str,
        span: Span,
        message: impl Into<String>,
    ) -> Diagnostic {
        self.related.push(Related {
            file: file.to_string(),
            span,
            message: message.into(),
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The documentation of one diagnostic code, for `plinth explain`: what it means, why
/// it matters, an example and the fix. Each phase keeps a table of these for its codes;
/// the CLI looks codes up across all tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeDoc {
    pub code: &'static str,
    pub summary: &'static str,
    pub why: &'static str,
    pub example: &'static str,
    pub fix: &'static str,
}

impl CodeDoc {
    pub const fn new(
        code: &'static str,
        summary: &'static str,
        why: &'static str,
        example: &'static str,
        fix: &'static str,
    ) -> CodeDoc {
        CodeDoc {
            code,
            summary,
            why,
            example,
            fix,
        }
    }
}
