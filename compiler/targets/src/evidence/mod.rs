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
//! The model card template is rendered once per shape of card and each card spliced
//! into it (`crate::skeleton`, [`card::Card::shape`]); [`model_cards_by_template`] is
//! the plain rendering the tests compare it with.

pub mod card;
pub mod cost;
pub mod escape;
pub mod html;
pub mod lineage;
pub mod scorecard;
#[cfg(test)]
mod tests;

use crate::skeleton::{Fragments, Skeletons, marker};
use crate::{Collect, Emit, FileSink, Target};
use handlebars::Handlebars;
use plinth_ir::Platform;
use plinth_syntax::Diagnostic;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io;
use std::sync::{Mutex, PoisonError};

pub const CODE_INTERNAL: &str = "plinth::target::internal";

const MODEL_CARD: &str = include_str!("../../../../targets/evidence/model_card.md.hbs");
const ANNEX_GAPS: &str = include_str!("../../../../targets/evidence/annex_gaps.md.hbs");
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

    fn policy_results(&self) -> crate::PolicyResults {
        crate::PolicyResults {
            verdicts: true,
            grants: false,
            decision_log: true,
        }
    }

    fn emit(&self, platform: &Platform) -> Emit {
        Collect::emit(self, platform, CODE_INTERNAL)
    }

    fn emit_to(&self, platform: &Platform, sink: &dyn FileSink) -> io::Result<Vec<Diagnostic>> {
        match write_files(platform, &self.prices, sink) {
            Ok(()) => Ok(Vec::new()),
            Err(Failure::Io(e)) => Err(e),
            Err(Failure::Render(message)) => Ok(vec![internal(platform, message)]),
        }
    }
}

fn internal(platform: &Platform, message: String) -> Diagnostic {
    Diagnostic::error(CODE_INTERNAL, platform.environment.origin.span, message)
        .with_file(&platform.environment.origin.file)
}

/// Why writing the evidence stopped: the sink failed, or something could not be
/// rendered (a diagnostic).
enum Failure {
    Io(io::Error),
    Render(String),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Render(message)
    }
}

/// The Markdown renderer: strict, every value through [`escape::markdown`].
pub fn markdown_renderer() -> Result<Handlebars<'static>, String> {
    let mut hbs = Handlebars::new();
    hbs.set_strict_mode(true);
    hbs.register_escape_fn(escape::markdown);
    for (name, text) in [
        ("model_card", MODEL_CARD),
        ("annex_gaps", ANNEX_GAPS),
        ("scorecard", SCORECARD),
        ("cost", COST),
    ] {
        hbs.register_template_string(name, text)
            .map_err(|e| format!("the evidence template `{name}` does not compile: {e}"))?;
    }
    Ok(hbs)
}

/// Pretty JSON with a final newline, serialized from the typed value straight into
/// `buf` (cleared first).
fn json_into<T: Serialize>(value: &T, buf: &mut Vec<u8>) -> Result<(), String> {
    buf.clear();
    serde_json::to_writer_pretty(&mut *buf, value)
        .map_err(|e| format!("cannot serialize evidence: {e}"))?;
    buf.push(b'\n');
    Ok(())
}

/// Renders template `name` with `view` into `buf` (cleared first), so one buffer serves
/// many renderings.
fn render_into<T: Serialize>(
    hbs: &Handlebars<'_>,
    name: &str,
    view: &T,
    buf: &mut Vec<u8>,
) -> Result<(), handlebars::RenderError> {
    buf.clear();
    hbs.render_to_write(name, view, &mut *buf)
}

/// What a buffer filled by [`json_into`] or [`render_into`] holds, as text.
fn text(buf: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(buf).map_err(|e| format!("rendered evidence is not UTF-8: {e}"))
}

/// The template values of the Annex IV items a spec cannot answer.
#[derive(Serialize)]
struct GapsView<'v, 'a> {
    gaps: &'v [card::AnnexGap<'a>],
}

/// Each distinct list of Annex IV gaps rendered once (template `annex_gaps`), shared by
/// the workers of one platform: most high-risk cards end with the same list. Keyed by
/// the whole list, so a card gets exactly what rendering its own list would give.
#[derive(Default)]
struct GapLists<'a>(Mutex<BTreeMap<Vec<card::AnnexGap<'a>>, String>>);

