//! Hand-built platform models for target tests, until lowering from specs lands: the
//! fraud example of DESIGN §1.4, lowered for `prod`, plus builders for variations.

use plinth_ir::*;
use plinth_syntax::Span;
use std::collections::BTreeMap;

fn dec(text: &str) -> Decimal {
    Decimal::parse(text).unwrap()
}

fn origin(start: usize, end: usize) -> Origin {
    Origin {
        file: "fraud.plinth".to_string(),
        span: Span::new(start, end),
        fields: Default::default(),
    }
}

fn level(rank: u32, name: &str) -> Level {
    Level {
        rank,
        name: name.to_string(),
    }
}

fn environment(name: &str, tier: &str, namespace: &str, account: Option<&str>) -> Environment {
    Environment {
        name: name.to_string(),
        doc: String::new(),
        tier: tier.to_string(),
        region: "eu_west_1".to_string(),
        cluster: Some(format!("{}-eu-1", &name[..name.len().min(4)])),
        namespace: namespace.to_string(),
        account: account.map(str::to_string),
        origin: origin(120, 220),
    }
}

fn lineage() -> Lineage {
    Lineage {
        sources: vec!["transactions".to_string()],
        feature_views: vec!["card_velocity".to_string()],
        pii_columns: vec!["transactions.card_id".to_string()],
    }
}

pub fn fraud_scorer() -> Model {
    let feature = |name: &str| FeatureRef {
        view: "card_velocity".to_string(),
        feature: name.to_string(),
    };
    Model {
        name: "fraud_scorer".to_string(),
        doc: String::new(),
        owner: "risk_ml".to_string(),
        framework: Some("xgboost".to_string()),
        format: "onnx".to_string(),
        artifact: "models/fraud_scorer.onnx".to_string(),
        version: "12.0.3".to_string(),
        risk: level(2, "high"),
        purpose: Some("Score card payments for fraud before authorization".to_string()),
        intended_use: None,
        limitations: None,
        explainability: Some("shap".to_string()),
        human_oversight: Some("Scores above 0.9 go to the analyst review queue".to_string()),
        inputs: vec![feature("txn_count_1h"), feature("amount_sum_24h")],
        input_tensors: vec![
            Tensor {
                name: "txn_count_1h".to_string(),
                dtype: "INT64".to_string(),
                dims: vec![1],
                features: vec![feature("txn_count_1h")],
            },
            Tensor {
                name: "amount_sum_24h".to_string(),
                dtype: "FP64".to_string(),
                dims: vec![1],
                features: vec![feature("amount_sum_24h")],
            },
        ],
        output_tensors: vec![Tensor {
            name: "score".to_string(),
            dtype: "FP32".to_string(),
            dims: vec![1],
            features: vec![],
        }],
        training: None,
        data_classification: level(2, "confidential"),
        uses_pii: true,
        lineage: lineage(),
        origin: origin(1200, 2100),
    }
}

/// `service fraud_api` as lowered for `prod` (profile `std.tier1_online` applied).
pub fn fraud_api() -> Service {
    Service {
        name: "fraud_api".to_string(),
        doc: String::new(),
        model: "fraud_scorer".to_string(),
        runtime: "triton".to_string(),
        min_replicas: 3,
        max_replicas: 30,
        tier: "tier1".to_string(),
        rollout: Rollout::Canary {
            steps: vec![dec("10"), dec("50")],
            pause: Duration(15 * Duration::MINUTE),
        },
        batching: Some(Batching {
            max_batch: 64,
            max_delay: Duration(2),
            preferred: vec![16, 32],
        }),
        resources: Resources {
            cpu: Some(Millicores(2000)),
            memory: Some(Bytes(4 << 30)),
            gpu: 1,
            accelerator: Some("nvidia_t4".to_string()),
        },
        expose: "internal".to_string(),
        callers: vec!["payments".to_string(), "checkout".to_string()],
        owner: "risk_ml".to_string(),
        slos: vec![
            Slo::Availability {
                objective: dec("99.95"),
                window: Duration(28 * Duration::DAY),
            },
            Slo::Latency {
                percentile: dec("99"),
                threshold: Duration(40),
                objective: dec("99"),
                window: Duration(28 * Duration::DAY),
            },
        ],
        monitors: vec![Monitor::Drift {
            feature: FeatureRef {
                view: "card_velocity".to_string(),
                feature: "amount_sum_24h".to_string(),
            },
            method: "psi".to_string(),
            threshold: dec("0.2"),
        }],
        profiles: vec!["std.tier1_online".to_string()],
        data_classification: level(2, "confidential"),
        uses_pii: true,
        lineage: lineage(),
        origin: origin(2200, 2900),
    }
}

