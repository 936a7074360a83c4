//! The Cedar entities of one environment, built from the platform model.
//!
//! One builder, generic over where it writes ([`Sink`]): Cedar's entity JSON
//! ([`Json`]: what `plinth explain DECLARATION` prints and what schema validation
//! reads) or Cedar's own values (`eval::CedarSink`: what `plinth check` evaluates,
//! without a JSON detour). Either way the attributes come from the code below, so the
//! entities Cedar evaluates are the ones `explain` shows.
//!
//! Attributes are produced field by field in kind-table order ([`crate::schema`]
//! decides their Cedar types); an attribute the schema expects but this module does not
//! produce fails schema validation of the entities, which fails the check (closed).

use crate::schema::{self, entity_kinds};
use plinth_ir::kinds::KindDef;
use plinth_ir::{
    BatchJob, Decimal, Environment, FeatureView, Lineage, Model, Platform, Resources, Rollout,
    Service, Slo, Source, Team,
};
use rayon::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Facts that need every environment at once.
#[derive(Clone, Debug, Default)]
pub struct CrossEnv {
    /// `(kind, name)` → the environments the declaration is present in.
    pub present_in: BTreeMap<(String, String), BTreeSet<String>>,
    /// Service → regions of the production-tier environments it is deployed to.
    pub production_regions: BTreeMap<String, BTreeSet<String>>,
}

impl CrossEnv {
    pub fn new(platforms: &[&Platform]) -> CrossEnv {
        Self::build(platforms, true)
    }

    /// Without `present_in`, for entities without the `environments` attribute.
    pub fn without_presence(platforms: &[&Platform]) -> CrossEnv {
        Self::build(platforms, false)
    }

    fn build(platforms: &[&Platform], presence: bool) -> CrossEnv {
        let mut facts = CrossEnv::default();
        for p in platforms {
            let env = &p.environment;
            if presence {
                let mut add = |kind: &str, name: &str| {
                    facts
                        .present_in
                        .entry((kind.to_string(), name.to_string()))
                        .or_default()
                        .insert(env.name.clone());
                };
                p.feature_views.keys().for_each(|n| add("feature_view", n));
                p.models.keys().for_each(|n| add("model", n));
                p.services.keys().for_each(|n| add("service", n));
                p.batch_jobs.keys().for_each(|n| add("batch_job", n));
            }
            for name in p.services.keys() {
                let regions = facts.production_regions.entry(name.clone()).or_default();
                if env.tier == "production" {
                    regions.insert(env.region.clone());
                }
            }
        }
        facts
    }

    fn environments<S: Sink>(&self, sink: &S, kind: &str, name: &str) -> S::Value {
        let envs = self
            .present_in
            .get(&(kind.to_string(), name.to_string()))
            .map(|s| {
                s.iter()
                    .map(|e| sink.entity_ref("Environment", e))
                    .collect()
            })
            .unwrap_or_default();
        sink.set(envs)
    }
}

