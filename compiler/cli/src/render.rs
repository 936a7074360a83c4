//! Rendering diagnostics: miette for people, JSON for tools. The one place that turns
//! `plinth_syntax::Diagnostic` into text.

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource, Report,
};
use plinth_syntax::{Diagnostic, Severity, line_col};
use serde::Serialize;
use std::collections::BTreeMap;

/// Source texts by workspace-relative path (stdlib included).
/// Every file's text by path; the workspace's texts are shared with the database.
pub type Sources = BTreeMap<String, std::sync::Arc<str>>;

pub fn human(diags: &[Diagnostic], sources: &Sources, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    for d in diags {
        let mut md = MietteDiagnostic::new(d.message.clone())
            .with_code(d.code.clone())
            .with_severity(match d.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            });
        let mut help = d.help.clone();
        let text = sources.get(&d.file);
        if text.is_some() {
            md = md.with_label(LabeledSpan::new_primary_with_span(
                d.label.clone(),
                d.span.range(),
            ));
            for r in &d.related {
                if r.file == d.file {
                    md = md.with_label(LabeledSpan::new_with_span(
                        Some(r.message.clone()),
                        r.span.range(),
                    ));
                } else if let Some(other) = sources.get(&r.file) {
                    let (line, col) = line_col(other, r.span.start as usize);
                    let note = format!("{} at {}:{line}:{col}", r.message, r.file);
                    help = Some(match help {
                        Some(h) => format!("{h}\n{note}"),
                        None => note,
                    });
                }
            }
        }
        if let Some(h) = help {
            md = md.with_help(h);
        }
        let report = match text {
            Some(t) => {
                Report::new(md).with_source_code(NamedSource::new(d.file.clone(), t.clone()))
            }
            None => {
                let mut md = md;
                if !d.file.is_empty() {
                    md.message = format!("{}: {}", d.file, md.message);
                }
                Report::new(md)
            }
        };
        let _ = handler.render_report(&mut out, report.as_ref());
        out.push('\n');
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    out.push_str(&format!(
        "{errors} error{}, {warnings} warning{}\n",
        plural(errors),
        plural(warnings)
    ));
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    severity: &'static str,
    code: &'a str,
    message: &'a str,
    help: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a str>,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
}

#[derive(Serialize)]
struct Summary {
    errors: usize,
    warnings: usize,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    diagnostics: Vec<JsonDiagnostic<'a>>,
    summary: Summary,
}

/// 1-based start and end positions of a diagnostic.
pub fn positions(d: &Diagnostic, sources: &Sources) -> (usize, usize, usize, usize) {
    match sources.get(&d.file) {
        Some(text) => {
            let (line, column) = line_col(text, d.span.start as usize);
            let (end_line, end_column) = line_col(text, d.span.end as usize);
            (line, column, end_line, end_column)
        }
        None => (1, 1, 1, 1),
    }
}

pub fn json(diags: &[Diagnostic], sources: &Sources) -> String {
    let diagnostics = diags
        .iter()
        .map(|d| {
            let (line, column, end_line, end_column) = positions(d, sources);
            JsonDiagnostic {
                severity: d.severity.as_str(),
                code: &d.code,
                message: &d.message,
                help: d.help.as_deref(),
                policy: d.policy.as_deref(),
                file: &d.file,
                line,
                column,
                end_line,
                end_column,
            }
        })
        .collect();
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let report = JsonReport {
        diagnostics,
        summary: Summary {
            errors,
            warnings: diags.len() - errors,
        },
    };
    let mut out = serde_json::to_string_pretty(&report).unwrap_or_default();
    out.push('\n');
    out
}
