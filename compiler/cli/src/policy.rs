//! The CLI side of the policy engine: reads a workspace's own policy folders, runs the
//! engine over every environment's platform, and implements `check` (with policies),
//! `schema --cedar`, `explain POLICY_ID|DECLARATION` and `test-policies`. CI and every
//! other caller go through [`run`], so they see the same decisions.

use crate::render::Sources;
use crate::{Checked, Format, Lowered, Spec, load_and_check, print_diagnostics, report};
use plinth_check::{EnvName, platform};
use plinth_ir::{Date, Platform};
use plinth_policy::{Options, Outcome, Packs, PolicyFile};
use plinth_syntax::{Diagnostic, Span};
use plinth_targets::PolicyResults;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// The policy engine's result for one workspace.
pub struct PolicyRun {
    pub packs: Option<Packs>,
    pub outcome: Option<Outcome>,
    /// Load problems (packs, `.cedar` files); the outcome's diagnostics are separate.
    pub load_diagnostics: Vec<Diagnostic>,
    /// Every `.cedar` file read (also when loading failed), for rendering.
    pub files: Vec<PolicyFile>,
    /// The platforms evaluated, one per environment (none with spec errors).
    pub platforms: Vec<Arc<Platform>>,
}

impl PolicyRun {
    /// Every policy diagnostic: load problems, violations, waivers, failures.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut all = self.load_diagnostics.clone();
        if let Some(o) = &self.outcome {
            all.extend(o.diagnostics.iter().cloned());
        }
        all
    }

    /// Adds the `.cedar` files to the sources, so diagnostics show their snippets.
    pub fn add_sources(&self, sources: &mut Sources) {
        for f in &self.files {
            sources.insert(f.path.clone(), f.text.as_str().into());
        }
    }
}

/// `.cedar` files under a workspace's `[policy] paths` (not their `tests/`).
fn workspace_policy_files(spec: Spec<'_>, diags: &mut Vec<Diagnostic>) -> Vec<PolicyFile> {
    let root = &spec.loaded.root;
    let mut files = Vec::new();
    for dir in &spec.loaded.config.policy.paths {
        let path = root.join(dir);
        let mut found = Vec::new();
        if let Err(e) = collect_cedar(&path, &mut found) {
            let toml = spec.sources.get("plinth.toml");
            let span = toml
                .and_then(|t| t.find(&format!("\"{dir}\"")))
                .map_or(Span::default(), |i| Span::new(i, i + dir.len() + 2));
            diags.push(
                Diagnostic::error(
                    "plinth::policy::pack",
                    span,
                    format!("cannot read policy folder `{dir}`: {e}"),
                )
                .with_file("plinth.toml")
                .with_help(
                    "`[policy] paths` lists folders of `.cedar` files, relative to the workspace",
                ),
            );
            continue;
        }
        found.sort();
        for p in found {
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            match std::fs::read_to_string(&p) {
                Ok(text) => files.push(PolicyFile { path: rel, text }),
                Err(e) => diags.push(
                    Diagnostic::error(
                        "plinth::policy::pack",
                        Span::default(),
                        format!("cannot read `{rel}`: {e}"),
                    )
                    .with_file(&rel),
                ),
            }
        }
    }
    files
}

fn collect_cedar(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "tests" && !name.starts_with('.') {
                collect_cedar(&path, out)?;
            }
        } else if name.ends_with(".cedar") {
            out.push(path);
        }
    }
    Ok(())
}

/// The platform of every declared environment (none when the spec has errors).
///
/// `Lowering::Shared` takes them from salsa's memo, where later queries (`diff`'s
/// outputs, `explain`) find them again; `Lowering::Owned` lowers them for the caller
/// alone, so `build` can add the policy results to them in place instead of copying
/// each one (~27 ms per environment at N=5,000).
pub fn platforms(checked: &Checked, lowering: Lowering) -> Vec<Arc<Platform>> {
    if checked.diagnostics.iter().any(Diagnostic::is_error) {
        return Vec::new();
    }
    match lowering {
        Lowering::Shared => plinth_check::db::platforms(&checked.db, checked.ws)
            .iter()
            .map(|(_, p)| p.clone())
            .collect(),
        Lowering::Owned => {
            let analysis = plinth_check::db::analysis(&checked.db, checked.ws);
            let names: Vec<&str> = analysis
                .of_kind("environment")
                .map(|d| d.name.as_str())
                .collect();
            plinth_check::lower::lower_all(analysis, &names)
                .into_iter()
                .flatten()
                .map(Arc::new)
                .collect()
        }
    }
}

/// Where [`platforms`] come from.
#[derive(Clone, Copy)]
pub enum Lowering {
    Shared,
    Owned,
}

