//! The Cedar schema (namespace `Plinth`), generated from the kind tables plus the
//! derived facts. The kind tables are the one list of fields; this module only decides
//! how each field type reads in Cedar:
//!
//! - durations, bytes and CPU as `Long` (milliseconds, bytes, millicores);
//! - numbers and percents as `decimal` (at most 4 fractional digits, Cedar's limit);
//! - enums, dates, crons, columns and feature paths as `String`;
//! - references to kinds with a Cedar entity as entity references, others as `String`;
//! - lists as `Set`, ranges as `{ min, max }`, blocks as records, `name NAME { .. }`
//!   blocks as sets of records with a `name`, and `slo KIND { .. }` choices (and
//!   variants such as `rollout`) as records with one optional attribute per alternative,
//!   so a policy asks `resource.slo has availability`;
//! - `owner` is also the entity's parent `Team`.

use plinth_ir::kinds::{self, KindDef, Record, Shape, Ty, Variant};
use std::fmt::Write as _;

/// A derived fact: an attribute that is not a field of the kind table but computed by
/// the checker (lineage, classification) or by the policy engine (regions).
pub struct Derived {
    pub name: &'static str,
    pub ty: &'static str,
    pub required: bool,
    pub doc: &'static str,
}

const fn derived(name: &'static str, ty: &'static str, doc: &'static str) -> Derived {
    Derived {
        name,
        ty,
        required: true,
        doc,
    }
}

const LINEAGE: &str =
    "{ sources: Set<Source>, feature_views: Set<FeatureView>, pii_columns: Set<String> }";

const USES_PII: Derived = derived("uses_pii", "Bool", "Some upstream column has `pii: true`.");
const LINEAGE_FACT: Derived = derived(
    "lineage",
    LINEAGE,
    "Every upstream source and feature view, and the PII columns among their columns.",
);
const PII_RESIDENCY: Derived = Derived {
    name: "pii_residency",
    ty: "Set<String>",
    required: false,
    doc: "Regions allowed by every upstream source with PII (the intersection of their residency); absent without PII.",
};
const DATA_CLASSIFICATION: Derived = derived(
    "data_classification",
    "String",
    "The highest classification of the data read, upstream included.",
);

/// The derived facts of each Cedar entity type. Where a name is also a kind field
/// (`owner`, `classification`, `namespace`), the derived fact replaces the field:
/// the checker always fills it in.
pub fn derived_facts(entity: &str) -> &'static [Derived] {
    match entity {
        "Environment" => &ENVIRONMENT_FACTS,
        "Source" => &SOURCE_FACTS,
        "FeatureView" => &FEATURE_VIEW_FACTS,
        "Model" => &MODEL_FACTS,
        "Service" => &SERVICE_FACTS,
        "BatchJob" => &BATCH_JOB_FACTS,
        _ => &[],
    }
}

static ENVIRONMENT_FACTS: [Derived; 1] = [derived(
    "namespace",
    "String",
    "Kubernetes namespace (the environment's name when not given).",
)];

static SOURCE_FACTS: [Derived; 3] = [
    derived("pii", "Bool", "Some column has `pii: true`."),
    derived(
        "pii_columns",
        "Set<String>",
        "`source.column` of every column with `pii: true`.",
    ),
    derived(
        "residency",
        "Set<String>",
        "Regions where the data may be processed (its own region when not given).",
    ),
];

static FEATURE_VIEW_FACTS: [Derived; 5] = [
    derived(
        "owner",
        "Team",
        "Owning team (the source's owner when not given).",
    ),
    derived(
        "classification",
        "String",
        "Effective classification: the declared one or the source's, whichever is higher.",
    ),
    USES_PII,
    LINEAGE_FACT,
    PII_RESIDENCY,
];

static MODEL_FACTS: [Derived; 5] = [
    DATA_CLASSIFICATION,
    USES_PII,
    LINEAGE_FACT,
    PII_RESIDENCY,
    derived(
        "has_training",
        "Bool",
        "The model declares a `training` block.",
    ),
];

static SERVICE_FACTS: [Derived; 8] = [
    derived(
        "owner",
        "Team",
        "Owning team (the model's owner when not given).",
    ),
    DATA_CLASSIFICATION,
    USES_PII,
    LINEAGE_FACT,
    PII_RESIDENCY,
    derived(
        "profiles",
        "Set<String>",
        "Profiles named in `extends`, transitively (`std.tier1_online`).",
    ),
    derived(
        "production_regions",
        "Set<String>",
        "Regions of the production-tier environments the service is deployed to.",
    ),
    derived(
        "production_region_count",
        "Long",
        "How many distinct regions `production_regions` holds.",
    ),
];

static BATCH_JOB_FACTS: [Derived; 5] = [
    derived(
        "owner",
        "Team",
        "Owning team (the model's owner when not given).",
    ),
    DATA_CLASSIFICATION,
    USES_PII,
    LINEAGE_FACT,
    PII_RESIDENCY,
];

