//! Evaluation: one Cedar request per deployable per environment (`deploy`, `train`,
//! `materialize`) and per data edge (`read`, `write`), against entities built once per
//! environment. Forbid rules that determine a Deny become diagnostics at the blamed
//! declaration (or its `@field`); waivers move them to the suppressed list.
//!
//! Fail closed: entities Cedar rejects, a request that does not validate, or any policy
//! evaluation error is an error diagnostic, never an Allow.

use crate::entities::{self, CrossEnv, uid_json};
use crate::load::{Blame, Packs, code};
use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request, RestrictedExpression,
};
// Cedar's internals, pinned to the exact version cedar-policy uses (a second copy would
// not convert into `cedar_policy::Entities` and fails to compile): entity values are
// built as Cedar's own values and the hierarchy's closure is checked, not recomputed.
use cedar_policy_core as core;
use plinth_ir::{Date, Origin, Platform, Waiver};
use plinth_syntax::{Diagnostic, Severity, Span};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;
use smol_str::SmolStr;
use std::collections::{BTreeMap, BTreeSet};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Mutex;

/// One authorization decision, as logged in `evidence/decisions.jsonl` and read by
/// targets (Terraform derives IAM grants from the `read` decisions).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub environment: String,
    /// `deploy`, `train`, `materialize`, `read` or `write`.
    pub action: String,
    /// Cedar entity type and name: `("Team", "risk_ml")`.
    pub principal: (String, String),
    pub resource: (String, String),
    /// Plinth's verdict: no unwaived error-severity rule denies it and nothing failed.
    pub allowed: bool,
    /// Cedar's own decision (a warning-severity or waived forbid still denies here).
    pub cedar_allowed: bool,
    /// The policy ids that determined Cedar's decision.
    pub determining: Vec<String>,
    /// Policy ids among `determining` suppressed by a waiver: `(policy, waiver)`.
    pub waived: Vec<(String, String)>,
    /// Evaluation errors (the check fails when any is present).
    pub errors: Vec<String>,
}

impl Decision {
    /// The JSON line of the decision log.
    pub fn log_line(&self) -> String {
        let line = serde_json::json!({
            "request": {
                "environment": self.environment,
                "principal": uid_json(&self.principal.0, &self.principal.1),
                "action": { "type": "Plinth::Action", "id": self.action },
                "resource": uid_json(&self.resource.0, &self.resource.1),
            },
            "decision": if self.allowed { "allow" } else { "deny" },
            "cedar_decision": if self.cedar_allowed { "allow" } else { "deny" },
            "determining_policies": self.determining,
            "waivers_applied": self.waived.iter().map(|(p, w)| serde_json::json!({"policy": p, "waiver": w})).collect::<Vec<_>>(),
            "errors": self.errors,
        });
        line.to_string()
    }
}

/// A violation a waiver suppressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppressed {
    pub diagnostic: Diagnostic,
    pub waiver: String,
    pub reason: String,
    pub approved_by: String,
    pub expires: Date,
    pub waiver_file: String,
    pub waiver_span: Span,
}

