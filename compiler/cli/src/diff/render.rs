//! Rendering a [`Report`]: `human` (a terminal, optionally coloured), `markdown` (a
//! pull-request comment, one `<details>` per target, cut to a character budget with a
//! note) and `json`. Every renderer prints the summary before the file diffs.

use super::output::{FileStatus, TargetDelta};
use super::semantic::{ChangeKind, DeclChange, FieldChange};
use super::{Finding, Report, Violation, WaiverInfo};
use std::fmt::Write;

/// GitHub rejects comments over 65,536 characters; stay clearly below.
pub const MARKDOWN_LIMIT: usize = 65_000;

/// A hidden marker so CI can find and update its own comment.
pub const MARKDOWN_MARKER: &str = "<!-- plinth-diff -->";

pub fn json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_default();
    text.push('\n');
    text
}

/// ANSI colours, or none.
struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn bold(&self, t: &str) -> String {
        self.wrap("1", t)
    }
    fn green(&self, t: &str) -> String {
        self.wrap("32", t)
    }
    fn red(&self, t: &str) -> String {
        self.wrap("31", t)
    }
    fn yellow(&self, t: &str) -> String {
        self.wrap("33", t)
    }
    fn cyan(&self, t: &str) -> String {
        self.wrap("36", t)
    }
    fn dim(&self, t: &str) -> String {
        self.wrap("2", t)
    }
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("(none)")
}

fn field_line(c: &FieldChange) -> String {
    format!("{}: {} → {}", c.path, opt(&c.before), opt(&c.after))
}

fn decl_title(d: &DeclChange) -> String {
    match (&d.change, &d.renamed_from) {
        (ChangeKind::Renamed, Some(from)) => {
            format!("{} {from} → {} (renamed, body unchanged)", d.kind, d.name)
        }
        _ => format!("{} {}", d.kind, d.name),
    }
}

fn violation_line(v: &Violation) -> String {
    let waived = v
        .waived_by
        .as_ref()
        .map(|w| format!(" (waived by `{w}`)"))
        .unwrap_or_default();
    format!(
        "{} {} on `{}`: {}{waived}",
        v.severity, v.policy, v.target, v.message
    )
}

fn finding_line(f: &Finding) -> String {
    format!("{} {}: {}", f.severity, f.code, f.message)
}

fn waiver_line(w: &WaiverInfo) -> String {
    let when = match w.days_left {
        d if d < 0 => format!("expired {} day(s) ago", -d),
        0 => "expires today".to_string(),
        d => format!("in {d} day(s)"),
    };
    format!(
        "`{}` waives {} for {}, expires {} ({when})",
        w.name,
        w.policy,
        w.targets
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", "),
        w.expires
    )
}

/// Each policy change as `(sign, heading, line)`, in reading order. The sign says how
/// a reviewer should read it: `+` worse, `-` better, `~` neutral, `!` act soon.
fn policy_lines(report: &Report) -> Vec<(char, &'static str, String)> {
    let p = &report.policy;
    let mut lines = Vec::new();
    lines.extend(
        p.introduced
            .iter()
            .map(|v| ('+', "introduced", violation_line(v))),
    );
    lines.extend(
        p.resolved
            .iter()
            .map(|v| ('-', "resolved", violation_line(v))),
    );
    lines.extend(
        p.now_waived
            .iter()
            .map(|v| ('~', "now waived", violation_line(v))),
    );
    lines.extend(
        p.no_longer_waived
            .iter()
            .map(|v| ('+', "no longer waived", violation_line(v))),
    );
    lines.extend(
        p.findings_introduced
            .iter()
            .map(|f| ('+', "introduced", finding_line(f))),
    );
    lines.extend(
        p.findings_resolved
            .iter()
            .map(|f| ('-', "resolved", finding_line(f))),
    );
    lines.extend(
        p.waivers_added
            .iter()
            .map(|w| ('~', "waiver added", waiver_line(w))),
    );
    lines.extend(
        p.waivers_removed
            .iter()
            .map(|w| ('~', "waiver removed", waiver_line(w))),
    );
    lines.extend(
        p.waivers_expiring
            .iter()
            .map(|w| ('!', "waiver expiring", waiver_line(w))),
    );
    lines
}

/// The file an entry belongs to: objects of a multi-document file (`file#Kind/name`)
/// count as that one file.
fn file_of(path: &str) -> &str {
    path.split('#').next().unwrap_or(path)
}

