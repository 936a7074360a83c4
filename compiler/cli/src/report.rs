//! Reports for CI: SARIF 2.1.0 (code scanning) and JUnit XML (test dashboards), from
//! the same diagnostics `render.rs` prints. Waived policy violations appear in SARIF
//! as results with `suppressions`, and in JUnit as skipped test cases.

use crate::render::{Sources, positions};
use plinth_policy::{Packs, Suppressed};
use plinth_syntax::{Diagnostic, Severity};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The rule id of a diagnostic: its policy id, or its diagnostic code.
fn rule_id(d: &Diagnostic) -> &str {
    d.policy.as_deref().unwrap_or(&d.code)
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn location(d: &Diagnostic, sources: &Sources) -> Value {
    let (line, column, end_line, end_column) = positions(d, sources);
    let uri = if d.file.is_empty() { "." } else { &d.file };
    let mut region = json!({
        "startLine": line,
        "startColumn": column,
        "endLine": end_line,
        "endColumn": end_column.max(if end_line == line { column } else { 1 }),
    });
    if let Some(label) = &d.label
        && let Some(obj) = region.as_object_mut()
    {
        obj.insert("message".into(), json!({ "text": label }));
    }
    json!({
        "physicalLocation": {
            "artifactLocation": { "uri": uri },
            "region": region,
        }
    })
}

fn result(d: &Diagnostic, sources: &Sources, index: &BTreeMap<String, usize>) -> Value {
    let id = rule_id(d);
    let mut text = d.message.clone();
    if let Some(h) = &d.help {
        text.push_str("\nhelp: ");
        text.push_str(h);
    }
    let mut r = json!({
        "ruleId": id,
        "level": level(d.severity),
        "message": { "text": text },
        "locations": [location(d, sources)],
    });
    if let (Some(i), Some(obj)) = (index.get(id), r.as_object_mut()) {
        obj.insert("ruleIndex".into(), json!(i));
    }
    r
}

/// SARIF 2.1.0, one run. Rules: every loaded policy, plus each diagnostic code seen.
pub fn sarif(
    diags: &[Diagnostic],
    suppressed: &[Suppressed],
    sources: &Sources,
    packs: Option<&Packs>,
) -> String {
    let mut rules: BTreeMap<String, Value> = BTreeMap::new();
    if let Some(p) = packs {
        for r in p.rules.values().filter(|r| r.forbid) {
            rules.insert(
                r.id.clone(),
                json!({
                    "id": r.id,
                    "shortDescription": { "text": r.message },
                    "fullDescription": { "text": format!("{} ({}, pack `{}`)", r.message, r.file, r.pack) },
                    "help": { "text": r.help },
                    "defaultConfiguration": { "level": level(r.severity) },
                    "properties": { "pack": r.pack },
                }),
            );
        }
    }
    for d in diags.iter().chain(suppressed.iter().map(|s| &s.diagnostic)) {
        let id = rule_id(d);
        if !rules.contains_key(id) {
            rules.insert(
                id.to_string(),
                json!({
                    "id": id,
                    "shortDescription": { "text": id },
                    "helpUri": "https://plinth.dev/explain",
                    "defaultConfiguration": { "level": level(d.severity) },
                }),
            );
        }
    }
    let index: BTreeMap<String, usize> = rules
        .keys()
        .enumerate()
        .map(|(i, k)| (k.clone(), i))
        .collect();
    let mut results: Vec<Value> = diags.iter().map(|d| result(d, sources, &index)).collect();
    for s in suppressed {
        let mut r = result(&s.diagnostic, sources, &index);
        if let Some(obj) = r.as_object_mut() {
            obj.insert(
                "suppressions".into(),
                json!([{
                    "kind": "inSource",
                    "status": "accepted",
                    "justification": format!(
                        "waiver `{}`: {} (approved by {}, expires {})",
                        s.waiver, s.reason, s.approved_by, s.expires
                    ),
                    "properties": {
                        "waiver": s.waiver,
                        "approved_by": s.approved_by,
                        "expires": s.expires.to_string(),
                        "file": s.waiver_file,
                    },
                }]),
            );
        }
        results.push(r);
    }
    let artifacts: Vec<Value> = {
        let mut files: Vec<&str> = diags
            .iter()
            .chain(suppressed.iter().map(|s| &s.diagnostic))
            .map(|d| d.file.as_str())
            .filter(|f| !f.is_empty())
            .collect();
        files.sort_unstable();
        files.dedup();
        files
            .into_iter()
            .map(|f| json!({ "location": { "uri": f } }))
            .collect()
    };
    let log = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "plinth",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://plinth.dev",
                    "rules": rules.into_values().collect::<Vec<_>>(),
                }
            },
            "originalUriBaseIds": { "SRCROOT": { "uri": "file:///" } },
            "artifacts": artifacts,
            "results": results,
        }]
    });
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_default();
    out.push('\n');
    out
}