/// Where the builder writes an entity's values. Records keep their fields in the
/// order given (the JSON shows them in that order; a repeated name keeps its first
/// place and its last value, like `serde_json::Map::insert`).
pub trait Sink: Sync {
    type Value: Send;
    type Entity: Send + Sync + Clone;
    fn string(&self, s: &str) -> Self::Value;
    fn bool(&self, b: bool) -> Self::Value;
    fn long(&self, n: i64) -> Self::Value;
    fn set(&self, items: Vec<Self::Value>) -> Self::Value;
    fn record(&self, fields: Vec<(&str, Self::Value)>) -> Self::Value;
    /// A reference to `Plinth::<entity>::"<id>"`.
    fn entity_ref(&self, entity: &'static str, id: &str) -> Self::Value;
    /// `decimal("<text>")`, the text [`cedar_decimal`] writes; `d` is normalized and
    /// has at most 4 fractional digits.
    fn decimal(&self, d: Decimal) -> Self::Value;
    /// The entity `Plinth::<entity>::"<id>"`, its owner team its only parent.
    fn entity(
        &self,
        entity: &'static str,
        id: &str,
        attrs: Vec<(&str, Self::Value)>,
        owner: Option<&str>,
    ) -> Self::Entity;
}

/// Cedar's entity JSON.
pub struct Json;

impl Sink for Json {
    type Value = Value;
    type Entity = Value;
    fn string(&self, s: &str) -> Value {
        Value::String(s.to_string())
    }
    fn bool(&self, b: bool) -> Value {
        Value::Bool(b)
    }
    fn long(&self, n: i64) -> Value {
        Value::from(n)
    }
    fn set(&self, items: Vec<Value>) -> Value {
        Value::Array(items)
    }
    fn record(&self, fields: Vec<(&str, Value)>) -> Value {
        Value::Object(object(fields))
    }
    fn entity_ref(&self, entity: &'static str, id: &str) -> Value {
        json!({ "__entity": uid_json(entity, id) })
    }
    fn decimal(&self, d: Decimal) -> Value {
        let text = cedar_decimal(d).unwrap_or_else(|| "0.0".to_string());
        json!({ "__extn": { "fn": "decimal", "arg": text } })
    }
    fn entity(
        &self,
        entity: &'static str,
        id: &str,
        attrs: Vec<(&str, Value)>,
        owner: Option<&str>,
    ) -> Value {
        let parents: Vec<Value> = owner.map(|o| uid_json("Team", o)).into_iter().collect();
        json!({
            "uid": uid_json(entity, id),
            "attrs": Value::Object(object(attrs)),
            "parents": parents,
        })
    }
}

fn object(fields: Vec<(&str, Value)>) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in fields {
        m.insert(k.to_string(), v);
    }
    m
}

/// A value that Cedar cannot hold (a decimal with more than 4 fractional digits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityError {
    pub kind: &'static str,
    pub name: String,
    pub field: String,
    pub message: String,
}

/// `{"type": "Plinth::Team", "id": "risk_ml"}`
pub fn uid_json(entity: &str, id: &str) -> Value {
    json!({ "type": format!("Plinth::{entity}"), "id": id })
}

fn strings<'a, S: Sink>(sink: &S, items: impl IntoIterator<Item = &'a String>) -> S::Value {
    sink.set(items.into_iter().map(|s| sink.string(s)).collect())
}

fn long<S: Sink>(sink: &S, n: u64) -> S::Value {
    sink.long(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The attributes to build; `None` builds all (for `explain` and schema validation).
pub type Keep<'a> = Option<&'a AttrNames>;

/// A set of attribute names.
pub type AttrNames =
    std::collections::HashSet<String, std::hash::BuildHasherDefault<crate::memo::FxHasher>>;

/// Collects attributes and the first value Cedar cannot represent.
struct Builder<'a, S: Sink> {
    sink: &'a S,
    kind: &'static str,
    name: &'a str,
    attrs: Vec<(&'a str, S::Value)>,
    errors: &'a mut Vec<EntityError>,
    /// Only these attributes are needed (policies read nothing else); `None`: all.
    keep: Keep<'a>,
}

impl<'a, S: Sink> Builder<'a, S> {
    fn new(
        sink: &'a S,
        kind: &'static str,
        name: &'a str,
        errors: &'a mut Vec<EntityError>,
        keep: Keep<'a>,
    ) -> Self {
        Builder {
            sink,
            kind,
            name,
            attrs: Vec::new(),
            errors,
            keep,
        }
    }

    /// Whether the attribute is needed; expensive ones are only computed then.
    fn wants(&self, name: &str) -> bool {
        self.keep.is_none_or(|k| k.contains(name))
    }

    fn decimal(&mut self, field: &str, d: Decimal) -> S::Value {
        let normalized = d.normalized();
        match normalized.scale {
            0..=4 => self.sink.decimal(normalized),
            _ => {
                self.errors.push(EntityError {
                    kind: self.kind,
                    name: self.name.to_string(),
                    field: field.to_string(),
                    message: format!(
                        "`{d}` has more than 4 decimal places, which Cedar policies cannot compare"
                    ),
                });
                self.sink.decimal(Decimal { units: 0, scale: 0 })
            }
        }
    }

    fn set(&mut self, name: &'a str, value: S::Value) {
        if self.wants(name) {
            self.attrs.push((name, value));
        }
    }

    fn opt(&mut self, name: &'a str, value: Option<S::Value>) {
        if let Some(v) = value {
            self.set(name, v);
        }
    }

    fn string(&mut self, name: &'a str, value: &str) {
        if self.wants(name) {
            let v = self.sink.string(value);
            self.attrs.push((name, v));
        }
    }

    fn opt_string(&mut self, name: &'a str, value: Option<&String>) {
        if let Some(v) = value {
            self.string(name, v);
        }
    }

    fn bool(&mut self, name: &'a str, value: bool) {
        if self.wants(name) {
            let v = self.sink.bool(value);
            self.attrs.push((name, v));
        }
    }

    fn entity_ref(&mut self, name: &'a str, entity: &'static str, id: &str) {
        if self.wants(name) {
            let v = self.sink.entity_ref(entity, id);
            self.attrs.push((name, v));
        }
    }

    fn strings<'s>(&mut self, name: &'a str, items: impl IntoIterator<Item = &'s String>) {
        if self.wants(name) {
            let v = strings(self.sink, items);
            self.attrs.push((name, v));
        }
    }

    fn finish(self, entity: &'static str, owner: Option<&str>) -> S::Entity {
        self.sink.entity(entity, self.name, self.attrs, owner)
    }
}

/// Cedar's decimal literal: a point and 1 to 4 fractional digits.
pub fn cedar_decimal(d: Decimal) -> Option<String> {
    let d = d.normalized();
    if d.scale > 4 {
        return None;
    }
    let text = d.to_string();
    Some(if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    })
}

