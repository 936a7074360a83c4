//! One walk over a syntax tree, guided by the kind tables: every field key, reference,
//! feature or column name and value comes out as an [`Event`] with its span and what
//! the schema says it is. Hover, go-to-definition, find-references and document
//! symbols are all answered from these events, so they agree on what a name means.

use plinth_check::index::is_std_file;
use plinth_ir::kinds::{self, Field, Record, Shape, Ty, Variant};
use plinth_syntax::Span;
use plinth_syntax::ast::{Body, Decl, Entry, Expr, ExprKind, Item, SourceFile};

/// What a name refers to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// A declaration by its full name (`std.tier1_online` for the stdlib).
    Decl(String),
    /// `view.feature`
    Feature { view: String, feature: String },
    /// A column of a source.
    Column { source: String, column: String },
}

#[derive(Clone, Debug)]
pub enum Event {
    /// A declaration's kind keyword (or a profile's `for KIND`).
    Kind { span: Span, kind: String },
    /// A field key or block keyword. `path` is the dotted field path in the
    /// declaration (`resources.memory`), `decl` the declaration's full name.
    Key {
        span: Span,
        field: &'static Field,
        decl: String,
        path: String,
    },
    /// The name of a choice block (`slo latency`) or a variant value (`canary`).
    Variant {
        span: Span,
        variant: &'static Variant,
    },
    /// Where a target is declared: a declaration's name, `feature NAME`, `column NAME`.
    Site { span: Span, target: Target },
    /// A use of a target.
    Ref { span: Span, target: Target },
    /// Any other value, with the type the field expects.
    Value { span: Span, ty: Ty },
}

impl Event {
    pub fn span(&self) -> Span {
        match self {
            Event::Kind { span, .. }
            | Event::Key { span, .. }
            | Event::Variant { span, .. }
            | Event::Site { span, .. }
            | Event::Ref { span, .. }
            | Event::Value { span, .. } => *span,
        }
    }
}

/// The full name of a declaration in a file (`std.` for stdlib files).
pub fn decl_name(path: &str, decl: &Decl) -> String {
    if is_std_file(path) {
        format!("std.{}", decl.name.text)
    } else {
        decl.name.text.to_string()
    }
}

/// The record a declaration's body is read against (`None` for enums, unknown kinds).
pub fn decl_record(decl: &Decl) -> Option<&'static Record> {
    let kind = if decl.kind.text == "profile" {
        decl.for_kind.as_ref()?.text.as_str()
    } else {
        decl.kind.text.as_str()
    };
    kinds::kind(kind).map(|k| &k.record)
}

struct Ctx<'a> {
    decl: String,
    /// The declaration's `source`, for column names (feature views).
    source: Option<String>,
    out: &'a mut Vec<Event>,
}