impl<'a> GapLists<'a> {
    /// Appends the rendering of `gaps` to `out`.
    fn append(
        &self,
        hbs: &Handlebars<'_>,
        gaps: &[card::AnnexGap<'a>],
        out: &mut String,
    ) -> Result<(), String> {
        let mut lists = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(text) = lists.get(gaps) {
            out.push_str(text);
            return Ok(());
        }
        let text = render_gaps(hbs, gaps)?;
        out.push_str(&text);
        lists.insert(gaps.to_vec(), text);
        Ok(())
    }
}

/// The list of Annex IV items the spec cannot answer, as the card's end.
fn render_gaps(hbs: &Handlebars<'_>, gaps: &[card::AnnexGap<'_>]) -> Result<String, String> {
    hbs.render("annex_gaps", &GapsView { gaps })
        .map_err(|e| format!("cannot render the Annex IV gaps: {e}"))
}

/// The model card template rendered with markers for `card`'s values (which become the
/// markers): the skeleton of `card`'s shape, and how many values it has.
fn card_skeleton(
    hbs: &Handlebars<'_>,
    card: &mut card::Card<'_>,
) -> Result<(String, usize), String> {
    let mut count = 0;
    card.each_fragment(&mut |value| {
        *value = card::Text::from(marker(count));
        count += 1;
    });
    let rendered = hbs
        .render("model_card", card)
        .map_err(|e| format!("cannot render the model card template: {e}"))?;
    Ok((rendered, count))
}

/// What one platform's cards share: the renderer, the lookups, the rendered parts.
struct Cards<'h, 'a> {
    hbs: &'h Handlebars<'h>,
    platform: &'a Platform,
    lineage: &'a lineage::Lineage,
    index: card::Index<'a>,
    skeletons: Skeletons,
    gap_lists: GapLists<'a>,
}

/// A worker's buffers, reused for each card it renders.
#[derive(Default)]
struct Scratch {
    shape: Vec<u32>,
    /// The card's values, escaped.
    fragments: Fragments,
    out: String,
}

impl<'h, 'a> Cards<'h, 'a> {
    fn new(hbs: &'h Handlebars<'h>, platform: &'a Platform, lineage: &'a lineage::Lineage) -> Self {
        Cards {
            hbs,
            platform,
            lineage,
            index: card::Index::new(platform, &platform.policy),
            skeletons: Skeletons::default(),
            gap_lists: GapLists::default(),
        }
    }

