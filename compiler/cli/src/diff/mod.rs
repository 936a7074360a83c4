//! `plinth diff`: what a spec change does to the platform, for reviewers. Two
//! workspaces (two folders, or the working tree and a git revision) are each checked,
//! evaluated against the policies and lowered through every target; the result is
//! compared in three layers, in the order a reviewer reads them:
//!
//! 1. declarations added, removed, renamed or changed (field by field, `before → after`)
//!    and the derived facts that moved with them (classification, `uses_pii`, lineage);
//! 2. the policy delta: violations introduced or resolved, waived or no longer waived,
//!    waivers added, removed, and expiring within 30 days;
//! 3. the output delta per environment and target, with a unified diff per file.
//!
//! Comparisons are by name, never by position, so reordering declarations within or
//! across files is an empty diff. Rendering lives in `render`; the model here is what
//! `--format json` prints.

mod git;
mod output;
mod render;
mod semantic;

use crate::{Checked, load_and_check};
use clap::ValueEnum;
use plinth_check::{EnvName, platform};
use plinth_ir::Date;
use plinth_syntax::Diagnostic;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

pub use render::MARKDOWN_LIMIT;

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum DiffFormat {
    /// For a terminal: coloured when stdout is one (and `NO_COLOR` is unset).
    Human,
    /// For a pull-request comment: one collapsible section per target, truncated to
    /// stay under GitHub's comment limit.
    Markdown,
    Json,
}

/// The arguments of `plinth diff`, as parsed by clap in `main.rs`.
pub struct DiffArgs {
    /// `OLD NEW`, or with `--base` at most one folder (default `.`).
    pub paths: Vec<PathBuf>,
    pub base: Option<String>,
    pub format: DiffFormat,
    pub today: Option<String>,
    pub env: Option<String>,
    pub target: Option<String>,
    /// Leave out the per-file unified diffs (the file list stays).
    pub summary: bool,
}

/// Everything `plinth diff` found; `--format json` prints exactly this.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub old: String,
    pub new: String,
    pub declarations: Vec<semantic::DeclChange>,
    pub derived: Vec<semantic::FieldChange>,
    pub policy: PolicyDelta,
    pub outputs: Vec<output::TargetDelta>,
    /// Things the reader should know about the comparison itself (spec errors on one
    /// side, files that differ only in the source file they name, ...).
    pub notes: Vec<String>,
}

impl Report {
    pub fn is_empty(&self) -> bool {
        self.declarations.is_empty()
            && self.derived.is_empty()
            && self.policy.is_empty()
            && self.outputs.is_empty()
    }
}

/// One policy violation, waived or not.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Violation {
    pub policy: String,
    /// The declaration the violation is reported on.
    pub target: String,
    pub severity: &'static str,
    pub message: String,
    /// The waiver suppressing it, if any.
    pub waived_by: Option<String>,
}

/// A policy finding that is not a violation (a waiver problem, an evaluation failure).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    pub code: String,
    pub severity: &'static str,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct WaiverInfo {
    pub name: String,
    pub policy: String,
    pub targets: Vec<String>,
    pub expires: String,
    /// Days from `--today` to `expires` (negative once expired).
    pub days_left: i64,
}

#[derive(Debug, Default, Serialize)]
pub struct PolicyDelta {
    /// Violations only the new side has (unwaived, or waived from the start).
    pub introduced: Vec<Violation>,
    /// Violations only the old side had.
    pub resolved: Vec<Violation>,
    /// Violations on both sides that a waiver now suppresses.
    pub now_waived: Vec<Violation>,
    /// Violations on both sides that no waiver suppresses any more.
    pub no_longer_waived: Vec<Violation>,
    pub findings_introduced: Vec<Finding>,
    pub findings_resolved: Vec<Finding>,
    pub waivers_added: Vec<WaiverInfo>,
    pub waivers_removed: Vec<WaiverInfo>,
    /// Waivers of the new side that expire within 30 days of `--today` (or have expired).
    pub waivers_expiring: Vec<WaiverInfo>,
}

impl PolicyDelta {
    pub fn is_empty(&self) -> bool {
        self.introduced.is_empty()
            && self.resolved.is_empty()
            && self.now_waived.is_empty()
            && self.no_longer_waived.is_empty()
            && self.findings_introduced.is_empty()
            && self.findings_resolved.is_empty()
            && self.waivers_added.is_empty()
            && self.waivers_removed.is_empty()
            && self.waivers_expiring.is_empty()
    }
}

