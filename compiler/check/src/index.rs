//! Name resolution: every declaration of the workspace and the stdlib in one namespace.
//! Stdlib declarations are named `std.<name>`; stdlib enums are also found by their bare
//! name, since kind tables refer to them that way.

use plinth_syntax::ast::{self, Item};
use plinth_syntax::did_you_mean;
use plinth_syntax::{Diagnostic, Span};
use std::collections::BTreeMap;
use std::collections::{BTreeSet, HashMap};

pub const STD_PREFIX: &str = "std/";

/// A declaration's name and kind, without positions: edits that only move text do
/// not change the index, so nothing that resolves names re-runs after them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Symbol {
    pub kind: String,
    /// `std.tier1_online` for stdlib declarations.
    pub name: String,
    pub file: String,
    /// For profiles: the kind they apply to.
    pub for_kind: Option<String>,
    /// For enums: the values in order.
    pub values: Vec<String>,
}

pub fn is_std_file(path: &str) -> bool {
    path.starts_with(STD_PREFIX)
}

pub fn file_symbols_of(path: &str, tree: &ast::SourceFile) -> Vec<Symbol> {
    let std = is_std_file(path);
    tree.items
        .iter()
        .filter_map(|item| match item {
            Item::Decl(d) => Some(d),
            Item::Use(_) => None,
        })
        .map(|decl| Symbol {
            kind: decl.kind.text.to_string(),
            name: if std {
                format!("std.{}", decl.name.text)
            } else {
                decl.name.text.to_string()
            },
            file: path.to_string(),
            for_kind: decl.for_kind.as_ref().map(|k| k.text.to_string()),
            values: enum_values(decl),
        })
        .collect()
}

/// The values of `enum NAME { a, b, c }`.
pub fn enum_values(decl: &ast::Decl) -> Vec<String> {
    if decl.kind.text != plinth_ir::kinds::ENUM_KIND {
        return Vec::new();
    }
    decl.body
        .entries
        .iter()
        .filter_map(|e| match e {
            ast::Entry::Bare(ident) => Some(ident.text.to_string()),
            _ => None,
        })
        .collect()
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SymbolIndex {
    /// By name; a hash map because it is read for every reference, with the Fx hasher
    /// (no output depends on its order: readers sort or build ordered maps).
    pub symbols: HashMap<String, Symbol, rustc_hash::FxBuildHasher>,
    /// Enum name to its values, in order (rank = position).
    pub enums: BTreeMap<String, Vec<String>>,
    /// Names declared more than once (reported by `db::duplicate_diagnostics`).
    pub duplicates: Vec<String>,
}

impl SymbolIndex {
    pub fn get(&self, name: &str) -> Option<&Symbol> {
        self.symbols.get(name)
    }

    /// Names of declarations of one kind, for did-you-mean.
    /// Names of declarations of one kind, sorted (messages list them).
    pub fn names_of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let mut names: Vec<&str> = self
            .symbols
            .values()
            .filter(move |s| s.kind == kind)
            .map(|s| s.name.as_str())
            .collect();
        names.sort_unstable();
        names.into_iter()
    }

    pub fn suggest<'a>(&'a self, name: &str, kind: Option<&'a str>) -> Option<&'a str> {
        match kind {
            Some(kind) => did_you_mean(name, self.names_of_kind(kind)),
            None => did_you_mean(name, self.symbols.keys().map(String::as_str)),
        }
    }

    /// The rank of an enum value (its position), for ordered enums.
    pub fn rank(&self, enum_name: &str, value: &str) -> u32 {
        enum_rank(&self.enums, enum_name, value)
    }
}

/// The position of `value` in the ordered enum `enum_name` (0 when unknown).
pub fn enum_rank(enums: &BTreeMap<String, Vec<String>>, enum_name: &str, value: &str) -> u32 {
    enums
        .get(enum_name)
        .and_then(|vs| vs.iter().position(|v| v == value))
        .and_then(|p| u32::try_from(p).ok())
        .unwrap_or(0)
}

pub fn build_index(files: Vec<&Vec<Symbol>>) -> SymbolIndex {
    let mut index = SymbolIndex::default();
    // Room for every symbol at once (growing rehashed tens of thousands of names), and
    // one hash lookup per symbol.
    index
        .symbols
        .reserve(files.iter().map(|symbols| symbols.len()).sum());
    for symbol in files.into_iter().flatten() {
        match index.symbols.entry(symbol.name.clone()) {
            std::collections::hash_map::Entry::Occupied(_) => {
                if !index.duplicates.contains(&symbol.name) {
                    index.duplicates.push(symbol.name.clone());
                }
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                if symbol.kind == plinth_ir::kinds::ENUM_KIND {
                    let bare = symbol.name.strip_prefix("std.").unwrap_or(&symbol.name);
                    index.enums.insert(bare.to_string(), symbol.values.clone());
                }
                slot.insert(symbol.clone());
            }
        }
    }
    index
}

/// One error per later declaration of a duplicated name, pointing at the first.
pub fn duplicate_diagnostics(
    names: &[String],
    files: &[(&str, &ast::SourceFile)],
) -> Vec<Diagnostic> {
    let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let mut first: BTreeMap<String, (String, Span)> = BTreeMap::new();
    let mut diags = Vec::new();
    for (path, tree) in files {
        let std = is_std_file(path);
        for item in &tree.items {
            let Item::Decl(decl) = item else { continue };
            let name = if std {
                format!("std.{}", decl.name.text)
            } else {
                decl.name.text.to_string()
            };
            if !wanted.contains(name.as_str()) {
                continue;
            }
            match first.get(&name) {
                None => {
                    first.insert(name, (path.to_string(), decl.name.span));
                }
                Some((first_file, first_span)) => diags.push(
                    Diagnostic::error(
                        "plinth::decl::duplicate",
                        decl.name.span,
                        format!("`{name}` is declared twice"),
                    )
                    .with_file(path)
                    .with_label("declared again here")
                    .with_related(first_file, *first_span, "first declared here")
                    .with_help("all files of a workspace share one namespace; rename one of them"),
                ),
            }
        }
    }
    diags
}