/// Load the selected packs and evaluate them over every environment; with
/// `keep_entities` (`explain`) by plain Cedar, keeping the entity JSON.
pub fn run(checked: &Checked, today: Date, keep_entities: bool) -> PolicyRun {
    let mut clock = crate::timings::Stopwatch::start();
    let platforms = platforms(checked, Lowering::Shared);
    clock.lap("lower (all environments)");
    run_with(
        checked.spec(),
        platforms,
        today,
        Evaluation {
            plain_cedar: keep_entities,
            keep_entities,
            keep_decisions: true,
        },
    )
}

/// How a policy run evaluates, and what it keeps besides the diagnostics (see
/// [`Options`]).
#[derive(Clone, Copy)]
struct Evaluation {
    /// Plain Cedar on entity JSON validated against the schema (tests, `explain`),
    /// not the fast path.
    plain_cedar: bool,
    keep_entities: bool,
    keep_decisions: bool,
}

/// [`run`] over platforms already lowered.
fn run_with(
    spec: Spec<'_>,
    platforms: Vec<Arc<Platform>>,
    today: Date,
    evaluation: Evaluation,
) -> PolicyRun {
    // Started before the packs load, so `policy load` (parsing and validating the
    // schema and policies) is timed too.
    let mut clock = crate::timings::Stopwatch::start();
    let mut load_diagnostics = Vec::new();
    let extra = workspace_policy_files(spec, &mut load_diagnostics);
    let config = &spec.loaded.config.policy;
    let mut files: Vec<PolicyFile> = config
        .packs
        .iter()
        .flat_map(|p| plinth_policy::load::builtin_pack_files(p))
        .collect();
    files.extend(extra.iter().cloned());
    let (packs, diags) = plinth_policy::load(
        &config.packs,
        extra,
        spec.sources.get("plinth.toml").map(|t| &**t),
    );
    load_diagnostics.extend(diags);
    clock.lap("policy load");
    let spec_errors = spec.diagnostics.iter().any(Diagnostic::is_error);
    let outcome = match &packs {
        Some(p) if !spec_errors => {
            let refs: Vec<&Platform> = platforms.iter().map(AsRef::as_ref).collect();
            Some(plinth_policy::evaluate(
                p,
                &refs,
                &Options {
                    today,
                    max_waiver_days: config.max_waiver_days,
                    keep_entities: evaluation.keep_entities,
                    keep_decisions: evaluation.keep_decisions,
                    validate_entities: evaluation.plain_cedar,
                },
            ))
        }
        _ => None,
    };
    clock.lap("policy evaluation");
    if clock.on()
        && let Some(o) = &outcome
    {
        for (phase, secs) in &o.timings {
            crate::timings::line(phase, &format!("{:>7.1} ms", secs * 1000.0));
        }
        crate::timings::line("policy requests", &o.requests.to_string());
        let m = &o.memo;
        let verdicts = m.reused + m.first + m.unkeyed;
        if verdicts > 0 {
            // Precision is not needed: a percentage for a human reading timings.
            #[allow(clippy::cast_precision_loss)]
            let percent = m.reused as f64 * 100.0 / verdicts as f64;
            crate::timings::line(
                "policy verdicts",
                &format!(
                    "{verdicts}: {} reused ({percent:.1}%), {} first of their key, {} unkeyed",
                    m.reused, m.first, m.unkeyed
                ),
            );
        }
    }
    PolicyRun {
        packs,
        outcome,
        load_diagnostics,
        files,
        platforms,
    }
}

/// [`run`] for `check` and `build`: over a lowered workspace's platforms, which the run
/// takes; with every decision when `keep_decisions` (what the build's targets read is
/// made from them).
fn run_lowered(lowered: &mut Lowered, today: Date, keep_decisions: bool) -> PolicyRun {
    let platforms = std::mem::take(&mut lowered.platforms);
    run_with(
        lowered.spec(),
        platforms,
        today,
        Evaluation {
            plain_cedar: false,
            keep_entities: false,
            keep_decisions,
        },
    )
}

/// `--today YYYY-MM-DD`, or the system date.
pub fn parse_today(today: Option<&str>) -> Result<Date, String> {
    match today {
        None => Ok(plinth_policy::today()),
        Some(t) => plinth_policy::parse_date(t).ok_or_else(|| {
            format!("`--today {t}` is not a date; write YYYY-MM-DD, e.g. 2026-11-24")
        }),
    }
}

