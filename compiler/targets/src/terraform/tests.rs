//! Tests of the Terraform target: every `${...}` reference names something the output
//! declares, IAM statements follow the grants and nothing else (no `*` resource), the
//! IRSA trust matches the Kubernetes target's ServiceAccount, names AWS rejects give
//! diagnostics at the spec, and the output is deterministic.

use super::*;
use crate::kubernetes::Kubernetes;
use crate::test_fixtures::fraud_platform;
use plinth_ir::{BatchJob, Duration, Entity, Lineage, Resources, Source};
use plinth_syntax::Span;
use serde_json::Value;
use std::sync::Arc;

const DAY_MS: u64 = 86_400_000;

fn grant(action: &str, principal: (&str, &str), resource: (&str, &str)) -> Grant {
    let r = |(kind, name): (&str, &str)| DeclRef {
        kind: kind.to_string(),
        name: name.to_string(),
    };
    Grant {
        action: action.to_string(),
        principal: r(principal),
        resource: r(resource),
    }
}

fn source(name: &str, kind: &str, location: &[(&str, &str)], retention_days: u64) -> Source {
    Source {
        name: name.to_string(),
        doc: String::new(),
        kind: kind.to_string(),
        location: location
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        owner: "risk_ml".to_string(),
        classification: Level {
            rank: 2,
            name: "confidential".to_string(),
        },
        region: Some("eu_west_1".to_string()),
        residency: vec!["eu_west_1".to_string()],
        retention: Some(Duration(retention_days * DAY_MS)),
        columns: Vec::new(),
        origin: Origin::default(),
    }
}

fn view(name: &str, source: &str, online: bool, rank: u32, level: &str) -> FeatureView {
    FeatureView {
        name: name.to_string(),
        doc: String::new(),
        entity: "card".to_string(),
        key: "card_id".to_string(),
        source: source.to_string(),
        freshness: None,
        ttl: Some(Duration(7 * DAY_MS)),
        online,
        schedule: None,
        owner: "risk_ml".to_string(),
        classification: Level {
            rank,
            name: level.to_string(),
        },
        image: None,
        resources: Resources::default(),
        features: Vec::new(),
        expects: Vec::new(),
        uses_pii: true,
        lineage: Lineage::default(),
        origin: Origin::default(),
    }
}

/// The fraud platform with data: an online view (pii), an offline view, S3 and Kafka
/// sources, a batch job, and the grants a permissive policy gives.
fn platform() -> Platform {
    let mut p = fraud_platform();
    for s in [
        source("transactions", "kafka", &[("topic", "payments.v3")], 30),
        source(
            "archive",
            "s3",
            &[("bucket", "acme-archive"), ("prefix", "txn/")],
            90,
        ),
        source(
            "rescores",
            "s3",
            &[("bucket", "acme-scores"), ("prefix", "fraud/")],
            60,
        ),
    ] {
        p.sources.insert(s.name.clone(), s.into());
    }
    p.entities.insert(
        "card".to_string(),
        Entity {
            name: "card".to_string(),
            doc: String::new(),
            key: "card_id".to_string(),
            dtype: "string".to_string(),
            origin: Origin::default(),
        },
    );
    for v in [
        view("card_velocity", "transactions", true, 3, "pii"),
        view("card_history", "archive", false, 2, "confidential"),
    ] {
        p.feature_views.insert(v.name.clone(), v.into());
    }
    let job = BatchJob {
        name: "rescoring".to_string(),
        doc: String::new(),
        input: "archive".to_string(),
        output: "rescores".to_string(),
        image: None,
        ..crate::test_fixtures::fraud_rescoring()
    };
    p.batch_jobs.insert(job.name.clone(), job.into());
    p.grants = vec![
        grant(
            "read",
            ("feature_view", "card_velocity"),
            ("source", "transactions"),
        ),
        grant(
            "read",
            ("model", "fraud_scorer"),
            ("feature_view", "card_velocity"),
        ),
        grant("read", ("service", "fraud_api"), ("model", "fraud_scorer")),
        grant(
            "read",
            ("service", "fraud_api"),
            ("feature_view", "card_velocity"),
        ),
        grant(
            "read",
            ("service", "fraud_api"),
            ("feature_view", "card_history"),
        ),
        grant(
            "read",
            ("batch_job", "rescoring"),
            ("model", "fraud_scorer"),
        ),
        grant("read", ("batch_job", "rescoring"), ("source", "archive")),
        grant("write", ("batch_job", "rescoring"), ("source", "rescores")),
    ];
    p.grants.sort();
    p
}

