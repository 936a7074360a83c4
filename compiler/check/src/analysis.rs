//! Checks across declarations: profiles merged into declarations, required fields,
//! references into other declarations (columns, features, serving, freshness), the
//! dependency graph (cycles, unused declarations) and the derived facts lowering reads.
//!
//! Each check looks at one declaration and reads the others through a [`Lookup`], so
//! the salsa queries in `db` run them per file and an edit re-checks only the files
//! whose declarations, or the declarations they read, changed.

use crate::checked::{Decl, Field, Rec, Spanned, Value};
use crate::index::SymbolIndex;
use crate::typeck::{AGGREGATES, missing_required};
use petgraph::graph::{DiGraph, NodeIndex};
use plinth_ir::kinds::{self, Record, Shape};
use plinth_ir::{Duration, FieldSpans, Level, Lineage};
use plinth_syntax::did_you_mean;
use plinth_syntax::{Diagnostic, Span};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

/// Declarations by name, shared with the per-file results (copied only when a profile
/// merge changes one).
pub type Decls = BTreeMap<String, Arc<Decl>>;

/// Facts derived from the graph, per declaration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// Effective classification (feature views) or data classification (models,
    /// services, batch jobs).
    pub classification: Option<Level>,
    pub uses_pii: bool,
    pub lineage: Lineage,
}

#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// Every declaration with its profiles merged, by name.
    pub decls: Decls,
    pub facts: BTreeMap<String, Facts>,
    pub enums: BTreeMap<String, Vec<String>>,
    /// `decls` by kind, each in name order, with their field spans: lowering walks one
    /// kind at a time, eight kinds per environment, and filtering every declaration by
    /// its kind string was a tenth of lowering at 5,000 services. Derived from `decls`
    /// (see `new`).
    by_kind: BTreeMap<String, Vec<Declared>>,
}

/// A declaration with its field spans (`resources.gpu`), computed once for every
/// environment's platform model. Kept beside the declaration rather than in a map by
/// name: a lookup by name per declaration and environment was a part of lowering, and
/// the map a name string per declaration.
#[derive(Clone, Debug)]
pub struct Declared {
    pub decl: Arc<Decl>,
    pub spans: Arc<FieldSpans>,
}

/// A declaration's fields are read through it, as from the `Arc<Decl>` it holds.
impl std::ops::Deref for Declared {
    type Target = Decl;

    fn deref(&self) -> &Decl {
        &self.decl
    }
}

/// Equal when the declarations, facts and enums are: `by_kind` and its spans follow
/// from `decls`, so comparing them too (salsa compares each new analysis with the
/// last) would only compare every declaration twice.
impl PartialEq for Analysis {
    fn eq(&self, other: &Self) -> bool {
        self.decls == other.decls && self.facts == other.facts && self.enums == other.enums
    }
}

impl Eq for Analysis {}

impl Analysis {
    /// `spans` are the field spans of `decls`' bodies, in the order of `decls`.
    fn new(
        decls: Decls,
        facts: BTreeMap<String, Facts>,
        enums: BTreeMap<String, Vec<String>>,
        spans: Vec<Arc<FieldSpans>>,
    ) -> Self {
        let mut by_kind: BTreeMap<String, Vec<Declared>> = BTreeMap::new();
        for (d, spans) in decls.values().zip(spans) {
            let declared = Declared {
                decl: d.clone(),
                spans,
            };
            match by_kind.get_mut(d.kind.as_str()) {
                Some(list) => list.push(declared),
                None => {
                    by_kind.insert(d.kind.clone(), vec![declared]);
                }
            }
        }
        Analysis {
            decls,
            facts,
            enums,
            by_kind,
        }
    }

    /// The declarations of `kind`, in name order.
    pub fn of_kind<'a>(&'a self, kind: &str) -> impl Iterator<Item = &'a Decl> + 'a {
        self.declared(kind).map(|d| &*d.decl)
    }

    /// The declarations of `kind` with their field spans, in name order.
    pub fn declared<'a>(&'a self, kind: &str) -> impl Iterator<Item = &'a Declared> + 'a {
        self.declared_slice(kind).iter()
    }

    /// The declarations of `kind` as a slice (for the pool's parallel iterators).
    pub fn declared_slice(&self, kind: &str) -> &[Declared] {
        self.by_kind
            .get(kind)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    pub fn rank(&self, enum_name: &str, value: &str) -> u32 {
        crate::index::enum_rank(&self.enums, enum_name, value)
    }

    pub fn level(&self, enum_name: &str, value: &str) -> Level {
        Level {
            rank: self.rank(enum_name, value),
            name: value.to_string(),
        }
    }
}

/// Dtypes a `sum`/`avg`/`min`/`max` can read.
pub fn is_numeric(dtype: &str) -> bool {
    matches!(
        dtype,
        "int8" | "int16" | "int32" | "int64" | "uint8" | "float16" | "float32" | "float64"
    )
}

/// Formats each serving runtime can load.
pub fn runtime_formats(runtime: &str) -> &'static [&'static str] {
    match runtime {
        "triton" => &["onnx", "tensorrt", "torchscript", "savedmodel", "python"],
        _ => &[],
    }
}

