//! `plinth lsp`: a language server over stdio on the compiler's salsa database.
//!
//! The main loop owns the one `Db` and handles one message at a time, like
//! rust-analyzer: an edit sets one `File` input (`set_text`) and nothing else, so the
//! next query re-runs only what depends on that file. Diagnostics are computed when the
//! message queue is empty, so a burst of edits and the requests typed after them are
//! answered first and checked once: the edited open files at once, the whole
//! workspace when edits pause.
//!
//! INVARIANT: the main loop never holds a clone of the database across messages (salsa
//! setters wait for every clone to be dropped). Policy evaluation, which takes seconds
//! on large workspaces, runs on a worker thread over its *own* database built from a
//! snapshot of the texts (see `diag.rs`), so an edit never waits for it.

mod complete;
mod diag;
mod hover;
mod nav;
mod scan;
mod text;
mod walk;

use crate::workspace;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidChangeWatchedFiles, DidCloseTextDocument, DidOpenTextDocument,
    Notification as _,
};
use lsp_types::request::{
    Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, References,
    Request as _,
};
use lsp_types::{
    CompletionOptions, FileChangeType, HoverProviderCapability, InitializeParams, OneOf,
    ServerCapabilities, ServerInfo, TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit,
    Uri,
};
use plinth_check::db::{
    check_file, duplicate_diagnostics, file_diagnostics, graph_diagnostics, parse_file,
};
use plinth_check::index::is_std_file;
use plinth_check::{Db, File, Workspace};
use salsa::Setter;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;
use text::{LineIndex, path_to_uri, uri_to_path};

/// How long edits must pause before the whole workspace is re-checked (the edited
/// open files are answered at once). Salsa re-validating every declaration of a
/// 5,000-service workspace takes tens of milliseconds, which a hover typed right after
/// an edit should not wait for.
const WORKSPACE_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(150);

/// `plinth lsp`: serve on stdin/stdout until the client says `exit`.
pub fn run() -> ExitCode {
    let (connection, io_threads) = Connection::stdio();
    let result = serve(&connection);
    drop(connection);
    let joined = io_threads.join();
    match (result, joined) {
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
        (Err(e), _) => {
            eprintln!("plinth lsp: {e}");
            ExitCode::from(2)
        }
        (_, Err(e)) => {
            eprintln!("plinth lsp: {e}");
            ExitCode::from(2)
        }
    }
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(
            TextDocumentSyncKind::INCREMENTAL,
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![":".into(), ".".into(), " ".into(), "[".into()]),
            ..CompletionOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

fn serve(connection: &Connection) -> Result<(), String> {
    let caps = serde_json::to_value(capabilities()).map_err(|e| e.to_string())?;
    let (id, params) = connection.initialize_start().map_err(|e| e.to_string())?;
    let params: InitializeParams = serde_json::from_value(params).map_err(|e| e.to_string())?;
    let result = serde_json::json!({
        "capabilities": caps,
        "serverInfo": ServerInfo { name: "plinth".into(), version: Some(env!("CARGO_PKG_VERSION").into()) },
    });
    connection
        .initialize_finish(id, result)
        .map_err(|e| e.to_string())?;
    let mut server = Server::new(connection, &params);
    server.main_loop()
}

/// Where files live: the workspace root, and a folder holding a copy of the embedded
/// stdlib so go-to-definition can open `std.*` declarations.
#[derive(Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub stdlib: PathBuf,
    /// The build output folder, whose files are not part of the workspace.
    pub out: PathBuf,
}

impl Paths {
    /// The URI of a workspace-relative path (`std/...` is the stdlib copy).
    pub fn uri(&self, rel: &str) -> Option<Uri> {
        match rel.strip_prefix(plinth_check::index::STD_PREFIX) {
            Some(name) => {
                self.write_stdlib();
                path_to_uri(&self.stdlib.join(name))
            }
            None => path_to_uri(&self.root.join(rel)),
        }
    }

    /// The workspace-relative path of a URI, if it is under the root or the stdlib.
    pub fn rel(&self, uri: &Uri) -> Option<String> {
        let path = uri_to_path(uri)?;
        if let Ok(name) = path.strip_prefix(&self.stdlib) {
            return Some(format!(
                "{}{}",
                plinth_check::index::STD_PREFIX,
                name.to_string_lossy()
            ));
        }
        let rel = path.strip_prefix(&self.root).ok()?;
        Some(rel.to_string_lossy().replace('\\', "/"))
    }

