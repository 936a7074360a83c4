//! `plinth build`: lower the checked spec per environment and run every target, then
//! write `out/<env>/<target>/` atomically, or with `--check` compare with what is on
//! disk (CI fails when committed output is stale).

use crate::{Checked, Format, print_diagnostics};
use plinth_check::{EnvName, platform};
use plinth_syntax::{Diagnostic, Span};
use rayon::prelude::*;
use std::collections::BTreeSet;
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

pub fn build(checked: &Checked, args: &BuildArgs) -> ExitCode {
    let mut diags: Vec<Diagnostic> = checked.diagnostics.clone();
    if diags.iter().any(Diagnostic::is_error) {
        print_diagnostics(&diags, &checked.sources, Format::Human);
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
    let gate = crate::policy::gate(checked, today);
    if !gate.diagnostics.is_empty() {
        print_diagnostics(&gate.diagnostics, &gate.sources, Format::Human);
    }
    if gate.diagnostics.iter().any(Diagnostic::is_error) {
        return ExitCode::from(1);
    }
    let analysis = plinth_check::db::analysis(&checked.db, checked.ws);
    let all_envs: Vec<String> = analysis
        .of_kind("environment")
        .map(|d| d.name.clone())
        .collect();
    let envs: Vec<String> = match args.env {
        Some(e) if all_envs.iter().any(|x| x == e) => vec![e.to_string()],
        Some(e) => {
            let suggestion = plinth_check::did_you_mean(e, all_envs.iter().map(String::as_str));
            diags.push(
                Diagnostic::error(
                    "plinth::workspace::environment",
                    Span::default(),
                    format!("no environment named `{e}`"),
                )
                .with_help(
                    suggestion.map_or(format!("environments: {}", all_envs.join(", ")), |s| {
                        format!("did you mean `{s}`?")
                    }),
                ),
            );
            print_diagnostics(&diags, &checked.sources, Format::Human);
            return ExitCode::from(2);
        }
        None => all_envs,
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
    let prices = match crate::cost::price_table(checked) {
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
    // Salsa's database is not Sync: lower on this thread, emit in parallel. Each
    // platform carries the accesses its policies allowed (Terraform's IAM grants).
    let platforms: Vec<(String, Arc<plinth_ir::Platform>)> = envs
        .iter()
        .filter_map(|e| {
            let name = EnvName::new(&checked.db, e.clone());
            platform(&checked.db, checked.ws, name)
                .clone()
                .map(|p| with_grants(p, gate.grants.get(e)))
                .map(|p| {
                    (
                        e.clone(),
                        crate::cost::with_policy(p, gate.summaries.get(e)),
                    )
                })
        })
        .collect();
    let jobs: Vec<(&str, &dyn plinth_targets::Target)> = platforms
        .iter()
        .flat_map(|(e, _)| targets.iter().map(move |t| (e.as_str(), t.as_ref())))
        .collect();
    let mut emitted: Vec<(String, &'static str, plinth_targets::Emit)> = jobs
        .par_iter()
        .filter_map(|(env, target)| {
            let platform = platforms.iter().find(|(e, _)| e == env).map(|(_, p)| p)?;
            Some((env.to_string(), target.name(), target.emit(platform)))
        })
        .collect();
    // The policy decision log is evidence: `out/<env>/evidence/decisions.jsonl`, next
    // to what the evidence target wrote (one folder, written once).
    if args.target.is_none_or(|t| t == "evidence") {
        for (env, log) in gate.logs.into_iter().filter(|(e, _)| envs.contains(e)) {
            let file = plinth_targets::OutputFile {
                path: "decisions.jsonl".to_string(),
                contents: log,
            };
            match emitted
                .iter_mut()
                .find(|(e, t, _)| *e == env && *t == "evidence")
            {
                Some((_, _, emit)) => {
                    emit.files.push(file);
                    emit.files.sort_by(|a, b| a.path.cmp(&b.path));
                }
                None => emitted.push((
                    env,
                    "evidence",
                    plinth_targets::Emit {
                        files: vec![file],
                        diagnostics: Vec::new(),
                    },
                )),
            }
        }
    }
    for (_, _, emit) in &emitted {
        diags.extend(emit.diagnostics.iter().cloned());
    }
    diags.sort_by(|a, b| {
        (&a.file, a.span.start, &a.message).cmp(&(&b.file, b.span.start, &b.message))
    });
    diags.dedup();
    if !diags.is_empty() {
        print_diagnostics(&diags, &checked.sources, Format::Human);
    }
    if diags.iter().any(Diagnostic::is_error) {
        return ExitCode::from(2);
    }
    let out = args
        .out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| checked.loaded.root.join(&checked.loaded.config.build.out));
    if args.check {
        return check_stale(&out, &emitted);
    }
    let mut files = 0usize;
    let mut bytes = 0usize;
    for (env, target, emit) in &emitted {
        if let Err(e) = plinth_targets::write_target_output(&out, env, target, &emit.files) {
            eprintln!("cannot write {}/{env}/{target}: {e}", out.display());
            return ExitCode::from(2);
        }
        files += emit.files.len();
        bytes += emit.files.iter().map(|f| f.contents.len()).sum::<usize>();
    }
    eprintln!("wrote {files} files ({bytes} bytes) to {}", out.display());
    ExitCode::SUCCESS
}

/// The platform with the policy engine's allowed accesses for its environment.
pub(crate) fn with_grants(
    platform: Arc<plinth_ir::Platform>,
    grants: Option<&Vec<plinth_ir::Grant>>,
) -> Arc<plinth_ir::Platform> {
    match grants {
        Some(grants) if !grants.is_empty() => {
            let mut p = (*platform).clone();
            p.grants = grants.clone();
            Arc::new(p)
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
