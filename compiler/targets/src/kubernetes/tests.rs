//! Tests of the Kubernetes target: every generated object against the vendored
//! Kubernetes 1.33 strict schemas and CRD schemas, diagnostics for names that cannot be
//! Kubernetes names, determinism, and YAML round-trips of hostile strings.

use super::*;
use crate::test_fixtures::{every_rollout_platform, fraud_platform};
use jsonschema::{Retrieve, Uri, Validator};
use plinth_ir::{Decimal, Slo};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../targets/kubernetes/schemas")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Serves the Kubernetes `_definitions.json` for the schemas' `/api/_definitions.json`
/// references, and nothing else (no network, no file system).
struct Definitions(Arc<Value>);

impl Retrieve for Definitions {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        if uri.as_str().ends_with("/_definitions.json") {
            Ok((*self.0).clone())
        } else {
            Err(format!("no schema for {uri}").into())
        }
    }
}

/// Validators by (apiVersion, kind), compiled once for the whole test binary.
fn validators() -> &'static BTreeMap<(&'static str, &'static str), Validator> {
    static VALIDATORS: OnceLock<BTreeMap<(&'static str, &'static str), Validator>> =
        OnceLock::new();
    VALIDATORS.get_or_init(|| {
        let dir = schema_dir();
        let definitions = Arc::new(read_json(&dir.join("v1.33.0-strict/_definitions.json")));
        let kinds = [
            (
                "v1",
                "ServiceAccount",
                "v1.33.0-strict/serviceaccount-v1.json",
            ),
            ("v1", "Service", "v1.33.0-strict/service-v1.json"),
            (
                "apps/v1",
                "Deployment",
                "v1.33.0-strict/deployment-apps-v1.json",
            ),
            (
                "autoscaling/v2",
                "HorizontalPodAutoscaler",
                "v1.33.0-strict/horizontalpodautoscaler-autoscaling-v2.json",
            ),
            (
                "policy/v1",
                "PodDisruptionBudget",
                "v1.33.0-strict/poddisruptionbudget-policy-v1.json",
            ),
            (
                "networking.k8s.io/v1",
                "NetworkPolicy",
                "v1.33.0-strict/networkpolicy-networking-v1.json",
            ),
            (
                "argoproj.io/v1alpha1",
                "Rollout",
                "crd/rollout-argoproj-v1alpha1.json",
            ),
            (
                "argoproj.io/v1alpha1",
                "AnalysisTemplate",
                "crd/analysistemplate-argoproj-v1alpha1.json",
            ),
            (
                "monitoring.coreos.com/v1",
                "PrometheusRule",
                "crd/prometheusrule-monitoring-v1.json",
            ),
            (
                "monitoring.coreos.com/v1",
                "ServiceMonitor",
                "crd/servicemonitor-monitoring-v1.json",
            ),
        ];
        kinds
            .into_iter()
            .map(|(api_version, kind, file)| {
                let schema = read_json(&dir.join(file));
                let validator = jsonschema::options()
                    .with_base_uri("file:///k8s/")
                    .with_retriever(Definitions(definitions.clone()))
                    .build(&schema)
                    .unwrap_or_else(|e| panic!("{file}: {e}"));
                ((api_version, kind), validator)
            })
            .collect()
    })
}

/// Every schema error of one generated file, as `path: pointer: message` lines.
fn schema_errors(path: &str, yaml: &str) -> Vec<String> {
    let doc: Value = match serde_saphyr::from_str(yaml) {
        Ok(doc) => doc,
        Err(e) => return vec![format!("{path}: not YAML: {e}")],
    };
    let api_version = doc["apiVersion"].as_str().unwrap_or_default();
    let kind = doc["kind"].as_str().unwrap_or_default();
    let Some(validator) = validators().get(&(api_version, kind)) else {
        return vec![format!("{path}: no schema for {api_version} {kind}")];
    };
    validator
        .iter_errors(&doc)
        .map(|e| format!("{path}: {}: {e}", e.instance_path()))
        .collect()
}

fn emit(platform: &Platform) -> Emit {
    Kubernetes.emit(platform)
}