    fn card(&self, m: &'a plinth_ir::Model) -> card::Card<'a> {
        card::card(
            self.platform,
            m,
            self.lineage.models.get(&m.name),
            &self.platform.policy,
            &self.index,
        )
    }

    /// The card of model `m` in `scratch.out`: its shape's skeleton with its fragments
    /// spliced in, then its Annex IV gap list.
    fn render(&self, m: &'a plinth_ir::Model, scratch: &mut Scratch) -> Result<(), String> {
        let mut c = self.card(m);
        scratch.shape.clear();
        c.shape(&mut scratch.shape);
        let fragments = &mut scratch.fragments;
        fragments.clear();
        c.each_fragment(&mut |value| {
            fragments.push_with(|buf| escape::markdown_into(value, buf));
        });
        let skeleton = self
            .skeletons
            .get(&scratch.shape, || card_skeleton(self.hbs, &mut c))
            .map_err(|e| format!("cannot render the model card of `{}`: {e}", m.name))?;
        scratch.out.clear();
        skeleton.fill(|i| scratch.fragments.get(i), &mut scratch.out)?;
        match &c.annex {
            Some(annex) => self
                .gap_lists
                .append(self.hbs, &annex.gaps, &mut scratch.out),
            None => Ok(()),
        }
    }

    /// The card of model `m` as plain handlebars renders it, without skeletons or
    /// cached gap lists: what [`Cards::render`] must write.
    fn render_by_template(&self, m: &'a plinth_ir::Model) -> Result<String, String> {
        let c = self.card(m);
        let mut out = self
            .hbs
            .render("model_card", &c)
            .map_err(|e| format!("cannot render the model card of `{}`: {e}", m.name))?;
        if let Some(annex) = &c.annex {
            out.push_str(&render_gaps(self.hbs, &annex.gaps)?);
        }
        Ok(out)
    }
}

/// Renders every model's card on all cores, each into a buffer its worker reuses, and
/// hands each to `each` as soon as it is rendered. A render failure reports the first
/// model in order, not whichever thread failed first; a failure of `each` stops at once.
fn for_each_card<E: Send>(
    hbs: &Handlebars<'_>,
    platform: &Platform,
    lineage: &lineage::Lineage,
    each: impl Fn(&plinth_ir::Model, &str) -> Result<(), E> + Sync,
) -> Result<Result<(), String>, E> {
    let cards = Cards::new(hbs, platform, lineage);
    let models: Vec<&plinth_ir::Model> = platform.models.values().map(AsRef::as_ref).collect();
    let rendered: Vec<Result<(), String>> = models
        .par_iter()
        .map_init(Scratch::default, |scratch, m| {
            match cards.render(m, scratch) {
                Ok(()) => each(m, &scratch.out).map(Ok),
                Err(message) => Ok(Err(message)),
            }
        })
        .collect::<Result<_, E>>()?;
    Ok(rendered.into_iter().collect())
}

/// Every model's card as plain handlebars renders it, in model order: the reference
/// that the spliced cards ([`model_cards`], the files `plinth build` writes) are tested
/// against.
pub fn model_cards_by_template(
    hbs: &Handlebars<'_>,
    platform: &Platform,
    lineage: &lineage::Lineage,
) -> Result<Vec<(String, String)>, String> {
    let cards = Cards::new(hbs, platform, lineage);
    platform
        .models
        .values()
        .map(|m| Ok((m.name.clone(), cards.render_by_template(m)?)))
        .collect()
}

/// Every model's card, rendered, in model order (for the HTML report).
pub fn model_cards(
    hbs: &Handlebars<'_>,
    platform: &Platform,
    lineage: &lineage::Lineage,
) -> Result<Vec<(String, String)>, String> {
    let cards = Collect::default();
    match for_each_card(hbs, platform, lineage, |m, card| cards.write(&m.name, card)) {
        Ok(rendered) => rendered?,
        Err(e) => return Err(format!("cannot collect the model cards: {e}")),
    }
    // Sorted by path, which is the model name: model order.
    Ok(cards
        .into_files()
        .into_iter()
        .map(|f| (f.path, f.contents))
        .collect())
}

/// Writes every evidence file into `sink`: the cards as they are rendered (never all in
/// memory), and beside them the environment-wide files, each from one reused buffer
/// (they wait for nothing the cards make; on the cards' workers they would run alone
/// after the last card). A failure of the cards is reported before one of the others.
fn write_files(
    platform: &Platform,
    prices: &cost::PriceTable,
    sink: &dyn FileSink,
) -> Result<(), Failure> {
    let hbs = markdown_renderer()?;
    let lin = lineage::lineage(platform);
    let (cards, others) = rayon::join(
        || {
            for_each_card(&hbs, platform, &lin, |m, card| {
                sink.write(&format!("models/{}.md", m.name), card)
            })
        },
        || write_environment_files(&hbs, platform, &lin, prices, sink),
    );
    cards??;
    others
}

/// The files of the whole environment: lineage, scorecard, cost.
fn write_environment_files(
    hbs: &Handlebars<'_>,
    platform: &Platform,
    lin: &lineage::Lineage,
    prices: &cost::PriceTable,
    sink: &dyn FileSink,
) -> Result<(), Failure> {
    let mut buf = Vec::with_capacity(1 << 20);
    json_into(lin, &mut buf)?;
    sink.write("lineage.json", text(&buf)?)?;
    sink.write("lineage.dot", &lineage::dot(lin))?;
    let score = scorecard::scorecard(platform, &platform.policy);
    json_into(&score, &mut buf)?;
    sink.write("scorecard.json", text(&buf)?)?;
    render_into(hbs, "scorecard", &scorecard_view(&score), &mut buf)
        .map_err(|e| format!("cannot render the scorecard: {e}"))?;
    sink.write("scorecard.md", text(&buf)?)?;
    drop(score);
    let estimate = cost::estimate(&[platform], prices);
    json_into(&estimate.rounded(), &mut buf)?;
    sink.write("cost.json", text(&buf)?)?;
    render_into(
        hbs,
        "cost",
        &cost_view(&estimate, Some(&platform.environment.name)),
        &mut buf,
    )
    .map_err(|e| format!("cannot render the cost estimate: {e}"))?;
    sink.write("cost.md", text(&buf)?)?;
    Ok(())
}

/// The template values of the scorecard.
#[derive(Serialize)]
struct ScorecardView<'a> {
    environment: &'a str,
    policy_evaluated: bool,
    rows: Vec<scorecard::Row>,
    gaps: Vec<scorecard::Gap>,
}