/// Spec errors exit 2; otherwise any error (violations, waivers, broken policies) exits 1.
pub fn exit_code(spec: &[Diagnostic], policy: &[Diagnostic]) -> ExitCode {
    if spec.iter().any(Diagnostic::is_error) {
        ExitCode::from(2)
    } else if policy.iter().any(Diagnostic::is_error) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `plinth check`: types, then policies.
pub fn check(dir: &Path, format: Format, today: Option<&str>) -> ExitCode {
    let today = match parse_today(today) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let checked = load_and_check(dir);
    // `check` reports diagnostics only: no decisions kept.
    let (mut checked, run) = if checked.loaded.config.policy.selects_nothing() {
        // The spec alone is checked. The process ends after the report, so the
        // database is never freed (as `checked` below is not).
        let (db, mut unlowered) = checked.into_parts();
        std::mem::forget(db);
        let run = run_lowered(&mut unlowered, today, false);
        (unlowered, run)
    } else {
        checked.lowered_beside(|lowered| run_lowered(lowered, today, false))
    };
    run.add_sources(&mut checked.sources);
    let policy_diags = run.diagnostics();
    let mut all = checked.diagnostics.clone();
    all.extend(policy_diags.iter().cloned());
    let suppressed = run
        .outcome
        .as_ref()
        .map(|o| o.suppressed.as_slice())
        .unwrap_or_default();
    match format {
        Format::Sarif => print!(
            "{}",
            report::sarif(&all, suppressed, &checked.sources, run.packs.as_ref())
        ),
        Format::Junit => print!(
            "{}",
            report::junit(&all, suppressed, &checked.sources, run.packs.as_ref())
        ),
        Format::Human | Format::Json => print_diagnostics(&all, &checked.sources, format),
    }
    let code = exit_code(&checked.diagnostics, &policy_diags);
    // The process exits next; freeing every query result first would only cost time.
    std::mem::forget(run);
    std::mem::forget(checked);
    code
}

/// What `plinth build` needs from the policies.
pub struct Gate {
    pub diagnostics: Vec<Diagnostic>,
    /// The workspace's sources plus the `.cedar` files, for rendering.
    pub sources: Sources,
    /// Per environment, the decision log (`evidence/decisions.jsonl`).
    pub logs: Vec<(String, String)>,
    /// Per environment, the data accesses the policies allowed (`Platform::grants`).
    pub grants: std::collections::BTreeMap<String, Vec<plinth_ir::Grant>>,
    /// Per environment, the verdicts the evidence reports (`Platform::policy`).
    pub summaries: std::collections::BTreeMap<String, plinth_ir::PolicySummary>,
    /// The platforms the policies saw, owned by the gate alone (see [`Lowering`]).
    pub platforms: Vec<Arc<Platform>>,
}

/// Per environment, the policy verdicts as the platform model carries them
/// (`Platform::policy`); empty when the policies did not load or evaluate.
pub fn summaries(
    run: &PolicyRun,
    today: Date,
) -> std::collections::BTreeMap<String, plinth_ir::PolicySummary> {
    use rayon::prelude::*;
    match (&run.packs, &run.outcome) {
        (Some(packs), Some(outcome)) => outcome
            .decisions
            .par_iter()
            .map(|(env, _)| {
                let summary = plinth_policy::summary(packs, outcome, env, today);
                (env.clone(), summary)
            })
            .collect(),
        _ => Default::default(),
    }
}

/// For `plinth build`: the same evaluation as `plinth check` (today's date), plus the
/// results the build's targets read (`wants`). The gate takes the workspace's sources
/// (adding the `.cedar` files to them) and platforms.
pub fn gate(lowered: &mut Lowered, today: Date, wants: PolicyResults) -> Gate {
    use rayon::prelude::*;
    let mut run = run_lowered(
        lowered,
        today,
        wants.verdicts || wants.grants || wants.decision_log,
    );
    let mut clock = crate::timings::Stopwatch::start();
    let mut sources = std::mem::take(&mut lowered.sources);
    run.add_sources(&mut sources);
    let none = std::collections::BTreeMap::new();
    let decisions = run.outcome.as_ref().map_or(&none, |o| &o.decisions);
    // Per environment, the three side by side, on all cores.
    let (logs, (grants, summaries)) = rayon::join(
        || {
            if !wants.decision_log {
                return Vec::new();
            }
            decisions
                .par_iter()
                .map(|(env, decisions)| (env.clone(), decision_log(decisions)))
                .collect()
        },
        || {
            rayon::join(
                || {
                    if !wants.grants {
                        return Default::default();
                    }
                    decisions
                        .par_iter()
                        .map(|(env, decisions)| (env.clone(), plinth_policy::grants(decisions)))
                        .collect()
                },
                || {
                    if !wants.verdicts {
                        return Default::default();
                    }
                    summaries(&run, today)
                },
            )
        },
    );
    clock.lap("decision logs, grants, summaries");
    Gate {
        diagnostics: run.diagnostics(),
        sources,
        logs,
        grants,
        summaries,
        platforms: std::mem::take(&mut run.platforms),
    }
}

/// An environment's decision log (`decisions.jsonl`): one JSON line per decision, in
/// order, written in chunks on all cores (74,000 lines at N=5,000).
fn decision_log(decisions: &[plinth_policy::Decision]) -> String {
    use rayon::prelude::*;
    let chunks: Vec<Vec<u8>> = decisions
        .par_chunks(4096)
        .map(|chunk| {
            let mut text = Vec::with_capacity(chunk.len() * 320);
            for d in chunk {
                d.write_log_line(&mut text);
                text.push(b'\n');
            }
            text
        })
        .collect();
    String::from_utf8(chunks.concat()).unwrap_or_default()
}

/// `plinth schema --cedar`.
pub fn schema() -> ExitCode {
    print!("{}", plinth_policy::cedar_schema());
    ExitCode::SUCCESS
}

/// `plinth explain POLICY_ID` or `plinth explain DECLARATION` (in the workspace at
/// `dir`); `None` when `id` is neither, so the caller tries diagnostic codes.
pub fn explain(id: &str, dir: &Path) -> Option<ExitCode> {
    if let Some(doc) = plinth_policy::codes::lookup(id) {
        println!(
            "{}\n\n{}\n\nWhy: {}\n\nExample:\n    {}\n\nFix: {}",
            doc.code, doc.summary, doc.why, doc.example, doc.fix
        );
        return Some(ExitCode::SUCCESS);
    }
    let all: Vec<String> = plinth_policy::builtin_packs()
        .iter()
        .map(|s| s.to_string())
        .collect();
    if let (Some(packs), _) = plinth_policy::load(&all, Vec::new(), None)
        && let Some(rule) = packs.rule(id)
    {
        println!(
            "{} ({}, pack `{}`)\n",
            rule.id,
            rule.severity.as_str(),
            rule.pack
        );
        println!("{}\n\nFix: {}\n", rule.message, rule.help);
        println!("{}:\n{}", rule.file, rule.source);
        return Some(ExitCode::SUCCESS);
    }
    if !dir.join("plinth.toml").is_file() && !has_plinth_files(dir) {
        return None;
    }
    let checked = load_and_check(dir);
    let analysis = plinth_check::db::analysis(&checked.db, checked.ws);
    if !analysis.decls.contains_key(id) {
        return None;
    }
    let run = run(&checked, plinth_policy::today(), true);
    let Some(outcome) = &run.outcome else {
        let mut sources = checked.sources.clone();
        run.add_sources(&mut sources);
        let mut diags = checked.diagnostics.clone();
        diags.extend(run.diagnostics());
        print_diagnostics(&diags, &sources, Format::Human);
        if diags.iter().any(Diagnostic::is_error) {
            eprintln!("`{id}` cannot be explained until the workspace checks without errors");
            return Some(ExitCode::from(2));
        }
        // Nothing failed: the workspace selects no policies (warned above).
        eprintln!("no policy decides anything about `{id}`: the workspace selects none");
        return Some(ExitCode::SUCCESS);
    };
    let mut shown = false;
    for (env, entities) in &outcome.entities {
        for ((_, name), json) in entities {
            if name != id {
                continue;
            }
            shown = true;
            println!("# Cedar entity in environment `{env}`");
            println!("{}", serde_json::to_string_pretty(json).unwrap_or_default());
            println!("\n# Decisions in `{env}`");
            for d in outcome.decisions.get(env).into_iter().flatten() {
                if d.principal.1 == id || d.resource.1 == id {
                    let verdict = if d.allowed { "ALLOW" } else { "DENY " };
                    let mut line = format!(
                        "{verdict} {} {}::\"{}\" -> {}::\"{}\"",
                        d.action, d.principal.0, d.principal.1, d.resource.0, d.resource.1
                    );
                    if !d.determining.is_empty() {
                        line.push_str(&format!("  by {}", d.determining.join(", ")));
                    }
                    for (p, w) in &d.waived {
                        line.push_str(&format!("  ({p} waived by {w})"));
                    }
                    println!("{line}");
                }
            }
            println!();
        }
    }
    if !shown {
        println!(
            "`{id}` is not a Cedar entity (only teams, environments, sources, feature views, models, services and batch jobs are) or is deployed to no environment"
        );
    }
    Some(ExitCode::SUCCESS)
}

fn has_plinth_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.path().extension().is_some_and(|x| x == "plinth"))
    })
}