fn file<'a>(emit: &'a Emit, path: &str) -> &'a str {
    &emit
        .files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no file {path}"))
        .contents
}

/// The YAML documents of one multi-document file, each with its final newline.
fn documents(contents: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut rest = contents;
    while let Some(i) = rest.find("\n---\n") {
        docs.push(&rest[..=i]);
        rest = &rest[i + 5..];
    }
    docs.push(rest);
    docs
}

/// What a reader calls one object: its kind in lower case, and Services by their role
/// (`service`, `service-metrics`, `service-preview`, `service-canary`).
fn object_name(doc: &str) -> String {
    let value: Value = serde_saphyr::from_str(doc).unwrap();
    let kind = value["kind"].as_str().unwrap().to_lowercase();
    match value["metadata"]["labels"]["plinth.dev/role"].as_str() {
        Some(role) if kind == "service" => format!("service-{role}"),
        _ => kind,
    }
}

/// The object names in `<service>.yaml`, in file order.
fn object_names(emit: &Emit, service: &str) -> Vec<String> {
    documents(file(emit, &format!("{service}.yaml")))
        .into_iter()
        .map(object_name)
        .collect()
}

/// One object of a service's file: `object(&out, "fraud_api/rollout")`.
fn object<'a>(emit: &'a Emit, path: &str) -> &'a str {
    let (service, name) = path.split_once('/').unwrap();
    documents(file(emit, &format!("{service}.yaml")))
        .into_iter()
        .find(|doc| object_name(doc) == name)
        .unwrap_or_else(|| panic!("no object {path}"))
}

#[test]
fn every_generated_object_passes_its_schema() {
    let out = emit(&every_rollout_platform());
    assert!(
        out.diagnostics.iter().all(|d| !d.is_error()),
        "{:#?}",
        out.diagnostics
    );
    let mut kinds = std::collections::BTreeSet::new();
    let mut errors = Vec::new();
    for f in &out.files {
        for (i, text) in documents(&f.contents).into_iter().enumerate() {
            errors.extend(schema_errors(&format!("{}#{i}", f.path), text));
            let doc: Value = serde_saphyr::from_str(text).unwrap();
            kinds.insert(doc["kind"].as_str().unwrap().to_string());
        }
    }
    assert!(errors.is_empty(), "schema errors:\n{}", errors.join("\n"));
    // Every kind this target can write was produced, so every schema was exercised.
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "AnalysisTemplate",
            "Deployment",
            "HorizontalPodAutoscaler",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "PrometheusRule",
            "Rollout",
            "Service",
            "ServiceAccount",
            "ServiceMonitor"
        ]
    );
}

#[test]
fn the_schemas_reject_what_they_should() {
    let out = emit(&fraud_platform());
    let rollout = object(&out, "fraud_api/rollout");
    let typo = rollout.replace("revisionHistoryLimit:", "revisionHistoryLimt:");
    assert!(
        !schema_errors("rollout", &typo).is_empty(),
        "CRD schema accepted a typo"
    );
    let hpa = object(&out, "fraud_api/horizontalpodautoscaler");
    let wrong_type = hpa.replace("minReplicas: 3", "minReplicas: three");
    let errors = schema_errors("hpa", &wrong_type);
    assert!(
        errors.iter().any(|e| e.contains("/spec/minReplicas")),
        "{errors:?}"
    );
    let unknown = hpa.replace("  maxReplicas:", "  maxReplica: 1\n  maxReplicas:");
    assert!(
        !schema_errors("hpa", &unknown).is_empty(),
        "strict schema accepted an unknown field"
    );
}