/// XML text and attribute escaping.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: suite `policies` has one test case per loaded rule (failing with its
/// error violations, skipped when only waived); suite `spec` has one test case per
/// file with other diagnostics. Warnings go to `system-out`, never fail.
pub fn junit(
    diags: &[Diagnostic],
    suppressed: &[Suppressed],
    sources: &Sources,
    packs: Option<&Packs>,
) -> String {
    let describe = |d: &Diagnostic| {
        let (line, column, ..) = positions(d, sources);
        let mut s = format!(
            "{}:{line}:{column}: {}: {}",
            d.file,
            d.severity.as_str(),
            d.message
        );
        if let Some(l) = &d.label {
            s.push_str(&format!(" [{l}]"));
        }
        if let Some(h) = &d.help {
            s.push_str(&format!("\n  help: {h}"));
        }
        s
    };
    let mut by_rule: BTreeMap<String, Vec<&Diagnostic>> = BTreeMap::new();
    let mut by_file: BTreeMap<String, Vec<&Diagnostic>> = BTreeMap::new();
    if let Some(p) = packs {
        for r in p.rules.values().filter(|r| r.forbid) {
            by_rule.entry(r.id.clone()).or_default();
        }
    }
    for d in diags {
        match &d.policy {
            Some(p) => by_rule.entry(p.clone()).or_default().push(d),
            None => by_file.entry(d.file.clone()).or_default().push(d),
        }
    }
    let mut waived: BTreeMap<&str, Vec<&Suppressed>> = BTreeMap::new();
    for s in suppressed {
        if let Some(p) = &s.diagnostic.policy {
            waived.entry(p.as_str()).or_default().push(s);
        }
    }
    let mut suites = String::new();
    let mut total = (0usize, 0usize, 0usize);
    let mut suite =
        |name: &str, cases: Vec<(String, String, Vec<&Diagnostic>, Vec<&Suppressed>)>| {
            let mut body = String::new();
            let (mut failures, mut skipped) = (0usize, 0usize);
            let count = cases.len();
            for (case, class, found, waivers) in cases {
                body.push_str(&format!(
                    "    <testcase name=\"{}\" classname=\"{}\">\n",
                    xml(&case),
                    xml(&class)
                ));
                let errors: Vec<&&Diagnostic> = found.iter().filter(|d| d.is_error()).collect();
                if !errors.is_empty() {
                    failures += 1;
                    let text: Vec<String> = errors.iter().map(|d| describe(d)).collect();
                    body.push_str(&format!(
                        "      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
                        xml(&errors
                            .first()
                            .map(|d| d.message.clone())
                            .unwrap_or_default()),
                        xml(&errors.first().map(|d| d.code.clone()).unwrap_or_default()),
                        xml(&text.join("\n"))
                    ));
                } else if found.is_empty() && !waivers.is_empty() {
                    skipped += 1;
                    let text: Vec<String> = waivers
                        .iter()
                        .map(|s| {
                            format!(
                                "{} waived by `{}` until {}",
                                describe(&s.diagnostic),
                                s.waiver,
                                s.expires
                            )
                        })
                        .collect();
                    body.push_str(&format!(
                        "      <skipped message=\"{}\"/>\n",
                        xml(&text.join("\n"))
                    ));
                }
                let warnings: Vec<String> = found
                    .iter()
                    .filter(|d| !d.is_error())
                    .map(|d| describe(d))
                    .collect();
                if !warnings.is_empty() {
                    body.push_str(&format!(
                        "      <system-out>{}</system-out>\n",
                        xml(&warnings.join("\n"))
                    ));
                }
                body.push_str("    </testcase>\n");
            }
            total.0 += count;
            total.1 += failures;
            total.2 += skipped;
            suites.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{count}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n{body}  </testsuite>\n",
            xml(name)
        ));
        };
    let policy_cases = by_rule
        .into_iter()
        .map(|(id, found)| {
            let w = waived.get(id.as_str()).cloned().unwrap_or_default();
            (id.clone(), "plinth.policy".to_string(), found, w)
        })
        .collect();
    suite("policies", policy_cases);
    let mut spec_cases: Vec<(String, String, Vec<&Diagnostic>, Vec<&Suppressed>)> = by_file
        .into_iter()
        .map(|(file, found)| {
            (
                if file.is_empty() {
                    "workspace".into()
                } else {
                    file
                },
                "plinth.check".to_string(),
                found,
                Vec::new(),
            )
        })
        .collect();
    if spec_cases.is_empty() {
        spec_cases.push((
            "workspace".into(),
            "plinth.check".into(),
            Vec::new(),
            Vec::new(),
        ));
    }
    suite("spec", spec_cases);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"plinth check\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">\n{suites}</testsuites>\n",
        total.0, total.1, total.2
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_control_characters() {
        assert_eq!(xml("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
