//! Reading each declaration's body against its kind table: field names, shapes, value
//! types, units by the expected type, enum values and references of the right kind.
//!
//! This pass sees one file and the symbol index; checks that need another
//! declaration's body (columns, features, profiles) are in `analysis`.

use crate::checked::{Decl, Field, Rec, Spanned, Text, Value};
use crate::index::{SymbolIndex, is_std_file};
use crate::{cron, units};
use plinth_ir::kinds::{self, KindDef, Record, Shape, Ty, Variant};
use plinth_ir::{Date, Decimal, FeatureRef};
use plinth_syntax::ast::{self, Entry, Expr, ExprKind, Item};
use plinth_syntax::did_you_mean;
use plinth_syntax::{Diagnostic, Span};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileCheck {
    pub decls: Vec<std::sync::Arc<Decl>>,
    pub diagnostics: Vec<Diagnostic>,
    /// Positions in `decls` sorted by name (file order among equal names), so finding
    /// one declaration is a binary search: a file holds hundreds, and every
    /// declaration of the workspace is looked up this way.
    by_name: Vec<u32>,
}

impl FileCheck {
    /// The first declaration named `name`.
    pub fn decl(&self, name: &str) -> Option<&std::sync::Arc<Decl>> {
        let name_at = |i: &u32| self.decls.get(*i as usize).map(|d| d.name.as_str());
        let first = self
            .by_name
            .partition_point(|i| name_at(i).is_some_and(|n| n < name));
        let i = self.by_name.get(first)?;
        self.decls.get(*i as usize).filter(|d| d.name == name)
    }
}

/// Aggregate functions and whether they need a numeric column.
pub const AGGREGATES: [(&str, bool); 7] = [
    ("count", false),
    ("count_distinct", false),
    ("last", false),
    ("sum", true),
    ("avg", true),
    ("min", true),
    ("max", true),
];

pub fn check_file_bodies(path: &str, tree: &ast::SourceFile, index: &SymbolIndex) -> FileCheck {
    let mut cx = Cx {
        index,
        file: path,
        diags: Vec::new(),
        aliases: BTreeMap::new(),
        kind: "",
    };
    for item in &tree.items {
        if let Item::Use(u) = item {
            cx.use_item(u);
        }
    }
    let mut decls = Vec::new();
    for item in &tree.items {
        if let Item::Decl(d) = item
            && let Some(decl) = cx.decl(d)
        {
            decls.push(std::sync::Arc::new(decl));
        }
    }
    let mut by_name: Vec<u32> = (0..decls.len())
        .filter_map(|i| u32::try_from(i).ok())
        .collect();
    // Stable: among equal names the first declared stays first.
    by_name.sort_by(|a, b| {
        let name = |i: &u32| decls.get(*i as usize).map(|d| d.name.as_str());
        name(a).cmp(&name(b))
    });
    FileCheck {
        decls,
        diagnostics: cx.diags,
        by_name,
    }
}

struct Cx<'a> {
    index: &'a SymbolIndex,
    file: &'a str,
    diags: Vec<Diagnostic>,
    /// `use std.x as y`: y -> std.x
    aliases: BTreeMap<String, String>,
    /// The kind being checked, for messages.
    kind: &'static str,
}

fn kind_article(kind: &str) -> &'static str {
    if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