/// Longest declaration name of a deployable: leaves room for the suffixes targets add
/// (`-canary`, `-analysis`) within Kubernetes' 63-character limit.
pub const MAX_DEPLOYABLE_NAME: usize = 50;

/// Finds a declaration by name: as written, or with its profiles merged, depending
/// on the caller.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<Arc<Decl>>;

/// The analysis lowering reads: merged declarations and the derived facts. Diagnostics
/// are not here; `db::diagnostics` collects them per file.
pub fn analyze(index: &SymbolIndex, decls: Decls) -> Analysis {
    let all: Vec<Links> = decls.values().map(|d| links(d)).collect();
    analyze_linked(index, decls, all.iter().collect())
}

/// [`analyze`] with every declaration's links already at hand (the database has them
/// from checking), in any order.
pub fn analyze_linked(index: &SymbolIndex, decls: Decls, mut all: Vec<&Links>) -> Analysis {
    // Name order, as `decls`: the graph's nodes are added in this order.
    all.sort_by(|a, b| a.name.cmp(&b.name));
    // Independent passes over the same declarations: one core each.
    let (facts, spans) = rayon::join(
        || derive_facts(index, &decls, &all),
        || {
            decls
                .values()
                .map(|d| Arc::new(d.body.field_spans()))
                .collect()
        },
    );
    Analysis::new(decls, facts, index.enums.clone(), spans)
}

// ---------------------------------------------------------------------------------
// Profiles

/// The profile chain of a declaration, parents first, with cycle detection.
fn profile_chain(
    decls: Lookup,
    name: &str,
    seen: &mut Vec<String>,
    out: &mut Vec<String>,
) -> Result<(), Vec<String>> {
    if seen.iter().any(|s| s == name) {
        let mut cycle = seen.clone();
        cycle.push(name.to_string());
        return Err(cycle);
    }
    seen.push(name.to_string());
    if let Some(decl) = decls(name) {
        for parent in &decl.profiles {
            profile_chain(decls, parent, seen, out)?;
            if !out.contains(parent) {
                out.push(parent.clone());
            }
        }
    }
    seen.pop();
    Ok(())
}

/// Values inherited from a profile point at the declaration that extends it.
fn respan(rec: &Rec, span: Span) -> Rec {
    let fields = rec
        .fields
        .iter()
        .map(|(k, f)| {
            let f = match f {
                Field::Value(v) => Field::Value(Spanned {
                    value: v.value.clone(),
                    span,
                }),
                Field::Block(b) => Field::Block(Spanned {
                    value: respan(&b.value, span),
                    span,
                }),
                Field::Named(items) => Field::Named(
                    items
                        .iter()
                        .map(|(n, b)| {
                            (
                                n.clone(),
                                Spanned {
                                    value: respan(&b.value, span),
                                    span,
                                },
                            )
                        })
                        .collect(),
                ),
            };
            (k, f)
        })
        .collect();
    Rec {
        fields,
        errored: rec.errored.clone(),
    }
}

/// `over` on top of `base`: blocks and named blocks merge field by field.
pub fn merge(base: &Rec, over: &Rec) -> Rec {
    merge_owned(base.clone(), over)
}

/// [`merge`] into a `base` the caller no longer needs, so it is not copied first.
fn merge_owned(base: Rec, over: &Rec) -> Rec {
    let mut out = base;
    out.errored.extend(over.errored.iter().cloned());
    for (k, f) in &over.fields {
        match (out.fields.get_mut(k), f) {
            (Some(Field::Block(a)), Field::Block(b)) => {
                let value = std::mem::take(&mut a.value);
                a.value = merge_owned(value, &b.value);
                a.span = b.span;
            }
            (Some(Field::Named(items)), Field::Named(b)) => {
                for (name, block) in b {
                    match items.iter_mut().find(|(n, _)| n == name) {
                        Some((_, existing)) => {
                            let value = std::mem::take(&mut existing.value);
                            *existing = Spanned {
                                value: merge_owned(value, &block.value),
                                span: block.span,
                            };
                        }
                        None => items.push((name.clone(), block.clone())),
                    }
                }
            }
            _ => out.fields.insert(k, f.clone()),
        }
    }
    out
}

