//! Memoized policy evaluation: what each policy reads, and the key that decides it.
//!
//! Most policies read a handful of attributes (`context.tier == "production" &&
//! resource.tier == "tier1" && resource.replicas.min < 2`), and thousands of requests
//! share their values. At load time each policy's condition (its scope included) is
//! walked: if it reaches the request only through attribute *paths* rooted at
//! `principal`, `resource` or `context` (`resource.model.risk` goes on into the
//! referenced model), its verdict on a request is a function of
//!
//! - the request's action and principal and resource entity types, and
//! - for each path, the value found there (or where and why the walk stopped; for
//!   `has`, only whether the attribute is there),
//!
//! so requests with equal keys get equal verdicts, by construction. Cedar decides the
//! first request of each key (on just the entities the paths reach); the others reuse
//! its verdict. Anything else a policy does with a variable (`resource in ...`,
//! `principal == ...`, the hierarchy, tags, a whole `context`) makes it *opaque*: Cedar
//! evaluates it on every request, against every entity.
//!
//! Why equal keys give equal verdicts: evaluation is a function of the values of the
//! subexpressions. Constants and the action are equal; `principal is T` depends on the
//! type; a path's value is in the key (a `has` test's answer is); every other operator
//! is a pure function of its operands' values. Entities are only dereferenced along
//! the paths, so no other entity data is read. A verdict that is an *error* is never
//! reused: Cedar's messages name the entity and its attributes, which the key does not
//! hold, so every request whose policy errors is evaluated by Cedar itself.

use cedar_policy_core as core;
use core::ast::{BinaryOp, Expr, ExprKind, Literal, Var};
use smol_str::SmolStr;
use std::collections::HashMap;
use std::sync::Arc;

/// Where a path starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Root {
    Principal,
    Resource,
    Context,
}

/// One attribute path a policy reads: `resource.replicas.min` (a value) or
/// `resource.slo has availability` (`has`: whether the last attribute is there).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path {
    pub root: Root,
    pub attrs: Vec<SmolStr>,
    pub has: bool,
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let root = match self.root {
            Root::Principal => "principal",
            Root::Resource => "resource",
            Root::Context => "context",
        };
        f.write_str(root)?;
        let n = self.attrs.len();
        for (i, a) in self.attrs.iter().enumerate() {
            if self.has && i + 1 == n {
                write!(f, " has {a}")?;
            } else {
                write!(f, ".{a}")?;
            }
        }
        Ok(())
    }
}

/// The paths a policy reads, sorted and deduplicated; `None`: opaque (Cedar decides
/// every request).
pub fn analyze(condition: &Expr) -> Option<Vec<Path>> {
    let mut paths = Vec::new();
    walk(condition, &mut paths).ok()?;
    paths.sort();
    paths.dedup();
    Some(paths)
}

/// The root and attributes of `var.a.b.c` (no attribute: just `var`); `None` for
/// anything else, including paths from `action`.
fn chain(e: &Expr) -> Option<(Root, Vec<SmolStr>)> {
    match e.expr_kind() {
        ExprKind::Var(Var::Principal) => Some((Root::Principal, Vec::new())),
        ExprKind::Var(Var::Resource) => Some((Root::Resource, Vec::new())),
        ExprKind::Var(Var::Context) => Some((Root::Context, Vec::new())),
        ExprKind::GetAttr { expr, attr } => {
            let (root, mut attrs) = chain(expr)?;
            attrs.push(attr.clone());
            Some((root, attrs))
        }
        _ => None,
    }
}

fn is_entity_literal(e: &Expr) -> bool {
    matches!(e.expr_kind(), ExprKind::Lit(Literal::EntityUID(_)))
}

