//! `plinth schema`: the JSON Schema of the language, generated from the kind tables and
//! the stdlib's enums. A declaration is described as a JSON object: attributes are
//! properties, blocks are objects, named blocks are objects keyed by their name.

use plinth_ir::kinds::{self, Record, Shape, Ty, Variant};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const NAME: &str = "^[a-z_][a-z0-9_]*$";

fn ty_schema(ty: &Ty, enums: &BTreeMap<String, Vec<String>>) -> Value {
    match ty {
        Ty::Str => json!({"type": "string"}),
        Ty::Email => json!({"type": "string", "format": "email"}),
        Ty::Bool => json!({"type": "boolean"}),
        Ty::Int => json!({"type": "integer"}),
        Ty::Number => json!({"type": "number"}),
        Ty::Duration => json!({"type": "string", "pattern": "^[0-9]+(ms|s|m|h|d|w)$"}),
        Ty::Bytes => json!({"type": "string", "pattern": "^[0-9]+(Ki|Mi|Gi|Ti)$"}),
        Ty::Cpu => {
            json!({"oneOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string", "pattern": "^[0-9]+m$"}]})
        }
        Ty::Percent => json!({"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?%$"}),
        Ty::Date => json!({"type": "string", "format": "date"}),
        Ty::Cron => json!({"type": "string", "description": "five-field cron expression"}),
        Ty::Enum(name) => match enums.get(*name) {
            Some(values) => json!({"enum": values}),
            None => json!({"type": "string"}),
        },
        Ty::Ref(kind) => {
            json!({"type": "string", "pattern": NAME, "description": format!("the name of a {kind}")})
        }
        Ty::AnyRef => json!({"type": "string", "pattern": NAME}),
        Ty::FeatureRef => {
            json!({"type": "string", "pattern": "^[a-z_][a-z0-9_]*\\.[a-z_][a-z0-9_]*$"})
        }
        Ty::Column => json!({"type": "string", "pattern": NAME}),
        Ty::Aggregate => {
            json!({"type": "string", "pattern": "^(count|count_distinct|last|sum|avg|min|max)\\([a-z_][a-z0-9_]*\\)$"})
        }
        Ty::List(inner) => json!({"type": "array", "items": ty_schema(inner, enums)}),
        Ty::Range => json!({"type": "string", "pattern": "^[0-9]+\\.\\.[0-9]+$"}),
        Ty::Variant(variants) => variants_schema(variants, enums),
    }
}

fn variants_schema(variants: &[Variant], enums: &BTreeMap<String, Vec<String>>) -> Value {
    let options: Vec<Value> = variants
        .iter()
        .map(|v| match v.body {
            None => json!({"const": v.name, "description": v.doc}),
            Some(body) => json!({
                "type": "object",
                "description": v.doc,
                "properties": {v.name: record_schema(body, enums, None)},
                "required": [v.name],
                "additionalProperties": false,
            }),
        })
        .collect();
    json!({"oneOf": options})
}

fn record_schema(
    record: &Record,
    enums: &BTreeMap<String, Vec<String>>,
    owner: Option<&Record>,
) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in record.fields {
        let mut schema = match field.shape {
            Shape::Attr(ty) => ty_schema(&ty, enums),
            Shape::Block(inner) => record_schema(inner, enums, None),
            Shape::Named(inner) => json!({
                "type": "object",
                "propertyNames": {"pattern": NAME},
                "additionalProperties": record_schema(inner, enums, None),
            }),
            Shape::Choice(variants) => {
                let mut props = Map::new();
                for v in variants {
                    if let Some(body) = v.body {
                        props.insert(v.name.to_string(), record_schema(body, enums, None));
                    }
                }
                json!({"type": "object", "properties": props, "additionalProperties": false})
            }
            Shape::EnvOverride => json!({
                "type": "object",
                "description": "overrides per environment name",
                "additionalProperties": owner.map_or(json!({"type": "object"}), |o| partial(record_schema(o, enums, None))),
            }),
        };
        if let Some(obj) = schema.as_object_mut() {
            obj.insert("description".to_string(), json!(field.doc));
            if let Some(d) = field.default {
                obj.insert("default".to_string(), json!(d));
            }
        }
        properties.insert(field.name.to_string(), schema);
        if field.required {
            required.push(field.name);
        }
    }
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// The same schema with nothing required (env overrides, profiles).
fn partial(mut schema: Value) -> Value {
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("required");
    }
    schema
}

pub fn json_schema(enums: &BTreeMap<String, Vec<String>>) -> Value {
    let mut defs = Map::new();
    for kind in kinds::KINDS.iter().filter(|k| k.name != "profile") {
        let mut schema = record_schema(&kind.record, enums, Some(&kind.record));
        if let Some(obj) = schema.as_object_mut() {
            obj.insert("description".to_string(), json!(kind.doc));
        }
        defs.insert(kind.name.to_string(), schema);
    }
    let mut decl_props = Map::new();
    for kind in kinds::KINDS.iter().filter(|k| k.name != "profile") {
        decl_props.insert(
            kind.name.to_string(),
            json!({"type": "object", "propertyNames": {"pattern": NAME}, "additionalProperties": {"$ref": format!("#/$defs/{}", kind.name)}}),
        );
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://plinth.dev/schema/workspace.json",
        "title": "Plinth workspace",
        "description": "Declarations by kind, then by name. Generated from the kind tables; do not edit.",
        "type": "object",
        "properties": decl_props,
        "additionalProperties": false,
        "$defs": defs,
    })
}
