//! The `PLINTH_SPEC` documents: what each task's container needs from the spec, as typed
//! values borrowed from the platform model. Field order is the key order of the JSON
//! (serialized by [`super::json::write_jinja_inert_json`]); `null` stands for an absent
//! optional value, so every document of one kind has the same keys.

use plinth_ir::{
    Aggregate, Decimal, Evaluation, Expect, Feature, FeatureRef, FeatureView, Model, Source,
};
use serde::ser::{Serialize, SerializeSeq, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// One task's document.
#[derive(serde::Serialize)]
#[serde(untagged)]
pub enum Spec<'a> {
    FeatureView {
        feature_view: ViewDoc<'a>,
    },
    Expectations {
        expectations: Vec<ExpectDoc<'a>>,
    },
    Train {
        model: ModelDoc<'a>,
        dataset_window_seconds: u64,
    },
    Evaluate {
        model: ModelDoc<'a>,
        evaluation: Option<EvaluationDoc<'a>>,
    },
    Approval {
        model: ModelDoc<'a>,
        approvers: &'a [String],
    },
    Register {
        model: ModelDoc<'a>,
    },
    Score {
        batch_job: &'a str,
        model: Option<ModelDoc<'a>>,
        input: SourceDoc<'a>,
        output: SourceDoc<'a>,
    },
}

/// A source by name; its details when the platform has it.
#[derive(serde::Serialize)]
#[serde(untagged)]
pub enum SourceDoc<'a> {
    Known {
        name: &'a str,
        kind: &'a str,
        location: &'a BTreeMap<String, String>,
        event_time: Option<&'a str>,
    },
    Unknown {
        name: &'a str,
    },
}

impl<'a> SourceDoc<'a> {
    pub fn new(source: Option<&'a Source>, name: &'a str) -> SourceDoc<'a> {
        match source {
            Some(s) => SourceDoc::Known {
                name: &s.name,
                kind: &s.kind,
                location: &s.location,
                event_time: s
                    .columns
                    .iter()
                    .find(|c| c.event_time)
                    .map(|c| c.name.as_str()),
            },
            None => SourceDoc::Unknown { name },
        }
    }
}

#[derive(serde::Serialize)]
pub struct ViewDoc<'a> {
    name: &'a str,
    entity: &'a str,
    key: &'a str,
    online: bool,
    ttl_seconds: Option<u64>,
    source: SourceDoc<'a>,
    features: Vec<FeatureDoc<'a>>,
}

impl<'a> ViewDoc<'a> {
    /// The view's name: the document is the same wherever the view is.
    pub fn name(&self) -> &'a str {
        self.name
    }

    pub fn new(view: &'a FeatureView, source: Option<&'a Source>) -> ViewDoc<'a> {
        ViewDoc {
            name: &view.name,
            entity: &view.entity,
            key: &view.key,
            online: view.online,
            ttl_seconds: view.ttl.map(|d| d.seconds()),
            source: SourceDoc::new(source, &view.source),
            features: view.features.iter().map(FeatureDoc::new).collect(),
        }
    }
}

#[derive(serde::Serialize)]
pub struct FeatureDoc<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    dtype: &'a str,
    /// `function(column)`.
    aggregate: Option<AsStr<AggregateCall<'a>>>,
    window_seconds: Option<u64>,
}

impl<'a> FeatureDoc<'a> {
    fn new(feature: &'a Feature) -> FeatureDoc<'a> {
        FeatureDoc {
            name: &feature.name,
            dtype: &feature.dtype,
            aggregate: feature.aggregate.as_ref().map(|a| AsStr(AggregateCall(a))),
            window_seconds: feature.window.map(|w| w.seconds()),
        }
    }
}

#[derive(serde::Serialize)]
pub struct ExpectDoc<'a> {
    feature_view: &'a str,
    source: &'a str,
    name: &'a str,
    column: &'a str,
    not_null: bool,
    unique: bool,
    min: Option<f64>,
    max: Option<f64>,
    max_null_percent: Option<f64>,
}

impl<'a> ExpectDoc<'a> {
    /// Every `expect` check of `views`, in order.
    pub fn all(views: &[&'a FeatureView]) -> Vec<ExpectDoc<'a>> {
        views
            .iter()
            .flat_map(|view| view.expects.iter().map(|e| ExpectDoc::new(view, e)))
            .collect()
    }

    fn new(view: &'a FeatureView, e: &'a Expect) -> ExpectDoc<'a> {
        ExpectDoc {
            feature_view: &view.name,
            source: &view.source,
            name: &e.name,
            column: &e.column,
            not_null: e.not_null,
            unique: e.unique,
            min: e.min.map(decimal),
            max: e.max.map(decimal),
            max_null_percent: e.max_null_percent.map(decimal),
        }
    }
}

#[derive(serde::Serialize)]
pub struct ModelDoc<'a> {
    name: &'a str,
    version: &'a str,
    framework: Option<&'a str>,
    format: &'a str,
    artifact: &'a str,
    risk: &'a str,
    /// `view.feature`.
    inputs: Inputs<'a>,
}

impl<'a> ModelDoc<'a> {
    pub fn new(model: &'a Model) -> ModelDoc<'a> {
        ModelDoc {
            name: &model.name,
            version: &model.version,
            framework: model.framework.as_deref(),
            format: &model.format,
            artifact: &model.artifact,
            risk: &model.risk.name,
            inputs: Inputs(&model.inputs),
        }
    }
}

#[derive(serde::Serialize)]
pub struct EvaluationDoc<'a> {
    metric: &'a str,
    min: f64,
}

impl<'a> EvaluationDoc<'a> {
    pub fn new(evaluation: &'a Evaluation) -> EvaluationDoc<'a> {
        EvaluationDoc {
            metric: &evaluation.metric,
            min: decimal(evaluation.min),
        }
    }
}

/// Containers read numbers as JSON numbers (a value JSON cannot hold is `null`).
fn decimal(d: Decimal) -> f64 {
    d.to_f64()
}

/// Serializes a `Display` value as a JSON string, without building it first.
struct AsStr<T>(T);

impl<T: fmt::Display> Serialize for AsStr<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

struct AggregateCall<'a>(&'a Aggregate);

impl fmt::Display for AggregateCall<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.0.function, self.0.column)
    }
}

struct Inputs<'a>(&'a [FeatureRef]);

impl Serialize for Inputs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for input in self.0 {
            seq.serialize_element(&AsStr(input))?;
        }
        seq.end()
    }
}
