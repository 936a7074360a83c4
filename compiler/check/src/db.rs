//! The salsa database: source files are inputs; parsing, symbol collection, checking
//! and lowering are tracked queries, so an edit re-runs only what depends on it.

use crate::analysis::{
    Analysis, Links, analyze_linked, check_decl, check_graph, links, merge_decl,
};
use crate::checked::Decl;
use crate::index::{Symbol, SymbolIndex, build_index, file_symbols_of};
use crate::typeck::{FileCheck, check_file_bodies};
use plinth_ir::Platform;
use plinth_syntax::Diagnostic;
use std::sync::{Arc, Mutex};

#[salsa::input(debug)]
pub struct File {
    /// Workspace-relative path; stdlib files are `std/<name>.plinth`.
    #[returns(ref)]
    pub path: String,
    /// Shared: the CLI keeps the same texts for rendering diagnostics.
    #[returns(ref)]
    pub text: Arc<str>,
}

#[salsa::input(debug)]
pub struct Workspace {
    /// The stdlib files first, then the workspace's files sorted by path.
    #[returns(ref)]
    pub files: Vec<File>,
}

#[salsa::interned(debug)]
pub struct EnvName<'db> {
    #[returns(ref)]
    pub text: String,
}

/// The parse of one file; the parser's diagnostics already carry the file path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub tree: plinth_syntax::ast::SourceFile,
    pub diagnostics: Vec<Diagnostic>,
}

/// A tree is freed on a pool thread: [`release_trees`] evicts every tree at once, and
/// freeing them on the calling thread (~13 ms at N=5,000) kept analysis waiting while
/// it leaves part of a core idle.
impl Drop for Parsed {
    fn drop(&mut self) {
        let tree = std::mem::take(&mut self.tree);
        if !tree.items.is_empty() {
            rayon::spawn(move || drop(tree));
        }
    }
}

/// `lru`: the trees are the largest memos (about 7× the source text). Uses are
/// recorded, but with this capacity nothing is evicted between revisions, so an
/// editor never re-parses a file it did not change; [`release_trees`] lowers the
/// capacity once the checks that read trees are done.
#[salsa::tracked(returns(ref), lru = 1_000_000_000)]
pub fn parse_file(db: &dyn salsa::Database, file: File) -> Parsed {
    let parse = plinth_syntax::parse(file.text(db));
    let path = file.path(db);
    let diagnostics = parse
        .diagnostics
        .into_iter()
        .map(|d| d.with_file(path))
        .collect();
    Parsed {
        tree: parse.file,
        diagnostics,
    }
}

/// The parser's diagnostics alone, so collecting diagnostics (which lowering does
/// too) never needs a tree that [`release_trees`] dropped.
#[salsa::tracked(returns(ref))]
pub fn parse_diagnostics(db: &dyn salsa::Database, file: File) -> Vec<Diagnostic> {
    parse_file(db, file).diagnostics.clone()
}

/// Drops the memoized parse trees (all but the last one used): once [`prefetch`] has
/// run, nothing on the way to the platform models reads a tree, and they are the
/// largest thing a check keeps (~85 MB at N = 5,000). A later read
/// re-parses that one file; salsa still verifies the queries that read a dropped tree
/// from its input, so re-checks after an edit re-parse only the edited files.
///
/// For one-shot commands: a long-lived database (the language server) keeps its trees,
/// because a rename re-checks every file and would then re-parse all of them.
pub fn release_trees(db: &mut Db) {
    use salsa::Database;
    parse_file::set_lru_capacity(db, 1);
    db.trigger_lru_eviction();
    parse_file::set_lru_capacity(db, 1_000_000_000);
}

/// The declarations a file introduces; unchanged by edits inside bodies, so the
/// index and everything reading it is reused after such an edit.
#[salsa::tracked(returns(ref))]
pub fn file_symbols(db: &dyn salsa::Database, file: File) -> Vec<Symbol> {
    file_symbols_of(file.path(db), &parse_file(db, file).tree)
}