#[test]
fn emits_the_fraud_service_files() {
    let out = emit(&fraud_platform());
    assert!(out.diagnostics.is_empty(), "{:#?}", out.diagnostics);
    let paths: Vec<&str> = out.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["fraud_api.yaml", "plinth-sli.yaml"]);
    // One document per object, in the order `kubectl apply -f` should create them.
    assert_eq!(
        object_names(&out, "fraud_api"),
        [
            "serviceaccount",
            "rollout",
            "analysistemplate",
            "service",
            "service-metrics",
            "horizontalpodautoscaler",
            "poddisruptionbudget",
            "networkpolicy",
            "servicemonitor",
            "prometheusrule",
        ]
    );
    let rollout = object(&out, "fraud_api/rollout");
    for expected in [
        "image: nvcr.io/nvidia/tritonserver:25.01-py3",
        "- --load-model=fraud_scorer",
        "nvidia.com/gpu: \"1\"",
        "karpenter.k8s.aws/instance-gpu-name: t4",
        "- setWeight: 10\n",
        "duration: 15m",
        "- setWeight: 50\n",
        "templateName: fraud-api-slo",
        "- s3://plinth-prod-artifacts-123456789012/model_repository/fraud_scorer/",
        "plinth.dev/cost-center: CC-1042",
        "plinth.dev/model-version: \"12.0.3\"",
    ] {
        assert!(
            rollout.contains(expected),
            "rollout lacks {expected:?}:\n{rollout}"
        );
    }
    let sa = object(&out, "fraud_api/serviceaccount");
    assert!(
        sa.contains(
            "eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/plinth-prod-fraud-api"
        ),
        "{sa}"
    );
    let rules = object(&out, "fraud_api/prometheusrule");
    for expected in [
        "vector(0.9995)",
        "vector(0.0005)",
        "> (13.44 * 0.0005)",
        "> (5.6 * 0.0005)",
        "> (2.8 * 0.0005)",
        "> (0.933333 * 0.0005)",
        "vector(0.99)",
        "> (13.44 * 0.01)",
        "quantile=\"0.99\"",
        "> bool 40000",
        "alert: FraudApiAvailabilityErrorBudgetBurn",
        "slo:sli_error:ratio_rate1h{namespace=\"ml-prod\",job=\"fraud-api-metrics\",plinth_slo=\"availability\"}",
        "severity: page",
        "severity: ticket",
    ] {
        assert!(
            rules.contains(expected),
            "rules lack {expected:?}:\n{rules}"
        );
    }
    // The SLI windows are recorded once for the namespace, not per service.
    assert!(!rules.contains("record: slo:sli_error"), "{rules}");
    let shared = file(&out, "plinth-sli.yaml");
    for expected in [
        "name: plinth-sli\n",
        "namespace: ml-prod\n",
        "- name: plinth-sli-availability\n",
        "- name: plinth-sli-latency\n",
        "sum by (namespace, job) (rate(nv_inference_request_failure{namespace=\"ml-prod\"}[3d]))",
        "avg_over_time(slo:latency_slice_error:bool{namespace=\"ml-prod\"}[5m])",
    ] {
        assert!(
            shared.contains(expected),
            "shared rules lack {expected:?}:\n{shared}"
        );
    }
    assert_eq!(
        shared.matches("record: slo:sli_error:ratio_rate").count(),
        14
    );
    let analysis = object(&out, "fraud_api/analysistemplate");
    assert!(analysis.contains("result[0] <= 0.00672"), "{analysis}");
    assert!(analysis.contains("result[0] <= 40000"), "{analysis}");
    assert!(
        analysis.contains("rollouts_pod_template_hash=\"{{args.pod-template-hash}}\""),
        "{analysis}"
    );
    let policy = object(&out, "fraud_api/networkpolicy");
    for ns in ["checkout", "payments", "monitoring", "kube-system"] {
        assert!(
            policy.contains(&format!("kubernetes.io/metadata.name: {ns}")),
            "{policy}"
        );
    }
}

#[test]
fn rolling_services_get_a_deployment_and_the_hpa_follows_the_workload() {
    let out = emit(&every_rollout_platform());
    let hpa = object(&out, "fraud_rolling/horizontalpodautoscaler");
    assert!(hpa.contains("kind: Deployment"), "{hpa}");
    assert!(object(&out, "fraud_rolling/deployment").contains("kind: Deployment"));
    assert!(!object_names(&out, "fraud_rolling").contains(&"rollout".to_string()));
    let rollout = object(&out, "fraud_blue_green/rollout");
    assert!(
        rollout.contains("previewService: fraud-blue-green-preview"),
        "{rollout}"
    );
    assert!(object(&out, "fraud_blue_green/analysistemplate").contains("count: 10"));
    let shadow = object(&out, "fraud_shadow/rollout");
    assert!(shadow.contains("setMirrorRoute:"), "{shadow}");
    assert!(shadow.contains("percentage: 10"), "{shadow}");
    // CPU-only services ask for no GPU.
    assert!(!shadow.contains("nvidia.com/gpu"), "{shadow}");
}