/// Every event of a file, in source order per declaration.
pub fn events(path: &str, tree: &SourceFile) -> Vec<Event> {
    let mut out = Vec::new();
    for item in &tree.items {
        let Item::Decl(decl) = item else { continue };
        let name = decl_name(path, decl);
        out.push(Event::Kind {
            span: decl.kind.span,
            kind: decl.kind.text.to_string(),
        });
        out.push(Event::Site {
            span: decl.name.span,
            target: Target::Decl(name.clone()),
        });
        if let Some(k) = &decl.for_kind {
            out.push(Event::Kind {
                span: k.span,
                kind: k.text.to_string(),
            });
        }
        for p in &decl.extends {
            out.push(Event::Ref {
                span: p.span,
                target: Target::Decl(p.dotted()),
            });
        }
        let source = decl.body.entries.iter().find_map(|e| match e {
            Entry::Attr(a) if a.key.text == "source" => match &a.value.kind {
                ExprKind::Path(p) => Some(p.dotted()),
                _ => None,
            },
            _ => None,
        });
        let source = match decl.kind.text.as_str() {
            "source" => Some(name.clone()),
            "feature_view" => source,
            _ => None,
        };
        let mut ctx = Ctx {
            decl: name,
            source,
            out: &mut out,
        };
        if let Some(record) = decl_record(decl) {
            body(&mut ctx, &decl.body, record, "", &decl.kind.text);
        }
    }
    out
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn body(ctx: &mut Ctx, body: &Body, record: &'static Record, prefix: &str, decl_kind: &str) {
    for entry in &body.entries {
        match entry {
            Entry::Attr(a) => {
                let Some(field) = record.field(&a.key.text) else {
                    continue;
                };
                ctx.out.push(Event::Key {
                    span: a.key.span,
                    field,
                    decl: ctx.decl.clone(),
                    path: join(prefix, field.name),
                });
                if let Shape::Attr(ty) = field.shape {
                    expr(ctx, &a.value, ty);
                }
            }
            Entry::Block(b) => {
                let Some(field) = record.field(&b.kind.text) else {
                    continue;
                };
                let path = join(prefix, field.name);
                ctx.out.push(Event::Key {
                    span: b.kind.span,
                    field,
                    decl: ctx.decl.clone(),
                    path: path.clone(),
                });
                match field.shape {
                    Shape::Block(rec) => self::body(ctx, &b.body, rec, &path, decl_kind),
                    Shape::Named(rec) => {
                        if let Some(name) = &b.name {
                            let target = match (decl_kind, field.name) {
                                ("feature_view", "feature") => Some(Target::Feature {
                                    view: ctx.decl.clone(),
                                    feature: name.text.to_string(),
                                }),
                                ("source", "column") => Some(Target::Column {
                                    source: ctx.decl.clone(),
                                    column: name.text.to_string(),
                                }),
                                _ => None,
                            };
                            if let Some(target) = target {
                                ctx.out.push(Event::Site {
                                    span: name.span,
                                    target,
                                });
                            }
                        }
                        self::body(ctx, &b.body, rec, &path, decl_kind);
                    }
                    Shape::Choice(variants) => {
                        let variant = b.name.as_ref().and_then(|n| {
                            variants.iter().find(|v| v.name == n.text).map(|v| (n, v))
                        });
                        if let Some((name, variant)) = variant {
                            ctx.out.push(Event::Variant {
                                span: name.span,
                                variant,
                            });
                            if let Some(rec) = variant.body {
                                self::body(ctx, &b.body, rec, &path, decl_kind);
                            }
                        }
                    }
                    Shape::EnvOverride => {
                        if let Some(name) = &b.name {
                            ctx.out.push(Event::Ref {
                                span: name.span,
                                target: Target::Decl(name.text.to_string()),
                            });
                        }
                        self::body(ctx, &b.body, record, prefix, decl_kind);
                    }
                    Shape::Attr(_) => {}
                }
            }
            Entry::Bare(_) => {}
        }
    }
}

fn expr(ctx: &mut Ctx, e: &Expr, ty: Ty) {
    match (ty, &e.kind) {
        (Ty::List(inner), ExprKind::List(items)) => {
            for item in items {
                expr(ctx, item, *inner);
            }
        }
        // A list field also takes one value (`target: fraud_api`).
        (Ty::List(inner), _) => expr(ctx, e, *inner),
        (Ty::Ref(_) | Ty::AnyRef, ExprKind::Path(p)) => ctx.out.push(Event::Ref {
            span: p.span,
            target: Target::Decl(p.dotted()),
        }),
        (Ty::FeatureRef, ExprKind::Path(p)) => {
            if let [view, feature] = p.segments.as_slice() {
                ctx.out.push(Event::Ref {
                    span: view.span,
                    target: Target::Decl(view.text.to_string()),
                });
                ctx.out.push(Event::Ref {
                    span: feature.span,
                    target: Target::Feature {
                        view: view.text.to_string(),
                        feature: feature.text.to_string(),
                    },
                });
            }
        }
        (Ty::Column, ExprKind::Path(p)) => column(ctx, p.span, &p.dotted(), ty),
        (Ty::Aggregate, ExprKind::Call { args, .. }) => {
            for arg in args {
                if let ExprKind::Path(p) = &arg.kind {
                    column(ctx, p.span, &p.dotted(), Ty::Column);
                }
            }
        }
        (Ty::Variant(variants), ExprKind::Variant { name, body: b }) => {
            if let Some(variant) = variants.iter().find(|v| v.name == name.dotted()) {
                ctx.out.push(Event::Variant {
                    span: name.span,
                    variant,
                });
                if let Some(rec) = variant.body {
                    body(ctx, b, rec, "", "");
                }
            }
        }
        (Ty::Variant(variants), ExprKind::Path(p)) => {
            if let Some(variant) = variants.iter().find(|v| v.name == p.dotted()) {
                ctx.out.push(Event::Variant {
                    span: p.span,
                    variant,
                });
            }
        }
        _ => ctx.out.push(Event::Value { span: e.span, ty }),
    }
}

fn column(ctx: &mut Ctx, span: Span, name: &str, ty: Ty) {
    match &ctx.source {
        Some(source) => ctx.out.push(Event::Ref {
            span,
            target: Target::Column {
                source: source.clone(),
                column: name.to_string(),
            },
        }),
        None => ctx.out.push(Event::Value { span, ty }),
    }
}

/// The innermost event at a byte offset (a cursor right after a name still hits it).
pub fn at(events: &[Event], offset: usize) -> Option<&Event> {
    let offset = u32::try_from(offset).unwrap_or(u32::MAX);
    events
        .iter()
        .filter(|e| {
            let s = e.span();
            s.start <= offset && offset <= s.end
        })
        .min_by_key(|e| e.span().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(src: &str) -> Vec<String> {
        let tree = plinth_syntax::parse(src).file;
        events("a.plinth", &tree)
            .iter()
            .filter_map(|e| match e {
                Event::Ref { span, target } => Some(format!("{target:?} @ {}", &src[span.range()])),
                Event::Site { span, target } => {
                    Some(format!("site {target:?} @ {}", &src[span.range()]))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn references_follow_the_kind_tables() {
        let src = "feature_view v {\n  entity: e\n  source: s\n  feature f { type: int64  aggregate: count(id) }\n}\nmodel m { inputs: [v.f]  format: onnx }\nservice a extends std.tier1_online { model: m  env prod { replicas: 1..2 } }\n";
        expect_eq(
            targets(src),
            &[
                "site Decl(\"v\") @ v",
                "Decl(\"e\") @ e",
                "Decl(\"s\") @ s",
                "site Feature { view: \"v\", feature: \"f\" } @ f",
                "Column { source: \"s\", column: \"id\" } @ id",
                "site Decl(\"m\") @ m",
                "Decl(\"v\") @ v",
                "Feature { view: \"v\", feature: \"f\" } @ f",
                "site Decl(\"a\") @ a",
                "Decl(\"std.tier1_online\") @ std.tier1_online",
                "Decl(\"m\") @ m",
                "Decl(\"prod\") @ prod",
            ],
        );
    }

    fn expect_eq(got: Vec<String>, want: &[&str]) {
        assert_eq!(got, want.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn the_innermost_event_wins() {
        let src = "service a { resources { memory: 4Gi } }";
        let tree = plinth_syntax::parse(src).file;
        let events = events("a.plinth", &tree);
        let Some(Event::Key { field, path, .. }) = at(&events, src.find("memory").unwrap() + 2)
        else {
            panic!("no key at `memory`");
        };
        assert_eq!(field.name, "memory");
        assert_eq!(path, "resources.memory");
    }
}
