//! Evaluation: one Cedar request per deployable per environment (`deploy`, `train`,
//! `materialize`) and per data edge (`read`, `write`), against entities built once per
//! environment. Forbid rules that determine a Deny become diagnostics at the blamed
//! declaration (or its `@field`); waivers move them to the suppressed list.
//!
//! Fail closed: entities Cedar rejects, a request that does not validate, or any policy
//! evaluation error is an error diagnostic, never an Allow.

use crate::entities::{self, CrossEnv};
use crate::load::{Blame, Packs, code};
use crate::memo;
use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, EntityId, EntityTypeName, EntityUid,
    Request, RestrictedExpression,
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
use std::collections::HashMap;
use std::collections::{BTreeMap, BTreeSet};
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
    /// Appends the JSON line of the decision log (without the newline) to `out`. The
    /// line is serialized from borrowed, typed fields in their order: building a JSON
    /// value per decision took most of `build`'s time after the policies ran.
    pub fn write_log_line(&self, out: &mut Vec<u8>) {
        let line = LogLine {
            request: LogRequest {
                environment: &self.environment,
                principal: LogUid(&self.principal.0, &self.principal.1),
                action: LogUid("Action", &self.action),
                resource: LogUid(&self.resource.0, &self.resource.1),
            },
            decision: if self.allowed { "allow" } else { "deny" },
            cedar_decision: if self.cedar_allowed { "allow" } else { "deny" },
            determining_policies: &self.determining,
            // Empty in almost every line, and an empty vector does not allocate.
            waivers_applied: self
                .waived
                .iter()
                .map(|(policy, waiver)| LogWaiver { policy, waiver })
                .collect(),
            errors: &self.errors,
        };
        // Serializing strings and sequences into a vector cannot fail.
        let _ = serde_json::to_writer(out, &line);
    }
}

/// A decision log line, its keys in this order.
#[derive(Serialize)]
struct LogLine<'a> {
    request: LogRequest<'a>,
    decision: &'static str,
    cedar_decision: &'static str,
    determining_policies: &'a [String],
    waivers_applied: Vec<LogWaiver<'a>>,
    errors: &'a [String],
}

#[derive(Serialize)]
struct LogRequest<'a> {
    environment: &'a str,
    principal: LogUid<'a>,
    action: LogUid<'a>,
    resource: LogUid<'a>,
}

/// `{"type": "Plinth::<type>", "id": "<id>"}`, as [`entities::uid_json`] writes it.
struct LogUid<'a>(&'a str, &'a str);

impl Serialize for LogUid<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("type", &format_args!("Plinth::{}", self.0))?;
        map.serialize_entry("id", self.1)?;
        map.end()
    }
}

#[derive(Serialize)]
struct LogWaiver<'a> {
    policy: &'a str,
    waiver: &'a str,
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
    /// How the memoized evaluation decided each (request, policy) pair.
    pub memo: MemoStats,
}

/// Counts of (request, policy) verdicts of the memoized evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoStats {
    /// Taken from an earlier request with the same key.
    pub reused: usize,
    /// Decided by Cedar as the first request of its key.
    pub first: usize,
    /// Decided by Cedar alone: opaque policies, and requests whose policy errs.
    pub unkeyed: usize,
}

fn add_time(outcome: &mut Outcome, phase: &'static str, t: f64) {
    match outcome.timings.iter_mut().find(|(p, _)| *p == phase) {
        Some((_, acc)) => *acc += t,
        None => outcome.timings.push((phase, t)),
    }
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
    /// Keep every request's decision in the outcome (the decision log, grants,
    /// verdict summaries, `explain` and `graph` read them). `plinth check` reads only
    /// the diagnostics, which are the same either way.
    pub keep_decisions: bool,
    /// Plain Cedar, the reference the fast path is tested against (tests and
    /// `explain`): every attribute, as JSON validated against the schema, and Cedar's
    /// authorizer on every request with every policy. Otherwise (`plinth check`,
    /// `plinth build`) entities carry only the attributes some policy reads (a policy
    /// reading one that is missing fails to evaluate, which fails the check) and
    /// verdicts are memoized per policy (see `memo`).
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

/// Plinth's light values ([`memo::Attr`], numbered in [`memo::Values`]), built straight
/// from the platform model by the one entity builder (`entities`): no JSON to write and
/// read back, and Cedar's values ([`cedar_value`]) only for what Cedar evaluates. A
/// decimal Cedar rejects is found here, so the entity holding it fails as it did in
/// Cedar's own reader.
struct LightSink<'a> {
    types: &'a Cache,
    values: &'a memo::Values,
    /// Some decimal was rejected: entities look for it.
    failed: std::sync::atomic::AtomicBool,
}

impl entities::Sink for LightSink<'_> {
    type Value = memo::Id;
    type Entity = Result<std::sync::Arc<memo::Built>, String>;
    fn string(&self, s: &str) -> memo::Id {
        self.values.intern(memo::Probe::Str(s))
    }
    fn bool(&self, b: bool) -> memo::Id {
        self.values.intern(memo::Probe::Bool(b))
    }
    fn long(&self, n: i64) -> memo::Id {
        self.values.intern(memo::Probe::Long(n))
    }
    fn set(&self, items: Vec<memo::Id>) -> memo::Id {
        self.values.intern(memo::Probe::Set(&items))
    }
    fn record(&self, fields: Vec<(&str, memo::Id)>) -> memo::Id {
        self.values.intern(memo::Probe::Record(&fields))
    }
    fn entity_ref(&self, entity: &'static str, id: &str) -> memo::Id {
        self.values.intern(memo::Probe::Entity(entity, id))
    }
    fn decimal(&self, d: plinth_ir::Decimal) -> memo::Id {
        let (id, valid) = self.values.decimal(d, || {
            let text = entities::cedar_decimal(d).unwrap_or_else(|| "0.0".to_string());
            self.types.decimal(&text).map(|_| text)
        });
        if !valid {
            self.failed
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        id
    }
    fn entity(
        &self,
        entity: &'static str,
        id: &str,
        attrs: Vec<(&str, memo::Id)>,
        owner: Option<&str>,
    ) -> Self::Entity {
        if self.failed.load(std::sync::atomic::Ordering::Relaxed)
            && let Some(e) = attrs.iter().find_map(|(_, v)| self.values.invalid(*v))
        {
            return Err(e);
        }
        let attrs = attrs
            .into_iter()
            .map(|(k, v)| (SmolStr::from(k), v))
            .collect();
        Ok(std::sync::Arc::new(memo::Built::new(
            entity,
            SmolStr::from(id),
            attrs,
            owner.map(SmolStr::from),
        )))
    }
}