fn resources<S: Sink>(sink: &S, r: &Resources) -> S::Value {
    let mut m = Vec::new();
    if let Some(cpu) = r.cpu {
        m.push(("cpu", long(sink, cpu.0)));
    }
    if let Some(mem) = r.memory {
        m.push(("memory", long(sink, mem.0)));
    }
    m.push(("gpu", sink.long(i64::from(r.gpu))));
    if let Some(acc) = &r.accelerator {
        m.push(("accelerator", sink.string(acc)));
    }
    sink.record(m)
}

fn lineage<S: Sink>(sink: &S, l: &Lineage) -> S::Value {
    sink.record(vec![
        (
            "sources",
            sink.set(
                l.sources
                    .iter()
                    .map(|s| sink.entity_ref("Source", s))
                    .collect(),
            ),
        ),
        (
            "feature_views",
            sink.set(
                l.feature_views
                    .iter()
                    .map(|s| sink.entity_ref("FeatureView", s))
                    .collect(),
            ),
        ),
        ("pii_columns", strings(sink, &l.pii_columns)),
    ])
}

/// Regions allowed by every upstream source with PII; `None` without PII.
fn pii_residency<S: Sink>(sink: &S, p: &Platform, l: &Lineage) -> Option<S::Value> {
    let pii_sources: BTreeSet<&str> = l
        .pii_columns
        .iter()
        .filter_map(|c| c.split_once('.').map(|(s, _)| s))
        .collect();
    let mut allowed: Option<BTreeSet<&String>> = None;
    for s in pii_sources {
        let residency: BTreeSet<&String> = p
            .sources
            .get(s)
            .map(|src| src.residency.iter().collect())
            .unwrap_or_default();
        allowed = Some(match allowed {
            None => residency,
            Some(a) => a.intersection(&residency).copied().collect(),
        });
    }
    allowed.map(|a| strings(sink, a))
}

fn team<S: Sink>(sink: &S, t: &Team) -> S::Entity {
    let mut attrs = vec![("owner", sink.string(&t.owner))];
    if let Some(o) = &t.oncall {
        attrs.push(("oncall", sink.string(o)));
    }
    if let Some(c) = &t.cost_center {
        attrs.push(("cost_center", sink.string(c)));
    }
    sink.entity("Team", &t.name, attrs, None)
}

fn environment<S: Sink>(sink: &S, e: &Environment) -> S::Entity {
    sink.entity("Environment", &e.name, environment_attrs(sink, e), None)
}