/// `Err(())`: the policy uses a variable in a way a key cannot capture.
fn walk(e: &Expr, out: &mut Vec<Path>) -> Result<(), ()> {
    match e.expr_kind() {
        ExprKind::Lit(_) => Ok(()),
        // The action is part of the key.
        ExprKind::Var(Var::Action) => Ok(()),
        // A bare principal, resource or context as a value (`principal == X`).
        ExprKind::Var(_) | ExprKind::Slot(_) | ExprKind::Unknown(_) => Err(()),
        ExprKind::If {
            test_expr,
            then_expr,
            else_expr,
        } => {
            walk(test_expr, out)?;
            walk(then_expr, out)?;
            walk(else_expr, out)
        }
        ExprKind::And { left, right } | ExprKind::Or { left, right } => {
            walk(left, out)?;
            walk(right, out)
        }
        ExprKind::UnaryApp { arg, .. } => walk(arg, out),
        ExprKind::BinaryApp { op, arg1, arg2 } => match op {
            // `action in [A, B]`: the action is in the key and its groups are fixed.
            // Any other `in` reads the entity hierarchy.
            BinaryOp::In => {
                let action = matches!(arg1.expr_kind(), ExprKind::Var(Var::Action));
                let literals = match arg2.expr_kind() {
                    ExprKind::Set(items) => items.iter().all(is_entity_literal),
                    _ => is_entity_literal(arg2),
                };
                if action && literals { Ok(()) } else { Err(()) }
            }
            BinaryOp::GetTag | BinaryOp::HasTag => Err(()),
            _ => {
                walk(arg1, out)?;
                walk(arg2, out)
            }
        },
        ExprKind::ExtensionFunctionApp { args, .. } => args.iter().try_for_each(|a| walk(a, out)),
        ExprKind::GetAttr { .. } => {
            // A path whose value is used. An attribute of a computed value
            // (`(if c then resource.a else resource.b).x`) could dereference an
            // entity the key does not cover: opaque.
            let (root, attrs) = chain(e).ok_or(())?;
            out.push(Path {
                root,
                attrs,
                has: false,
            });
            Ok(())
        }
        ExprKind::HasAttr { expr, attr } => {
            let (root, mut attrs) = chain(expr).ok_or(())?;
            attrs.push(attr.clone());
            out.push(Path {
                root,
                attrs,
                has: true,
            });
            Ok(())
        }
        ExprKind::Like { expr, .. } => walk(expr, out),
        ExprKind::Is { expr, .. } => match expr.expr_kind() {
            // The type of the principal or resource is part of the key.
            ExprKind::Var(Var::Principal | Var::Resource) => Ok(()),
            _ => walk(expr, out),
        },
        ExprKind::Set(items) => items.iter().try_for_each(|a| walk(a, out)),
        ExprKind::Record(fields) => fields.values().try_for_each(|a| walk(a, out)),
        // `e has a.b` and anything newer: opaque.
        #[allow(unreachable_patterns)]
        _ => Err(()),
    }
}

/// Why a path's walk stopped before its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stop {
    /// A record or entity without the attribute.
    NoAttribute,
    /// A reference to an entity that does not exist.
    NoEntity,
    /// Neither a record nor an entity reference.
    NotARecord,
}

/// What a request shows at one path: its part of the key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Seen {
    Value(Attr),
    /// The answer of `has`.
    Has(bool),
    /// The walk stopped at attribute number `.0`.
    Stopped(usize, Stop),
}

/// A value as the entity builder wrote it (`entities::Sink`), cheap to build and
/// compare; Cedar's value is made from it ([`Attr`] → `eval::cedar_value`) only for
/// the requests Cedar evaluates. Equal `Attr`s make equal Cedar values (the
/// conversion is a function), so keys over them are sound; they may be finer (a set
/// in another order), which only costs a miss.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Attr {
    Bool(bool),
    Long(i64),
    Str(SmolStr),
    /// As built; Cedar's set holds these once each.
    Set(Arc<[Attr]>),
    /// As built; of a repeated name Cedar keeps the last value.
    Record(Arc<[(SmolStr, Attr)]>),
    /// A reference to `Plinth::<type>::"<id>"`.
    Entity(&'static str, SmolStr),
    /// `decimal("<text>")`.
    Decimal(SmolStr),
    /// A decimal Cedar rejects, with Cedar's reason: the entity holding it fails.
    Invalid(String),
}

impl Attr {
    /// The first invalid value inside, depth first, in build order.
    pub fn invalid(&self) -> Option<&str> {
        match self {
            Attr::Invalid(e) => Some(e),
            Attr::Set(items) => items.iter().find_map(Attr::invalid),
            Attr::Record(fields) => fields.iter().find_map(|(_, v)| v.invalid()),
            _ => None,
        }
    }
}

