//! Hover: a field's doc, type and default from the kind table (and the value in
//! force after profiles are merged); for a reference, the target's kind, doc and
//! derived facts (classification, PII, lineage).

use super::Server;
use super::walk::{self, Event, Target};
use lsp_types::{Hover, HoverContents, HoverParams, MarkupContent, MarkupKind};
use plinth_check::analysis::{Decls, Facts, analyze, links};
use plinth_check::checked::{Field as CheckedField, Rec, Value};
use plinth_check::db::{DeclName, decl_of, merged_decl, parse_file, symbol_index};
use plinth_ir::kinds::{self, Field, Shape, Ty};
use std::collections::BTreeMap;

/// A type as a person reads it; enum types list their values.
pub fn ty_name(ty: &Ty, enums: &BTreeMap<String, Vec<String>>) -> String {
    match ty {
        Ty::Str => "string".into(),
        Ty::Email => "string (e-mail address)".into(),
        Ty::Bool => "bool".into(),
        Ty::Int => "integer".into(),
        Ty::Number => "number".into(),
        Ty::Duration => "duration (`40ms`, `5m`, `90d`)".into(),
        Ty::Bytes => "bytes (`512Mi`, `4Gi`)".into(),
        Ty::Cpu => "cpu (`2`, `0.5`, `500m`)".into(),
        Ty::Percent => "percent (`99.9%`)".into(),
        Ty::Date => "date (`2027-03-31`)".into(),
        Ty::Cron => "cron schedule (`\"0 3 * * *\"`)".into(),
        Ty::Enum(name) => match enums.get(*name) {
            Some(values) => format!("enum `{name}`: {}", values.join(" | ")),
            None => format!("enum `{name}`"),
        },
        Ty::Ref(kind) => format!("reference to a `{kind}`"),
        Ty::AnyRef => "reference to a declaration".into(),
        Ty::FeatureRef => "feature (`view.feature`)".into(),
        Ty::Column => "column of the source".into(),
        Ty::Aggregate => "aggregate (`count(col)`, `sum(col)`)".into(),
        Ty::List(inner) => format!("list of {}", ty_name(inner, enums)),
        Ty::Range => "range (`min..max`)".into(),
        Ty::Variant(vs) => {
            let names: Vec<String> = vs
                .iter()
                .map(|v| {
                    if v.body.is_some() {
                        format!("{} {{ .. }}", v.name)
                    } else {
                        v.name.to_string()
                    }
                })
                .collect();
            format!("one of {}", names.join(" | "))
        }
    }
}

pub fn shape_name(shape: &Shape, enums: &BTreeMap<String, Vec<String>>) -> String {
    match shape {
        Shape::Attr(ty) => ty_name(ty, enums),
        Shape::Block(_) => "block `{ .. }`".into(),
        Shape::Named(_) => "named block, any number".into(),
        Shape::Choice(vs) => {
            let names: Vec<&str> = vs.iter().map(|v| v.name).collect();
            format!("block, one per kind: {}", names.join(" | "))
        }
        Shape::EnvOverride => "per-environment overrides `env NAME { .. }`".into(),
    }
}

/// A field's documentation, as hover and completion show it.
pub fn field_doc(field: &Field, enums: &BTreeMap<String, Vec<String>>) -> String {
    let mut out = format!(
        "**{}**: {}{}\n\n{}",
        field.name,
        shape_name(&field.shape, enums),
        if field.required { " (required)" } else { "" },
        field.doc
    );
    if let Some(d) = field.default {
        out.push_str(&format!("\n\nDefault: `{d}`"));
    }
    out
}

/// The value of a field path (`resources.memory`) in a merged body.
fn value_at<'r>(rec: &'r Rec, path: &str) -> Option<&'r Value> {
    let mut rec = rec;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        match rec.fields.get(part)? {
            CheckedField::Value(v) if parts.peek().is_none() => return Some(&v.value),
            CheckedField::Block(b) => rec = &b.value,
            _ => return None,
        }
    }
    None
}