fn files(p: &Platform) -> BTreeMap<String, Value> {
    let emit = Terraform.emit(p);
    assert!(emit.diagnostics.is_empty(), "{:?}", emit.diagnostics);
    emit.files
        .iter()
        .map(|f| (f.path.clone(), serde_json::from_str(&f.contents).unwrap()))
        .collect()
}

/// `name → policy document` of every role policy.
fn role_policies(files: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    files
        .get("iam.tf.json")
        .and_then(|f| f["resource"]["aws_iam_role_policy"].as_object())
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        serde_json::from_str(v["policy"].as_str().unwrap()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings(v, out);
        }),
        _ => {}
    }
}

/// Every `aws_x.y`, `data.aws_x.y`, `local.x` and `var.x` inside `${...}` in `text`.
fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').expect("unclosed interpolation");
        let expr = &after[..end];
        let words: Vec<&str> = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .filter(|w| w.contains('.'))
            .collect();
        for w in words {
            let parts: Vec<&str> = w.split('.').collect();
            let address = match parts[0] {
                "data" => parts[..3].join("."),
                "local" | "var" => parts[..2].join("."),
                t if t.starts_with("aws_") => parts[..2].join("."),
                _ => continue,
            };
            out.push(address);
        }
        rest = &after[end..];
    }
    out
}

#[test]
fn every_reference_names_something_the_output_declares() {
    for p in [platform(), fraud_platform()] {
        let files = files(&p);
        let mut declared = BTreeSet::new();
        for file in files.values() {
            for (kind, named) in file["resource"].as_object().into_iter().flatten() {
                for name in named.as_object().unwrap().keys() {
                    declared.insert(format!("{kind}.{name}"));
                }
            }
            for (kind, named) in file["data"].as_object().into_iter().flatten() {
                for name in named.as_object().unwrap().keys() {
                    declared.insert(format!("data.{kind}.{name}"));
                }
            }
            for name in file["locals"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|x| x.0)
            {
                declared.insert(format!("local.{name}"));
            }
            for name in file["variable"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|x| x.0)
            {
                declared.insert(format!("var.{name}"));
            }
        }
        let mut checked = 0;
        for (path, file) in &files {
            let mut all = Vec::new();
            strings(file, &mut all);
            for s in &all {
                for r in references(s) {
                    assert!(declared.contains(&r), "{path}: `{r}` is not declared");
                    checked += 1;
                }
            }
            // depends_on holds bare addresses.
            for lifecycle in file["resource"]["aws_s3_bucket_lifecycle_configuration"]
                .as_object()
                .into_iter()
                .flatten()
            {
                for d in lifecycle.1["depends_on"].as_array().unwrap() {
                    assert!(declared.contains(d.as_str().unwrap()), "{path}: {d}");
                }
            }
        }
        assert!(checked > 20, "only {checked} references checked");
    }
    assert_eq!(
        references(
            "${trimprefix(data.aws_eks_cluster.c.identity[0].issuer, \"https://\")}:sub ${local.x}/${aws_s3_bucket.b.arn}/k"
        ),
        ["data.aws_eks_cluster.c", "local.x", "aws_s3_bucket.b"]
    );
}

