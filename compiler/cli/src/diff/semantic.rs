//! The semantic layer of `plinth diff`: declarations and their fields, compared by name
//! and by rendered value (never by span or position), and the derived facts.
//!
//! Renames: a declaration removed and another of the same kind added with the same
//! body and doc comment is reported as one rename, not as a removal plus an addition.
//! When several candidates match, names are paired in sorted order.

use plinth_check::analysis::Facts;
use plinth_check::checked::{Decl, Field, Rec};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub type Decls = BTreeMap<String, Arc<Decl>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Renamed,
    Changed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeclChange {
    pub change: ChangeKind,
    pub kind: String,
    pub name: String,
    /// For renames: the old name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// The file the declaration is in (on the new side, or the old for removals).
    pub file: String,
    /// For changes: each field that differs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
}

/// `path: before → after`; `None` is a field that is absent on that side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// Qualified: `fraud_api.replicas`, `fraud_api.slo.latency.threshold`.
    pub path: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Declarations added, removed, renamed and changed, sorted by kind then name.
pub fn declarations(old: &Decls, new: &Decls) -> Vec<DeclChange> {
    let mut out = Vec::new();
    let mut removed: Vec<&Decl> = Vec::new();
    let mut added: Vec<&Decl> = Vec::new();
    for (name, before) in old {
        match new.get(name) {
            None => removed.push(before),
            Some(after) if before.kind != after.kind => {
                removed.push(before);
                added.push(after);
            }
            Some(after) => {
                let mut fields = Vec::new();
                compare_decl(name, before, after, &mut fields);
                if !fields.is_empty() {
                    out.push(DeclChange {
                        change: ChangeKind::Changed,
                        kind: after.kind.clone(),
                        name: name.clone(),
                        renamed_from: None,
                        file: after.file.clone(),
                        fields,
                    });
                }
            }
        }
    }
    added.extend(
        new.iter()
            .filter(|(n, _)| !old.contains_key(*n))
            .map(|(_, d)| &**d),
    );
    // Pair removals with additions of the same kind, doc and body: renames.
    let mut paired: BTreeSet<&str> = BTreeSet::new();
    for before in &removed {
        let fingerprint = body_fingerprint(before);
        let rename = added.iter().find(|a| {
            a.kind == before.kind
                && !paired.contains(a.name.as_str())
                && body_fingerprint(a) == fingerprint
        });
        match rename {
            Some(after) => {
                paired.insert(after.name.as_str());
                out.push(DeclChange {
                    change: ChangeKind::Renamed,
                    kind: after.kind.clone(),
                    name: after.name.clone(),
                    renamed_from: Some(before.name.clone()),
                    file: after.file.clone(),
                    fields: Vec::new(),
                });
            }
            None => out.push(simple(ChangeKind::Removed, before)),
        }
    }
    for after in added {
        if !paired.contains(after.name.as_str()) {
            out.push(simple(ChangeKind::Added, after));
        }
    }
    out.sort_by(|a, b| {
        (kind_rank(&a.kind), &a.kind, &a.name).cmp(&(kind_rank(&b.kind), &b.kind, &b.name))
    });
    out
}

/// Declarations are listed in pipeline order: data before what reads it.
/// Declarations are listed in the kind tables' order (teams first, waivers last).
fn kind_rank(kind: &str) -> usize {
    plinth_ir::kinds::kind_names()
        .position(|k| k == kind)
        .unwrap_or(usize::MAX)
}

fn simple(change: ChangeKind, d: &Decl) -> DeclChange {
    DeclChange {
        change,
        kind: d.kind.clone(),
        name: d.name.clone(),
        renamed_from: None,
        file: d.file.clone(),
        fields: Vec::new(),
    }
}

fn body_fingerprint(d: &Decl) -> (String, String, String) {
    (d.doc.clone(), d.profiles.join(","), d.body.render())
}

fn compare_decl(name: &str, before: &Decl, after: &Decl, out: &mut Vec<FieldChange>) {
    if before.doc != after.doc {
        out.push(FieldChange {
            path: format!("{name}.///"),
            before: doc_line(&before.doc),
            after: doc_line(&after.doc),
        });
    }
    if before.profiles != after.profiles {
        let list = |p: &[String]| (!p.is_empty()).then(|| p.join(", "));
        out.push(FieldChange {
            path: format!("{name}.extends"),
            before: list(&before.profiles),
            after: list(&after.profiles),
        });
    }
    compare_rec(name, &before.body, &after.body, out);
}

