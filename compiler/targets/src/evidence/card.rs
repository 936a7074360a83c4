//! The view model of a model card, and for `risk: high` the EU AI Act Annex IV mapping:
//! each technical-documentation item the spec can answer with the facts that answer it,
//! and every item it cannot, with the reason (a reviewer sees the gap, never a blank).
//!
//! Values are raw spec strings; the template escapes every one of them for Markdown.

use super::lineage::Upstream;
use plinth_ir::{BatchJob, PolicyDecision, PolicyFinding, PolicySummary, Service, Waiver};
use plinth_ir::{Model, Monitor, Platform, Resources, Rollout, Slo};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

pub use crate::skeleton::Text;
use crate::skeleton::{count, truthy};

#[derive(Clone, Debug, Serialize)]
pub struct Fact<'a> {
    pub label: Text<'a>,
    pub value: Text<'a>,
}

fn fact<'a>(label: impl Into<Text<'a>>, value: impl Into<Text<'a>>) -> Fact<'a> {
    Fact {
        label: label.into(),
        value: value.into(),
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct InputRow<'a> {
    pub feature: Text<'a>,
    pub dtype: Text<'a>,
    pub derivation: Text<'a>,
    pub feature_view: Text<'a>,
    pub classification: Text<'a>,
    pub source: Text<'a>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TensorRow<'a> {
    pub name: Text<'a>,
    pub dtype: Text<'a>,
    pub shape: Text<'a>,
    pub features: Text<'a>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SourceRow<'a> {
    pub name: Text<'a>,
    pub kind: Text<'a>,
    pub classification: Text<'a>,
    pub region: Text<'a>,
    pub retention: Text<'a>,
    pub columns_read: Text<'a>,
    pub pii_columns: Text<'a>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ViewRow<'a> {
    pub name: Text<'a>,
    pub classification: Text<'a>,
    pub schedule: Text<'a>,
    pub freshness: Text<'a>,
    pub expects: Text<'a>,
}

// The sections whose labels are the same on every card name each value by a field and
// the template spells the label: a card has thousands of values, and each handlebars
// lookup walks the context from its root, so a label that is a value costs a lookup
// (and a copy into the context) for text that never changes.

/// The owner team's facts, when the team is declared.
#[derive(Clone, Debug, Serialize)]
pub struct TeamView<'a> {
    pub contact: Text<'a>,
    pub oncall: Text<'a>,
    pub cost_center: Text<'a>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ArtifactView<'a> {
    pub framework: Text<'a>,
    pub format: Text<'a>,
    pub version: Text<'a>,
    pub artifact: Text<'a>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrainingView<'a> {
    pub schedule: Text<'a>,
    pub dataset_window: Text<'a>,
    pub image: Text<'a>,
    pub resources: Text<'a>,
    pub evaluation: Text<'a>,
    pub approvals: Vec<Text<'a>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ServiceView<'a> {
    pub name: Text<'a>,
    pub tier: Text<'a>,
    pub replicas: Text<'a>,
    pub resources: Text<'a>,
    pub rollout: Text<'a>,
    pub exposure: Text<'a>,
    pub callers: Text<'a>,
    pub profiles: Text<'a>,
    pub slos: Vec<Text<'a>>,
    pub monitors: Vec<Text<'a>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BatchJobView<'a> {
    pub name: Text<'a>,
    pub schedule: Text<'a>,
    pub reads: Text<'a>,
    pub writes: Text<'a>,
    pub resources: Text<'a>,
}

#[derive(Clone, Debug, Serialize)]
pub struct WaiverView<'a> {
    pub name: Text<'a>,
    pub policy: Text<'a>,
    pub targets: Text<'a>,
    pub reason: Text<'a>,
    pub approved_by: Text<'a>,
    pub expires: Text<'a>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FindingView<'a> {
    pub policy: Text<'a>,
    pub severity: Text<'a>,
    pub target: Text<'a>,
    pub message: Text<'a>,
    pub status: Text<'a>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DecisionView<'a> {
    pub verdict: Text<'a>,
    pub action: Text<'a>,
    pub principal: Text<'a>,
    pub resource: Text<'a>,
    pub by: Text<'a>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AnnexItem<'a> {
    pub id: Text<'a>,
    pub title: Text<'a>,
    pub facts: Vec<Fact<'a>>,
    /// What the item asks for that the spec does not say.
    pub not_covered: Option<Text<'a>>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AnnexGap<'a> {
    pub id: &'static str,
    pub title: &'static str,
    pub why: Text<'a>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Annex<'a> {
    pub answered: Vec<AnnexItem<'a>>,
    /// Rendered apart (template `annex_gaps`), once for each distinct list, and put
    /// after the card: the list is the card's last part and the same on most high-risk
    /// cards (the eight items no spec answers, and what this spec leaves open).
    #[serde(skip)]
    pub gaps: Vec<AnnexGap<'a>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Card<'a> {
    pub name: Text<'a>,
    pub environment: Text<'a>,
    pub doc: Option<Text<'a>>,
    pub purpose: Option<Text<'a>>,
    pub intended_use: Option<Text<'a>>,
    pub limitations: Option<Text<'a>>,
    pub team: Text<'a>,
    /// `None` when the owner team is not declared.
    pub team_facts: Option<TeamView<'a>>,
    pub risk: Text<'a>,
    pub high_risk: bool,
    pub data_classification: Text<'a>,
    pub personal_data: Text<'a>,
    pub artifact: ArtifactView<'a>,
    pub inputs: Vec<InputRow<'a>>,
    pub input_tensors: Vec<TensorRow<'a>>,
    pub output_tensors: Vec<TensorRow<'a>>,
    pub sources: Vec<SourceRow<'a>>,
    pub feature_views: Vec<ViewRow<'a>>,
    pub pii_columns: Vec<Text<'a>>,
    pub training: Option<TrainingView<'a>>,
    pub explainability: Option<Text<'a>>,
    pub human_oversight: Option<Text<'a>>,
    /// Whether any service or batch job uses the model.
    pub serving: bool,
    pub services: Vec<ServiceView<'a>>,
    pub batch_jobs: Vec<BatchJobView<'a>>,
    pub waivers: Vec<WaiverView<'a>>,
    pub policy_evaluated: bool,
    pub findings: Vec<FindingView<'a>>,
    pub decisions: Vec<DecisionView<'a>>,
    pub annex: Option<Annex<'a>>,
}

// The card is rendered by splicing (`crate::skeleton`): handlebars renders
// `model_card.md.hbs` once per shape of card with a marker for each fragment, and each
// card is that skeleton with its own fragments, escaped for Markdown as the template's
// `{{ }}` escapes them (it has no `{{{ }}}`). The two functions below are the template's
// contract, written against it: what it branches on, and what it writes. Both destructure
// every view whole, so a field added to a view does not compile until it is placed in
// one or the other. `high_risk` is neither: the template never reads it.
impl<'a> Card<'a> {
    /// What the template decides on, in template order: each value it tests with
    /// `{{#if}}` as a flag ([`truthy`] for strings, `Some` for sections, which are never
    /// empty objects), each list it walks with `{{#each}}` as a count (which also decides
    /// its `{{#if list}}` and its `@index` separators), then the shape of each item.
    /// The Annex IV gap list is rendered apart (`annex_gaps`) and is no part of it.
    pub fn shape(&self, out: &mut Vec<u32>) {
        let Card {
            name: _,
            environment: _,
            doc,
            purpose,
            intended_use,
            limitations,
            team: _,
            team_facts,
            risk: _,
            high_risk: _,
            data_classification: _,
            personal_data: _,
            artifact: _,
            inputs,
            input_tensors,
            output_tensors,
            sources,
            feature_views,
            pii_columns,
            training,
            explainability,
            human_oversight,
            serving,
            services,
            batch_jobs,
            waivers,
            policy_evaluated,
            findings,
            decisions,
            annex,
        } = self;
        for text in [doc, purpose, intended_use, limitations] {
            out.push(u32::from(truthy(text.as_ref())));
        }
        out.push(u32::from(team_facts.is_some()));
        for n in [
            inputs.len(),
            input_tensors.len(),
            output_tensors.len(),
            sources.len(),
            feature_views.len(),
            pii_columns.len(),
        ] {
            out.push(count(n));
        }
        match training {
            Some(t) => out.extend([1, count(t.approvals.len())]),
            None => out.push(0),
        }
        for text in [explainability, human_oversight] {
            out.push(u32::from(truthy(text.as_ref())));
        }
        out.push(u32::from(*serving));
        out.push(count(services.len()));
        for s in services {
            out.extend([count(s.slos.len()), count(s.monitors.len())]);
        }
        out.push(count(batch_jobs.len()));
        out.push(count(waivers.len()));
        out.push(u32::from(*policy_evaluated));
        out.push(count(findings.len()));
        out.push(count(decisions.len()));
        for d in decisions {
            out.push(u32::from(truthy(Some(&d.by))));
        }
        match annex {
            Some(a) => {
                out.extend([1, count(a.answered.len())]);
                for item in &a.answered {
                    out.extend([
                        count(item.facts.len()),
                        u32::from(truthy(item.not_covered.as_ref())),
                    ]);
                }
            }
            None => out.push(0),
        }
    }

    /// Every value the template writes, in the one order that numbers a skeleton's
    /// markers; a value it tests is visited only when it holds (the skeleton of a card
    /// with a false one neither writes it nor gets a marker for it, and the marker of a
    /// true one is true). Which values are visited depends only on [`Card::shape`].
    pub fn each_fragment(&mut self, f: &mut impl FnMut(&mut Text<'a>)) {
        fn tested<'a>(text: &mut Option<Text<'a>>, f: &mut impl FnMut(&mut Text<'a>)) {
            if let Some(text) = text.as_mut().filter(|t| truthy(Some(t))) {
                f(text);
            }
        }
        let Card {
            name,
            environment,
            doc,
            purpose,
            intended_use,
            limitations,
            team,
            team_facts,
            risk,
            high_risk: _,
            data_classification,
            personal_data,
            artifact,
            inputs,
            input_tensors,
            output_tensors,
            sources,
            feature_views,
            pii_columns,
            training,
            explainability,
            human_oversight,
            serving: _,
            services,
            batch_jobs,
            waivers,
            policy_evaluated: _,
            findings,
            decisions,
            annex,
        } = self;
        f(name);
        f(environment);
        for text in [doc, purpose, intended_use, limitations] {
            tested(text, f);
        }
        f(team);
        if let Some(TeamView {
            contact,
            oncall,
            cost_center,
        }) = team_facts
        {
            [contact, oncall, cost_center].into_iter().for_each(&mut *f);
        }
        let ArtifactView {
            framework,
            format,
            version,
            artifact,
        } = artifact;
        [
            risk,
            data_classification,
            personal_data,
            framework,
            format,
            version,
            artifact,
        ]
        .into_iter()
        .for_each(&mut *f);
        for InputRow {
            feature,
            dtype,
            derivation,
            feature_view,
            classification,
            source,
        } in inputs
        {
            [
                feature,
                dtype,
                derivation,
                feature_view,
                classification,
                source,
            ]
            .into_iter()
            .for_each(&mut *f);
        }
        for TensorRow {
            name,
            dtype,
            shape,
            features,
        } in input_tensors.iter_mut().chain(output_tensors)
        {
            [name, dtype, shape, features].into_iter().for_each(&mut *f);
        }
        for SourceRow {
            name,
            kind,
            classification,
            region,
            retention,
            columns_read,
            pii_columns,
        } in sources
        {
            [
                name,
                kind,
                classification,
                region,
                retention,
                columns_read,
                pii_columns,
            ]
            .into_iter()
            .for_each(&mut *f);
        }
        for ViewRow {
            name,
            classification,
            schedule,
            freshness,
            expects,
        } in feature_views
        {
            [name, classification, schedule, freshness, expects]
                .into_iter()
                .for_each(&mut *f);
        }
        pii_columns.iter_mut().for_each(&mut *f);
        if let Some(TrainingView {
            schedule,
            dataset_window,
            image,
            resources,
            evaluation,
            approvals,
        }) = training
        {
            [schedule, dataset_window, image, resources, evaluation]
                .into_iter()
                .for_each(&mut *f);
            approvals.iter_mut().for_each(&mut *f);
        }
        for text in [explainability, human_oversight] {
            tested(text, f);
        }
        for ServiceView {
            name,
            tier,
            replicas,
            resources,
            rollout,
            exposure,
            callers,
            profiles,
            slos,
            monitors,
        } in services
        {
            [
                name, tier, replicas, resources, rollout, exposure, callers, profiles,
            ]
            .into_iter()
            .for_each(&mut *f);
            slos.iter_mut().chain(monitors).for_each(&mut *f);
        }
        for BatchJobView {
            name,
            schedule,
            reads,
            writes,
            resources,
        } in batch_jobs
        {
            [name, schedule, reads, writes, resources]
                .into_iter()
                .for_each(&mut *f);
        }
        for WaiverView {
            name,
            policy,
            targets,
            reason,
            approved_by,
            expires,
        } in waivers
        {
            [name, policy, targets, reason, approved_by, expires]
                .into_iter()
                .for_each(&mut *f);
        }
        for FindingView {
            policy,
            severity,
            target,
            message,
            status,
        } in findings
        {
            [policy, severity, target, message, status]
                .into_iter()
                .for_each(&mut *f);
        }
        for DecisionView {
            verdict,
            action,
            principal,
            resource,
            by,
        } in decisions
        {
            [verdict, action, principal, resource]
                .into_iter()
                .for_each(&mut *f);
            if truthy(Some(by)) {
                f(by);
            }
        }
        if let Some(Annex { answered, gaps: _ }) = annex {
            for AnnexItem {
                id,
                title,
                facts,
                not_covered,
            } in answered
            {
                f(id);
                f(title);
                for Fact { label, value } in facts {
                    f(label);
                    f(value);
                }
                tested(not_covered, f);
            }
        }
    }
}

fn resources(r: &Resources) -> String {
    let mut parts = Vec::new();
    if let Some(c) = r.cpu {
        parts.push(format!("cpu {c}"));
    }
    if let Some(m) = r.memory {
        parts.push(format!("memory {m}"));
    }
    if r.gpu > 0 {
        parts.push(format!("gpu {}", r.gpu));
    }
    if let Some(a) = &r.accelerator {
        parts.push(format!("accelerator {a}"));
    }
    if parts.is_empty() {
        "none requested".to_string()
    } else {
        parts.join(", ")
    }
}

pub fn slo_text(s: &Slo) -> String {
    match s {
        Slo::Availability { objective, window } => {
            format!("availability {objective}% over {window}")
        }
        Slo::Latency {
            percentile,
            threshold,
            objective,
            window,
        } => format!(
            "latency p{percentile} under {threshold} for {objective}% of requests over {window}"
        ),
    }
}

pub fn monitor_text(m: &Monitor) -> String {
    match m {
        Monitor::Drift {
            feature,
            method,
            threshold,
        } => format!("drift of {feature} by {method}, threshold {threshold}"),
        Monitor::Performance { metric, min } => format!("performance: {metric} at least {min}"),
    }
}

pub fn rollout_text(r: &Rollout) -> String {
    match r {
        Rollout::Rolling => "rolling".to_string(),
        Rollout::Canary { steps, pause } => format!(
            "canary {} with {pause} analysis after each step",
            steps
                .iter()
                .map(|s| format!("{s}%"))
                .collect::<Vec<_>>()
                .join(" → ")
        ),
        Rollout::Shadow { percent } => format!("shadow at {percent}%"),
        Rollout::BlueGreen => "blue/green".to_string(),
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.to_string())
}

/// The card of `model` in platform `p`.
/// What every card looks up by model or declaration, indexed once per platform: scanning
/// all services, batch jobs and policy decisions for each model is quadratic, and took
/// seconds at 5,000 models.
pub struct Index<'a> {
    services: BTreeMap<&'a str, Vec<&'a Service>>,
    batch_jobs: BTreeMap<&'a str, Vec<&'a BatchJob>>,
    /// By (Cedar type, name) of the principal or the resource, in decision order.
    decisions: BTreeMap<&'a str, BTreeMap<&'a str, Vec<&'a PolicyDecision>>>,
    /// By (Cedar type, name) of the blamed declaration, in finding order.
    findings: BTreeMap<&'a str, BTreeMap<&'a str, Vec<&'a PolicyFinding>>>,
    /// The policies of all findings: the forbid rules a decision can be "determined by".
    forbidding: BTreeSet<&'a str>,
    /// [`super::scorecard::waivers_in_force`], in waiver order.
    waivers: Vec<&'a Waiver>,
}

impl<'a> Index<'a> {
    pub fn new(p: &'a Platform, policy: &'a PolicySummary) -> Index<'a> {
        let mut services: BTreeMap<&str, Vec<&Service>> = BTreeMap::new();
        for s in p.services.values() {
            services.entry(s.model.as_str()).or_default().push(s);
        }
        let mut batch_jobs: BTreeMap<&str, Vec<&BatchJob>> = BTreeMap::new();
        for j in p.batch_jobs.values() {
            batch_jobs.entry(j.model.as_str()).or_default().push(j);
        }
        let mut decisions: BTreeMap<&str, BTreeMap<&str, Vec<&PolicyDecision>>> = BTreeMap::new();
        for d in &policy.decisions {
            let (kind, name) = (d.principal.0.as_str(), d.principal.1.as_str());
            decisions
                .entry(kind)
                .or_default()
                .entry(name)
                .or_default()
                .push(d);
            // Once per decision, as `PolicySummary::decisions_about` yields it.
            if d.resource != d.principal {
                let (kind, name) = (d.resource.0.as_str(), d.resource.1.as_str());
                decisions
                    .entry(kind)
                    .or_default()
                    .entry(name)
                    .or_default()
                    .push(d);
            }
        }
        let mut findings: BTreeMap<&str, BTreeMap<&str, Vec<&PolicyFinding>>> = BTreeMap::new();
        for f in &policy.findings {
            findings
                .entry(f.kind.as_str())
                .or_default()
                .entry(f.name.as_str())
                .or_default()
                .push(f);
        }
        Index {
            services,
            batch_jobs,
            decisions,
            findings,
            forbidding: policy.findings.iter().map(|f| f.policy.as_str()).collect(),
            waivers: super::scorecard::waivers_in_force(p, policy)
                .into_iter()
                .map(|(w, _)| w)
                .collect(),
        }
    }

    /// As `PolicySummary::findings_for`.
    fn findings_for(&self, kind: &str, name: &str) -> &[&'a PolicyFinding] {
        self.findings
            .get(kind)
            .and_then(|by_name| by_name.get(name))
            .map_or(&[], Vec::as_slice)
    }

    fn services(&self, model: &str) -> &[&'a Service] {
        self.services.get(model).map_or(&[], Vec::as_slice)
    }

    fn batch_jobs(&self, model: &str) -> &[&'a BatchJob] {
        self.batch_jobs.get(model).map_or(&[], Vec::as_slice)
    }

    fn decisions_about(&self, kind: &str, name: &str) -> &[&'a PolicyDecision] {
        self.decisions
            .get(kind)
            .and_then(|by_name| by_name.get(name))
            .map_or(&[], Vec::as_slice)
    }
}

pub fn card<'a>(
    p: &'a Platform,
    model: &'a Model,
    up: Option<&'a Upstream>,
    policy: &PolicySummary,
    index: &Index<'a>,
) -> Card<'a> {
    let team_facts = p.teams.get(&model.owner).map(|t| TeamView {
        contact: Text::from(&t.owner),
        oncall: t
            .oncall
            .as_deref()
            .map_or(Text::from("not stated"), Text::from),
        cost_center: t
            .cost_center
            .as_deref()
            .map_or(Text::from("not stated"), Text::from),
    });

    let mut inputs = Vec::new();
    for input in &model.inputs {
        let view = p.feature_views.get(&input.view);
        let feature = view.and_then(|v| v.features.iter().find(|f| f.name == input.feature));
        let derivation = feature
            .map(|f| {
                let agg = f
                    .aggregate
                    .as_ref()
                    .map(|a| format!("{}({})", a.function, a.column))
                    .unwrap_or_else(|| "as stored".to_string());
                match f.window {
                    Some(w) => format!("{agg} over {w}"),
                    None => agg,
                }
            })
            .unwrap_or_default();
        inputs.push(InputRow {
            feature: Text::from(input.to_string()),
            dtype: feature.map(|f| Text::from(&f.dtype)).unwrap_or_default(),
            derivation: Text::from(derivation),
            feature_view: Text::from(&input.view),
            classification: view
                .map(|v| Text::from(&v.classification.name))
                .unwrap_or_default(),
            source: view.map(|v| Text::from(&v.source)).unwrap_or_default(),
        });
    }
    let tensor = |t: &'a plinth_ir::Tensor| TensorRow {
        name: Text::from(&t.name),
        dtype: Text::from(&t.dtype),
        shape: Text::from(format!(
            "[{}]",
            t.dims
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        features: Text::from(
            t.features
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        ),
    };

    let sources: Vec<SourceRow> = model
        .lineage
        .sources
        .iter()
        .filter_map(|name| p.sources.get(name))
        .map(|s| {
            let read: Vec<&str> = up
                .map(|u| {
                    u.columns
                        .iter()
                        .filter(|c| c.source == s.name)
                        .map(|c| c.column.as_str())
                        .collect()
                })
                .unwrap_or_default();
            let pii: Vec<&str> = s
                .columns
                .iter()
                .filter(|c| c.pii)
                .map(|c| c.name.as_str())
                .collect();
            SourceRow {
                name: Text::from(&s.name),
                kind: Text::from(&s.kind),
                classification: Text::from(&s.classification.name),
                region: match (&s.region, s.residency.is_empty()) {
                    (Some(r), true) => Text::from(r.as_str()),
                    (Some(r), false) => {
                        Text::from(format!("{r} (residency: {})", s.residency.join(", ")))
                    }
                    (None, false) => Text::from(format!("residency: {}", s.residency.join(", "))),
                    (None, true) => Text::from("not stated"),
                },
                retention: Text::from(
                    s.retention
                        .map_or_else(|| "not stated".to_string(), |d| d.to_string()),
                ),
                columns_read: Text::from(read.join(", ")),
                pii_columns: if pii.is_empty() {
                    Text::from("none".to_string())
                } else {
                    Text::from(pii.join(", "))
                },
            }
        })
        .collect();
    let feature_views: Vec<ViewRow> = model
        .lineage
        .feature_views
        .iter()
        .filter_map(|name| p.feature_views.get(name))
        .map(|v| ViewRow {
            name: Text::from(&v.name),
            classification: Text::from(&v.classification.name),
            schedule: v
                .schedule
                .as_ref()
                .map_or_else(|| Text::from("unscheduled"), |c| Text::from(&c.expr)),
            freshness: Text::from(
                v.freshness
                    .map_or_else(|| "not stated".to_string(), |d| d.to_string()),
            ),
            expects: if v.expects.is_empty() {
                Text::from("none".to_string())
            } else {
                Text::from(
                    v.expects
                        .iter()
                        .map(|e| Text::from(&e.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            },
        })
        .collect();

    let training = model.training.as_ref().map(|t| TrainingView {
        schedule: t
            .schedule
            .as_ref()
            .map_or_else(|| Text::from("triggered by hand"), |c| Text::from(&c.expr)),
        dataset_window: Text::from(
            t.dataset_window
                .map_or_else(|| "not stated".to_string(), |d| d.to_string()),
        ),
        image: Text::from(&t.image),
        resources: Text::from(resources(&t.resources)),
        evaluation: Text::from(t.evaluation.as_ref().map_or_else(
            || "none: any trained model is registered".to_string(),
            |e| format!("{} at least {}", e.metric, e.min),
        )),
        approvals: t.approvals.iter().map(Text::from).collect(),
    });

    let services: Vec<ServiceView> = index
        .services(&model.name)
        .iter()
        .map(|s| ServiceView {
            name: Text::from(&s.name),
            tier: Text::from(&s.tier),
            replicas: Text::from(format!("{}..{}", s.min_replicas, s.max_replicas)),
            resources: Text::from(resources(&s.resources)),
            rollout: Text::from(rollout_text(&s.rollout)),
            exposure: Text::from(&s.expose),
            callers: Text::from(if s.callers.is_empty() {
                "none declared".to_string()
            } else {
                s.callers.join(", ")
            }),
            profiles: Text::from(if s.profiles.is_empty() {
                "none".to_string()
            } else {
                s.profiles.join(", ")
            }),
            slos: s.slos.iter().map(|x| Text::from(slo_text(x))).collect(),
            monitors: s
                .monitors
                .iter()
                .map(|x| Text::from(monitor_text(x)))
                .collect(),
        })
        .collect();
    let batch_jobs: Vec<BatchJobView> = index
        .batch_jobs(&model.name)
        .iter()
        .map(|j| BatchJobView {
            name: Text::from(&j.name),
            schedule: Text::from(&j.schedule.expr),
            reads: Text::from(&j.input),
            writes: Text::from(&j.output),
            resources: Text::from(resources(&j.resources)),
        })
        .collect();

    // Declarations the card speaks for: the model and what serves it.
    let mut about: Vec<(&str, &str)> = vec![("Model", model.name.as_str())];
    for s in index.services(&model.name) {
        about.push(("Service", s.name.as_str()));
    }
    for j in index.batch_jobs(&model.name) {
        about.push(("BatchJob", j.name.as_str()));
    }
    let names: Vec<&str> = about.iter().map(|(_, n)| *n).collect();
    let waivers: Vec<WaiverView> = index
        .waivers
        .iter()
        .filter(|w| w.targets.iter().any(|t| names.contains(&t.as_str())))
        .map(|w| WaiverView {
            name: Text::from(&w.name),
            policy: Text::from(&w.policy),
            targets: Text::from(w.targets.join(", ")),
            reason: Text::from(&w.reason),
            approved_by: Text::from(&w.approved_by),
            expires: Text::from(w.expires.to_string()),
        })
        .collect();
    let mut findings = Vec::new();
    let mut decisions = Vec::new();
    for (kind, name) in &about {
        for f in index.findings_for(kind, name) {
            findings.push(FindingView {
                policy: Text::from(&f.policy),
                severity: Text::from(&f.severity),
                target: Text::from(format!("{} {}", kind_word(kind), f.name)),
                message: Text::from(&f.message),
                status: match &f.waiver {
                    Some(w) => Text::from(format!("waived by {w}")),
                    None if f.severity == "error" => Text::from("violation (blocks the build)"),
                    None => Text::from("warning"),
                },
            });
        }
    }
    for d in index.decisions_about("Model", &model.name) {
        decisions.push(DecisionView {
            verdict: Text::from(if d.allowed { "allow" } else { "deny" }),
            action: Text::from(&d.action),
            principal: Text::from(format!("{} {}", kind_word(&d.principal.0), d.principal.1)),
            resource: Text::from(format!("{} {}", kind_word(&d.resource.0), d.resource.1)),
            by: Text::from(
                d.determining
                    .iter()
                    // Base permits decide every allow; name only the rules that forbid.
                    .filter(|id| index.forbidding.contains(id.as_str()))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        });
    }

    let high_risk = model.risk.name == "high";
    let mut card = Card {
        name: Text::from(&model.name),
        environment: Text::from(&p.environment.name),
        doc: (non_empty(&model.doc)).map(Text::from),
        purpose: model.purpose.as_deref().map(Text::from),
        intended_use: model.intended_use.as_deref().map(Text::from),
        limitations: model.limitations.as_deref().map(Text::from),
        team: Text::from(&model.owner),
        team_facts,
        risk: Text::from(&model.risk.name),
        high_risk,
        data_classification: Text::from(&model.data_classification.name),
        personal_data: Text::from(if model.uses_pii {
            "yes: PII columns upstream"
        } else {
            "no PII column upstream"
        }),
        artifact: ArtifactView {
            framework: model
                .framework
                .as_deref()
                .map_or(Text::from("not stated"), Text::from),
            format: Text::from(&model.format),
            version: Text::from(&model.version),
            artifact: Text::from(&model.artifact),
        },
        inputs,
        input_tensors: model.input_tensors.iter().map(tensor).collect(),
        output_tensors: model.output_tensors.iter().map(tensor).collect(),
        sources,
        feature_views,
        pii_columns: model.lineage.pii_columns.iter().map(Text::from).collect(),
        training,
        explainability: model.explainability.as_deref().map(Text::from),
        human_oversight: model.human_oversight.as_deref().map(Text::from),
        serving: !services.is_empty() || !batch_jobs.is_empty(),
        services,
        batch_jobs,
        waivers,
        policy_evaluated: policy.today.is_some(),
        findings,
        decisions,
        annex: None,
    };
    if high_risk {
        card.annex = Some(annex(model, index.services(&model.name), &card));
    }
    card
}

pub fn kind_word(kind: &str) -> &'static str {
    match kind {
        "Team" => "team",
        "Environment" => "environment",
        "Source" => "source",
        "FeatureView" => "feature view",
        "Model" => "model",
        "Service" => "service",
        "BatchJob" => "batch job",
        _ => "declaration",
    }
}

/// Annex IV items, in the Annex's order. An answerable item with no facts in this spec
/// moves to the gaps with the field that would answer it.
fn annex<'a>(model: &'a Model, services: &[&'a Service], card: &Card<'a>) -> Annex<'a> {
    let mut answered = Vec::new();
    let mut gaps = Vec::new();
    let mut item = |id: &'static str,
                    title: &'static str,
                    facts: Vec<Fact<'a>>,
                    not_covered: Option<&'static str>,
                    missing: &str| {
        if facts.is_empty() {
            gaps.push(AnnexGap {
                id,
                title,
                why: Text::from(missing.to_string()),
            });
        } else {
            answered.push(AnnexItem {
                id: Text::from(id),
                title: Text::from(title),
                facts,
                not_covered: not_covered.map(Text::from),
            });
        }
    };
    let opt = |label: &'static str, v: &'a Option<String>| v.as_deref().map(|v| fact(label, v));

    // 1(a)
    let mut facts: Vec<Fact> = [
        opt("Purpose", &model.purpose),
        opt("Intended use", &model.intended_use),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !facts.is_empty() {
        facts.push(fact("Provider (owner team)", Text::from(&model.owner)));
        facts.push(fact("Version", Text::from(&model.version)));
    }
    item(
        "1(a)",
        "Intended purpose, provider and version",
        facts,
        None,
        "the spec states no `purpose` or `intended_use` for the model",
    );
    // 1(b), 1(c)
    let mut facts = vec![
        fact(
            "Framework and format",
            format!(
                "{} exported as {}",
                model.framework.as_deref().unwrap_or("unstated framework"),
                model.format
            ),
        ),
        fact("Artifact", Text::from(&model.artifact)),
    ];
    for s in services {
        facts.push(fact(
            format!("Served by {}", s.name),
            format!(
                "{} runtime; called by {}",
                s.runtime,
                if s.callers.is_empty() {
                    "no declared callers".to_string()
                } else {
                    s.callers.join(", ")
                }
            ),
        ));
    }
    item(
        "1(b)-(c)",
        "Interaction with other systems; software versions",
        facts,
        Some("versions of the serving runtime and of the callers' software"),
        "",
    );
    // 1(e)
    let mut facts: Vec<Fact> = services
        .iter()
        .map(|s| {
            fact(
                format!("Serving ({})", s.name),
                format!(
                    "{}..{} replicas of {}",
                    s.min_replicas,
                    s.max_replicas,
                    resources(&s.resources)
                ),
            )
        })
        .collect();
    if let Some(t) = &model.training {
        facts.push(fact("Training", resources(&t.resources)));
    }
    item(
        "1(e)",
        "Hardware on which it runs",
        facts,
        None,
        "no service serves the model and it has no `training` block",
    );
    // 2(a)
    let facts = model
        .training
        .as_ref()
        .map(|t| {
            vec![
                fact("Training image", Text::from(&t.image)),
                fact(
                    "Pipeline",
                    format!(
                        "materialize features → validate data → train → evaluate{} → register (generated Airflow DAG)",
                        if t.approvals.is_empty() { "" } else { " → approval" }
                    ),
                ),
                fact(
                    "Schedule",
                    t.schedule
                        .as_ref()
                        .map_or_else(|| Text::from("triggered by hand"), |c| Text::from(&c.expr)),
                ),
            ]
        })
        .unwrap_or_default();
    item(
        "2(a)",
        "Methods and steps of development",
        facts,
        Some("pre-trained components and third-party tools used, and why"),
        "the model has no `training` block",
    );
    // 2(b)
    let mut facts: Vec<Fact> = card
        .input_tensors
        .iter()
        .map(|t| {
            fact(
                format!("Input {}", t.name),
                format!("{} {} from {}", t.dtype, t.shape, t.features),
            )
        })
        .collect();
    facts.extend(card.output_tensors.iter().map(|t| {
        fact(
            format!("Output {}", t.name),
            format!("{} {}", t.dtype, t.shape),
        )
    }));
    if let Some(e) = model.training.as_ref().and_then(|t| t.evaluation.as_ref()) {
        facts.push(fact(
            "Optimised for",
            format!("{} (gate at {})", e.metric, e.min),
        ));
    }
    item(
        "2(b)",
        "Design specifications: inputs, outputs, optimisation target",
        facts,
        Some("the rationale of key design choices, assumptions and trade-offs"),
        "the model declares no tensors",
    );
    // 2(c)
    let mut facts = vec![fact(
        "Data flow",
        format!(
            "sources {} → feature views {} → model {} → {}",
            or_none(&model.lineage.sources),
            or_none(&model.lineage.feature_views),
            model.name,
            or_none(
                &card
                    .services
                    .iter()
                    .map(|s| format!("service {}", s.name))
                    .chain(
                        card.batch_jobs
                            .iter()
                            .map(|j| format!("batch job {}", j.name))
                    )
                    .collect::<Vec<_>>()
            )
        ),
    )];
    if let Some(t) = &model.training {
        facts.push(fact(
            "Computational resources for training",
            resources(&t.resources),
        ));
    }
    item(
        "2(c)",
        "System architecture and computational resources",
        facts,
        None,
        "",
    );
    // 2(d)
    let mut facts: Vec<Fact> = card
        .sources
        .iter()
        .map(|s| {
            fact(
                format!("Source {}", s.name),
                format!(
                    "{}, {}, region {}, retention {}, PII columns: {}",
                    s.kind, s.classification, s.region, s.retention, s.pii_columns
                ),
            )
        })
        .collect();
    if let Some(w) = model.training.as_ref().and_then(|t| t.dataset_window) {
        facts.push(fact("Training data window", w.to_string()));
    }
    for v in &card.feature_views {
        facts.push(fact(
            format!("Data-quality checks on {}", v.name),
            v.expects.clone(),
        ));
    }
    item(
        "2(d)",
        "Data requirements, provenance and preparation",
        facts,
        Some("labelling procedures and data-cleaning methods"),
        "the model reads no declared source",
    );
    // 2(e)
    let facts: Vec<Fact> = [
        opt("Human oversight", &model.human_oversight),
        opt("Explainability", &model.explainability),
    ]
    .into_iter()
    .flatten()
    .collect();
    item(
        "2(e)",
        "Human oversight measures and interpretation of outputs (Article 14)",
        facts,
        None,
        "the spec sets neither `human_oversight` nor `explainability`",
    );
    // 2(f)
    let mut facts = Vec::new();
    if let Some(t) = &model.training {
        if let Some(c) = &t.schedule {
            facts.push(fact("Scheduled retraining", Text::from(&c.expr)));
        }
        if let Some(e) = &t.evaluation {
            facts.push(fact(
                "A retrained model is registered only if",
                format!("{} is at least {}", e.metric, e.min),
            ));
        }
        if !t.approvals.is_empty() {
            facts.push(fact("And approved by", t.approvals.join(", ")));
        }
    }
    for s in services {
        facts.push(fact(
            format!("New versions reach {} by", s.name),
            rollout_text(&s.rollout),
        ));
    }
    item(
        "2(f)",
        "Pre-determined changes to the system and its performance",
        facts,
        None,
        "no scheduled retraining and no serving rollout is declared",
    );
    // 2(g)
    let mut facts = Vec::new();
    if let Some(t) = &model.training {
        if let Some(e) = &t.evaluation {
            facts.push(fact(
                "Validation metric and threshold",
                format!("{} at least {}", e.metric, e.min),
            ));
        }
        if !t.approvals.is_empty() {
            facts.push(fact("Sign-off by", t.approvals.join(", ")));
        }
    }
    item(
        "2(g)",
        "Validation and testing procedures",
        facts,
        Some(
            "the test data's characteristics, dated and signed test logs, and metrics of robustness and of discriminatory impact",
        ),
        "the model has no `training.evaluation` gate",
    );
    // 2(h)
    let mut facts: Vec<Fact> = services
        .iter()
        .map(|s| {
            fact(
                format!("Exposure of {}", s.name),
                format!(
                    "{}; network policy admits {}",
                    s.expose,
                    if s.callers.is_empty() {
                        "no declared callers".to_string()
                    } else {
                        s.callers.join(", ")
                    }
                ),
            )
        })
        .collect();
    if card.policy_evaluated {
        let security: Vec<String> = card
            .findings
            .iter()
            .filter(|f| f.policy.starts_with("security.") || f.policy.starts_with("privacy."))
            .map(|f| format!("{} on {} ({})", f.policy, f.target, f.status))
            .collect();
        facts.push(fact(
            "Security and privacy policy findings",
            if security.is_empty() {
                "none: every security and privacy rule passed".to_string()
            } else {
                security.join("; ")
            },
        ));
    }
    item(
        "2(h)",
        "Cybersecurity measures",
        facts,
        Some("threat model, penetration tests and measures against adversarial inputs"),
        "no service serves the model and policies were not evaluated",
    );
    // 3
    let mut facts: Vec<Fact> = [
        opt("Limitations", &model.limitations),
        opt("Human oversight", &model.human_oversight),
    ]
    .into_iter()
    .flatten()
    .collect();
    for s in &card.services {
        for m in &s.monitors {
            facts.push(fact(format!("Monitor on {}", s.name), m.clone()));
        }
    }
    item(
        "3",
        "Monitoring, functioning and control: capabilities and limitations",
        facts,
        Some(
            "degrees of accuracy for specific persons or groups, and foreseeable unintended outcomes",
        ),
        "the spec states no `limitations` and no monitor",
    );
    // 5
    let mut facts = vec![fact("Risk level", Text::from(&model.risk.name))];
    if card.policy_evaluated {
        facts.push(fact(
            "Policy gate",
            format!(
                "{} finding(s) on the model and its services, {} waived",
                card.findings.len(),
                card.findings
                    .iter()
                    .filter(|f| f.status.starts_with("waived"))
                    .count()
            ),
        ));
    }
    item(
        "5",
        "Risk management system (Article 9)",
        facts,
        Some("the risk-management process itself: identified risks, estimates and mitigations"),
        "",
    );
    // 9
    let mut facts = Vec::new();
    for s in &card.services {
        for slo in &s.slos {
            facts.push(fact(format!("SLO of {}", s.name), slo.clone()));
        }
        for m in &s.monitors {
            facts.push(fact(format!("Monitor on {}", s.name), m.clone()));
        }
    }
    item(
        "9",
        "Post-market monitoring (Article 72)",
        facts,
        Some("the written post-market monitoring plan and who reviews its results"),
        "no service of the model declares an SLO or a monitor",
    );

    for (id, title, why) in [
        (
            "1(d)",
            "Forms in which the system is placed on the market",
            "distribution is outside the spec",
        ),
        (
            "1(f)",
            "Photographs or illustrations of products it is part of",
            "the spec describes no physical product",
        ),
        (
            "1(g)",
            "User interface provided to the deployer",
            "the spec describes serving endpoints, not user interfaces",
        ),
        (
            "1(h)",
            "Instructions for use for the deployer",
            "`intended_use` and `limitations` feed them, but the instructions themselves are a separate document",
        ),
        (
            "4",
            "Appropriateness of the performance metrics",
            "the spec names the metric and threshold, not why they fit this system",
        ),
        (
            "6",
            "Relevant changes through the lifecycle",
            "the change history lives in version control (`plinth diff` shows each change), not in one spec",
        ),
        (
            "7",
            "Harmonised standards applied",
            "standards are not declared in the spec",
        ),
        (
            "8",
            "EU declaration of conformity (Article 47)",
            "a signed legal document outside the spec",
        ),
    ] {
        gaps.push(AnnexGap {
            id,
            title,
            why: Text::from(why.to_string()),
        });
    }
    let order = |id: &str| {
        [
            "1(a)", "1(b)-(c)", "1(d)", "1(e)", "1(f)", "1(g)", "1(h)", "2(a)", "2(b)", "2(c)",
            "2(d)", "2(e)", "2(f)", "2(g)", "2(h)", "3", "4", "5", "6", "7", "8", "9",
        ]
        .iter()
        .position(|x| *x == id)
        .unwrap_or(usize::MAX)
    };
    gaps.sort_by_key(|g| order(g.id));
    Annex { answered, gaps }
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(", ")
    }
}
