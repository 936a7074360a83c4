//! The salsa database: source files are inputs; parsing, symbol collection, checking
//! and lowering are tracked queries, so an edit re-runs only what depends on it.

use crate::analysis::{Analysis, analyze};
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
    #[returns(ref)]
    pub text: String,
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

#[salsa::tracked(returns(ref))]
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

/// Cross-declaration checks, profiles merged, the dependency graph and derived facts.
#[salsa::tracked(returns(ref))]
pub fn analysis(db: &dyn salsa::Database, ws: Workspace) -> Analysis {
    let checks: Vec<&FileCheck> = ws
        .files(db)
        .iter()
        .map(|f| check_file(db, ws, *f))
        .collect();
    analyze(symbol_index(db, ws), &checks)
}

/// The platform model for one environment; `None` when it is not declared or the spec
/// has errors.
#[salsa::tracked(returns(ref))]
pub fn platform<'db>(
    db: &'db dyn salsa::Database,
    ws: Workspace,
    env: EnvName<'db>,
) -> Option<Arc<Platform>> {
    let analysis = analysis(db, ws);
    if diagnostics(db, ws).iter().any(Diagnostic::is_error) {
        return None;
    }
    crate::lower::lower(analysis, env.text(db)).map(Arc::new)
}

/// Parses and checks every file on all cores, each thread with its own handle on the
/// database, so the workspace pass that follows finds the per-file results memoized.
/// The result is the same as without it; only faster on a cold database.
pub fn prefetch(db: &Db, ws: Workspace) {
    use rayon::prelude::*;
    let files = ws.files(db).clone();
    files.par_iter().for_each_with(db.clone(), |db, f| {
        let _ = file_symbols(db, *f);
    });
    let _ = symbol_index(db, ws);
    files.par_iter().for_each_with(db.clone(), |db, f| {
        let _ = check_file(db, ws, *f);
    });
}

/// Every diagnostic of the workspace, sorted by file and position.
pub fn diagnostics(db: &dyn salsa::Database, ws: Workspace) -> Vec<Diagnostic> {
    let mut all = Vec::new();
    for file in ws.files(db) {
        all.extend(parse_file(db, *file).diagnostics.iter().cloned());
        all.extend(check_file(db, ws, *file).diagnostics.iter().cloned());
    }
    all.extend(symbol_index(db, ws).diagnostics.iter().cloned());
    all.extend(analysis(db, ws).diagnostics.iter().cloned());
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
    fn default() -> Self {
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
