//! `plinth graph`: the platform's dependency graph as DOT, Mermaid or SVG (through
//! graphviz's `dot`). Sources feed feature views, feature views feed models, models
//! are served by services and run by batch jobs (which read and write sources). Each
//! node is coloured by its data classification (derived: a model's is the highest of
//! its inputs'), and nodes that a policy denies are outlined in red with the rule ids.

use crate::{Checked, load_and_check};
use clap::ValueEnum;
use plinth_check::analysis::Analysis;
use plinth_check::checked::{Decl, Value};
use plinth_syntax::Diagnostic;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
    Svg,
}

const KINDS: [&str; 5] = ["source", "feature_view", "model", "service", "batch_job"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub kind: String,
    pub classification: Option<String>,
    pub uses_pii: bool,
    /// Policy ids that deny this node (not waived).
    pub violations: BTreeSet<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    /// By name: names are unique across kinds.
    pub nodes: BTreeMap<String, Node>,
    pub edges: BTreeSet<(String, String)>,
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Ref(r) => out.push(r.to_string()),
        Value::FeatureRef(f) => out.push(f.view.clone()),
        Value::List(items) => items.iter().for_each(|i| refs(&i.value, out)),
        _ => {}
    }
}

/// What a declaration reads (edges into it) and writes (edges out of it).
fn edges_of(decl: &Decl) -> (Vec<String>, Vec<String>) {
    let mut reads = Vec::new();
    let mut writes = Vec::new();
    let get = |key: &str, out: &mut Vec<String>| {
        if let Some(v) = decl.body.get(key) {
            refs(v, out);
        }
    };
    match decl.kind.as_str() {
        "feature_view" => get("source", &mut reads),
        "model" => {
            get("inputs", &mut reads);
            for (_, block) in decl.body.named("input") {
                if let Some(v) = block.value.get("features") {
                    refs(v, &mut reads);
                }
            }
        }
        "service" => get("model", &mut reads),
        "batch_job" => {
            get("model", &mut reads);
            get("input", &mut reads);
            get("output", &mut writes);
        }
        _ => {}
    }
    (reads, writes)
}

/// Whether a declaration is deployed to `env` (its `environments`, default all).
fn deployed_to(decl: &Decl, env: &str) -> bool {
    let mut envs = Vec::new();
    match decl.body.get("environments") {
        Some(v) => {
            refs(v, &mut envs);
            envs.iter().any(|e| e == env)
        }
        None => true,
    }
}

impl Graph {
    pub fn build(
        analysis: &Analysis,
        env: Option<&str>,
        violations: &BTreeMap<String, BTreeSet<String>>,
    ) -> Graph {
        let mut graph = Graph::default();
        let decls: Vec<&Decl> = analysis
            .decls
            .values()
            .map(|d| &**d)
            .filter(|d| KINDS.contains(&d.kind.as_str()))
            .filter(|d| env.is_none_or(|e| deployed_to(d, e)))
            .collect();
        for d in &decls {
            let facts = analysis.facts.get(&d.name);
            let classification = match d.kind.as_str() {
                "source" => d.body.str("classification").map(str::to_string),
                _ => facts
                    .and_then(|f| f.classification.as_ref())
                    .map(|l| l.name.clone()),
            };
            let uses_pii = facts.is_some_and(|f| f.uses_pii)
                || (d.kind == "source"
                    && d.body
                        .named("column")
                        .iter()
                        .any(|(_, c)| c.value.get("pii") == Some(&Value::Bool(true))));
            graph.nodes.insert(
                d.name.clone(),
                Node {
                    name: d.name.clone(),
                    kind: d.kind.clone(),
                    classification,
                    uses_pii,
                    violations: violations.get(&d.name).cloned().unwrap_or_default(),
                },
            );
        }
        for d in &decls {
            let (reads, writes) = edges_of(d);
            for r in reads {
                if graph.nodes.contains_key(&r) {
                    graph.edges.insert((r, d.name.clone()));
                }
            }
            for w in writes {
                if graph.nodes.contains_key(&w) {
                    graph.edges.insert((d.name.clone(), w));
                }
            }
        }
        if env.is_some() {
            // Sources and models only matter to the environment through what uses them.
            let connected: BTreeSet<&String> =
                graph.edges.iter().flat_map(|(a, b)| [a, b]).collect();
            let keep: BTreeSet<String> = graph
                .nodes
                .values()
                .filter(|n| {
                    !matches!(n.kind.as_str(), "source" | "model") || connected.contains(&n.name)
                })
                .map(|n| n.name.clone())
                .collect();
            graph.nodes.retain(|name, _| keep.contains(name));
        }
        graph
    }
}