fn counts(report: &Report) -> String {
    let count = |k: ChangeKind| report.declarations.iter().filter(|d| d.change == k).count();
    let files: usize = report
        .outputs
        .iter()
        .map(|t| {
            let paths: std::collections::BTreeSet<&str> =
                t.files.iter().map(|f| file_of(&f.path)).collect();
            paths.len()
        })
        .sum();
    let p = &report.policy;
    format!(
        "{} declaration(s) changed, {} added, {} removed, {} renamed; policy: {} violation(s) introduced, {} resolved; output: {files} file(s) in {} target(s)",
        count(ChangeKind::Changed),
        count(ChangeKind::Added),
        count(ChangeKind::Removed),
        count(ChangeKind::Renamed),
        p.introduced.len() + p.no_longer_waived.len(),
        p.resolved.len(),
        report.outputs.len(),
    )
}

fn status_word(s: FileStatus) -> (&'static str, char) {
    match s {
        FileStatus::Added => ("added", '+'),
        FileStatus::Removed => ("removed", '-'),
        FileStatus::Changed => ("changed", '~'),
    }
}

pub fn human(report: &Report, color: bool) -> String {
    let paint = Paint(color);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        paint.bold(&format!("plinth diff {} → {}", report.old, report.new))
    );
    for n in &report.notes {
        let _ = writeln!(out, "{} {n}", paint.yellow("note:"));
    }
    if report.is_empty() {
        let _ = writeln!(out, "\nNo changes.");
        return out;
    }
    let _ = writeln!(out, "{}", paint.dim(&counts(report)));
    if !report.declarations.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Declarations"));
        for d in &report.declarations {
            let (sign, title) = match d.change {
                ChangeKind::Added => (paint.green("+"), paint.green(&decl_title(d))),
                ChangeKind::Removed => (paint.red("-"), paint.red(&decl_title(d))),
                ChangeKind::Renamed | ChangeKind::Changed => {
                    (paint.yellow("~"), paint.yellow(&decl_title(d)))
                }
            };
            let _ = writeln!(
                out,
                "  {sign} {title} {}",
                paint.dim(&format!("({})", d.file))
            );
            for f in &d.fields {
                let _ = writeln!(out, "      {}", field_line(f));
            }
        }
    }
    if !report.derived.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Derived facts"));
        for f in &report.derived {
            let _ = writeln!(out, "      {}", field_line(f));
        }
    }
    let policy = policy_lines(report);
    if !policy.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Policy"));
        for (sign, heading, line) in policy {
            let s = sign.to_string();
            let s = match sign {
                '+' | '!' => paint.red(&s),
                '-' => paint.green(&s),
                _ => paint.yellow(&s),
            };
            let _ = writeln!(out, "  {s} {heading}: {line}");
        }
    }
    if !report.outputs.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Output"));
        for t in &report.outputs {
            let _ = writeln!(out, "  {}/{}", t.environment, t.target);
            if let Some(line) = spec_hash_line(&t.files) {
                let _ = writeln!(out, "    {}", paint.dim(&format!("~ {line}")));
            }
            for f in t.files.iter().filter(|f| !f.spec_hash_only) {
                let (word, sign) = status_word(f.status);
                let line = format!(
                    "{sign} {} ({word}, +{} -{})",
                    f.path, f.added_lines, f.removed_lines
                );
                let line = match f.status {
                    FileStatus::Added => paint.green(&line),
                    FileStatus::Removed => paint.red(&line),
                    FileStatus::Changed => paint.yellow(&line),
                };
                let _ = writeln!(out, "    {line}");
            }
        }
        for t in &report.outputs {
            for f in t
                .files
                .iter()
                .filter(|f| !f.diff.is_empty() && !f.spec_hash_only)
            {
                out.push('\n');
                for line in f.diff.lines() {
                    let line = if line.starts_with("+++") || line.starts_with("---") {
                        paint.bold(line)
                    } else if line.starts_with('+') {
                        paint.green(line)
                    } else if line.starts_with('-') {
                        paint.red(line)
                    } else if line.starts_with("@@") {
                        paint.cyan(line)
                    } else {
                        line.to_string()
                    };
                    let _ = writeln!(out, "{line}");
                }
            }
        }
    }
    out
}

/// One line for the files (or objects) whose only change is a spec-hash label (a service's hash
/// covers its model, so a model change touches all its objects).
fn spec_hash_line(files: &[super::output::FileDelta]) -> Option<String> {
    let names: Vec<&str> = files
        .iter()
        .filter(|f| f.spec_hash_only)
        .map(|f| f.path.as_str())
        .collect();
    let objects = names.iter().filter(|n| n.contains('#')).count();
    let unit = if objects == 0 {
        "file(s)"
    } else if objects == names.len() {
        "object(s)"
    } else {
        "file(s) or object(s)"
    };
    (!names.is_empty()).then(|| {
        format!(
            "{} {unit} where only the spec hash changed: {}",
            names.len(),
            names.join(", ")
        )
    })
}

