//! Lowering: the checked, merged declarations become the platform model for one
//! environment. Environment overrides are applied and defaults from the kind tables
//! filled in here, so targets never see a missing value they must guess.

use crate::analysis::{Analysis, Declared, Facts, merge};
use crate::checked::{Decl, Rec, Value};
use plinth_ir::kinds::{self, Record};
use plinth_ir::*;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The kind table's default for a field, as written in Plinth.
fn default_text(record: &Record, field: &str) -> &'static str {
    record.field(field).and_then(|f| f.default).unwrap_or("")
}

fn default_duration(record: &Record, field: &str) -> Duration {
    let text = default_text(record, field);
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    crate::units::duration(number, suffix).unwrap_or(Duration(0))
}

fn s(rec: &Rec, f: &str) -> Option<String> {
    rec.str(f).map(str::to_string)
}

fn string_or(rec: &Rec, f: &str, record: &Record) -> String {
    s(rec, f).unwrap_or_else(|| default_text(record, f).to_string())
}

fn dur(rec: &Rec, f: &str) -> Option<Duration> {
    match rec.get(f) {
        Some(Value::Duration(d)) => Some(*d),
        _ => None,
    }
}

fn boolean(rec: &Rec, f: &str) -> bool {
    rec.get(f) == Some(&Value::Bool(true))
}

fn decimal(rec: &Rec, f: &str) -> Option<Decimal> {
    match rec.get(f) {
        Some(Value::Number(d) | Value::Percent(d)) => Some(*d),
        Some(Value::Int(n)) => Some(Decimal::from_int(*n)),
        _ => None,
    }
}

fn cron(rec: &Rec, f: &str) -> Option<Cron> {
    match rec.get(f) {
        Some(Value::Cron { expr, interval }) => Some(Cron {
            expr: expr.to_string(),
            interval: *interval,
        }),
        _ => None,
    }
}

/// The names in list field `f` (strings, enum values, references), without copying.
fn names<'r>(rec: &'r Rec, f: &str) -> impl Iterator<Item = &'r str> {
    let items = match rec.get(f) {
        Some(Value::List(items)) => items.as_slice(),
        _ => &[],
    };
    items.iter().filter_map(|i| match &i.value {
        Value::Str(s) | Value::Enum(s) | Value::Ref(s) => Some(s.as_str()),
        _ => None,
    })
}

fn strings(rec: &Rec, f: &str) -> Vec<String> {
    names(rec, f).map(str::to_string).collect()
}