/// Fill colours per classification, least to most sensitive.
fn colour(classification: Option<&str>) -> &'static str {
    match classification {
        Some("public") => "#d8f0d2",
        Some("internal") => "#d6e6f7",
        Some("confidential") => "#fbe5b6",
        Some("pii") => "#f8c9a0",
        Some("restricted") => "#f2a7a7",
        _ => "#ffffff",
    }
}

const LEVELS: [&str; 5] = ["public", "internal", "confidential", "pii", "restricted"];

fn label(n: &Node) -> Vec<String> {
    let mut lines = vec![n.name.clone()];
    let mut second = n.kind.replace('_', " ");
    if let Some(c) = &n.classification {
        second.push_str(&format!(" · {c}"));
    }
    if n.uses_pii {
        second.push_str(" · PII");
    }
    lines.push(second);
    if !n.violations.is_empty() {
        let ids: Vec<&str> = n.violations.iter().map(String::as_str).collect();
        lines.push(format!("denied: {}", ids.join(", ")));
    }
    lines
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub fn dot(graph: &Graph) -> String {
    let mut out = String::from(
        "digraph plinth {\n  rankdir=LR;\n  node [style=\"filled\", fontname=\"Helvetica\", fontsize=11];\n  edge [color=\"#555555\"];\n",
    );
    for n in graph.nodes.values() {
        let shape = match n.kind.as_str() {
            "source" => "cylinder",
            "feature_view" => "folder",
            "model" => "box3d",
            "service" => "box\", style=\"rounded,filled",
            _ => "parallelogram",
        };
        let text: Vec<String> = label(n).iter().map(|l| dot_escape(l)).collect();
        let border = if n.violations.is_empty() {
            String::new()
        } else {
            ", color=\"#d00000\", penwidth=3".to_string()
        };
        out.push_str(&format!(
            "  \"{}\" [label=\"{}\", shape=\"{shape}\", fillcolor=\"{}\"{border}];\n",
            dot_escape(&n.name),
            text.join("\\n"),
            colour(n.classification.as_deref()),
        ));
    }
    for (a, b) in &graph.edges {
        out.push_str(&format!(
            "  \"{}\" -> \"{}\";\n",
            dot_escape(a),
            dot_escape(b)
        ));
    }
    // The legend: one row, as an HTML-like table label.
    let mut cells = String::new();
    for level in LEVELS {
        cells.push_str(&format!(
            "<td bgcolor=\"{}\">{level}</td>",
            colour(Some(level))
        ));
    }
    out.push_str(&format!(
        "  legend [shape=plaintext, style=\"\", fontsize=9, label=<<table border=\"0\" cellborder=\"1\" cellspacing=\"2\"><tr><td border=\"0\">classification</td>{cells}<td color=\"#d00000\" border=\"3\">policy violation</td></tr></table>>];\n}}\n"
    ));
    out
}

pub fn mermaid(graph: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    // Mermaid ids avoid keywords such as `end`: every node id gets a prefix.
    let id = |name: &str| format!("n_{name}");
    for n in graph.nodes.values() {
        let text = label(n).join("<br/>").replace('"', "#quot;");
        let node = match n.kind.as_str() {
            "source" => format!("[(\"{text}\")]"),
            "feature_view" => format!("[[\"{text}\"]]"),
            "model" => format!("{{{{\"{text}\"}}}}"),
            "service" => format!("([\"{text}\"])"),
            _ => format!("[/\"{text}\"/]"),
        };
        out.push_str(&format!("  {}{node}\n", id(&n.name)));
    }
    for (a, b) in &graph.edges {
        out.push_str(&format!("  {} --> {}\n", id(a), id(b)));
    }
    for level in LEVELS {
        let members: Vec<String> = graph
            .nodes
            .values()
            .filter(|n| n.classification.as_deref() == Some(level))
            .map(|n| id(&n.name))
            .collect();
        out.push_str(&format!(
            "  classDef {level} fill:{},stroke:#555\n",
            colour(Some(level))
        ));
        if !members.is_empty() {
            out.push_str(&format!("  class {} {level}\n", members.join(",")));
        }
    }
    let denied: Vec<String> = graph
        .nodes
        .values()
        .filter(|n| !n.violations.is_empty())
        .map(|n| id(&n.name))
        .collect();
    out.push_str("  classDef denied stroke:#d00000,stroke-width:3px\n");
    if !denied.is_empty() {
        out.push_str(&format!("  class {} denied\n", denied.join(",")));
    }
    out
}

/// The policy ids denying each declaration (in `env`, or in any environment), not
/// counting waived ones.
pub fn violations(checked: &Checked, env: Option<&str>) -> BTreeMap<String, BTreeSet<String>> {
    let run = crate::policy::run(checked, plinth_policy::today(), false);
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let Some(outcome) = &run.outcome else {
        return out;
    };
    for (e, decisions) in &outcome.decisions {
        if env.is_some_and(|want| want != e) {
            continue;
        }
        for d in decisions.iter().filter(|d| !d.cedar_allowed) {
            let waived: BTreeSet<&String> = d.waived.iter().map(|(p, _)| p).collect();
            for id in d.determining.iter().filter(|p| !waived.contains(p)) {
                out.entry(d.resource.1.clone())
                    .or_default()
                    .insert(id.clone());
            }
        }
    }
    out
}

/// SVG from DOT through graphviz's `dot`.
fn svg(dot_text: &str) -> Result<Vec<u8>, String> {
    let child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(
                "`--format svg` needs graphviz's `dot`, which is not on PATH\n  \
                 help: install graphviz (`apt-get install graphviz`, `brew install graphviz`), \
                 or write DOT and render it elsewhere: `plinth graph --format dot > graph.dot`"
                    .to_string(),
            );
        }
        Err(e) => return Err(format!("cannot run graphviz's `dot`: {e}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(dot_text.as_bytes())
            .map_err(|e| format!("cannot write to `dot`: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("`dot` failed: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`dot` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(output.stdout)
}

pub fn run(dir: &Path, env: Option<&str>, format: GraphFormat, out: Option<&Path>) -> ExitCode {
    let checked = load_and_check(dir);
    let errors = checked
        .diagnostics
        .iter()
        .filter(|d| Diagnostic::is_error(d))
        .count();
    if errors > 0 {
        eprintln!(
            "warning: the spec has {errors} error(s) (see `plinth check`); the graph may be incomplete and shows no policy decisions"
        );
    }
    let analysis = plinth_check::db::analysis(&checked.db, checked.ws);
    if let Some(e) = env
        && !analysis.of_kind("environment").any(|d| d.name == e)
    {
        let names: Vec<&str> = analysis
            .of_kind("environment")
            .map(|d| d.name.as_str())
            .collect();
        eprintln!(
            "error: no environment `{e}`; declared: {}",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
        return ExitCode::from(2);
    }
    let violations = violations(&checked, env);
    let graph = Graph::build(analysis, env, &violations);
    let bytes = match format {
        GraphFormat::Dot => dot(&graph).into_bytes(),
        GraphFormat::Mermaid => mermaid(&graph).into_bytes(),
        GraphFormat::Svg => match svg(&dot(&graph)) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let written = match out {
        Some(path) => std::fs::write(path, &bytes).map_err(|e| format!("{}: {e}", path.display())),
        None => std::io::stdout()
            .lock()
            .write_all(&bytes)
            .map_err(|e| e.to_string()),
    };
    // The process exits next; freeing every query result first would only cost time.
    std::mem::forget(checked);
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the graph: {e}");
            ExitCode::from(2)
        }
    }
}