/// How far ahead an expiring waiver is flagged.
const EXPIRY_HORIZON_DAYS: i64 = 30;

/// What one side of the diff looks like once checked, evaluated and lowered. Built on
/// its own thread (the salsa database stays there); everything here is plain data.
pub struct Snapshot {
    pub decls: semantic::Decls,
    pub facts: BTreeMap<String, plinth_check::analysis::Facts>,
    pub spec_errors: Vec<Diagnostic>,
    /// `None` when the policies could not be evaluated (spec errors, broken packs).
    pub violations: Option<Vec<Violation>>,
    pub findings: Vec<Finding>,
    pub outputs: output::Outputs,
}

/// The policy engine's view of a checked workspace, as the diff needs it. The one
/// place that knows the engine's types: swap the engine, change this function.
fn evaluate_policies(checked: &Checked, today: Date) -> (Option<Vec<Violation>>, Vec<Finding>) {
    let run = crate::policy::run(checked, today, false);
    let mut findings: Vec<Finding> = run.load_diagnostics.iter().map(finding).collect();
    let Some(outcome) = &run.outcome else {
        return (None, findings);
    };
    let mut violations = Vec::new();
    for d in &outcome.diagnostics {
        match &d.policy {
            Some(policy) => violations.push(violation(d, policy, None)),
            None => findings.push(finding(d)),
        }
    }
    for s in &outcome.suppressed {
        if let Some(policy) = &s.diagnostic.policy {
            violations.push(violation(&s.diagnostic, policy, Some(s.waiver.clone())));
        }
    }
    violations.sort();
    violations.dedup();
    findings.sort();
    findings.dedup();
    (Some(violations), findings)
}

fn violation(d: &Diagnostic, policy: &str, waived_by: Option<String>) -> Violation {
    // The engine labels a violation "service `fraud_api` in `prod` (policy.id)".
    let target = d
        .label
        .as_deref()
        .and_then(|l| l.split('`').nth(1))
        .unwrap_or("")
        .to_string();
    Violation {
        policy: policy.to_string(),
        target,
        severity: d.severity.as_str(),
        message: d.message.clone(),
        waived_by,
    }
}

fn finding(d: &Diagnostic) -> Finding {
    Finding {
        code: d.code.clone(),
        severity: d.severity.as_str(),
        message: d.message.clone(),
    }
}

/// Which environments and targets the output delta covers.
#[derive(Clone, Copy)]
struct Selection<'a> {
    env: Option<&'a str>,
    target: Option<&'a str>,
}

/// Check, evaluate and lower one workspace folder.
fn snapshot(dir: &Path, today: Date, selection: Selection) -> Snapshot {
    let checked = load_and_check(dir);
    let analysis = plinth_check::db::analysis(&checked.db, checked.ws);
    let decls: semantic::Decls = analysis
        .decls
        .iter()
        .filter(|(name, _)| !name.starts_with("std."))
        .map(|(n, d)| (n.clone(), Arc::clone(d)))
        .collect();
    let facts = analysis.facts.clone();
    let spec_errors: Vec<Diagnostic> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .cloned()
        .collect();
    let (violations, findings) = evaluate_policies(&checked, today);
    let outputs = if spec_errors.is_empty() {
        emit(&checked, selection)
    } else {
        output::Outputs::default()
    };
    let snap = Snapshot {
        decls,
        facts,
        spec_errors,
        violations,
        findings,
        outputs,
    };
    // The process exits soon; freeing every query result would only cost time.
    std::mem::forget(checked);
    snap
}

/// Every selected target's files for every selected environment. Lowering is a salsa
/// query (this thread); emitting is pure, so targets run in parallel.
fn emit(checked: &Checked, selection: Selection) -> output::Outputs {
    let analysis = plinth_check::db::analysis(&checked.db, checked.ws);
    let platforms: Vec<(String, Arc<plinth_ir::Platform>)> = analysis
        .of_kind("environment")
        .filter(|d| selection.env.is_none_or(|e| e == d.name))
        .filter_map(|d| {
            let name = EnvName::new(&checked.db, d.name.clone());
            platform(&checked.db, checked.ws, name)
                .clone()
                .map(|p| (d.name.clone(), p))
        })
        .collect();
    let targets: Vec<Box<dyn plinth_targets::Target>> = plinth_targets::all()
        .into_iter()
        .filter(|t| selection.target.is_none_or(|n| n == t.name()))
        .collect();
    let jobs: Vec<(&str, &plinth_ir::Platform, &dyn plinth_targets::Target)> = platforms
        .iter()
        .flat_map(|(e, p)| {
            targets
                .iter()
                .map(move |t| (e.as_str(), p.as_ref(), t.as_ref()))
        })
        .collect();
    jobs.par_iter()
        .map(|(env, p, target)| {
            let files = target
                .emit(p)
                .files
                .into_iter()
                .map(|f| (f.path, f.contents))
                .collect();
            ((env.to_string(), target.name().to_string()), files)
        })
        .collect()
}

