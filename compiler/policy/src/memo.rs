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
//! first request of each key (given just the attributes the paths read, of the
//! entities they reach); the others reuse its verdict. Anything else a policy does with a variable (`resource in ...`,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Seen {
    /// The value there ([`Values`] gives equal values one id).
    Value(Id),
    /// The answer of `has`.
    Has(bool),
    /// The walk stopped at attribute number `.0`.
    Stopped(usize, Stop),
}

/// A column's number for a request Cedar must decide on its own (no key).
pub const UNKEYED: u32 = u32::MAX;

/// Where the numbers that are not value ids start.
const NOT_A_VALUE: u32 = 0xF000_0000;

impl Seen {
    /// One number per distinct `Seen`, the same in every environment (ids are those
    /// of the one [`Values`] of an evaluation), so a key is a few numbers with no
    /// table to number them. [`UNKEYED`] for what does not fit (more than ~4·10⁹
    /// values, a path of millions of steps): Cedar then decides.
    pub fn number(self) -> u32 {
        match self {
            Seen::Value(id) if id < NOT_A_VALUE => id,
            Seen::Value(_) => UNKEYED,
            Seen::Has(b) => NOT_A_VALUE + u32::from(b),
            Seen::Stopped(step, stop) => u32::try_from(step)
                .ok()
                .and_then(|s| s.checked_mul(4))
                .and_then(|s| s.checked_add(NOT_A_VALUE + 2 + stop as u32))
                .filter(|&n| n != UNKEYED)
                .unwrap_or(UNKEYED),
        }
    }
}

/// A value's number in the [`Values`] of one evaluation: equal values, equal ids.
pub type Id = u32;

/// A value as the entity builder wrote it (`entities::Sink`), its parts by [`Id`]:
/// built once per distinct value, compared and hashed as a few words. Cedar's value
/// is made from it (`eval::cedar_value`) only for the requests Cedar evaluates. Equal
/// ids make equal Cedar values (the conversion is a function), so keys over them are
/// sound; they may be finer (a set in another order), which only costs a miss.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attr {
    Bool(bool),
    Long(i64),
    Str(SmolStr),
    /// As built; Cedar's set holds these once each.
    Set(Box<[Id]>),
    /// As built; of a repeated name Cedar keeps the last value.
    Record(Box<[(SmolStr, Id)]>),
    /// A reference to `Plinth::<type>::"<id>"`.
    Entity(&'static str, SmolStr),
    /// `decimal("<text>")`.
    Decimal(SmolStr),
    /// A decimal Cedar rejects, with Cedar's reason: the entity holding it fails.
    Invalid(String),
}

/// An [`Attr`] as the entity builder hands it over: what [`Values`] looks up before
/// making (most values are there already: a hit allocates nothing).
pub enum Probe<'a> {
    Bool(bool),
    Long(i64),
    Str(&'a str),
    Set(&'a [Id]),
    Record(&'a [(&'a str, Id)]),
    Entity(&'static str, &'a str),
    Decimal(&'a str),
    Invalid(&'a str),
}

impl Probe<'_> {
    /// The same hash as the [`Attr`] it equals.
    fn hash(&self) -> u64 {
        use std::hash::Hasher;
        let mut h = FxHasher::default();
        match self {
            Probe::Bool(b) => h.write_u64(u64::from(*b)),
            Probe::Long(n) => {
                h.write_u8(1);
                h.write_u64(*n as u64);
            }
            Probe::Str(s) => str_hash(&mut h, 2, s),
            Probe::Set(items) => {
                h.write_u8(3);
                for i in *items {
                    h.write_u32(*i);
                }
            }
            Probe::Record(fields) => {
                h.write_u8(4);
                for (k, v) in *fields {
                    h.write(k.as_bytes());
                    h.write_u32(*v);
                }
            }
            Probe::Entity(ty, id) => {
                h.write(ty.as_bytes());
                str_hash(&mut h, 5, id);
            }
            Probe::Decimal(text) => str_hash(&mut h, 6, text),
            Probe::Invalid(reason) => str_hash(&mut h, 7, reason),
        }
        h.finish()
    }

    fn matches(&self, a: &Attr) -> bool {
        match (self, a) {
            (Probe::Bool(x), Attr::Bool(y)) => x == y,
            (Probe::Long(x), Attr::Long(y)) => x == y,
            (Probe::Str(x), Attr::Str(y)) => *x == y.as_str(),
            (Probe::Set(x), Attr::Set(y)) => **x == **y,
            (Probe::Record(x), Attr::Record(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y.iter())
                        .all(|((k, v), (l, w))| v == w && *k == l.as_str())
            }
            (Probe::Entity(t, x), Attr::Entity(u, y)) => t == u && *x == y.as_str(),
            (Probe::Decimal(x), Attr::Decimal(y)) => *x == y.as_str(),
            (Probe::Invalid(x), Attr::Invalid(y)) => x == y,
            _ => false,
        }
    }

    fn make(&self) -> Attr {
        match self {
            Probe::Bool(b) => Attr::Bool(*b),
            Probe::Long(n) => Attr::Long(*n),
            Probe::Str(s) => Attr::Str(SmolStr::from(*s)),
            Probe::Set(items) => Attr::Set((*items).into()),
            Probe::Record(fields) => Attr::Record(
                fields
                    .iter()
                    .map(|(k, v)| (SmolStr::from(*k), *v))
                    .collect(),
            ),
            Probe::Entity(ty, id) => Attr::Entity(ty, SmolStr::from(*id)),
            Probe::Decimal(text) => Attr::Decimal(SmolStr::from(*text)),
            Probe::Invalid(reason) => Attr::Invalid(reason.to_string()),
        }
    }
}

