//! Completion: declaration kinds at the top level, field names per kind and block
//! (from the kind tables), enum values for enum fields, declarations of the right kind
//! for references, features after `view.`, source columns inside aggregates, and the
//! alternatives of variant and choice fields.

use super::Server;
use super::hover::{field_doc, shape_name};
use super::scan::{self, Header, Slot};
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionParams, CompletionResponse, Documentation,
    InsertTextFormat, MarkupContent, MarkupKind,
};
use plinth_check::db::{DeclName, decl_of, symbol_index};
use plinth_check::typeck::AGGREGATES;
use plinth_ir::kinds::{self, Record, Shape, Ty};

fn markdown(text: String) -> Option<Documentation> {
    Some(Documentation::MarkupContent(MarkupContent {
        kind: MarkupKind::Markdown,
        value: text,
    }))
}

fn item(label: &str, kind: CompletionItemKind, detail: Option<String>) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail,
        ..CompletionItem::default()
    }
}

impl Server<'_> {
    pub fn completion(&self, p: CompletionParams) -> Option<CompletionResponse> {
        let pos = p.text_document_position;
        let (file, _, offset) = self.locate(&pos.text_document.uri, pos.position)?;
        let text = file.text(&self.db);
        let cursor = scan::cursor(text, offset)?;
        let items = match &cursor.slot {
            Slot::Kind => self.kinds(),
            Slot::Extends { kind } => self.profiles(kind),
            Slot::Field { present } => self.fields(scan::record(&cursor.headers)?, present),
            Slot::BlockName { key } => {
                let field = scan::record(&cursor.headers)?.field(key)?;
                match field.shape {
                    Shape::Choice(variants) => variants
                        .iter()
                        .map(|v| {
                            let mut i = item(v.name, CompletionItemKind::ENUM_MEMBER, None);
                            i.documentation = markdown(v.doc.to_string());
                            i
                        })
                        .collect(),
                    Shape::EnvOverride => self.decls_of_kind("environment"),
                    _ => Vec::new(),
                }
            }
            Slot::Value { key, in_call, head } => {
                let field = scan::record(&cursor.headers)?.field(key)?;
                let Shape::Attr(mut ty) = field.shape else {
                    return None;
                };
                while let Ty::List(inner) = ty {
                    ty = *inner;
                }
                self.values(&ty, *in_call, head.as_deref(), &cursor.headers)
            }
        };
        Some(CompletionResponse::Array(items))
    }

    fn snippet(&self, item: &mut CompletionItem, snippet: String, plain: String) {
        if self.snippets {
            item.insert_text = Some(snippet);
            item.insert_text_format = Some(InsertTextFormat::SNIPPET);
        } else {
            item.insert_text = Some(plain);
        }
    }

    fn kinds(&self) -> Vec<CompletionItem> {
        kinds::KINDS
            .iter()
            .map(|k| {
                let mut i = item(k.name, CompletionItemKind::KEYWORD, Some("kind".into()));
                i.documentation = markdown(k.doc.to_string());
                let header = if k.name == "profile" {
                    "profile ${1:name} for ${2:kind}".to_string()
                } else {
                    format!("{} ${{1:name}}", k.name)
                };
                self.snippet(
                    &mut i,
                    format!("{header} {{\n\t$0\n}}"),
                    format!("{} ", k.name),
                );
                i
            })
            .collect()
    }

    fn profiles(&self, kind: &str) -> Vec<CompletionItem> {
        symbol_index(&self.db, self.ws)
            .symbols
            .values()
            .filter(|s| s.kind == "profile" && s.for_kind.as_deref() == Some(kind))
            .map(|s| {
                item(
                    &s.name,
                    CompletionItemKind::MODULE,
                    Some(format!("profile for {kind}")),
                )
            })
            .collect()
    }

    fn fields(&self, record: &'static Record, present: &[String]) -> Vec<CompletionItem> {
        let enums = &symbol_index(&self.db, self.ws).enums;
        record
            .fields
            .iter()
            .filter(|f| {
                !matches!(f.shape, Shape::Attr(_) | Shape::Block(_))
                    || !present.iter().any(|p| p == f.name)
            })
            .map(|f| {
                let mut i = item(
                    f.name,
                    CompletionItemKind::FIELD,
                    Some(shape_name(&f.shape, enums)),
                );
                i.documentation = markdown(field_doc(f, enums));
                // Required fields first.
                i.sort_text = Some(format!("{}{}", if f.required { 0 } else { 1 }, f.name));
                let name = f.name;
                let (snippet, plain) = match f.shape {
                    Shape::Attr(_) => (format!("{name}: $0"), format!("{name}: ")),
                    Shape::Block(_) => (format!("{name} {{\n\t$0\n}}"), format!("{name} {{ }}")),
                    Shape::Named(_) => (
                        format!("{name} ${{1:name}} {{\n\t$0\n}}"),
                        format!("{name} "),
                    ),
                    Shape::Choice(vs) => {
                        let names: Vec<&str> = vs.iter().map(|v| v.name).collect();
                        (
                            format!("{name} ${{1|{}|}} {{\n\t$0\n}}", names.join(",")),
                            format!("{name} "),
                        )
                    }
                    Shape::EnvOverride => (
                        format!("{name} ${{1:environment}} {{\n\t$0\n}}"),
                        format!("{name} "),
                    ),
                };
                self.snippet(&mut i, snippet, plain);
                i
            })
            .collect()
    }

    fn decls_of_kind(&self, kind: &str) -> Vec<CompletionItem> {
        symbol_index(&self.db, self.ws)
            .names_of_kind(kind)
            .map(|n| item(n, CompletionItemKind::REFERENCE, Some(kind.to_string())))
            .collect()
    }

    fn values(
        &self,
        ty: &Ty,
        in_call: bool,
        head: Option<&str>,
        headers: &[Header],
    ) -> Vec<CompletionItem> {
        let index = symbol_index(&self.db, self.ws);
        match ty {
            Ty::Enum(name) => index
                .enums
                .get(*name)
                .map(|values| {
                    values
                        .iter()
                        .map(|v| {
                            item(
                                v,
                                CompletionItemKind::ENUM_MEMBER,
                                Some(format!("enum {name}")),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            Ty::Bool => ["true", "false"]
                .iter()
                .map(|b| item(b, CompletionItemKind::VALUE, Some("bool".into())))
                .collect(),
            Ty::Ref(kind) => self.decls_of_kind(kind),
            Ty::AnyRef => index
                .symbols
                .values()
                .filter(|s| {
                    kinds::kind(&s.kind).is_some_and(|k| k.cedar_entity.is_some())
                        && !s.name.starts_with("std.")
                })
                .map(|s| item(&s.name, CompletionItemKind::REFERENCE, Some(s.kind.clone())))
                .collect(),
            Ty::FeatureRef => match head {
                Some(view) => self.named_blocks(view, "feature"),
                None => self.decls_of_kind("feature_view"),
            },
            Ty::Column => self.columns(headers),
            Ty::Aggregate if in_call => self.columns(headers),
            Ty::Aggregate => AGGREGATES
                .iter()
                .map(|(f, _)| {
                    let mut i = item(f, CompletionItemKind::FUNCTION, Some("aggregate".into()));
                    self.snippet(&mut i, format!("{f}($0)"), format!("{f}("));
                    i
                })
                .collect(),
            Ty::Variant(variants) => variants
                .iter()
                .map(|v| {
                    let mut i = item(v.name, CompletionItemKind::ENUM_MEMBER, None);
                    i.documentation = markdown(v.doc.to_string());
                    if v.body.is_some() {
                        let name = v.name;
                        self.snippet(&mut i, format!("{name} {{ $0 }}"), format!("{name} {{ }}"));
                    }
                    i
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `feature` or `column` blocks of a declaration, by name.
    fn named_blocks(&self, decl: &str, block: &str) -> Vec<CompletionItem> {
        let Some(d) = decl_of(&self.db, self.ws, DeclName::new(&self.db, decl.to_string())) else {
            return Vec::new();
        };
        d.body
            .named(block)
            .iter()
            .map(|(n, b)| {
                let ty = b.value.get("type").map(|v| v.render());
                item(n, CompletionItemKind::FIELD, ty)
            })
            .collect()
    }

    /// The columns of the enclosing feature view's source.
    fn columns(&self, headers: &[Header]) -> Vec<CompletionItem> {
        let Some(Header::Decl { kind, name, .. }) = headers.first() else {
            return Vec::new();
        };
        let source = if kind == "source" {
            Some(name.clone())
        } else {
            decl_of(&self.db, self.ws, DeclName::new(&self.db, name.clone()))
                .and_then(|d| d.body.str("source").map(str::to_string))
        };
        source
            .map(|s| self.named_blocks(&s, "column"))
            .unwrap_or_default()
    }
}