fn environment_attrs<S: Sink>(sink: &S, e: &Environment) -> Vec<(&'static str, S::Value)> {
    let mut attrs = vec![
        ("tier", sink.string(&e.tier)),
        ("region", sink.string(&e.region)),
    ];
    if let Some(c) = &e.cluster {
        attrs.push(("cluster", sink.string(c)));
    }
    attrs.push(("namespace", sink.string(&e.namespace)));
    if let Some(a) = &e.account {
        attrs.push(("account", sink.string(a)));
    }
    attrs
}

/// The request context of an environment: its attributes, its name and its entity.
pub fn context<S: Sink>(sink: &S, e: &Environment) -> S::Value {
    let mut attrs = environment_attrs(sink, e);
    attrs.push(("name", sink.string(&e.name)));
    attrs.push(("environment", sink.entity_ref("Environment", &e.name)));
    sink.record(attrs)
}

fn source<S: Sink>(
    sink: &S,
    s: &Source,
    errors: &mut Vec<EntityError>,
    keep: Keep<'_>,
) -> S::Entity {
    let mut b = Builder::new(sink, "source", &s.name, errors, keep);
    b.string("kind", &s.kind);
    for (k, v) in &s.location {
        b.string(k, v);
    }
    b.entity_ref("owner", "Team", &s.owner);
    b.string("classification", &s.classification.name);
    b.opt_string("region", s.region.as_ref());
    b.strings("residency", &s.residency);
    b.opt("retention", s.retention.map(|d| long(sink, d.millis())));
    if b.wants("column") {
        let columns: Vec<S::Value> = s
            .columns
            .iter()
            .map(|c| {
                sink.record(vec![
                    ("name", sink.string(&c.name)),
                    ("type", sink.string(&c.dtype)),
                    ("pii", sink.bool(c.pii)),
                    ("event_time", sink.bool(c.event_time)),
                ])
            })
            .collect();
        b.set("column", sink.set(columns));
    }
    let pii: Vec<String> = s
        .columns
        .iter()
        .filter(|c| c.pii)
        .map(|c| format!("{}.{}", s.name, c.name))
        .collect();
    b.bool("pii", !pii.is_empty());
    b.strings("pii_columns", &pii);
    b.finish("Source", Some(&s.owner))
}

fn feature_view<S: Sink>(
    sink: &S,
    p: &Platform,
    cross: &CrossEnv,
    v: &FeatureView,
    errors: &mut Vec<EntityError>,
    keep: Keep<'_>,
) -> S::Entity {
    let mut b = Builder::new(sink, "feature_view", &v.name, errors, keep);
    b.string("entity", &v.entity);
    b.entity_ref("source", "Source", &v.source);
    b.opt("freshness", v.freshness.map(|d| long(sink, d.millis())));
    b.opt("ttl", v.ttl.map(|d| long(sink, d.millis())));
    b.bool("online", v.online);
    b.opt_string("schedule", v.schedule.as_ref().map(|c| &c.expr));
    b.opt_string("image", v.image.as_ref());
    if b.wants("resources") {
        b.set("resources", resources(sink, &v.resources));
    }
    if b.wants("feature") {
        let features: Vec<S::Value> = v
            .features
            .iter()
            .map(|f| {
                let mut m = vec![
                    ("name", sink.string(&f.name)),
                    ("type", sink.string(&f.dtype)),
                ];
                if let Some(a) = &f.aggregate {
                    m.push((
                        "aggregate",
                        sink.string(&format!("{}({})", a.function, a.column)),
                    ));
                }
                if let Some(w) = f.window {
                    m.push(("window", long(sink, w.millis())));
                }
                sink.record(m)
            })
            .collect();
        b.set("feature", sink.set(features));
    }
    // Built whether or not it is kept: a decimal Cedar cannot hold is an error either way.
    let mut expects = Vec::new();
    for e in &v.expects {
        let mut m = vec![
            ("name", sink.string(&e.name)),
            ("column", sink.string(&e.column)),
            ("not_null", sink.bool(e.not_null)),
            ("unique", sink.bool(e.unique)),
        ];
        for (k, d) in [
            ("min", e.min),
            ("max", e.max),
            ("max_null_percent", e.max_null_percent),
        ] {
            if let Some(d) = d {
                let value = b.decimal(&format!("expect.{}.{k}", e.name), d);
                m.push((k, value));
            }
        }
        expects.push(sink.record(m));
    }
    b.set("expect", sink.set(expects));
    if b.wants("environments") {
        b.set(
            "environments",
            cross.environments(sink, "feature_view", &v.name),
        );
    }
    b.entity_ref("owner", "Team", &v.owner);
    b.string("classification", &v.classification.name);
    b.bool("uses_pii", v.uses_pii);
    if b.wants("lineage") {
        b.set("lineage", lineage(sink, &v.lineage));
    }
    if b.wants("pii_residency") {
        b.opt("pii_residency", pii_residency(sink, p, &v.lineage));
    }
    b.finish("FeatureView", Some(&v.owner))
}