#[salsa::tracked(returns(ref))]
pub fn symbol_index(db: &dyn salsa::Database, ws: Workspace) -> SymbolIndex {
    let files: Vec<&Vec<Symbol>> = ws.files(db).iter().map(|f| file_symbols(db, *f)).collect();
    build_index(files)
}

/// Each body read against its kind table (without profiles merged).
#[salsa::tracked(returns(ref))]
pub fn check_file(db: &dyn salsa::Database, ws: Workspace, file: File) -> FileCheck {
    check_file_bodies(
        file.path(db),
        &parse_file(db, file).tree,
        symbol_index(db, ws),
    )
}

#[salsa::interned(debug)]
pub struct DeclName<'db> {
    #[returns(ref)]
    pub text: String,
}

/// Hashed: every declaration is found through it (`decl_of`), and the paths share
/// long prefixes that made a tree's string comparisons slow.
#[salsa::tracked(returns(ref))]
fn files_by_path(
    db: &dyn salsa::Database,
    ws: Workspace,
) -> std::collections::HashMap<String, File, rustc_hash::FxBuildHasher> {
    ws.files(db)
        .iter()
        .map(|f| (f.path(db).clone(), *f))
        .collect()
}

/// A declaration as written; the first one when a name is declared twice.
#[salsa::tracked(returns(clone))]
pub fn decl_of<'db>(
    db: &'db dyn salsa::Database,
    ws: Workspace,
    name: DeclName<'db>,
) -> Option<Arc<Decl>> {
    let text = name.text(db);
    let symbol = symbol_index(db, ws).get(text)?;
    let file = *files_by_path(db, ws).get(&symbol.file)?;
    check_file(db, ws, file).decl(text).cloned()
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Merged {
    pub decl: Option<Arc<Decl>>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A declaration with the profiles it extends merged in.
#[salsa::tracked(returns(ref))]
pub fn merged_decl<'db>(
    db: &'db dyn salsa::Database,
    ws: Workspace,
    name: DeclName<'db>,
) -> Merged {
    let Some(decl) = decl_of(db, ws, name) else {
        return Merged::default();
    };
    // Merging reads each profile of the chain several times (the chain, then each
    // parent's own chain, then its body): fetch each name once, itself not at all.
    let fetched: std::cell::RefCell<Vec<(String, Option<Arc<Decl>>)>> = Default::default();
    let unmerged = |n: &str| {
        if n == decl.name {
            return Some(decl.clone());
        }
        if let Some((_, d)) = fetched.borrow().iter().find(|(k, _)| k == n) {
            return d.clone();
        }
        let d = decl_of(db, ws, DeclName::new(db, n));
        fetched.borrow_mut().push((n.to_string(), d.clone()));
        d
    };
    let (decl, diagnostics) = merge_decl(&decl, &unmerged);
    Merged {
        decl: Some(decl),
        diagnostics,
    }
}

/// The declarations of `file` that the index resolves to (not a later duplicate).
fn own_decls<'a>(
    db: &'a dyn salsa::Database,
    ws: Workspace,
    file: File,
) -> impl Iterator<Item = &'a Arc<Decl>> + 'a {
    let index = symbol_index(db, ws);
    let mut seen = std::collections::BTreeSet::new();
    check_file(db, ws, file).decls.iter().filter(move |d| {
        index.get(&d.name).is_some_and(|s| s.file == d.file) && seen.insert(d.name.as_str())
    })
}

/// The declarations of `file` with their profiles merged, in file order: read by both
/// `file_diagnostics` and `file_links`, so each declaration's name is interned and its
/// `merged_decl` fetched once per file, not once per reader (salsa's interning is a
/// hash lookup with a cache miss or two, a sizeable part of a cold check).
#[salsa::tracked(returns(ref))]
fn file_merged(db: &dyn salsa::Database, ws: Workspace, file: File) -> Vec<Merged> {
    own_decls(db, ws, file)
        .map(|d| merged_decl(db, ws, DeclName::new(db, d.name.as_str())).clone())
        .collect()
}

