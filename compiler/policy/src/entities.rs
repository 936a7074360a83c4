//! The Cedar entities of one environment, built from the platform model as Cedar's
//! entity JSON (so `plinth explain DECLARATION` can print exactly what policies see).
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
        let mut facts = CrossEnv::default();
        for p in platforms {
            let env = &p.environment;
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
            for name in p.services.keys() {
                let regions = facts.production_regions.entry(name.clone()).or_default();
                if env.tier == "production" {
                    regions.insert(env.region.clone());
                }
            }
        }
        facts
    }

    fn environments(&self, kind: &str, name: &str) -> Value {
        let envs = self
            .present_in
            .get(&(kind.to_string(), name.to_string()))
            .map(|s| s.iter().map(|e| uid("Environment", e)).collect())
            .unwrap_or_default();
        Value::Array(envs)
    }
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

fn uid(entity: &str, id: &str) -> Value {
    json!({ "__entity": uid_json(entity, id) })
}

fn strings<'a>(items: impl IntoIterator<Item = &'a String>) -> Value {
    Value::Array(
        items
            .into_iter()
            .map(|s| Value::String(s.clone()))
            .collect(),
    )
}

fn long(n: u64) -> Value {
    Value::from(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The attributes to build; `None` builds all (for `explain` and schema validation).
pub type Keep<'a> = Option<&'a BTreeSet<String>>;

/// Collects attributes and the first value Cedar cannot represent.
struct Builder<'a> {
    kind: &'static str,
    name: &'a str,
    attrs: Map<String, Value>,
    errors: &'a mut Vec<EntityError>,
    /// Only these attributes are needed (policies read nothing else); `None`: all.
    keep: Option<&'a BTreeSet<String>>,
}

impl Builder<'_> {
    /// Whether the attribute is needed; expensive ones are only computed then.
    fn wants(&self, name: &str) -> bool {
        self.keep.is_none_or(|k| k.contains(name))
    }

    fn decimal(&mut self, field: &str, d: Decimal) -> Value {
        match cedar_decimal(d) {
            Some(text) => json!({ "__extn": { "fn": "decimal", "arg": text } }),
            None => {
                self.errors.push(EntityError {
                    kind: self.kind,
                    name: self.name.to_string(),
                    field: field.to_string(),
                    message: format!(
                        "`{d}` has more than 4 decimal places, which Cedar policies cannot compare"
                    ),
                });
                json!({ "__extn": { "fn": "decimal", "arg": "0.0" } })
            }
        }
    }

    fn set(&mut self, name: &str, value: Value) {
        if self.wants(name) {
            self.attrs.insert(name.to_string(), value);
        }
    }

    fn opt(&mut self, name: &str, value: Option<Value>) {
        if let Some(v) = value {
            self.set(name, v);
        }
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

/// The entity JSON of one declaration.
fn entity(entity_type: &str, name: &str, attrs: Map<String, Value>, owner: Option<&str>) -> Value {
    let parents: Vec<Value> = owner.map(|o| uid_json("Team", o)).into_iter().collect();
    json!({
        "uid": uid_json(entity_type, name),
        "attrs": Value::Object(attrs),
        "parents": parents,
    })
}

fn resources(b: &mut Builder, prefix: &str, r: &Resources) -> Value {
    let mut m = Map::new();
    if let Some(cpu) = r.cpu {
        m.insert("cpu".into(), long(cpu.0));
    }
    if let Some(mem) = r.memory {
        m.insert("memory".into(), long(mem.0));
    }
    m.insert("gpu".into(), Value::from(r.gpu));
    if let Some(acc) = &r.accelerator {
        m.insert("accelerator".into(), Value::String(acc.clone()));
    }
    let _ = (b, prefix);
    Value::Object(m)
}

fn lineage(l: &Lineage) -> Value {
    json!({
        "sources": l.sources.iter().map(|s| uid("Source", s)).collect::<Vec<_>>(),
        "feature_views": l.feature_views.iter().map(|s| uid("FeatureView", s)).collect::<Vec<_>>(),
        "pii_columns": strings(&l.pii_columns),
    })
}

/// Regions allowed by every upstream source with PII; `None` without PII.
fn pii_residency(p: &Platform, l: &Lineage) -> Option<Value> {
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
    allowed.map(strings)
}

fn team(t: &Team) -> Value {
    let mut attrs = Map::new();
    attrs.insert("owner".into(), Value::String(t.owner.clone()));
    if let Some(o) = &t.oncall {
        attrs.insert("oncall".into(), Value::String(o.clone()));
    }
    if let Some(c) = &t.cost_center {
        attrs.insert("cost_center".into(), Value::String(c.clone()));
    }
    entity("Team", &t.name, attrs, None)
}

fn environment(e: &Environment) -> Value {
    entity("Environment", &e.name, environment_attrs(e), None)
}

fn environment_attrs(e: &Environment) -> Map<String, Value> {
    let mut attrs = Map::new();
    attrs.insert("tier".into(), Value::String(e.tier.clone()));
    attrs.insert("region".into(), Value::String(e.region.clone()));
    if let Some(c) = &e.cluster {
        attrs.insert("cluster".into(), Value::String(c.clone()));
    }
    attrs.insert("namespace".into(), Value::String(e.namespace.clone()));
    if let Some(a) = &e.account {
        attrs.insert("account".into(), Value::String(a.clone()));
    }
    attrs
}

/// The request context of an environment: its attributes, its name and its entity.
pub fn context(e: &Environment) -> Value {
    let mut attrs = environment_attrs(e);
    attrs.insert("name".into(), Value::String(e.name.clone()));
    attrs.insert("environment".into(), uid("Environment", &e.name));
    Value::Object(attrs)
}

fn source(s: &Source, errors: &mut Vec<EntityError>, keep: Keep<'_>) -> Value {
    let mut b = Builder {
        kind: "source",
        name: &s.name,
        attrs: Map::new(),
        errors,
        keep,
    };
    b.set("kind", Value::String(s.kind.clone()));
    for (k, v) in &s.location {
        b.set(k, Value::String(v.clone()));
    }
    b.set("owner", uid("Team", &s.owner));
    b.set(
        "classification",
        Value::String(s.classification.name.clone()),
    );
    b.opt("region", s.region.clone().map(Value::String));
    b.set("residency", strings(&s.residency));
    b.opt("retention", s.retention.map(|d| long(d.millis())));
    if b.wants("column") {
        let columns: Vec<Value> = s
            .columns
            .iter()
            .map(|c| json!({ "name": c.name, "type": c.dtype, "pii": c.pii, "event_time": c.event_time }))
            .collect();
        b.set("column", Value::Array(columns));
    }
    let pii: Vec<String> = s
        .columns
        .iter()
        .filter(|c| c.pii)
        .map(|c| format!("{}.{}", s.name, c.name))
        .collect();
    b.set("pii", Value::Bool(!pii.is_empty()));
    b.set("pii_columns", strings(&pii));
    entity("Source", &s.name, b.attrs, Some(&s.owner))
}

fn feature_view(
    p: &Platform,
    cross: &CrossEnv,
    v: &FeatureView,
    errors: &mut Vec<EntityError>,
    keep: Keep<'_>,
) -> Value {
    let mut b = Builder {
        kind: "feature_view",
        name: &v.name,
        attrs: Map::new(),
        errors,
        keep,
    };
    b.set("entity", Value::String(v.entity.clone()));
    b.set("source", uid("Source", &v.source));
    b.opt("freshness", v.freshness.map(|d| long(d.millis())));
    b.opt("ttl", v.ttl.map(|d| long(d.millis())));
    b.set("online", Value::Bool(v.online));
    b.opt(
        "schedule",
        v.schedule.as_ref().map(|c| Value::String(c.expr.clone())),
    );
    b.opt("image", v.image.clone().map(Value::String));
    let res = resources(&mut b, "resources", &v.resources);
    b.set("resources", res);
    if b.wants("feature") {
        let features: Vec<Value> = v
            .features
            .iter()
            .map(|f| {
                let mut m = Map::new();
                m.insert("name".into(), Value::String(f.name.clone()));
                m.insert("type".into(), Value::String(f.dtype.clone()));
                if let Some(a) = &f.aggregate {
                    m.insert(
                        "aggregate".into(),
                        Value::String(format!("{}({})", a.function, a.column)),
                    );
                }
                if let Some(w) = f.window {
                    m.insert("window".into(), long(w.millis()));
                }
                Value::Object(m)
            })
            .collect();
        b.set("feature", Value::Array(features));
    }
    let mut expects = Vec::new();
    for e in &v.expects {
        let mut m = Map::new();
        m.insert("name".into(), Value::String(e.name.clone()));
        m.insert("column".into(), Value::String(e.column.clone()));
        m.insert("not_null".into(), Value::Bool(e.not_null));
        m.insert("unique".into(), Value::Bool(e.unique));
        for (k, d) in [
            ("min", e.min),
            ("max", e.max),
            ("max_null_percent", e.max_null_percent),
        ] {
            if let Some(d) = d {
                let value = b.decimal(&format!("expect.{}.{k}", e.name), d);
                m.insert(k.into(), value);
            }
        }
        expects.push(Value::Object(m));
    }
    b.set("expect", Value::Array(expects));
    if b.wants("environments") {
        b.set("environments", cross.environments("feature_view", &v.name));
    }
    b.set("owner", uid("Team", &v.owner));
    b.set(
        "classification",
        Value::String(v.classification.name.clone()),
    );
    b.set("uses_pii", Value::Bool(v.uses_pii));
    if b.wants("lineage") {
        b.set("lineage", lineage(&v.lineage));
    }
    if b.wants("pii_residency") {
        b.opt("pii_residency", pii_residency(p, &v.lineage));
    }
    entity("FeatureView", &v.name, b.attrs, Some(&v.owner))
}

fn model(p: &Platform, m: &Model, errors: &mut Vec<EntityError>, keep: Keep<'_>) -> Value {
    let mut b = Builder {
        kind: "model",
        name: &m.name,
        attrs: Map::new(),
        errors,
        keep,
    };
    b.set("owner", uid("Team", &m.owner));
    b.opt("framework", m.framework.clone().map(Value::String));
    b.set("format", Value::String(m.format.clone()));
    b.set("artifact", Value::String(m.artifact.clone()));
    b.set("version", Value::String(m.version.clone()));
    b.set("risk", Value::String(m.risk.name.clone()));
    for (k, v) in [
        ("purpose", &m.purpose),
        ("intended_use", &m.intended_use),
        ("limitations", &m.limitations),
        ("explainability", &m.explainability),
        ("human_oversight", &m.human_oversight),
    ] {
        b.opt(k, v.clone().map(Value::String));
    }
    if b.wants("inputs") {
        b.set(
            "inputs",
            Value::Array(
                m.inputs
                    .iter()
                    .map(|f| Value::String(f.to_string()))
                    .collect(),
            ),
        );
    }
    let tensors = |ts: &[plinth_ir::Tensor], with_features: bool| -> Value {
        Value::Array(
            ts.iter()
                .map(|t| {
                    let mut o = Map::new();
                    o.insert("name".into(), Value::String(t.name.clone()));
                    o.insert("dtype".into(), Value::String(t.dtype.clone()));
                    o.insert(
                        "shape".into(),
                        Value::Array(t.dims.iter().map(|d| Value::from(*d)).collect()),
                    );
                    if with_features {
                        o.insert(
                            "features".into(),
                            Value::Array(
                                t.features
                                    .iter()
                                    .map(|f| Value::String(f.to_string()))
                                    .collect(),
                            ),
                        );
                    }
                    Value::Object(o)
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
        let mut o = Map::new();
        if let Some(s) = &t.schedule {
            o.insert("schedule".into(), Value::String(s.expr.clone()));
        }
        o.insert("image".into(), Value::String(t.image.clone()));
        if let Some(w) = t.dataset_window {
            o.insert("dataset_window".into(), long(w.millis()));
        }
        let res = resources(&mut b, "training.resources", &t.resources);
        o.insert("resources".into(), res);
        if let Some(e) = &t.evaluation {
            let min = b.decimal("training.evaluation.min", e.min);
            o.insert(
                "evaluation".into(),
                json!({ "metric": e.metric, "min": min }),
            );
        }
        o.insert("approvals".into(), strings(&t.approvals));
        b.set("training", Value::Object(o));
    }
    b.set(
        "data_classification",
        Value::String(m.data_classification.name.clone()),
    );
    b.set("uses_pii", Value::Bool(m.uses_pii));
    if b.wants("lineage") {
        b.set("lineage", lineage(&m.lineage));
    }
    if b.wants("pii_residency") {
        b.opt("pii_residency", pii_residency(p, &m.lineage));
    }
    b.set("has_training", Value::Bool(m.training.is_some()));
    entity("Model", &m.name, b.attrs, Some(&m.owner))
}

fn service(
    p: &Platform,
    cross: &CrossEnv,
    s: &Service,
    errors: &mut Vec<EntityError>,
    keep: Keep<'_>,
) -> Value {
    let mut b = Builder {
        kind: "service",
        name: &s.name,
        attrs: Map::new(),
        errors,
        keep,
    };
    b.set("model", uid("Model", &s.model));
    b.set("runtime", Value::String(s.runtime.clone()));
    b.set(
        "replicas",
        json!({ "min": s.min_replicas, "max": s.max_replicas }),
    );
    b.set("tier", Value::String(s.tier.clone()));
    let rollout = match &s.rollout {
        Rollout::Canary { steps, pause } => {
            let steps: Vec<Value> = steps
                .iter()
                .map(|d| b.decimal("rollout.canary.steps", *d))
                .collect();
            json!({ "kind": "canary", "canary": { "steps": steps, "pause": long(pause.millis()) } })
        }
        Rollout::Shadow { percent } => {
            let percent = b.decimal("rollout.shadow.percent", *percent);
            json!({ "kind": "shadow", "shadow": { "percent": percent } })
        }
        other => json!({ "kind": other.name() }),
    };
    b.set("rollout", rollout);
    if let Some(batching) = &s.batching {
        b.set(
            "batching",
            json!({
                "max_batch": batching.max_batch,
                "max_delay": long(batching.max_delay.millis()),
                "preferred": batching.preferred,
            }),
        );
    }
    let res = resources(&mut b, "resources", &s.resources);
    b.set("resources", res);
    b.set("expose", Value::String(s.expose.clone()));
    b.set("callers", strings(&s.callers));
    let mut slo = Map::new();
    for o in &s.slos {
        let value = match o {
            Slo::Availability { objective, window } => {
                let objective = b.decimal("slo.availability.objective", *objective);
                json!({ "objective": objective, "window": long(window.millis()) })
            }
            Slo::Latency {
                percentile,
                threshold,
                objective,
                window,
            } => {
                let percentile = b.decimal("slo.latency.percentile", *percentile);
                let objective = b.decimal("slo.latency.objective", *objective);
                json!({
                    "percentile": percentile,
                    "threshold": long(threshold.millis()),
                    "objective": objective,
                    "window": long(window.millis()),
                })
            }
        };
        slo.insert(o.kind().to_string(), value);
    }
    b.set("slo", Value::Object(slo));
    let mut monitor = Map::new();
    for m in &s.monitors {
        match m {
            plinth_ir::Monitor::Drift {
                feature,
                method,
                threshold,
            } => {
                let threshold = b.decimal("monitor.drift.threshold", *threshold);
                monitor.insert(
                    "drift".into(),
                    json!({ "feature": feature.to_string(), "method": method, "threshold": threshold }),
                );
            }
            plinth_ir::Monitor::Performance { metric, min } => {
                let min = b.decimal("monitor.performance.min", *min);
                monitor.insert(
                    "performance".into(),
                    json!({ "metric": metric, "min": min }),
                );
            }
        }
    }
    b.set("monitor", Value::Object(monitor));
    if b.wants("environments") {
        b.set("environments", cross.environments("service", &s.name));
    }
    b.set("owner", uid("Team", &s.owner));
    b.set(
        "data_classification",
        Value::String(s.data_classification.name.clone()),
    );
    b.set("uses_pii", Value::Bool(s.uses_pii));
    if b.wants("lineage") {
        b.set("lineage", lineage(&s.lineage));
    }
    if b.wants("pii_residency") {
        b.opt("pii_residency", pii_residency(p, &s.lineage));
    }
    b.set("profiles", strings(&s.profiles));
    let regions = cross
        .production_regions
        .get(&s.name)
        .cloned()
        .unwrap_or_default();
    b.set("production_region_count", Value::from(regions.len()));
    b.set("production_regions", strings(&regions));
    entity("Service", &s.name, b.attrs, Some(&s.owner))
}

fn batch_job(
    p: &Platform,
    cross: &CrossEnv,
    j: &BatchJob,
    errors: &mut Vec<EntityError>,
    keep: Keep<'_>,
) -> Value {
    let mut b = Builder {
        kind: "batch_job",
        name: &j.name,
        attrs: Map::new(),
        errors,
        keep,
    };
    b.set("model", uid("Model", &j.model));
    b.set("schedule", Value::String(j.schedule.expr.clone()));
    b.set("input", uid("Source", &j.input));
    b.set("output", uid("Source", &j.output));
    b.opt("image", j.image.clone().map(Value::String));
    let res = resources(&mut b, "resources", &j.resources);
    b.set("resources", res);
    if b.wants("environments") {
        b.set("environments", cross.environments("batch_job", &j.name));
    }
    b.set("owner", uid("Team", &j.owner));
    b.set(
        "data_classification",
        Value::String(j.data_classification.name.clone()),
    );
    b.set("uses_pii", Value::Bool(j.uses_pii));
    if b.wants("lineage") {
        b.set("lineage", lineage(&j.lineage));
    }
    if b.wants("pii_residency") {
        b.opt("pii_residency", pii_residency(p, &j.lineage));
    }
    entity("BatchJob", &j.name, b.attrs, Some(&j.owner))
}

/// Every entity of one environment, keyed by `(Cedar type, name)`.
pub fn build(
    p: &Platform,
    cross: &CrossEnv,
    errors: &mut Vec<EntityError>,
    keep: Keep<'_>,
) -> BTreeMap<(&'static str, String), Value> {
    let mut out = BTreeMap::new();
    for t in p.teams.values() {
        out.insert(("Team", t.name.clone()), team(t));
    }
    for e in p.environments.values() {
        out.insert(("Environment", e.name.clone()), environment(e));
    }
    // Each declaration's entity depends only on the platform: build them on all cores,
    // in the same order as one loop would (errors are reported in that order).
    type Built = ((&'static str, String), Value, Vec<EntityError>);
    fn one(
        entity: &'static str,
        name: &str,
        f: impl FnOnce(&mut Vec<EntityError>) -> Value,
    ) -> Built {
        let mut errors = Vec::new();
        let value = f(&mut errors);
        ((entity, name.to_string()), value, errors)
    }
    let mut items: Vec<Built> = Vec::new();
    items.par_extend(
        p.sources
            .par_iter()
            .map(|(_, s)| one("Source", &s.name, |e| source(s, e, keep))),
    );
    items.par_extend(p.feature_views.par_iter().map(|(_, v)| {
        one("FeatureView", &v.name, |e| {
            feature_view(p, cross, v, e, keep)
        })
    }));
    items.par_extend(
        p.models
            .par_iter()
            .map(|(_, m)| one("Model", &m.name, |e| model(p, m, e, keep))),
    );
    items.par_extend(
        p.services
            .par_iter()
            .map(|(_, s)| one("Service", &s.name, |e| service(p, cross, s, e, keep))),
    );
    items.par_extend(
        p.batch_jobs
            .par_iter()
            .map(|(_, j)| one("BatchJob", &j.name, |e| batch_job(p, cross, j, e, keep))),
    );
    for (key, value, errs) in items {
        errors.extend(errs);
        out.insert(key, value);
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