impl Server<'_> {
    pub fn hover(&self, p: HoverParams) -> Option<Hover> {
        let pos = p.text_document_position_params;
        let (file, rel, offset) = self.locate(&pos.text_document.uri, pos.position)?;
        let events = walk::events(&rel, &parse_file(&self.db, file).tree);
        let event = walk::at(&events, offset)?;
        let text = self.hover_text(event)?;
        let line = super::text::LineIndex::new(file.text(&self.db));
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: text,
            }),
            range: Some(line.range(event.span())),
        })
    }

    fn hover_text(&self, event: &Event) -> Option<String> {
        let enums = &symbol_index(&self.db, self.ws).enums;
        match event {
            Event::Key {
                field, decl, path, ..
            } => {
                let mut out = field_doc(field, enums);
                let merged = merged_decl(&self.db, self.ws, DeclName::new(&self.db, decl.clone()));
                if let Some(v) = merged.decl.as_ref().and_then(|d| value_at(&d.body, path)) {
                    out.push_str(&format!("\n\nValue in force: `{}`", v.render()));
                }
                Some(out)
            }
            Event::Kind { kind, .. } => {
                let def = kinds::kind(kind)?;
                Some(format!("**{}** (kind)\n\n{}", def.name, def.doc))
            }
            Event::Variant { variant, .. } => {
                Some(format!("**{}**\n\n{}", variant.name, variant.doc))
            }
            Event::Site { target, .. } | Event::Ref { target, .. } => self.target_text(target),
            Event::Value { ty, .. } => Some(ty_name(ty, enums)),
        }
    }

    fn target_text(&self, target: &Target) -> Option<String> {
        match target {
            Target::Decl(name) => self.decl_text(name),
            Target::Feature { view, feature } => {
                let decl = decl_of(&self.db, self.ws, DeclName::new(&self.db, view.clone()))?;
                let (_, body) = decl
                    .body
                    .named("feature")
                    .iter()
                    .find(|(n, _)| n == feature)?;
                let mut out = format!("```plinth\nfeature {view}.{feature}\n```");
                for key in ["type", "aggregate", "window"] {
                    if let Some(v) = body.value.get(key) {
                        out.push_str(&format!("\n- {key}: `{}`", v.render()));
                    }
                }
                Some(out)
            }
            Target::Column { source, column } => {
                let decl = decl_of(&self.db, self.ws, DeclName::new(&self.db, source.clone()))?;
                let (_, body) = decl
                    .body
                    .named("column")
                    .iter()
                    .find(|(n, _)| n == column)?;
                let mut out = format!("```plinth\ncolumn {source}.{column}\n```");
                for key in ["type", "pii", "event_time"] {
                    if let Some(v) = body.value.get(key) {
                        out.push_str(&format!("\n- {key}: `{}`", v.render()));
                    }
                }
                Some(out)
            }
        }
    }

    /// The derived facts of one declaration. Facts flow downstream only, so deriving
    /// them over the declaration's upstream closure gives the same result as the whole
    /// workspace's analysis, without re-running it after every edit.
    fn facts(&self, name: &str) -> Option<Facts> {
        let mut decls = Decls::new();
        let mut todo = vec![name.to_string()];
        while let Some(n) = todo.pop() {
            if decls.contains_key(&n) {
                continue;
            }
            let merged = merged_decl(&self.db, self.ws, DeclName::new(&self.db, n.clone()));
            let Some(decl) = merged.decl.clone() else {
                continue;
            };
            todo.extend(links(&decl).deps);
            decls.insert(n, decl);
        }
        analyze(symbol_index(&self.db, self.ws), decls)
            .facts
            .get(name)
            .cloned()
    }

    fn decl_text(&self, name: &str) -> Option<String> {
        let index = symbol_index(&self.db, self.ws);
        let symbol = index.get(name)?;
        if symbol.kind == kinds::ENUM_KIND {
            return Some(format!(
                "```plinth\nenum {name}\n```\n{}",
                symbol.values.join(" | ")
            ));
        }
        let decl = decl_of(&self.db, self.ws, DeclName::new(&self.db, name.to_string()))?;
        let mut out = format!("```plinth\n{} {}\n```", decl.kind, decl.name);
        if !decl.doc.is_empty() {
            out.push_str(&format!("\n{}\n", decl.doc));
        }
        if let Some(def) = kinds::kind(&decl.kind)
            && decl.doc.is_empty()
        {
            out.push_str(&format!("\n{}\n", def.doc));
        }
        if !decl.profiles.is_empty() {
            out.push_str(&format!("\nExtends: {}\n", decl.profiles.join(", ")));
        }
        if ["feature_view", "model", "service", "batch_job"].contains(&decl.kind.as_str())
            && let Some(facts) = self.facts(name)
        {
            let label = if decl.kind == "feature_view" {
                "Classification"
            } else {
                "Data classification"
            };
            if let Some(level) = &facts.classification {
                out.push_str(&format!("\n- {label}: `{}`", level.name));
            }
            out.push_str(&format!(
                "\n- Uses PII: {}",
                if facts.uses_pii { "yes" } else { "no" }
            ));
            let l = &facts.lineage;
            if !l.sources.is_empty() {
                out.push_str(&format!("\n- Lineage (sources): {}", l.sources.join(", ")));
            }
            if !l.feature_views.is_empty() {
                out.push_str(&format!(
                    "\n- Feature views: {}",
                    l.feature_views.join(", ")
                ));
            }
            if !l.pii_columns.is_empty() {
                out.push_str(&format!("\n- PII columns: {}", l.pii_columns.join(", ")));
            }
        } else if decl.kind == "source"
            && let Some(c) = decl.body.str("classification")
        {
            out.push_str(&format!("\n- Classification: `{c}`"));
        }
        Some(out)
    }
}