/// The fraud platform lowered for `prod`.
pub fn fraud_platform() -> Platform {
    let prod = environment("prod", "production", "ml-prod", Some("123456789012"));
    let staging = environment("staging", "staging", "ml-stg", None);
    let team = Team {
        name: "risk_ml".to_string(),
        doc: "Card-payment fraud scoring, online, EU only.".to_string(),
        owner: "risk-ml@acme.example".to_string(),
        oncall: Some("pagerduty:risk-ml".to_string()),
        cost_center: Some("CC-1042".to_string()),
        origin: origin(0, 110),
    };
    let model = fraud_scorer();
    let service = fraud_api();
    Platform {
        environment: prod.clone(),
        environments: BTreeMap::from([
            ("prod".to_string(), prod),
            ("staging".to_string(), staging),
        ]),
        teams: BTreeMap::from([(team.name.clone(), team.into())]),
        sources: BTreeMap::new(),
        entities: BTreeMap::new(),
        feature_views: BTreeMap::new(),
        models: BTreeMap::from([(model.name.clone(), model.into())]),
        services: BTreeMap::from([(service.name.clone(), service.into())]),
        batch_jobs: BTreeMap::new(),
        waivers: BTreeMap::new(),
        grants: Vec::new(),
        policy: Default::default(),
    }
}

/// Nightly re-scoring with `fraud_scorer`, owned by `risk_ml`.
pub fn fraud_rescoring() -> BatchJob {
    BatchJob {
        name: "fraud_rescoring".to_string(),
        doc: "Nightly re-scoring.".to_string(),
        model: "fraud_scorer".to_string(),
        schedule: Cron {
            expr: "30 4 * * *".to_string(),
            interval: Duration(Duration::DAY),
        },
        input: "transactions_archive".to_string(),
        output: "fraud_rescores".to_string(),
        image: Some("registry.acme.example/fraud-batch-score:1.4.2".to_string()),
        resources: Resources::default(),
        owner: "risk_ml".to_string(),
        data_classification: Level {
            rank: 2,
            name: "confidential".to_string(),
        },
        uses_pii: true,
        lineage: Lineage::default(),
        origin: Origin::default(),
    }
}

/// The fraud platform plus one service per rollout strategy and a batch job, so every
/// code path of the Kubernetes target is exercised by the schema tests.
pub fn every_rollout_platform() -> Platform {
    let mut platform = fraud_platform();
    let job = fraud_rescoring();
    platform.batch_jobs.insert(job.name.clone(), job.into());
    let variants = [
        ("fraud_rolling", Rollout::Rolling),
        ("fraud_blue_green", Rollout::BlueGreen),
        ("fraud_shadow", Rollout::Shadow { percent: dec("10") }),
    ];
    for (name, rollout) in variants {
        let mut service = fraud_api();
        service.name = name.to_string();
        service.rollout = rollout;
        service.min_replicas = 1;
        service.max_replicas = 4;
        service.resources = Resources {
            cpu: Some(Millicores(500)),
            memory: Some(Bytes(1 << 30)),
            gpu: 0,
            accelerator: None,
        };
        service.callers = vec![];
        platform
            .services
            .insert(service.name.clone(), service.into());
    }
    platform
}