/// The kinds that become Cedar entity types, in schema order.
pub fn entity_kinds() -> impl Iterator<Item = (&'static KindDef, &'static str)> {
    kinds::KINDS
        .iter()
        .filter_map(|k| k.cedar_entity.map(|e| (*k, e)))
}

/// The Cedar entity type of a kind (`service` → `Service`).
pub fn entity_of_kind(kind: &str) -> Option<&'static str> {
    kinds::kind(kind).and_then(|k| k.cedar_entity)
}

/// Actions: `(name, principals, resources, doc)`.
pub const ACTIONS: [(&str, &[&str], &[&str], &str); 5] = [
    (
        "deploy",
        &["Team"],
        &["Service", "BatchJob"],
        "The owner team deploys a service or batch job to an environment.",
    ),
    (
        "train",
        &["Team"],
        &["Model"],
        "The owner team trains a model (models with a `training` block).",
    ),
    (
        "materialize",
        &["Team"],
        &["FeatureView"],
        "The owner team materializes a feature view in an environment.",
    ),
    (
        "read",
        &["FeatureView", "Model", "Service", "BatchJob"],
        &["Source", "FeatureView", "Model"],
        "A consumer reads data: a feature view its source, a model its features, a service its model and features, a batch job its model and input.",
    ),
    (
        "write",
        &["BatchJob"],
        &["Source"],
        "A batch job writes its output source.",
    ),
];

/// The Cedar schema text. Deterministic: kinds and fields in table order.
pub fn cedar_schema() -> String {
    let mut out = String::new();
    out.push_str(
        "// Generated by `plinth schema --cedar` from the kind tables (compiler/ir/src/kinds.rs)\n\
         // and the derived facts (compiler/policy/src/schema.rs). Do not edit.\n\
         namespace Plinth {\n",
    );
    for (kind, entity) in entity_kinds() {
        let _ = writeln!(out, "  /// {}", kind.doc);
        let owned = kind
            .record
            .field("owner")
            .is_some_and(|f| f.shape == Shape::Attr(Ty::Ref("team")));
        let parent = if owned { " in [Team]" } else { "" };
        let _ = writeln!(out, "  entity {entity}{parent} = {{");
        for (name, ty, required, doc) in attributes(kind, entity) {
            let _ = writeln!(out, "    /// {doc}");
            let opt = if required { "" } else { "?" };
            let _ = writeln!(out, "    {}{opt}: {ty},", attr_name(name));
        }
        out.push_str("  };\n");
    }
    out.push_str("  /// The environment a request is made in.\n");
    let _ = writeln!(out, "  type Env = {};", context_type());
    for (name, principals, resources, doc) in ACTIONS {
        let _ = writeln!(out, "  /// {doc}");
        let _ = writeln!(
            out,
            "  action {name} appliesTo {{ principal: [{}], resource: [{}], context: Env }};",
            principals.join(", "),
            resources.join(", ")
        );
    }
    out.push_str("}\n");
    out
}

/// `(name, cedar type, required, doc)` of every attribute of an entity type: the kind
/// table's fields, then the derived facts (which replace same-named fields).
pub fn attributes(kind: &KindDef, entity: &str) -> Vec<(&'static str, String, bool, &'static str)> {
    let facts = derived_facts(entity);
    let mut attrs = Vec::new();
    for field in kind.record.fields {
        if facts.iter().any(|d| d.name == field.name) {
            continue;
        }
        if let Some(ty) = field_type(&field.shape) {
            let required =
                field.required || field.default.is_some() || always_present(&field.shape);
            attrs.push((field.name, ty, required, first_line(field.doc)));
        }
    }
    for d in facts {
        attrs.push((d.name, d.ty.to_string(), d.required, d.doc));
    }
    attrs
}

/// The context of every request: the environment's attributes.
pub fn context_type() -> String {
    let mut fields = vec![
        "environment: Environment".to_string(),
        "name: String".to_string(),
    ];
    for (name, ty, required, _) in attributes(&kinds::ENVIRONMENT, "Environment") {
        let opt = if required { "" } else { "?" };
        fields.push(format!("{}{opt}: {ty}", attr_name(name)));
    }
    format!("{{ {} }}", fields.join(", "))
}

fn first_line(doc: &str) -> &str {
    doc.lines().next().unwrap_or("")
}

/// Lists, named blocks and choices are always present (possibly empty).
fn always_present(shape: &Shape) -> bool {
    matches!(
        shape,
        Shape::Named(_) | Shape::Choice(_) | Shape::Attr(Ty::List(_))
    )
}

const RESERVED: [&str; 12] = [
    "type",
    "entity",
    "action",
    "namespace",
    "appliesTo",
    "in",
    "principal",
    "resource",
    "context",
    "Set",
    "Long",
    "String",
];

fn attr_name(name: &str) -> String {
    if RESERVED.contains(&name) {
        format!("\"{name}\"")
    } else {
        name.to_string()
    }
}