/// One policy test case: a spec file (plus its pack's `tests/prelude.plinth`) and the
/// `(policy, declaration)` violations it must produce; any other violation fails it.
pub struct TestCase {
    pub name: String,
    pub files: Vec<(String, String)>,
    pub expected: Vec<(String, String)>,
    pub today: Date,
}

/// The test date of policy tests, unless a case says `// today: YYYY-MM-DD`.
pub const TEST_TODAY: &str = "2026-11-24";

/// The test cases of the built-in packs (embedded).
pub fn builtin_cases() -> Vec<(String, TestCase)> {
    let files = plinth_policy::embedded::FILES;
    let mut cases = Vec::new();
    for pack in plinth_policy::builtin_packs() {
        let prefix = format!("policies/{pack}/tests/");
        let prelude: Vec<(String, String)> = files
            .iter()
            .filter(|(p, _)| p.strip_prefix(&prefix) == Some("prelude.plinth"))
            .map(|(p, t)| ((*p).to_string(), (*t).to_string()))
            .collect();
        for (path, text) in files.iter() {
            let Some(name) = path.strip_prefix(&prefix) else {
                continue;
            };
            if name == "prelude.plinth" || !name.ends_with(".plinth") {
                continue;
            }
            let mut case_files = prelude.clone();
            case_files.push(((*path).to_string(), (*text).to_string()));
            cases.push((pack.to_string(), parse_case(path, text, case_files)));
        }
    }
    cases
}