/// A doc comment on one line, quoted like a string.
fn doc_line(doc: &str) -> Option<String> {
    let line = doc.split_whitespace().collect::<Vec<_>>().join(" ");
    (!line.is_empty()).then(|| format!("{line:?}"))
}

/// A field's value on one line, as written in Plinth.
fn render_field(field: &Field) -> String {
    match field {
        Field::Value(v) => v.value.render(),
        Field::Block(b) => b.value.render(),
        Field::Named(items) => items
            .iter()
            .map(|(n, b)| format!("{n} {}", b.value.render()))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn compare_rec(prefix: &str, before: &Rec, after: &Rec, out: &mut Vec<FieldChange>) {
    let names: BTreeSet<&str> = before.fields.keys().chain(after.fields.keys()).collect();
    for name in names {
        let path = format!("{prefix}.{name}");
        match (before.fields.get(name), after.fields.get(name)) {
            (Some(Field::Block(b)), Some(Field::Block(a))) => {
                compare_rec(&path, &b.value, &a.value, out);
            }
            (Some(Field::Named(b)), Some(Field::Named(a))) => {
                compare_named(&path, b, a, out);
            }
            (Some(Field::Named(b)), None) => compare_named(&path, b, &[], out),
            (None, Some(Field::Named(a))) => compare_named(&path, &[], a, out),
            (b, a) => {
                let (b, a) = (b.map(render_field), a.map(render_field));
                if b != a {
                    out.push(FieldChange {
                        path,
                        before: b,
                        after: a,
                    });
                }
            }
        }
    }
}

/// Named blocks (`column amount { }`, `slo latency { }`) match by name, so their
/// order in the source does not matter.
fn compare_named(
    prefix: &str,
    before: &[(
        plinth_check::checked::Text,
        plinth_check::checked::Spanned<Rec>,
    )],
    after: &[(
        plinth_check::checked::Text,
        plinth_check::checked::Spanned<Rec>,
    )],
    out: &mut Vec<FieldChange>,
) {
    let b: BTreeMap<&str, &Rec> = before.iter().map(|(n, r)| (n.as_str(), &r.value)).collect();
    let a: BTreeMap<&str, &Rec> = after.iter().map(|(n, r)| (n.as_str(), &r.value)).collect();
    let names: BTreeSet<&str> = b.keys().chain(a.keys()).copied().collect();
    for name in names {
        let path = format!("{prefix}.{name}");
        match (b.get(name), a.get(name)) {
            (Some(b), Some(a)) => compare_rec(&path, b, a, out),
            (b, a) => out.push(FieldChange {
                path,
                before: b.map(|r| r.render()),
                after: a.map(|r| r.render()),
            }),
        }
    }
}

/// Derived facts of declarations on both sides that changed: `classification` (as
/// `data_classification` on models, services and batch jobs), `uses_pii` and lineage.
pub fn derived(old: &BTreeMap<String, Facts>, new: &BTreeMap<String, Facts>) -> Vec<FieldChange> {
    let mut out = Vec::new();
    for (name, after) in new {
        if name.starts_with("std.") {
            continue;
        }
        let Some(before) = old.get(name) else {
            continue;
        };
        if before == after {
            continue;
        }
        let level = |f: &Facts| f.classification.as_ref().map(|l| l.name.clone());
        let mut push = |field: &str, b: Option<String>, a: Option<String>| {
            if b != a {
                out.push(FieldChange {
                    path: format!("{name}.{field}"),
                    before: b,
                    after: a,
                });
            }
        };
        push("classification", level(before), level(after));
        push(
            "uses_pii",
            Some(before.uses_pii.to_string()),
            Some(after.uses_pii.to_string()),
        );
        let list = |l: &[String]| Some(format!("[{}]", l.join(", ")));
        let (lb, la) = (&before.lineage, &after.lineage);
        push("lineage.sources", list(&lb.sources), list(&la.sources));
        push(
            "lineage.feature_views",
            list(&lb.feature_views),
            list(&la.feature_views),
        );
        push(
            "lineage.pii_columns",
            list(&lb.pii_columns),
            list(&la.pii_columns),
        );
    }
    out
}

/// Models, services and batch jobs call their classification `data_classification`.
pub fn rename_classification(changes: &mut [FieldChange], decls: &Decls) {
    for c in changes {
        let Some(name) = c.path.strip_suffix(".classification") else {
            continue;
        };
        if decls
            .get(name)
            .is_some_and(|d| matches!(d.kind.as_str(), "model" | "service" | "batch_job"))
        {
            c.path = format!("{name}.data_classification");
        }
    }
}