fn scorecard_view(score: &scorecard::Scorecard) -> ScorecardView<'_> {
    ScorecardView {
        environment: &score.environment,
        policy_evaluated: score.policy_date.is_some(),
        rows: scorecard::rows(score),
        gaps: scorecard::gaps(score),
    }
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

/// A sum in the cost table, as text.
#[derive(Serialize)]
pub struct CostRow<'a> {
    name: &'a str,
    min: String,
    max: String,
}

/// A team's row: its cost center and bar widths besides the sums.
#[derive(Serialize)]
pub struct CostTeamRow<'a> {
    name: &'a str,
    cost_center: &'a str,
    min: String,
    max: String,
    bar_min: String,
    bar_max: String,
}

#[derive(Serialize)]
pub struct CostItemRow<'a> {
    environment: &'a str,
    kind: &'static str,
    name: &'a str,
    team: &'a str,
    basis: &'a str,
    min: String,
    max: String,
}

/// The template values of a cost report: money as text, bar widths in percent.
#[derive(Serialize)]
pub struct CostView<'a> {
    environment: Option<&'a str>,
    currency: &'a str,
    vcpu_hour: String,
    gib_hour: String,
    accelerators: String,
    training_run_hours: String,
    batch_run_hours: String,
    materialization_run_minutes: String,
    teams: Vec<CostTeamRow<'a>>,
    environments: Vec<CostRow<'a>>,
    cost_centers: Vec<CostRow<'a>>,
    items: Vec<CostItemRow<'a>>,
    total_min: String,
    total_max: String,
    notes: &'a [String],
}

/// The template values of a cost report.
pub fn cost_view<'a>(report: &'a cost::CostReport, environment: Option<&'a str>) -> CostView<'a> {
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
    // items per team is quadratic: 5,000 teams × 15,500 items).
    let mut first_cc: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for i in &report.items {
        first_cc
            .entry(i.team.as_str())
            .or_insert(i.cost_center.as_deref());
    }
    let sums = |totals: &'a BTreeMap<String, cost::CostTotal>| {
        totals
            .iter()
            .map(|(name, t)| CostRow {
                name,
                min: money(t.monthly_min),
                max: money(t.monthly_max),
            })
            .collect()
    };
    CostView {
        environment,
        currency: &prices.currency,
        vcpu_hour: prices.vcpu_hour.to_string(),
        gib_hour: prices.gib_hour.to_string(),
        accelerators: prices
            .accelerator_hour
            .iter()
            .map(|(k, v)| format!("{v} ({k})"))
            .collect::<Vec<_>>()
            .join(", "),
        training_run_hours: prices.training_run_hours.to_string(),
        batch_run_hours: prices.batch_run_hours.to_string(),
        materialization_run_minutes: prices.materialization_run_minutes.to_string(),
        teams: report
            .by_team
            .iter()
            .map(|(name, t)| CostTeamRow {
                name,
                cost_center: first_cc
                    .get(name.as_str())
                    .copied()
                    .flatten()
                    .unwrap_or("(none)"),
                min: money(t.monthly_min),
                max: money(t.monthly_max),
                bar_min: bar(t.monthly_min),
                bar_max: bar(t.monthly_max),
            })
            .collect(),
        environments: sums(&report.by_environment),
        cost_centers: sums(&report.by_cost_center),
        items: report
            .items
            .iter()
            .map(|i| CostItemRow {
                environment: &i.environment,
                kind: i.kind,
                name: &i.name,
                team: &i.team,
                basis: &i.basis,
                min: money(i.monthly_min),
                max: money(i.monthly_max),
            })
            .collect(),
        total_min: money(report.total.monthly_min),
        total_max: money(report.total.monthly_max),
        notes: &report.notes,
    }
}