/// Field paths set in both with different values.
fn conflicts(a: &Rec, b: &Rec, prefix: &str, out: &mut Vec<String>) {
    for (k, fa) in &a.fields {
        let Some(fb) = b.fields.get(k) else { continue };
        let path = if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        };
        match (fa, fb) {
            (Field::Value(x), Field::Value(y)) if x.value != y.value => out.push(path),
            (Field::Block(x), Field::Block(y)) => conflicts(&x.value, &y.value, &path, out),
            (Field::Named(xs), Field::Named(ys)) => {
                for (n, x) in xs {
                    if let Some((_, y)) = ys.iter().find(|(m, _)| m == n) {
                        conflicts(&x.value, &y.value, &format!("{path}.{n}"), out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// One declaration with the profiles it extends merged in, and the problems found
/// while merging. `unmerged` looks up declarations as written.
pub fn merge_decl(decl: &Arc<Decl>, unmerged: Lookup) -> (Arc<Decl>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    if decl.profiles.is_empty() {
        return (decl.clone(), diags);
    }
    let name = &decl.name;
    let mut chain = Vec::new();
    if let Err(cycle) = profile_chain(unmerged, name, &mut Vec::new(), &mut chain) {
        // Reported once, at the first profile of the cycle; declarations extending
        // it keep their own body and are not also reported missing fields.
        if cycle.iter().min() == Some(name) {
            let message = format!(
                "profiles extend each other in a cycle: {}",
                cycle.join(" → ")
            );
            diags.push(
                Diagnostic::error("plinth::extends::cycle", decl.name_span, message)
                    .with_file(&decl.file)
                    .with_help("remove one `extends` to break the cycle"),
            );
        }
        let mut poisoned = (**decl).clone();
        if let Some(k) = kinds::kind(&decl.kind) {
            poisoned
                .body
                .errored
                .extend(k.record.fields.iter().map(|f| f.name.to_string()));
        }
        return (Arc::new(poisoned), diags);
    }
    // Direct parents may not disagree; a declaration's own fields override both.
    let mut base = Rec::default();
    let mut base_from: BTreeMap<String, String> = BTreeMap::new();
    for parent in &decl.profiles {
        let mut parent_chain = Vec::new();
        let _ = profile_chain(unmerged, parent, &mut Vec::new(), &mut parent_chain);
        let mut full = Rec::default();
        for p in parent_chain.iter().chain(std::iter::once(parent)) {
            if let Some(pd) = unmerged(p) {
                full = merge_owned(full, &pd.body);
            }
        }
        let mut clash = Vec::new();
        conflicts(&base, &full, "", &mut clash);
        // A field the declaration sets itself decides the conflict.
        clash.retain(|path| {
            let top = path.split('.').next().unwrap_or(path);
            !decl.body.fields.contains_key(top)
        });
        for path in clash {
            let other = path
                .split('.')
                .next()
                .and_then(|k| base_from.get(k))
                .cloned()
                .unwrap_or_default();
            diags.push(
                Diagnostic::error(
                    "plinth::extends::conflict",
                    decl.name_span,
                    format!("profiles `{other}` and `{parent}` both set `{path}`, differently"),
                )
                .with_file(&decl.file)
                .with_help(format!("set `{path}` in `{name}` itself to decide")),
            );
        }
        for k in full.fields.keys() {
            base_from
                .entry(k.to_string())
                .or_insert_with(|| parent.clone());
        }
        base = merge_owned(base, &full);
    }
    let mut merged = (**decl).clone();
    merged.body = merge_owned(respan(&base, decl.name_span), &decl.body);
    chain.dedup();
    merged.profiles = chain;
    (Arc::new(merged), diags)
}

// ---------------------------------------------------------------------------------
// Required fields

fn required_in(
    rec: &Rec,
    record: &Record,
    span: Span,
    what: &dyn Fn() -> String,
    file: &str,
    diags: &mut Vec<Diagnostic>,
) {
    for name in missing_required(rec, record) {
        let what = what();
        let doc = record.field(&name).map_or("", |f| f.doc);
        diags.push(
            Diagnostic::error(
                "plinth::field::missing",
                span,
                format!("{what} is missing the required field `{name}`"),
            )
            .with_file(file)
            .with_label(format!("`{name}` is required"))
            .with_help(format!("add `{name}`: {doc}")),
        );
    }
    for field in record.fields {
        // Only blocks have fields of their own; skip the lookup for values.
        if !matches!(field.shape, Shape::Block(_) | Shape::Named(_)) {
            continue;
        }
        match (field.shape, rec.fields.get(field.name)) {
            (Shape::Block(inner), Some(Field::Block(b))) => {
                required_in(
                    &b.value,
                    inner,
                    b.span,
                    &|| format!("`{}`", field.name),
                    file,
                    diags,
                );
            }
            (Shape::Named(inner), Some(Field::Named(items))) => {
                for (n, b) in items {
                    required_in(
                        &b.value,
                        inner,
                        b.span,
                        &|| format!("`{} {n}`", field.name),
                        file,
                        diags,
                    );
                }
            }
            _ => {}
        }
    }
}

fn check_required(decl: &Decl, diags: &mut Vec<Diagnostic>) {
    if decl.kind == "profile" {
        return;
    }
    let Some(kind) = kinds::kind(&decl.kind) else {
        return;
    };
    required_in(
        &decl.body,
        &kind.record,
        decl.name_span,
        &|| format!("{} `{}`", decl.kind, decl.name),
        &decl.file,
        diags,
    );
}

// ---------------------------------------------------------------------------------
// Cross-declaration checks

fn dur(rec: &Rec, name: &str) -> Option<Duration> {
    match rec.get(name) {
        Some(Value::Duration(d)) => Some(*d),
        _ => None,
    }
}

fn int(rec: &Rec, name: &str) -> Option<i64> {
    match rec.get(name) {
        Some(Value::Int(n)) => Some(*n),
        _ => None,
    }
}

fn list<'a>(rec: &'a Rec, name: &str) -> &'a [Spanned<Value>] {
    match rec.get(name) {
        Some(Value::List(items)) => items,
        _ => &[],
    }
}

/// Columns of a source: name to dtype and whether it is PII (borrowed: every feature
/// view reads its source's columns).
fn columns(decl: &Decl) -> BTreeMap<&str, (&str, bool)> {
    decl.body
        .named("column")
        .iter()
        .map(|(n, b)| {
            (
                n.as_str(),
                (
                    b.value.str("type").unwrap_or(""),
                    b.value.get("pii") == Some(&Value::Bool(true)),
                ),
            )
        })
        .collect()
}

/// Features of a feature view: name to dtype.
fn features(decl: &Decl) -> BTreeMap<&str, &str> {
    decl.body
        .named("feature")
        .iter()
        .map(|(n, b)| (n.as_str(), b.value.str("type").unwrap_or("")))
        .collect()
}

/// Every check of one (merged) declaration that is not about the graph: required
/// fields and references into other declarations, read through `decls` (merged).
pub fn check_decl(decl: &Decl, decls: Lookup, index: &SymbolIndex) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    check_required(decl, &mut diags);
    'checks: {
        let file = decl.file.as_str();
        let mut err = |code: &str, span: Span, msg: String, help: Option<String>| {
            let mut d = if code == CAST {
                Diagnostic::warning(code, span, msg)
            } else {
                Diagnostic::error(code, span, msg)
            }
            .with_file(file);
            d.help = help;
            diags.push(d);
        };
        let body = &decl.body;
        match decl.kind.as_str() {
            "feature_view" => {
                let source = body.str("source").and_then(decls);
                let Some(source) = source else { break 'checks };
                let cols = columns(&source);
                let col_names = || cols.keys().copied().collect::<Vec<_>>();
                let unknown_column = |column: &str| {
                    let suggestion = did_you_mean(column, cols.keys().copied());
                    Some(match suggestion {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("columns of `{}`: {}", source.name, col_names().join(", ")),
                    })
                };
                if let Some(entity) = body.str("entity").and_then(decls)
                    && let Some(key) = entity.body.str("key")
                    && !cols.contains_key(key)
                {
                    err(
                        "plinth::column::unknown",
                        body.span_of("entity").unwrap_or(decl.name_span),
                        format!(
                            "entity `{}` joins on `{key}`, which is not a column of source `{}`",
                            entity.name, source.name
                        ),
                        unknown_column(key),
                    );
                }
                for (fname, f) in body.named("feature") {
                    if let Some(Value::Aggregate { function, column }) = f.value.get("aggregate") {
                        let span = f.value.span_of("aggregate").unwrap_or(f.span);
                        match cols.get(column.as_str()) {
                            None => err(
                                "plinth::column::unknown",
                                span,
                                format!(
                                    "feature `{fname}` aggregates `{column}`, which is not a column of source `{}`",
                                    source.name
                                ),
                                unknown_column(column),
                            ),
                            Some((dtype, _)) => {
                                let numeric = AGGREGATES.iter().any(|(a, n)| a == function && *n);
                                if numeric && !is_numeric(dtype) {
                                    err(
                                        "plinth::column::type",
                                        span,
                                        format!("`{function}` needs a numeric column, but `{column}` is {dtype}"),
                                        Some("use `count` or `count_distinct`, or aggregate a numeric column".to_string()),
                                    );
                                }
                            }
                        }
                    }
                }
                for (ename, e) in body.named("expect") {
                    if let Some(column) = e.value.str("column")
                        && !cols.contains_key(column)
                    {
                        err(
                            "plinth::column::unknown",
                            e.value.span_of("column").unwrap_or(e.span),
                            format!(
                                "expectation `{ename}` checks `{column}`, which is not a column of source `{}`",
                                source.name
                            ),
                            unknown_column(column),
                        );
                    }
                }
                if let (Some(declared), Some(source_class)) = (
                    body.str("classification"),
                    source.body.str("classification"),
                ) {
                    let (d, s) = (
                        index.rank("classification", declared),
                        index.rank("classification", source_class),
                    );
                    if d < s {
                        err(
                            "plinth::classification::lower",
                            body.span_of("classification").unwrap_or(decl.name_span),
                            format!(
                                "`{}` is classified {declared}, below its source `{}` ({source_class})",
                                decl.name, source.name
                            ),
                            Some(format!(
                                "a feature view is never classified lower than its sources; use `{source_class}` or higher"
                            )),
                        );
                    }
                }
                if let (Some(freshness), Some(Value::Cron { expr, interval })) =
                    (dur(body, "freshness"), body.get("schedule"))
                    && freshness < *interval
                {
                    err(
                        "plinth::freshness::schedule",
                        body.span_of("freshness").unwrap_or(decl.name_span),
                        format!(
                            "freshness {freshness} cannot hold: the schedule {expr:?} runs only every {interval}"
                        ),
                        Some(format!(
                            "set `freshness` to at least {interval}, or schedule runs at least every {freshness}"
                        )),
                    );
                }
                resources_check(body, "resources", &mut err);
            }
            "model" => {
                let inputs = list(body, "inputs");
                let mut input_refs = Vec::new();
                for item in inputs {
                    if let Value::FeatureRef(r) = &item.value {
                        feature_exists(decls, r, item.span, &mut err);
                        input_refs.push(r.clone());
                    }
                }
                let tensors = body.named("input");
                if !tensors.is_empty() {
                    let mut packed: BTreeMap<String, Span> = BTreeMap::new();
                    for (tname, t) in tensors {
                        let dtype = t.value.str("dtype").unwrap_or("");
                        for item in list(&t.value, "features") {
                            let Value::FeatureRef(r) = &item.value else {
                                continue;
                            };
                            let key = r.to_string();
                            if !input_refs.contains(r) {
                                err(
                                    "plinth::tensor::packing",
                                    item.span,
                                    format!(
                                        "input `{tname}` packs `{key}`, which is not in the model's `inputs`"
                                    ),
                                    Some(format!("add `{key}` to `inputs`")),
                                );
                            } else if packed.insert(key.clone(), item.span).is_some() {
                                err(
                                    "plinth::tensor::packing",
                                    item.span,
                                    format!("`{key}` is packed into more than one input tensor"),
                                    Some(
                                        "every feature in `inputs` is packed exactly once"
                                            .to_string(),
                                    ),
                                );
                            }
                            if let Some(ftype) = decls(&r.view).and_then(|v| {
                                features(&v).get(r.feature.as_str()).map(|t| t.to_string())
                            }) && loses_precision(&ftype, dtype)
                            {
                                diags_warn(
                                    &mut err,
                                    item.span,
                                    format!(
                                        "`{key}` is {ftype}; packing it into {dtype} tensor `{tname}` loses precision"
                                    ),
                                );
                            }
                        }
                    }
                    for r in &input_refs {
                        if !packed.contains_key(&r.to_string()) {
                            err(
                                "plinth::tensor::packing",
                                body.span_of("inputs").unwrap_or(decl.name_span),
                                format!("`{r}` is in `inputs` but packed into no input tensor"),
                                Some("list it in the `features` of one `input` block".to_string()),
                            );
                        }
                    }
                }
                if let Some(training) = body.block("training") {
                    resources_check(training, "resources", &mut err);
                }
            }
            "service" => {
                let model = body.str("model").and_then(decls);
                let model = model.as_deref();
                service_checks(body, model, "", decls, &mut err);
                // Each environment's effective body is checked again: an override may
                // break what the base satisfied.
                for (env, over) in body.named("env") {
                    let in_env = format!(" (in `{env}`)");
                    // An override of none of the fields the checks read (most set only
                    // `replicas`) leaves them as the base has them: check the base
                    // again instead of copying it.
                    if over
                        .value
                        .fields
                        .keys()
                        .all(|k| !SERVICE_CHECKED.contains(&k))
                    {
                        service_checks(body, model, &in_env, decls, &mut err);
                        continue;
                    }
                    let effective = merge(body, &over.value);
                    service_checks(&effective, model, &in_env, decls, &mut err);
                }
            }
            "batch_job" => resources_check(body, "resources", &mut err),
            _ => {}
        }
        if matches!(
            decl.kind.as_str(),
            "service" | "batch_job" | "feature_view" | "model"
        ) && (decl.name.len() > MAX_DEPLOYABLE_NAME)
        {
            err(
                "plinth::name::too_long",
                decl.name_span,
                format!(
                    "`{}` is {} characters; generated Kubernetes names would exceed 63",
                    decl.name,
                    decl.name.len()
                ),
                Some(format!(
                    "use a name of at most {MAX_DEPLOYABLE_NAME} characters"
                )),
            );
        }
        // Resource names are the declaration's name with `_` as `-`; DNS-1123 labels
        // must start and end with a letter or digit.
        if matches!(
            decl.kind.as_str(),
            "service" | "batch_job" | "feature_view" | "model"
        ) && (decl.name.starts_with('_') || decl.name.ends_with('_'))
        {
            let trimmed = decl.name.trim_matches('_');
            err(
                "plinth::name::invalid",
                decl.name_span,
                format!(
                    "`{}` would make the Kubernetes name `{}`, which must start and end with a letter or digit",
                    decl.name,
                    decl.name.replace('_', "-")
                ),
                Some(format!("rename it, e.g. `{trimmed}`")),
            );
        }
    }
    diags
}

/// The one cross-declaration finding that is a warning, not an error.
const CAST: &str = "plinth::tensor::cast";

fn diags_warn(err: &mut impl FnMut(&str, Span, String, Option<String>), span: Span, msg: String) {
    err(
        CAST,
        span,
        msg,
        Some("declare the tensor's dtype to match, or accept the cast".to_string()),
    );
}

fn loses_precision(from: &str, to: &str) -> bool {
    fn rank(t: &str) -> Option<(u8, u8)> {
        // (family, bits): family 0 ints, 1 floats.
        Some(match t {
            "bool" => (0, 1),
            "int8" | "uint8" => (0, 8),
            "int16" => (0, 16),
            "int32" => (0, 32),
            "int64" => (0, 64),
            "float16" => (1, 16),
            "float32" => (1, 32),
            "float64" => (1, 64),
            _ => return None,
        })
    }
    match (rank(from), rank(to)) {
        (Some((ff, fb)), Some((tf, tb))) => {
            (ff == tf && tb < fb) || (ff == 1 && tf == 0) || (ff == 0 && tf == 1 && fb >= tb)
        }
        _ => false,
    }
}

fn feature_exists(
    decls: Lookup,
    r: &plinth_ir::FeatureRef,
    span: Span,
    err: &mut impl FnMut(&str, Span, String, Option<String>),
) {
    let Some(view) = decls(&r.view) else {
        return;
    };
    if view
        .body
        .named("feature")
        .iter()
        .any(|(n, _)| *n == r.feature)
    {
        return;
    }
    {
        let feats = features(&view);
        let suggestion = did_you_mean(&r.feature, feats.keys().copied());
        err(
            "plinth::feature::unknown",
            span,
            format!("feature view `{}` has no feature `{}`", r.view, r.feature),
            Some(match suggestion {
                Some(s) => format!("did you mean `{}.{s}`?", r.view),
                None => format!(
                    "features of `{}`: {}",
                    r.view,
                    feats.keys().copied().collect::<Vec<_>>().join(", ")
                ),
            }),
        );
    }
}

fn resources_check(
    rec: &Rec,
    name: &str,
    err: &mut impl FnMut(&str, Span, String, Option<String>),
) {
    let Some(res) = rec.block(name) else { return };
    if res.get("accelerator").is_some() && int(res, "gpu").unwrap_or(0) < 1 {
        err(
            "plinth::resources::accelerator",
            res.span_of("accelerator").unwrap_or_default(),
            "an accelerator is set but no GPU is requested".to_string(),
            Some("add `gpu: 1` (or more), or remove `accelerator`".to_string()),
        );
    }
}

/// The fields of a service that `service_checks` reads.
const SERVICE_CHECKED: [&str; 6] = [
    "runtime",
    "model",
    "batching",
    "resources",
    "slo",
    "monitor",
];

fn service_checks(
    body: &Rec,
    model: Option<&Decl>,
    in_env: &str,
    decls: Lookup,
    err: &mut impl FnMut(&str, Span, String, Option<String>),
) {
    let runtime = body.str("runtime").unwrap_or("triton");
    if let Some(model) = model
        && let Some(format) = model.body.str("format")
    {
        let formats = runtime_formats(runtime);
        if !formats.contains(&format) {
            err(
                "plinth::serving::runtime",
                body.span_of("model").unwrap_or_default(),
                format!(
                    "runtime `{runtime}` cannot serve `{}`, a {format} model{in_env}",
                    model.name
                ),
                Some(format!("`{runtime}` serves {}", formats.join(", "))),
            );
        }
    }
    let batching = body.block("batching");
    if let Some(b) = batching
        && let Some(max) = int(b, "max_batch")
    {
        if max < 1 {
            err(
                "plinth::serving::batch",
                b.span_of("max_batch").unwrap_or_default(),
                format!("`max_batch` is {max}{in_env}; it must be at least 1"),
                None,
            );
        }
        for item in list(b, "preferred") {
            if let Value::Int(p) = item.value
                && (p > max || p < 1)
            {
                err(
                    "plinth::serving::batch",
                    item.span,
                    format!("preferred batch size {p} is outside 1..{max} (`max_batch`){in_env}"),
                    Some("preferred sizes lie between 1 and `max_batch`".to_string()),
                );
            }
        }
    }
    resources_check(body, "resources", err);
    let max_delay = batching
        .and_then(|b| dur(b, "max_delay"))
        .unwrap_or(Duration(0));
    for (kind, slo) in body.named("slo") {
        if kind == "latency"
            && let Some(threshold) = dur(&slo.value, "threshold")
            && threshold <= max_delay
        {
            err(
                "plinth::slo::unachievable",
                slo.value.span_of("threshold").unwrap_or(slo.span),
                format!(
                    "latency threshold {threshold} is at or below the batching delay {max_delay}{in_env}: no request can meet it"
                ),
                Some(
                    "raise the threshold above `batching.max_delay`, or lower the delay"
                        .to_string(),
                ),
            );
        }
    }
    for (kind, monitor) in body.named("monitor") {
        if kind == "drift"
            && let Some(Value::FeatureRef(r)) = monitor.value.get("feature")
        {
            feature_exists(
                decls,
                r,
                monitor.value.span_of("feature").unwrap_or(monitor.span),
                err,
            );
        }
    }
}

// ---------------------------------------------------------------------------------
// Dependency graph and derived facts

/// The references that are data or serving dependencies: (field, is it a data edge).
fn dependencies(decl: &Decl) -> Vec<String> {
    let mut deps = BTreeSet::new();
    let body = &decl.body;
    match decl.kind.as_str() {
        "feature_view" => {
            deps.extend(body.str("source").map(str::to_string));
            deps.extend(body.str("entity").map(str::to_string));
        }
        "model" => {
            for item in list(body, "inputs") {
                if let Value::FeatureRef(r) = &item.value {
                    deps.insert(r.view.clone());
                }
            }
        }
        "service" => {
            deps.extend(body.str("model").map(str::to_string));
            for (_, m) in body.named("monitor") {
                if let Some(Value::FeatureRef(r)) = m.value.get("feature") {
                    deps.insert(r.view.clone());
                }
            }
        }
        "batch_job" => {
            deps.extend(body.str("model").map(str::to_string));
            deps.extend(body.str("input").map(str::to_string));
        }
        "source" => {}
        _ => {}
    }
    deps.into_iter().collect()
}

/// What the graph needs to know about one declaration; small, so the graph is rebuilt
/// only when some declaration's links change, not on every body edit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Links {
    pub name: String,
    pub kind: String,
    pub file: String,
    pub name_span: Span,
    /// What it reads (data and serving dependencies).
    pub deps: Vec<String>,
    /// The source a batch job writes.
    pub writes: Option<String>,
    pub owner: Option<String>,
}

const GRAPH_KINDS: [&str; 6] = [
    "source",
    "entity",
    "feature_view",
    "model",
    "service",
    "batch_job",
];

pub fn links(decl: &Decl) -> Links {
    Links {
        name: decl.name.clone(),
        kind: decl.kind.clone(),
        file: decl.file.clone(),
        name_span: decl.name_span,
        deps: dependencies(decl),
        writes: if decl.kind == "batch_job" {
            decl.body.str("output").map(str::to_string)
        } else {
            None
        },
        owner: decl.body.str("owner").map(str::to_string),
    }
}

struct Graph {
    graph: DiGraph<String, ()>,
    nodes: HashMap<String, NodeIndex>,
}

fn build_graph<'a>(all: impl Iterator<Item = &'a Links> + Clone) -> Graph {
    let mut graph: DiGraph<String, ()> = DiGraph::new();
    let mut nodes: HashMap<String, NodeIndex> = HashMap::new();
    for l in all
        .clone()
        .filter(|l| GRAPH_KINDS.contains(&l.kind.as_str()))
    {
        nodes.insert(l.name.clone(), graph.add_node(l.name.clone()));
    }
    for l in all {
        let Some(&to) = nodes.get(&l.name) else {
            continue;
        };
        for dep in &l.deps {
            if let Some(&from) = nodes.get(dep) {
                graph.add_edge(from, to, ());
            }
        }
        if let Some(out) = l.writes.as_ref().and_then(|o| nodes.get(o)) {
            graph.add_edge(to, *out, ());
        }
    }
    Graph { graph, nodes }
}

/// Cycles (every member listed, in name order) and unused declarations.
pub fn check_graph<'a>(all: impl Iterator<Item = &'a Links> + Clone) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let by_name: HashMap<&str, &Links> = all.clone().map(|l| (l.name.as_str(), l)).collect();
    let owners_used: HashSet<&str> = all.clone().filter_map(|l| l.owner.as_deref()).collect();
    let Graph { graph, nodes } = build_graph(all.clone());
    for scc in petgraph::algo::tarjan_scc(&graph) {
        let self_loop = scc.len() == 1 && scc.first().is_some_and(|n| graph.contains_edge(*n, *n));
        if scc.len() < 2 && !self_loop {
            continue;
        }
        let mut members: Vec<String> = scc
            .iter()
            .filter_map(|n| graph.node_weight(*n).cloned())
            .collect();
        members.sort();
        if let Some(first) = members.first().and_then(|m| by_name.get(m.as_str())) {
            diags.push(
                Diagnostic::error(
                    "plinth::graph::cycle",
                    first.name_span,
                    format!("dependency cycle: {}", members.join(" → ")),
                )
                .with_file(&first.file)
                .with_help("data must flow one way: sources → feature views → models → services and batch jobs; a batch job may not write a source its own model reads"),
            );
        }
    }
    for l in all {
        let unused = match l.kind.as_str() {
            "team" => !owners_used.contains(l.name.as_str()),
            "source" | "entity" | "feature_view" | "model" => nodes.get(&l.name).is_some_and(|n| {
                let none = |dir| graph.neighbors_directed(*n, dir).next().is_none();
                none(petgraph::Direction::Outgoing)
                    && (l.kind != "source" || none(petgraph::Direction::Incoming))
            }),
            _ => false,
        };
        if unused && !l.name.starts_with("std.") {
            diags.push(
                Diagnostic::warning(
                    "plinth::graph::unused",
                    l.name_span,
                    format!("{} `{}` is not used", l.kind, l.name),
                )
                .with_file(&l.file)
                .with_help("remove it, or reference it from the declaration that should use it"),
            );
        }
    }
    diags
}