fn str_hash(h: &mut FxHasher, tag: u8, s: &str) {
    use std::hash::Hasher;
    h.write_u8(tag);
    h.write(s.as_bytes());
    h.write_u8(0xff);
}

/// Shards of [`Values`]: entities are built on all cores, each value interned as it
/// is made; more shards than cores keeps the locks uncontended.
const SHARDS: usize = 16;

// Its own cache lines: the two cores intern into neighbouring shards.
#[derive(Default)]
#[repr(align(128))]
struct Shard {
    /// Local numbers with their value's hash (kept: growing the table re-hashes).
    table: hashbrown::HashTable<(u64, u32)>,
    values: Vec<Attr>,
}

/// Every distinct value of one evaluation, numbered: all environments' entities are
/// built into one, so a value has the same [`Id`] in each (memo keys carry over).
pub struct Values {
    /// Tells this evaluation's values from another's in the threads' [`NEAR`] caches.
    generation: u64,
    shards: Vec<std::sync::Mutex<Shard>>,
    /// Each decimal's id, and whether Cedar takes it.
    decimals: std::sync::Mutex<HashMap<plinth_ir::Decimal, (Id, bool)>>,
}

impl Default for Values {
    fn default() -> Values {
        static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Values {
            generation: GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            shards: (0..SHARDS).map(|_| Default::default()).collect(),
            decimals: Default::default(),
        }
    }
}

/// `(hash, value, id)` of the values one thread interned.
type NearTable = hashbrown::HashTable<(u64, Attr, Id)>;

thread_local! {
    /// The values this thread interned lately, with their ids and the generation of
    /// their [`Values`]: most values repeat (`true`, a tier, a replica range), and a
    /// hit here takes no lock. Each core locking the shared shards for every value
    /// doubled the cost of building the entities.
    static NEAR: std::cell::RefCell<(u64, NearTable)> =
        const { std::cell::RefCell::new((0, hashbrown::HashTable::new())) };
}

impl Values {
    /// The id of the value `p` stands for, numbered when first seen.
    pub fn intern(&self, p: Probe<'_>) -> Id {
        let hash = p.hash();
        NEAR.with(|near| {
            let mut near = near.borrow_mut();
            let (generation, table) = &mut *near;
            if *generation != self.generation {
                *generation = self.generation;
                table.clear();
            }
            if let Some((_, _, id)) = table.find(hash, |(_, b, _)| p.matches(b)) {
                return *id;
            }
            let made = p.make();
            let id = self.intern_shared(&made, hash);
            table.insert_unique(hash, (hash, made, id), |(h, ..)| *h);
            id
        })
    }

    /// Forgets this evaluation's values in the calling thread's cache.
    pub fn forget_near(&self) {
        NEAR.with(|near| {
            let mut near = near.borrow_mut();
            if near.0 == self.generation {
                near.1 = hashbrown::HashTable::new();
            }
        });
    }

    fn intern_shared(&self, a: &Attr, hash: u64) -> Id {
        // FxHash's high bits are its best mixed.
        let shard_no = (hash >> 60) as usize % SHARDS;
        let Some(shard) = self.shards.get(shard_no) else {
            return UNKEYED;
        };
        // A poisoned lock only means another thread panicked; the shard is still valid.
        let mut guard = shard.lock().unwrap_or_else(|e| e.into_inner());
        let Shard { table, values } = &mut *guard;
        let local = match table.find(hash, |&(_, i)| values.get(i as usize) == Some(a)) {
            Some(&(_, i)) => i,
            None => {
                let i = u32::try_from(values.len()).unwrap_or(u32::MAX);
                values.push(a.clone());
                table.insert_unique(hash, (hash, i), |(h, _)| *h);
                i
            }
        };
        local
            .checked_mul(SHARDS as u32)
            .and_then(|n| n.checked_add(shard_no as u32))
            .unwrap_or(UNKEYED)
    }