/// Cedar's value of a light value.
fn cedar_value(
    types: &Cache,
    values: &memo::Read<'_>,
    id: memo::Id,
) -> Result<core::ast::Value, String> {
    use core::ast::Value as V;
    use memo::Attr;
    let a = values
        .get(id)
        .ok_or_else(|| format!("internal: no value numbered {id}"))?;
    Ok(match a {
        Attr::Bool(b) => V::from(*b),
        Attr::Long(n) => V::from(*n),
        Attr::Str(s) => V::from(s.as_str()),
        Attr::Set(items) => V::set(
            items
                .iter()
                .map(|i| cedar_value(types, values, *i))
                .collect::<Result<Vec<_>, String>>()?,
            None,
        ),
        // A repeated name keeps its last value, as in the JSON object.
        Attr::Record(fields) => V::record(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), cedar_value(types, values, *v)?)))
                .collect::<Result<Vec<_>, String>>()?,
            None,
        ),
        Attr::Entity(ty, id) => V::from(core::ast::EntityUID::from(types.uid(ty, id)?)),
        Attr::Decimal(text) => types.decimal(text)?,
        Attr::Invalid(e) => return Err(e.clone()),
    })
}

/// Cedar's entity of a built one with the attributes given, the owner team as its
/// only parent (all its ancestors).
fn cedar_entity(
    types: &Cache,
    b: &memo::Built,
    attrs: Vec<(SmolStr, core::ast::Value)>,
) -> Result<core::ast::Entity, String> {
    let uid = types.uid(b.entity, &b.id)?;
    let parents = b
        .parent
        .iter()
        .map(|p| types.uid("Team", p).map(Into::into))
        .collect::<Result<std::collections::HashSet<core::ast::EntityUID>, String>>()?;
    Ok(core::ast::Entity::new_with_attr_partial_value(
        uid.into(),
        attrs
            .into_iter()
            .map(|(k, v)| (k, core::ast::PartialValue::from(v))),
        std::collections::HashSet::new(),
        parents,
        [],
    ))
}

/// Every entity of an environment as one Cedar store, for the policies the memo
/// cannot key (see `memo`); built the first time one needs it.
///
/// Cedar is asked to *check* the transitive closure of the hierarchy rather than
/// compute it: an entity's only parent is its owner team and teams have no parents, so
/// the parents are already all the ancestors. Computing it (a Tarjan pass over hash
/// maps of every entity) was the largest single-threaded cost. Should the hierarchy
/// ever get deeper, the check fails and so does every evaluation that needs the store
/// (closed), with Cedar's error.
fn full_store(
    types: &Cache,
    values: &memo::Read<'_>,
    index: &memo::Index,
) -> Result<Entities, String> {
    let mut all: Vec<core::ast::Entity> = index
        .values()
        .map(|b| {
            let attrs = b
                .attrs()
                .iter()
                .map(|(k, v)| Ok((k.clone(), cedar_value(types, values, *v)?)))
                .collect::<Result<Vec<_>, String>>()?;
            cedar_entity(types, b, attrs)
        })
        .collect::<Result<_, String>>()?;
    all.sort_by(|a, b| a.uid().cmp(b.uid()));
    core::entities::Entities::from_entities(
        all,
        None::<&core::entities::NoEntitiesSchema>,
        core::entities::TCComputation::EnforceAlreadyComputed,
        core::extensions::Extensions::all_available(),
    )
    .map(Entities::from)
    .map_err(|e| e.to_string())
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
    /// `Some(ids)` when every policy in `policies` is an unconditional
    /// `permit (principal, action, resource);`: Cedar's answer is then known without
    /// evaluating anything (Allow, determined by exactly those permits, no errors), so
    /// such requests are not sent to Cedar. With the baseline pack, `read`s of feature
    /// views are.
    always_allow: Option<Vec<String>>,
    /// The policies whose scope does not rule the shape out, as indices into
    /// `Packs::analyzed`, in policy-set order.
    policies: Vec<usize>,
}

/// The policies whose scope does not rule out the action or the entity types. Cedar
/// evaluates every policy it is given.
fn scoped_set(packs: &Packs, action: &str, principal: &str, resource: &str) -> Scoped {
    use cedar_policy::{ActionConstraint, Effect, PrincipalConstraint, ResourceConstraint};
    let type_ok = |t: &cedar_policy::EntityTypeName, want: &str| t.basename() == want;
    let mut unconditional = Vec::new();
    let mut all_unconditional = true;
    let mut policies = Vec::new();
    for (index, p) in packs.set.policies().enumerate() {
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
            policies.push(index);
        }
    }
    // An empty set denies everything (no permit), so it is not "always allow".
    let always_allow = (all_unconditional && !unconditional.is_empty()).then_some(unconditional);
    Scoped {
        always_allow,
        policies,
    }
}

/// Cedar's answer: allowed, determining policy ids, evaluation errors.
type Answer = (bool, Vec<String>, Vec<String>);

/// The shape of a request: action, principal type, resource type.
type Shape = (&'static str, &'static str, &'static str);

/// One request, its Cedar uids made only when Cedar is asked (few requests are: most
/// verdicts are memoized).
struct Prepared<'a> {
    shape: Shape,
    /// `(type, name)` of the principal and resource.
    principal_key: (&'static str, &'a str),
    resource_key: (&'static str, &'a str),
    context: &'a Context,
}

impl Prepared<'_> {
    fn request(
        &self,
        types: &Cache,
        schema: Option<&cedar_policy::Schema>,
    ) -> Result<Request, String> {
        Request::new(
            types.uid(self.principal_key.0, self.principal_key.1)?,
            types.uid("Action", self.shape.0)?,
            types.uid(self.resource_key.0, self.resource_key.1)?,
            self.context.clone(),
            schema,
        )
        .map_err(|e| e.to_string())
    }
}

