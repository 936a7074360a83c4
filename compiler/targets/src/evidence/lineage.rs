//! The lineage graph of one environment as data (`lineage.json`), as DOT
//! (`lineage.dot`, for graphviz) and as a small built-in SVG for the HTML report when
//! graphviz is not installed. Nodes are sources, feature views, models, services and
//! batch jobs, each with its classification and whether personal data reaches it.

use super::escape;
use plinth_ir::{Level, Platform};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Node {
    /// `kind:name`, unique in the graph.
    pub id: String,
    /// `source`, `feature_view`, `model`, `service` or `batch_job`.
    pub kind: &'static str,
    pub name: String,
    pub classification: String,
    pub uses_pii: bool,
    /// Columns (of a source) or `source.column`s (upstream) with `pii: true`.
    pub pii_columns: Vec<String>,
    /// Drawing column, left to right.
    #[serde(skip)]
    layer: usize,
    #[serde(skip)]
    rank: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
}

/// A column read upstream of a model, service or batch job.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ColumnRef {
    pub source: String,
    pub column: String,
    pub pii: bool,
}

/// What one model, service or batch job reads, transitively.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Upstream {
    pub classification: String,
    pub uses_pii: bool,
    pub sources: Vec<String>,
    pub feature_views: Vec<String>,
    pub columns: Vec<ColumnRef>,
    pub pii_columns: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lineage {
    pub environment: String,
    pub models: BTreeMap<String, Upstream>,
    pub services: BTreeMap<String, Upstream>,
    pub batch_jobs: BTreeMap<String, Upstream>,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

fn id(kind: &str, name: &str) -> String {
    format!("{kind}:{name}")
}

/// Columns a model reads: each input feature's aggregated column and its view's key.
fn model_columns(p: &Platform, model: &plinth_ir::Model) -> BTreeSet<ColumnRef> {
    let mut out = BTreeSet::new();
    for input in &model.inputs {
        let Some(view) = p.feature_views.get(&input.view) else {
            continue;
        };
        let source = p.sources.get(&view.source);
        let mut push = |column: &str| {
            let pii = source.and_then(|s| s.column(column)).is_some_and(|c| c.pii);
            out.insert(ColumnRef {
                source: view.source.clone(),
                column: column.to_string(),
                pii,
            });
        };
        push(&view.key);
        if let Some(agg) = view
            .features
            .iter()
            .find(|f| f.name == input.feature)
            .and_then(|f| f.aggregate.as_ref())
        {
            push(&agg.column);
        }
    }
    out
}

fn upstream(
    level: &Level,
    uses_pii: bool,
    lineage: &plinth_ir::Lineage,
    columns: BTreeSet<ColumnRef>,
) -> Upstream {
    Upstream {
        classification: level.name.clone(),
        uses_pii,
        sources: lineage.sources.clone(),
        feature_views: lineage.feature_views.clone(),
        columns: columns.into_iter().collect(),
        pii_columns: lineage.pii_columns.clone(),
    }
}

pub fn lineage(p: &Platform) -> Lineage {
    // Collected rather than inserted one by one: the names come in order, and a
    // collected map is built in one pass without a search per name.
    let models: BTreeMap<String, Upstream> = p
        .models
        .values()
        .map(|m| {
            let u = upstream(
                &m.data_classification,
                m.uses_pii,
                &m.lineage,
                model_columns(p, m),
            );
            (m.name.clone(), u)
        })
        .collect();
    let mut nodes = Vec::new();
    // Collected, then sorted and deduplicated once: a set would compare (and allocate
    // a node for) each of tens of thousands of edges as it arrives.
    let mut edges = Vec::new();
    let columns_of = |model: &str| -> BTreeSet<ColumnRef> {
        models
            .get(model)
            .map(|u: &Upstream| u.columns.iter().cloned().collect())
            .unwrap_or_default()
    };
    let services: BTreeMap<String, Upstream> = p
        .services
        .values()
        .map(|s| {
            let u = upstream(
                &s.data_classification,
                s.uses_pii,
                &s.lineage,
                columns_of(&s.model),
            );
            (s.name.clone(), u)
        })
        .collect();
    let batch_jobs: BTreeMap<String, Upstream> = p
        .batch_jobs
        .values()
        .map(|j| {
            let mut cols = columns_of(&j.model);
            if let Some(src) = p.sources.get(&j.input) {
                cols.extend(src.columns.iter().map(|c| ColumnRef {
                    source: src.name.clone(),
                    column: c.name.clone(),
                    pii: c.pii,
                }));
            }
            let u = upstream(&j.data_classification, j.uses_pii, &j.lineage, cols);
            (j.name.clone(), u)
        })
        .collect();

    // Sources only written by batch jobs are drawn after them.
    let read: BTreeSet<&str> = p
        .feature_views
        .values()
        .map(|v| v.source.as_str())
        .chain(p.batch_jobs.values().map(|j| j.input.as_str()))
        .collect();
    let written: BTreeSet<&str> = p.batch_jobs.values().map(|j| j.output.as_str()).collect();
    for s in p.sources.values() {
        let layer = if written.contains(s.name.as_str()) && !read.contains(s.name.as_str()) {
            4
        } else {
            0
        };
        let pii: Vec<String> = s
            .columns
            .iter()
            .filter(|c| c.pii)
            .map(|c| c.name.clone())
            .collect();
        nodes.push(Node {
            id: id("source", &s.name),
            kind: "source",
            name: s.name.clone(),
            classification: s.classification.name.clone(),
            uses_pii: !pii.is_empty(),
            pii_columns: pii,
            layer,
            rank: s.classification.rank,
        });
    }
    for v in p.feature_views.values() {
        nodes.push(Node {
            id: id("feature_view", &v.name),
            kind: "feature_view",
            name: v.name.clone(),
            classification: v.classification.name.clone(),
            uses_pii: v.uses_pii,
            pii_columns: v.lineage.pii_columns.clone(),
            layer: 1,
            rank: v.classification.rank,
        });
        if p.sources.contains_key(&v.source) {
            edges.push(Edge {
                from: id("source", &v.source),
                to: id("feature_view", &v.name),
            });
        }
    }
    for m in p.models.values() {
        nodes.push(Node {
            id: id("model", &m.name),
            kind: "model",
            name: m.name.clone(),
            classification: m.data_classification.name.clone(),
            uses_pii: m.uses_pii,
            pii_columns: m.lineage.pii_columns.clone(),
            layer: 2,
            rank: m.data_classification.rank,
        });
        for input in &m.inputs {
            if p.feature_views.contains_key(&input.view) {
                edges.push(Edge {
                    from: id("feature_view", &input.view),
                    to: id("model", &m.name),
                });
            }
        }
    }
    for s in p.services.values() {
        nodes.push(Node {
            id: id("service", &s.name),
            kind: "service",
            name: s.name.clone(),
            classification: s.data_classification.name.clone(),
            uses_pii: s.uses_pii,
            pii_columns: s.lineage.pii_columns.clone(),
            layer: 3,
            rank: s.data_classification.rank,
        });
        if p.models.contains_key(&s.model) {
            edges.push(Edge {
                from: id("model", &s.model),
                to: id("service", &s.name),
            });
        }
    }
    for j in p.batch_jobs.values() {
        nodes.push(Node {
            id: id("batch_job", &j.name),
            kind: "batch_job",
            name: j.name.clone(),
            classification: j.data_classification.name.clone(),
            uses_pii: j.uses_pii,
            pii_columns: j.lineage.pii_columns.clone(),
            layer: 3,
            rank: j.data_classification.rank,
        });
        if p.models.contains_key(&j.model) {
            edges.push(Edge {
                from: id("model", &j.model),
                to: id("batch_job", &j.name),
            });
        }
        if p.sources.contains_key(&j.input) {
            edges.push(Edge {
                from: id("source", &j.input),
                to: id("batch_job", &j.name),
            });
        }
        if p.sources.contains_key(&j.output) {
            edges.push(Edge {
                from: id("batch_job", &j.name),
                to: id("source", &j.output),
            });
        }
    }
    nodes.sort_by(|a, b| (a.layer, &a.id).cmp(&(b.layer, &b.id)));
    edges.sort_unstable();
    edges.dedup();
    Lineage {
        environment: p.environment.name.clone(),
        models,
        services,
        batch_jobs,
        nodes,
        edges,
    }
}

/// Fill colour of a classification: green to red by sensitivity.
pub fn colour(classification: &str) -> &'static str {
    match classification {
        "public" => "#d9f2d9",
        "internal" => "#dbe8fb",
        "confidential" => "#fde9c8",
        "pii" => "#f9d2cf",
        "restricted" => "#f2b8c6",
        _ => "#eeeeee",
    }
}

