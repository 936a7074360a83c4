//! `plinth build`: lower the checked spec per environment and run every target, then
//! write `out/<env>/<target>/` atomically, or with `--check` compare with what is on
//! disk (CI fails when committed output is stale).

use crate::timings::Stopwatch;
use crate::{Checked, Format, print_diagnostics};
use plinth_syntax::Diagnostic;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

pub struct BuildArgs<'a> {
    pub env: Option<&'a str>,
    pub target: Option<&'a str>,
    pub out: Option<&'a Path>,
    pub check: bool,
    /// The date waivers are judged at (`--today`), so output is reproducible.
    pub today: Option<&'a str>,
}

pub fn build(checked: Checked, args: &BuildArgs) -> ExitCode {
    let mut diags: Vec<Diagnostic> = checked.diagnostics.clone();
    if diags.iter().any(Diagnostic::is_error) {
        print_diagnostics(&diags, &checked.sources, Format::Human);
        // The process ends here: freeing the database's memos one by one would only
        // delay the exit.
        std::mem::forget(checked);
        return ExitCode::from(2);
    }
    // Policies gate the build exactly as they gate `plinth check`.
    let today = match crate::policy::parse_today(args.today) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let targets = match args.target {
        Some(t) => match plinth_targets::by_name(t) {
            Some(target) => vec![target],
            None => {
                let names: Vec<&str> = plinth_targets::all().iter().map(|t| t.name()).collect();
                eprintln!("unknown target `{t}`; targets: {}", names.join(", "));
                return ExitCode::from(2);
            }
        },
        None => plinth_targets::all(),
    };
    // The evidence target prices with the workspace's `[prices]`.
    let prices = match crate::cost::price_table(checked.spec()) {
        Ok(p) => p,
        Err(d) => {
            print_diagnostics(&[*d], &checked.sources, Format::Human);
            return ExitCode::from(2);
        }
    };
    let targets: Vec<Box<dyn plinth_targets::Target>> = targets
        .into_iter()
        .map(|t| match t.name() {
            "evidence" => Box::new(plinth_targets::evidence::Evidence {
                prices: prices.clone(),
            }),
            _ => t,
        })
        .collect();
    let envs = match crate::cost::environments(&checked, args.env) {
        Ok(envs) => envs,
        Err(d) => {
            diags.push(*d);
            print_diagnostics(&diags, &checked.sources, Format::Human);
            return ExitCode::from(2);
        }
    };
    let wants = targets
        .iter()
        .fold(plinth_targets::PolicyResults::default(), |w, t| {
            w.or(t.policy_results())
        });
    let (checked, gate) =
        checked.lowered_beside(|lowered| crate::policy::gate(lowered, today, wants));
    if !gate.diagnostics.is_empty() {
        print_diagnostics(&gate.diagnostics, &gate.sources, Format::Human);
    }
    if gate.diagnostics.iter().any(Diagnostic::is_error) {
        return ExitCode::from(1);
    }
    // The gate's platforms are its own (lowered for it, not salsa's), so each gets
    // the accesses its policies allowed (Terraform's IAM grants) and its verdicts in
    // place, without a copy.
    let mut clock = Stopwatch::start();
    let mut gate_platforms = gate.platforms;
    let (mut grants, mut summaries) = (gate.grants, gate.summaries);
    let platforms: Vec<(String, Arc<plinth_ir::Platform>)> = envs
        .iter()
        .filter_map(|e| {
            let i = gate_platforms
                .iter()
                .position(|p| &p.environment.name == e)?;
            let p = gate_platforms.swap_remove(i);
            let p = with_grants(p, grants.remove(e));
            Some((e.clone(), crate::cost::with_policy(p, summaries.remove(e))))
        })
        .collect();
    // Never freed: they live until the process ends, and freeing two platforms'
    // many small allocations only delayed the exit (~30 ms at N=5,000).
    let platforms = std::mem::ManuallyDrop::new(platforms);
    // The environments not built are freed off this thread.
    rayon::spawn(move || drop(gate_platforms));
    clock.lap("platforms with policy results");
    let out = args
        .out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| checked.loaded.root.join(&checked.loaded.config.build.out));
    // The policy decision log is evidence: `out/<env>/evidence/decisions.jsonl`, next
    // to what the evidence target wrote (one folder, written once). The gate wrote it
    // only if a target reads it.
    let mut logs: BTreeMap<String, String> = gate
        .logs
        .into_iter()
        .filter(|(e, _)| envs.contains(e))
        .collect();
    // One target at a time: render every environment (in parallel), then write it into a
    // staging directory and drop it, so only one target's output is in memory at once.
    // Nothing is swapped into `out` until every target rendered without errors.
    let mut staged: Vec<plinth_targets::Staged> = Vec::new();
    let mut kept: Vec<(String, &'static str, plinth_targets::Emit)> = Vec::new();
    let mut files = 0usize;
    let mut bytes = 0usize;
    let mut failed = diags.iter().any(Diagnostic::is_error);
    #[allow(clippy::too_many_arguments)]
    let mut write = |env: &str,
                     target: &'static str,
                     emit: plinth_targets::Emit,
                     diags: &mut Vec<Diagnostic>,
                     failed: &mut bool,
                     staged: &mut Vec<plinth_targets::Staged>,
                     files: &mut usize,
                     bytes: &mut usize|
     -> Result<(), ExitCode> {
        diags.extend(emit.diagnostics.iter().cloned());
        *failed |= emit.has_errors();
        if args.check {
            kept.push((env.to_string(), target, emit));
        } else if !*failed {
            match plinth_targets::stage_target_output(&out, env, target, &emit.files) {
                Ok(s) => staged.push(s),
                Err(e) => {
                    eprintln!("cannot write {}/{env}/{target}: {e}", out.display());
                    return Err(ExitCode::from(2));
                }
            }
            *files += emit.files.len();
            *bytes += emit.files.iter().map(|f| f.contents.len()).sum::<usize>();
        }
        Ok(())
    };
    for target in &targets {
        let name = target.name();
        let mut clock = Stopwatch::start();
        if !args.check && !failed {
            // Render and write at once: every environment in parallel, each file written
            // into the staging folder as soon as it is rendered (`Target::emit_to`), so a
            // target's output is never all in memory. The "render" lap includes writing (and
            // the decision log, next to the evidence).
            let streamed: Vec<(&str, Streamed)> = platforms
                .par_iter()
                .map(|(env, platform)| {
                    let stage = || {
                        let stager = plinth_targets::start_target_output(&out, env, name)?;
                        let diagnostics = target.emit_to(platform, &stager)?;
                        if target.policy_results().decision_log
                            && let Some(log) = logs.get(env)
                        {
                            plinth_targets::FileSink::write(&stager, "decisions.jsonl", log)?;
                        }
                        Ok((stager, diagnostics))
                    };
                    (env.as_str(), stage())
                })
                .collect();
            clock.lap(&format!("render {name}"));
            for (env, result) in streamed {
                if target.policy_results().decision_log {
                    logs.remove(env);
                }
                let (stager, diagnostics) = match result {
                    Ok(w) => w,
                    Err(e) => {
                        eprintln!("cannot write {}/{env}/{name}: {e}", out.display());
                        return ExitCode::from(2);
                    }
                };
                failed |= diagnostics.iter().any(Diagnostic::is_error);
                diags.extend(diagnostics);
                // With errors the stager is dropped, which deletes what it wrote.
                if !failed {
                    let (n, b) = stager.written();
                    files += n;
                    bytes += b;
                    staged.push(stager.finish());
                }
            }
            continue;
        }
        let mut emitted: Vec<(&str, plinth_targets::Emit)> = platforms
            .par_iter()
            .map(|(env, platform)| (env.as_str(), target.emit(platform)))
            .collect();
        if target.policy_results().decision_log {
            for (env, emit) in &mut emitted {
                if let Some(log) = logs.remove(*env) {
                    emit.files.push(decisions_file(log));
                    emit.files.sort_by(|a, b| a.path.cmp(&b.path));
                }
            }
        }
        clock.lap(&format!("render {name}"));
        for (env, emit) in emitted {
            if let Err(code) = write(
                env,
                name,
                emit,
                &mut diags,
                &mut failed,
                &mut staged,
                &mut files,
                &mut bytes,
            ) {
                return code;
            }
        }
        clock.lap(&format!("write {name}"));
    }
    // Environments whose platform could not be lowered still get their decision log, in
    // the folder of the target that reads it (the gate wrote logs only if one does).
    if let Some(folder) = targets
        .iter()
        .find(|t| t.policy_results().decision_log)
        .map(|t| t.name())
    {
        for (env, log) in std::mem::take(&mut logs) {
            let emit = plinth_targets::Emit {
                files: vec![decisions_file(log)],
                diagnostics: Vec::new(),
            };
            if let Err(code) = write(
                &env,
                folder,
                emit,
                &mut diags,
                &mut failed,
                &mut staged,
                &mut files,
                &mut bytes,
            ) {
                return code;
            }
        }
    }
    diags.sort_by(|a, b| {
        (&a.file, a.span.start, &a.message).cmp(&(&b.file, b.span.start, &b.message))
    });
    diags.dedup();
    if !diags.is_empty() {
        print_diagnostics(&diags, &gate.sources, Format::Human);
    }
    if diags.iter().any(Diagnostic::is_error) {
        // Dropping the staged trees deletes them; the previous output stays.
        return ExitCode::from(2);
    }
    if args.check {
        return check_stale(&out, &kept);
    }
    let mut clock = Stopwatch::start();
    for s in staged {
        if let Err(e) = s.commit() {
            eprintln!("cannot replace output in {}: {e}", out.display());
            return ExitCode::from(2);
        }
    }
    clock.lap("swap into place");
    eprintln!("wrote {files} files ({bytes} bytes) to {}", out.display());
    ExitCode::SUCCESS
}

