//! `plinth cost [DIR] [--env E] [--format human|json|markdown]`: the monthly cost
//! estimate of every environment (or one), per item and summed per team, environment and
//! cost center. The arithmetic and its assumptions live in
//! `plinth_targets::evidence::cost`; this file reads the price overrides of
//! `plinth.toml` and prints.

use crate::{Checked, Format, load_and_check, print_diagnostics};
use clap::ValueEnum;
use plinth_check::{EnvName, platform};
use plinth_ir::{Platform, PolicySummary};
use plinth_syntax::{Diagnostic, Span};
use plinth_targets::evidence::cost::{self, CostReport, PriceTable, money};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CostFormat {
    Human,
    Json,
    Markdown,
}

/// The stdlib price table with `[prices]` of `plinth.toml` applied.
pub fn price_table(spec: crate::Spec<'_>) -> Result<PriceTable, Box<Diagnostic>> {
    PriceTable::with_overrides(&spec.loaded.config.prices).map_err(|message| {
        let span = spec
            .sources
            .get("plinth.toml")
            .and_then(|t| t.find("[prices"))
            .map_or(Span::default(), |i| Span::new(i, i + "[prices]".len()));
        Box::new(
            Diagnostic::error("plinth::workspace::config", span, message)
                .with_file("plinth.toml")
                .with_help(
                    "prices are amounts per hour in the table's currency, e.g. `vcpu_hour = 0.04`",
                ),
        )
    })
}

/// The platform carrying its environment's policy verdicts (`Platform::policy`).
pub fn with_policy(platform: Arc<Platform>, summary: Option<PolicySummary>) -> Arc<Platform> {
    match summary {
        Some(s) => {
            // Copies the platform only when it is shared (salsa's, for `report`);
            // `build`'s own platforms are changed in place.
            let mut platform = platform;
            Arc::make_mut(&mut platform).policy = s;
            platform
        }
        None => platform,
    }
}

/// The environments named by `--env` (or all), or the diagnostic for an unknown name.
pub fn environments(checked: &Checked, env: Option<&str>) -> Result<Vec<String>, Box<Diagnostic>> {
    let analysis = plinth_check::db::analysis(&checked.db, checked.ws);
    let all: Vec<String> = analysis
        .of_kind("environment")
        .map(|d| d.name.clone())
        .collect();
    match env {
        None => Ok(all),
        Some(e) if all.iter().any(|x| x == e) => Ok(vec![e.to_string()]),
        Some(e) => {
            let suggestion = plinth_check::did_you_mean(e, all.iter().map(String::as_str));
            Err(Box::new(
                Diagnostic::error(
                    "plinth::workspace::environment",
                    Span::default(),
                    format!("no environment named `{e}`"),
                )
                .with_help(
                    suggestion.map_or(format!("environments: {}", all.join(", ")), |s| {
                        format!("did you mean `{s}`?")
                    }),
                ),
            ))
        }
    }
}

pub fn lower(checked: &Checked, envs: &[String]) -> Vec<Arc<Platform>> {
    envs.iter()
        .filter_map(|e| {
            let name = EnvName::new(&checked.db, e.clone());
            platform(&checked.db, checked.ws, name).clone()
        })
        .collect()
}

/// A checked workspace and its price table, or the exit code after printing why not
/// (spec errors, a bad `[prices]` table).
pub fn load_priced(dir: &Path) -> Result<(Checked, PriceTable), ExitCode> {
    let checked = load_and_check(dir);
    if checked.diagnostics.iter().any(Diagnostic::is_error) {
        print_diagnostics(&checked.diagnostics, &checked.sources, Format::Human);
        return Err(ExitCode::from(2));
    }
    match price_table(checked.spec()) {
        Ok(p) => Ok((checked, p)),
        Err(d) => {
            print_diagnostics(&[*d], &checked.sources, Format::Human);
            Err(ExitCode::from(2))
        }
    }
}