/// Checks of the declarations in `file` that read other declarations (merged).
#[salsa::tracked(returns(ref))]
pub fn file_diagnostics(db: &dyn salsa::Database, ws: Workspace, file: File) -> Vec<Diagnostic> {
    let index = symbol_index(db, ws);
    let lookup = |n: &str| merged_decl(db, ws, DeclName::new(db, n)).decl.clone();
    let mut diags = Vec::new();
    for merged in file_merged(db, ws, file) {
        diags.extend(merged.diagnostics.iter().cloned());
        if let Some(m) = &merged.decl {
            diags.extend(check_decl(m, &lookup, index));
        }
    }
    diags
}

/// The graph links of the declarations in `file`.
#[salsa::tracked(returns(ref))]
pub fn file_links(db: &dyn salsa::Database, ws: Workspace, file: File) -> Vec<Links> {
    file_merged(db, ws, file)
        .iter()
        .filter_map(|m| m.decl.as_deref().map(links))
        .collect()
}

/// Names declared twice; reads the parse trees only when there are duplicates.
#[salsa::tracked(returns(ref))]
pub fn duplicate_diagnostics(db: &dyn salsa::Database, ws: Workspace) -> Vec<Diagnostic> {
    let index = symbol_index(db, ws);
    if index.duplicates.is_empty() {
        return Vec::new();
    }
    let trees: Vec<(&str, &plinth_syntax::ast::SourceFile)> = ws
        .files(db)
        .iter()
        .map(|f| (f.path(db).as_str(), &parse_file(db, *f).tree))
        .collect();
    crate::index::duplicate_diagnostics(&index.duplicates, &trees)
}

/// Cycles and unused declarations. Re-runs only when some declaration's links change.
#[salsa::tracked(returns(ref))]
pub fn graph_diagnostics(db: &dyn salsa::Database, ws: Workspace) -> Vec<Diagnostic> {
    let all: Vec<&Links> = ws
        .files(db)
        .iter()
        .flat_map(|f| file_links(db, ws, *f).iter())
        .collect();
    check_graph(all.iter().copied())
}

/// Merged declarations and derived facts, for lowering.
#[salsa::tracked(returns(ref))]
pub fn analysis(db: &dyn salsa::Database, ws: Workspace) -> Analysis {
    let index = symbol_index(db, ws);
    // Every declaration the index resolves to, merged: what each file's own
    // declarations are (one memo per file, where a lookup per name interned the name
    // and fetched its memo: ~35 ms of one core at N=5,000).
    let decls = ws
        .files(db)
        .iter()
        .flat_map(|f| file_merged(db, ws, *f))
        .filter_map(|m| m.decl.clone().map(|d| (d.name.clone(), d)))
        .collect();
    // The graph's links were derived while checking; lowering reuses them.
    let all: Vec<&Links> = ws
        .files(db)
        .iter()
        .flat_map(|f| file_links(db, ws, *f).iter())
        .collect();
    analyze_linked(index, decls, all)
}

/// The platform model of every declared environment, by name; none when the spec has
/// errors. Lowered together, so what does not depend on the environment is lowered
/// once (see [`crate::lower::lower_all`]).
#[salsa::tracked(returns(ref))]
pub fn platforms(db: &dyn salsa::Database, ws: Workspace) -> Vec<(String, Arc<Platform>)> {
    let analysis = analysis(db, ws);
    if diagnostics(db, ws).iter().any(Diagnostic::is_error) {
        return Vec::new();
    }
    let names: Vec<&str> = analysis
        .of_kind("environment")
        .map(|d| d.name.as_str())
        .collect();
    names
        .iter()
        .zip(crate::lower::lower_all(analysis, &names))
        .filter_map(|(name, p)| Some((name.to_string(), Arc::new(p?))))
        .collect()
}

