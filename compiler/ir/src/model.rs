//! The platform model (IR): the checked spec lowered for one environment, with
//! environment overrides applied, defaults filled in and derived facts computed.
//!
//! Architecture invariant: targets and policies read only this, never the syntax tree.
//! Collections are `BTreeMap`s keyed by name, so iteration order is the same everywhere.

use crate::values::{Bytes, Date, Decimal, Duration, Millicores};
use plinth_syntax::Span;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where a declaration (and each of its fields) was written, for diagnostics raised by
/// later phases. `fields` maps dotted field paths (`resources.gpu`) to their spans.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub file: String,
    #[serde(skip)]
    pub span: Span,
    #[serde(skip)]
    /// Shared between the environments' platform models: the spans do not change.
    pub fields: std::sync::Arc<FieldSpans>,
}

/// Dotted field paths (`resources.gpu`) and their spans, sorted by path. Every
/// declaration of every environment has one, so the paths share one string: a few
/// dozen paths cost two allocations, where a `BTreeMap<String, Span>` took a string
/// each plus its nodes (about a sixth of the front end's memory at 5,000 services).
#[derive(Clone, Default)]
pub struct FieldSpans {
    /// The paths, concatenated in insertion order.
    text: String,
    /// Each path's byte range in `text` and its span, sorted by path.
    entries: Vec<(u32, u32, Span)>,
}

impl FieldSpans {
    fn path(&self, entry: &(u32, u32, Span)) -> &str {
        self.text
            .get(entry.0 as usize..entry.1 as usize)
            .unwrap_or_default()
    }

    fn position(&self, path: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| self.path(e).cmp(path))
    }

    pub fn get(&self, path: &str) -> Option<&Span> {
        let i = self.position(path).ok()?;
        self.entries.get(i).map(|e| &e.2)
    }

    pub fn contains_key(&self, path: &str) -> bool {
        self.position(path).is_ok()
    }

    /// Sets the span of `path`, returning the one it replaces (as `BTreeMap::insert`).
    pub fn insert(&mut self, path: String, span: Span) -> Option<Span> {
        self.set(&path, span)
    }

    /// `insert` without an owned path.
    pub fn set(&mut self, path: &str, span: Span) -> Option<Span> {
        match self.position(path) {
            Ok(i) => self
                .entries
                .get_mut(i)
                .map(|e| std::mem::replace(&mut e.2, span)),
            Err(i) => {
                let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                let start = clamp(self.text.len());
                self.text.push_str(path);
                let end = clamp(self.text.len());
                self.entries.insert(i, (start, end, span));
                None
            }
        }
    }

    /// Sets the span of `path` unless it has one.
    pub fn insert_if_absent(&mut self, path: &str, span: Span) {
        if !self.contains_key(path) {
            self.set(path, span);
        }
    }

    /// The paths and spans, sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Span)> {
        self.entries.iter().map(|e| (self.path(e), e.2))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops spare capacity once built: these live as long as the platform model.
    pub fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.entries.shrink_to_fit();
    }
}

/// Builds a [`FieldSpans`] from many paths at once: the paths are recorded in any
/// order and sorted once in [`finish`](Self::finish), where `FieldSpans::set` keeps
/// its entries sorted on every call (a binary search and a shift per path, a third of
/// the analysis lowering reads at 5,000 services). Same result as the calls one by one.
#[derive(Default)]
pub struct FieldSpansBuilder {
    text: String,
    /// Path range in `text`, span, and whether it replaces an earlier span (`set`) or
    /// only fills a missing one (`insert_if_absent`), in call order.
    ops: Vec<(u32, u32, Span, bool)>,
}

impl FieldSpansBuilder {
    fn push(&mut self, path: &str, span: Span, replace: bool) {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let start = clamp(self.text.len());
        self.text.push_str(path);
        self.ops
            .push((start, clamp(self.text.len()), span, replace));
    }

    /// As [`FieldSpans::set`].
    pub fn set(&mut self, path: &str, span: Span) {
        self.push(path, span, true);
    }