/// Compare two snapshots.
pub fn compare(
    old: &Snapshot,
    new: &Snapshot,
    old_label: &str,
    new_label: &str,
    today: Date,
    with_diffs: bool,
) -> Report {
    let mut notes = Vec::new();
    for (snap, label) in [(old, old_label), (new, new_label)] {
        if !snap.spec_errors.is_empty() {
            notes.push(format!(
                "`{label}` has {} spec error(s) (run `plinth check` on it); its policy and output delta are left out",
                snap.spec_errors.len()
            ));
        } else if snap.violations.is_none() {
            notes.push(format!(
                "the policies could not be evaluated on `{label}`; its policy delta is left out"
            ));
        }
    }
    let declarations = semantic::declarations(&old.decls, &new.decls);
    let mut derived = semantic::derived(&old.facts, &new.facts);
    semantic::rename_classification(&mut derived, &new.decls);
    let renamed: BTreeMap<&str, &str> = declarations
        .iter()
        .filter_map(|d| Some((d.renamed_from.as_deref()?, d.name.as_str())))
        .collect();
    let policy = policy_delta(old, new, today, &renamed);
    let (outputs, provenance_only) = if old.spec_errors.is_empty() && new.spec_errors.is_empty() {
        output::compare(&old.outputs, &new.outputs, with_diffs)
    } else {
        (Vec::new(), 0)
    };
    // A spec hash covers the spec file's name, so a declaration moved to another file
    // changes it and nothing else. With no semantic change at all, hash-only files
    // are such moves, not changes.
    let mut outputs = outputs;
    let mut provenance_only = provenance_only;
    if declarations.is_empty() && derived.is_empty() {
        for t in &mut outputs {
            let before = t.files.len();
            t.files.retain(|f| !f.spec_hash_only);
            provenance_only += before - t.files.len();
        }
        outputs.retain(|t| !t.files.is_empty());
    }
    if provenance_only > 0 {
        notes.push(format!(
            "{provenance_only} generated file(s) or object(s) differ only in the spec file they name (declarations moved between files); they are not listed"
        ));
    }
    Report {
        old: old_label.to_string(),
        new: new_label.to_string(),
        declarations,
        derived,
        policy,
        outputs,
        notes,
    }
}

/// `renamed` maps old declaration names to new ones, so a renamed declaration's
/// violations are matched with themselves.
fn policy_delta(
    old: &Snapshot,
    new: &Snapshot,
    today: Date,
    renamed: &BTreeMap<&str, &str>,
) -> PolicyDelta {
    let mut delta = PolicyDelta::default();
    if let (Some(before), Some(after)) = (&old.violations, &new.violations) {
        let key = |v: &Violation| (v.policy.clone(), v.target.clone());
        let before_by: BTreeMap<_, &Violation> = before
            .iter()
            .map(|v| {
                let target = renamed.get(v.target.as_str()).copied().unwrap_or(&v.target);
                ((v.policy.clone(), target.to_string()), v)
            })
            .collect();
        let after_by: BTreeMap<_, &Violation> = after.iter().map(|v| (key(v), v)).collect();
        for (k, v) in &after_by {
            match before_by.get(k) {
                None => delta.introduced.push((*v).clone()),
                Some(b) if b.waived_by.is_none() && v.waived_by.is_some() => {
                    delta.now_waived.push((*v).clone());
                }
                Some(b) if b.waived_by.is_some() && v.waived_by.is_none() => {
                    delta.no_longer_waived.push((*v).clone());
                }
                Some(_) => {}
            }
        }
        for (k, v) in &before_by {
            if !after_by.contains_key(k) {
                delta.resolved.push((*v).clone());
            }
        }
        delta.findings_introduced = new
            .findings
            .iter()
            .filter(|f| !old.findings.contains(f))
            .cloned()
            .collect();
        delta.findings_resolved = old
            .findings
            .iter()
            .filter(|f| !new.findings.contains(f))
            .cloned()
            .collect();
    }
    let before = waivers(&old.decls, today);
    let after = waivers(&new.decls, today);
    delta.waivers_added = after
        .values()
        .filter(|w| !before.contains_key(&w.name))
        .cloned()
        .collect();
    delta.waivers_removed = before
        .values()
        .filter(|w| !after.contains_key(&w.name))
        .cloned()
        .collect();
    delta.waivers_expiring = after
        .values()
        .filter(|w| w.days_left <= EXPIRY_HORIZON_DAYS)
        .cloned()
        .collect();
    delta
}