fn label_line(n: &Node) -> String {
    let pii = if n.uses_pii { " · PII" } else { "" };
    format!("{} · {}{pii}", n.kind.replace('_', " "), n.classification)
}

/// Graphviz DOT, left to right, nodes filled by classification.
pub fn dot(l: &Lineage) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Lineage of environment `{}`, written by plinth (evidence target).",
        escape::dot(&l.environment).replace('\n', " ")
    );
    out.push_str("digraph lineage {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=11];\n  edge [color=\"#666666\"];\n");
    for n in &l.nodes {
        let pen = if n.uses_pii { ", penwidth=2" } else { "" };
        let _ = writeln!(
            out,
            "  \"{}\" [label=\"{}\\n{}\", fillcolor=\"{}\"{pen}];",
            escape::dot(&n.id),
            escape::dot(&n.name),
            escape::dot(&label_line(n)),
            colour(&n.classification)
        );
    }
    for e in &l.edges {
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\";",
            escape::dot(&e.from),
            escape::dot(&e.to)
        );
    }
    out.push_str("}\n");
    out
}

const BOX_W: usize = 210;
const BOX_H: usize = 44;
const COL_W: usize = 260;
const ROW_H: usize = 62;
const PAD: usize = 16;

/// A layered drawing without graphviz: one column per kind, rows by name, curved edges.
/// Every text goes through [`escape::html`] (SVG is XML).
pub fn svg(l: &Lineage) -> String {
    let layers: Vec<usize> = {
        let mut v: Vec<usize> = l.nodes.iter().map(|n| n.layer).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let column = |layer: usize| layers.iter().position(|x| *x == layer).unwrap_or(0);
    let mut place: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut rows_used: BTreeMap<usize, usize> = BTreeMap::new();
    for n in &l.nodes {
        let c = column(n.layer);
        let row = rows_used.entry(c).or_insert(0);
        place.insert(n.id.as_str(), (PAD + c * COL_W, PAD + 24 + *row * ROW_H));
        *row += 1;
    }
    let rows = rows_used.values().copied().max().unwrap_or(0).max(1);
    let width = PAD * 2 + layers.len().max(1) * COL_W - (COL_W - BOX_W);
    let height = PAD * 2 + 24 + rows * ROW_H + 28;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"lineage graph\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">"
    );
    out.push_str("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#666\"/></marker></defs>\n");
    for (i, title) in ["sources", "feature views", "models", "serving", "outputs"]
        .iter()
        .enumerate()
    {
        if layers.contains(&i) {
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" font-weight=\"bold\" fill=\"#444\">{title}</text>",
                PAD + column(i) * COL_W,
                PAD + 12
            );
        }
    }
    for e in &l.edges {
        let (Some(&(x1, y1)), Some(&(x2, y2))) =
            (place.get(e.from.as_str()), place.get(e.to.as_str()))
        else {
            continue;
        };
        let (sx, sy) = (x1 + BOX_W, y1 + BOX_H / 2);
        let (ex, ey) = (x2, y2 + BOX_H / 2);
        let mid = (sx + ex) / 2;
        let _ = writeln!(
            out,
            "<path d=\"M{sx},{sy} C{mid},{sy} {mid},{ey} {ex},{ey}\" fill=\"none\" stroke=\"#666\" stroke-width=\"1.2\" marker-end=\"url(#arrow)\"><title>{} → {}</title></path>",
            escape::html(&e.from),
            escape::html(&e.to)
        );
    }
    for n in &l.nodes {
        let Some(&(x, y)) = place.get(n.id.as_str()) else {
            continue;
        };
        let stroke = if n.uses_pii {
            "#b3261e\" stroke-width=\"2"
        } else {
            "#888\" stroke-width=\"1"
        };
        let _ = writeln!(
            out,
            "<g id=\"node-{}\"><rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"6\" fill=\"{}\" stroke=\"{stroke}\"/><text x=\"{}\" y=\"{}\" font-weight=\"bold\">{}</text><text x=\"{}\" y=\"{}\" fill=\"#444\" font-size=\"11\">{}</text><title>{}</title></g>",
            escape::html(&n.id.replace(':', "-")),
            colour(&n.classification),
            x + 8,
            y + 18,
            escape::html(&truncate(&n.name, 28)),
            x + 8,
            y + 35,
            escape::html(&label_line(n)),
            escape::html(&if n.pii_columns.is_empty() {
                n.id.clone()
            } else {
                format!("{} (PII: {})", n.id, n.pii_columns.join(", "))
            }),
        );
    }
    // Legend.
    let mut x = PAD;
    let y = height - PAD - 12;
    for c in ["public", "internal", "confidential", "pii", "restricted"] {
        let _ = writeln!(
            out,
            "<rect x=\"{x}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{}\" stroke=\"#888\"/><text x=\"{}\" y=\"{}\">{c}</text>",
            colour(c),
            x + 16,
            y + 10
        );
        x += 110;
    }
    let _ = writeln!(
        out,
        "<rect x=\"{x}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"#fff\" stroke=\"#b3261e\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\">reads PII</text>",
        x + 16,
        y + 10
    );
    out.push_str("</svg>\n");
    out
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}