#[test]
fn emitting_twice_gives_identical_bytes() {
    let platform = every_rollout_platform();
    let first = emit(&platform);
    let second = emit(&platform.clone());
    assert_eq!(first, second);
    let objects: usize = first
        .files
        .iter()
        .map(|f| documents(&f.contents).len())
        .sum();
    assert!(objects > 40, "{objects} objects");
}

#[test]
fn the_spec_hash_follows_the_service_and_model() {
    let platform = fraud_platform();
    let hash = |p: &Platform| {
        let out = emit(p);
        let doc: Value = serde_saphyr::from_str(object(&out, "fraud_api/service")).unwrap();
        doc["metadata"]["annotations"]["plinth.dev/spec-hash"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let before = hash(&platform);
    assert_eq!(before.len(), 16);
    let mut moved = platform.clone();
    moved
        .services
        .get_mut("fraud_api")
        .map(Arc::make_mut)
        .unwrap()
        .origin
        .span = plinth_syntax::Span::new(0, 1);
    assert_eq!(hash(&moved), before, "moving text changed the hash");
    let mut changed = platform.clone();
    changed
        .models
        .get_mut("fraud_scorer")
        .map(Arc::make_mut)
        .unwrap()
        .version = "12.0.4".to_string();
    assert_ne!(hash(&changed), before);
}

#[test]
fn a_service_name_too_long_for_kubernetes_is_a_diagnostic_not_output() {
    let mut platform = fraud_platform();
    let mut service = Arc::unwrap_or_clone(platform.services.remove("fraud_api").unwrap());
    service.name = format!("fraud_{}", "x".repeat(52)); // 58 chars: `-metrics` makes 66
    let span = service.origin.span;
    platform
        .services
        .insert(service.name.clone(), service.into());
    let out = emit(&platform);
    assert!(
        out.files.is_empty(),
        "wrote files for an unnameable service"
    );
    assert_eq!(out.diagnostics.len(), 1, "{:#?}", out.diagnostics);
    let d = &out.diagnostics[0];
    assert_eq!(d.code, CODE_NAME);
    assert_eq!(d.span, span);
    assert_eq!(d.file, "fraud.plinth");
    assert!(d.message.contains("66 characters long"), "{}", d.message);
    assert_eq!(
        d.help.as_deref(),
        Some("shorten the service name to at most 55 characters")
    );

    // Exactly at the limit is fine.
    let mut platform = fraud_platform();
    let mut service = Arc::unwrap_or_clone(platform.services.remove("fraud_api").unwrap());
    service.name = format!("f{}", "x".repeat(54));
    platform
        .services
        .insert(service.name.clone(), service.into());
    let out = emit(&platform);
    assert!(!out.has_errors(), "{:#?}", out.diagnostics);
}

#[test]
fn names_that_cannot_start_or_end_a_dns_label_are_diagnostics() {
    for bad in ["_fraud", "fraud_", "9fraud"] {
        let mut platform = fraud_platform();
        let mut service = Arc::unwrap_or_clone(platform.services.remove("fraud_api").unwrap());
        service.name = bad.to_string();
        platform
            .services
            .insert(service.name.clone(), service.into());
        let out = emit(&platform);
        assert!(out.files.is_empty(), "{bad}");
        assert_eq!(out.diagnostics.len(), 1, "{bad}: {:#?}", out.diagnostics);
        assert_eq!(out.diagnostics[0].code, CODE_NAME);
    }
}

#[test]
fn invalid_label_values_are_diagnostics_at_their_field() {
    let mut platform = fraud_platform();
    let team = platform
        .teams
        .get_mut("risk_ml")
        .map(Arc::make_mut)
        .unwrap();
    team.cost_center = Some("CC 1042 / shared".to_string());
    let cost_span = plinth_syntax::Span::new(60, 80);
    std::sync::Arc::make_mut(&mut team.origin.fields).insert("cost_center".to_string(), cost_span);
    platform
        .models
        .get_mut("fraud_scorer")
        .map(Arc::make_mut)
        .unwrap()
        .version = format!("v{}", "1".repeat(63));
    let out = emit(&platform);
    assert!(out.files.is_empty());
    let codes: Vec<_> = out
        .diagnostics
        .iter()
        .map(|d| (d.code.as_str(), d.span))
        .collect();
    let model_span = platform.models["fraud_scorer"].origin.span;
    assert_eq!(
        codes,
        [
            (CODE_LABEL, model_span), // app.kubernetes.io/version
            (CODE_LABEL, model_span), // plinth.dev/model-version
            (CODE_LABEL, cost_span),
        ]
    );
    assert!(
        out.diagnostics[2].message.contains("it contains ` `"),
        "{}",
        out.diagnostics[2].message
    );
}

#[test]
fn bad_caller_namespaces_and_rollout_steps_are_diagnostics() {
    let mut platform = fraud_platform();
    let service = platform
        .services
        .get_mut("fraud_api")
        .map(Arc::make_mut)
        .unwrap();
    service.callers.push("Payments".to_string());
    service.rollout = Rollout::Canary {
        steps: vec![
            Decimal::parse("12.5").unwrap(),
            Decimal::parse("50").unwrap(),
        ],
        pause: plinth_ir::Duration(60_000),
    };
    let out = emit(&platform);
    let codes: Vec<_> = out.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, [CODE_NAME, CODE_ROLLOUT]);
    assert!(out.diagnostics[1].message.contains("`12.5%`"));
    assert!(out.files.is_empty());
}

#[test]
fn an_environment_without_account_warns_and_omits_the_role() {
    let mut platform = fraud_platform();
    platform.environment.account = None;
    let out = emit(&platform);
    assert_eq!(out.diagnostics.len(), 1);
    assert_eq!(out.diagnostics[0].code, CODE_IAM);
    assert!(!out.diagnostics[0].is_error());
    assert!(!object(&out, "fraud_api/serviceaccount").contains("role-arn"));
}

#[test]
fn an_invalid_namespace_stops_the_target() {
    let mut platform = fraud_platform();
    platform.environment.namespace = "ML_prod".to_string();
    let out = emit(&platform);
    assert!(out.files.is_empty());
    assert_eq!(out.diagnostics.len(), 1);
    assert_eq!(out.diagnostics[0].code, CODE_NAME);
}

#[test]
fn slos_whose_alerts_cannot_fire_warn() {
    let mut platform = fraud_platform();
    let service = platform
        .services
        .get_mut("fraud_api")
        .map(Arc::make_mut)
        .unwrap();
    service.slos = vec![Slo::Availability {
        objective: Decimal::parse("90").unwrap(),
        window: plinth_ir::Duration(30 * plinth_ir::Duration::DAY),
    }];
    let out = emit(&platform);
    // 14.4 x 10% = 144% errors: the 1h page can never fire; 6 x 10% = 60% still can.
    assert_eq!(out.diagnostics.len(), 1, "{:#?}", out.diagnostics);
    assert_eq!(out.diagnostics[0].code, CODE_SLO);
    assert!(
        out.diagnostics[0].message.contains("14.4x"),
        "{}",
        out.diagnostics[0].message
    );
    assert!(!out.has_errors());
}

#[test]
fn shared_sli_rules_cover_exactly_the_slo_kinds_in_use() {
    let mut platform = fraud_platform();
    let service = platform
        .services
        .get_mut("fraud_api")
        .map(Arc::make_mut)
        .unwrap();
    service
        .slos
        .retain(|s| matches!(s, Slo::Availability { .. }));
    let out = emit(&platform);
    let shared = file(&out, "plinth-sli.yaml");
    assert!(shared.contains("plinth-sli-availability"), "{shared}");
    assert!(!shared.contains("latency"), "{shared}");
    platform
        .services
        .get_mut("fraud_api")
        .map(Arc::make_mut)
        .unwrap()
        .slos
        .clear();
    let out = emit(&platform);
    let paths: Vec<&str> = out.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["fraud_api.yaml"]);
    // A service that cannot be rendered takes the shared rules with it.
    let mut platform = fraud_platform();
    platform.environment.name = "prod!".to_string();
    let out = emit(&platform);
    assert!(out.has_errors());
    assert!(out.files.is_empty(), "{:?}", out.files);
}

