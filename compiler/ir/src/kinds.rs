//! The kind tables: one table per declaration kind, with every field's type, whether it
//! is required, its default and its documentation.
//!
//! This is the single source for the checker (`plinth-check`), hover and completion,
//! the JSON Schema export and the Cedar schema. There is no second list of fields.

/// How a field's value is written and read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Str,
    /// A string holding an e-mail address.
    Email,
    Bool,
    /// A whole number.
    Int,
    /// Any number, read exactly as a decimal.
    Number,
    /// `5m`, `40ms`, `90d`.
    Duration,
    /// `4Gi` (binary units, as Kubernetes).
    Bytes,
    /// `2`, `0.5` cores or `500m` millicores.
    Cpu,
    /// `99.9%`
    Percent,
    /// `2027-03-31`
    Date,
    /// A five-field cron expression in a string.
    Cron,
    /// A value of a stdlib enum, by the enum's name.
    Enum(&'static str),
    /// A reference to a declaration of the given kind.
    Ref(&'static str),
    /// A reference to a declaration of any deployable or data kind (waiver targets).
    AnyRef,
    /// `view.feature`
    FeatureRef,
    /// The name of a column of the enclosing declaration's source.
    Column,
    /// `count(txn_id)`: an aggregate call over a source column.
    Aggregate,
    List(&'static Ty),
    /// `2..20`, whole numbers, inclusive.
    Range,
    /// One of named alternatives, each optionally with a body: `canary { steps: [..] }`.
    Variant(&'static [Variant]),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variant {
    pub name: &'static str,
    pub doc: &'static str,
    pub body: Option<&'static Record>,
}

/// How a field appears in a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `name: value`
    Attr(Ty),
    /// `name { ... }`, at most once.
    Block(&'static Record),
    /// `name NAME { ... }`, any number with distinct names.
    Named(&'static Record),
    /// `name NAME { ... }` where NAME picks the body's schema: `slo latency { .. }`.
    Choice(&'static [Variant]),
    /// `env NAME { ... }`: NAME is an environment; the body overrides fields of the
    /// enclosing declaration.
    EnvOverride,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub shape: Shape,
    pub required: bool,
    /// The default, written in Plinth syntax, shown in docs and applied when lowering.
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub fields: &'static [Field],
}

impl Record {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Where a kind sits in the dependency graph and the Cedar schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindDef {
    pub name: &'static str,
    pub doc: &'static str,
    /// `Some("FeatureView")` for kinds that become Cedar entities.
    pub cedar_entity: Option<&'static str>,
    pub record: Record,
}

const fn attr(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field {
        name,
        shape: Shape::Attr(ty),
        required: false,
        default: None,
        doc,
    }
}

const fn req(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field {
        name,
        shape: Shape::Attr(ty),
        required: true,
        default: None,
        doc,
    }
}

const fn dflt(name: &'static str, ty: Ty, default: &'static str, doc: &'static str) -> Field {
    Field {
        name,
        shape: Shape::Attr(ty),
        required: false,
        default: Some(default),
        doc,
    }
}

const fn block(name: &'static str, record: &'static Record, doc: &'static str) -> Field {
    Field {
        name,
        shape: Shape::Block(record),
        required: false,
        default: None,
        doc,
    }
}

const fn named(name: &'static str, record: &'static Record, doc: &'static str) -> Field {
    Field {
        name,
        shape: Shape::Named(record),
        required: false,
        default: None,
        doc,
    }
}

const fn choice(name: &'static str, variants: &'static [Variant], doc: &'static str) -> Field {
    Field {
        name,
        shape: Shape::Choice(variants),
        required: false,
        default: None,
        doc,
    }
}

const fn variant(name: &'static str, body: Option<&'static Record>, doc: &'static str) -> Variant {
    Variant { name, doc, body }
}

const ENVIRONMENTS: Field = attr(
    "environments",
    Ty::List(&Ty::Ref("environment")),
    "Environments this is deployed to. Default: every declared environment.",
);

pub static RESOURCES: Record = Record {
    fields: &[
        attr(
            "cpu",
            Ty::Cpu,
            "CPU request per replica: cores (`2`, `0.5`) or millicores (`500m`).",
        ),
        attr(
            "memory",
            Ty::Bytes,
            "Memory request per replica, binary units (`4Gi`).",
        ),
        dflt("gpu", Ty::Int, "0", "GPUs per replica."),
        attr(
            "accelerator",
            Ty::Enum("accelerator"),
            "GPU type; requires `gpu >= 1`.",
        ),
    ],
};

pub static TEAM: KindDef = KindDef {
    name: "team",
    doc: "A team that owns declarations: who to contact and who pays.",
    cedar_entity: Some("Team"),
    record: Record {
        fields: &[
            req("owner", Ty::Email, "The team's contact e-mail address."),
            attr(
                "oncall",
                Ty::Str,
                "On-call rotation, e.g. `pagerduty:risk-ml`.",
            ),
            attr(
                "cost_center",
                Ty::Str,
                "Cost center charged for the team's resources.",
            ),
        ],
    },
};

pub static ENVIRONMENT: KindDef = KindDef {
    name: "environment",
    doc: "Where things run: a cluster and namespace in a cloud region.",
    cedar_entity: Some("Environment"),
    record: Record {
        fields: &[
            req(
                "tier",
                Ty::Enum("tier"),
                "`production`, `staging` or `development`.",
            ),
            req(
                "region",
                Ty::Enum("region"),
                "Cloud region, e.g. `eu_west_1`.",
            ),
            attr("cluster", Ty::Str, "Kubernetes cluster name."),
            attr(
                "namespace",
                Ty::Str,
                "Kubernetes namespace. Default: the environment's name.",
            ),
            attr("account", Ty::Str, "Cloud account id."),
        ],
    },
};

pub static COLUMN: Record = Record {
    fields: &[
        req("type", Ty::Enum("dtype"), "The column's data type."),
        dflt("pii", Ty::Bool, "false", "The column holds personal data."),
        dflt(
            "event_time",
            Ty::Bool,
            "false",
            "The column is the event timestamp.",
        ),
    ],
};

pub static SOURCE: KindDef = KindDef {
    name: "source",
    doc: "Raw data: a topic, bucket or table, with its columns and classification.",
    cedar_entity: Some("Source"),
    record: Record {
        fields: &[
            req(
                "kind",
                Ty::Enum("source_kind"),
                "`kafka`, `s3`, `postgres`, `bigquery` or `snowflake`.",
            ),
            attr("topic", Ty::Str, "Kafka topic."),
            attr("bucket", Ty::Str, "S3 bucket."),
            attr("prefix", Ty::Str, "S3 key prefix."),
            attr("table", Ty::Str, "Table name."),
            attr("database", Ty::Str, "Database name."),
            req("owner", Ty::Ref("team"), "The team that owns the data."),
            req(
                "classification",
                Ty::Enum("classification"),
                "The data's classification.",
            ),
            attr("region", Ty::Enum("region"), "Region where the data lives."),
            attr(
                "residency",
                Ty::List(&Ty::Enum("region")),
                "Regions where the data may be processed. Default: its own region only.",
            ),
            attr("retention", Ty::Duration, "How long the data is kept."),
            named(
                "column",
                &COLUMN,
                "A column of the source: `column NAME { type: .. }`.",
            ),
        ],
    },
};

pub static ENTITY: KindDef = KindDef {
    name: "entity",
    doc: "A join key shared by feature views.",
    cedar_entity: None,
    record: Record {
        fields: &[
            req(
                "key",
                Ty::Column,
                "The key column (a column of each feature view's source).",
            ),
            req("type", Ty::Enum("dtype"), "The key's data type."),
        ],
    },
};

pub static FEATURE: Record = Record {
    fields: &[
        req("type", Ty::Enum("dtype"), "The feature's data type."),
        attr(
            "aggregate",
            Ty::Aggregate,
            "An aggregate over a source column: `count(txn_id)`, `sum(amount)`.",
        ),
        attr("window", Ty::Duration, "The aggregation window."),
    ],
};

pub static EXPECT: Record = Record {
    fields: &[
        req("column", Ty::Column, "The source column checked."),
        attr("not_null", Ty::Bool, "The column has no nulls."),
        attr("unique", Ty::Bool, "The column's values are unique."),
        attr("min", Ty::Number, "Smallest allowed value."),
        attr("max", Ty::Number, "Largest allowed value."),
        attr(
            "max_null_percent",
            Ty::Percent,
            "Largest allowed share of nulls.",
        ),
    ],
};

pub static FEATURE_VIEW: KindDef = KindDef {
    name: "feature_view",
    doc: "Features computed over a source for one entity, materialized on a schedule.",
    cedar_entity: Some("FeatureView"),
    record: Record {
        fields: &[
            req(
                "entity",
                Ty::Ref("entity"),
                "The entity (join key) of the features.",
            ),
            req(
                "source",
                Ty::Ref("source"),
                "The source the features are computed from.",
            ),
            attr(
                "freshness",
                Ty::Duration,
                "Maximum age of served features; at least the schedule's interval.",
            ),
            attr(
                "ttl",
                Ty::Duration,
                "How long a materialized value stays valid.",
            ),
            dflt(
                "online",
                Ty::Bool,
                "false",
                "Serve the features from the online store.",
            ),
            attr("schedule", Ty::Cron, "Materialization schedule (cron)."),
            attr(
                "owner",
                Ty::Ref("team"),
                "Owning team. Default: the source's owner.",
            ),
            attr(
                "classification",
                Ty::Enum("classification"),
                "Classification; never lower than the source's. Default: the source's.",
            ),
            attr(
                "image",
                Ty::Str,
                "Container image of the materialization job.",
            ),
            block(
                "resources",
                &RESOURCES,
                "Resources of the materialization job.",
            ),
            named(
                "feature",
                &FEATURE,
                "A feature: `feature NAME { type, aggregate, window }`.",
            ),
            named(
                "expect",
                &EXPECT,
                "A data-quality check on a source column.",
            ),
            ENVIRONMENTS,
        ],
    },
};

pub static TENSOR_INPUT: Record = Record {
    fields: &[
        req("dtype", Ty::Enum("dtype"), "Tensor element type."),
        attr(
            "shape",
            Ty::List(&Ty::Int),
            "Shape without the batch dimension; `-1` is dynamic.",
        ),
        req(
            "features",
            Ty::List(&Ty::FeatureRef),
            "Features packed into this tensor, in order.",
        ),
    ],
};

pub static TENSOR_OUTPUT: Record = Record {
    fields: &[
        req("dtype", Ty::Enum("dtype"), "Tensor element type."),
        req(
            "shape",
            Ty::List(&Ty::Int),
            "Shape without the batch dimension; `-1` is dynamic.",
        ),
    ],
};

pub static EVALUATION: Record = Record {
    fields: &[
        req("metric", Ty::Enum("metric"), "Evaluation metric."),
        req(
            "min",
            Ty::Number,
            "The trained model is registered only at or above this value.",
        ),
    ],
};

pub static TRAINING: Record = Record {
    fields: &[
        attr("schedule", Ty::Cron, "Retraining schedule (cron)."),
        req(
            "image",
            Ty::Str,
            "Training container image, pinned by tag or digest.",
        ),
        attr(
            "dataset_window",
            Ty::Duration,
            "How much history the training set covers.",
        ),
        block("resources", &RESOURCES, "Resources of the training job."),
        block("evaluation", &EVALUATION, "The evaluation gate."),
        attr(
            "approvals",
            Ty::List(&Ty::Email),
            "Who must approve before registration.",
        ),
    ],
};

pub static MODEL: KindDef = KindDef {
    name: "model",
    doc: "A trained model: what it is for, what it reads, how it is trained.",
    cedar_entity: Some("Model"),
    record: Record {
        fields: &[
            req("owner", Ty::Ref("team"), "Owning team."),
            attr("framework", Ty::Enum("framework"), "Training framework."),
            req(
                "format",
                Ty::Enum("format"),
                "Serialized format of the artifact.",
            ),
            req("artifact", Ty::Str, "Artifact URI or workspace path."),
            req("version", Ty::Str, "Model version."),
            req(
                "risk",
                Ty::Enum("risk"),
                "Risk level: `minimal`, `limited` or `high`.",
            ),
            attr("purpose", Ty::Str, "What the model is for."),
            attr("intended_use", Ty::Str, "Intended use and users."),
            attr(
                "limitations",
                Ty::Str,
                "Known limitations and out-of-scope uses.",
            ),
            attr(
                "explainability",
                Ty::Enum("explainability"),
                "Explanation method.",
            ),
            attr(
                "human_oversight",
                Ty::Str,
                "How humans oversee the model's decisions.",
            ),
            req(
                "inputs",
                Ty::List(&Ty::FeatureRef),
                "Features the model reads.",
            ),
            named("input", &TENSOR_INPUT, "An input tensor packing features."),
            named("output", &TENSOR_OUTPUT, "An output tensor."),
            block("training", &TRAINING, "The training pipeline."),
        ],
    },
};

pub static BATCHING: Record = Record {
    fields: &[
        req("max_batch", Ty::Int, "Largest batch."),
        dflt(
            "max_delay",
            Ty::Duration,
            "0ms",
            "Longest a request waits for a batch to fill.",
        ),
        attr(
            "preferred",
            Ty::List(&Ty::Int),
            "Preferred batch sizes, each at most `max_batch`.",
        ),
    ],
};

pub static CANARY: Record = Record {
    fields: &[
        req(
            "steps",
            Ty::List(&Ty::Percent),
            "Traffic shares of the canary steps.",
        ),
        dflt(
            "pause",
            Ty::Duration,
            "10m",
            "Pause after each step, while analysis runs.",
        ),
    ],
};

pub static SHADOW: Record = Record {
    fields: &[req(
        "percent",
        Ty::Percent,
        "Share of traffic mirrored to the new version.",
    )],
};

pub static ROLLOUTS: [Variant; 4] = [
    variant("rolling", None, "Replace pods gradually."),
    variant(
        "canary",
        Some(&CANARY),
        "Shift traffic in steps, with SLO analysis after each.",
    ),
    variant(
        "shadow",
        Some(&SHADOW),
        "Mirror traffic to the new version without serving it.",
    ),
    variant(
        "blue_green",
        None,
        "Start the new version beside the old, then switch.",
    ),
];

pub static SLO_AVAILABILITY: Record = Record {
    fields: &[
        req("objective", Ty::Percent, "Share of successful requests."),
        dflt("window", Ty::Duration, "28d", "SLO window."),
    ],
};

pub static SLO_LATENCY: Record = Record {
    fields: &[
        req(
            "percentile",
            Ty::Number,
            "Percentile of the latency distribution.",
        ),
        req(
            "threshold",
            Ty::Duration,
            "Latency threshold; must exceed `batching.max_delay`.",
        ),
        req(
            "objective",
            Ty::Percent,
            "Share of requests faster than the threshold.",
        ),
        dflt("window", Ty::Duration, "28d", "SLO window."),
    ],
};

pub static SLOS: [Variant; 2] = [
    variant(
        "availability",
        Some(&SLO_AVAILABILITY),
        "Share of requests that succeed.",
    ),
    variant(
        "latency",
        Some(&SLO_LATENCY),
        "Share of requests served under a threshold.",
    ),
];

pub static MONITOR_DRIFT: Record = Record {
    fields: &[
        req("feature", Ty::FeatureRef, "The monitored feature."),
        dflt(
            "method",
            Ty::Enum("drift_method"),
            "psi",
            "Drift statistic.",
        ),
        req("threshold", Ty::Number, "Alert above this value."),
    ],
};

pub static MONITOR_PERFORMANCE: Record = Record {
    fields: &[
        req("metric", Ty::Enum("metric"), "Online quality metric."),
        req("min", Ty::Number, "Alert below this value."),
    ],
};

pub static MONITORS: [Variant; 2] = [
    variant(
        "drift",
        Some(&MONITOR_DRIFT),
        "Feature distribution drift against training data.",
    ),
    variant(
        "performance",
        Some(&MONITOR_PERFORMANCE),
        "Online model quality.",
    ),
];

pub static SERVICE: KindDef = KindDef {
    name: "service",
    doc: "Online serving of a model, with its scaling, rollout, SLOs and monitors.",
    cedar_entity: Some("Service"),
    record: Record {
        fields: &[
            req("model", Ty::Ref("model"), "The served model."),
            dflt("runtime", Ty::Enum("runtime"), "triton", "Serving runtime."),
            req(
                "replicas",
                Ty::Range,
                "Replica range `min..max` for autoscaling.",
            ),
            dflt(
                "tier",
                Ty::Enum("service_tier"),
                "tier2",
                "Criticality: `tier1` is customer-facing.",
            ),
            dflt(
                "rollout",
                Ty::Variant(&ROLLOUTS),
                "rolling",
                "How a new version is rolled out.",
            ),
            block("batching", &BATCHING, "Dynamic batching."),
            block("resources", &RESOURCES, "Resources per replica."),
            dflt(
                "expose",
                Ty::Enum("expose"),
                "internal",
                "`internal` or `public`.",
            ),
            attr(
                "callers",
                Ty::List(&Ty::Str),
                "Namespaces allowed to call the service.",
            ),
            attr(
                "owner",
                Ty::Ref("team"),
                "Owning team. Default: the model's owner.",
            ),
            choice(
                "slo",
                &SLOS,
                "A service-level objective: `slo availability { .. }`, `slo latency { .. }`.",
            ),
            choice(
                "monitor",
                &MONITORS,
                "A model monitor: `monitor drift { .. }`.",
            ),
            Field {
                name: "env",
                shape: Shape::EnvOverride,
                required: false,
                default: None,
                doc: "Overrides for one environment: `env staging { replicas: 1..2 }`.",
            },
            ENVIRONMENTS,
        ],
    },
};

pub static BATCH_JOB: KindDef = KindDef {
    name: "batch_job",
    doc: "Offline scoring: reads a source, scores it with a model, writes a source.",
    cedar_entity: Some("BatchJob"),
    record: Record {
        fields: &[
            req("model", Ty::Ref("model"), "The scoring model."),
            req("schedule", Ty::Cron, "Run schedule (cron)."),
            req("input", Ty::Ref("source"), "The data scored."),
            req("output", Ty::Ref("source"), "Where scores are written."),
            attr("image", Ty::Str, "Scoring container image."),
            block("resources", &RESOURCES, "Resources of the scoring job."),
            attr(
                "owner",
                Ty::Ref("team"),
                "Owning team. Default: the model's owner.",
            ),
            ENVIRONMENTS,
        ],
    },
};

pub static WAIVER: KindDef = KindDef {
    name: "waiver",
    doc: "A time-boxed exception to one policy for named targets.",
    cedar_entity: None,
    record: Record {
        fields: &[
            req(
                "policy",
                Ty::Str,
                "The waived policy id, e.g. `reliability.multi-region-tier1`.",
            ),
            req(
                "target",
                Ty::List(&Ty::AnyRef),
                "The declarations excused (one or a list).",
            ),
            req("reason", Ty::Str, "Why the exception is acceptable."),
            req("approved_by", Ty::Email, "Who approved it."),
            req("expires", Ty::Date, "Last day the waiver is in force."),
        ],
    },
};

/// Every declaration kind that has a table. `profile` and `enum` are structural and
/// handled by the checker directly.
pub static KINDS: [&KindDef; 10] = [
    &TEAM,
    &ENVIRONMENT,
    &SOURCE,
    &ENTITY,
    &FEATURE_VIEW,
    &MODEL,
    &SERVICE,
    &BATCH_JOB,
    &WAIVER,
    &PROFILE,
];

/// `profile NAME for KIND { ... }`: a partial body of another kind. Its fields are the
/// target kind's; this entry exists so `profile` is a known kind name.
pub static PROFILE: KindDef = KindDef {
    name: "profile",
    doc: "A reusable partial body for one kind, used with `extends`.",
    cedar_entity: None,
    record: Record { fields: &[] },
};

/// `enum NAME { a, b, c }`: the stdlib's ordered enumerations.
pub const ENUM_KIND: &str = "enum";

pub fn kind(name: &str) -> Option<&'static KindDef> {
    KINDS.iter().copied().find(|k| k.name == name)
}

/// The names of every kind, for did-you-mean.
pub fn kind_names() -> impl Iterator<Item = &'static str> {
    KINDS
        .iter()
        .map(|k| k.name)
        .chain(std::iter::once(ENUM_KIND))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(record: &'static Record, out: &mut Vec<&'static Record>) {
        out.push(record);
        for field in record.fields {
            match field.shape {
                Shape::Block(r) | Shape::Named(r) => records(r, out),
                Shape::Choice(vs) => vs
                    .iter()
                    .filter_map(|v| v.body)
                    .for_each(|r| records(r, out)),
                Shape::Attr(Ty::Variant(vs)) => vs
                    .iter()
                    .filter_map(|v| v.body)
                    .for_each(|r| records(r, out)),
                Shape::Attr(_) | Shape::EnvOverride => {}
            }
        }
    }

    #[test]
    fn field_names_are_unique_and_documented() {
        for kind in KINDS {
            let mut all = Vec::new();
            records(&kind.record, &mut all);
            for record in all {
                let mut names: Vec<_> = record.fields.iter().map(|f| f.name).collect();
                names.sort_unstable();
                let before = names.len();
                names.dedup();
                assert_eq!(before, names.len(), "duplicate field in {}", kind.name);
                for f in record.fields {
                    assert!(!f.doc.is_empty(), "{}.{} has no doc", kind.name, f.name);
                    assert!(
                        !(f.required && f.default.is_some()),
                        "{}.{} is required and defaulted",
                        kind.name,
                        f.name
                    );
                }
            }
        }
    }

    #[test]
    fn references_name_real_kinds() {
        fn check_ty(ty: &Ty) {
            match ty {
                Ty::Ref(k) => assert!(kind(k).is_some(), "reference to unknown kind {k}"),
                Ty::List(t) => check_ty(t),
                _ => {}
            }
        }
        for kind in KINDS {
            let mut all = Vec::new();
            records(&kind.record, &mut all);
            for f in all.iter().flat_map(|r| r.fields) {
                if let Shape::Attr(ty) = &f.shape {
                    check_ty(ty);
                }
            }
        }
    }
}