/// Everything the policy engine found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Violations, waiver problems and evaluation failures, sorted.
    pub diagnostics: Vec<Diagnostic>,
    pub suppressed: Vec<Suppressed>,
    /// Per environment, in request order.
    pub decisions: BTreeMap<String, Vec<Decision>>,
    /// Per environment, the entity JSON built for each `(Cedar type, name)`.
    pub entities: BTreeMap<String, BTreeMap<(&'static str, String), Value>>,
    /// Number of requests evaluated.
    pub requests: usize,
    /// Where the time went: `(phase, seconds)` summed over environments.
    pub timings: Vec<(&'static str, f64)>,
}

impl Outcome {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Options of one evaluation.
pub struct Options {
    pub today: Date,
    pub max_waiver_days: u32,
    /// Keep the entity JSON in the outcome (for `plinth explain`).
    pub keep_entities: bool,
    /// Send Cedar every attribute and validate the entities against the schema (tests
    /// and `explain`). Otherwise entities carry only the attributes some policy reads:
    /// a policy reading one that is missing fails to evaluate, which fails the check.
    pub validate_entities: bool,
}

/// Entity JSON into Cedar entities, whole and checked against the schema (tests and
/// `explain`).
fn validated_entities(
    packs: &Packs,
    built: &BTreeMap<(&'static str, String), Value>,
) -> Result<Entities, String> {
    let json = Value::Array(built.values().cloned().collect());
    Entities::from_json_value(json, Some(&packs.schema)).map_err(|e| e.to_string())
}

/// Entity JSON into Cedar entities, in parallel and pruned to the attributes policies
/// read. Given owned JSON, each entity's JSON is freed by the thread that converted it.
///
/// Builds Cedar's own entity values (`cedar-policy-core`) instead of restricted
/// expressions that Cedar would then evaluate, and asks Cedar to *check* the transitive
/// closure of the hierarchy rather than compute it: an entity's only parent is its
/// owner team and teams have no parents, so the parents are already all the ancestors.
/// Computing it (a Tarjan pass over hash maps of every entity) was the largest
/// single-threaded cost. Should the hierarchy ever get deeper, the check fails and so
/// does the evaluation (closed), with Cedar's error.
fn fast_entities<J: std::borrow::Borrow<Value> + Send>(
    packs: &Packs,
    types: &Cache,
    built: Vec<J>,
) -> Result<Entities, String> {
    // Collected before the `?` so that a failure reports the first entity in order,
    // not whichever thread failed first.
    let entities: Vec<Result<core::ast::Entity, String>> = built
        .into_par_iter()
        .map(|e| entity_from_json(types, e.borrow(), &packs.referenced))
        .collect();
    let entities = entities.into_iter().collect::<Result<Vec<_>, String>>()?;
    core::entities::Entities::from_entities(
        entities,
        None::<&core::entities::NoEntitiesSchema>,
        core::entities::TCComputation::EnforceAlreadyComputed,
        core::extensions::Extensions::all_available(),
    )
    .map(Entities::from)
    .map_err(|e| e.to_string())
}

/// One entity of Cedar's JSON form built directly as Cedar's value (Cedar's own JSON
/// reader is several times slower), keeping only the `referenced` attributes.
fn entity_from_json(
    types: &Cache,
    e: &Value,
    referenced: &BTreeSet<String>,
) -> Result<core::ast::Entity, String> {
    let uid = uid_from_json(types, e.get("uid").ok_or("entity without uid")?)?;
    let mut attrs = Vec::new();
    if let Some(Value::Object(map)) = e.get("attrs") {
        for (k, v) in map {
            if referenced.contains(k) {
                attrs.push((SmolStr::from(k.as_str()), value(types, v)?.into()));
            }
        }
    }
    let parents: HashSet<core::ast::EntityUID> = match e.get("parents") {
        Some(Value::Array(ps)) => ps
            .iter()
            .map(|p| uid_from_json(types, p).map(Into::into))
            .collect::<Result<_, _>>()?,
        _ => HashSet::new(),
    };
    Ok(core::ast::Entity::new_with_attr_partial_value(
        uid.into(),
        attrs,
        HashSet::new(),
        parents,
        [],
    ))
}

/// A JSON attribute value (as `entities.rs` writes them) as the value Cedar would
/// evaluate its restricted expression to.
fn value(types: &Cache, v: &Value) -> Result<core::ast::Value, String> {
    use core::ast::Value as V;
    Ok(match v {
        Value::String(s) => V::from(s.as_str()),
        Value::Bool(b) => V::from(*b),
        Value::Number(n) => V::from(
            n.as_i64()
                .ok_or_else(|| format!("`{n}` is not a whole number"))?,
        ),
        Value::Array(items) => V::set(
            items
                .iter()
                .map(|v| value(types, v))
                .collect::<Result<Vec<_>, _>>()?,
            None,
        ),
        Value::Object(map) => {
            if let Some(uid) = map.get("__entity") {
                V::from(core::ast::EntityUID::from(uid_from_json(types, uid)?))
            } else if let Some(ext) = map.get("__extn") {
                match (
                    ext.get("fn").and_then(Value::as_str),
                    ext.get("arg").and_then(Value::as_str),
                ) {
                    (Some("decimal"), Some(arg)) => types.decimal(arg)?,
                    _ => return Err(format!("unsupported extension value {ext}")),
                }
            } else {
                let fields = map
                    .iter()
                    .map(|(k, v)| Ok((SmolStr::from(k.as_str()), value(types, v)?)))
                    .collect::<Result<Vec<_>, String>>()?;
                V::record(fields, None)
            }
        }
        Value::Null => return Err("null attribute".to_string()),
    })
}

fn uid_from_json(types: &Cache, v: &Value) -> Result<EntityUid, String> {
    let ty = v
        .get("type")
        .and_then(Value::as_str)
        .ok_or("uid without type")?;
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .ok_or("uid without id")?;
    Ok(EntityUid::from_type_name_and_id(
        types.get(ty)?,
        EntityId::new(id),
    ))
}

/// What Cedar's API builds slowly, made once and shared by all threads: entity type
/// names (`EntityTypeName::from_str` runs Cedar's parser, which took longer than the
/// rest of building a uid) and decimal expressions (every `new_decimal` parses the name
/// `decimal` with Cedar's parser; a workspace has few distinct decimals).
pub(crate) struct Cache {
    /// `("Plinth::Team", parsed)`, one per schema entity type and `Action`.
    names: Vec<(String, EntityTypeName)>,
    decimals: Mutex<HashMap<String, core::ast::Value>>,
}

impl Cache {
    fn new() -> Cache {
        let names = crate::schema::entity_kinds()
            .map(|(_, e)| e)
            .chain(["Action"])
            .filter_map(|e| {
                let full = format!("Plinth::{e}");
                let parsed = EntityTypeName::from_str(&full).ok()?;
                Some((full, parsed))
            })
            .collect();
        Cache {
            names,
            decimals: Mutex::new(HashMap::new()),
        }
    }

    /// The value of `decimal("<text>")`, evaluated by Cedar once per distinct text.
    fn decimal(&self, text: &str) -> Result<core::ast::Value, String> {
        // A poisoned lock only means another thread panicked; the map is still valid.
        let mut map = self.decimals.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = map.get(text) {
            return Ok(v.clone());
        }
        let expr = RestrictedExpression::new_decimal(text);
        let evaluator = core::evaluator::RestrictedEvaluator::new(
            core::extensions::Extensions::all_available(),
        );
        let v = evaluator
            .interpret(expr.as_ref().as_borrowed())
            .map_err(|e| format!("`{text}` is not a Cedar decimal: {e}"))?;
        map.insert(text.to_string(), v.clone());
        Ok(v)
    }

    /// The parsed name of `Plinth::Team`; any other name is parsed on the spot.
    fn get(&self, full: &str) -> Result<EntityTypeName, String> {
        match self.names.iter().find(|(n, _)| n == full) {
            Some((_, t)) => Ok(t.clone()),
            None => EntityTypeName::from_str(full).map_err(|e| e.to_string()),
        }
    }

    /// The uid `Plinth::<entity>::"<id>"` (`entity` without the namespace).
    fn uid(&self, entity: &str, id: &str) -> Result<EntityUid, String> {
        let ty = match self
            .names
            .iter()
            .find(|(n, _)| n.strip_prefix("Plinth::") == Some(entity))
        {
            Some((_, t)) => t.clone(),
            None => {
                EntityTypeName::from_str(&format!("Plinth::{entity}")).map_err(|e| e.to_string())?
            }
        };
        Ok(EntityUid::from_type_name_and_id(ty, EntityId::new(id)))
    }
}

/// The policies that can apply to requests of one shape (action, principal type,
/// resource type).
struct Scoped {
    set: PolicySet,
    /// `Some(ids)` when every policy in `set` is an unconditional
    /// `permit (principal, action, resource);`: Cedar's answer is then known without
    /// evaluating anything (Allow, determined by exactly those permits, no errors), so
    /// such requests are not sent to Cedar. With the baseline pack, `read`s of feature
    /// views are.
    always_allow: Option<Vec<String>>,
}

/// The policies whose scope does not rule out the action or the entity types. Cedar
/// evaluates every policy it is given.
fn scoped_set(packs: &Packs, action: &str, principal: &str, resource: &str) -> Scoped {
    use cedar_policy::{ActionConstraint, Effect, PrincipalConstraint, ResourceConstraint};
    let type_ok = |t: &cedar_policy::EntityTypeName, want: &str| t.basename() == want;
    let mut set = PolicySet::new();
    let mut unconditional = Vec::new();
    let mut all_unconditional = true;
    for p in packs.set.policies() {
        let action_constraint = p.action_constraint();
        let action_ok = match &action_constraint {
            ActionConstraint::Any => true,
            ActionConstraint::Eq(uid) => uid.id().unescaped() == action,
            ActionConstraint::In(uids) => uids.iter().any(|u| u.id().unescaped() == action),
        };
        let principal_constraint = p.principal_constraint();
        let principal_ok = match &principal_constraint {
            PrincipalConstraint::Is(t) | PrincipalConstraint::IsIn(t, _) => type_ok(t, principal),
            PrincipalConstraint::Eq(uid) => type_ok(uid.type_name(), principal),
            PrincipalConstraint::Any | PrincipalConstraint::In(_) => true,
        };
        let resource_constraint = p.resource_constraint();
        let resource_ok = match &resource_constraint {
            ResourceConstraint::Is(t) | ResourceConstraint::IsIn(t, _) => type_ok(t, resource),
            ResourceConstraint::Eq(uid) => type_ok(uid.type_name(), resource),
            ResourceConstraint::Any | ResourceConstraint::In(_) => true,
        };
        if action_ok && principal_ok && resource_ok {
            let always_true = p.effect() == Effect::Permit
                && !p.has_non_scope_constraint()
                && matches!(action_constraint, ActionConstraint::Any)
                && matches!(principal_constraint, PrincipalConstraint::Any)
                && matches!(resource_constraint, ResourceConstraint::Any);
            if always_true {
                unconditional.push(p.id().to_string());
            } else {
                all_unconditional = false;
            }
            // INVARIANT: ids are unique in `packs.set`, so `add` cannot fail.
            let _ = set.add(p.clone());
        }
    }
    // An empty set denies everything (no permit), so it is not "always allow".
    let always_allow = (all_unconditional && !unconditional.is_empty()).then_some(unconditional);
    Scoped { set, always_allow }
}

/// Cedar's answer: allowed, determining policy ids, evaluation errors.
type Answer = (bool, Vec<String>, Vec<String>);

struct Req {
    action: &'static str,
    principal: (&'static str, String),
    resource: (&'static str, String),
}

fn requests(p: &Platform) -> Vec<Req> {
    let mut out = Vec::new();
    let mut push =
        |action, principal: (&'static str, &String), resource: (&'static str, &String)| {
            out.push(Req {
                action,
                principal: (principal.0, principal.1.clone()),
                resource: (resource.0, resource.1.clone()),
            });
        };
    for v in p.feature_views.values() {
        push("materialize", ("Team", &v.owner), ("FeatureView", &v.name));
        if p.sources.contains_key(&v.source) {
            push("read", ("FeatureView", &v.name), ("Source", &v.source));
        }
    }
    for m in p.models.values() {
        if m.training.is_some() {
            push("train", ("Team", &m.owner), ("Model", &m.name));
        }
        let views: BTreeSet<&String> = m.inputs.iter().map(|f| &f.view).collect();
        for v in views
            .into_iter()
            .filter(|v| p.feature_views.contains_key(*v))
        {
            push("read", ("Model", &m.name), ("FeatureView", v));
        }
    }
    for s in p.services.values() {
        push("deploy", ("Team", &s.owner), ("Service", &s.name));
        if let Some(m) = p.models.get(&s.model) {
            push("read", ("Service", &s.name), ("Model", &s.model));
            let views: BTreeSet<&String> = m.inputs.iter().map(|f| &f.view).collect();
            for v in views
                .into_iter()
                .filter(|v| p.feature_views.contains_key(*v))
            {
                push("read", ("Service", &s.name), ("FeatureView", v));
            }
        }
    }
    for j in p.batch_jobs.values() {
        push("deploy", ("Team", &j.owner), ("BatchJob", &j.name));
        if p.models.contains_key(&j.model) {
            push("read", ("BatchJob", &j.name), ("Model", &j.model));
        }
        if p.sources.contains_key(&j.input) {
            push("read", ("BatchJob", &j.name), ("Source", &j.input));
        }
        if p.sources.contains_key(&j.output) {
            push("write", ("BatchJob", &j.name), ("Source", &j.output));
        }
    }
    out
}

/// The declaration behind a Cedar entity in one environment.
fn origin<'p>(p: &'p Platform, entity: &str, name: &str) -> Option<&'p Origin> {
    match entity {
        "Team" => p.teams.get(name).map(|x| &x.origin),
        "Environment" => p.environments.get(name).map(|x| &x.origin),
        "Source" => p.sources.get(name).map(|x| &x.origin),
        "FeatureView" => p.feature_views.get(name).map(|x| &x.origin),
        "Model" => p.models.get(name).map(|x| &x.origin),
        "Service" => p.services.get(name).map(|x| &x.origin),
        "BatchJob" => p.batch_jobs.get(name).map(|x| &x.origin),
        _ => None,
    }
}

fn kind_word(entity: &str) -> &'static str {
    match entity {
        "Team" => "team",
        "Environment" => "environment",
        "Source" => "source",
        "FeatureView" => "feature_view",
        "Model" => "model",
        "Service" => "service",
        "BatchJob" => "batch_job",
        _ => "declaration",
    }
}

/// Key of a violation across environments.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ViolationKey {
    policy: String,
    entity: &'static str,
    name: String,
}

struct Found {
    diagnostic: Diagnostic,
    envs: Vec<String>,
}

/// Evaluate every selected policy over every environment's platform.
pub fn evaluate(packs: &Packs, platforms: &[&Platform], options: &Options) -> Outcome {
    let mut outcome = Outcome::default();
    let cross = CrossEnv::new(platforms);
    let waivers: BTreeMap<String, &Waiver> = platforms
        .iter()
        .flat_map(|p| p.waivers.values())
        .map(|w| (w.name.clone(), w))
        .collect();
    let today = options.today.days_since_epoch();
    let active = |w: &Waiver| w.expires.days_since_epoch() >= today;
    let mut found: BTreeMap<ViolationKey, Found> = BTreeMap::new();
    let mut waiver_used: BTreeSet<String> = BTreeSet::new();
    let mut failures: Vec<Diagnostic> = Vec::new();
    let authorizer = Authorizer::new();
    let types = Cache::new();

    for p in platforms {
        let env = &p.environment.name;
        let mut clock = std::time::Instant::now();
        let mut lap = |outcome: &mut Outcome, phase: &'static str| {
            let t = clock.elapsed().as_secs_f64();
            match outcome.timings.iter_mut().find(|(p, _)| *p == phase) {
                Some((_, acc)) => *acc += t,
                None => outcome.timings.push((phase, t)),
            }
            clock = std::time::Instant::now();
        };
        let mut entity_errors = Vec::new();
        // Entities carry only what policies read, unless they are validated or shown.
        let keep =
            (!options.validate_entities && !options.keep_entities).then_some(&packs.referenced);
        let built = entities::build(p, &cross, &mut entity_errors, keep);
        for e in &entity_errors {
            let span = origin(p, entity_type(e.kind), &e.name)
                .map(|o| (o.file.clone(), o.field_span(&e.field)));
            let (file, span) = span.unwrap_or_default();
            failures.push(
                Diagnostic::error(code::EVALUATION, span, e.message.clone())
                    .with_file(&file)
                    .with_help(
                        "policies see numbers as Cedar decimals; write at most 4 decimal places",
                    ),
            );
        }
        lap(&mut outcome, "entity JSON");
        // The JSON is only needed again by `explain`; otherwise it is freed before
        // authorizing.
        let (converted, built) = match (options.validate_entities, options.keep_entities) {
            (true, keep) => (validated_entities(packs, &built), keep.then_some(built)),
            (false, true) => (
                fast_entities(packs, &types, built.values().collect()),
                Some(built),
            ),
            (false, false) => (
                fast_entities(packs, &types, built.into_values().collect()),
                None,
            ),
        };
        let cedar_entities = match converted {
            Ok(e) => e,
            Err(e) => {
                failures.push(
                    Diagnostic::error(
                        code::EVALUATION,
                        p.environment.origin.span,
                        format!("Cedar rejected the entities of environment `{env}`: {e}"),
                    )
                    .with_file(&p.environment.origin.file)
                    .with_help("this is a bug in Plinth's entity builder; policies were not evaluated (fail closed)"),
                );
                continue;
            }
        };
        lap(&mut outcome, "Cedar entities");
        let reqs = requests(p);
        // Contexts are validated against the schema once per action; requests are
        // then built without re-validation (entities are already validated).
        let mut contexts: BTreeMap<&'static str, Context> = BTreeMap::new();
        let ctx_json = entities::context(&p.environment);
        let mut setup_failed = false;
        for (action, ..) in crate::schema::ACTIONS {
            let result = types.uid("Action", action).and_then(|uid| {
                Context::from_json_value(ctx_json.clone(), Some((&packs.schema, &uid)))
                    .map_err(|e| e.to_string())
            });
            match result {
                Ok(c) => {
                    contexts.insert(action, c);
                }
                Err(e) => {
                    setup_failed = true;
                    failures.push(
                        Diagnostic::error(
                            code::EVALUATION,
                            p.environment.origin.span,
                            format!("the request context of `{env}` does not validate: {e}"),
                        )
                        .with_file(&p.environment.origin.file),
                    );
                }
            }
        }
        if setup_failed {
            continue;
        }
        let mut validated: BTreeSet<(&str, &str, &str)> = BTreeSet::new();
        let mut sets: BTreeMap<(&str, &str, &str), Scoped> = BTreeMap::new();
        for r in &reqs {
            sets.entry((r.action, r.principal.0, r.resource.0))
                .or_insert_with(|| scoped_set(packs, r.action, r.principal.0, r.resource.0));
        }
        let results: Vec<Result<Answer, String>> = {
            let prepared: Vec<Result<(Request, &Scoped), String>> = reqs
                .iter()
                .map(|r| {
                    let principal = types.uid(r.principal.0, &r.principal.1)?;
                    let action = types.uid("Action", r.action)?;
                    let resource = types.uid(r.resource.0, &r.resource.1)?;
                    let context = contexts
                        .get(r.action)
                        .cloned()
                        .ok_or_else(|| format!("no context for `{}`", r.action))?;
                    // The first request of each shape is validated against the schema
                    // (also when Cedar is not asked: it must be a well-typed request).
                    let first = validated.insert((r.action, r.principal.0, r.resource.0));
                    let schema = first.then_some(&packs.schema);
                    let scoped = sets
                        .get(&(r.action, r.principal.0, r.resource.0))
                        .ok_or_else(|| format!("no policy set for `{}`", r.action))?;
                    Request::new(principal, action, resource, context, schema)
                        .map(|req| (req, scoped))
                        .map_err(|e| e.to_string())
                })
                .collect();
            prepared
                .into_par_iter()
                .map(|req| {
                    let (req, scoped) = req?;
                    if let Some(ids) = &scoped.always_allow {
                        return Ok((true, ids.clone(), Vec::new()));
                    }
                    let response = authorizer.is_authorized(&req, &scoped.set, &cedar_entities);
                    let allowed = response.decision() == CedarDecision::Allow;
                    let reasons: Vec<String> = response
                        .diagnostics()
                        .reason()
                        .map(|id| id.to_string())
                        .collect();
                    let errors: Vec<String> = response
                        .diagnostics()
                        .errors()
                        .map(|e| e.to_string())
                        .collect();
                    Ok((allowed, reasons, errors))
                })
                .collect()
        };
        lap(&mut outcome, "authorization");
        outcome.requests += reqs.len();
        let mut decisions = Vec::with_capacity(reqs.len());
        for (r, result) in reqs.iter().zip(results) {
            let (cedar_allowed, mut determining, errors) = match result {
                Ok(x) => x,
                Err(e) => (false, Vec::new(), vec![e]),
            };
            determining.sort();
            let mut decision = Decision {
                environment: env.clone(),
                action: r.action.to_string(),
                principal: (r.principal.0.to_string(), r.principal.1.clone()),
                resource: (r.resource.0.to_string(), r.resource.1.clone()),
                allowed: cedar_allowed && errors.is_empty(),
                cedar_allowed,
                determining: Vec::new(),
                waived: Vec::new(),
                errors: errors.clone(),
            };
            for e in &errors {
                let (file, span) = origin(p, r.resource.0, &r.resource.1)
                    .map(|o| (o.file.clone(), o.span))
                    .unwrap_or_default();
                failures.push(
                    Diagnostic::error(
                        code::EVALUATION,
                        span,
                        format!(
                            "policy evaluation failed for `{}` on {} `{}` in `{env}`: {e}",
                            r.action,
                            kind_word(r.resource.0),
                            r.resource.1
                        ),
                    )
                    .with_file(&file)
                    .with_help("a policy that errors cannot pass: fix the policy (check `has` before optional attributes)"),
                );
            }
            if !cedar_allowed && determining.is_empty() && errors.is_empty() {
                let (file, span) = origin(p, r.resource.0, &r.resource.1)
                    .map(|o| (o.file.clone(), o.span))
                    .unwrap_or_default();
                failures.push(
                    Diagnostic::error(
                        code::EVALUATION,
                        span,
                        format!(
                            "no policy permits `{}` on {} `{}` in `{env}`",
                            r.action,
                            kind_word(r.resource.0),
                            r.resource.1
                        ),
                    )
                    .with_file(&file)
                    .with_help("every pack has a base `permit(principal, action, resource);`"),
                );
            }
            let mut any_error_rule = false;
            for id in &determining {
                let Some(rule) = packs.rule(id) else {
                    continue;
                };
                if !rule.forbid {
                    continue;
                }
                let (entity, name) = match rule.blame {
                    Blame::Resource => (r.resource.0, &r.resource.1),
                    Blame::Principal => (r.principal.0, &r.principal.1),
                };
                let waiver = waivers
                    .values()
                    .find(|w| w.policy == rule.id && w.targets.contains(name) && active(w));
                match waiver {
                    Some(w) => {
                        decision.waived.push((rule.id.clone(), w.name.clone()));
                        waiver_used.insert(w.name.clone());
                    }
                    None => {
                        if rule.severity == Severity::Error {
                            any_error_rule = true;
                        }
                    }
                }
                let key = ViolationKey {
                    policy: rule.id.clone(),
                    entity,
                    name: name.clone(),
                };
                if let Some(f) = found.get_mut(&key) {
                    if !f.envs.contains(env) {
                        f.envs.push(env.clone());
                    }
                    continue;
                }
                let Some(o) = origin(p, entity, name) else {
                    continue;
                };
                let span = rule.field.as_deref().map_or(o.span, |f| o.field_span(f));
                let base = match rule.severity {
                    Severity::Error => {
                        Diagnostic::error(code::VIOLATION, span, rule.message.clone())
                    }
                    Severity::Warning => {
                        Diagnostic::warning(code::VIOLATION, span, rule.message.clone())
                    }
                };
                let mut d = base.with_file(&o.file).with_help(rule.help.clone());
                d.policy = Some(rule.id.clone());
                found.insert(
                    key,
                    Found {
                        diagnostic: d,
                        envs: vec![env.clone()],
                    },
                );
            }
            decision.determining = determining;
            if any_error_rule {
                decision.allowed = false;
            } else if decision.errors.is_empty() && !decision.determining.is_empty() {
                // Denied only by warnings or waived rules: Plinth allows it.
                decision.allowed = true;
            }
            decisions.push(decision);
        }
        lap(&mut outcome, "decisions");
        outcome.decisions.insert(env.clone(), decisions);
        if let Some(built) = built {
            outcome.entities.insert(env.clone(), built);
        }
        // Freeing an environment's entities took ~40 ms of this thread at 5,000
        // services; a pool thread frees them while this one goes on.
        rayon::spawn(move || drop(cedar_entities));
    }

    for (key, f) in found {
        let envs = f
            .envs
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut d = f.diagnostic;
        d.label = Some(format!(
            "{} `{}` in {envs} ({})",
            kind_word(key.entity),
            key.name,
            key.policy
        ));
        let waiver = waivers
            .values()
            .find(|w| w.policy == key.policy && w.targets.contains(&key.name) && active(w));
        match waiver {
            Some(w) => outcome.suppressed.push(Suppressed {
                diagnostic: d,
                waiver: w.name.clone(),
                reason: w.reason.clone(),
                approved_by: w.approved_by.clone(),
                expires: w.expires,
                waiver_file: w.origin.file.clone(),
                waiver_span: w.origin.span,
            }),
            None => outcome.diagnostics.push(d),
        }
    }

    check_waivers(
        packs,
        platforms,
        &waivers,
        &waiver_used,
        options,
        &mut outcome.diagnostics,
    );
    failures.dedup();
    outcome.diagnostics.extend(failures);
    outcome.diagnostics.sort_by(|a, b| {
        (&a.file, a.span.start, &a.policy, &a.message).cmp(&(
            &b.file,
            b.span.start,
            &b.policy,
            &b.message,
        ))
    });
    outcome.diagnostics.dedup();
    outcome
}