/// Derived facts of every declaration in dependency order; members of a cycle (an
/// error reported elsewhere) get none.
fn derive_facts(index: &SymbolIndex, decls: &Decls, all: &[&Links]) -> BTreeMap<String, Facts> {
    use rayon::prelude::*;
    let Graph { graph, .. } = build_graph(all.iter().copied());
    let order = petgraph::algo::toposort(&graph, None).unwrap_or_default();
    // A declaration's facts read only those of its upstream (its graph predecessors),
    // so the declarations of one depth (the longest path from a root) are derived on
    // all cores at once, depth after depth: sources, then the views that read them...
    let mut depth = vec![0usize; graph.node_count()];
    let mut levels: Vec<Vec<NodeIndex>> = Vec::new();
    for &node in &order {
        let d = graph
            .neighbors_directed(node, petgraph::Direction::Incoming)
            .filter_map(|up| depth.get(up.index()).map(|d| d + 1))
            .max()
            .unwrap_or(0);
        if let Some(slot) = depth.get_mut(node.index()) {
            *slot = d;
        }
        if levels.len() <= d {
            levels.resize_with(d + 1, Vec::new);
        }
        if let Some(level) = levels.get_mut(d) {
            level.push(node);
        }
    }
    let mut facts: BTreeMap<String, Facts> = BTreeMap::new();
    for level in levels {
        let derived: Vec<(String, Facts)> = level
            .par_iter()
            .filter_map(|&node| {
                let name = graph.node_weight(node)?;
                let decl = decls.get(name)?;
                Some((name.clone(), derive(index, decls, decl, &facts)))
            })
            .collect();
        facts.extend(derived);
    }
    facts
}