impl Cx<'_> {
    fn error(&mut self, code: &str, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.diags
            .push(Diagnostic::error(code, span, message).with_file(self.file));
        self.diags
            .last_mut()
            .unwrap_or_else(|| unreachable!("a diagnostic was just pushed"))
    }

    fn use_item(&mut self, u: &ast::Use) {
        let target = u.path.dotted();
        if self.index.get(&target).is_none() {
            let suggestion = self.index.suggest(&target, None).map(str::to_string);
            let d = self.error(
                "plinth::ref::unknown",
                u.path.span,
                format!("`{target}` does not exist"),
            );
            if let Some(s) = suggestion {
                d.help = Some(format!("did you mean `{s}`?"));
            }
            return;
        }
        let alias = match &u.alias {
            Some(a) => a.text.to_string(),
            None => u
                .path
                .segments
                .last()
                .map(|s| s.text.to_string())
                .unwrap_or_default(),
        };
        self.aliases.insert(alias, target);
    }

    /// The full name a path refers to (alias or `std.` resolved).
    fn resolve_name(&self, path: &ast::Path) -> String {
        let dotted = path.dotted();
        self.aliases.get(&dotted).cloned().unwrap_or(dotted)
    }

    fn decl(&mut self, d: &ast::Decl) -> Option<Decl> {
        let std = is_std_file(self.file);
        let kind_name = d.kind.text.as_str();
        if kind_name == kinds::ENUM_KIND {
            if !std {
                self.error(
                    "plinth::decl::enum",
                    d.kind.span,
                    "enums are declared by the stdlib only",
                )
                .help = Some("use a `std` enum's values, or a string field".to_string());
            }
            return None;
        }
        let Some(kind) = kinds::kind(kind_name) else {
            let suggestion = did_you_mean(kind_name, kinds::kind_names());
            let d = self.error(
                "plinth::decl::unknown_kind",
                d.kind.span,
                format!("unknown kind `{kind_name}`"),
            );
            d.label = Some("not a kind".to_string());
            d.help = Some(match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "the kinds are {}",
                    kinds::kind_names().collect::<Vec<_>>().join(", ")
                ),
            });
            return None;
        };
        // The record the body is read against: a profile's is its target kind's.
        let (record_kind, for_kind) = if kind.name == "profile" {
            let Some(target) = &d.for_kind else {
                self.error(
                    "plinth::profile::for",
                    d.name.span,
                    format!(
                        "profile `{}` does not say which kind it is for",
                        d.name.text
                    ),
                )
                .help = Some(format!(
                    "write `profile {} for service {{ ... }}`",
                    d.name.text
                ));
                return None;
            };
            match kinds::kind(&target.text).filter(|k| !matches!(k.name, "profile" | "waiver")) {
                Some(k) => (k, Some(k.name.to_string())),
                None => {
                    let suggestion = did_you_mean(&target.text, kinds::kind_names());
                    let d = self.error(
                        "plinth::profile::for",
                        target.span,
                        format!("`{}` is not a kind a profile can be for", target.text),
                    );
                    d.help = suggestion.map(|s| format!("did you mean `{s}`?"));
                    return None;
                }
            }
        } else {
            if let Some(f) = &d.for_kind {
                self.error(
                    "plinth::profile::for",
                    f.span,
                    format!(
                        "only profiles take `for`; `{}` is {} {}",
                        d.name.text,
                        kind_article(kind.name),
                        kind.name
                    ),
                );
            }
            (kind, None)
        };
        self.kind = record_kind.name;
        let mut profiles = Vec::new();
        for path in &d.extends {
            if let Some(p) = self.extends_target(path, record_kind) {
                profiles.push(p);
            }
        }
        let body = self.body(&d.body, &record_kind.record, Some(record_kind));
        let doc = d
            .docs
            .iter()
            .map(|doc| doc.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        Some(Decl {
            kind: kind.name.to_string(),
            name: if std {
                format!("std.{}", d.name.text)
            } else {
                d.name.text.to_string()
            },
            doc,
            file: self.file.to_string(),
            span: d.span,
            name_span: d.name.span,
            profiles,
            for_kind,
            body,
        })
    }

    fn extends_target(&mut self, path: &ast::Path, kind: &KindDef) -> Option<String> {
        let name = self.resolve_name(path);
        match self.index.get(&name) {
            None => {
                let suggestion =
                    did_you_mean(&name, self.index.names_of_kind("profile")).map(str::to_string);
                let d = self.error(
                    "plinth::extends::unknown",
                    path.span,
                    format!("profile `{name}` does not exist"),
                );
                d.help = suggestion.map(|s| format!("did you mean `{s}`?"));
                None
            }
            Some(sym) if sym.kind != "profile" => {
                self.error(
                    "plinth::extends::not_profile",
                    path.span,
                    format!(
                        "`{name}` is {} {}, not a profile",
                        kind_article(&sym.kind),
                        sym.kind
                    ),
                )
                .help =
                    Some("`extends` names profiles: `profile NAME for KIND { ... }`".to_string());
                None
            }
            Some(sym) if sym.for_kind.as_deref() != Some(kind.name) => {
                let for_kind = sym.for_kind.clone().unwrap_or_default();
                self.error(
                    "plinth::extends::kind",
                    path.span,
                    format!("profile `{name}` is for {for_kind}, not {}", kind.name),
                )
                .help = Some(format!("extend a profile declared `for {}`", kind.name));
                None
            }
            Some(_) => Some(name),
        }
    }

    /// Reads a body against `record`. `owner` is the declaration kind, for env overrides.
    fn body(
        &mut self,
        body: &ast::Body,
        record: &'static Record,
        owner: Option<&'static KindDef>,
    ) -> Rec {
        let mut rec = Rec {
            fields: crate::checked::FieldMap::with_capacity(body.entries.len()),
            errored: Vec::new(),
        };
        for entry in &body.entries {
            let key = entry.key();
            let Some(field) = record.field(&key.text) else {
                if let Some(suggestion) = self.unknown_field(key, record) {
                    rec.errored.push(suggestion.to_string());
                }
                continue;
            };
            match (entry, field.shape) {
                (Entry::Attr(attr), Shape::Attr(ty)) => match self.value(&attr.value, &ty) {
                    Some(value) => self.insert(
                        &mut rec,
                        key,
                        field.name,
                        Field::Value(Spanned {
                            value,
                            span: attr.value.span,
                        }),
                    ),
                    None => rec.errored.push(key.text.to_string()),
                },
                (Entry::Attr(attr), _) => {
                    rec.errored.push(key.text.to_string());
                    self.error(
                        "plinth::field::shape",
                        attr.key.span,
                        format!("`{}` is a block, not a value", key.text),
                    )
                    .help = Some(match field.shape {
                        Shape::Block(_) => format!("write `{} {{ ... }}`", key.text),
                        _ => format!("write `{} NAME {{ ... }}`", key.text),
                    });
                }
                (Entry::Block(block), Shape::Attr(_)) => {
                    rec.errored.push(key.text.to_string());
                    self.error(
                        "plinth::field::shape",
                        block.kind.span,
                        format!("`{}` is a value, not a block", key.text),
                    )
                    .help = Some(format!("write `{}: VALUE`", key.text));
                }
                (Entry::Block(block), Shape::Block(inner)) => {
                    if let Some(name) = &block.name {
                        self.error(
                            "plinth::field::shape",
                            name.span,
                            format!("`{}` takes no name", key.text),
                        )
                        .help = Some(format!("write `{} {{ ... }}`", key.text));
                    }
                    let value = self.body(&block.body, inner, None);
                    self.insert(
                        &mut rec,
                        key,
                        field.name,
                        Field::Block(Spanned {
                            value,
                            span: block.span,
                        }),
                    );
                }
                (Entry::Block(block), Shape::Named(inner)) => {
                    if let Some(name) = self.block_name(block) {
                        let value = self.body(&block.body, inner, None);
                        self.insert_named(
                            &mut rec,
                            &body.entries,
                            key,
                            field.name,
                            name,
                            Spanned {
                                value,
                                span: block.span,
                            },
                        );
                    }
                }
                (Entry::Block(block), Shape::Choice(variants)) => {
                    let Some(name) = self.block_name(block) else {
                        continue;
                    };
                    let Some(variant) = self.variant_named(
                        variants,
                        &name,
                        block.name.as_ref().map_or(block.span, |n| n.span),
                    ) else {
                        continue;
                    };
                    let value = match variant.body {
                        Some(inner) => {
                            let value = self.body(&block.body, inner, None);
                            self.require(
                                &value,
                                inner,
                                block.span,
                                &format!("{} {name}", key.text),
                            );
                            value
                        }
                        None => Rec::default(),
                    };
                    self.insert_named(
                        &mut rec,
                        &body.entries,
                        key,
                        field.name,
                        name,
                        Spanned {
                            value,
                            span: block.span,
                        },
                    );
                }
                (Entry::Block(block), Shape::EnvOverride) => {
                    let Some(name) = self.block_name(block) else {
                        continue;
                    };
                    let Some(owner) = owner else {
                        self.error(
                            "plinth::field::shape",
                            block.kind.span,
                            "`env` overrides cannot be nested",
                        );
                        continue;
                    };
                    if let Some(ident) = &block.name {
                        let path = ast::Path {
                            segments: vec![ident.clone()],
                            span: ident.span,
                        };
                        self.reference(&path, "environment");
                    }
                    let value = self.body(&block.body, &owner.record, None);
                    self.insert_named(
                        &mut rec,
                        &body.entries,
                        key,
                        field.name,
                        name,
                        Spanned {
                            value,
                            span: block.span,
                        },
                    );
                }
                (Entry::Bare(ident), _) => {
                    self.error(
                        "plinth::syntax::unexpected",
                        ident.span,
                        format!("expected `:` or `{{` after `{}`", ident.text),
                    );
                }
            }
        }
        rec.fields.shrink_to_fit();
        rec
    }

    /// Reports an unknown field; returns the suggested field, if any.
    fn unknown_field(&mut self, key: &ast::Ident, record: &'static Record) -> Option<&'static str> {
        let suggestion = did_you_mean(&key.text, record.fields.iter().map(|f| f.name));
        let kind = self.kind;
        let d = self.error(
            "plinth::field::unknown",
            key.span,
            format!("unknown field `{}` on {kind}", key.text),
        );
        d.label = Some(format!("not a field of `{kind}`"));
        d.help = Some(match suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "the fields here are {}",
                record
                    .fields
                    .iter()
                    .map(|f| format!("`{}`", f.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
        suggestion
    }

    fn block_name(&mut self, block: &ast::Block) -> Option<Text> {
        match &block.name {
            Some(n) => Some(n.text.clone()),
            None => {
                self.error(
                    "plinth::field::shape",
                    block.kind.span,
                    format!("`{}` needs a name", block.kind.text),
                )
                .help = Some(format!("write `{} NAME {{ ... }}`", block.kind.text));
                None
            }
        }
    }

    fn variant_named(
        &mut self,
        variants: &'static [Variant],
        name: &str,
        span: Span,
    ) -> Option<&'static Variant> {
        if let Some(v) = variants.iter().find(|v| v.name == name) {
            return Some(v);
        }
        let suggestion = did_you_mean(name, variants.iter().map(|v| v.name));
        let names = variants
            .iter()
            .map(|v| format!("`{}`", v.name))
            .collect::<Vec<_>>()
            .join(", ");
        self.error(
            "plinth::type::variant",
            span,
            format!("unknown variant `{name}`"),
        )
        .help = Some(match suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("expected one of {names}"),
        });
        None
    }

    /// `name` is the kind table's name for `key`.
    fn insert(&mut self, rec: &mut Rec, key: &ast::Ident, name: &'static str, field: Field) {
        if let Some(first) = rec.span_of(&key.text) {
            let file = self.file.to_string();
            self.error(
                "plinth::field::duplicate",
                key.span,
                format!("`{}` is set twice", key.text),
            )
            .related
            .push(plinth_syntax::Related {
                file,
                span: first,
                message: "first set here".to_string(),
            });
            return;
        }
        rec.fields.insert(name, field);
    }

    fn insert_named(
        &mut self,
        rec: &mut Rec,
        siblings: &[Entry],
        key: &ast::Ident,
        field: &'static str,
        name: Text,
        block: Spanned<Rec>,
    ) {
        let entry = rec.fields.get_or_insert_with(field, || {
            // Sized for every block of this kind in the body (`column` × 6), once.
            let n = siblings.iter().filter(|e| e.key().text == key.text).count();
            Field::Named(Vec::with_capacity(n))
        });
        let Field::Named(items) = entry else { return };
        if let Some((_, first)) = items.iter().find(|(n, _)| *n == name) {
            let first = first.span;
            let file = self.file.to_string();
            self.error(
                "plinth::field::duplicate",
                block.span,
                format!("`{} {name}` is declared twice", key.text),
            )
            .related
            .push(plinth_syntax::Related {
                file,
                span: first,
                message: "first declared here".to_string(),
            });
            return;
        }
        items.push((name, block));
    }

    /// Required fields of `record` missing from `rec` (after profiles are merged).
    fn require(&mut self, rec: &Rec, record: &Record, span: Span, what: &str) {
        for name in missing_required(rec, record) {
            self.error(
                "plinth::field::missing",
                span,
                format!("{what} is missing the required field `{name}`"),
            )
            .help = Some(format!(
                "add `{name}: ...`; {}",
                record.field(&name).map_or("", |f| f.doc)
            ));
        }
    }

    fn mismatch(&mut self, expr: &Expr, expected: &str, help: Option<String>) {
        let d = self.error(
            "plinth::type::mismatch",
            expr.span,
            format!("expected {expected}, found {}", describe(expr)),
        );
        d.label = Some(format!("expected {expected}"));
        d.help = help;
    }

    fn value(&mut self, expr: &Expr, ty: &Ty) -> Option<Value> {
        if matches!(expr.kind, ExprKind::Error) {
            return None;
        }
        match ty {
            Ty::Str => match &expr.kind {
                ExprKind::Str(s) => Some(Value::Str(s.as_str().into())),
                _ => self.expected(
                    expr,
                    "a string",
                    Some("strings are written in double quotes: \"...\""),
                ),
            },
            Ty::Email => match &expr.kind {
                ExprKind::Str(s) if is_email(s) => Some(Value::Str(s.as_str().into())),
                ExprKind::Str(s) => {
                    self.error(
                        "plinth::type::email",
                        expr.span,
                        format!("`{s}` is not an e-mail address"),
                    )
                    .help = Some("write an address like \"team@example.com\"".to_string());
                    None
                }
                _ => self.expected(expr, "an e-mail address string", None::<String>),
            },
            Ty::Bool => match &expr.kind {
                ExprKind::Path(p) if p.dotted() == "true" => Some(Value::Bool(true)),
                ExprKind::Path(p) if p.dotted() == "false" => Some(Value::Bool(false)),
                _ => self.expected(expr, "`true` or `false`", None::<String>),
            },
            Ty::Int => match &expr.kind {
                ExprKind::Number(n) => match n.parse::<i64>() {
                    Ok(v) => Some(Value::Int(v)),
                    Err(_) => self.expected(expr, "a whole number", None::<String>),
                },
                _ => self.expected(expr, "a whole number", None::<String>),
            },
            Ty::Number => match &expr.kind {
                ExprKind::Number(n) => match Decimal::parse(n) {
                    Some(d) => Some(Value::Number(d)),
                    None => self.expected(expr, "a number", None::<String>),
                },
                _ => self.expected(expr, "a number", None::<String>),
            },
            Ty::Duration => match &expr.kind {
                ExprKind::Unit { number, suffix } => {
                    self.unit(expr, units::duration(number, suffix).map(Value::Duration))
                }
                ExprKind::Number(n) => self.expected(
                    expr,
                    "a duration",
                    Some(format!("add a unit: `{n}s`, `{n}m`, `{n}h`, ...")),
                ),
                _ => self.expected(
                    expr,
                    "a duration",
                    Some("write a duration like `5m`, `40ms`, `90d`".to_string()),
                ),
            },
            Ty::Bytes => match &expr.kind {
                ExprKind::Unit { number, suffix } => {
                    self.unit(expr, units::bytes(number, suffix).map(Value::Bytes))
                }
                ExprKind::Number(n) => self.expected(
                    expr,
                    "a memory size",
                    Some(format!("add a binary unit: `{n}Mi`, `{n}Gi`")),
                ),
                _ => self.expected(
                    expr,
                    "a memory size",
                    Some("write a size like `4Gi`".to_string()),
                ),
            },
            Ty::Cpu => match &expr.kind {
                ExprKind::Number(n) => self.unit(expr, units::cpu_cores(n).map(Value::Cpu)),
                ExprKind::Unit { number, suffix } => {
                    self.unit(expr, units::cpu_unit(number, suffix).map(Value::Cpu))
                }
                _ => self.expected(
                    expr,
                    "a cpu amount",
                    Some("write cores (`2`, `0.5`) or millicores (`500m`)".to_string()),
                ),
            },
            Ty::Percent => match &expr.kind {
                ExprKind::Percent(text) => {
                    let d = Decimal::parse(text)?;
                    if d <= Decimal::from_int(0) || d > Decimal::from_int(100) {
                        self.error(
                            "plinth::type::percent",
                            expr.span,
                            format!("`{text}%` is outside (0, 100]"),
                        )
                        .help = Some("a percentage is above 0% and at most 100%".to_string());
                        return None;
                    }
                    Some(Value::Percent(d))
                }
                ExprKind::Number(n) => {
                    self.expected(expr, "a percentage", Some(format!("write `{n}%`")))
                }
                _ => self.expected(
                    expr,
                    "a percentage",
                    Some("write a percentage like `99.9%`".to_string()),
                ),
            },
            Ty::Date => match &expr.kind {
                ExprKind::Date { year, month, day } => {
                    let date = Date {
                        year: *year,
                        month: *month,
                        day: *day,
                    };
                    if date.is_valid() {
                        Some(Value::Date(date))
                    } else {
                        self.error(
                            "plinth::type::date",
                            expr.span,
                            format!("`{date}` is not a calendar date"),
                        );
                        None
                    }
                }
                ExprKind::Str(s) if Date::parse(s).is_some() => self.expected(
                    expr,
                    "a date",
                    Some(format!("dates are written without quotes: `{s}`")),
                ),
                _ => self.expected(
                    expr,
                    "a date",
                    Some("write a date like `2027-03-31`".to_string()),
                ),
            },
            Ty::Cron => match &expr.kind {
                ExprKind::Str(s) => match cron::interval(s) {
                    Ok(interval) => Some(Value::Cron {
                        expr: Text::from(s.as_str()),
                        interval,
                    }),
                    Err(why) => {
                        self.error("plinth::type::cron", expr.span, format!("`{s}` is not a valid cron expression: {why}"))
                            .help = Some("five fields: minute hour day-of-month month day-of-week, e.g. \"*/5 * * * *\"".to_string());
                        None
                    }
                },
                _ => self.expected(
                    expr,
                    "a cron expression string",
                    Some("e.g. \"0 3 * * *\"".to_string()),
                ),
            },
            Ty::Enum(name) => self.enum_value(expr, name),
            Ty::Ref(kind) => match &expr.kind {
                ExprKind::Path(p) => self.reference(p, kind).map(|r| Value::Ref(r.into())),
                _ => self.expected(
                    expr,
                    &format!("the name of {} {kind}", kind_article(kind)),
                    None::<String>,
                ),
            },
            Ty::AnyRef => match &expr.kind {
                ExprKind::Path(p) => {
                    let name = self.resolve_name(p);
                    if self.index.get(&name).is_some() {
                        Some(Value::Ref(name.into()))
                    } else {
                        self.unknown_reference(p.span, &name, None);
                        None
                    }
                }
                _ => self.expected(expr, "the name of a declaration", None::<String>),
            },
            Ty::FeatureRef => match &expr.kind {
                ExprKind::Path(p) if p.segments.len() == 2 => {
                    let (view, feature) = (p.segments.first()?, p.segments.get(1)?);
                    let view_path = ast::Path {
                        segments: vec![view.clone()],
                        span: view.span,
                    };
                    self.reference(&view_path, "feature_view")?;
                    Some(Value::FeatureRef(FeatureRef {
                        view: view.text.to_string(),
                        feature: feature.text.to_string(),
                    }))
                }
                _ => self.expected(expr, "a feature path `view.feature`", None::<String>),
            },
            Ty::Column => match &expr.kind {
                ExprKind::Path(p) if p.segments.len() == 1 => {
                    Some(Value::Column(p.dotted().into()))
                }
                _ => self.expected(expr, "a column name", None::<String>),
            },
            Ty::Aggregate => self.aggregate(expr),
            Ty::List(inner) => match &expr.kind {
                ExprKind::List(items) => {
                    let values = items
                        .iter()
                        .filter_map(|item| {
                            self.value(item, inner).map(|value| Spanned {
                                value,
                                span: item.span,
                            })
                        })
                        .collect();
                    Some(Value::List(values))
                }
                // A single value where a list is expected is a list of one.
                _ => self.value(expr, inner).map(|value| {
                    Value::List(vec![Spanned {
                        value,
                        span: expr.span,
                    }])
                }),
            },
            Ty::Range => match &expr.kind {
                ExprKind::Range(lo, hi) => {
                    let lo_v = self.int_of(lo)?;
                    let hi_v = self.int_of(hi)?;
                    if lo_v > hi_v {
                        self.error(
                            "plinth::type::range",
                            expr.span,
                            format!("range `{lo_v}..{hi_v}` has its minimum above its maximum"),
                        )
                        .help = Some(format!("write `{hi_v}..{lo_v}`"));
                        return None;
                    }
                    if lo_v < 1 {
                        self.error(
                            "plinth::type::range",
                            lo.span,
                            format!("at least 1 replica is needed, not {lo_v}"),
                        )
                        .help = Some(
                            "a service with 0 replicas serves nothing; use `1..` or more"
                                .to_string(),
                        );
                        return None;
                    }
                    Some(Value::Range(lo_v, hi_v))
                }
                ExprKind::Number(n) => self.expected(
                    expr,
                    "a range `min..max`",
                    Some(format!("for a fixed count write `{n}..{n}`")),
                ),
                _ => self.expected(expr, "a range `min..max`", None::<String>),
            },
            Ty::Variant(variants) => {
                let (name, body) = match &expr.kind {
                    ExprKind::Path(p) if p.segments.len() == 1 => (p.dotted(), None),
                    ExprKind::Variant { name, body } => (name.dotted(), Some(body)),
                    _ => {
                        let names = variants
                            .iter()
                            .map(|v| format!("`{}`", v.name))
                            .collect::<Vec<_>>()
                            .join(", ");
                        return self.expected(expr, &format!("one of {names}"), None::<String>);
                    }
                };
                let variant = self.variant_named(variants, &name, expr.span)?;
                let body = match (variant.body, body) {
                    (Some(record), Some(body)) => {
                        let rec = self.body(body, record, None);
                        self.require(&rec, record, expr.span, &format!("`{name}`"));
                        Some(rec)
                    }
                    (Some(record), None) => {
                        let rec = Rec::default();
                        self.require(&rec, record, expr.span, &format!("`{name}`"));
                        Some(rec)
                    }
                    (None, Some(body)) => {
                        self.error(
                            "plinth::type::variant",
                            body.span,
                            format!("`{name}` takes no settings"),
                        )
                        .help = Some(format!("write `{name}`"));
                        None
                    }
                    (None, None) => None,
                };
                Some(Value::Variant {
                    name: Text::from(name),
                    body: body.map(Box::new),
                })
            }
        }
    }

    fn expected(
        &mut self,
        expr: &Expr,
        what: &str,
        help: Option<impl Into<String>>,
    ) -> Option<Value> {
        self.mismatch(expr, what, help.map(Into::into));
        None
    }

    fn unit(&mut self, expr: &Expr, read: Result<Value, units::UnitError>) -> Option<Value> {
        match read {
            Ok(v) => Some(v),
            Err(e) => {
                self.error("plinth::type::unit", expr.span, e.message).help = Some(e.help);
                None
            }
        }
    }

    fn int_of(&mut self, expr: &Expr) -> Option<i64> {
        match self.value(expr, &Ty::Int)? {
            Value::Int(n) => Some(n),
            _ => None,
        }
    }

    fn enum_value(&mut self, expr: &Expr, enum_name: &str) -> Option<Value> {
        let values = self.index.enums.get(enum_name);
        let ExprKind::Path(p) = &expr.kind else {
            let help = values.map(|vs| format!("one of {}", vs.join(", ")));
            return self.expected(expr, &format!("a {enum_name}"), help);
        };
        let name = p.dotted();
        let Some(values) = values else {
            // The stdlib lacks the enum: reported once by the stdlib test, not per use.
            return Some(Value::Enum(name.into()));
        };
        if values.contains(&name) {
            return Some(Value::Enum(name.into()));
        }
        let suggestion = did_you_mean(&name, values.iter().map(String::as_str));
        let d = self.error(
            "plinth::type::enum",
            expr.span,
            format!("`{name}` is not a {enum_name}"),
        );
        d.help = Some(match suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("expected one of {}", values.join(", ")),
        });
        None
    }

    /// Resolves a reference that must name a declaration of `kind`.
    fn reference(&mut self, path: &ast::Path, kind: &str) -> Option<String> {
        let name = self.resolve_name(path);
        match self.index.get(&name) {
            Some(sym) if sym.kind == kind => Some(name),
            Some(sym) => {
                let sym_kind = sym.kind.clone();
                let index = self.index;
                let candidates: Vec<&str> = index.names_of_kind(kind).collect();
                let d = self.error(
                    "plinth::ref::kind",
                    path.span,
                    format!(
                        "`{name}` is {} {sym_kind}, not {} {kind}",
                        kind_article(&sym_kind),
                        kind_article(kind)
                    ),
                );
                d.label = Some(format!("expected {} {kind}", kind_article(kind)));
                d.help = Some(if candidates.is_empty() {
                    format!("declare {} {kind} and name it here", kind_article(kind))
                } else {
                    format!(
                        "{kind}s declared: {}",
                        candidates
                            .iter()
                            .take(8)
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
                None
            }
            None => {
                self.unknown_reference(path.span, &name, Some(kind));
                None
            }
        }
    }

    fn unknown_reference(&mut self, span: Span, name: &str, kind: Option<&str>) {
        let suggestion = self.index.suggest(name, kind).map(str::to_string);
        let what = kind.map_or("declaration".to_string(), str::to_string);
        let d = self.error(
            "plinth::ref::unknown",
            span,
            format!("no {what} named `{name}`"),
        );
        d.label = Some("not declared".to_string());
        d.help = suggestion.map(|s| format!("did you mean `{s}`?"));
    }

    fn aggregate(&mut self, expr: &Expr) -> Option<Value> {
        let ExprKind::Call { callee, args } = &expr.kind else {
            return self.expected(expr, "an aggregate like `sum(amount)`", None::<String>);
        };
        let function = callee.dotted();
        if !AGGREGATES.iter().any(|(f, _)| *f == function) {
            let suggestion = did_you_mean(&function, AGGREGATES.iter().map(|(f, _)| *f));
            self.error(
                "plinth::type::aggregate",
                callee.span,
                format!("unknown aggregate `{function}`"),
            )
            .help = Some(match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "aggregates: {}",
                    AGGREGATES
                        .iter()
                        .map(|(f, _)| *f)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
            return None;
        }
        match args.as_slice() {
            [
                Expr {
                    kind: ExprKind::Path(p),
                    ..
                },
            ] if p.segments.len() == 1 => Some(Value::Aggregate {
                function: Text::from(function),
                column: Text::from(p.dotted()),
            }),
            _ => {
                self.error(
                    "plinth::type::aggregate",
                    expr.span,
                    format!("`{function}` takes one column name"),
                )
                .help = Some(format!("write `{function}(column)`"));
                None
            }
        }
    }
}

/// Required fields of `record` missing from `rec`, sorted.
pub fn missing_required(rec: &Rec, record: &Record) -> Vec<String> {
    record
        .fields
        .iter()
        .filter(|f| {
            f.required
                && !rec.fields.contains_key(f.name)
                && !rec.errored.iter().any(|e| e == f.name)
        })
        .map(|f| f.name.to_string())
        .collect()
}

fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// "a string", "the duration `5m`": how an expression reads in a type error.
fn describe(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Str(s) => format!("the string {s:?}"),
        ExprKind::Number(n) => format!("the number `{n}`"),
        ExprKind::Unit { number, suffix } => format!("`{number}{suffix}`"),
        ExprKind::Percent(p) => format!("`{p}%`"),
        ExprKind::Date { year, month, day } => format!("the date `{year:04}-{month:02}-{day:02}`"),
        ExprKind::Range(..) => "a range".to_string(),
        ExprKind::List(_) => "a list".to_string(),
        ExprKind::Path(p) => format!("`{}`", p.dotted()),
        ExprKind::Call { callee, .. } => format!("a call to `{}`", callee.dotted()),
        ExprKind::Variant { name, .. } => format!("`{} {{ ... }}`", name.dotted()),
        ExprKind::Record(_) => "a block `{ ... }`".to_string(),
        ExprKind::Error => "an invalid expression".to_string(),
    }
}