fn parse_case(path: &str, text: &str, files: Vec<(String, String)>) -> TestCase {
    let mut expected = Vec::new();
    let mut today = plinth_policy::parse_date(TEST_TODAY).unwrap_or(Date {
        year: 2026,
        month: 11,
        day: 24,
    });
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("// expect:") {
            let mut parts = rest.split_whitespace();
            if let (Some(policy), Some(decl)) = (parts.next(), parts.next()) {
                expected.push((policy.to_string(), decl.to_string()));
            }
        } else if let Some(rest) = line.strip_prefix("// today:")
            && let Some(d) = plinth_policy::parse_date(rest)
        {
            today = d;
        }
    }
    expected.sort();
    TestCase {
        name: path.to_string(),
        files,
        expected,
        today,
    }
}

/// Evaluates one case's spec with its pack (and baseline); `validate_entities` as in
/// [`Options`]. `Err` when the spec does not check or the packs do not load.
fn case_outcome(pack: &str, case: &TestCase, validate_entities: bool) -> Result<Outcome, String> {
    case_outcome_with(pack, case, validate_entities, Vec::new())
}

/// [`case_outcome`] with the workspace's own policies `extra`.
fn case_outcome_with(
    pack: &str,
    case: &TestCase,
    validate_entities: bool,
    extra: Vec<plinth_policy::PolicyFile>,
) -> Result<Outcome, String> {
    let db = plinth_check::Db::default();
    let ws = plinth_check::load(&db, plinth_check::shared(case.files.clone()));
    let spec = plinth_check::diagnostics(&db, ws);
    if let Some(e) = spec.iter().find(|d| d.is_error()) {
        return Err(format!(
            "the spec does not check: {}: {} ({})",
            e.file, e.message, e.code
        ));
    }
    let mut packs_selected = vec!["baseline".to_string()];
    if pack != "baseline" {
        packs_selected.push(pack.to_string());
    }
    let (packs, load_diags) = plinth_policy::load(&packs_selected, extra, None);
    let Some(packs) = packs else {
        return Err(format!("the packs do not load: {load_diags:?}"));
    };
    let platforms = case_platforms(&db, ws);
    let refs: Vec<&Platform> = platforms.iter().map(AsRef::as_ref).collect();
    Ok(plinth_policy::evaluate(
        &packs,
        &refs,
        &Options {
            today: case.today,
            max_waiver_days: 180,
            keep_entities: false,
            keep_decisions: true,
            validate_entities,
        },
    ))
}

/// Every environment's platform of a case's workspace.
fn case_platforms(db: &plinth_check::Db, ws: plinth_check::db::Workspace) -> Vec<Arc<Platform>> {
    let analysis = plinth_check::db::analysis(db, ws);
    analysis
        .of_kind("environment")
        .filter_map(|d| platform(db, ws, EnvName::new(db, d.name.clone())).clone())
        .collect()
}

