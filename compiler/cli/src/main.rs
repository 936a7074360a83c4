//! `plinth`: the command line. All IO lives here: reading workspaces, writing output,
//! rendering diagnostics. Exit codes: 0 clean, 1 policy errors, 2 spec errors.

mod artifacts;
mod build;
mod cost;
mod diff;
mod graph;
mod html_report;
mod init;
mod lsp;
mod policy;
mod render;
mod report;
mod timings;
mod workspace;

// The compiler allocates many small values (names, records, diagnostics); mimalloc
// takes about a third less CPU than the system allocator on the 5,000-service bench.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option (`mi_option_purge_delay` in mimalloc.h; not exported
/// as a constant by libmimalloc-sys).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc hands freed pages back to the OS after a delay, and the next allocation
/// faults them in again: on the 5,000-service bench that cost 0.4–1 s of system time
/// (page clearing) per run. A compiler run is short; memory is returned at exit.
#[allow(unsafe_code)]
fn never_purge_memory() {
    // SAFETY: mi_option_set only stores an option value; it is thread-safe and has no
    // preconditions on its arguments.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

use clap::{Parser, Subcommand, ValueEnum};
use plinth_check::db::analysis;
use plinth_check::{Db, codes, diagnostics};
use plinth_syntax::Diagnostic;
use render::Sources;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "plinth",
    version,
    about = "Compiler and policy engine for ML platform specs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    /// SARIF 2.1.0 (code scanning); waived violations carry `suppressions`.
    Sarif,
    /// JUnit XML: one test case per policy rule.
    Junit,
}