    /// As [`FieldSpans::insert_if_absent`].
    pub fn insert_if_absent(&mut self, path: &str, span: Span) {
        self.push(path, span, false);
    }

    pub fn finish(self) -> FieldSpans {
        let FieldSpansBuilder { text, mut ops } = self;
        let path = |op: &(u32, u32, Span, bool)| text.get(op.0 as usize..op.1 as usize);
        // Stable: the calls on one path stay in call order.
        ops.sort_by(|a, b| path(a).cmp(&path(b)));
        let mut entries: Vec<(u32, u32, Span)> = Vec::with_capacity(ops.len());
        let mut last: Option<&(u32, u32, Span, bool)> = None;
        for op in &ops {
            let same = last.is_some_and(|l| path(l) == path(op));
            match entries.last_mut() {
                Some(entry) if same => {
                    if op.3 {
                        entry.2 = op.2;
                    }
                }
                _ => entries.push((op.0, op.1, op.2)),
            }
            last = Some(op);
        }
        let mut out = FieldSpans { text, entries };
        out.shrink_to_fit();
        out
    }
}

/// Equal when the same paths have the same spans, whatever order built them.
impl PartialEq for FieldSpans {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for FieldSpans {}

/// Printed as the map it stands for.
impl std::fmt::Debug for FieldSpans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl FromIterator<(String, Span)> for FieldSpans {
    fn from_iter<I: IntoIterator<Item = (String, Span)>>(iter: I) -> Self {
        let mut out = FieldSpans::default();
        for (path, span) in iter {
            out.insert(path, span);
        }
        out
    }
}

impl Origin {
    /// The span of a field, or of the declaration when the field was not written.
    pub fn field_span(&self, path: &str) -> Span {
        self.fields.get(path).copied().unwrap_or(self.span)
    }
}

/// A value of an ordered stdlib enum (`classification`, `risk`): its rank orders it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Level {
    pub rank: u32,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Platform {
    /// The environment this model was lowered for.
    pub environment: Environment,
    pub environments: BTreeMap<String, Environment>,
    pub teams: BTreeMap<String, Arc<Team>>,
    pub sources: BTreeMap<String, Arc<Source>>,
    pub entities: BTreeMap<String, Entity>,
    pub feature_views: BTreeMap<String, Arc<FeatureView>>,
    pub models: BTreeMap<String, Arc<Model>>,
    /// Services deployed to `environment`, with its overrides applied.
    pub services: BTreeMap<String, Arc<Service>>,
    pub batch_jobs: BTreeMap<String, Arc<BatchJob>>,
    pub waivers: BTreeMap<String, Waiver>,
    /// The data accesses the policies allowed in this environment, sorted. Empty out of
    /// lowering; the CLI fills it from the policy engine's `read`/`write` decisions
    /// before running targets, so a target that grants access (Terraform's IAM) grants
    /// exactly these and nothing when policies did not run.
    pub grants: Vec<Grant>,
    /// The policy verdicts of this environment; empty out of lowering, filled by the CLI
    /// like `grants` (see [`crate::policy`]).
    pub policy: crate::policy::PolicySummary,
}

/// A declaration named by its kind word and name: `("service", "fraud_api")`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct DeclRef {
    /// `source`, `feature_view`, `model`, `service` or `batch_job`.
    pub kind: String,
    pub name: String,
}