fn entity_type(kind: &str) -> &'static str {
    match kind {
        "source" => "Source",
        "feature_view" => "FeatureView",
        "model" => "Model",
        "service" => "Service",
        "batch_job" => "BatchJob",
        _ => "",
    }
}

/// Expired, unknown-policy, unknown-target, too long and unused waivers.
fn check_waivers(
    packs: &Packs,
    platforms: &[&Platform],
    waivers: &BTreeMap<String, &Waiver>,
    used: &BTreeSet<String>,
    options: &Options,
    out: &mut Vec<Diagnostic>,
) {
    let today = options.today.days_since_epoch();
    for w in waivers.values() {
        let o = &w.origin;
        let err = |field: &str, message: String| {
            Diagnostic::error(code::WAIVER, o.field_span(field), message).with_file(&o.file)
        };
        let mut broken = false;
        if packs.rule(&w.policy).is_none() {
            let ids: Vec<&str> = packs.rules.keys().map(String::as_str).collect();
            let close = crate::load::did_you_mean(&w.policy, &ids);
            out.push(
                err("policy", format!("waiver `{}` names no policy `{}`", w.name, w.policy))
                    .with_label("not a loaded policy id")
                    .with_help(match close {
                        Some(c) => format!("did you mean `{c}`?"),
                        None => "`plinth explain POLICY_ID` shows a policy; ids are listed by `plinth test-policies`".to_string(),
                    }),
            );
            broken = true;
        }
        for t in &w.targets {
            let known = platforms.iter().any(|p| {
                p.services.contains_key(t)
                    || p.batch_jobs.contains_key(t)
                    || p.models.contains_key(t)
                    || p.feature_views.contains_key(t)
                    || p.sources.contains_key(t)
                    || p.teams.contains_key(t)
                    || p.environments.contains_key(t)
            });
            if !known {
                out.push(
                    err("target", format!("waiver `{}` targets `{t}`, which no policy decides about", w.name))
                        .with_label("not a service, batch job, model, feature view, source, team or environment in any environment")
                        .with_help("name the declaration the violation is reported on"),
                );
                broken = true;
            }
        }
        let expires = w.expires.days_since_epoch();
        if expires < today {
            out.push(
                err("expires", format!("waiver `{}` expired on {}", w.name, w.expires))
                    .with_label("expired")
                    .with_help(format!(
                        "fix the violation of `{}` and delete the waiver, or renew it with a new approval (today is {})",
                        w.policy, options.today
                    )),
            );
            broken = true;
        } else if expires - today > i64::from(options.max_waiver_days) {
            out.push(
                err(
                    "expires",
                    format!(
                        "waiver `{}` runs {} days, longer than the workspace's maximum of {} days",
                        w.name,
                        expires - today,
                        options.max_waiver_days
                    ),
                )
                .with_label("too far out")
                .with_help("waivers are time-boxed; pick an earlier date or raise `[policy] max_waiver_days` in plinth.toml"),
            );
        }
        if !broken && !used.contains(&w.name) {
            out.push(
                Diagnostic::warning(
                    code::WAIVER,
                    o.span,
                    format!(
                        "waiver `{}` suppresses nothing: `{}` reports no violation on {}",
                        w.name,
                        w.policy,
                        w.targets
                            .iter()
                            .map(|t| format!("`{t}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .with_file(&o.file)
                .with_help("the violation is fixed: delete the waiver"),
            );
        }
    }
}

/// Parse `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<Date> {
    let t = text.trim();
    (t.len() == 10 && t.as_bytes().get(4) == Some(&b'-') && t.as_bytes().get(7) == Some(&b'-'))
        .then(|| Date::parse(t))
        .flatten()
}

/// Today's date (UTC) from the system clock.
pub fn today() -> Date {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    civil_from_days(days)
}

/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> Date {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    Date {
        year: u16::try_from(y).unwrap_or(1970),
        month: u8::try_from(m).unwrap_or(1),
        day: u8::try_from(d).unwrap_or(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip() {
        for text in ["1970-01-01", "2000-02-29", "2026-11-24", "2027-03-31"] {
            let d = Date::parse(text).unwrap();
            assert_eq!(civil_from_days(d.days_since_epoch()), d);
        }
        assert!(parse_date("2026-1-01").is_none());
        assert!(parse_date("2026-02-30").is_none());
    }

    /// A request shape only unconditional permits apply to is answered without Cedar;
    /// the answer must be Cedar's own.
    #[test]
    fn always_allow_is_what_cedar_answers() {
        let all: Vec<String> = crate::builtin_packs()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (packs, diags) = crate::load(&all, Vec::new(), None);
        assert!(diags.is_empty(), "{diags:?}");
        let packs = packs.unwrap();
        // Rules apply to deploying services: Cedar must be asked.
        assert!(
            scoped_set(&packs, "deploy", "Team", "Service")
                .always_allow
                .is_none()
        );
        let scoped = scoped_set(&packs, "read", "Model", "FeatureView");
        let ids = scoped.always_allow.clone().unwrap();
        assert_eq!(ids, ["baseline.allow", "eu-ai-act.allow"]);
        let types = Cache::new();
        let request = Request::new(
            types.uid("Model", "m").unwrap(),
            types.uid("Action", "read").unwrap(),
            types.uid("FeatureView", "v").unwrap(),
            Context::empty(),
            None,
        )
        .unwrap();
        let response = Authorizer::new().is_authorized(&request, &scoped.set, &Entities::empty());
        assert_eq!(response.decision(), CedarDecision::Allow);
        let mut reasons: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| id.to_string())
            .collect();
        reasons.sort();
        assert_eq!(reasons, ids);
        assert_eq!(response.diagnostics().errors().count(), 0);
        // No policy at all is a Deny, never "always allow".
        let (none, _) = crate::load(&[], Vec::new(), None);
        assert!(
            scoped_set(&none.unwrap(), "read", "Model", "FeatureView")
                .always_allow
                .is_none()
        );
    }

    /// The fast path relies on parents being all the ancestors; a deeper hierarchy must
    /// fail (closed), not be evaluated with a wrong closure.
    #[test]
    fn a_deeper_hierarchy_fails_the_closure_check() {
        let (packs, _) = crate::load(&["baseline".to_string()], Vec::new(), None);
        let packs = packs.unwrap();
        let types = Cache::new();
        let entity = |ty: &str, id: &str, parent: Option<&str>| {
            serde_json::json!({
                "uid": uid_json(ty, id),
                "attrs": {},
                "parents": parent.map(|p| vec![uid_json("Team", p)]).unwrap_or_default(),
            })
        };
        let flat = vec![entity("Team", "a", None), entity("Service", "s", Some("a"))];
        assert!(fast_entities(&packs, &types, flat).is_ok());
        let deep = vec![
            entity("Team", "b", None),
            entity("Team", "a", Some("b")),
            entity("Service", "s", Some("a")),
        ];
        assert!(fast_entities(&packs, &types, deep).is_err());
    }

    #[test]
    fn entity_uids_parse() {
        assert!(EntityUid::from_str(r#"Plinth::Service::"a""#).is_ok());
        let types = Cache::new();
        let uid = types.uid("Service", "fraud_api").unwrap();
        // The same uid as Cedar's own JSON reading gives.
        let json = EntityUid::from_json(uid_json("Service", "fraud_api")).unwrap();
        assert_eq!(uid, json);
        assert_eq!(
            uid,
            uid_from_json(&types, &uid_json("Service", "fraud_api")).unwrap()
        );
        // Every schema entity type and `Action` are parsed up front.
        assert_eq!(types.names.len(), crate::schema::entity_kinds().count() + 1);
        // A name that is not cached still works.
        assert!(types.get("Other::Thing").is_ok());
        // A cached decimal is the value Cedar evaluates `decimal("0.995")` to, every time.
        let entity = cedar_policy::Entity::new(
            uid.clone(),
            HashMap::from([("d".to_string(), RestrictedExpression::new_decimal("0.995"))]),
            HashSet::new(),
        )
        .unwrap();
        let expected = entity.as_ref().get("d").unwrap().clone();
        for _ in 0..2 {
            assert_eq!(
                core::ast::PartialValue::from(types.decimal("0.995").unwrap()),
                expected
            );
        }
        assert!(types.decimal("0.12345").is_err());
    }
}