/// The platform model for one environment; `None` when it is not declared or the spec
/// has errors.
#[salsa::tracked(returns(ref))]
pub fn platform<'db>(
    db: &'db dyn salsa::Database,
    ws: Workspace,
    env: EnvName<'db>,
) -> Option<Arc<Platform>> {
    let env = env.text(db);
    platforms(db, ws)
        .iter()
        .find(|(name, _)| name == env)
        .map(|(_, p)| p.clone())
}

/// Parses and checks every file on all cores, each thread with its own handle on the
/// database, so the workspace pass that follows finds the per-file results memoized.
/// The result is the same as without it; only faster on a cold database.
pub fn prefetch(db: &Db, ws: Workspace) {
    use rayon::prelude::*;
    let files = ws.files(db).clone();
    files.par_iter().for_each_with(db.clone(), |db, f| {
        let _ = file_symbols(db, *f);
        let _ = parse_diagnostics(db, *f);
    });
    let _ = symbol_index(db, ws);
    // Reads trees when names are declared twice: done while they are all here.
    let _ = duplicate_diagnostics(db, ws);
    files.par_iter().for_each_with(db.clone(), |db, f| {
        let _ = check_file(db, ws, *f);
    });
    files.par_iter().for_each_with(db.clone(), |db, f| {
        let _ = file_diagnostics(db, ws, *f);
        let _ = file_links(db, ws, *f);
    });
}

/// Every diagnostic of the workspace, sorted by file and position.
pub fn diagnostics(db: &dyn salsa::Database, ws: Workspace) -> Vec<Diagnostic> {
    let mut all = Vec::new();
    for file in ws.files(db) {
        all.extend(parse_diagnostics(db, *file).iter().cloned());
        all.extend(check_file(db, ws, *file).diagnostics.iter().cloned());
        all.extend(file_diagnostics(db, ws, *file).iter().cloned());
    }
    all.extend(duplicate_diagnostics(db, ws).iter().cloned());
    all.extend(graph_diagnostics(db, ws).iter().cloned());
    all.sort_by(|a, b| {
        (&a.file, a.span.start, &a.code, &a.message).cmp(&(
            &b.file,
            b.span.start,
            &b.code,
            &b.message,
        ))
    });
    all.dedup();
    all
}

/// The one concrete database. It can log which queries executed, so tests can assert
/// what an edit re-ran.
#[salsa::db]
#[derive(Clone)]
pub struct Db {
    storage: salsa::Storage<Self>,
    log: Arc<Mutex<Option<Vec<String>>>>,
}

impl Default for Db {
    /// A database without an event hook: salsa builds an event for every query read
    /// only when a hook is installed, which costs a few percent of a full check.
    fn default() -> Self {
        Db {
            storage: salsa::Storage::new(None),
            log: Arc::default(),
        }
    }
}

impl Db {
    /// A database that can record which queries execute (`start_logging`/`take_log`),
    /// for tests that assert incrementality.
    pub fn with_query_log() -> Self {
        let log: Arc<Mutex<Option<Vec<String>>>> = Arc::default();
        let sink = log.clone();
        let storage = salsa::Storage::new(Some(Box::new(move |event: salsa::Event| {
            if let salsa::EventKind::WillExecute { database_key } = event.kind
                && let Ok(mut guard) = sink.lock()
                && let Some(entries) = guard.as_mut()
            {
                entries.push(format!("{database_key:?}"));
            }
        })));
        Db { storage, log }
    }
}

#[salsa::db]
impl salsa::Database for Db {}

impl Db {
    /// Start recording executed queries (`parse_file(Id(3))`, ...).
    pub fn start_logging(&self) {
        if let Ok(mut guard) = self.log.lock() {
            *guard = Some(Vec::new());
        }
    }

    /// The queries executed since `start_logging`, and stop recording.
    pub fn take_log(&self) -> Vec<String> {
        self.log
            .lock()
            .ok()
            .and_then(|mut g| g.take())
            .unwrap_or_default()
    }
}