/// Runs one case; `Err` explains the mismatch.
pub fn run_case(pack: &str, case: &TestCase) -> Result<(), String> {
    // Policy tests also prove the entity builder matches the schema.
    let outcome = case_outcome(pack, case, true)?;
    let mut actual: Vec<(String, String)> = Vec::new();
    let mut other = Vec::new();
    for d in &outcome.diagnostics {
        match (&d.policy, d.label.as_deref()) {
            (Some(policy), Some(label)) => {
                let decl = label.split('`').nth(1).unwrap_or("").to_string();
                actual.push((policy.clone(), decl));
            }
            _ => other.push(format!("{}: {}", d.code, d.message)),
        }
    }
    actual.sort();
    actual.dedup();
    let missing: Vec<_> = case
        .expected
        .iter()
        .filter(|e| !actual.contains(e))
        .collect();
    let unexpected: Vec<_> = actual
        .iter()
        .filter(|a| !case.expected.contains(a))
        .collect();
    if missing.is_empty() && unexpected.is_empty() && other.is_empty() {
        return Ok(());
    }
    let mut msg = String::new();
    for (p, d) in missing {
        msg.push_str(&format!("\n    missing:    {p} on `{d}`"));
    }
    for (p, d) in unexpected {
        msg.push_str(&format!("\n    unexpected: {p} on `{d}`"));
    }
    for o in other {
        msg.push_str(&format!("\n    other:      {o}"));
    }
    Err(msg)
}