    fn write_stdlib(&self) {
        for (path, text) in plinth_check::STDLIB {
            let Some(name) = path.strip_prefix(plinth_check::index::STD_PREFIX) else {
                continue;
            };
            let target = self.stdlib.join(name);
            if std::fs::read_to_string(&target).ok().as_deref() != Some(text) {
                let _ = std::fs::create_dir_all(&self.stdlib);
                let _ = std::fs::write(&target, text);
            }
        }
    }
}

pub struct Server<'c> {
    connection: &'c Connection,
    pub db: Db,
    pub ws: Workspace,
    pub paths: Paths,
    /// Every file of the workspace (stdlib included) by relative path.
    files: BTreeMap<String, File>,
    /// Relative paths of the documents the editor has open.
    open: BTreeSet<String>,
    /// Open documents outside the workspace: only formatted, not checked.
    outside: BTreeMap<Uri, String>,
    snippets: bool,
    /// Diagnostics are stale (an edit happened since they were published).
    dirty: bool,
    /// Files edited since diagnostics were last published for them.
    edited: BTreeSet<String>,
    /// The last workspace pass's cycle, unused and duplicate findings.
    workspace_wide: Vec<plinth_syntax::Diagnostic>,
    diagnostics: diag::Publisher,
}

fn root_of(params: &InitializeParams) -> PathBuf {
    #[allow(deprecated)] // root_uri: older clients send only this
    let uri = params
        .workspace_folders
        .as_ref()
        .and_then(|f| f.first())
        .map(|f| f.uri.clone())
        .or_else(|| params.root_uri.clone());
    uri.and_then(|u| uri_to_path(&u))
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."))
}