/// Writes the fixture's output (every rollout strategy) with the atomic writer, to
/// `$PLINTH_K8S_OUT` when set (for `tests/external/kubernetes.sh`), else a temp dir.
#[test]
fn fixture_output_is_written_for_external_validators() {
    let out_dir = std::env::var_os("PLINTH_K8S_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("plinth-k8s-{}", std::process::id())));
    let platform = every_rollout_platform();
    let out = emit(&platform);
    crate::write_target_output(
        &out_dir,
        &platform.environment.name,
        "kubernetes",
        &out.files,
    )
    .unwrap();
    let root = out_dir.join("prod/kubernetes");
    for f in &out.files {
        assert_eq!(
            std::fs::read_to_string(root.join(&f.path)).unwrap(),
            f.contents
        );
    }
    if std::env::var_os("PLINTH_K8S_OUT").is_none() {
        std::fs::remove_dir_all(&out_dir).unwrap();
    }
}

fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        // YAML indicators, quotes, flow characters, line breaks and unicode, mixed.
        proptest::string::string_regex(
            "[-:#{}\\[\\]'\"|>&*!%@`,?~ \t\n\ra-zA-Z0-9é中🚀\\\\]{0,40}"
        )
        .unwrap(),
        // Scalars a YAML 1.1 reader would turn into something else.
        prop::sample::select(vec![
            "yes",
            "No",
            "on",
            "OFF",
            "null",
            "~",
            "",
            "1.0",
            "0755",
            "0x1F",
            "1e3",
            "2026-01-01",
            ".inf",
            "-.nan",
            "- item",
            "key: value",
            "# comment",
            "---",
            "...",
            " lead",
            "trail ",
            "\n",
            "a\n\nb\n",
            "'",
            "\"",
        ])
        .prop_map(str::to_string),
        any::<String>(),
    ]
}