/// One environment's streamed target: the staging folder it wrote, and its diagnostics.
type Streamed = std::io::Result<(plinth_targets::Stager, Vec<Diagnostic>)>;

fn decisions_file(log: String) -> plinth_targets::OutputFile {
    plinth_targets::OutputFile {
        path: "decisions.jsonl".to_string(),
        contents: log,
    }
}

/// The platform with the policy engine's allowed accesses for its environment.
pub(crate) fn with_grants(
    platform: Arc<plinth_ir::Platform>,
    grants: Option<Vec<plinth_ir::Grant>>,
) -> Arc<plinth_ir::Platform> {
    match grants {
        Some(grants) if !grants.is_empty() => {
            // Copies the platform only when it is shared.
            let mut platform = platform;
            Arc::make_mut(&mut platform).grants = grants;
            platform
        }
        _ => platform,
    }
}

/// Lists every file that differs from, is missing in or is extra in `out`.
fn check_stale(out: &Path, emitted: &[(String, &'static str, plinth_targets::Emit)]) -> ExitCode {
    let mut stale = Vec::new();
    for (env, target, emit) in emitted {
        let dir = out.join(env).join(target);
        let expected: BTreeSet<&str> = emit.files.iter().map(|f| f.path.as_str()).collect();
        for f in &emit.files {
            match std::fs::read_to_string(dir.join(&f.path)) {
                Ok(on_disk) if on_disk == f.contents => {}
                Ok(_) => stale.push(format!("changed  {env}/{target}/{}", f.path)),
                Err(_) => stale.push(format!("missing  {env}/{target}/{}", f.path)),
            }
        }
        let mut present = Vec::new();
        list_files(&dir, &dir, &mut present);
        for p in present {
            if !expected.contains(p.as_str()) {
                stale.push(format!("extra    {env}/{target}/{p}"));
            }
        }
    }
    if stale.is_empty() {
        eprintln!("output in {} is up to date", out.display());
        ExitCode::SUCCESS
    } else {
        for s in &stale {
            println!("{s}");
        }
        eprintln!(
            "{} file(s) in {} are stale: run `plinth build` and commit the result",
            stale.len(),
            out.display()
        );
        ExitCode::from(1)
    }
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            list_files(root, &p, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}