impl<'c> Server<'c> {
    fn new(connection: &'c Connection, params: &InitializeParams) -> Server<'c> {
        let root = root_of(params);
        let root = root.canonicalize().unwrap_or(root);
        let stdlib = std::env::temp_dir()
            .join(format!("plinth-stdlib-{}", env!("CARGO_PKG_VERSION")))
            .join("std");
        let loaded = workspace::load(&root);
        let out = root.join(&loaded.config.build.out);
        let paths = Paths { root, stdlib, out };
        let db = Db::default();
        let ws = plinth_check::load(&db, plinth_check::shared(loaded.files));
        plinth_check::prefetch(&db, ws);
        let files = ws
            .files(&db)
            .iter()
            .map(|f| (f.path(&db).clone(), *f))
            .collect();
        let snippets = params
            .capabilities
            .text_document
            .as_ref()
            .and_then(|t| t.completion.as_ref())
            .and_then(|c| c.completion_item.as_ref())
            .and_then(|i| i.snippet_support)
            .unwrap_or(false);
        let policies = params
            .initialization_options
            .as_ref()
            .and_then(|o| o.get("policies"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(true);
        let diagnostics = diag::Publisher::new(connection.sender.clone(), paths.clone(), policies);
        Server {
            connection,
            db,
            ws,
            paths,
            files,
            open: BTreeSet::new(),
            outside: BTreeMap::new(),
            snippets,
            dirty: true,
            edited: BTreeSet::new(),
            workspace_wide: Vec::new(),
            diagnostics,
        }
    }

    fn main_loop(&mut self) -> Result<(), String> {
        loop {
            let msg = if !self.edited.is_empty() {
                match self.connection.receiver.try_recv() {
                    Ok(m) => m,
                    Err(crossbeam_channel::TryRecvError::Empty) => {
                        self.publish_open_files();
                        continue;
                    }
                    Err(crossbeam_channel::TryRecvError::Disconnected) => return Ok(()),
                }
            } else if self.dirty {
                match self.connection.receiver.recv_timeout(WORKSPACE_DEBOUNCE) {
                    Ok(m) => m,
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                        self.publish_workspace();
                        continue;
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return Ok(()),
                }
            } else {
                match self.connection.receiver.recv() {
                    Ok(m) => m,
                    Err(_) => return Ok(()),
                }
            };
            match msg {
                Message::Request(req) => {
                    if self
                        .connection
                        .handle_shutdown(&req)
                        .map_err(|e| e.to_string())?
                    {
                        return Ok(());
                    }
                    let response = self.request(req);
                    self.send(Message::Response(response));
                }
                Message::Notification(n) => {
                    if n.method == "exit" {
                        return Ok(());
                    }
                    self.notification(n);
                }
                Message::Response(_) => {}
            }
        }
    }

    fn send(&self, msg: Message) {
        let _ = self.connection.sender.send(msg);
    }

    /// The edited open files' own checks (parse, per-file and cross-declaration), with
    /// the last workspace pass's cycle, unused and duplicate findings for them: the
    /// file being typed in is answered in milliseconds.
    fn publish_open_files(&mut self) {
        let edited = std::mem::take(&mut self.edited);
        let open: Vec<String> = edited
            .into_iter()
            .filter(|rel| self.open.contains(rel))
            .collect();
        let db = &self.db;
        let mut diags = Vec::new();
        for rel in &open {
            let Some(file) = self.files.get(rel) else {
                continue;
            };
            diags.extend(parse_file(db, *file).diagnostics.iter().cloned());
            diags.extend(check_file(db, self.ws, *file).diagnostics.iter().cloned());
            diags.extend(file_diagnostics(db, self.ws, *file).iter().cloned());
            diags.extend(
                self.workspace_wide
                    .iter()
                    .filter(|d| d.file == *rel)
                    .cloned(),
            );
        }
        let files = &self.files;
        self.diagnostics
            .publish_files(&open, &diags, |path| files.get(path).map(|f| &**f.text(db)));
    }

    /// Every file's diagnostics, once edits pause for [`WORKSPACE_DEBOUNCE`]: an edit
    /// can change what other files' declarations resolve to. Then the policy worker
    /// gets the texts.
    fn publish_workspace(&mut self) {
        self.dirty = false;
        // All cores for the per-file queries; the threads' db clones are gone when
        // `prefetch` returns, so the next edit's setter does not wait.
        plinth_check::prefetch(&self.db, self.ws);
        let diags = plinth_check::diagnostics(&self.db, self.ws);
        self.workspace_wide = duplicate_diagnostics(&self.db, self.ws)
            .iter()
            .chain(graph_diagnostics(&self.db, self.ws))
            .cloned()
            .collect();
        let db = &self.db;
        let files = &self.files;
        self.diagnostics
            .publish_spec(&diags, |path| files.get(path).map(|f| &**f.text(db)));
        if self.diagnostics.policies() {
            let texts: Vec<(String, String)> = self
                .files
                .iter()
                .filter(|(p, _)| !is_std_file(p))
                .map(|(p, f)| (p.clone(), f.text(&self.db).to_string()))
                .collect();
            self.diagnostics.schedule_policies(texts);
        }
    }

    fn request(&mut self, req: Request) -> Response {
        let id = req.id.clone();
        let result = match req.method.as_str() {
            HoverRequest::METHOD => parse(req).map(|p| to_json(self.hover(p))),
            GotoDefinition::METHOD => parse(req).map(|p| to_json(self.definition(p))),
            References::METHOD => parse(req).map(|p| to_json(self.references(p))),
            Completion::METHOD => parse(req).map(|p| to_json(self.completion(p))),
            Formatting::METHOD => parse(req).and_then(|p| self.formatting(p).map(to_json)),
            DocumentSymbolRequest::METHOD => parse(req).map(|p| to_json(self.symbols(p))),
            other => Err((
                ErrorCode::MethodNotFound,
                format!("unsupported request `{other}`"),
            )),
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        }
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Ok(p) =
                    n.extract::<lsp_types::DidOpenTextDocumentParams>(DidOpenTextDocument::METHOD)
                {
                    let uri = p.text_document.uri;
                    match self.paths.rel(&uri).filter(|r| r.ends_with(".plinth")) {
                        Some(rel) => {
                            self.open.insert(rel.clone());
                            self.set_text(&rel, p.text_document.text);
                        }
                        None => {
                            self.outside.insert(uri, p.text_document.text);
                        }
                    }
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(p) = n.extract::<lsp_types::DidChangeTextDocumentParams>(
                    DidChangeTextDocument::METHOD,
                ) {
                    let uri = p.text_document.uri;
                    if let Some(text) = self.outside.get_mut(&uri) {
                        for change in p.content_changes {
                            text::apply_change(text, change);
                        }
                        return;
                    }
                    let Some(rel) = self.paths.rel(&uri) else {
                        return;
                    };
                    let mut text = self
                        .files
                        .get(&rel)
                        .map(|f| f.text(&self.db).to_string())
                        .unwrap_or_default();
                    for change in p.content_changes {
                        text::apply_change(&mut text, change);
                    }
                    self.set_text(&rel, text);
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(p) =
                    n.extract::<lsp_types::DidCloseTextDocumentParams>(DidCloseTextDocument::METHOD)
                {
                    let uri = p.text_document.uri;
                    self.outside.remove(&uri);
                    if let Some(rel) = self.paths.rel(&uri) {
                        self.open.remove(&rel);
                        self.reload_from_disk(&rel);
                    }
                }
            }
            DidChangeWatchedFiles::METHOD => {
                if let Ok(p) = n.extract::<lsp_types::DidChangeWatchedFilesParams>(
                    DidChangeWatchedFiles::METHOD,
                ) {
                    for change in p.changes {
                        let Some(rel) = self.paths.rel(&change.uri) else {
                            continue;
                        };
                        if !rel.ends_with(".plinth") || self.open.contains(&rel) {
                            continue;
                        }
                        if change.typ == FileChangeType::DELETED {
                            self.remove_file(&rel);
                        } else {
                            self.reload_from_disk(&rel);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// The one way text gets into the database: set one input, or add one file.
    fn set_text(&mut self, rel: &str, text: String) {
        if is_std_file(rel) {
            return; // the stdlib copy is read-only
        }
        self.dirty = true;
        self.edited.insert(rel.to_string());
        self.diagnostics.edited(rel);
        match self.files.get(rel) {
            Some(file) => {
                if **file.text(&self.db) != *text {
                    file.set_text(&mut self.db).to(text.into());
                }
            }
            None => {
                let file = File::new(&self.db, rel.to_string(), text.into());
                self.files.insert(rel.to_string(), file);
                self.set_workspace_files();
            }
        }
    }

    fn reload_from_disk(&mut self, rel: &str) {
        if is_std_file(rel) {
            return;
        }
        let path = self.paths.root.join(rel);
        if path.starts_with(&self.paths.out) {
            return;
        }
        match std::fs::read(&path) {
            Ok(bytes) => self.set_text(rel, String::from_utf8_lossy(&bytes).into_owned()),
            Err(_) => self.remove_file(rel),
        }
    }

    fn remove_file(&mut self, rel: &str) {
        if self.files.remove(rel).is_some() {
            self.dirty = true;
            self.diagnostics.edited(rel);
            self.set_workspace_files();
        }
    }

    /// The stdlib first, then the workspace files by path, as `plinth_check::load`.
    fn set_workspace_files(&mut self) {
        let mut files: Vec<File> = self
            .files
            .iter()
            .filter(|(p, _)| is_std_file(p))
            .map(|(_, f)| *f)
            .collect();
        files.extend(
            self.files
                .iter()
                .filter(|(p, _)| !is_std_file(p))
                .map(|(_, f)| *f),
        );
        self.ws.set_files(&mut self.db).to(files);
    }

    /// The file, its relative path and the byte offset of an LSP position.
    fn locate(&self, uri: &Uri, pos: lsp_types::Position) -> Option<(File, String, usize)> {
        let rel = self.paths.rel(uri)?;
        let file = *self.files.get(&rel)?;
        let offset = LineIndex::new(file.text(&self.db)).offset(pos);
        Some((file, rel, offset))
    }

    fn file(&self, rel: &str) -> Option<File> {
        self.files.get(rel).copied()
    }

    /// The edit to the canonical layout; `None` for a document the server does not
    /// know. A file the formatter refuses is a failed request with the reason, which
    /// editors show (as `plinth fmt` prints it), not a silent no-op.
    fn formatting(
        &self,
        p: lsp_types::DocumentFormattingParams,
    ) -> Result<Option<Vec<TextEdit>>, Failure> {
        let uri = p.text_document.uri;
        let text = match self.outside.get(&uri) {
            Some(t) => t.clone(),
            None => match self.paths.rel(&uri).and_then(|rel| self.file(&rel)) {
                Some(file) => file.text(&self.db).to_string(),
                None => return Ok(None),
            },
        };
        let formatted = plinth_syntax::format_checked(&text).map_err(|e| {
            let at = match e {
                plinth_syntax::FormatError::ChangesMeaning { span } => {
                    let (line, col) = plinth_syntax::line_col(&text, span.start as usize);
                    format!("at {line}:{col} ")
                }
                plinth_syntax::FormatError::Syntax => String::new(),
            };
            (
                ErrorCode::RequestFailed,
                format!("not formatted: {at}{}", e.reason()),
            )
        })?;
        if formatted == text {
            return Ok(Some(Vec::new()));
        }
        let end = LineIndex::new(&text).position(text.len());
        Ok(Some(vec![TextEdit {
            range: lsp_types::Range::new(lsp_types::Position::new(0, 0), end),
            new_text: formatted,
        }]))
    }
}

type Failure = (ErrorCode, String);

fn parse<P: serde::de::DeserializeOwned>(req: Request) -> Result<P, Failure> {
    serde_json::from_value(req.params).map_err(|e| (ErrorCode::InvalidParams, e.to_string()))
}

fn to_json<T: serde::Serialize>(value: T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}
