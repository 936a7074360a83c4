//! The evidence target: what an auditor or a platform lead reads, from the spec alone.
//!
//! Files, under `out/<env>/evidence/`:
//!
//! | file | what |
//! |---|---|
//! | `decisions.jsonl` | the policy decision log, one request per line (when policies ran) |
//! | `models/<model>.md` | the model card; for `risk: high` with the EU AI Act Annex IV mapping and its gaps |
//! | `lineage.json`, `lineage.dot` | every model, service and batch job with its upstream sources, feature views and columns; the graph |
//! | `scorecard.json`, `scorecard.md` | readiness figures per team and for the platform ([`scorecard`]) |
//! | `cost.json`, `cost.md` | the monthly cost estimate of the environment ([`cost`]) |
//!
//! It reads the policy verdicts the CLI puts in `Platform::policy` (without them the
//! cards say policies were not evaluated) and prices from its [`cost::PriceTable`]
//! (stdlib defaults, `[prices]` of `plinth.toml`). The decision log
//! `decisions.jsonl` beside these files is written by the CLI in the policy engine's own
//! format.
//! Markdown comes from handlebars templates in `targets/evidence/` whose one escape
//! function is [`escape::markdown`]; the HTML report ([`html`]) uses [`escape::html`].

pub mod card;
pub mod cost;
pub mod escape;
pub mod html;
pub mod lineage;
pub mod scorecard;
#[cfg(test)]
mod tests;

use crate::{Emit, OutputFile, Target};
use handlebars::Handlebars;
use plinth_ir::Platform;
use plinth_syntax::Diagnostic;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

pub const CODE_INTERNAL: &str = "plinth::target::internal";

const MODEL_CARD: &str = include_str!("../../../../targets/evidence/model_card.md.hbs");
const SCORECARD: &str = include_str!("../../../../targets/evidence/scorecard.md.hbs");
const COST: &str = include_str!("../../../../targets/evidence/cost.md.hbs");

/// The evidence target with its price table.
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    pub prices: cost::PriceTable,
}

impl Target for Evidence {
    fn name(&self) -> &'static str {
        "evidence"
    }

    fn emit(&self, platform: &Platform) -> Emit {
        let mut emit = Emit::default();
        match files(platform, &self.prices) {
            Ok(files) => emit.files = files,
            Err(message) => emit.diagnostics.push(
                Diagnostic::error(CODE_INTERNAL, platform.environment.origin.span, message)
                    .with_file(&platform.environment.origin.file),
            ),
        }
        emit.files.sort_by(|a, b| a.path.cmp(&b.path));
        emit
    }
}

/// The Markdown renderer: strict, every value through [`escape::markdown`].
pub fn markdown_renderer() -> Result<Handlebars<'static>, String> {
    let mut hbs = Handlebars::new();
    hbs.set_strict_mode(true);
    hbs.register_escape_fn(escape::markdown);
    for (name, text) in [
        ("model_card", MODEL_CARD),
        ("scorecard", SCORECARD),
        ("cost", COST),
    ] {
        hbs.register_template_string(name, text)
            .map_err(|e| format!("the evidence template `{name}` does not compile: {e}"))?;
    }
    Ok(hbs)
}

fn json<T: Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string_pretty(value)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| format!("cannot serialize evidence: {e}"))
}

fn file(path: impl Into<String>, contents: String) -> OutputFile {
    OutputFile {
        path: path.into(),
        contents,
    }
}

/// Every model's card, rendered.
pub fn model_cards(
    hbs: &Handlebars<'_>,
    platform: &Platform,
    lineage: &lineage::Lineage,
) -> Result<Vec<(String, String)>, String> {
    let index = card::Index::new(platform, &platform.policy);
    // Cards are independent: render them on all cores; `collect` keeps model order.
    // Results are collected first so that a failure reports the first model in order,
    // not whichever thread failed first.
    let models: Vec<&plinth_ir::Model> = platform.models.values().collect();
    let cards: Vec<Result<(String, String), String>> = models
        .par_iter()
        .map(|m| {
            let c = card::card(
                platform,
                m,
                lineage.models.get(&m.name),
                &platform.policy,
                &index,
            );
            hbs.render("model_card", &c)
                .map(|text| (m.name.clone(), text))
                .map_err(|e| format!("cannot render the model card of `{}`: {e}", m.name))
        })
        .collect();
    cards.into_iter().collect()
}

