//! Go-to-definition, find-references and document symbols, all read from the walk
//! events: a reference and its declaration site carry the same [`Target`].

use super::Server;
use super::text::LineIndex;
use super::walk::{self, Event, Target};
use lsp_types::{
    DocumentSymbol, DocumentSymbolParams, DocumentSymbolResponse, GotoDefinitionParams,
    GotoDefinitionResponse, Location, ReferenceParams, SymbolKind,
};
use plinth_check::db::{DeclName, decl_of, parse_file};
use plinth_syntax::ast::{Body, Entry, Item};

impl Server<'_> {
    /// The target under the cursor (a use or a declaration site).
    fn target_at(&self, uri: &lsp_types::Uri, pos: lsp_types::Position) -> Option<Target> {
        let (file, rel, offset) = self.locate(uri, pos)?;
        let events = walk::events(&rel, &parse_file(&self.db, file).tree);
        match walk::at(&events, offset)? {
            Event::Ref { target, .. } | Event::Site { target, .. } => Some(target.clone()),
            _ => None,
        }
    }

    fn location(&self, rel: &str, span: plinth_syntax::Span) -> Option<Location> {
        let file = self.file(rel)?;
        let range = LineIndex::new(file.text(&self.db)).range(span);
        Some(Location::new(self.paths.uri(rel)?, range))
    }

    /// Where a target is declared: the file of its declaration, then its site there.
    fn site(&self, target: &Target) -> Option<Location> {
        let owner = match target {
            Target::Decl(name) => name,
            Target::Feature { view, .. } => view,
            Target::Column { source, .. } => source,
        };
        let decl = decl_of(&self.db, self.ws, DeclName::new(&self.db, owner.clone()))?;
        let file = self.file(&decl.file)?;
        let events = walk::events(&decl.file, &parse_file(&self.db, file).tree);
        let span = events.iter().find_map(|e| match e {
            Event::Site {
                target: t, span, ..
            } if t == target => Some(*span),
            _ => None,
        })?;
        self.location(&decl.file, span)
    }

    pub fn definition(&self, p: GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
        let pos = p.text_document_position_params;
        let target = self.target_at(&pos.text_document.uri, pos.position)?;
        self.site(&target).map(GotoDefinitionResponse::Scalar)
    }

    pub fn references(&self, p: ReferenceParams) -> Option<Vec<Location>> {
        let pos = p.text_document_position;
        let target = self.target_at(&pos.text_document.uri, pos.position)?;
        let mut out = Vec::new();
        for (rel, file) in &self.files {
            let events = walk::events(rel, &parse_file(&self.db, *file).tree);
            let spans: Vec<_> = events
                .iter()
                .filter_map(|e| match e {
                    Event::Ref { target: t, span } if *t == target => Some(*span),
                    Event::Site {
                        target: t, span, ..
                    } if *t == target && p.context.include_declaration => Some(*span),
                    _ => None,
                })
                .collect();
            if spans.is_empty() {
                continue;
            }
            let index = LineIndex::new(file.text(&self.db));
            let Some(uri) = self.paths.uri(rel) else {
                continue;
            };
            out.extend(
                spans
                    .into_iter()
                    .map(|s| Location::new(uri.clone(), index.range(s))),
            );
        }
        Some(out)
    }

    pub fn symbols(&self, p: DocumentSymbolParams) -> Option<DocumentSymbolResponse> {
        let rel = self.paths.rel(&p.text_document.uri)?;
        let file = self.file(&rel)?;
        let index = LineIndex::new(file.text(&self.db));
        let tree = &parse_file(&self.db, file).tree;
        let symbols = tree
            .items
            .iter()
            .filter_map(|item| match item {
                Item::Decl(d) => Some(d),
                Item::Use(_) => None,
            })
            .map(|d| {
                #[allow(deprecated)] // `deprecated` is a required field of the struct
                DocumentSymbol {
                    name: d.name.text.to_string(),
                    detail: Some(d.kind.text.to_string()),
                    kind: symbol_kind(&d.kind.text),
                    tags: None,
                    deprecated: None,
                    range: index.range(d.span),
                    selection_range: index.range(d.name.span),
                    children: Some(blocks(&d.body, &index)),
                }
            })
            .collect();
        Some(DocumentSymbolResponse::Nested(symbols))
    }
}

fn blocks(body: &Body, index: &LineIndex) -> Vec<DocumentSymbol> {
    body.entries
        .iter()
        .filter_map(|e| match e {
            Entry::Block(b) => Some(b),
            _ => None,
        })
        .map(|b| {
            let (name, selection) = match &b.name {
                Some(n) => (format!("{} {}", b.kind.text, n.text), n.span),
                None => (b.kind.text.to_string(), b.kind.span),
            };
            #[allow(deprecated)]
            DocumentSymbol {
                name,
                detail: None,
                kind: match b.kind.text.as_str() {
                    "feature" | "column" => SymbolKind::FIELD,
                    _ => SymbolKind::OBJECT,
                },
                tags: None,
                deprecated: None,
                range: index.range(b.span),
                selection_range: index.range(selection),
                children: Some(blocks(&b.body, index)),
            }
        })
        .collect()
}

fn symbol_kind(kind: &str) -> SymbolKind {
    match kind {
        "team" => SymbolKind::NAMESPACE,
        "environment" => SymbolKind::MODULE,
        "source" | "entity" => SymbolKind::STRUCT,
        "feature_view" => SymbolKind::CLASS,
        "model" => SymbolKind::INTERFACE,
        "service" | "batch_job" => SymbolKind::FUNCTION,
        "enum" => SymbolKind::ENUM,
        _ => SymbolKind::OBJECT,
    }
}