/// Cedar's answer from Cedar's authorizer with the whole policy set on every request:
/// the reference the memoized evaluation is tested against.
fn plain_results(
    packs: &Packs,
    authorizer: &Authorizer,
    types: &Cache,
    prepared: Vec<Result<Prepared<'_>, String>>,
    entities: &Entities,
) -> Vec<Result<Answer, String>> {
    prepared
        .into_par_iter()
        .map(|r| {
            let request = r?.request(types, None)?;
            let response = authorizer.is_authorized(&request, &packs.set, entities);
            let allowed = response.decision() == CedarDecision::Allow;
            let reasons = response
                .diagnostics()
                .reason()
                .map(|id| id.to_string())
                .collect();
            let errors = response
                .diagnostics()
                .errors()
                .map(|e| e.to_string())
                .collect();
            Ok((allowed, reasons, errors))
        })
        .collect()
}

/// `(phase, seconds)`.
type Laps = Vec<(&'static str, f64)>;

/// The memoized verdicts of every policy, kept across environments (a key holds the
/// context's values too).
struct Memo {
    /// Per policy (`Packs::analyzed` order) and request shape: key → verdict. A key
    /// is the numbers (`memo::Seen::number`) at the policy's columns.
    maps: Vec<BTreeMap<Shape, Verdicts>>,
    /// The policies that can apply to each request shape.
    sets: BTreeMap<Shape, Scoped>,
    columns: BTreeMap<Shape, Columns>,
    /// Per request shape, the tuples seen (see `memo_results`).
    tuples: BTreeMap<Shape, Tuples>,
    stats: MemoStats,
}

/// The distinct tuples of one request shape, numbered in order of appearance.
#[derive(Default)]
struct Tuples {
    ids: HashMap<Vec<u32>, u32, Fx>,
    list: Vec<Tuple>,
}

/// Where each policy's verdict on the requests of one tuple comes from, and their
/// answer once all are known.
struct Tuple {
    /// Per policy of the shape (`Scoped::policies` order).
    slots: Vec<TupleSlot>,
    answer: Option<Answer>,
}

#[derive(Clone, Copy)]
enum TupleSlot {
    Known(bool),
    /// Cedar decides the first request of the key (number `first` of its policy's
    /// firsts in this environment); `made`: this tuple's first request is that first.
    Pending {
        first: usize,
        made: bool,
    },
    /// Cedar decides each request.
    Unkeyed,
}

type Fx = std::hash::BuildHasherDefault<memo::FxHasher>;

/// One policy's verdicts on one request shape, by key.
type Verdicts = HashMap<Vec<u32>, Slot, Fx>;

/// The paths the policies of one request shape read, each resolved once per request
/// however many policies read it, and what was seen there numbered (`Seen::number`:
/// the same number for equal values, in every environment), so a policy's key is a
/// few numbers.
struct Columns {
    paths: Vec<memo::Path>,
    /// Per keyed policy (index into `Packs::analyzed`): its paths' columns.
    of_policy: BTreeMap<usize, Vec<usize>>,
}

impl Columns {
    fn new(packs: &Packs, scoped: &Scoped) -> Columns {
        let mut paths: Vec<memo::Path> = Vec::new();
        let mut of_policy = BTreeMap::new();
        for &k in &scoped.policies {
            let Some(policy_paths) = packs.analyzed.get(k).and_then(|a| a.paths.as_ref()) else {
                continue;
            };
            let mut cols = Vec::new();
            for p in policy_paths {
                let col = match paths.iter().position(|q| q == p) {
                    Some(c) => c,
                    None => {
                        paths.push(p.clone());
                        paths.len() - 1
                    }
                };
                cols.push(col);
            }
            of_policy.insert(k, cols);
        }
        Columns { paths, of_policy }
    }
}

/// A column's number when a request cannot be keyed on it: Cedar decides.
const UNKEYED: u32 = memo::UNKEYED;

impl Memo {
    fn new(packs: &Packs) -> Memo {
        Memo {
            maps: packs.analyzed.iter().map(|_| BTreeMap::new()).collect(),
            sets: BTreeMap::new(),
            columns: BTreeMap::new(),
            tuples: BTreeMap::new(),
            stats: MemoStats::default(),
        }
    }
}

#[derive(Clone, Copy)]
enum Slot {
    Known(bool),
    /// The first request of the key is with Cedar (number `.0` of its policy's
    /// firsts in this environment).
    Pending(usize),
    /// The first request of the key erred: every request goes to Cedar.
    Unkeyed,
}

/// One policy's verdict on one request: satisfied or not, or Cedar's errors (the
/// policy is then not satisfied, as in Cedar's authorizer).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    Satisfied(bool),
    Failed(Vec<String>),
}

/// Cedar's entities of one environment, made as requests Cedar evaluates need them.
#[derive(Default)]
struct Stores {
    /// Every entity, for opaque policies.
    full: std::sync::OnceLock<Result<Entities, String>>,
    /// Cedar's value of each attribute value some request read, converted once: most
    /// repeat (a tier, a replica range, an SLO), and converting them was most of the
    /// time Cedar took.
    converted: Mutex<HashMap<memo::Id, core::ast::Value, Fx>>,
}

impl Stores {
    fn value(
        &self,
        types: &Cache,
        values: &memo::Read<'_>,
        id: memo::Id,
    ) -> Result<core::ast::Value, String> {
        // A poisoned lock only means another thread panicked; the map is still valid.
        if let Some(v) = self
            .converted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
        {
            return Ok(v.clone());
        }
        let v = cedar_value(types, values, id)?;
        self.converted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, v.clone());
        Ok(v)
    }

    /// Cedar's entity `b` with just the attributes `reads` of it (those it has).
    fn entity(
        &self,
        types: &Cache,
        values: &memo::Read<'_>,
        b: &memo::Built,
        reads: &[memo::Touched],
    ) -> Result<core::ast::Entity, String> {
        let mut attrs = Vec::new();
        for (_, _, attr) in reads
            .iter()
            .filter(|(ty, id, _)| *ty == b.entity && *id == b.id)
        {
            if let Some(v) = b.get(attr) {
                attrs.push((attr.clone(), self.value(types, values, v)?));
            }
        }
        cedar_entity(types, b, attrs)
    }
}