/// An entity as built for evaluation: its attributes sorted by name (a repeated
/// name keeps its last value, as in Cedar's entity), for lookups without hashing.
#[derive(Clone, Debug)]
pub struct Built {
    pub entity: &'static str,
    pub id: SmolStr,
    attrs: Vec<(SmolStr, Attr)>,
    /// The owner team.
    pub parent: Option<SmolStr>,
}

impl Built {
    pub fn new(
        entity: &'static str,
        id: SmolStr,
        mut attrs: Vec<(SmolStr, Attr)>,
        parent: Option<SmolStr>,
    ) -> Built {
        attrs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut unique: Vec<(SmolStr, Attr)> = Vec::with_capacity(attrs.len());
        for (k, v) in attrs {
            match unique.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => unique.push((k, v)),
            }
        }
        Built {
            entity,
            id,
            attrs: unique,
            parent,
        }
    }

    pub fn get(&self, attr: &str) -> Option<&Attr> {
        self.attrs
            .binary_search_by(|(k, _)| k.as_str().cmp(attr))
            .ok()
            .and_then(|i| self.attrs.get(i))
            .map(|(_, v)| v)
    }

    /// [`Built::get`], trying position `*hint` first and leaving there where `attr`
    /// was found. Entities of one type come from one builder with (mostly) the same
    /// attribute names, so when one path is resolved over many entities the position
    /// found for the previous one is almost always right: one string comparison
    /// instead of a binary search's several (the largest cost of the memo's keys).
    /// The hint only chooses where to look first, never the answer.
    pub fn get_hinted(&self, attr: &str, hint: &mut usize) -> Option<&Attr> {
        if let Some((k, v)) = self.attrs.get(*hint)
            && k.as_str() == attr
        {
            return Some(v);
        }
        let i = self
            .attrs
            .binary_search_by(|(k, _)| k.as_str().cmp(attr))
            .ok()?;
        *hint = i;
        self.attrs.get(i).map(|(_, v)| v)
    }

    pub fn attrs(&self) -> &[(SmolStr, Attr)] {
        &self.attrs
    }
}

/// The entities of one environment, by `(type, id)`.
pub type Index = HashMap<(&'static str, SmolStr), Built, std::hash::BuildHasherDefault<FxHasher>>;

/// FxHash (rustc's): a fast hasher without a random key, for the entity index and
/// the memo's keys (names come from the spec, keys are numbers).
#[derive(Clone, Copy, Default)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// One request's variables as the paths start from them: the principal and resource
/// as entity references (their entities looked up once), the context as a record.
pub struct Roots<'a> {
    pub principal: Attr,
    pub resource: Attr,
    pub context: &'a Attr,
    pub principal_entity: Option<&'a Built>,
    pub resource_entity: Option<&'a Built>,
}