#[test]
fn role_policies_allow_exactly_the_granted_accesses() {
    let files = files(&platform());
    let policies = role_policies(&files);
    let sids = |name: &str| -> Vec<String> {
        policies[name]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Sid"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        sids("fraud_api"),
        [
            "ReadFeatureViewCardHistoryObjects",
            "ReadFeatureViewCardHistoryList",
            "ReadFeatureViewCardVelocity",
            "ReadModelFraudScorerObjects",
            "ReadModelFraudScorerList",
            "DecryptViaS3",
            "DecryptViaDynamodb",
        ]
    );
    assert_eq!(
        sids("rescoring"),
        [
            "ReadModelFraudScorerObjects",
            "ReadModelFraudScorerList",
            "ReadSourceArchiveObjects",
            "ReadSourceArchiveList",
            "WriteSourceRescoresObjects",
            "DecryptViaS3",
        ]
    );
    let api = policies["fraud_api"].to_string();
    assert!(api.contains("${aws_dynamodb_table.card_velocity.arn}"));
    assert!(api.contains("${aws_s3_bucket.offline_store.arn}/features/card_history/*"));
    assert!(api.contains("${aws_s3_bucket.artifacts.arn}/model_repository/fraud_scorer/*"));
    // The pii table's key through DynamoDB, the confidential stores' key through S3.
    let decrypt = |sid: &str| {
        policies["fraud_api"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap()
            .clone()
    };
    assert_eq!(
        decrypt("DecryptViaDynamodb")["Resource"],
        serde_json::json!(["${aws_kms_key.pii.arn}"])
    );
    assert_eq!(
        decrypt("DecryptViaDynamodb")["Condition"]["StringEquals"]["kms:ViaService"],
        serde_json::json!(["dynamodb.eu-west-1.amazonaws.com"])
    );
    assert_eq!(
        decrypt("DecryptViaS3")["Resource"],
        serde_json::json!(["${aws_kms_key.pii.arn}"])
    );
    let job = policies["rescoring"].to_string();
    assert!(job.contains("arn:aws:s3:::acme-archive/txn/*"));
    assert!(job.contains("arn:aws:s3:::acme-scores/fraud/*"));
    // No `*` resource and no wildcard action, anywhere.
    for (name, policy) in &policies {
        for st in policy["Statement"].as_array().unwrap() {
            for r in st["Resource"].as_array().unwrap() {
                let r = r.as_str().unwrap();
                assert!(r != "*" && !r.starts_with("arn:aws:s3:::*"), "{name}: {r}");
            }
            for a in st["Action"].as_array().unwrap() {
                assert!(!a.as_str().unwrap().contains('*'), "{name}: {a}");
            }
        }
    }
}

#[test]
fn removing_a_grant_removes_its_statement_and_no_grants_give_no_policy() {
    let mut p = platform();
    p.grants
        .retain(|g| !(g.principal.name == "fraud_api" && g.resource.name == "card_velocity"));
    let policies = role_policies(&files(&p));
    let api = policies["fraud_api"].to_string();
    assert!(!api.contains("card_velocity"), "{api}");
    assert!(!api.contains("DecryptViaDynamodb"), "{api}");
    assert!(api.contains("fraud_scorer"));

    p.grants.clear();
    let files = files(&p);
    assert!(role_policies(&files).is_empty());
    // The roles remain (the ServiceAccounts name them), with nothing to do.
    assert_eq!(
        files["iam.tf.json"]["resource"]["aws_iam_role"]
            .as_object()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn trust_policy_admits_the_service_account_the_kubernetes_target_writes() {
    let p = platform();
    let k8s = Kubernetes.emit(&p);
    let file = k8s
        .files
        .iter()
        .find(|f| f.path == "fraud_api.yaml")
        .expect("the service's file");
    // The ServiceAccount is the file's first document.
    let sa = file.contents.split("\n---\n").next().unwrap();
    assert!(sa.contains("kind: ServiceAccount"), "{sa}");
    let sa: Value = serde_saphyr::from_str(sa).unwrap();
    let files = files(&p);
    let role = &files["iam.tf.json"]["resource"]["aws_iam_role"]["fraud_api"];
    let trust: Value = serde_json::from_str(role["assume_role_policy"].as_str().unwrap()).unwrap();
    let subject = format!(
        "system:serviceaccount:{}:{}",
        sa["metadata"]["namespace"].as_str().unwrap(),
        sa["metadata"]["name"].as_str().unwrap()
    );
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringEquals"]["${local.oidc_issuer}:sub"],
        serde_json::json!([subject])
    );
    let annotation = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        .as_str()
        .unwrap();
    assert_eq!(
        annotation,
        format!(
            "arn:aws:iam::123456789012:role/{}",
            role["name"].as_str().unwrap()
        )
    );
}

#[test]
fn storage_is_encrypted_versioned_private_logged_and_expires_with_retention() {
    let files = files(&platform());
    let s3 = &files["s3.tf.json"]["resource"];
    for bucket in ["artifacts", "offline_store", "access_logs"] {
        assert_eq!(
            s3["aws_s3_bucket_versioning"][bucket]["versioning_configuration"]["status"],
            "Enabled"
        );
        assert_eq!(
            s3["aws_s3_bucket_public_access_block"][bucket]["restrict_public_buckets"],
            true
        );
        assert!(
            s3["aws_s3_bucket_policy"][bucket]["policy"]
                .as_str()
                .unwrap()
                .contains("aws:SecureTransport")
        );
    }
    let sse = |b: &str| {
        s3["aws_s3_bucket_server_side_encryption_configuration"][b]["rule"][0]["apply_server_side_encryption_by_default"].clone()
    };
    assert_eq!(
        sse("artifacts")["kms_master_key_id"],
        "${aws_kms_key.pii.arn}"
    );
    assert_eq!(
        sse("offline_store")["kms_master_key_id"],
        "${aws_kms_key.pii.arn}"
    );
    assert_eq!(sse("access_logs")["sse_algorithm"], "AES256");
    assert!(s3["aws_s3_bucket_logging"]["access_logs"].is_null());
    assert_eq!(
        s3["aws_s3_bucket_logging"]["artifacts"]["target_bucket"],
        "${aws_s3_bucket.access_logs.id}"
    );
    let rules = s3["aws_s3_bucket_lifecycle_configuration"]["offline_store"]["rule"]
        .as_array()
        .unwrap();
    let rule = |id: &str| rules.iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(rule("retention-card_velocity")["expiration"]["days"], 30);
    assert_eq!(
        rule("retention-card_velocity")["filter"]["prefix"],
        "features/card_velocity/"
    );
    assert_eq!(rule("retention-card_history")["expiration"]["days"], 90);
    // Airflow's run data lives no longer than the shortest source retention.
    let rules = s3["aws_s3_bucket_lifecycle_configuration"]["artifacts"]["rule"]
        .as_array()
        .unwrap();
    assert_eq!(
        rules
            .iter()
            .find(|r| r["id"] == "airflow-run-data")
            .unwrap()["expiration"]["days"],
        30
    );

    let table = &files["dynamodb.tf.json"]["resource"]["aws_dynamodb_table"]["card_velocity"];
    assert_eq!(table["hash_key"], "card_id");
    assert_eq!(
        table["attribute"],
        serde_json::json!([{"name": "card_id", "type": "S"}])
    );
    assert_eq!(table["ttl"]["attribute_name"], TTL_ATTRIBUTE);
    assert_eq!(table["tags"]["plinth:ttl-seconds"], "604800");
    assert_eq!(table["point_in_time_recovery"]["enabled"], true);
    assert_eq!(
        table["server_side_encryption"]["kms_key_arn"],
        "${aws_kms_key.pii.arn}"
    );
    assert_eq!(table["tags"]["plinth:classification"], "pii");
    assert_eq!(table["tags"]["plinth:cost-center"], "CC-1042");
    assert!(files["dynamodb.tf.json"]["resource"]["aws_dynamodb_table"]["card_history"].is_null());

    let kms = &files["kms.tf.json"]["resource"]["aws_kms_key"];
    assert_eq!(kms.as_object().unwrap().keys().collect::<Vec<_>>(), ["pii"]);
    assert_eq!(kms["pii"]["enable_key_rotation"], true);
    let provider = &files["providers.tf.json"]["provider"]["aws"];
    assert_eq!(provider["region"], "eu-west-1");
    assert_eq!(
        provider["allowed_account_ids"],
        serde_json::json!(["123456789012"])
    );
    assert_eq!(
        files["versions.tf.json"]["terraform"]["required_version"],
        TERRAFORM_VERSION
    );
}

#[test]
fn output_is_deterministic() {
    assert_eq!(Terraform.emit(&platform()), Terraform.emit(&platform()));
    let mut reversed = platform();
    reversed.grants.reverse();
    reversed.grants.sort();
    assert_eq!(Terraform.emit(&platform()), Terraform.emit(&reversed));
}

#[test]
fn names_and_values_aws_rejects_are_diagnostics_at_the_spec() {
    let account_span = Span::new(300, 314);
    let mut p = platform();
    p.environment.name = "a_very_long_environment_name_for_buckets".to_string();
    std::sync::Arc::make_mut(&mut p.environment.origin.fields)
        .insert("account".to_string(), account_span);
    let emit = Terraform.emit(&p);
    assert!(emit.files.is_empty());
    assert!(!emit.diagnostics.is_empty());
    for d in &emit.diagnostics {
        assert_eq!(d.code, CODE_NAME);
        assert_eq!(d.span, account_span);
        assert!(d.message.contains("S3 rejects"), "{}", d.message);
    }

    let mut p = platform();
    p.environment.region = "mars".to_string();
    p.environment.account = Some("12345".to_string());
    p.teams
        .get_mut("risk_ml")
        .map(Arc::make_mut)
        .unwrap()
        .cost_center = Some("CC#1".to_string());
    let emit = Terraform.emit(&p);
    let codes: BTreeSet<&str> = emit.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, BTreeSet::from([CODE_REGION, CODE_ACCOUNT, CODE_TAG]));
    assert!(emit.files.is_empty());
}

#[test]
fn an_environment_without_account_or_cluster_looks_them_up() {
    let mut p = platform();
    p.environment.account = None;
    p.environment.cluster = None;
    let files = files(&p);
    let providers = &files["providers.tf.json"];
    assert_eq!(
        providers["locals"]["account_id"],
        "${data.aws_caller_identity.current.account_id}"
    );
    assert_eq!(providers["locals"]["oidc_issuer"], "${var.eks_oidc_issuer}");
    assert!(providers["provider"]["aws"]["allowed_account_ids"].is_null());
    assert_eq!(
        files["s3.tf.json"]["resource"]["aws_s3_bucket"]["artifacts"]["bucket"],
        "plinth-prod-artifacts"
    );
}