/// Cedar's verdict of one policy on one request. A keyed policy is given just the
/// entities its paths reach from this request (the principal, the resource and the
/// entities they reference on the way): all it can read. Otherwise the whole store.
fn decide(
    authorizer: &Authorizer,
    types: &Cache,
    policy: &crate::load::Analyzed,
    r: &Prepared<'_>,
    roots: &memo::Roots<'_>,
    env: memo::Env<'_>,
    stores: &Stores,
) -> Verdict {
    let memo::Env { index, values } = env;
    let request = match r.request(types, None) {
        Ok(r) => r,
        Err(e) => return Verdict::Failed(vec![e]),
    };
    let store = match &policy.paths {
        Some(paths) => {
            // What the paths read is all Cedar reads: the entities given are the
            // principal and the resource (Cedar looks them up) and those the paths
            // reach, each with just the attributes read.
            let mut reads: Vec<memo::Touched> = Vec::new();
            for path in paths {
                memo::resolve(path, roots, env, Some(&mut reads));
            }
            let mut keys: Vec<(&'static str, SmolStr)> = Vec::new();
            let variables = [r.principal_key, r.resource_key]
                .into_iter()
                .map(|(ty, id)| (ty, SmolStr::from(id)));
            for key in variables.chain(reads.iter().map(|(ty, id, _)| (*ty, id.clone()))) {
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            keys.iter()
                .filter_map(|key| index.get(key))
                .map(|b| stores.entity(types, values, b, &reads))
                .collect::<Result<Vec<_>, String>>()
                .and_then(|entities| {
                    core::entities::Entities::from_entities(
                        entities,
                        None::<&core::entities::NoEntitiesSchema>,
                        core::entities::TCComputation::AssumeAlreadyComputed,
                        core::extensions::Extensions::all_available(),
                    )
                    .map(Entities::from)
                    .map_err(|e| e.to_string())
                })
        }
        None => stores
            .full
            .get_or_init(|| full_store(types, values, index))
            .clone(),
    };
    let store = match store {
        Ok(s) => s,
        Err(e) => return Verdict::Failed(vec![format!("Cedar rejected the entities: {e}")]),
    };
    let response = authorizer.is_authorized(&request, &policy.single, &store);
    let errors: Vec<String> = response
        .diagnostics()
        .errors()
        .map(|e| e.to_string())
        .collect();
    if errors.is_empty() {
        Verdict::Satisfied(response.diagnostics().reason().next().is_some())
    } else {
        Verdict::Failed(errors)
    }
}

/// Cedar's answer, one policy at a time, each verdict memoized on the values the
/// policy reads (see `memo`), combined as Cedar's authorizer does: Deny if a forbid is
/// satisfied (determined by those), else Allow if a permit is (determined by those),
/// else Deny; every policy's errors. Also returns `(phase, seconds)`.
// Keys hold Cedar values, whose extension values sit behind an `Arc` clippy counts as
// interior mutability; nothing in them changes their order.
#[allow(clippy::mutable_key_type)]
fn memo_results(
    packs: &Packs,
    authorizer: &Authorizer,
    memo: &mut Memo,
    prepared: &[Result<Prepared<'_>, String>],
    env: memo::Env<'_>,
    context: memo::Id,
    types: &Cache,
) -> (Vec<Result<Answer, String>>, Laps) {
    let index = env.index;
    let mut clock = std::time::Instant::now();
    let mut laps = Vec::new();
    let mut lap = |phase: &'static str| {
        laps.push((phase, clock.elapsed().as_secs_f64()));
        clock = std::time::Instant::now();
    };
    // The requests of each shape, in order (they come grouped by shape).
    let mut of_shape: Vec<(Shape, Vec<usize>)> = Vec::new();
    for (i, r) in prepared.iter().enumerate() {
        let Ok(r) = r else { continue };
        match of_shape.last_mut() {
            Some((shape, requests)) if *shape == r.shape => requests.push(i),
            _ => of_shape.push((r.shape, vec![i])),
        }
    }
    // The requests Cedar must be asked about, by shape (a quarter are not: see
    // `Scoped`), and marked.
    let mut by_shape: BTreeMap<Shape, Vec<usize>> = BTreeMap::new();
    let mut asked = vec![false; prepared.len()];
    for (shape, requests) in of_shape {
        let (action, principal, resource) = shape;
        let scoped = memo
            .sets
            .entry(shape)
            .or_insert_with(|| scoped_set(packs, action, principal, resource));
        memo.columns
            .entry(shape)
            .or_insert_with(|| Columns::new(packs, scoped));
        if scoped.always_allow.is_none() {
            for &i in &requests {
                if let Some(a) = asked.get_mut(i) {
                    *a = true;
                }
            }
            by_shape.entry(shape).or_default().extend(requests);
        }
    }
    let sets = &memo.sets;
    // The variables of each request Cedar is asked about, its entities looked up once.
    let roots: Vec<Option<memo::Roots<'_>>> = prepared
        .par_iter()
        .zip(&asked)
        .map(|(r, &asked)| {
            let r = r.as_ref().ok().filter(|_| asked)?;
            Some(memo::Roots::new(
                r.principal_key,
                r.resource_key,
                context,
                index,
            ))
        })
        .collect();
    let roots_of = |i: usize| roots.get(i).and_then(Option::as_ref);

    // 1. Each column of each shape resolved for the shape's requests (in order) and
    // numbered (`Seen::number`), one shape per task. A request's columns are resolved
    // together: they read the same few entities, which then stay in the cache (column
    // after column over all requests missed it on every entity).
    let mut tasks = Vec::new();
    for (shape, columns) in &memo.columns {
        if let Some(requests) = by_shape.get(shape) {
            tasks.push((*shape, columns, requests));
        }
    }
    let numbers: BTreeMap<Shape, Vec<Vec<u32>>> = tasks
        .into_par_iter()
        .map(|(shape, columns, requests)| {
            let paths = &columns.paths;
            let mut out: Vec<Vec<u32>> = paths
                .iter()
                .map(|_| Vec::with_capacity(requests.len()))
                .collect();
            let mut hints: Vec<Vec<usize>> = paths.iter().map(|_| Vec::new()).collect();
            for &i in requests {
                let roots = roots_of(i);
                for ((path, column), hints) in
                    paths.iter().zip(out.iter_mut()).zip(hints.iter_mut())
                {
                    // Every request of an environment has the same context: a context
                    // path is resolved and numbered once.
                    if path.root == memo::Root::Context
                        && let Some(&n) = column.first()
                    {
                        column.push(n);
                        continue;
                    }
                    let seen = roots.and_then(|r| memo::resolve_hinted(path, r, env, None, hints));
                    column.push(seen.map_or(UNKEYED, memo::Seen::number));
                }
            }
            (shape, out)
        })
        .collect();
    lap("memo columns");
    let columns = &memo.columns;

    // 2. Tuples. A request's tuple is the numbers of all its shape's columns; every
    // policy's key is part of it, so requests with equal tuples get equal verdicts
    // from each policy (those that err aside). Keys are looked up, and verdicts
    // combined, once per distinct tuple: thousands, not the 74,000 requests of a
    // 5,000-service workspace. A tuple's slots say, per policy of the shape, where
    // its verdict comes from.
    let Memo {
        maps,
        tuples,
        stats,
        ..
    } = memo;
    // Per request: its tuple's number within its shape.
    let mut tuple_of: Vec<u32> = vec![0; prepared.len()];
    // Per policy: its first request of each key new in this environment.
    let mut firsts: Vec<Vec<usize>> = vec![Vec::new(); packs.analyzed.len()];
    // Per shape: how many of this environment's requests each tuple has.
    let mut counts: BTreeMap<Shape, Vec<usize>> = BTreeMap::new();
    let mut key: Vec<u32> = Vec::new();
    let mut policy_key: Vec<u32> = Vec::new();
    for (shape, requests) in &by_shape {
        let (Some(scoped), Some(shape_columns)) = (sets.get(shape), columns.get(shape)) else {
            continue;
        };
        let shape_numbers = numbers.get(shape).map_or(&[][..], Vec::as_slice);
        let known = tuples.entry(*shape).or_default();
        for (pos, &i) in requests.iter().enumerate() {
            key.clear();
            key.extend(
                shape_numbers
                    .iter()
                    .map(|col| col.get(pos).copied().unwrap_or(UNKEYED)),
            );
            let t = match known.ids.get(key.as_slice()) {
                Some(&t) => t,
                None => {
                    let t = u32::try_from(known.list.len()).unwrap_or(u32::MAX);
                    let mut slots = Vec::with_capacity(scoped.policies.len());
                    for &k in &scoped.policies {
                        policy_key.clear();
                        // An opaque policy, or a column without a number: no key.
                        let keyed = shape_columns.of_policy.get(&k).is_some_and(|cols| {
                            cols.iter().all(|&c| match key.get(c) {
                                Some(&n) if n != UNKEYED => {
                                    policy_key.push(n);
                                    true
                                }
                                _ => false,
                            })
                        });
                        let map = maps.get_mut(k).map(|m| m.entry(*shape).or_default());
                        let slot = match map {
                            Some(map) if keyed => match map.get(policy_key.as_slice()) {
                                Some(Slot::Known(b)) => TupleSlot::Known(*b),
                                Some(Slot::Pending(j)) => TupleSlot::Pending {
                                    first: *j,
                                    made: false,
                                },
                                Some(Slot::Unkeyed) => TupleSlot::Unkeyed,
                                None => {
                                    let mine = firsts.get_mut(k);
                                    let j = mine.as_ref().map_or(0, |f| f.len());
                                    map.insert(policy_key.clone(), Slot::Pending(j));
                                    mine.into_iter().for_each(|f| f.push(i));
                                    TupleSlot::Pending {
                                        first: j,
                                        made: true,
                                    }
                                }
                            },
                            _ => TupleSlot::Unkeyed,
                        };
                        slots.push(slot);
                    }
                    known.ids.insert(key.clone(), t);
                    known.list.push(Tuple {
                        slots,
                        answer: None,
                    });
                    t
                }
            };
            if let Some(slot) = tuple_of.get_mut(i) {
                *slot = t;
            }
            let count = counts.entry(*shape).or_default();
            if count.len() <= t as usize {
                count.resize(t as usize + 1, 0);
            }
            if let Some(n) = count.get_mut(t as usize) {
                *n += 1;
            }
        }
    }
    lap("memo keys");

    // 3. Cedar decides the first request of each new key, and each request a policy
    // has no key for.
    let stores = Stores::default();
    let decide_one = |k: usize, i: usize| -> Verdict {
        let (Some(policy), Some(Ok(r)), Some(roots)) =
            (packs.analyzed.get(k), prepared.get(i), roots_of(i))
        else {
            return Verdict::Failed(vec!["internal: no such policy or request".to_string()]);
        };
        decide(authorizer, types, policy, r, roots, env, &stores)
    };
    // The policies of a request's tuple whose slot is unkeyed and not yet decided.
    let unkeyed_of = |tuples: &BTreeMap<Shape, Tuples>,
                      own: &HashMap<(usize, usize), Verdict>,
                      i: usize,
                      out: &mut Vec<(usize, usize)>| {
        if let Some((policies, tuple)) =
            tuple_of_request(tuples, sets, prepared.get(i), tuple_of.get(i))
            && tuple.answer.is_none()
        {
            for (&k, slot) in policies.iter().zip(&tuple.slots) {
                if matches!(slot, TupleSlot::Unkeyed) && !own.contains_key(&(k, i)) {
                    out.push((k, i));
                }
            }
        }
    };
    // Round 1: the firsts, and each request a slot of its tuple has no key for.
    let mut asked: Vec<(usize, usize)> = firsts
        .iter()
        .enumerate()
        .flat_map(|(k, firsts)| firsts.iter().map(move |&i| (k, i)))
        .collect();
    let n_firsts = asked.len();
    let none = HashMap::new();
    for &i in by_shape.values().flatten() {
        unkeyed_of(tuples, &none, i, &mut asked);
    }
    let mut decided: Vec<Verdict> = asked.par_iter().map(|&(k, i)| decide_one(k, i)).collect();
    // The verdicts Cedar gave a single request: `(policy, request)`.
    let mut own: HashMap<(usize, usize), Verdict> = asked
        .split_off(n_firsts)
        .into_iter()
        .zip(decided.split_off(n_firsts))
        .collect();
    // Per policy, the verdicts of its firsts, by number.
    let mut first_verdicts: Vec<Vec<Verdict>> = vec![Vec::new(); packs.analyzed.len()];
    for ((k, _), v) in asked.into_iter().zip(decided) {
        if let Some(vs) = first_verdicts.get_mut(k) {
            vs.push(v);
        }
    }
    // Keys whose first was decided: known from now on, in later environments too. A
    // first that erred says nothing about the others of its key: each goes to Cedar,
    // now and later.
    for (k, map) in maps.iter_mut().enumerate() {
        let verdicts = first_verdicts.get(k).map_or(&[][..], Vec::as_slice);
        for slot in map.values_mut().flat_map(HashMap::values_mut) {
            if let Slot::Pending(j) = *slot {
                *slot = match verdicts.get(j) {
                    Some(Verdict::Satisfied(b)) => Slot::Known(*b),
                    _ => Slot::Unkeyed,
                };
            }
        }
    }
    // Each tuple of this environment settled the same way, counted for the stats,
    // and its answer combined once when every slot is known.
    for (shape, count) in &counts {
        let (Some(scoped), Some(known)) = (sets.get(shape), tuples.get_mut(shape)) else {
            continue;
        };
        for (tuple, &n) in known.list.iter_mut().zip(count) {
            if n == 0 {
                continue;
            }
            for (&k, slot) in scoped.policies.iter().zip(tuple.slots.iter_mut()) {
                match *slot {
                    TupleSlot::Known(_) => stats.reused += n,
                    TupleSlot::Unkeyed => stats.unkeyed += n,
                    TupleSlot::Pending { first, made } => {
                        let verdict = first_verdicts.get(k).and_then(|v| v.get(first));
                        // The first request of the key is in the tuple that made it.
                        let others = if made { n - 1 } else { n };
                        match verdict {
                            Some(Verdict::Satisfied(b)) => {
                                stats.first += usize::from(made);
                                stats.reused += others;
                                *slot = TupleSlot::Known(*b);
                            }
                            _ => {
                                stats.unkeyed += n;
                                if made
                                    && let (Some(i), Some(v)) =
                                        (firsts.get(k).and_then(|f| f.get(first)), verdict)
                                {
                                    own.insert((k, *i), v.clone());
                                }
                                *slot = TupleSlot::Unkeyed;
                            }
                        }
                    }
                }
            }
            if tuple.answer.is_none() {
                tuple.answer = combine(packs, &scoped.policies, &tuple.slots);
            }
        }
    }
    // Round 2: the others of each key whose first erred.
    let mut again = Vec::new();
    for &i in by_shape.values().flatten() {
        unkeyed_of(tuples, &own, i, &mut again);
    }
    let decided: Vec<Verdict> = again.par_iter().map(|&(k, i)| decide_one(k, i)).collect();
    own.extend(again.into_iter().zip(decided));
    lap("Cedar (first of each key)");

    // 4. Each request's answer: its tuple's, or from its own verdicts.
    let results = prepared
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let r = r.as_ref().map_err(Clone::clone)?;
            let scoped = sets
                .get(&r.shape)
                .ok_or_else(|| format!("no policy set for `{}`", r.shape.0))?;
            if let Some(ids) = &scoped.always_allow {
                return Ok((true, ids.clone(), Vec::new()));
            }
            let (_, tuple) = tuple_of_request(tuples, sets, prepared.get(i), tuple_of.get(i))
                .ok_or_else(|| "internal: a request has no tuple".to_string())?;
            if let Some(answer) = &tuple.answer {
                return Ok(answer.clone());
            }
            let verdicts: Vec<(usize, Verdict)> = scoped
                .policies
                .iter()
                .zip(&tuple.slots)
                .map(|(&k, slot)| {
                    let v = match slot {
                        TupleSlot::Known(b) => Some(Verdict::Satisfied(*b)),
                        _ => own.remove(&(k, i)),
                    };
                    let v = v.unwrap_or_else(|| {
                        Verdict::Failed(vec!["internal: a verdict went missing".to_string()])
                    });
                    (k, v)
                })
                .collect();
            Ok(combined(packs, verdicts))
        })
        .collect();
    lap("verdicts combined");
    (results, laps)
}

