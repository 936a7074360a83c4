//! `plinth report [DIR] [--env E] [--out FILE] [--today D]`: the evidence of one
//! environment as one self-contained HTML page (rendered by
//! `plinth_targets::evidence::html`). Default environment: the first production-tier
//! one, else the first by name; default file: `<out>/<env>/report.html`, beside the
//! `evidence/` folder its model-card links point into.
//!
//! The lineage picture is graphviz's SVG when `dot` is installed (run on the same DOT
//! the build writes), else the built-in layered drawing. A report is documentation: it
//! is written even when policies find violations (they are in it); exit 2 on spec
//! errors or when the page cannot be written.

use crate::cost::{environments, lower, with_policy};
use crate::{Format, print_diagnostics};
use plinth_targets::evidence::{html, lineage};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

pub struct ReportArgs<'a> {
    pub dir: &'a Path,
    pub env: Option<&'a str>,
    pub out: Option<&'a Path>,
    pub today: Option<&'a str>,
}

pub fn run(args: &ReportArgs) -> ExitCode {
    let today = match crate::policy::parse_today(args.today) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (mut checked, prices) = match crate::cost::load_priced(args.dir) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let all = match environments(&checked, args.env) {
        Ok(e) => e,
        Err(d) => {
            print_diagnostics(&[*d], &checked.sources, Format::Human);
            return ExitCode::from(2);
        }
    };
    let platforms = lower(&checked, &all);
    let chosen = platforms
        .iter()
        .find(|p| args.env.is_some() || p.environment.tier == "production")
        .or_else(|| platforms.first());
    let Some(platform) = chosen.cloned() else {
        eprintln!("error: the workspace declares no environment to report on");
        return ExitCode::from(2);
    };
    let env = platform.environment.name.clone();
    let policy_run = crate::policy::run(&checked, today, false);
    policy_run.add_sources(&mut checked.sources);
    let policy_diags = policy_run.diagnostics();
    if !policy_diags.is_empty() {
        print_diagnostics(&policy_diags, &checked.sources, Format::Human);
    }
    let mut summaries = crate::policy::summaries(&policy_run, today);
    let platform = with_policy(platform, summaries.remove(&env));
    let graph = graphviz_svg(&lineage::dot(&lineage::lineage(&platform)));
    let page = match html::report(&platform, &prices, graph) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let path: PathBuf = args.out.map(Path::to_path_buf).unwrap_or_else(|| {
        checked
            .loaded
            .root
            .join(&checked.loaded.config.build.out)
            .join(&env)
            .join("report.html")
    });
    if let Err(e) = write_atomically(&path, &page) {
        eprintln!("error: cannot write {}: {e}", path.display());
        return ExitCode::from(2);
    }
    eprintln!(
        "wrote the {env} report ({} bytes) to {}",
        page.len(),
        path.display()
    );
    std::mem::forget(policy_run);
    std::mem::forget(checked);
    ExitCode::SUCCESS
}

/// `dot -Tsvg` over `dot_text`, inlined, or `None` when graphviz is missing or fails.
fn graphviz_svg(dot_text: &str) -> Option<String> {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(dot_text.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    html::inline_svg(&String::from_utf8(out.stdout).ok()?)
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "report.html".to_string());
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