    /// The id of `decimal("<text>")` for `d`, and whether Cedar takes it: `check`
    /// gives the text or Cedar's reason to reject it, once per distinct decimal (a
    /// workspace has few; checking each took a tenth of building the entities).
    pub fn decimal(
        &self,
        d: plinth_ir::Decimal,
        check: impl FnOnce() -> Result<String, String>,
    ) -> (Id, bool) {
        let known = self
            .decimals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&d)
            .copied();
        if let Some(known) = known {
            return known;
        }
        let checked = check();
        let id = match &checked {
            Ok(text) => self.intern(Probe::Decimal(text)),
            Err(reason) => self.intern(Probe::Invalid(reason)),
        };
        let found = (id, checked.is_ok());
        self.decimals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(d, found);
        found
    }

    /// The first invalid value inside `id`, depth first, in build order (while
    /// building: locks as it goes).
    pub fn invalid(&self, id: Id) -> Option<String> {
        let (shard, local) = split(id);
        let a = {
            let guard = self
                .shards
                .get(shard)?
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            guard.values.get(local)?.clone()
        };
        match a {
            Attr::Invalid(e) => Some(e),
            Attr::Set(items) => items.iter().find_map(|i| self.invalid(*i)),
            Attr::Record(fields) => fields.iter().find_map(|(_, v)| self.invalid(*v)),
            _ => None,
        }
    }

    /// The values to read without locks, while nothing is interned.
    pub fn read(&mut self) -> Read<'_> {
        Read {
            shards: self
                .shards
                .iter_mut()
                .map(|s| &s.get_mut().unwrap_or_else(|e| e.into_inner()).values[..])
                .collect(),
        }
    }
}

fn split(id: Id) -> (usize, usize) {
    (id as usize % SHARDS, id as usize / SHARDS)
}

/// [`Values`], read-only.
pub struct Read<'a> {
    shards: Vec<&'a [Attr]>,
}

impl Read<'_> {
    pub fn get(&self, id: Id) -> Option<&Attr> {
        let (shard, local) = split(id);
        self.shards.get(shard)?.get(local)
    }
}

/// An entity as built for evaluation: its attributes sorted by name (a repeated
/// name keeps its last value, as in Cedar's entity), for lookups without hashing.
#[derive(Clone, Debug)]
pub struct Built {
    pub entity: &'static str,
    pub id: SmolStr,
    attrs: Vec<(SmolStr, Id)>,
    /// The owner team.
    pub parent: Option<SmolStr>,
}

impl Built {
    pub fn new(
        entity: &'static str,
        id: SmolStr,
        mut attrs: Vec<(SmolStr, Id)>,
        parent: Option<SmolStr>,
    ) -> Built {
        attrs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut unique: Vec<(SmolStr, Id)> = Vec::with_capacity(attrs.len());
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

    pub fn get(&self, attr: &str) -> Option<Id> {
        self.attrs
            .binary_search_by(|(k, _)| k.as_str().cmp(attr))
            .ok()
            .and_then(|i| self.attrs.get(i))
            .map(|(_, v)| *v)
    }

    /// [`Built::get`], trying position `*hint` first and leaving there where `attr`
    /// was found. Entities of one type come from one builder with (mostly) the same
    /// attribute names, so when one path is resolved over many entities the position
    /// found for the previous one is almost always right: one string comparison
    /// instead of a binary search's several (the largest cost of the memo's keys).
    /// The hint only chooses where to look first, never the answer.
    pub fn get_hinted(&self, attr: &str, hint: &mut usize) -> Option<Id> {
        if let Some((k, v)) = self.attrs.get(*hint)
            && k.as_str() == attr
        {
            return Some(*v);
        }
        let i = self
            .attrs
            .binary_search_by(|(k, _)| k.as_str().cmp(attr))
            .ok()?;
        *hint = i;
        self.attrs.get(i).map(|(_, v)| *v)
    }

    pub fn attrs(&self) -> &[(SmolStr, Id)] {
        &self.attrs
    }
}

/// The entities of one environment, by `(type, id)`.
/// Shared: an environment takes the entities of declarations it shares with the
/// previous one (see `entities::Earlier`).
pub type Index = HashMap<
    (&'static str, SmolStr),
    std::sync::Arc<Built>,
    std::hash::BuildHasherDefault<FxHasher>,
>;

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

/// One environment's entities and the values they hold: what paths are resolved over.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub index: &'a Index,
    pub values: &'a Read<'a>,
}

/// One request's variables as the paths start from them: the principal's and
/// resource's entities (looked up once), the context's value.
pub struct Roots<'a> {
    pub context: Id,
    pub principal_entity: Option<&'a Built>,
    pub resource_entity: Option<&'a Built>,
}