proptest! {
    #[test]
    fn annotation_and_label_strings_round_trip_through_yaml(
        annotations in prop::collection::btree_map(tricky_string(), tricky_string(), 0..6),
        label in tricky_string(),
    ) {
        let manifest = Manifest {
            api_version: "v1",
            kind: "ServiceAccount",
            metadata: ObjectMeta {
                name: "x".into(),
                namespace: &label,
                labels: Map::from([("plinth.dev/team".to_string(), label.clone())]).into(),
                annotations: annotations.clone().into(),
            },
            body: ServiceAccountBody { automount_service_account_token: false },
        };
        let yaml = manifest.to_yaml().unwrap();
        let back: Value = serde_saphyr::from_str(&yaml).unwrap();
        let meta = &back["metadata"];
        prop_assert_eq!(meta["namespace"].as_str(), Some(label.as_str()), "{}", yaml);
        prop_assert_eq!(meta["labels"]["plinth.dev/team"].as_str(), Some(label.as_str()), "{}", yaml);
        for (k, v) in &annotations {
            prop_assert_eq!(meta["annotations"][k.as_str()].as_str(), Some(v.as_str()), "{}", yaml);
        }
        if annotations.is_empty() {
            prop_assert!(meta.get("annotations").is_none());
        } else {
            prop_assert_eq!(meta["annotations"].as_object().map(|o| o.len()), Some(annotations.len()));
        }
    }
}

#[test]
fn name_suffixes_keep_a_valid_name_valid() {
    // `ServiceContext::new` checks only the name and the longest suffix's length when
    // the name is valid; that holds only for suffixes of `-` and lowercase letters.
    for suffix in NAME_SUFFIXES {
        assert!(suffix.bytes().all(|b| b == b'-' || b.is_ascii_lowercase()));
        assert!(suffix.is_empty() || (suffix.starts_with('-') && !suffix.ends_with('-')));
        assert_eq!(check_dns1035_label(&format!("a{suffix}")), Ok(()));
    }
}