/// One allowed data access: `principal` may `action` (`read` or `write`) `resource`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Grant {
    pub action: String,
    pub principal: DeclRef,
    pub resource: DeclRef,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Team {
    pub name: String,
    pub doc: String,
    pub owner: String,
    pub oncall: Option<String>,
    pub cost_center: Option<String>,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Environment {
    pub name: String,
    pub doc: String,
    /// `production`, `staging` or `development`.
    pub tier: String,
    /// Region enum value, e.g. `eu_west_1`.
    pub region: String,
    pub cluster: Option<String>,
    pub namespace: String,
    pub account: Option<String>,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Column {
    pub name: String,
    pub doc: String,
    pub dtype: String,
    pub pii: bool,
    pub event_time: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Source {
    pub name: String,
    pub doc: String,
    pub kind: String,
    /// `topic`, `bucket`, `prefix`, `table`, `database` as written.
    pub location: BTreeMap<String, String>,
    pub owner: String,
    pub classification: Level,
    pub region: Option<String>,
    /// Regions where the data may be processed (its own region when not given).
    pub residency: Vec<String>,
    pub retention: Option<Duration>,
    pub columns: Vec<Column>,
    pub origin: Origin,
}

impl Source {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entity {
    pub name: String,
    pub doc: String,
    pub key: String,
    pub dtype: String,
    pub origin: Origin,
}

/// A cron schedule with its smallest interval between two runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cron {
    pub expr: String,
    pub interval: Duration,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Resources {
    pub cpu: Option<Millicores>,
    pub memory: Option<Bytes>,
    pub gpu: u32,
    pub accelerator: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Aggregate {
    /// `count`, `sum`, `avg`, `min`, `max`, `last`, `count_distinct`.
    pub function: String,
    pub column: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Feature {
    pub name: String,
    pub doc: String,
    pub dtype: String,
    pub aggregate: Option<Aggregate>,
    pub window: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Expect {
    pub name: String,
    pub column: String,
    pub not_null: bool,
    pub unique: bool,
    pub min: Option<Decimal>,
    pub max: Option<Decimal>,
    pub max_null_percent: Option<Decimal>,
}

/// What a declaration reads, transitively: the derived lineage facts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Lineage {
    pub sources: Vec<String>,
    pub feature_views: Vec<String>,
    /// `source.column` of every upstream column with `pii: true`.
    pub pii_columns: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeatureView {
    pub name: String,
    pub doc: String,
    pub entity: String,
    /// The entity's key column.
    pub key: String,
    pub source: String,
    pub freshness: Option<Duration>,
    pub ttl: Option<Duration>,
    pub online: bool,
    pub schedule: Option<Cron>,
    pub owner: String,
    /// Effective classification: the declared one, or the source's.
    pub classification: Level,
    pub image: Option<String>,
    pub resources: Resources,
    pub features: Vec<Feature>,
    pub expects: Vec<Expect>,
    pub uses_pii: bool,
    pub lineage: Lineage,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FeatureRef {
    pub view: String,
    pub feature: String,
}

impl std::fmt::Display for FeatureRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.view, self.feature)
    }
}

/// A model tensor. `dims` excludes the batch dimension; `-1` is dynamic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tensor {
    pub name: String,
    pub dtype: String,
    pub dims: Vec<i64>,
    /// The features packed into an input tensor, in order (empty for outputs).
    pub features: Vec<FeatureRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub metric: String,
    pub min: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Training {
    pub schedule: Option<Cron>,
    pub image: String,
    pub dataset_window: Option<Duration>,
    pub resources: Resources,
    pub evaluation: Option<Evaluation>,
    pub approvals: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Model {
    pub name: String,
    pub doc: String,
    pub owner: String,
    pub framework: Option<String>,
    pub format: String,
    pub artifact: String,
    pub version: String,
    pub risk: Level,
    pub purpose: Option<String>,
    pub intended_use: Option<String>,
    pub limitations: Option<String>,
    pub explainability: Option<String>,
    pub human_oversight: Option<String>,
    pub inputs: Vec<FeatureRef>,
    pub input_tensors: Vec<Tensor>,
    pub output_tensors: Vec<Tensor>,
    pub training: Option<Training>,
    /// The highest classification of its inputs.
    pub data_classification: Level,
    pub uses_pii: bool,
    pub lineage: Lineage,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum Rollout {
    Rolling,
    Canary {
        steps: Vec<Decimal>,
        pause: Duration,
    },
    Shadow {
        percent: Decimal,
    },
    BlueGreen,
}

impl Rollout {
    pub fn name(&self) -> &'static str {
        match self {
            Rollout::Rolling => "rolling",
            Rollout::Canary { .. } => "canary",
            Rollout::Shadow { .. } => "shadow",
            Rollout::BlueGreen => "blue_green",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Batching {
    pub max_batch: u32,
    pub max_delay: Duration,
    pub preferred: Vec<u32>,
}

/// Objectives are percents (`99.95`); `objective.shift(2)` is the ratio.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Slo {
    Availability {
        objective: Decimal,
        window: Duration,
    },
    Latency {
        percentile: Decimal,
        threshold: Duration,
        objective: Decimal,
        window: Duration,
    },
}

impl Slo {
    pub fn kind(&self) -> &'static str {
        match self {
            Slo::Availability { .. } => "availability",
            Slo::Latency { .. } => "latency",
        }
    }

    pub fn objective(&self) -> Decimal {
        match self {
            Slo::Availability { objective, .. } | Slo::Latency { objective, .. } => *objective,
        }
    }

    pub fn window(&self) -> Duration {
        match self {
            Slo::Availability { window, .. } | Slo::Latency { window, .. } => *window,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Monitor {
    Drift {
        feature: FeatureRef,
        method: String,
        threshold: Decimal,
    },
    Performance {
        metric: String,
        min: Decimal,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Service {
    pub name: String,
    pub doc: String,
    pub model: String,
    pub runtime: String,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// `tier1`, `tier2`, `tier3`.
    pub tier: String,
    pub rollout: Rollout,
    pub batching: Option<Batching>,
    pub resources: Resources,
    /// `internal` or `public`.
    pub expose: String,
    pub callers: Vec<String>,
    pub owner: String,
    pub slos: Vec<Slo>,
    pub monitors: Vec<Monitor>,
    /// Profiles named in `extends`, transitively, e.g. `std.tier1_online`.
    pub profiles: Vec<String>,
    pub data_classification: Level,
    pub uses_pii: bool,
    pub lineage: Lineage,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchJob {
    pub name: String,
    pub doc: String,
    pub model: String,
    pub schedule: Cron,
    pub input: String,
    pub output: String,
    pub image: Option<String>,
    pub resources: Resources,
    pub owner: String,
    pub data_classification: Level,
    pub uses_pii: bool,
    pub lineage: Lineage,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Waiver {
    pub name: String,
    pub policy: String,
    pub targets: Vec<String>,
    pub reason: String,
    pub approved_by: String,
    pub expires: Date,
    pub origin: Origin,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The builder gives what the same calls on a `FieldSpans` give, one by one:
    /// unsorted paths, prefixes, a path set twice (the last wins) and
    /// `insert_if_absent` before and after a `set`.
    #[test]
    fn the_builder_matches_one_call_at_a_time() {
        let span = |n: usize| Span::new(n, n + 1);
        let calls: [(&str, usize, bool); 9] = [
            ("resources", 1, true),
            ("resources.gpu", 2, true),
            ("column.b", 3, true),
            ("column.a", 4, true),
            ("column", 5, false),
            ("column.b", 6, true),
            ("slo", 7, false),
            ("slo", 8, false),
            ("a", 9, true),
        ];
        let mut one_by_one = FieldSpans::default();
        let mut builder = FieldSpansBuilder::default();
        for (path, n, replace) in calls {
            if replace {
                one_by_one.set(path, span(n));
                builder.set(path, span(n));
            } else {
                one_by_one.insert_if_absent(path, span(n));
                builder.insert_if_absent(path, span(n));
            }
        }
        let built = builder.finish();
        assert_eq!(built, one_by_one);
        assert_eq!(
            built.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            [
                "a",
                "column",
                "column.a",
                "column.b",
                "resources",
                "resources.gpu",
                "slo"
            ]
        );
        assert_eq!(built.get("column.b"), Some(&span(6)));
        assert_eq!(built.get("slo"), Some(&span(7)));
    }
}
