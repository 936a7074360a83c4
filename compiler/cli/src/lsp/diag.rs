//! Publishing diagnostics. Spec diagnostics come from the main loop's database after
//! each burst of edits. Policy violations (and the ONNX signature check, which reads
//! files) come from a worker thread: it waits until edits pause, builds its own
//! database from a snapshot of the texts and runs exactly what `plinth check` runs
//! (`crate::check_loaded` then `crate::policy::run`). Its result is dropped if an edit
//! happened meanwhile. Both sets are merged per file; a file is re-published only when
//! its merged list changed.

use super::Paths;
use super::text::LineIndex;
use lsp_server::{Message, Notification};
use lsp_types::notification::{Notification as _, PublishDiagnostics};
use lsp_types::{
    DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    PublishDiagnosticsParams,
};
use plinth_syntax::{Diagnostic, Severity};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

type LspDiags = Vec<lsp_types::Diagnostic>;

/// How long edits must pause before the policy worker starts.
const POLICY_DEBOUNCE: Duration = Duration::from_millis(400);

#[derive(Default)]
struct State {
    /// Bumped by every edit; a policy result for an older generation is dropped.
    generation: u64,
    spec: BTreeMap<String, LspDiags>,
    extra: BTreeMap<String, LspDiags>,
    sent: BTreeMap<String, LspDiags>,
}

struct Job {
    generation: u64,
    files: Vec<(String, String)>,
}

pub struct Publisher {
    state: Arc<Mutex<State>>,
    sender: crossbeam_channel::Sender<Message>,
    paths: Paths,
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    /// The generation last sent to the worker.
    scheduled: Option<u64>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Publisher {
    pub fn new(
        sender: crossbeam_channel::Sender<Message>,
        paths: Paths,
        policies: bool,
    ) -> Publisher {
        let state = Arc::new(Mutex::new(State::default()));
        let jobs = policies.then(|| {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            let worker = Worker {
                state: state.clone(),
                sender: sender.clone(),
                paths: paths.clone(),
            };
            std::thread::spawn(move || worker.run(&rx));
            tx
        });
        Publisher {
            state,
            sender,
            paths,
            jobs,
            scheduled: None,
        }
    }

    /// An edit to `rel`: older policy results are stale, and their positions in `rel`
    /// no longer hold.
    pub fn edited(&mut self, rel: &str) {
        let mut state = lock(&self.state);
        state.generation += 1;
        state.extra.remove(rel);
    }

    /// Publishes the spec diagnostics of every file whose list changed.
    pub fn publish_spec<'t>(&self, diags: &[Diagnostic], text: impl Fn(&str) -> Option<&'t str>) {
        let by_file = convert(diags, &self.paths, |p| text(p).map(str::to_string));
        let mut state = lock(&self.state);
        let mut touched: BTreeSet<String> = state.spec.keys().cloned().collect();
        touched.extend(by_file.keys().cloned());
        touched.extend(state.sent.keys().cloned());
        state.spec = by_file;
        for rel in touched {
            flush(&mut state, &self.sender, &self.paths, &rel);
        }
    }

    /// Publishes the spec diagnostics of these files only (the rest keep theirs).
    pub fn publish_files<'t>(
        &self,
        files: &[String],
        diags: &[Diagnostic],
        text: impl Fn(&str) -> Option<&'t str>,
    ) {
        let mut by_file = convert(diags, &self.paths, |p| text(p).map(str::to_string));
        let mut state = lock(&self.state);
        for rel in files {
            match by_file.remove(rel) {
                Some(d) => state.spec.insert(rel.clone(), d),
                None => state.spec.remove(rel),
            };
            flush(&mut state, &self.sender, &self.paths, rel);
        }
    }

    pub fn policies(&self) -> bool {
        self.jobs.is_some()
    }

    /// Asks the worker for a policy run over these texts (after edits pause).
    pub fn schedule_policies(&mut self, files: Vec<(String, String)>) {
        let Some(jobs) = &self.jobs else { return };
        let generation = lock(&self.state).generation;
        if self.scheduled == Some(generation) {
            return;
        }
        self.scheduled = Some(generation);
        let _ = jobs.send(Job { generation, files });
    }
}