/// `plinth test-policies`: every built-in pack's tests.
pub fn test_policies() -> ExitCode {
    let cases = builtin_cases();
    let mut failed = 0usize;
    for (pack, case) in &cases {
        match run_case(pack, case) {
            Ok(()) => println!("ok    {}", case.name),
            Err(e) => {
                failed += 1;
                println!("FAIL  {}{e}", case.name);
            }
        }
    }
    println!(
        "\n{} passed, {failed} failed ({} cases)",
        cases.len() - failed,
        cases.len()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_policy_tests_pass() {
        let cases = builtin_cases();
        assert!(cases.len() >= 10, "only {} cases", cases.len());
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|(pack, case)| {
                run_case(pack, case)
                    .err()
                    .map(|e| format!("{}{e}", case.name))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// `plinth check` builds pruned entities without JSON, skips requests only
    /// unconditional permits apply to and memoizes each policy's verdict on the values
    /// it reads; on every policy test it must decide exactly like plain Cedar
    /// (schema-validated, unpruned entities, Cedar's authorizer with every policy on
    /// every request): decisions (determining policies, errors), diagnostics, waivers.
    #[test]
    fn the_fast_path_decides_like_the_validated_one() {
        for (pack, case) in builtin_cases() {
            let checked = case_outcome(&pack, &case, true).unwrap();
            let fast = case_outcome(&pack, &case, false).unwrap();
            assert!(!checked.decisions.is_empty(), "{}", case.name);
            assert_eq!(checked.decisions, fast.decisions, "{}", case.name);
            assert_eq!(checked.diagnostics, fast.diagnostics, "{}", case.name);
            assert_eq!(checked.suppressed, fast.suppressed, "{}", case.name);
            // Plain Cedar does not memoize; the fast path reused some verdicts.
            assert_eq!(checked.memo, plinth_policy::MemoStats::default());
            assert!(fast.memo.first > 0, "{}", case.name);
        }
    }

    /// The same on every example workspace, with its own packs and waivers.
    #[test]
    fn the_fast_path_decides_like_plain_cedar_on_the_examples() {
        let examples = example_workspaces();
        assert!(examples.len() >= 3, "only {} examples", examples.len());
        for dir in examples {
            let checked = load_and_check(&dir);
            let today = plinth_policy::parse_date(TEST_TODAY).unwrap();
            let outcome = |lowering, plain_cedar, keep_decisions| {
                let evaluation = Evaluation {
                    plain_cedar,
                    keep_entities: false,
                    keep_decisions,
                };
                let platforms = platforms(&checked, lowering);
                run_with(checked.spec(), platforms, today, evaluation)
                    .outcome
                    .unwrap()
            };
            let plain = outcome(Lowering::Shared, true, true);
            let fast = outcome(Lowering::Owned, false, true);
            // As `check` runs it: the same findings, no decisions kept.
            let check = outcome(Lowering::Owned, false, false);
            let name = dir.display();
            assert!(!plain.decisions.is_empty(), "{name}");
            assert_eq!(plain.decisions, fast.decisions, "{name}");
            assert_eq!(plain.diagnostics, fast.diagnostics, "{name}");
            assert_eq!(plain.suppressed, fast.suppressed, "{name}");
            assert!(fast.memo.reused > 0, "{name}");
            assert!(check.decisions.is_empty(), "{name}");
            assert_eq!(check.diagnostics, fast.diagnostics, "{name}");
            assert_eq!(check.suppressed, fast.suppressed, "{name}");
        }
    }

    /// The example workspaces (folders of `examples/` with a `plinth.toml`).
    fn example_workspaces() -> Vec<std::path::PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut dirs: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|dir| dir.join("plinth.toml").is_file())
            .collect();
        dirs.sort();
        dirs
    }

    /// An entity taken from the previous environment (its declaration is the same
    /// shared one) is the entity built afresh, errors included, on every example.
    #[test]
    fn entities_of_shared_declarations_are_the_ones_built_afresh() {
        use plinth_policy::entities::{CrossEnv, Earlier, Json, build_all};
        let mut shared = 0;
        for dir in example_workspaces() {
            let checked = load_and_check(&dir);
            let platforms = platforms(&checked, Lowering::Owned);
            let refs: Vec<&Platform> = platforms.iter().map(AsRef::as_ref).collect();
            let cross = CrossEnv::new(&refs);
            let mut earlier = Earlier::default();
            for (i, p) in refs.iter().enumerate() {
                let (mut reused_errors, mut fresh_errors) = (Vec::new(), Vec::new());
                let reused = build_all(
                    &Json,
                    p,
                    &cross,
                    &mut reused_errors,
                    None,
                    Some(&mut earlier),
                );
                let fresh = build_all(&Json, p, &cross, &mut fresh_errors, None, None);
                assert_eq!(reused, fresh, "{} {}", dir.display(), p.environment.name);
                assert_eq!(reused_errors, fresh_errors);
                if let Some(previous) = i.checked_sub(1).and_then(|j| refs.get(j)) {
                    shared += p
                        .models
                        .iter()
                        .filter(|(n, m)| previous.models.get(*n).is_some_and(|o| Arc::ptr_eq(o, m)))
                        .count();
                }
            }
        }
        assert!(
            shared > 0,
            "no example shares a declaration between environments"
        );
    }

    /// Services `a` and `b` show the same `context.tier`, `resource.tier` and
    /// `resource.replicas.min`: one key of `reliability.tier1-min-replicas`. They differ
    /// only in the availability SLO another rule reads. A key too coarse (one per
    /// request shape, or one shared between policies) would decide both alike.
    #[test]
    fn a_shared_key_of_one_policy_does_not_decide_another() {
        let spec = "service a { model: m  tier: tier1  replicas: 2..6  rollout: blue_green
  slo availability { objective: 99.9% }  slo latency { percentile: 99  threshold: 50ms  objective: 99% }
  monitor drift { feature: fv.n_1h  threshold: 0.2 } }
service b { model: m  tier: tier1  replicas: 2..6  rollout: blue_green
  slo latency { percentile: 99  threshold: 50ms  objective: 99% }
  monitor drift { feature: fv.n_1h  threshold: 0.2 } }
";
        let prelude = plinth_policy::embedded::FILES
            .iter()
            .find(|(p, _)| *p == "policies/baseline/tests/prelude.plinth")
            .unwrap();
        let case = TestCase {
            name: "shared-key".to_string(),
            files: vec![
                (prelude.0.to_string(), prelude.1.to_string()),
                ("shared.plinth".to_string(), spec.to_string()),
            ],
            expected: Vec::new(),
            today: plinth_policy::parse_date(TEST_TODAY).unwrap(),
        };
        let plain = case_outcome("baseline", &case, true).unwrap();
        let fast = case_outcome("baseline", &case, false).unwrap();
        assert_eq!(plain.decisions, fast.decisions);
        assert_eq!(plain.diagnostics, fast.diagnostics);
        let deploy = |name: &str| {
            fast.decisions["prod"]
                .iter()
                .find(|d| d.action == "deploy" && d.resource.1 == name)
                .unwrap()
                .clone()
        };
        assert!(deploy("a").cedar_allowed);
        assert!(!deploy("b").cedar_allowed);
        assert_eq!(
            deploy("b").determining,
            ["reliability.tier1-availability-slo"]
        );
        // `b`'s verdict of the replica rule (and others) was `a`'s, reused.
        assert!(fast.memo.reused > 0);
    }

    /// Policies that err or that the memo cannot key go to Cedar request by request,
    /// and decide exactly as plain Cedar does: a first request whose policy errs says
    /// nothing about the others of its key.
    #[test]
    fn erring_and_opaque_policies_decide_like_plain_cedar() {
        let spec = "service a { model: m  tier: tier1  replicas: 2..6  rollout: blue_green
  slo availability { objective: 99.9% }  slo latency { percentile: 99  threshold: 50ms  objective: 99% }
  monitor drift { feature: fv.n_1h  threshold: 0.2 } }
service b { model: m  tier: tier1  replicas: 2..6  rollout: blue_green
  slo availability { objective: 99.9% }  slo latency { percentile: 99  threshold: 50ms  objective: 99% }
  monitor drift { feature: fv.n_1h  threshold: 0.2 } }
service c { model: m  tier: tier2  replicas: 1..2  rollout: blue_green
  slo latency { percentile: 99  threshold: 50ms  objective: 99% } }
";
        // An overflow errs on every service; `== principal` makes a policy opaque.
        let policies = r#"
@id("local.overflow") @severity("error") @message("m") @help("h")
forbid (principal, action == Plinth::Action::"deploy", resource is Plinth::Service)
when { resource.replicas.max + 9223372036854775807 > 0 };
@id("local.opaque") @severity("error") @message("m") @help("h")
forbid (principal, action == Plinth::Action::"deploy", resource is Plinth::Service)
when { resource.owner == principal && resource.tier == "tier2" };
"#;
        let prelude = plinth_policy::embedded::FILES
            .iter()
            .find(|(p, _)| *p == "policies/baseline/tests/prelude.plinth")
            .unwrap();
        let case = TestCase {
            name: "erring".to_string(),
            files: vec![
                (prelude.0.to_string(), prelude.1.to_string()),
                ("erring.plinth".to_string(), spec.to_string()),
            ],
            expected: Vec::new(),
            today: plinth_policy::parse_date(TEST_TODAY).unwrap(),
        };
        let extra = || {
            vec![plinth_policy::PolicyFile {
                path: "policies/local.cedar".to_string(),
                text: policies.to_string(),
            }]
        };
        let plain = case_outcome_with("baseline", &case, true, extra()).unwrap();
        let fast = case_outcome_with("baseline", &case, false, extra()).unwrap();
        assert_eq!(plain.decisions, fast.decisions);
        assert_eq!(plain.diagnostics, fast.diagnostics);
        for d in fast.decisions["prod"]
            .iter()
            .filter(|d| d.action == "deploy" && d.resource.0 == "Service")
        {
            assert!(!d.allowed, "{d:?}");
            assert!(d.errors.iter().any(|e| e.contains("overflow")), "{d:?}");
            // `c` is owned by its principal and tier 2: the opaque rule fires.
            assert_eq!(
                d.determining.contains(&"local.opaque".to_string()),
                d.resource.1 == "c"
            );
        }
        assert!(fast.memo.unkeyed >= 6, "{:?}", fast.memo);
    }

    /// A decimal Cedar cannot hold fails the environment closed, the same way on
    /// both paths, naming the value.
    #[test]
    fn a_decimal_cedar_rejects_fails_both_paths_alike() {
        let spec = "service a { model: m  tier: tier2  replicas: 1..2  rollout: blue_green
  slo latency { percentile: 99  threshold: 50ms  objective: 99% }
  monitor drift { feature: fv.n_1h  threshold: 1000000000000000.5 } }