/// The Cedar type of a field, `None` for fields that do not become attributes
/// (`env NAME { .. }` overrides are already applied).
pub fn field_type(shape: &Shape) -> Option<String> {
    match shape {
        Shape::Attr(ty) => Some(ty_type(ty)),
        Shape::Block(record) => Some(record_type(record, None)),
        Shape::Named(record) => Some(format!("Set<{}>", record_type(record, Some("name")))),
        Shape::Choice(variants) => Some(choice_type(variants, false)),
        Shape::EnvOverride => None,
    }
}

pub fn ty_type(ty: &Ty) -> String {
    match ty {
        Ty::Str
        | Ty::Email
        | Ty::Cron
        | Ty::Date
        | Ty::Enum(_)
        | Ty::AnyRef
        | Ty::FeatureRef
        | Ty::Column
        | Ty::Aggregate => "String".to_string(),
        Ty::Bool => "Bool".to_string(),
        Ty::Int | Ty::Duration | Ty::Bytes | Ty::Cpu => "Long".to_string(),
        Ty::Number | Ty::Percent => "decimal".to_string(),
        Ty::Ref(kind) => entity_of_kind(kind).unwrap_or("String").to_string(),
        Ty::List(inner) => format!("Set<{}>", ty_type(inner)),
        Ty::Range => "{ min: Long, max: Long }".to_string(),
        Ty::Variant(variants) => choice_type(variants, true),
    }
}

fn record_type(record: &Record, name: Option<&str>) -> String {
    let mut fields = Vec::new();
    if let Some(n) = name {
        fields.push(format!("{n}: String"));
    }
    for f in record.fields {
        if let Some(ty) = field_type(&f.shape) {
            let required = f.required || f.default.is_some() || always_present(&f.shape);
            let opt = if required { "" } else { "?" };
            fields.push(format!("{}{opt}: {ty}", attr_name(f.name)));
        }
    }
    format!("{{ {} }}", fields.join(", "))
}

/// `{ kind: String, canary?: { .. } }` for variants (exactly one alternative, named by
/// `kind`); `{ availability?: { .. }, latency?: { .. } }` for choices (any subset).
fn choice_type(variants: &[Variant], with_kind: bool) -> String {
    let mut fields = Vec::new();
    if with_kind {
        fields.push("kind: String".to_string());
    }
    for v in variants {
        if let Some(body) = v.body {
            fields.push(format!(
                "{}?: {}",
                attr_name(v.name),
                record_type(body, None)
            ));
        } else if !with_kind {
            fields.push(format!("{}?: {{}}", attr_name(v.name)));
        }
    }
    format!("{{ {} }}", fields.join(", "))
}

/// A dotted field path (`resources.gpu`, `slo.latency`, `rollout`) that names a
/// field of `kind` (through blocks, variants and choices).
pub fn is_field_path(kind: &KindDef, path: &str) -> bool {
    let mut parts = path.split('.');
    let Some(first) = parts.next() else {
        return false;
    };
    if derived_facts(kind.cedar_entity.unwrap_or(""))
        .iter()
        .any(|d| d.name == path)
    {
        return true;
    }
    let Some(field) = kind.record.field(first) else {
        return false;
    };
    shape_has_path(&field.shape, &parts.collect::<Vec<_>>())
}

fn record_has_path(record: &Record, rest: &[&str]) -> bool {
    match rest.split_first() {
        None => true,
        Some((first, tail)) => record
            .field(first)
            .is_some_and(|f| shape_has_path(&f.shape, tail)),
    }
}

fn variants_have_path(variants: &[Variant], rest: &[&str]) -> bool {
    match rest.split_first() {
        None => true,
        Some((first, tail)) => variants.iter().any(|v| {
            v.name == *first
                && match v.body {
                    Some(body) => record_has_path(body, tail),
                    None => tail.is_empty(),
                }
        }),
    }
}

fn shape_has_path(shape: &Shape, rest: &[&str]) -> bool {
    match shape {
        Shape::Attr(Ty::Variant(vs)) | Shape::Choice(vs) => variants_have_path(vs, rest),
        Shape::Attr(_) | Shape::EnvOverride => rest.is_empty(),
        Shape::Block(record) => record_has_path(record, rest),
        // `column.card_id.pii`: the second segment is the block's name.
        Shape::Named(record) => match rest.split_first() {
            None => true,
            Some((_, tail)) => record_has_path(record, tail),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_parses_in_cedar() {
        let text = cedar_schema();
        let parsed = cedar_policy::Schema::from_cedarschema_str(&text);
        assert!(parsed.is_ok(), "{text}\n{:?}", parsed.err());
    }

    #[test]
    fn field_paths_follow_the_kind_tables() {
        let service = kinds::kind("service").unwrap();
        for ok in [
            "replicas",
            "resources.gpu",
            "slo.latency.threshold",
            "rollout",
            "rollout.canary.steps",
            "monitor.drift",
            "owner",
            "production_regions",
        ] {
            assert!(is_field_path(service, ok), "{ok}");
        }
        for bad in ["replica", "resources.gpus", "slo.speed", ""] {
            assert!(!is_field_path(service, bad), "{bad}");
        }
    }
}