/// Sends the merged diagnostics of `rel` if they differ from what was last sent.
fn flush(state: &mut State, sender: &crossbeam_channel::Sender<Message>, paths: &Paths, rel: &str) {
    let mut merged = state.spec.get(rel).cloned().unwrap_or_default();
    merged.extend(state.extra.get(rel).cloned().unwrap_or_default());
    if state
        .sent
        .get(rel)
        .map_or(merged.is_empty(), |s| *s == merged)
    {
        return;
    }
    let Some(uri) = paths.uri(rel) else { return };
    let params = PublishDiagnosticsParams {
        uri,
        diagnostics: merged.clone(),
        version: None,
    };
    let _ = sender.send(Message::Notification(Notification::new(
        PublishDiagnostics::METHOD.to_string(),
        params,
    )));
    if merged.is_empty() {
        state.sent.remove(rel);
    } else {
        state.sent.insert(rel.to_string(), merged);
    }
}

/// Compiler diagnostics to LSP ones, grouped by relative path. `text` gives a file's
/// text (for positions); diagnostics in files it does not know are read from disk or
/// dropped.
fn convert(
    diags: &[Diagnostic],
    paths: &Paths,
    text: impl Fn(&str) -> Option<String>,
) -> BTreeMap<String, LspDiags> {
    let mut texts: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut get = |rel: &str| -> Option<String> {
        texts
            .entry(rel.to_string())
            .or_insert_with(|| {
                text(rel).or_else(|| std::fs::read_to_string(paths.root.join(rel)).ok())
            })
            .clone()
    };
    let mut out: BTreeMap<String, LspDiags> = BTreeMap::new();
    for d in diags {
        let Some(source) = get(&d.file) else { continue };
        let range = LineIndex::new(&source).range(d.span);
        let related = d
            .related
            .iter()
            .filter_map(|r| {
                let other = get(&r.file)?;
                Some(DiagnosticRelatedInformation {
                    location: Location::new(
                        paths.uri(&r.file)?,
                        LineIndex::new(&other).range(r.span),
                    ),
                    message: r.message.clone(),
                })
            })
            .collect::<Vec<_>>();
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        out.entry(d.file.clone())
            .or_default()
            .push(lsp_types::Diagnostic {
                range,
                severity: Some(match d.severity {
                    Severity::Error => DiagnosticSeverity::ERROR,
                    Severity::Warning => DiagnosticSeverity::WARNING,
                }),
                code: Some(NumberOrString::String(
                    d.policy.clone().unwrap_or_else(|| d.code.clone()),
                )),
                source: Some(
                    if d.policy.is_some() {
                        "plinth policy"
                    } else {
                        "plinth"
                    }
                    .to_string(),
                ),
                message,
                related_information: (!related.is_empty()).then_some(related),
                ..lsp_types::Diagnostic::default()
            });
    }
    out
}

struct Worker {
    state: Arc<Mutex<State>>,
    sender: crossbeam_channel::Sender<Message>,
    paths: Paths,
}

impl Worker {
    fn run(&self, jobs: &std::sync::mpsc::Receiver<Job>) {
        while let Ok(mut job) = jobs.recv() {
            // Wait for the edits to pause; a newer snapshot replaces an older one.
            loop {
                match jobs.recv_timeout(POLICY_DEBOUNCE) {
                    Ok(newer) => job = newer,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
            if lock(&self.state).generation != job.generation {
                continue;
            }
            let extra = self.evaluate(&job.files);
            let mut state = lock(&self.state);
            if state.generation != job.generation {
                continue;
            }
            let mut touched: BTreeSet<String> = state.extra.keys().cloned().collect();
            touched.extend(extra.keys().cloned());
            state.extra = extra;
            for rel in touched {
                flush(&mut state, &self.sender, &self.paths, &rel);
            }
        }
    }

    /// What `plinth check` adds to the spec diagnostics: workspace and artifact
    /// problems, then policy violations. The database is this thread's own.
    fn evaluate(&self, files: &[(String, String)]) -> BTreeMap<String, LspDiags> {
        let config = std::fs::read_to_string(self.paths.root.join("plinth.toml"))
            .ok()
            .and_then(|t| toml::from_str(&t).ok())
            .unwrap_or_default();
        let loaded = crate::workspace::Loaded {
            root: self.paths.root.clone(),
            config,
            files: files.to_vec(),
            diagnostics: Vec::new(),
        };
        let checked = crate::check_loaded(loaded);
        let spec = plinth_check::diagnostics(&checked.db, checked.ws);
        let spec_set: HashSet<&Diagnostic> = spec.iter().collect();
        let mut extra: Vec<Diagnostic> = checked
            .diagnostics
            .iter()
            .filter(|d| !spec_set.contains(d))
            .cloned()
            .collect();
        let run = crate::policy::run(&checked, plinth_policy::today(), false);
        extra.extend(run.diagnostics());
        let texts: BTreeMap<&str, &str> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .chain(plinth_check::STDLIB)
            .collect();
        convert(&extra, &self.paths, |p| texts.get(p).map(|t| t.to_string()))
    }
}