#[derive(Subcommand)]
enum Command {
    /// Type-check a workspace. Exit 0 clean, 1 policy errors, 2 spec errors.
    Check {
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// The date waivers are checked against (YYYY-MM-DD); default: today (UTC).
        #[arg(long)]
        today: Option<String>,
    },
    /// Generate every target's output for every environment (or the ones named).
    Build {
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[arg(long)]
        env: Option<String>,
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        out: Option<PathBuf>,
        /// Do not write; exit 1 and list the files when the output on disk is stale.
        #[arg(long)]
        check: bool,
        /// The date waivers are checked against (YYYY-MM-DD); default: today (UTC).
        #[arg(long)]
        today: Option<String>,
    },
    /// Format `*.plinth` files in place (or only check with `--check`).
    Fmt {
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[arg(long)]
        check: bool,
    },
    /// Print the JSON Schema of the language (or, with `--cedar`, the Cedar schema).
    Schema {
        #[arg(long)]
        cedar: bool,
    },
    /// Explain a diagnostic code, a policy id, or a declaration of the workspace in DIR.
    Explain {
        id: String,
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Run the built-in policy packs' tests (policies/<pack>/tests).
    TestPolicies,
    /// Draw the dependency graph (sources -> feature views -> models -> services and
    /// batch jobs), coloured by data classification, policy violations marked.
    Graph {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Only what is deployed to this environment.
        #[arg(long)]
        env: Option<String>,
        /// `svg` runs graphviz's `dot`.
        #[arg(long, value_enum, default_value = "dot")]
        format: graph::GraphFormat,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// A language server over standard input and output, for editors.
    Lsp,
    /// Estimated monthly cost per service, batch job, training and materialization,
    /// summed per team, environment and cost center (prices: stdlib, `[prices]`).
    Cost {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Only this environment (default: every environment).
        #[arg(long)]
        env: Option<String>,
        #[arg(long, value_enum, default_value = "human")]
        format: cost::CostFormat,
    },
    /// The evidence of one environment as one self-contained HTML page: lineage graph,
    /// scorecard, cost, violations and waivers, model cards.
    Report {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Default: the first production-tier environment.
        #[arg(long)]
        env: Option<String>,
        /// Default: `<out>/<env>/report.html`.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// The date waivers are checked against (YYYY-MM-DD); default: today (UTC).
        #[arg(long)]
        today: Option<String>,
    },
    /// What a change does: declarations and fields, derived facts, policy decisions,
    /// then every generated file. `plinth diff OLD NEW` or `plinth diff --base REV [DIR]`.
    Diff {
        /// `OLD NEW` (two workspace folders), or with `--base` the workspace (default `.`).
        paths: Vec<PathBuf>,
        /// Compare the working tree with this git revision (`origin/main`, `HEAD~1`).
        #[arg(long)]
        base: Option<String>,
        #[arg(long, value_enum, default_value = "human")]
        format: diff::DiffFormat,
        /// The date waivers are checked against (YYYY-MM-DD); default: today (UTC).
        #[arg(long)]
        today: Option<String>,
        /// Only this environment's generated files.
        #[arg(long)]
        env: Option<String>,
        /// Only this target's generated files.
        #[arg(long)]
        target: Option<String>,
        /// List changed files without their unified diffs.
        #[arg(long)]
        summary: bool,
    },
    /// Create a new workspace from a golden-path profile.
    Init {
        dir: PathBuf,
        #[arg(long, default_value = "tier2_online")]
        profile: String,
    },
}

fn main() -> ExitCode {
    never_purge_memory();
    let cli = Cli::parse();
    match cli.command {
        Command::Check { dir, format, today } => check(&dir, format, today.as_deref()),
        Command::Build {
            dir,
            env,
            target,
            out,
            check,
            today,
        } => {
            let checked = load_and_check(&dir);
            let args = build::BuildArgs {
                env: env.as_deref(),
                target: target.as_deref(),
                out: out.as_deref(),
                check,
                today: today.as_deref(),
            };
            build::build(checked, &args)
        }
        Command::Fmt { dir, check } => fmt(&dir, check),
        Command::Schema { cedar: false } => schema(),
        Command::Schema { cedar: true } => policy::schema(),
        Command::Explain { id, dir } => explain(&id, &dir),
        Command::TestPolicies => policy::test_policies(),
        Command::Graph {
            dir,
            env,
            format,
            out,
        } => graph::run(&dir, env.as_deref(), format, out.as_deref()),
        Command::Lsp => lsp::run(),
        Command::Cost { dir, env, format } => cost::run(&dir, env.as_deref(), format),
        Command::Report {
            dir,
            env,
            out,
            today,
        } => html_report::run(&html_report::ReportArgs {
            dir: &dir,
            env: env.as_deref(),
            out: out.as_deref(),
            today: today.as_deref(),
        }),
        Command::Diff {
            paths,
            base,
            format,
            today,
            env,
            target,
            summary,
        } => diff::run(&diff::DiffArgs {
            paths,
            base,
            format,
            today,
            env,
            target,
            summary,
        }),
        Command::Init { dir, profile } => init::init(&dir, &profile),
    }
}

/// A loaded and checked workspace.
pub struct Checked {
    pub db: Db,
    pub ws: plinth_check::Workspace,
    pub sources: Sources,
    pub diagnostics: Vec<Diagnostic>,
    /// Root, config and load diagnostics; its `files` are empty, moved into the database
    /// (`sources` has the texts), so a large workspace is not held three times.
    pub loaded: workspace::Loaded,
}

impl Checked {
    /// What a policy run reads of the workspace besides its platforms.
    pub fn spec(&self) -> Spec<'_> {
        Spec {
            sources: &self.sources,
            diagnostics: &self.diagnostics,
            loaded: &self.loaded,
        }
    }

    /// Lowers every environment (none when the spec has errors), then drops the
    /// database while `beside` runs on the lowered workspace (the policies: they read
    /// only the platforms). Freeing took ~37 ms of one core at N=5,000 with the other
    /// idle; what the policies allocate reuses the freed memory as it comes back.
    pub fn lowered_beside<T: Send>(
        self,
        beside: impl FnOnce(&mut Lowered) -> T + Send,
    ) -> (Lowered, T) {
        let mut clock = timings::Stopwatch::start();
        let platforms = policy::platforms(&self, policy::Lowering::Owned);
        clock.lap("lower (all environments)");
        let (db, mut lowered) = self.into_parts();
        lowered.platforms = platforms;
        // On a pool thread, which allocated about half of what is freed: mimalloc frees
        // a block of the calling thread's own pages faster (~40 vs ~46 ms).
        let ((), beside) = rayon::join(|| drop(db), || beside(&mut lowered));
        (lowered, beside)
    }

    /// The database, and the rest without platforms.
    pub fn into_parts(self) -> (Db, Lowered) {
        let lowered = Lowered {
            sources: self.sources,
            diagnostics: self.diagnostics,
            loaded: self.loaded,
            platforms: Vec::new(),
        };
        (self.db, lowered)
    }
}

/// A checked workspace after lowering, without the front end's database.
pub struct Lowered {
    pub sources: Sources,
    pub diagnostics: Vec<Diagnostic>,
    pub loaded: workspace::Loaded,
    /// One per environment, owned (not salsa's); none when the spec has errors.
    pub platforms: Vec<std::sync::Arc<plinth_ir::Platform>>,
}

impl Lowered {
    pub fn spec(&self) -> Spec<'_> {
        Spec {
            sources: &self.sources,
            diagnostics: &self.diagnostics,
            loaded: &self.loaded,
        }
    }
}

/// The parts of a checked workspace that reports and the policy run read, borrowed from
/// a [`Checked`] or a [`Lowered`] one.
#[derive(Clone, Copy)]
pub struct Spec<'a> {
    pub sources: &'a Sources,
    pub diagnostics: &'a [Diagnostic],
    pub loaded: &'a workspace::Loaded,
}

pub fn load_and_check(dir: &Path) -> Checked {
    let mut clock = timings::Stopwatch::start();
    let loaded = workspace::load(dir);
    clock.lap("read files");
    check_loaded(loaded)
}