fn files(platform: &Platform, prices: &cost::PriceTable) -> Result<Vec<OutputFile>, String> {
    let hbs = markdown_renderer()?;
    let mut out = Vec::new();
    let lin = lineage::lineage(platform);
    for (name, text) in model_cards(&hbs, platform, &lin)? {
        out.push(file(format!("models/{name}.md"), text));
    }
    out.push(file("lineage.json", json(&lin)?));
    out.push(file("lineage.dot", lineage::dot(&lin)));
    let score = scorecard::scorecard(platform, &platform.policy);
    out.push(file("scorecard.json", json(&score)?));
    out.push(file("scorecard.md", scorecard_markdown(&hbs, &score)?));
    let estimate = cost::estimate(&[platform], prices);
    out.push(file("cost.json", json(&estimate.rounded())?));
    out.push(file(
        "cost.md",
        cost_markdown(&hbs, &estimate, Some(&platform.environment.name))?,
    ));
    Ok(out)
}

pub fn scorecard_markdown(
    hbs: &Handlebars<'_>,
    score: &scorecard::Scorecard,
) -> Result<String, String> {
    let view = serde_json::json!({
        "environment": score.environment,
        "policy_evaluated": score.policy_date.is_some(),
        "rows": scorecard::rows(score),
        "gaps": scorecard::gaps(score),
    });
    hbs.render("scorecard", &view)
        .map_err(|e| format!("cannot render the scorecard: {e}"))
}

/// The cost table as Markdown; `environment` names the one environment it covers.
pub fn cost_markdown(
    hbs: &Handlebars<'_>,
    report: &cost::CostReport,
    environment: Option<&str>,
) -> Result<String, String> {
    hbs.render("cost", &cost_view(report, environment))
        .map_err(|e| format!("cannot render the cost estimate: {e}"))
}

/// The template values of a cost report: money as text, bar widths in percent.
pub fn cost_view(report: &cost::CostReport, environment: Option<&str>) -> serde_json::Value {
    use cost::money;
    let prices = &report.prices;
    let widest = report
        .by_team
        .values()
        .map(|t| t.monthly_max)
        .fold(0.0, f64::max);
    let bar = |x: f64| {
        if widest > 0.0 {
            format!("{:.1}", x / widest * 100.0)
        } else {
            "0".to_string()
        }
    };
    // The cost center of a team's first item, looked up once per team (a scan of all
    // items per team is quadratic: 5,000 teams × 15,000 items).
    let mut first_cc: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for i in &report.items {
        first_cc
            .entry(i.team.as_str())
            .or_insert(i.cost_center.as_deref());
    }
    let team_cc = |team: &str| {
        first_cc
            .get(team)
            .copied()
            .flatten()
            .unwrap_or("(none)")
            .to_string()
    };
    serde_json::json!({
        "environment": environment,
        "currency": prices.currency,
        "vcpu_hour": prices.vcpu_hour.to_string(),
        "gib_hour": prices.gib_hour.to_string(),
        "accelerators": prices.accelerator_hour.iter().map(|(k, v)| format!("{v} ({k})")).collect::<Vec<_>>().join(", "),
        "training_run_hours": prices.training_run_hours.to_string(),
        "batch_run_hours": prices.batch_run_hours.to_string(),
        "materialization_run_minutes": prices.materialization_run_minutes.to_string(),
        "teams": report.by_team.iter().map(|(name, t)| serde_json::json!({
            "name": name,
            "cost_center": team_cc(name),
            "min": money(t.monthly_min),
            "max": money(t.monthly_max),
            "bar_min": bar(t.monthly_min),
            "bar_max": bar(t.monthly_max),
        })).collect::<Vec<_>>(),
        "environments": report.by_environment.iter().map(|(name, t)| serde_json::json!({
            "name": name, "min": money(t.monthly_min), "max": money(t.monthly_max),
        })).collect::<Vec<_>>(),
        "cost_centers": report.by_cost_center.iter().map(|(name, t)| serde_json::json!({
            "name": name, "min": money(t.monthly_min), "max": money(t.monthly_max),
        })).collect::<Vec<_>>(),
        "items": report.items.iter().map(|i| serde_json::json!({
            "environment": i.environment,
            "kind": i.kind,
            "name": i.name,
            "team": i.team,
            "basis": i.basis,
            "min": money(i.monthly_min),
            "max": money(i.monthly_max),
        })).collect::<Vec<_>>(),
        "total_min": money(report.total.monthly_min),
        "total_max": money(report.total.monthly_max),
        "notes": report.notes,
    })
}