";
        let prelude = plinth_policy::embedded::FILES
            .iter()
            .find(|(p, _)| *p == "policies/baseline/tests/prelude.plinth")
            .unwrap();
        let case = TestCase {
            name: "overflow".to_string(),
            files: vec![
                (prelude.0.to_string(), prelude.1.to_string()),
                ("overflow.plinth".to_string(), spec.to_string()),
            ],
            expected: Vec::new(),
            today: plinth_policy::parse_date(TEST_TODAY).unwrap(),
        };
        let fast = case_outcome("baseline", &case, false).unwrap();
        assert!(
            fast.diagnostics.iter().any(|d| d.is_error()
                && d.message
                    .contains("`1000000000000000.5` is not a Cedar decimal")),
            "{:?}",
            fast.diagnostics
        );
        assert!(fast.decisions.is_empty());
        let plain = case_outcome("baseline", &case, true).unwrap();
        assert_eq!(
            plain.diagnostics.iter().filter(|d| d.is_error()).count(),
            fast.diagnostics.iter().filter(|d| d.is_error()).count()
        );
    }

    /// The evaluator takes the first entity Cedar would reject in this order.
    #[test]
    fn entities_are_built_in_type_and_name_order() {
        for (_, case) in builtin_cases() {
            let db = plinth_check::Db::default();
            let ws = plinth_check::load(&db, plinth_check::shared(case.files.clone()));
            for p in case_platforms(&db, ws) {
                let cross = plinth_policy::entities::CrossEnv::new(&[&p]);
                let built = plinth_policy::entities::build_all(
                    &plinth_policy::entities::Json,
                    &p,
                    &cross,
                    &mut Vec::new(),
                    None,
                    None,
                );
                assert!(built.len() > 3, "{}", case.name);
                assert!(built.windows(2).all(|w| w[0].0 < w[1].0), "{}", case.name);
            }
        }
    }

    #[test]
    fn every_baseline_rule_fires_in_some_test() {
        let (packs, _) = plinth_policy::load(&["baseline".to_string()], Vec::new(), None);
        let packs = packs.unwrap();
        let cases = builtin_cases();
        for rule in packs.rules.values().filter(|r| r.forbid) {
            assert!(
                cases
                    .iter()
                    .any(|(_, c)| c.expected.iter().any(|(p, _)| *p == rule.id)),
                "no test shows `{}` firing",
                rule.id
            );
        }
    }
}