/// A request's policies and its tuple.
fn tuple_of_request<'t>(
    tuples: &'t BTreeMap<Shape, Tuples>,
    sets: &'t BTreeMap<Shape, Scoped>,
    request: Option<&Result<Prepared<'_>, String>>,
    tuple: Option<&u32>,
) -> Option<(&'t [usize], &'t Tuple)> {
    let shape = request?.as_ref().ok()?.shape;
    let tuple = tuples.get(&shape)?.list.get(*tuple? as usize)?;
    Some((&sets.get(&shape)?.policies, tuple))
}

/// Cedar's answer from each policy's verdict, in policy-set order: Deny if a forbid is
/// satisfied (determined by those), else Allow if a permit is (determined by those),
/// else Deny; every policy's errors.
fn combined(packs: &Packs, verdicts: Vec<(usize, Verdict)>) -> Answer {
    let (mut forbids, mut permits, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for (k, verdict) in verdicts {
        let Some(policy) = packs.analyzed.get(k) else {
            continue;
        };
        match verdict {
            Verdict::Satisfied(true) if policy.forbid => forbids.push(policy.id.clone()),
            Verdict::Satisfied(true) => permits.push(policy.id.clone()),
            Verdict::Satisfied(false) => {}
            Verdict::Failed(e) => errors.extend(e),
        }
    }
    let allowed = forbids.is_empty() && !permits.is_empty();
    let determining = if forbids.is_empty() { permits } else { forbids };
    (allowed, determining, errors)
}

/// A tuple's answer when every policy's verdict on it is known.
fn combine(packs: &Packs, policies: &[usize], slots: &[TupleSlot]) -> Option<Answer> {
    let verdicts = policies
        .iter()
        .zip(slots)
        .map(|(&k, slot)| match slot {
            TupleSlot::Known(b) => Some((k, Verdict::Satisfied(*b))),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some(combined(packs, verdicts))
}

/// One request, its names borrowed from the platform (74,000 of them at 5,000
/// services: a copy of each name was a good part of building them).
struct Req<'p> {
    action: &'static str,
    principal: (&'static str, &'p str),
    resource: (&'static str, &'p str),
}

fn requests<'p>(p: &'p Platform) -> Vec<Req<'p>> {
    let mut out = Vec::new();
    let mut push =
        |action, principal: (&'static str, &'p String), resource: (&'static str, &'p String)| {
            out.push(Req {
                action,
                principal: (principal.0, principal.1.as_str()),
                resource: (resource.0, resource.1.as_str()),
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
    // Where each declaration is present only feeds the `environments` attribute: not
    // worth a map of every declaration when no policy reads it.
    let presence = options.validate_entities
        || options.keep_entities
        || packs.referenced.contains("environments");
    let cross = if presence {
        CrossEnv::new(platforms)
    } else {
        CrossEnv::without_presence(platforms)
    };
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
    let mut memo = Memo::new(packs);
    // Every environment's values, numbered alike.
    let mut values = memo::Values::default();
    // Entities of declarations every environment shares are built once.
    let mut earlier = entities::Earlier::default();

    // Every environment's requests, one environment per core: finding them is mostly
    // name lookups in the platform's maps (~6 ms an environment at 5,000 services).
    let clock = std::time::Instant::now();
    let all_requests: Vec<Vec<Req>> = platforms.par_iter().map(|p| requests(p)).collect();
    add_time(
        &mut outcome,
        "contexts and requests",
        clock.elapsed().as_secs_f64(),
    );

    for (p, reqs) in platforms.iter().zip(all_requests) {
        let env = &p.environment.name;
        let mut clock = std::time::Instant::now();
        let lap = |outcome: &mut Outcome, clock: &mut std::time::Instant, phase: &'static str| {
            add_time(outcome, phase, clock.elapsed().as_secs_f64());
            *clock = std::time::Instant::now();
        };
        let mut entity_errors = Vec::new();
        // Plain Cedar (tests, `explain`) reads every attribute as JSON and validates it
        // against the schema; `plinth check` builds Cedar's values straight from the
        // model, only the attributes some policy reads. `explain` also keeps the JSON.
        let mut json = None;
        let mut index = memo::Index::default();
        let mut rejected = None;
        // The request context as the memo's keys see it (Cedar gets the same, read from
        // the JSON against the schema).
        let mut light_context = memo::UNKEYED;
        if options.validate_entities {
            json = Some(entities::build(
                &entities::Json,
                p,
                &cross,
                &mut entity_errors,
                None,
            ));
        } else {
            if options.keep_entities {
                // The same errors as the build below reports.
                let mut ignored = Vec::new();
                json = Some(entities::build(
                    &entities::Json,
                    p,
                    &cross,
                    &mut ignored,
                    None,
                ));
            }
            let sink = LightSink {
                types: &types,
                values: &values,
                failed: std::sync::atomic::AtomicBool::new(false),
            };
            light_context = entities::context(&sink, &p.environment);
            let built = entities::build_all(
                &sink,
                p,
                &cross,
                &mut entity_errors,
                Some(&packs.referenced),
                Some(&mut earlier),
            );
            lap(&mut outcome, &mut clock, "entity values");
            index.reserve(built.len());
            // The first failure in entity order is reported, as Cedar's JSON reader did.
            for (_, e) in built {
                match e {
                    Ok(e) => {
                        index.insert((e.entity, e.id.clone()), e);
                    }
                    Err(e) => {
                        rejected = Some(e);
                        break;
                    }
                }
            }
        }
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
        lap(
            &mut outcome,
            &mut clock,
            if options.validate_entities {
                "entity JSON"
            } else {
                "entity index"
            },
        );
        let validated = match (&json, options.validate_entities) {
            (Some(built), true) => Some(validated_entities(packs, built)),
            _ => None,
        };
        let converted = match (validated, rejected) {
            (Some(Err(e)), _) | (None, Some(e)) => Err(e),
            (Some(Ok(entities)), _) => Ok(Some(entities)),
            (None, None) => Ok(None),
        };
        let plain_entities = match converted {
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
        if plain_entities.is_some() {
            lap(&mut outcome, &mut clock, "Cedar entities");
        }
        // Contexts are validated against the schema once per action; requests are
        // then built without re-validation (entities are already validated).
        let mut contexts: BTreeMap<&'static str, Context> = BTreeMap::new();
        let ctx_json = entities::context(&entities::Json, &p.environment);
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
        // Every request as Cedar's uids; the first request of each shape is validated
        // against the schema (also when Cedar is not asked: it must be a well-typed
        // request).
        let mut validated: Vec<Shape> = Vec::new();
        let prepared: Vec<Result<Prepared, String>> = reqs
            .iter()
            .map(|r| {
                let shape = (r.action, r.principal.0, r.resource.0);
                let context = contexts
                    .get(r.action)
                    .ok_or_else(|| format!("no context for `{}`", r.action))?;
                let prepared = Prepared {
                    shape,
                    principal_key: r.principal,
                    resource_key: r.resource,
                    context,
                };
                // Requests come grouped by shape: the last one is the likely match.
                if validated.last() != Some(&shape) && !validated.contains(&shape) {
                    validated.push(shape);
                    prepared.request(&types, Some(&packs.schema))?;
                }
                Ok(prepared)
            })
            .collect();
        lap(&mut outcome, &mut clock, "contexts and requests");
        let results: Vec<Result<Answer, String>> = match &plain_entities {
            Some(entities) => plain_results(packs, &authorizer, &types, prepared, entities),
            None => {
                let (results, laps) = memo_results(
                    packs,
                    &authorizer,
                    &mut memo,
                    &prepared,
                    memo::Env {
                        index: &index,
                        values: &values.read(),
                    },
                    light_context,
                    &types,
                );
                outcome.memo = memo.stats;
                for (phase, t) in laps {
                    add_time(&mut outcome, phase, t);
                }
                clock = std::time::Instant::now();
                results
            }
        };
        if plain_entities.is_some() {
            lap(&mut outcome, &mut clock, "authorization");
        }
        outcome.requests += reqs.len();
        // Room only when they are kept (`check` keeps none).
        let mut decisions = Vec::with_capacity(if options.keep_decisions {
            reqs.len()
        } else {
            0
        });
        for (r, result) in reqs.iter().zip(results) {
            let (cedar_allowed, mut determining, errors) = match result {
                Ok(x) => x,
                Err(e) => (false, Vec::new(), vec![e]),
            };
            determining.sort();
            let mut waived: Vec<(String, String)> = Vec::new();
            for e in &errors {
                let (file, span) = origin(p, r.resource.0, r.resource.1)
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
                let (file, span) = origin(p, r.resource.0, r.resource.1)
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
            // Only forbid rules matter below; an allowed request has none determining.
            let forbids = if cedar_allowed {
                &[][..]
            } else {
                &determining[..]
            };
            for id in forbids {
                let Some(rule) = packs.rule(id) else {
                    continue;
                };
                if !rule.forbid {
                    continue;
                }
                let (entity, name) = match rule.blame {
                    Blame::Resource => r.resource,
                    Blame::Principal => r.principal,
                };
                let waiver = waivers.values().find(|w| {
                    w.policy == rule.id && w.targets.iter().any(|t| t == name) && active(w)
                });
                match waiver {
                    Some(w) => {
                        waived.push((rule.id.clone(), w.name.clone()));
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
                    name: name.to_string(),
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
            if !options.keep_decisions {
                continue;
            }
            let allowed = if any_error_rule {
                false
            } else if errors.is_empty() && !determining.is_empty() {
                // Denied only by warnings or waived rules: Plinth allows it.
                true
            } else {
                cedar_allowed && errors.is_empty()
            };
            decisions.push(Decision {
                environment: env.clone(),
                action: r.action.to_string(),
                principal: (r.principal.0.to_string(), r.principal.1.to_string()),
                resource: (r.resource.0.to_string(), r.resource.1.to_string()),
                allowed,
                cedar_allowed,
                determining,
                waived,
                errors,
            });
        }
        lap(&mut outcome, &mut clock, "decisions");
        if options.keep_decisions {
            outcome.decisions.insert(env.clone(), decisions);
        }
        if let Some(built) = json.filter(|_| options.keep_entities) {
            outcome.entities.insert(env.clone(), built);
        }
        // Freeing an environment's entities took ~40 ms of this thread at 5,000
        // services; a pool thread frees them while this one goes on.
        rayon::spawn(move || drop((plain_entities, index)));
    }
    // The threads' caches of interned values would outlive them.
    values.forget_near();
    rayon::broadcast(|_| values.forget_near());

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
    use cedar_policy::PolicySet;
    use std::collections::HashSet;

    /// The typed log line writes what a JSON value with the same keys, in the same
    /// order, prints: the format auditors' tools read.
    #[test]
    fn a_log_line_is_the_json_of_its_decision() {
        let d = Decision {
            environment: "prod \"eu\"".to_string(),
            action: "read".to_string(),
            principal: ("Service".to_string(), "fraud_api".to_string()),
            resource: ("FeatureView".to_string(), "card\nvelocity ✓".to_string()),
            allowed: true,
            cedar_allowed: false,
            determining: vec!["a.b".to_string(), "c".to_string()],
            waived: vec![("a.b".to_string(), "w1".to_string())],
            errors: vec!["boom \u{1}".to_string()],
        };
        let expected = serde_json::json!({
            "request": {
                "environment": d.environment,
                "principal": entities::uid_json("Service", "fraud_api"),
                "action": { "type": "Plinth::Action", "id": "read" },
                "resource": entities::uid_json("FeatureView", "card\nvelocity ✓"),
            },
            "decision": "allow",
            "cedar_decision": "deny",
            "determining_policies": ["a.b", "c"],
            "waivers_applied": [{ "policy": "a.b", "waiver": "w1" }],
            "errors": ["boom \u{1}"],
        });
        let line = |d: &Decision| {
            let mut out = Vec::new();
            d.write_log_line(&mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(line(&d), expected.to_string());
        let none = Decision {
            waived: Vec::new(),
            errors: Vec::new(),
            ..d
        };
        assert!(line(&none).ends_with(r#""waivers_applied":[],"errors":[]}"#));
    }

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
        let mut set = PolicySet::new();
        for (i, p) in packs.set.policies().enumerate() {
            if scoped.policies.contains(&i) {
                set.add(p.clone()).unwrap();
            }
        }
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
        let response = Authorizer::new().is_authorized(&request, &set, &Entities::empty());
        assert_eq!(response.decision(), CedarDecision::Allow);
        let mut reasons: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| id.to_string())
            .collect();
        reasons.sort();
        assert_eq!(reasons, ids);
        assert_eq!(response.diagnostics().errors().count(), 0);
        // No policy at all is a Deny, never "always allow" (an empty file of its own:
        // selecting nothing at all loads no packs).
        let empty = crate::PolicyFile {
            path: "empty.cedar".to_string(),
            text: String::new(),
        };
        let (none, _) = crate::load(&[], vec![empty], None);
        assert!(
            scoped_set(&none.unwrap(), "read", "Model", "FeatureView")
                .always_allow
                .is_none()
        );
    }

    /// The whole store relies on parents being all the ancestors; a deeper hierarchy
    /// must fail (closed), not be evaluated with a wrong closure.
    #[test]
    fn a_deeper_hierarchy_fails_the_closure_check() {
        use crate::entities::Sink;
        let types = Cache::new();
        let mut values = memo::Values::default();
        let index = |values: &memo::Values, entities: Vec<(&'static str, &str, Option<&str>)>| {
            let sink = LightSink {
                types: &types,
                values,
                failed: std::sync::atomic::AtomicBool::new(false),
            };
            entities
                .into_iter()
                .map(|(ty, id, parent)| {
                    let e = sink.entity(ty, id, Vec::new(), parent).unwrap();
                    ((e.entity, e.id.clone()), e)
                })
                .collect::<memo::Index>()
        };
        let flat = index(
            &values,
            vec![("Team", "a", None), ("Service", "s", Some("a"))],
        );
        let deep = index(
            &values,
            vec![
                ("Team", "b", None),
                ("Team", "a", Some("b")),
                ("Service", "s", Some("a")),
            ],
        );
        let read = values.read();
        assert!(full_store(&types, &read, &flat).is_ok());
        assert!(full_store(&types, &read, &deep).is_err());
    }

    #[test]
    fn entity_uids_parse() {
        assert!(EntityUid::from_str(r#"Plinth::Service::"a""#).is_ok());
        let types = Cache::new();
        let uid = types.uid("Service", "fraud_api").unwrap();
        // The same uid as Cedar's own JSON reading gives.
        let json = EntityUid::from_json(entities::uid_json("Service", "fraud_api")).unwrap();
        assert_eq!(uid, json);
        // Every schema entity type and `Action` are parsed up front.
        assert_eq!(types.names.len(), crate::schema::entity_kinds().count() + 1);
        // A name that is not cached still works.
        assert!(types.uid("Other", "thing").is_ok());
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