impl<'a> Roots<'a> {
    pub fn new(
        principal: (&'static str, &str),
        resource: (&'static str, &str),
        context: &'a Attr,
        index: &'a Index,
    ) -> Roots<'a> {
        let principal = (principal.0, SmolStr::from(principal.1));
        let resource = (resource.0, SmolStr::from(resource.1));
        let principal_entity = index.get(&principal);
        let resource_entity = index.get(&resource);
        Roots {
            principal: Attr::Entity(principal.0, principal.1),
            resource: Attr::Entity(resource.0, resource.1),
            context,
            principal_entity,
            resource_entity,
        }
    }
}

/// Follows `path` the way Cedar's evaluator does (`GetAttr`, `HasAttr`) over the
/// values Cedar is given, noting every entity it dereferences in `touched`.
pub fn resolve(
    path: &Path,
    roots: &Roots<'_>,
    index: &Index,
    touched: Option<&mut Vec<(&'static str, SmolStr)>>,
) -> Seen {
    resolve_hinted(path, roots, index, touched, &mut Vec::new())
}

/// [`resolve`], with one position hint per step of the path (see
/// [`Built::get_hinted`]) kept by the caller from one request to the next.
pub fn resolve_hinted(
    path: &Path,
    roots: &Roots<'_>,
    index: &Index,
    mut touched: Option<&mut Vec<(&'static str, SmolStr)>>,
    hints: &mut Vec<usize>,
) -> Seen {
    if hints.len() < path.attrs.len() {
        hints.resize(path.attrs.len(), 0);
    }
    // The entity the first step dereferences, when the root is the principal or
    // resource: already looked up.
    let (mut current, mut looked_up): (&Attr, Option<Option<&Built>>) = match path.root {
        Root::Context => (roots.context, None),
        Root::Principal => (&roots.principal, Some(roots.principal_entity)),
        Root::Resource => (&roots.resource, Some(roots.resource_entity)),
    };
    let last = path.attrs.len().saturating_sub(1);
    for (step, attr) in path.attrs.iter().enumerate() {
        let entity = looked_up.take();
        let found: Option<&Attr> = match current {
            // Cedar's record keeps the last of a repeated name.
            Attr::Record(fields) => fields.iter().rev().find(|(k, _)| k == attr).map(|(_, v)| v),
            Attr::Entity(ty, id) => {
                let entity = match entity {
                    Some(e) => e,
                    None => index.get(&(*ty, id.clone())),
                };
                match entity {
                    None => {
                        if path.has && step == last {
                            // Cedar: a missing entity has no attributes.
                            return Seen::Has(false);
                        }
                        return Seen::Stopped(step, Stop::NoEntity);
                    }
                    Some(entity) => {
                        if let Some(t) = touched.as_deref_mut()
                            && !t
                                .iter()
                                .any(|(e, i)| *e == entity.entity && *i == entity.id)
                        {
                            t.push((entity.entity, entity.id.clone()));
                        }
                        match hints.get_mut(step) {
                            Some(hint) => entity.get_hinted(attr, hint),
                            None => entity.get(attr),
                        }
                    }
                }
            }
            _ => return Seen::Stopped(step, Stop::NotARecord),
        };
        if path.has && step == last {
            return Seen::Has(found.is_some());
        }
        match found {
            Some(v) => current = v,
            None => return Seen::Stopped(step, Stop::NoAttribute),
        }
    }
    Seen::Value(current.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cedar_policy::Policy;
    use std::str::FromStr;

    fn paths(src: &str) -> Option<Vec<String>> {
        let p = Policy::from_str(src).unwrap();
        let ast: &core::ast::Policy = p.as_ref();
        analyze(&ast.condition()).map(|ps| ps.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn paths_through_references_and_has_tests_are_collected() {
        let src = r#"forbid (principal, action in [Plinth::Action::"deploy", Plinth::Action::"read"], resource is Plinth::Service)
            when { resource.model.risk == "high" && !(resource.monitor has performance)
                   && context.tier != "production" && !(principal has cost_center)
                   && resource.replicas.min < 2 && resource.model.risk != "x" };"#;
        assert_eq!(
            paths(src).unwrap(),
            [
                "principal has cost_center",
                "resource.model.risk",
                "resource.monitor has performance",
                "resource.replicas.min",
                "context.tier",
            ]
        );
        assert_eq!(
            paths("permit (principal, action, resource);").unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_hierarchy_and_bare_variables_are_opaque() {
        for src in [
            r#"forbid (principal, action, resource in Plinth::Team::"a");"#,
            r#"forbid (principal == Plinth::Team::"a", action, resource);"#,
            r#"forbid (principal, action, resource) when { resource.owner in principal };"#,
            r#"forbid (principal, action, resource) when { resource.owner == principal };"#,
            r#"forbid (principal, action, resource) when { context == {} };"#,
            r#"forbid (principal, action, resource) when { (if true then resource.model else resource.model).risk == "high" };"#,
            r#"forbid (principal, action, resource) when { resource has model.risk };"#,
            r#"forbid (principal, action, resource) when { resource.hasTag("t") };"#,
            r#"forbid (principal, action, resource) when { action.x == 1 };"#,
        ] {
            assert_eq!(paths(src), None, "{src}");
        }
        // The type of a variable is part of the key; entity values are values.
        assert!(
            paths(r#"forbid (principal is Plinth::Team, action == Plinth::Action::"deploy", resource) when { resource is Plinth::Service && resource.model == Plinth::Model::"m" };"#)
                .is_some()
        );
    }
}