fn model<S: Sink>(
    sink: &S,
    p: &Platform,
    m: &Model,
    errors: &mut Vec<EntityError>,
    keep: Keep<'_>,
) -> S::Entity {
    let mut b = Builder::new(sink, "model", &m.name, errors, keep);
    b.entity_ref("owner", "Team", &m.owner);
    b.opt_string("framework", m.framework.as_ref());
    b.string("format", &m.format);
    b.string("artifact", &m.artifact);
    b.string("version", &m.version);
    b.string("risk", &m.risk.name);
    for (k, v) in [
        ("purpose", &m.purpose),
        ("intended_use", &m.intended_use),
        ("limitations", &m.limitations),
        ("explainability", &m.explainability),
        ("human_oversight", &m.human_oversight),
    ] {
        b.opt_string(k, v.as_ref());
    }
    if b.wants("inputs") {
        let inputs = m
            .inputs
            .iter()
            .map(|f| sink.string(&f.to_string()))
            .collect();
        b.set("inputs", sink.set(inputs));
    }
    let tensors = |ts: &[plinth_ir::Tensor], with_features: bool| -> S::Value {
        sink.set(
            ts.iter()
                .map(|t| {
                    let mut o = vec![
                        ("name", sink.string(&t.name)),
                        ("dtype", sink.string(&t.dtype)),
                        (
                            "shape",
                            sink.set(t.dims.iter().map(|d| sink.long(*d)).collect()),
                        ),
                    ];
                    if with_features {
                        o.push((
                            "features",
                            sink.set(
                                t.features
                                    .iter()
                                    .map(|f| sink.string(&f.to_string()))
                                    .collect(),
                            ),
                        ));
                    }
                    sink.record(o)
                })
                .collect(),
        )
    };
    if b.wants("input") {
        b.set("input", tensors(&m.input_tensors, true));
    }
    if b.wants("output") {
        b.set("output", tensors(&m.output_tensors, false));
    }
    if let Some(t) = &m.training {
        // Built whether or not it is kept: a decimal Cedar cannot hold is an error
        // either way.
        let mut o = Vec::new();
        if let Some(s) = &t.schedule {
            o.push(("schedule", sink.string(&s.expr)));
        }
        o.push(("image", sink.string(&t.image)));
        if let Some(w) = t.dataset_window {
            o.push(("dataset_window", long(sink, w.millis())));
        }
        o.push(("resources", resources(sink, &t.resources)));
        if let Some(e) = &t.evaluation {
            let min = b.decimal("training.evaluation.min", e.min);
            o.push((
                "evaluation",
                sink.record(vec![("metric", sink.string(&e.metric)), ("min", min)]),
            ));
        }
        o.push(("approvals", strings(sink, &t.approvals)));
        b.set("training", sink.record(o));
    }
    b.string("data_classification", &m.data_classification.name);
    b.bool("uses_pii", m.uses_pii);
    if b.wants("lineage") {
        b.set("lineage", lineage(sink, &m.lineage));
    }
    if b.wants("pii_residency") {
        b.opt("pii_residency", pii_residency(sink, p, &m.lineage));
    }
    b.bool("has_training", m.training.is_some());
    b.finish("Model", Some(&m.owner))
}