/// Inline code that survives backticks and `|` in the value (Markdown tables).
fn code(text: &str) -> String {
    let text = text.replace('|', "\\|").replace('\n', " ");
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

/// A fence longer than any run of backticks in `text`.
fn fence(text: &str) -> String {
    let mut longest = 0usize;
    let mut run = 0usize;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Markdown of a PR comment, at most `limit` bytes (so at most `limit` characters).
/// The summary comes first; file diffs are added while they fit, the rest are listed
/// as left out, with a note saying how to see them.
pub fn markdown(report: &Report, limit: usize) -> String {
    let mut head = String::new();
    let _ = writeln!(head, "{MARKDOWN_MARKER}\n### plinth diff\n");
    let _ = writeln!(head, "{} → {}\n", code(&report.old), code(&report.new));
    for n in &report.notes {
        let _ = writeln!(head, "> **Note:** {n}\n");
    }
    if report.is_empty() {
        let _ = writeln!(
            head,
            "No changes to declarations, policies or generated files."
        );
        return cut(head, limit);
    }
    let _ = writeln!(head, "{}\n", counts(report));
    if !report.declarations.is_empty() {
        let _ = writeln!(head, "#### Declarations\n");
        let _ = writeln!(head, "| | declaration | field | before | after |");
        let _ = writeln!(head, "|---|---|---|---|---|");
        for d in &report.declarations {
            let sign = match d.change {
                ChangeKind::Added => "➕ added",
                ChangeKind::Removed => "➖ removed",
                ChangeKind::Renamed => "✏️ renamed",
                ChangeKind::Changed => "🔧 changed",
            };
            let name = format!("{} {}", d.kind, code(&d.name));
            match (&d.change, &d.renamed_from) {
                (ChangeKind::Renamed, Some(from)) => {
                    let _ = writeln!(
                        head,
                        "| {sign} | {name} | | {} | {} |",
                        code(from),
                        code(&d.name)
                    );
                }
                _ if d.fields.is_empty() => {
                    let _ = writeln!(head, "| {sign} | {name} | | | |");
                }
                _ => {
                    for (i, f) in d.fields.iter().enumerate() {
                        let (s, n) = if i == 0 {
                            (sign, name.as_str())
                        } else {
                            ("", "")
                        };
                        let _ = writeln!(
                            head,
                            "| {s} | {n} | {} | {} | {} |",
                            code(&f.path),
                            f.before.as_deref().map(code).unwrap_or_default(),
                            f.after.as_deref().map(code).unwrap_or_default()
                        );
                    }
                }
            }
        }
        head.push('\n');
    }
    if !report.derived.is_empty() {
        let _ = writeln!(head, "#### Derived facts\n");
        let _ = writeln!(head, "| fact | before | after |\n|---|---|---|");
        for f in &report.derived {
            let _ = writeln!(
                head,
                "| {} | {} | {} |",
                code(&f.path),
                f.before.as_deref().map(code).unwrap_or_default(),
                f.after.as_deref().map(code).unwrap_or_default()
            );
        }
        head.push('\n');
    }
    let policy = policy_lines(report);
    if !policy.is_empty() {
        let _ = writeln!(head, "#### Policy\n");
        for (sign, heading, line) in policy {
            let icon = match sign {
                '+' => "🔴",
                '-' => "🟢",
                '!' => "⏰",
                _ => "🟡",
            };
            let _ = writeln!(head, "- {icon} **{heading}**: {line}");
        }
        head.push('\n');
    }
    if report.outputs.is_empty() {
        return cut(head, limit);
    }
    let _ = writeln!(head, "#### Generated files\n");
    let truncation_note = "\n> **Truncated:** some file diffs are left out to keep this comment under GitHub's size limit. Run `plinth diff` locally (or `--format json`) for all of them.\n";
    // Every section lists all its files (the index); diffs fill what budget is left.
    let sections: Vec<(String, String, Vec<String>)> =
        report.outputs.iter().map(section_parts).collect();
    let closing = "</details>\n\n";
    let fixed: usize = head.len()
        + truncation_note.len()
        + sections
            .iter()
            .map(|(h, l, _)| h.len() + l.len() + closing.len() + 64)
            .sum::<usize>();
    if fixed > limit {
        // Not even the file lists fit: name each section only.
        for t in &report.outputs {
            let _ = write!(
                head,
                "<details><summary><code>{}/{}</code>: {} file(s), list left out</summary>\n</details>\n\n",
                escape_html(&t.environment),
                escape_html(&t.target),
                t.files.len()
            );
        }
        head.push_str(truncation_note);
        return cut(head, limit);
    }
    let mut budget = limit - fixed;
    let mut truncated = false;
    for (header, listing, blocks) in sections {
        head.push_str(&header);
        head.push_str(&listing);
        let mut left_out = 0usize;
        for block in blocks {
            if !truncated && block.len() <= budget {
                budget -= block.len();
                head.push_str(&block);
            } else {
                truncated = true;
                left_out += 1;
            }
        }
        if left_out > 0 {
            let _ = writeln!(head, "_The diffs of {left_out} file(s) are left out._\n");
        }
        head.push_str(closing);
    }
    if truncated {
        head.push_str(truncation_note);
    }
    cut(head, limit)
}

/// A target's `<details>` opening, its file list, and one block per file diff.
fn section_parts(t: &TargetDelta) -> (String, String, Vec<String>) {
    // Counted in files: the objects of one multi-document file are one change.
    let count = |status: FileStatus| {
        let files: std::collections::BTreeSet<&str> = t
            .files
            .iter()
            .filter(|f| f.status == status)
            .map(|f| file_of(&f.path))
            .collect();
        files.len()
    };
    let (a, r, c) = (
        count(FileStatus::Added),
        count(FileStatus::Removed),
        count(FileStatus::Changed),
    );
    let header = format!(
        "<details><summary><code>{}/{}</code>: {c} changed, {a} added, {r} removed</summary>\n\n",
        escape_html(&t.environment),
        escape_html(&t.target)
    );
    let mut listing = String::new();
    if let Some(line) = spec_hash_line(&t.files) {
        let _ = writeln!(listing, "- {line}");
    }
    let mut blocks = Vec::new();
    for f in t.files.iter().filter(|f| !f.spec_hash_only) {
        let (word, _) = status_word(f.status);
        let _ = writeln!(
            listing,
            "- {} {word} (+{} -{})",
            code(&f.path),
            f.added_lines,
            f.removed_lines
        );
        if !f.diff.is_empty() {
            let fence = fence(&f.diff);
            blocks.push(format!(
                "**{}**\n\n{fence}diff\n{}{fence}\n\n",
                code(&f.path),
                f.diff
            ));
        }
    }
    listing.push('\n');
    (header, listing, blocks)
}

/// Last resort when even the summary is too long: cut at a line boundary with a note.
fn cut(text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let note = "\n\n> **Truncated:** this comment hit GitHub's size limit. Run `plinth diff` locally for the whole diff.\n";
    let budget = limit.saturating_sub(note.len());
    let mut end = 0usize;
    for (i, _) in text.match_indices('\n') {
        if i + 1 > budget {
            break;
        }
        end = i + 1;
    }
    let mut out = text.get(..end).unwrap_or("").to_string();
    out.push_str(note);
    out
}

#[cfg(test)]
mod tests {
    use super::super::output::FileDelta;
    use super::*;

    fn big_report(files: usize, lines: usize) -> Report {
        let diff: String = std::iter::once("--- a/x\n+++ b/x\n@@ -1 +1 @@\n".to_string())
            .chain((0..lines).map(|i| format!("+line {i} ``` with | pipes <b>\n")))
            .collect();
        Report {
            old: "main".to_string(),
            new: "working tree".to_string(),
            outputs: vec![TargetDelta {
                environment: "prod".to_string(),
                target: "kubernetes".to_string(),
                files: (0..files)
                    .map(|i| FileDelta {
                        status: FileStatus::Changed,
                        path: format!("svc_{i:05}/deployment.yaml"),
                        added_lines: lines,
                        removed_lines: 0,
                        spec_hash_only: false,
                        diff: diff.clone(),
                    })
                    .collect(),
            }],
            ..Report::default()
        }
    }

    #[test]
    fn markdown_stays_under_the_limit_with_a_note() {
        let report = big_report(400, 60);
        let text = markdown(&report, MARKDOWN_LIMIT);
        assert!(text.len() <= MARKDOWN_LIMIT, "{}", text.len());
        assert!(text.chars().count() < 65_536);
        assert!(text.contains("**Truncated:**"));
        assert!(text.starts_with(MARKDOWN_MARKER));
        assert_eq!(
            text.matches("<details>").count(),
            text.matches("</details>").count()
        );
        // Every file is named, with or without its diff.
        assert!(text.contains("svc_00399/deployment.yaml"));
        assert!(text.contains("are left out._"));
        // Fences are longer than the backtick runs inside the diffs.
        assert!(text.contains("````diff\n"));
    }

    #[test]
    fn markdown_keeps_a_small_diff_whole() {
        let report = big_report(2, 3);
        let text = markdown(&report, MARKDOWN_LIMIT);
        assert!(!text.contains("Truncated"));
        assert_eq!(text.matches("````diff").count(), 2);
    }

    #[test]
    fn markdown_cuts_a_huge_file_list_at_a_line() {
        let mut report = big_report(20_000, 1);
        for t in &mut report.outputs {
            for f in &mut t.files {
                f.diff.clear();
            }
        }
        let text = markdown(&report, MARKDOWN_LIMIT);
        assert!(text.len() <= MARKDOWN_LIMIT);
        assert!(text.contains("**Truncated:**"));
        assert_eq!(
            text.matches("<details>").count(),
            text.matches("</details>").count()
        );
    }
}