fn waivers(decls: &semantic::Decls, today: Date) -> BTreeMap<String, WaiverInfo> {
    use plinth_check::checked::Value;
    decls
        .values()
        .filter(|d| d.kind == "waiver")
        .filter_map(|d| {
            let Some(Value::Date(expires)) = d.body.get("expires") else {
                return None;
            };
            let targets = match d.body.get("target") {
                Some(Value::List(items)) => items.iter().map(|v| v.value.render()).collect(),
                Some(v) => vec![v.render()],
                None => Vec::new(),
            };
            let info = WaiverInfo {
                name: d.name.clone(),
                policy: d.body.str("policy").unwrap_or("").to_string(),
                targets,
                expires: expires.to_string(),
                days_left: expires.days_since_epoch() - today.days_since_epoch(),
            };
            Some((d.name.clone(), info))
        })
        .collect()
}

/// `plinth diff`: exit 0 when the diff was produced (empty or not), 2 when a side
/// cannot be read.
pub fn run(args: &DiffArgs) -> ExitCode {
    match run_inner(args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: &DiffArgs) -> Result<String, String> {
    let today = crate::policy::parse_today(args.today.as_deref())?;
    if let Some(t) = &args.target
        && plinth_targets::by_name(t).is_none()
    {
        let names: Vec<&str> = plinth_targets::all().iter().map(|t| t.name()).collect();
        return Err(format!(
            "unknown target `{t}`; targets: {}",
            names.join(", ")
        ));
    }
    let selection = Selection {
        env: args.env.as_deref(),
        target: args.target.as_deref(),
    };
    // `_checkout` removes the materialized revision when it goes out of scope.
    let (old_dir, new_dir, old_label, new_label, _checkout) = match (
        &args.base,
        args.paths.as_slice(),
    ) {
        (Some(rev), [] | [_]) => {
            let dir = args
                .paths
                .first()
                .cloned()
                .unwrap_or_else(|| PathBuf::from("."));
            let checkout = git::materialize(&dir, rev)?;
            let old = checkout.path().to_path_buf();
            let label = if dir == Path::new(".") {
                "working tree".to_string()
            } else {
                format!("{} (working tree)", dir.display())
            };
            (old, dir.clone(), rev.clone(), label, Some(checkout))
        }
        (Some(_), _) => {
            return Err("with `--base REV`, give at most one workspace folder".to_string());
        }
        (None, [old, new]) => (
            old.clone(),
            new.clone(),
            old.display().to_string(),
            new.display().to_string(),
            None,
        ),
        (None, _) => {
            return Err("give two workspace folders (`plinth diff OLD NEW`) or a revision (`plinth diff --base REV [DIR]`)".to_string());
        }
    };
    for dir in [&old_dir, &new_dir] {
        if !dir.is_dir() {
            return Err(format!("`{}` is not a folder", dir.display()));
        }
    }
    // The two sides share nothing: check, evaluate and emit them side by side.
    let (old, new) = std::thread::scope(|s| {
        let old = s.spawn(|| snapshot(&old_dir, today, selection));
        let new = snapshot(&new_dir, today, selection);
        (old.join(), new)
    });
    let old = old.map_err(|_| "checking the old workspace failed".to_string())?;
    let report = compare(&old, &new, &old_label, &new_label, today, !args.summary);
    let text = match args.format {
        DiffFormat::Human => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            render::human(&report, color)
        }
        DiffFormat::Markdown => render::markdown(&report, MARKDOWN_LIMIT),
        DiffFormat::Json => render::json(&report),
    };
    std::mem::forget((old, new));
    Ok(text)
}