fn service<S: Sink>(
    sink: &S,
    p: &Platform,
    cross: &CrossEnv,
    s: &Service,
    errors: &mut Vec<EntityError>,
    keep: Keep<'_>,
) -> S::Entity {
    let mut b = Builder::new(sink, "service", &s.name, errors, keep);
    b.entity_ref("model", "Model", &s.model);
    b.string("runtime", &s.runtime);
    if b.wants("replicas") {
        let replicas = sink.record(vec![
            ("min", sink.long(i64::from(s.min_replicas))),
            ("max", sink.long(i64::from(s.max_replicas))),
        ]);
        b.set("replicas", replicas);
    }
    b.string("tier", &s.tier);
    // Decimals are built whether or not the attribute is kept: one Cedar cannot hold
    // is an error either way.
    let rollout = match &s.rollout {
        Rollout::Canary { steps, pause } => {
            let steps: Vec<S::Value> = steps
                .iter()
                .map(|d| b.decimal("rollout.canary.steps", *d))
                .collect();
            sink.record(vec![
                ("kind", sink.string("canary")),
                (
                    "canary",
                    sink.record(vec![
                        ("steps", sink.set(steps)),
                        ("pause", long(sink, pause.millis())),
                    ]),
                ),
            ])
        }
        Rollout::Shadow { percent } => {
            let percent = b.decimal("rollout.shadow.percent", *percent);
            sink.record(vec![
                ("kind", sink.string("shadow")),
                ("shadow", sink.record(vec![("percent", percent)])),
            ])
        }
        other => sink.record(vec![("kind", sink.string(other.name()))]),
    };
    b.set("rollout", rollout);
    if let Some(batching) = &s.batching
        && b.wants("batching")
    {
        let value = sink.record(vec![
            ("max_batch", sink.long(i64::from(batching.max_batch))),
            ("max_delay", long(sink, batching.max_delay.millis())),
            (
                "preferred",
                sink.set(
                    batching
                        .preferred
                        .iter()
                        .map(|n| sink.long(i64::from(*n)))
                        .collect(),
                ),
            ),
        ]);
        b.set("batching", value);
    }
    if b.wants("resources") {
        b.set("resources", resources(sink, &s.resources));
    }
    b.string("expose", &s.expose);
    b.strings("callers", &s.callers);
    let mut slo = Vec::new();
    for o in &s.slos {
        let value = match o {
            Slo::Availability { objective, window } => {
                let objective = b.decimal("slo.availability.objective", *objective);
                sink.record(vec![
                    ("objective", objective),
                    ("window", long(sink, window.millis())),
                ])
            }
            Slo::Latency {
                percentile,
                threshold,
                objective,
                window,
            } => {
                let percentile = b.decimal("slo.latency.percentile", *percentile);
                let objective = b.decimal("slo.latency.objective", *objective);
                sink.record(vec![
                    ("percentile", percentile),
                    ("threshold", long(sink, threshold.millis())),
                    ("objective", objective),
                    ("window", long(sink, window.millis())),
                ])
            }
        };
        slo.push((o.kind(), value));
    }
    b.set("slo", sink.record(slo));
    let mut monitor = Vec::new();
    for m in &s.monitors {
        match m {
            plinth_ir::Monitor::Drift {
                feature,
                method,
                threshold,
            } => {
                let threshold = b.decimal("monitor.drift.threshold", *threshold);
                monitor.push((
                    "drift",
                    sink.record(vec![
                        ("feature", sink.string(&feature.to_string())),
                        ("method", sink.string(method)),
                        ("threshold", threshold),
                    ]),
                ));
            }
            plinth_ir::Monitor::Performance { metric, min } => {
                let min = b.decimal("monitor.performance.min", *min);
                monitor.push((
                    "performance",
                    sink.record(vec![("metric", sink.string(metric)), ("min", min)]),
                ));
            }
        }
    }
    b.set("monitor", sink.record(monitor));
    if b.wants("environments") {
        b.set("environments", cross.environments(sink, "service", &s.name));
    }
    b.entity_ref("owner", "Team", &s.owner);
    b.string("data_classification", &s.data_classification.name);
    b.bool("uses_pii", s.uses_pii);
    if b.wants("lineage") {
        b.set("lineage", lineage(sink, &s.lineage));
    }
    if b.wants("pii_residency") {
        b.opt("pii_residency", pii_residency(sink, p, &s.lineage));
    }
    b.strings("profiles", &s.profiles);
    let regions = cross.production_regions.get(&s.name);
    if b.wants("production_region_count") {
        let count = regions.map_or(0, BTreeSet::len);
        b.set(
            "production_region_count",
            long(sink, u64::try_from(count).unwrap_or(u64::MAX)),
        );
    }
    b.strings("production_regions", regions.into_iter().flatten());
    b.finish("Service", Some(&s.owner))
}

