//! `plinth report`: the evidence of one environment as one self-contained HTML page
//! (inline CSS and SVG, no script, nothing fetched): the lineage graph, the scorecard,
//! the cost table with a bar chart, violations and waivers, and every model card.
//!
//! This is the one place HTML escaping is right: the template's escape function is
//! [`escape::html`]. The graph is markup we build (our SVG renderer, or graphviz's from
//! our escaped DOT); it is put in after rendering at a marker no escaped value can
//! contain (`<` is always `&lt;` in a value), so the template has no `{{{ }}}`.

use super::{card, cost, escape, lineage, scorecard};
use handlebars::Handlebars;
use plinth_ir::Platform;
use serde::Serialize;

const TEMPLATE: &str = include_str!("../../../../targets/evidence/report.html.hbs");
const GRAPH_MARKER: &str = "<!--plinth:graph-->";

#[derive(Serialize)]
struct ModelEntry {
    name: String,
    risk: String,
    high_risk: bool,
    owner: String,
    purpose: Option<String>,
    classification: String,
    card_path: String,
    card_markdown: String,
    findings: usize,
    annex_gaps: usize,
}

#[derive(Serialize)]
struct FindingRow {
    policy: String,
    severity: String,
    on: String,
    status: String,
    blocks: bool,
    message: String,
    help: String,
}

#[derive(Serialize)]
struct WaiverRow {
    name: String,
    policy: String,
    targets: String,
    reason: String,
    approved_by: String,
    expires: String,
    days_left: String,
    expiring: bool,
}

/// The page for `platform`. `graph_svg` is graphviz's drawing of [`lineage::dot`] when
/// the caller could run it; otherwise the built-in drawing is used.
pub fn report(
    platform: &Platform,
    prices: &cost::PriceTable,
    graph_svg: Option<String>,
) -> Result<String, String> {
    let md = super::markdown_renderer()?;
    let lin = lineage::lineage(platform);
    let mut cards: std::collections::BTreeMap<String, String> =
        super::model_cards(&md, platform, &lin)?
            .into_iter()
            .collect();
    let policy = &platform.policy;
    let index = card::Index::new(platform, policy);
    let models: Vec<ModelEntry> = platform
        .models
        .values()
        .map(|m| {
            let c = card::card(platform, m, lin.models.get(&m.name), policy, &index);
            ModelEntry {
                name: m.name.clone(),
                risk: m.risk.name.clone(),
                high_risk: c.high_risk,
                owner: m.owner.clone(),
                purpose: m.purpose.clone(),
                classification: m.data_classification.name.clone(),
                card_path: format!("evidence/models/{}.md", m.name),
                card_markdown: cards.remove(&m.name).unwrap_or_default(),
                findings: c.findings.len(),
                annex_gaps: c.annex.as_ref().map_or(0, |a| a.gaps.len()),
            }
        })
        .collect();
    let score = scorecard::scorecard(platform, policy);
    let estimate = cost::estimate(&[platform], prices);
    let findings: Vec<FindingRow> = policy
        .findings
        .iter()
        .map(|f| FindingRow {
            policy: f.policy.clone(),
            severity: f.severity.to_string(),
            on: format!("{} {}", card::kind_word(&f.kind), f.name),
            status: match &f.waiver {
                Some(w) => format!("waived by {w}"),
                None if f.severity == "error" => "violation".to_string(),
                None => "warning".to_string(),
            },
            blocks: f.blocks(),
            message: f.message.clone(),
            help: f.help.clone(),
        })
        .collect();
    let waivers: Vec<WaiverRow> = scorecard::waivers_in_force(platform, policy)
        .into_iter()
        .map(|(w, left)| WaiverRow {
            name: w.name.clone(),
            policy: w.policy.clone(),
            targets: w.targets.join(", "),
            reason: w.reason.clone(),
            approved_by: w.approved_by.clone(),
            expires: w.expires.to_string(),
            days_left: left.map_or_else(|| "unknown".to_string(), |d| format!("{d} days")),
            expiring: left.is_some_and(|d| d <= scorecard::EXPIRING_DAYS),
        })
        .collect();
    let env = &platform.environment;
    let view = serde_json::json!({
        "environment": env.name,
        "tier": env.tier,
        "region": env.region,
        "policy_date": policy.today.map(|d| d.to_string()),
        "models": models,
        "scorecard": scorecard::rows(&score),
        "scorecard_gaps": scorecard::gaps(&score),
        "cost": super::cost_view(&estimate, Some(&env.name)),
        "findings": findings,
        "violations": policy.findings.iter().filter(|f| f.blocks()).count(),
        "warnings": policy.findings.iter().filter(|f| f.waiver.is_none() && f.severity == "warning").count(),
        "waived": policy.findings.iter().filter(|f| f.waiver.is_some()).count(),
        "waivers": waivers,
        "nodes": lin.nodes.len(),
        "edges": lin.edges.len(),
    });
    let mut hbs = Handlebars::new();
    hbs.set_strict_mode(true);
    hbs.register_escape_fn(escape::html);
    hbs.register_template_string("report", TEMPLATE)
        .map_err(|e| format!("the report template does not compile: {e}"))?;
    let page = hbs
        .render("report", &view)
        .map_err(|e| format!("cannot render the report: {e}"))?;
    let svg = graph_svg.unwrap_or_else(|| lineage::svg(&lin));
    if !page.contains(GRAPH_MARKER) {
        return Err("the report template has no graph marker".to_string());
    }
    Ok(page.replacen(GRAPH_MARKER, &svg, 1))
}

/// Graphviz's SVG made fit to inline: the XML prolog, doctype and comments before the
/// `<svg>` element dropped. `None` when it holds no `<svg` element or anything active
/// (`<script`, `<foreignObject`, event handlers).
pub fn inline_svg(graphviz: &str) -> Option<String> {
    let start = graphviz.find("<svg")?;
    let body = graphviz.get(start..)?;
    let lower = body.to_ascii_lowercase();
    if lower.contains("<script") || lower.contains("<foreignobject") || has_event_handler(&lower) {
        return None;
    }
    Some(body.trim_end().to_string() + "\n")
}

/// Whether some attribute looks like an event handler: whitespace, `on`, letters, `=`.
fn has_event_handler(markup: &str) -> bool {
    markup.match_indices("on").any(|(i, _)| {
        let before = markup.get(..i).and_then(|b| b.chars().last());
        let after = markup.get(i + 2..).unwrap_or("");
        let name_len = after.chars().take_while(char::is_ascii_alphabetic).count();
        before.is_some_and(char::is_whitespace)
            && name_len > 0
            && after
                .get(name_len..)
                .is_some_and(|r| r.trim_start().starts_with('='))
    })
}