/// Checks a workspace whose files were already read (the language server passes the
/// editor's unsaved texts).
pub fn check_loaded(mut loaded: workspace::Loaded) -> Checked {
    let dir = loaded.root.clone();
    let mut db = Db::default();
    let files = plinth_check::shared(std::mem::take(&mut loaded.files));
    let mut sources: Sources = files.iter().cloned().collect();
    let ws = plinth_check::load(&db, files);
    for (p, t) in plinth_check::STDLIB {
        sources.insert(p.to_string(), (*t).into());
    }
    if let Ok(toml) = std::fs::read_to_string(dir.join("plinth.toml")) {
        sources.insert("plinth.toml".to_string(), toml.into());
    }
    let mut diags = loaded.diagnostics.clone();
    let mut clock = timings::Stopwatch::start();
    plinth_check::prefetch(&db, ws);
    clock.lap("files (parallel)");
    // Nothing after the per-file checks reads a tree: freed now, their memory holds
    // what analysis and lowering allocate next.
    plinth_check::release_trees(&mut db);
    clock.lap("release parse trees");
    // Analysis (for lowering) and the graph's diagnostics (cycles, unused declarations)
    // are independent and each keeps a core busy only part of the time: side by side,
    // the graph on a thread of its own with its own handle on the database. Not on the
    // pool: analysis runs parallel loops, and a pool thread waiting in a query for one
    // may take up another database's query (`plinth diff` checks two workspaces at
    // once), which salsa refuses on a thread already inside a query.
    let graph_db = db.clone();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let _ = plinth_check::db::graph_diagnostics(&graph_db, ws);
        });
        let _ = analysis(&db, ws);
    });
    clock.lap("analysis");
    diags.extend(diagnostics(&db, ws));
    diags.extend(artifacts::check(&db, ws, &loaded.root));
    clock.lap("diagnostics and artifacts");
    Checked {
        db,
        ws,
        sources,
        diagnostics: diags,
        loaded,
    }
}

fn print_diagnostics(diags: &[Diagnostic], sources: &Sources, format: Format) {
    let text = match format {
        Format::Human => render::human(diags, sources, std::io::stderr().is_terminal()),
        Format::Json => render::json(diags, sources),
        Format::Sarif => report::sarif(diags, &[], sources, None),
        Format::Junit => report::junit(diags, &[], sources, None),
    };
    match format {
        Format::Human => eprint!("{text}"),
        Format::Json | Format::Sarif | Format::Junit => print!("{text}"),
    }
}

/// Types, then policies (`policy::check`): exit 0 clean, 1 policy errors, 2 spec errors.
fn check(dir: &Path, format: Format, today: Option<&str>) -> ExitCode {
    policy::check(dir, format, today)
}

fn fmt(dir: &Path, check_only: bool) -> ExitCode {
    let loaded = workspace::load(dir);
    let mut unformatted = Vec::new();
    let mut failed = false;
    for (path, text) in &loaded.files {
        let formatted = match plinth_syntax::format_checked(text) {
            Ok(f) => f,
            Err(plinth_syntax::FormatError::Syntax) => {
                eprintln!("{path}: has syntax errors; run `plinth check` first");
                failed = true;
                continue;
            }
            Err(e @ plinth_syntax::FormatError::ChangesMeaning { span }) => {
                let (line, col) = plinth_syntax::line_col(text, span.start as usize);
                eprintln!("{path}:{line}:{col}: not formatted: {}", e.reason());
                failed = true;
                continue;
            }
        };
        if formatted != *text {
            unformatted.push(path.clone());
            if !check_only && let Err(e) = std::fs::write(dir.join(path), formatted) {
                eprintln!("{path}: cannot write: {e}");
                failed = true;
            }
        }
    }
    for path in &unformatted {
        println!(
            "{}{path}",
            if check_only {
                "would reformat "
            } else {
                "formatted "
            }
        );
    }
    if failed || (check_only && !unformatted.is_empty()) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn schema() -> ExitCode {
    let db = Db::default();
    let ws = plinth_check::load(&db, Vec::new());
    let enums = &analysis(&db, ws).enums;
    let schema = plinth_check::schema::json_schema(enums);
    let text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    ExitCode::SUCCESS
}

/// Every documented diagnostic code: the front end's, the policy engine's and the
/// targets'.
fn all_codes() -> impl Iterator<Item = &'static plinth_syntax::CodeDoc> {
    codes::CODES
        .iter()
        .chain(plinth_policy::codes::CODES.iter())
        .chain(plinth_targets::codes::CODES.iter())
}

fn lookup_code(code: &str) -> Option<&'static plinth_syntax::CodeDoc> {
    all_codes().find(|c| c.code == code)
}

fn explain(id: &str, dir: &Path) -> ExitCode {
    let code = if id.starts_with("plinth::") {
        id.to_string()
    } else {
        format!("plinth::{id}")
    };
    match lookup_code(&code) {
        Some(doc) => {
            println!(
                "{}\n\n{}\n\nWhy: {}\n\nExample:\n    {}\n\nFix: {}",
                doc.code, doc.summary, doc.why, doc.example, doc.fix
            );
            ExitCode::SUCCESS
        }
        None => {
            if let Some(exit) = policy::explain(id, dir).or_else(|| policy::explain(&code, dir)) {
                return exit;
            }
            let suggestion = plinth_check::did_you_mean(&code, all_codes().map(|c| c.code));
            eprintln!(
                "no diagnostic code, policy or declaration `{id}`{}",
                suggestion
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default()
            );
            ExitCode::from(2)
        }
    }
}