fn batch_job<S: Sink>(
    sink: &S,
    p: &Platform,
    cross: &CrossEnv,
    j: &BatchJob,
    errors: &mut Vec<EntityError>,
    keep: Keep<'_>,
) -> S::Entity {
    let mut b = Builder::new(sink, "batch_job", &j.name, errors, keep);
    b.entity_ref("model", "Model", &j.model);
    b.string("schedule", &j.schedule.expr);
    b.entity_ref("input", "Source", &j.input);
    b.entity_ref("output", "Source", &j.output);
    b.opt_string("image", j.image.as_ref());
    if b.wants("resources") {
        b.set("resources", resources(sink, &j.resources));
    }
    if b.wants("environments") {
        b.set(
            "environments",
            cross.environments(sink, "batch_job", &j.name),
        );
    }
    b.entity_ref("owner", "Team", &j.owner);
    b.string("data_classification", &j.data_classification.name);
    b.bool("uses_pii", j.uses_pii);
    if b.wants("lineage") {
        b.set("lineage", lineage(sink, &j.lineage));
    }
    if b.wants("pii_residency") {
        b.opt("pii_residency", pii_residency(sink, p, &j.lineage));
    }
    b.finish("BatchJob", Some(&j.owner))
}

/// Every entity of one environment, keyed by `(Cedar type, name)`.
pub fn build<S: Sink>(
    sink: &S,
    p: &Platform,
    cross: &CrossEnv,
    errors: &mut Vec<EntityError>,
    keep: Keep<'_>,
) -> BTreeMap<(&'static str, String), S::Entity> {
    build_all(sink, p, cross, errors, keep, None)
        .into_iter()
        .map(|((entity, name), e)| ((entity, name.to_string()), e))
        .collect()
}

/// The entities built for the previous environment, by the address of the declaration
/// each was built from (with its errors). Lowering shares one `Arc` among the
/// environments that have a declaration as declared, and an entity depends only on its
/// declaration, the sources (which every environment shares) and [`CrossEnv`]: an
/// entity of a declaration already seen is the same entity (given the same `cross`,
/// `keep` and values for every environment, as `evaluate` gives).
///
/// `'p` is how long the platforms live: an address names one declaration only while it
/// is allocated, so every platform built with one `Earlier` must outlive it.
pub struct Earlier<'p, E> {
    by_declaration: std::collections::HashMap<usize, (E, Vec<EntityError>)>,
    platforms: std::marker::PhantomData<&'p Platform>,
}

impl<E> Default for Earlier<'_, E> {
    fn default() -> Self {
        Earlier {
            by_declaration: std::collections::HashMap::new(),
            platforms: std::marker::PhantomData,
        }
    }
}

/// The address of a shared declaration: its identity while the platforms live.
fn address<T>(declaration: &std::sync::Arc<T>) -> usize {
    std::sync::Arc::as_ptr(declaration) as usize
}