impl<'a> Roots<'a> {
    pub fn new(
        principal: (&'static str, &str),
        resource: (&'static str, &str),
        context: Id,
        index: &'a Index,
    ) -> Roots<'a> {
        Roots {
            context,
            principal_entity: index
                .get(&(principal.0, SmolStr::from(principal.1)))
                .map(|e| &**e),
            resource_entity: index
                .get(&(resource.0, SmolStr::from(resource.1)))
                .map(|e| &**e),
        }
    }
}

/// An attribute a path reads of an entity: `(type, id, attribute)`.
pub type Touched = (&'static str, SmolStr, SmolStr);

/// Follows `path` the way Cedar's evaluator does (`GetAttr`, `HasAttr`) over the
/// values Cedar is given, noting in `touched` every attribute it reads of an entity
/// (`(type, id, attribute)`: all that Cedar needs of the entities). `None`
/// for a path without attributes (never made by [`analyze`]: a bare variable is
/// opaque), whose value is the variable itself.
pub fn resolve(
    path: &Path,
    roots: &Roots<'_>,
    env: Env<'_>,
    touched: Option<&mut Vec<Touched>>,
) -> Option<Seen> {
    resolve_hinted(path, roots, env, touched, &mut Vec::new())
}

/// [`resolve`], with one position hint per step of the path (see
/// [`Built::get_hinted`]) kept by the caller from one request to the next.
pub fn resolve_hinted(
    path: &Path,
    roots: &Roots<'_>,
    Env { index, values }: Env<'_>,
    mut touched: Option<&mut Vec<Touched>>,
    hints: &mut Vec<usize>,
) -> Option<Seen> {
    /// Where the walk is: an entity (looked up; `None`: it does not exist) or a value.
    enum At<'b> {
        Entity(Option<&'b Built>),
        Value(Id),
    }
    if hints.len() < path.attrs.len() {
        hints.resize(path.attrs.len(), 0);
    }
    let mut at = match path.root {
        Root::Context => At::Value(roots.context),
        Root::Principal => At::Entity(roots.principal_entity),
        Root::Resource => At::Entity(roots.resource_entity),
    };
    let last = path.attrs.len().checked_sub(1)?;
    for (step, attr) in path.attrs.iter().enumerate() {
        let entity = match at {
            At::Entity(e) => Some(e),
            At::Value(id) => match values.get(id) {
                // Cedar's record keeps the last of a repeated name.
                Some(Attr::Record(fields)) => {
                    let found = fields
                        .iter()
                        .rev()
                        .find(|(k, _)| k == attr)
                        .map(|(_, v)| *v);
                    at = At::Value(found.unwrap_or(UNKEYED));
                    if path.has && step == last {
                        return Some(Seen::Has(found.is_some()));
                    }
                    if found.is_none() {
                        return Some(Seen::Stopped(step, Stop::NoAttribute));
                    }
                    None
                }
                Some(Attr::Entity(ty, id)) => Some(index.get(&(*ty, id.clone())).map(|e| &**e)),
                _ => return Some(Seen::Stopped(step, Stop::NotARecord)),
            },
        };
        let Some(entity) = entity else {
            continue;
        };
        let Some(entity) = entity else {
            if path.has && step == last {
                // Cedar: a missing entity has no attributes.
                return Some(Seen::Has(false));
            }
            return Some(Seen::Stopped(step, Stop::NoEntity));
        };
        if let Some(t) = touched.as_deref_mut()
            && !t
                .iter()
                .any(|(e, i, a)| *e == entity.entity && *i == entity.id && a == attr)
        {
            t.push((entity.entity, entity.id.clone(), attr.clone()));
        }
        let found = match hints.get_mut(step) {
            Some(hint) => entity.get_hinted(attr, hint),
            None => entity.get(attr),
        };
        if path.has && step == last {
            return Some(Seen::Has(found.is_some()));
        }
        match found {
            Some(v) => at = At::Value(v),
            None => return Some(Seen::Stopped(step, Stop::NoAttribute)),
        }
    }
    match at {
        At::Value(id) => Some(Seen::Value(id)),
        At::Entity(_) => None,
    }
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