fn feature_refs(rec: &Rec, f: &str) -> Vec<FeatureRef> {
    match rec.get(f) {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|i| match &i.value {
                Value::FeatureRef(r) => Some(r.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn ints(rec: &Rec, f: &str) -> Vec<i64> {
    match rec.get(f) {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|i| match i.value {
                Value::Int(n) => Some(n),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn resources(rec: Option<&Rec>) -> Resources {
    let Some(rec) = rec else {
        return Resources::default();
    };
    Resources {
        cpu: match rec.get("cpu") {
            Some(Value::Cpu(c)) => Some(*c),
            _ => None,
        },
        memory: match rec.get("memory") {
            Some(Value::Bytes(b)) => Some(*b),
            _ => None,
        },
        gpu: match rec.get("gpu") {
            Some(Value::Int(n)) => u32::try_from(*n).unwrap_or(0),
            _ => 0,
        },
        accelerator: s(rec, "accelerator"),
    }
}

/// Where a declaration was written. `overridden` is its body for this environment when
/// an `env` override changed it; otherwise the spans computed once in the analysis are
/// shared.
fn origin(d: &Declared, overridden: Option<&Rec>) -> Origin {
    Origin {
        file: d.file.clone(),
        span: d.name_span,
        fields: match overridden {
            Some(body) => std::sync::Arc::new(body.field_spans()),
            None => d.spans.clone(),
        },
    }
}

/// Deployed to `env`: listed in `environments`, or every environment when not given.
fn deployed_to(decl: &Decl, env: &str) -> bool {
    let mut envs = names(&decl.body, "environments").peekable();
    envs.peek().is_none() || envs.any(|e| e == env)
}

/// How a declaration appears in one environment's platform model.
#[derive(Clone, Copy)]
enum Slot<'a> {
    Absent,
    /// As declared: lowered once for every environment that has it so.
    Shared,
    /// With this `env NAME { }` override applied: lowered for this environment alone.
    Overridden(&'a Rec),
}

/// Every declaration of `kind` for each environment of `envs`, in name order: one
/// lowered as declared is lowered once and shared by every environment that has it
/// as declared (the same `Arc`, which the policy engine uses to build its entity once),
/// so environments cost a pointer each rather than a lowering or a copy each. `lower`
/// gets the body with an override applied, or `None`.
fn spread<'a, T: Send + Sync>(
    analysis: &'a Analysis,
    kind: &str,
    envs: &[&str],
    slot: impl Fn(&'a Decl, &str) -> Slot<'a> + Sync,
    lower: impl Fn(&'a Declared, Option<&Rec>) -> T + Sync,
) -> Vec<BTreeMap<String, Arc<T>>> {
    // Each declaration's value in each environment, on all cores (in declaration
    // order), then one map per environment.
    let per_declaration: Vec<(&String, Vec<Option<Arc<T>>>)> = analysis
        .declared_slice(kind)
        .par_iter()
        .map(|d| {
            let slots: Vec<Slot> = envs.iter().map(|env| slot(&d.decl, env)).collect();
            let shared = slots
                .iter()
                .any(|s| matches!(s, Slot::Shared))
                .then(|| Arc::new(lower(d, None)));
            let values = slots
                .iter()
                .map(|s| match s {
                    Slot::Absent => None,
                    Slot::Shared => shared.clone(),
                    Slot::Overridden(o) => Some(Arc::new(lower(d, Some(&merge(&d.body, o))))),
                })
                .collect();
            (&d.name, values)
        })
        .collect();
    let mut out: Vec<Vec<(String, Arc<T>)>> = envs.iter().map(|_| Vec::new()).collect();
    for (name, values) in per_declaration {
        for (value, items) in values.into_iter().zip(out.iter_mut()) {
            if let Some(value) = value {
                items.push((name.clone(), value));
            }
        }
    }
    out.into_iter().map(BTreeMap::from_iter).collect()
}

/// Deployed as declared, with its `env NAME { }` override, or not at all.
fn deployment<'a>(decl: &'a Decl, env: &str) -> Slot<'a> {
    if !deployed_to(decl, env) {
        return Slot::Absent;
    }
    match decl.body.named("env").iter().find(|(n, _)| n == env) {
        Some((_, o)) => Slot::Overridden(&o.value),
        None => Slot::Shared,
    }
}

/// Deployed as declared or not at all (kinds that take no overrides).
fn deployed<'a>(decl: &'a Decl, env: &str) -> Slot<'a> {
    if deployed_to(decl, env) {
        Slot::Shared
    } else {
        Slot::Absent
    }
}

/// `value` for each of `n` places: `n - 1` copies and the value itself.
fn copies<T: Clone>(value: T, n: usize) -> std::iter::RepeatN<T> {
    std::iter::repeat_n(value, n)
}

/// The platform model of one environment; `None` when it is not declared.
pub fn lower(analysis: &Analysis, env: &str) -> Option<Platform> {
    lower_all(analysis, &[env]).pop().flatten()
}

/// The platform model of each environment of `envs`, in that order (`None` for one not
/// declared). Lowered together, so what does not depend on the environment is lowered
/// once: at two environments this was half of lowering.
pub fn lower_all(analysis: &Analysis, envs: &[&str]) -> Vec<Option<Platform>> {
    let environments: BTreeMap<String, Environment> = analysis
        .declared("environment")
        .map(|d| (d.name.clone(), environment(d)))
        .collect();
    // The declared environments of those asked, in the order asked.
    let asked = envs;
    let is_declared: Vec<bool> = asked
        .iter()
        .map(|env| environments.contains_key(*env))
        .collect();
    let declared: Vec<&str> = asked
        .iter()
        .zip(&is_declared)
        .filter_map(|(env, declared)| declared.then_some(*env))
        .collect();
    let envs = declared.as_slice();
    let no_facts = Facts::default();
    let facts = |name: &str| analysis.facts.get(name).unwrap_or(&no_facts);
    let level = |enum_name: &str, v: &str| analysis.level(enum_name, v);
    let classification = |f: &Facts| {
        f.classification
            .clone()
            .unwrap_or_else(|| level("classification", "public"))
    };

    // Two independent halves, lowered side by side: data (feature views read sources
    // and entities) and deployables (services and batch jobs read models). Within each,
    // the declarations of a kind are lowered on all cores too: the halves are uneven
    // (at N=5,000 lowering kept 1.5 of 2 cores busy).
    let ((teams, sources, entities, feature_views), (models, services, batch_jobs, waivers)) =
        rayon::join(
            || {
                let teams: BTreeMap<String, Arc<Team>> = analysis
                    .declared_slice("team")
                    .par_iter()
                    .map(|d| {
                        let b = &d.body;
                        let team = Team {
                            name: d.name.clone(),
                            doc: d.doc.clone(),
                            owner: s(b, "owner").unwrap_or_default(),
                            oncall: s(b, "oncall"),
                            cost_center: s(b, "cost_center"),
                            origin: origin(d, None),
                        };
                        (d.name.clone(), Arc::new(team))
                    })
                    .collect();

                let sources = analysis
                    .declared_slice("source")
                    .par_iter()
                    .map(|d| {
                        let b = &d.body;
                        let region = s(b, "region");
                        let mut residency = strings(b, "residency");
                        if residency.is_empty() {
                            residency.extend(region.clone());
                        }
                        let source = Source {
                            name: d.name.clone(),
                            doc: d.doc.clone(),
                            kind: s(b, "kind").unwrap_or_default(),
                            location: ["topic", "bucket", "prefix", "table", "database"]
                                .iter()
                                .filter_map(|k| s(b, k).map(|v| (k.to_string(), v)))
                                .collect(),
                            owner: s(b, "owner").unwrap_or_default(),
                            classification: level(
                                "classification",
                                b.str("classification").unwrap_or("public"),
                            ),
                            region,
                            residency,
                            retention: dur(b, "retention"),
                            columns: b
                                .named("column")
                                .iter()
                                .map(|(n, c)| Column {
                                    name: n.to_string(),
                                    doc: String::new(),
                                    dtype: s(&c.value, "type").unwrap_or_default(),
                                    pii: boolean(&c.value, "pii"),
                                    event_time: boolean(&c.value, "event_time"),
                                })
                                .collect(),
                            origin: origin(d, None),
                        };
                        (d.name.clone(), Arc::new(source))
                    })
                    .collect::<BTreeMap<_, _>>();

                let entities = analysis
                    .declared_slice("entity")
                    .par_iter()
                    .map(|d| {
                        let b = &d.body;
                        let e = Entity {
                            name: d.name.clone(),
                            doc: d.doc.clone(),
                            key: s(b, "key").unwrap_or_default(),
                            dtype: s(b, "type").unwrap_or_default(),
                            origin: origin(d, None),
                        };
                        (d.name.clone(), e)
                    })
                    .collect::<BTreeMap<_, _>>();

                let feature_views = spread(analysis, "feature_view", envs, deployed, |d, _| {
                    let b = &d.body;
                    let f = facts(&d.name);
                    let source = s(b, "source").unwrap_or_default();
                    // The source's owner is copied only when the view names none.
                    let owner = s(b, "owner").unwrap_or_else(|| {
                        sources
                            .get(&source)
                            .map(|s: &Arc<Source>| s.owner.clone())
                            .unwrap_or_default()
                    });
                    let entity = s(b, "entity").unwrap_or_default();
                    FeatureView {
                        name: d.name.clone(),
                        doc: d.doc.clone(),
                        key: entities
                            .get(&entity)
                            .map(|e: &Entity| e.key.clone())
                            .unwrap_or_default(),
                        entity,
                        source,
                        freshness: dur(b, "freshness"),
                        ttl: dur(b, "ttl"),
                        online: boolean(b, "online"),
                        schedule: cron(b, "schedule"),
                        owner,
                        classification: classification(f),
                        image: s(b, "image"),
                        resources: resources(b.block("resources")),
                        features: b
                            .named("feature")
                            .iter()
                            .map(|(n, fb)| Feature {
                                name: n.to_string(),
                                doc: String::new(),
                                dtype: s(&fb.value, "type").unwrap_or_default(),
                                aggregate: match fb.value.get("aggregate") {
                                    Some(Value::Aggregate { function, column }) => {
                                        Some(Aggregate {
                                            function: function.to_string(),
                                            column: column.to_string(),
                                        })
                                    }
                                    _ => None,
                                },
                                window: dur(&fb.value, "window"),
                            })
                            .collect(),
                        expects: b
                            .named("expect")
                            .iter()
                            .map(|(n, e)| Expect {
                                name: n.to_string(),
                                column: s(&e.value, "column").unwrap_or_default(),
                                not_null: boolean(&e.value, "not_null"),
                                unique: boolean(&e.value, "unique"),
                                min: decimal(&e.value, "min"),
                                max: decimal(&e.value, "max"),
                                max_null_percent: decimal(&e.value, "max_null_percent"),
                            })
                            .collect(),
                        uses_pii: f.uses_pii,
                        lineage: f.lineage.clone(),
                        origin: origin(d, None),
                    }
                });

                (teams, sources, entities, feature_views)
            },
            || {
                let feature_dtype = |r: &FeatureRef| -> String {
                    analysis
                        .decls
                        .get(&r.view)
                        .and_then(|v| {
                            v.body
                                .named("feature")
                                .iter()
                                .find(|(n, _)| *n == r.feature)
                                .and_then(|(_, f)| s(&f.value, "type"))
                        })
                        .unwrap_or_default()
                };

                let models = analysis
                    .declared_slice("model")
                    .par_iter()
                    .map(|d| {
                        let b = &d.body;
                        let f = facts(&d.name);
                        let inputs = feature_refs(b, "inputs");
                        let blocks = b.named("input");
                        let input_tensors = if blocks.is_empty() {
                            inputs
                                .iter()
                                .map(|r| Tensor {
                                    name: r.feature.clone(),
                                    dtype: feature_dtype(r),
                                    dims: vec![1],
                                    features: vec![r.clone()],
                                })
                                .collect()
                        } else {
                            blocks
                                .iter()
                                .map(|(n, t)| {
                                    let features = feature_refs(&t.value, "features");
                                    let shape = ints(&t.value, "shape");
                                    let dims = if shape.is_empty() {
                                        vec![i64::try_from(features.len()).unwrap_or(0)]
                                    } else {
                                        shape
                                    };
                                    Tensor {
                                        name: n.to_string(),
                                        dtype: s(&t.value, "dtype").unwrap_or_default(),
                                        dims,
                                        features,
                                    }
                                })
                                .collect()
                        };
                        let output_tensors = b
                            .named("output")
                            .iter()
                            .map(|(n, t)| Tensor {
                                name: n.to_string(),
                                dtype: s(&t.value, "dtype").unwrap_or_default(),
                                dims: ints(&t.value, "shape"),
                                features: Vec::new(),
                            })
                            .collect();
                        let training = b.block("training").map(|t| Training {
                            schedule: cron(t, "schedule"),
                            image: s(t, "image").unwrap_or_default(),
                            dataset_window: dur(t, "dataset_window"),
                            resources: resources(t.block("resources")),
                            evaluation: t.block("evaluation").map(|e| Evaluation {
                                metric: s(e, "metric").unwrap_or_default(),
                                min: decimal(e, "min").unwrap_or(Decimal::from_int(0)),
                            }),
                            approvals: strings(t, "approvals"),
                        });
                        let model = Model {
                            name: d.name.clone(),
                            doc: d.doc.clone(),
                            owner: s(b, "owner").unwrap_or_default(),
                            framework: s(b, "framework"),
                            format: s(b, "format").unwrap_or_default(),
                            artifact: s(b, "artifact").unwrap_or_default(),
                            version: s(b, "version").unwrap_or_default(),
                            risk: level("risk", b.str("risk").unwrap_or("minimal")),
                            purpose: s(b, "purpose"),
                            intended_use: s(b, "intended_use"),
                            limitations: s(b, "limitations"),
                            explainability: s(b, "explainability"),
                            human_oversight: s(b, "human_oversight"),
                            inputs,
                            input_tensors,
                            output_tensors,
                            training,
                            data_classification: classification(f),
                            uses_pii: f.uses_pii,
                            lineage: f.lineage.clone(),
                            origin: origin(d, None),
                        };
                        (d.name.clone(), Arc::new(model))
                    })
                    .collect::<BTreeMap<_, _>>();

                // A deployable without an owner of its own has its model's, copied
                // only then.
                let model_owner = |model: &str| {
                    models
                        .get(model)
                        .map(|m: &Arc<Model>| m.owner.clone())
                        .unwrap_or_default()
                };

                let services = spread(analysis, "service", envs, deployment, |d, overridden| {
                    let b = overridden.unwrap_or(&d.body);
                    let record = &kinds::SERVICE.record;
                    let f = facts(&d.name);
                    let (min_replicas, max_replicas) = match b.get("replicas") {
                        Some(Value::Range(lo, hi)) => (
                            u32::try_from(*lo).unwrap_or(1),
                            u32::try_from(*hi).unwrap_or(1),
                        ),
                        _ => (1, 1),
                    };
                    let rollout = match b.get("rollout") {
                        Some(Value::Variant { name, body }) => rollout(name, body.as_deref()),
                        _ => rollout(default_text(record, "rollout"), None),
                    };
                    let batching = b.block("batching").map(|bb| Batching {
                        max_batch: match bb.get("max_batch") {
                            Some(Value::Int(n)) => u32::try_from(*n).unwrap_or(1),
                            _ => 1,
                        },
                        max_delay: dur(bb, "max_delay")
                            .unwrap_or_else(|| default_duration(&kinds::BATCHING, "max_delay")),
                        preferred: ints(bb, "preferred")
                            .into_iter()
                            .filter_map(|n| u32::try_from(n).ok())
                            .collect(),
                    });
                    let slos = b
                        .named("slo")
                        .iter()
                        .map(|(kind, slo)| {
                            let r = &slo.value;
                            let window = dur(r, "window").unwrap_or_else(|| {
                                default_duration(&kinds::SLO_AVAILABILITY, "window")
                            });
                            let objective =
                                decimal(r, "objective").unwrap_or(Decimal::from_int(100));
                            if kind == "latency" {
                                Slo::Latency {
                                    percentile: decimal(r, "percentile")
                                        .unwrap_or(Decimal::from_int(99)),
                                    threshold: dur(r, "threshold").unwrap_or(Duration(0)),
                                    objective,
                                    window,
                                }
                            } else {
                                Slo::Availability { objective, window }
                            }
                        })
                        .collect();
                    let monitors = b
                        .named("monitor")
                        .iter()
                        .filter_map(|(kind, m)| {
                            let r = &m.value;
                            match kind.as_str() {
                                "drift" => Some(Monitor::Drift {
                                    feature: match r.get("feature") {
                                        Some(Value::FeatureRef(fr)) => fr.clone(),
                                        _ => return None,
                                    },
                                    method: string_or(r, "method", &kinds::MONITOR_DRIFT),
                                    threshold: decimal(r, "threshold")
                                        .unwrap_or(Decimal::from_int(0)),
                                }),
                                "performance" => Some(Monitor::Performance {
                                    metric: s(r, "metric").unwrap_or_default(),
                                    min: decimal(r, "min").unwrap_or(Decimal::from_int(0)),
                                }),
                                _ => None,
                            }
                        })
                        .collect();
                    let model = s(b, "model").unwrap_or_default();
                    let owner = s(b, "owner").unwrap_or_else(|| model_owner(&model));
                    Service {
                        name: d.name.clone(),
                        doc: d.doc.clone(),
                        model,
                        runtime: string_or(b, "runtime", record),
                        min_replicas,
                        max_replicas,
                        tier: string_or(b, "tier", record),
                        rollout,
                        batching,
                        resources: resources(b.block("resources")),
                        expose: string_or(b, "expose", record),
                        callers: strings(b, "callers"),
                        owner,
                        slos,
                        monitors,
                        profiles: d.profiles.clone(),
                        data_classification: classification(f),
                        uses_pii: f.uses_pii,
                        lineage: f.lineage.clone(),
                        origin: origin(d, overridden),
                    }
                });

                let batch_jobs = spread(analysis, "batch_job", envs, deployed, |d, _| {
                    let b = &d.body;
                    let f = facts(&d.name);
                    let model = s(b, "model").unwrap_or_default();
                    let owner = s(b, "owner").unwrap_or_else(|| model_owner(&model));
                    BatchJob {
                        name: d.name.clone(),
                        doc: d.doc.clone(),
                        model,
                        schedule: cron(b, "schedule").unwrap_or(Cron {
                            expr: String::new(),
                            interval: Duration(0),
                        }),
                        input: s(b, "input").unwrap_or_default(),
                        output: s(b, "output").unwrap_or_default(),
                        image: s(b, "image"),
                        resources: resources(b.block("resources")),
                        owner,
                        data_classification: classification(f),
                        uses_pii: f.uses_pii,
                        lineage: f.lineage.clone(),
                        origin: origin(d, None),
                    }
                });

                let waivers: BTreeMap<String, Waiver> = analysis
                    .declared("waiver")
                    .map(|d| {
                        let b = &d.body;
                        let w = Waiver {
                            name: d.name.clone(),
                            policy: s(b, "policy").unwrap_or_default(),
                            targets: strings(b, "target"),
                            reason: s(b, "reason").unwrap_or_default(),
                            approved_by: s(b, "approved_by").unwrap_or_default(),
                            expires: match b.get("expires") {
                                Some(Value::Date(date)) => *date,
                                _ => Date {
                                    year: 1970,
                                    month: 1,
                                    day: 1,
                                },
                            },
                            origin: origin(d, None),
                        };
                        (d.name.clone(), w)
                    })
                    .collect();

                (models, services, batch_jobs, waivers)
            },
        );

    // Each declared environment's model, in the order asked; the maps every
    // environment shares are copied for all but the last.
    let n = envs.len();
    let mut parts = envs
        .iter()
        .zip(copies(environments, n))
        .zip(copies((teams, sources, entities, models, waivers), n))
        .zip(feature_views.into_iter().zip(services).zip(batch_jobs));
    let mut out: Vec<Option<Platform>> = Vec::with_capacity(asked.len());
    for declared in is_declared {
        let platform = if declared {
            parts.next().and_then(
                |(
                    ((name, environments), (teams, sources, entities, models, waivers)),
                    ((feature_views, services), batch_jobs),
                )| {
                    Some(Platform {
                        environment: environments.get(*name)?.clone(),
                        environments,
                        teams,
                        sources,
                        entities,
                        feature_views,
                        models,
                        services,
                        batch_jobs,
                        waivers,
                        grants: Vec::new(),
                        policy: Default::default(),
                    })
                },
            )
        } else {
            None
        };
        out.push(platform);
    }
    out
}

fn environment(d: &Declared) -> Environment {
    let b = &d.body;
    Environment {
        name: d.name.clone(),
        doc: d.doc.clone(),
        tier: s(b, "tier").unwrap_or_default(),
        region: s(b, "region").unwrap_or_default(),
        cluster: s(b, "cluster"),
        namespace: s(b, "namespace").unwrap_or_else(|| d.name.replace('_', "-")),
        account: s(b, "account"),
        origin: origin(d, None),
    }
}

fn rollout(name: &str, body: Option<&Rec>) -> Rollout {
    let empty = Rec::default();
    let body = body.unwrap_or(&empty);
    match name {
        "canary" => Rollout::Canary {
            steps: match body.get("steps") {
                Some(Value::List(items)) => items
                    .iter()
                    .filter_map(|i| match i.value {
                        Value::Percent(p) => Some(p),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            },
            pause: dur(body, "pause").unwrap_or_else(|| default_duration(&kinds::CANARY, "pause")),
        },
        "shadow" => Rollout::Shadow {
            percent: decimal(body, "percent").unwrap_or(Decimal::from_int(10)),
        },
        "blue_green" => Rollout::BlueGreen,
        _ => Rollout::Rolling,
    }
}