pub fn run(dir: &Path, env: Option<&str>, format: CostFormat) -> ExitCode {
    let (checked, prices) = match load_priced(dir) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let envs = match environments(&checked, env) {
        Ok(e) => e,
        Err(d) => {
            print_diagnostics(&[*d], &checked.sources, Format::Human);
            return ExitCode::from(2);
        }
    };
    let platforms = lower(&checked, &envs);
    let refs: Vec<&Platform> = platforms.iter().map(AsRef::as_ref).collect();
    let report = cost::estimate(&refs, &prices);
    let text = match format {
        CostFormat::Human => human(&report, &envs),
        CostFormat::Json => {
            serde_json::to_string_pretty(&report.rounded()).unwrap_or_default() + "\n"
        }
        CostFormat::Markdown => {
            let one = (envs.len() == 1)
                .then(|| envs.first().map(String::as_str))
                .flatten();
            match plinth_targets::evidence::markdown_renderer()
                .and_then(|hbs| plinth_targets::evidence::cost_markdown(&hbs, &report, one))
            {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    print!("{text}");
    std::mem::forget(checked);
    ExitCode::SUCCESS
}

/// Spec strings with control characters shown escaped, so they cannot move the cursor.
fn printable(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>], numeric: std::ops::Range<usize>) {
    let width = |i: usize| {
        rows.iter()
            .filter_map(|r| r.get(i))
            .map(|c| c.chars().count())
            .chain(header.get(i).map(|h| h.chars().count()))
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let w = widths.get(i).copied().unwrap_or(0);
                if numeric.contains(&i) {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    out.push_str(&line(header.iter().map(|h| h.to_string()).collect()));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.clone()));
        out.push('\n');
    }
}

fn human(report: &CostReport, envs: &[String]) -> String {
    let p = &report.prices;
    let mut out = format!(
        "Monthly cost estimate ({}), environments: {}\n\n",
        printable(&p.currency),
        envs.join(", ")
    );
    let cc = |team: &str| {
        report
            .items
            .iter()
            .find(|i| i.team == team)
            .and_then(|i| i.cost_center.as_deref())
            .map_or_else(|| "(none)".to_string(), printable)
    };
    let mut rows: Vec<Vec<String>> = report
        .by_team
        .iter()
        .map(|(t, c)| vec![t.clone(), cc(t), money(c.monthly_min), money(c.monthly_max)])
        .collect();
    rows.push(vec![
        "TOTAL".to_string(),
        String::new(),
        money(report.total.monthly_min),
        money(report.total.monthly_max),
    ]);
    table(
        &mut out,
        &["TEAM", "COST CENTER", "MIN/MONTH", "MAX/MONTH"],
        &rows,
        2..4,
    );
    out.push('\n');
    let rows: Vec<Vec<String>> = report
        .by_environment
        .iter()
        .map(|(e, c)| vec![e.clone(), money(c.monthly_min), money(c.monthly_max)])
        .collect();
    table(
        &mut out,
        &["ENVIRONMENT", "MIN/MONTH", "MAX/MONTH"],
        &rows,
        1..3,
    );
    out.push('\n');
    let rows: Vec<Vec<String>> = report
        .by_cost_center
        .iter()
        .map(|(e, c)| vec![printable(e), money(c.monthly_min), money(c.monthly_max)])
        .collect();
    table(
        &mut out,
        &["COST CENTER", "MIN/MONTH", "MAX/MONTH"],
        &rows,
        1..3,
    );
    out.push('\n');
    let rows: Vec<Vec<String>> = report
        .items
        .iter()
        .map(|i| {
            vec![
                i.environment.clone(),
                i.kind.to_string(),
                i.name.clone(),
                i.team.clone(),
                money(i.monthly_min),
                money(i.monthly_max),
                i.basis.clone(),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            "ENV",
            "KIND",
            "NAME",
            "TEAM",
            "MIN/MONTH",
            "MAX/MONTH",
            "BASIS",
        ],
        &rows,
        4..6,
    );
    out.push_str(&format!(
        "\nPrices per hour: vCPU {}, GiB {}, accelerators {}. Services run {} h a month; \
         scheduled work runs its cron's runs per month × {} h (training), {} h (batch), \
         {} min (materialization). Override under [prices] in plinth.toml.\n",
        p.vcpu_hour,
        p.gib_hour,
        p.accelerator_hour
            .iter()
            .map(|(k, v)| format!("{} {v}", printable(k)))
            .collect::<Vec<_>>()
            .join(", "),
        cost::HOURS_PER_MONTH,
        p.training_run_hours,
        p.batch_run_hours,
        p.materialization_run_minutes
    ));
    for n in &report.notes {
        out.push_str(&format!("note: {}\n", printable(n)));
    }
    out
}