/// Every entity of one environment with its `(Cedar type, name)`, in that order
/// ([`build`]'s), built on all cores. Errors are reported in declaration-kind order
/// (sources, feature views, models, services, batch jobs). With `earlier`, an entity
/// of a declaration the previous environment had is taken from there, and `earlier`
/// then holds this environment's.
pub fn build_all<'p, S: Sink>(
    sink: &S,
    p: &'p Platform,
    cross: &CrossEnv,
    errors: &mut Vec<EntityError>,
    keep: Keep<'_>,
    earlier: Option<&mut Earlier<'p, S::Entity>>,
) -> Vec<((&'static str, &'p str), S::Entity)> {
    // Each declaration's entity depends only on the platform; `usize` is the
    // address of a shared declaration (0 for environments).
    type Built<'p, E> = ((&'static str, &'p str), E, Vec<EntityError>, usize);
    fn one<'p, E>(
        entity: &'static str,
        name: &'p str,
        f: impl FnOnce(&mut Vec<EntityError>) -> E,
    ) -> Built<'p, E> {
        let mut errors = Vec::new();
        let value = f(&mut errors);
        ((entity, name), value, errors, 0)
    }
    let prior = earlier.as_deref();
    let shared = |entity: &'static str,
                  name: &'p str,
                  at: usize,
                  f: &dyn Fn(&mut Vec<EntityError>) -> S::Entity|
     -> Built<'p, S::Entity> {
        match prior.and_then(|e| e.by_declaration.get(&at)) {
            Some((value, errs)) => ((entity, name), value.clone(), errs.clone(), at),
            None => {
                let mut made = one(entity, name, f);
                made.3 = at;
                made
            }
        }
    };
    let teams: Vec<Built<'p, S::Entity>> = p
        .teams
        .par_iter()
        .map(|(_, t)| shared("Team", &t.name, address(t), &|_| team(sink, t)))
        .collect();
    let environments: Vec<Built<'p, S::Entity>> = p
        .environments
        .par_iter()
        .map(|(_, e)| one("Environment", &e.name, |_| environment(sink, e)))
        .collect();
    let sources: Vec<Built<'p, S::Entity>> = p
        .sources
        .par_iter()
        .map(|(_, s)| shared("Source", &s.name, address(s), &|e| source(sink, s, e, keep)))
        .collect();
    let feature_views: Vec<Built<'p, S::Entity>> = p
        .feature_views
        .par_iter()
        .map(|(_, v)| {
            shared("FeatureView", &v.name, address(v), &|e| {
                feature_view(sink, p, cross, v, e, keep)
            })
        })
        .collect();
    let models: Vec<Built<'p, S::Entity>> = p
        .models
        .par_iter()
        .map(|(_, m)| {
            shared("Model", &m.name, address(m), &|e| {
                model(sink, p, m, e, keep)
            })
        })
        .collect();
    let services: Vec<Built<'p, S::Entity>> = p
        .services
        .par_iter()
        .map(|(_, s)| {
            shared("Service", &s.name, address(s), &|e| {
                service(sink, p, cross, s, e, keep)
            })
        })
        .collect();
    let batch_jobs: Vec<Built<'p, S::Entity>> = p
        .batch_jobs
        .par_iter()
        .map(|(_, j)| {
            shared("BatchJob", &j.name, address(j), &|e| {
                batch_job(sink, p, cross, j, e, keep)
            })
        })
        .collect();
    for group in [&sources, &feature_views, &models, &services, &batch_jobs] {
        for (_, _, errs, _) in group {
            errors.extend(errs.iter().cloned());
        }
    }
    if let Some(earlier) = earlier {
        earlier.by_declaration.clear();
        for group in [
            &teams,
            &sources,
            &feature_views,
            &models,
            &services,
            &batch_jobs,
        ] {
            for (_, value, errs, at) in group {
                earlier
                    .by_declaration
                    .insert(*at, (value.clone(), errs.clone()));
            }
        }
    }
    // Each group is in name order (the platform's maps are); the groups in type order.
    let mut out = Vec::with_capacity(
        teams.len()
            + environments.len()
            + sources.len()
            + feature_views.len()
            + models.len()
            + services.len()
            + batch_jobs.len(),
    );
    for group in [
        batch_jobs,
        environments,
        feature_views,
        models,
        services,
        sources,
        teams,
    ] {
        out.extend(group.into_iter().map(|(key, e, ..)| (key, e)));
    }
    out
}

/// The kind definition of a Cedar entity type (`Service` → the `service` table).
pub fn kind_of_entity(entity: &str) -> Option<&'static KindDef> {
    entity_kinds().find(|(_, e)| *e == entity).map(|(k, _)| k)
}

/// Every attribute the schema declares for `entity` (for the tests).
pub fn schema_attributes(entity: &str) -> Vec<&'static str> {
    kind_of_entity(entity)
        .map(|k| {
            schema::attributes(k, entity)
                .into_iter()
                .map(|(n, ..)| n)
                .collect()
        })
        .unwrap_or_default()
}