fn derive(
    index: &SymbolIndex,
    decls: &Decls,
    decl: &Decl,
    facts: &BTreeMap<String, Facts>,
) -> Facts {
    let body = &decl.body;
    let level = |v: &str| Level {
        rank: index.rank("classification", v),
        name: v.to_string(),
    };
    let upstream = |names: &[String]| {
        let mut out = Facts::default();
        let mut sources = BTreeSet::new();
        let mut views = BTreeSet::new();
        let mut pii = BTreeSet::new();
        for n in names {
            let Some(f) = facts.get(n) else { continue };
            out.uses_pii |= f.uses_pii;
            if let Some(c) = &f.classification
                && out.classification.as_ref().is_none_or(|o| c > o)
            {
                out.classification = Some(c.clone());
            }
            sources.extend(f.lineage.sources.iter().cloned());
            views.extend(f.lineage.feature_views.iter().cloned());
            pii.extend(f.lineage.pii_columns.iter().cloned());
        }
        out.lineage = Lineage {
            sources: sources.into_iter().collect(),
            feature_views: views.into_iter().collect(),
            pii_columns: pii.into_iter().collect(),
        };
        out
    };
    match decl.kind.as_str() {
        "source" => {
            let cols = columns(decl);
            let pii: Vec<String> = cols
                .iter()
                .filter(|(_, (_, p))| *p)
                .map(|(c, _)| format!("{}.{c}", decl.name))
                .collect();
            Facts {
                classification: decl.body.str("classification").map(level),
                uses_pii: !pii.is_empty(),
                lineage: Lineage {
                    sources: vec![decl.name.clone()],
                    feature_views: Vec::new(),
                    pii_columns: pii,
                },
            }
        }
        "feature_view" => {
            let Some(source) = body.str("source").and_then(|s| decls.get(s)) else {
                return Facts::default();
            };
            let cols = columns(source);
            // The columns the view reads: the entity key, aggregated and checked columns.
            let mut read: BTreeSet<String> = BTreeSet::new();
            if let Some(key) = body
                .str("entity")
                .and_then(|e| decls.get(e))
                .and_then(|e| e.body.str("key"))
            {
                read.insert(key.to_string());
            }
            for (_, f) in body.named("feature") {
                if let Some(Value::Aggregate { column, .. }) = f.value.get("aggregate") {
                    read.insert(column.to_string());
                }
            }
            for (_, e) in body.named("expect") {
                read.extend(e.value.str("column").map(str::to_string));
            }
            let pii: Vec<String> = read
                .iter()
                .filter(|c| cols.get(c.as_str()).is_some_and(|(_, p)| *p))
                .map(|c| format!("{}.{c}", source.name))
                .collect();
            let source_class = source.body.str("classification").map(level);
            let declared = body.str("classification").map(level);
            let classification = match (declared, source_class) {
                (Some(d), Some(s)) => Some(if d > s { d } else { s }),
                (d, s) => d.or(s),
            };
            Facts {
                classification,
                uses_pii: !pii.is_empty(),
                lineage: Lineage {
                    sources: vec![source.name.clone()],
                    feature_views: vec![decl.name.clone()],
                    pii_columns: pii,
                },
            }
        }
        "model" => {
            let views: Vec<String> = dependencies(decl);
            upstream(&views)
        }
        "service" => {
            let model: Vec<String> = body.str("model").map(str::to_string).into_iter().collect();
            upstream(&model)
        }
        "batch_job" => {
            let deps: Vec<String> = [body.str("model"), body.str("input")]
                .into_iter()
                .flatten()
                .map(str::to_string)
                .collect();
            upstream(&deps)
        }
        _ => Facts::default(),
    }
}
