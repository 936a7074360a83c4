//! Unit and property tests of the Airflow target. Generated Python is checked with the
//! real `python3` (`ast.parse`), which every development and CI machine has.

use super::python::{IdentifierProblem, check_identifier, python_str};
use super::*;
use crate::test_fixtures::fraud_platform;
use plinth_ir::{
    Aggregate, Cron, Decimal, Evaluation, Expect, Feature, FeatureView, Level, Lineage, Training,
};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

fn dec(text: &str) -> Decimal {
    Decimal::parse(text).unwrap()
}

fn card_velocity() -> FeatureView {
    let feature = |name: &str, function: &str, column: &str, hours: u64| Feature {
        name: name.to_string(),
        doc: String::new(),
        dtype: "int64".to_string(),
        aggregate: Some(Aggregate {
            function: function.to_string(),
            column: column.to_string(),
        }),
        window: Some(Duration(hours * Duration::HOUR)),
    };
    FeatureView {
        name: "card_velocity".to_string(),
        doc: "How fast a card is spending.".to_string(),
        entity: "card".to_string(),
        key: "card_id".to_string(),
        source: "transactions".to_string(),
        freshness: Some(Duration(5 * Duration::MINUTE)),
        ttl: Some(Duration(7 * Duration::DAY)),
        online: true,
        schedule: Some(Cron {
            expr: "*/5 * * * *".to_string(),
            interval: Duration(5 * Duration::MINUTE),
        }),
        owner: "risk_ml".to_string(),
        classification: Level {
            rank: 2,
            name: "confidential".to_string(),
        },
        image: Some("registry.acme.example/feature-materializer:2.8.1".to_string()),
        resources: Resources {
            cpu: Some(Millicores(2000)),
            memory: Some(Bytes(8 << 30)),
            gpu: 0,
            accelerator: None,
        },
        features: vec![
            feature("txn_count_1h", "count", "txn_id", 1),
            feature("amount_sum_24h", "sum", "amount", 24),
        ],
        expects: vec![Expect {
            name: "txn_id_present".to_string(),
            column: "txn_id".to_string(),
            not_null: true,
            unique: true,
            min: None,
            max: None,
            max_null_percent: None,
        }],
        uses_pii: true,
        lineage: Lineage::default(),
        origin: Origin::default(),
    }
}

/// The fraud platform with a training block, its feature view and a batch job.
fn platform() -> Platform {
    let mut platform = fraud_platform();
    let view = card_velocity();
    platform
        .feature_views
        .insert(view.name.clone(), view.into());
    if let Some(model) = platform.models.get_mut("fraud_scorer").map(Arc::make_mut) {
        model.doc = "Gradient-boosted fraud scorer.".to_string();
        model.training = Some(Training {
            schedule: Some(Cron {
                expr: "0 3 * * *".to_string(),
                interval: Duration(Duration::DAY),
            }),
            image: "registry.acme.example/fraud-train:1.4.2".to_string(),
            dataset_window: Some(Duration(90 * Duration::DAY)),
            resources: Resources {
                cpu: Some(Millicores(8000)),
                memory: Some(Bytes(32 << 30)),
                gpu: 1,
                accelerator: Some("nvidia_a10g".to_string()),
            },
            evaluation: Some(Evaluation {
                metric: "auc".to_string(),
                min: dec("0.92"),
            }),
            approvals: vec!["head-of-fraud@acme.example".to_string()],
        });
    }
    let job = crate::test_fixtures::fraud_rescoring();
    platform.batch_jobs.insert(job.name.clone(), job.into());
    platform
}

fn file<'a>(emit: &'a Emit, path: &str) -> &'a str {
    &emit
        .files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| {
            panic!(
                "no {path} in {:?}",
                emit.files.iter().map(|f| &f.path).collect::<Vec<_>>()
            )
        })
        .contents
}

/// Runs `script` with python3, `input` on stdin; returns stdout, panics on failure.
fn python(script: &str, input: &str) -> String {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is on every machine");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python3 failed: {}\n--- input ---\n{input}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn emits_one_dag_per_pipeline() {
    let emit = Airflow.emit(&platform());
    assert!(emit.diagnostics.is_empty(), "{:?}", emit.diagnostics);
    let paths: Vec<&str> = emit.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "dags/materialize_card_velocity.py",
            "dags/score_fraud_rescoring.py",
            "dags/train_fraud_scorer.py"
        ]
    );
    if let Ok(dir) = std::env::var("PLINTH_AIRFLOW_DUMP") {
        for f in &emit.files {
            let path = std::path::Path::new(&dir).join(&f.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, &f.contents).unwrap();
        }
    }
}

/// Reads NUL-separated Python literals from stdin, prints each evaluated value as JSON.
const EVAL_LITERALS: &str = r#"
import ast, json, sys
out = []
for lit in sys.stdin.read().split("\0"):
    tree = ast.parse(lit, mode="eval")
    assert isinstance(tree.body, ast.Constant) and isinstance(tree.body.value, str), lit
    out.append(tree.body.value)
print(json.dumps(out))
"#;

fn round_trip(values: &[String]) {
    let literals: Vec<String> = values.iter().map(|v| python_str(v)).collect();
    for lit in &literals {
        assert!(
            !lit.contains('\0'),
            "a NUL byte reached the literal {lit:?}"
        );
    }
    let out = python(EVAL_LITERALS, &literals.join("\0"));
    let back: Vec<String> = serde_json::from_str(&out).unwrap();
    assert_eq!(back, values, "literals: {literals:?}");
}

#[test]
fn python_literals_round_trip_hostile_strings() {
    let cases = [
        "",
        "plain",
        "\"",
        "'",
        "\"'",
        "\"\"\"",
        "'''",
        "\"\"\"\n\"\"\"",
        "ends with quote\n\"",
        "\n\"",
        "\"\n",
        "\"\"\n\"\"",
        "back\\slash\\",
        "\\\n\\",
        "\\N{BULLET}",
        "\\u2022 \\x41",
        "line\nbreak",
        "\r\n\r",
        "tab\there",
        "nul\0byte",
        "{{ dag_run.conf }}",
        "{% raw %}{% endraw %}{# c #}",
        "\") ; import os; os.system(\"id\") #",
        "\"\"\"\nimport os\n\"\"\"",
        "é中文🚀",
        "\u{202e}evil\u{202c}\u{2028}\u{2029}\u{feff}\u{85}\u{7f}",
        "\u{1b}[31mred",
    ];
    round_trip(&cases.iter().map(|s| s.to_string()).collect::<Vec<_>>());
}

#[test]
fn literals_are_readable() {
    assert_eq!(python_str("ml-prod"), "\"ml-prod\"");
    assert_eq!(python_str("say \"hi\""), "'say \"hi\"'");
    assert_eq!(python_str("it's \"x\""), "\"it's \\\"x\\\"\"");
    assert_eq!(python_str("a\nb"), "\"\"\"a\nb\"\"\"");
    assert_eq!(python_str("a\n\"b\""), "\"\"\"a\n\"b\\\"\"\"\"");
    assert_eq!(python_str("\u{202e}"), "\"\\u202e\"");
}

#[test]
fn identifiers_must_be_python_identifiers() {
    assert_eq!(check_identifier("materialize_card_velocity"), Ok(()));
    assert_eq!(check_identifier("match"), Ok(()));
    assert_eq!(check_identifier("class"), Err(IdentifierProblem::Keyword));
    assert_eq!(check_identifier("lambda"), Err(IdentifierProblem::Keyword));
    assert_eq!(check_identifier("None"), Err(IdentifierProblem::Keyword));
    assert_eq!(check_identifier("dag"), Err(IdentifierProblem::Reserved));
    assert_eq!(check_identifier("k8s"), Err(IdentifierProblem::Reserved));
    assert_eq!(check_identifier(""), Err(IdentifierProblem::Empty));
    assert_eq!(
        check_identifier("9x"),
        Err(IdentifierProblem::BadStart('9'))
    );
    assert_eq!(
        check_identifier("a-b"),
        Err(IdentifierProblem::BadCharacter('-'))
    );
    assert_eq!(
        check_identifier("café"),
        Err(IdentifierProblem::BadCharacter('é'))
    );
}

#[test]
fn images_that_jinja_would_read_are_rejected() {
    assert_eq!(
        check_image("registry.acme.example/fraud-train:1.4.2"),
        Ok(())
    );
    assert_eq!(
        check_image(
            "ghcr.io/acme/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        ),
        Ok(())
    );
    assert!(check_image("repo/x:{{ var.value.tag }}").is_err());
    assert!(check_image("repo/x:v1.yaml").is_err());
    assert!(check_image("repo/x:1\nimport os").is_err());
    assert!(check_image("").is_err());

    let mut platform = platform();
    if let Some(t) = platform
        .models
        .get_mut("fraud_scorer")
        .map(Arc::make_mut)
        .and_then(|m| m.training.as_mut())
    {
        t.image = "repo/x:{{ dag_run.conf['tag'] }}".to_string();
    }
    let emit = Airflow.emit(&platform);
    assert!(emit.has_errors());
    assert!(
        emit.diagnostics.iter().all(|d| d.code == CODE_IMAGE),
        "{:?}",
        emit.diagnostics
    );
    assert!(!emit.files.iter().any(|f| f.path.contains("train_")));
}

#[test]
fn pod_specs_carry_no_jinja_delimiters() {
    let value = serde_json::json!({ "a": "{{ x }} {% y %} {# z #} }}", "b": [{}, {"c": "{"}] });
    let text = json::jinja_inert_json(&value);
    for delimiter in ["{{", "{%", "{#"] {
        assert!(!text.contains(delimiter), "{text}");
    }
    let back: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back, value);
}

#[test]
fn task_order_follows_the_pipeline() {
    let emit = Airflow.emit(&platform());
    let train = file(&emit, "dags/train_fraud_scorer.py");
    let order: Vec<&str> = train
        .lines()
        .filter_map(|l| l.trim().strip_prefix("task_id=\""))
        .map(|l| l.trim_end_matches("\","))
        .collect();
    assert_eq!(
        order,
        [
            "materialize_card_velocity",
            "validate_data",
            "train",
            "evaluate",
            "await_approval",
            "register"
        ]
    );
    assert!(train.contains("    evaluate >> await_approval\n    await_approval >> register\n"));
    let view = file(&emit, "dags/materialize_card_velocity.py");
    assert!(view.contains("execution_timeout=timedelta(minutes=5)"));
    assert!(view.contains("    validate_data >> materialize\n"));
    assert!(!view.contains("sla="));
    // The longest feature window (24h) is the point-in-time lookback.
    assert!(view.contains("macros.timedelta(seconds=86400)"));
}

#[test]
fn training_without_approvals_registers_after_evaluate() {
    let mut platform = platform();
    if let Some(t) = platform
        .models
        .get_mut("fraud_scorer")
        .map(Arc::make_mut)
        .and_then(|m| m.training.as_mut())
    {
        t.approvals.clear();
    }
    let emit = Airflow.emit(&platform);
    let train = file(&emit, "dags/train_fraud_scorer.py");
    assert!(!train.contains("await_approval"));
    assert!(train.contains("    evaluate >> register\n"));
}

#[test]
fn output_is_deterministic() {
    assert_eq!(Airflow.emit(&platform()), Airflow.emit(&platform()));
}

/// Parses NUL-separated DAG files; prints for each its AST with every string constant
/// blanked (the code's shape), its string constants, and each `PLINTH_SPEC` raw and
/// parsed.
const INSPECT_DAGS: &str = r#"
import ast, json, sys
result = []
for src in sys.stdin.read().split("\0"):
    tree = ast.parse(src)
    strings, specs = [], []
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "V1EnvVar":
            kw = {k.arg: k.value.value for k in call.keywords}
            if kw["name"] == "PLINTH_SPEC":
                specs.append({"raw": kw["value"], "json": json.loads(kw["value"])})
    class Blank(ast.NodeTransformer):
        def visit_Constant(self, node):
            if isinstance(node.value, str):
                strings.append(node.value)
                return ast.copy_location(ast.Constant(value="S"), node)
            return node
    shape = ast.dump(Blank().visit(tree))
    result.append({"shape": shape, "strings": strings, "specs": specs})
print(json.dumps(result))
"#;

fn inspect(emit: &Emit) -> Vec<serde_json::Value> {
    let files: Vec<&str> = emit.files.iter().map(|f| f.contents.as_str()).collect();
    for f in &files {
        assert!(!f.contains('\0'), "a NUL byte in generated code");
    }
    serde_json::from_str(&python(INSPECT_DAGS, &files.join("\0"))).unwrap()
}

/// The platform with `text` in every free-text field that reaches a DAG.
fn platform_with(text: &str) -> Platform {
    let mut platform = platform();
    if let Some(model) = platform.models.get_mut("fraud_scorer").map(Arc::make_mut) {
        model.doc = text.to_string();
        model.purpose = Some(text.to_string());
        model.version = text.to_string();
        model.artifact = text.to_string();
        if let Some(t) = model.training.as_mut() {
            t.approvals = vec![text.to_string(), "b@x".to_string()];
        }
    }
    if let Some(view) = platform
        .feature_views
        .get_mut("card_velocity")
        .map(Arc::make_mut)
    {
        view.doc = text.to_string();
    }
    if let Some(job) = platform
        .batch_jobs
        .get_mut("fraud_rescoring")
        .map(Arc::make_mut)
    {
        job.doc = text.to_string();
    }
    platform.sources.insert(
        "transactions".to_string(),
        plinth_ir::Source {
            name: "transactions".to_string(),
            doc: text.to_string(),
            kind: "kafka".to_string(),
            location: BTreeMap::from([("topic".to_string(), text.to_string())]),
            owner: "risk_ml".to_string(),
            classification: Level {
                rank: 2,
                name: "confidential".to_string(),
            },
            region: None,
            residency: vec![],
            retention: None,
            columns: vec![],
            origin: Origin::default(),
        }
        .into(),
    );
    platform
}

fn hostile() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("\"\"\"".to_string()),
        Just("'''".to_string()),
        Just("\\".to_string()),
        Just("\n".to_string()),
        Just("\r".to_string()),
        Just("{{ ".to_string()),
        Just(" }}".to_string()),
        Just("{%".to_string()),
        Just("{#".to_string()),
        Just("\u{0}".to_string()),
        Just("\u{202e}".to_string()),
        Just("\u{2028}".to_string()),
        Just(")\nimport os\n".to_string()),
        Just(".md".to_string()),
        Just(".json".to_string()),
        "\\PC{0,6}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

fn plain_shapes() -> &'static [serde_json::Value] {
    static SHAPES: std::sync::OnceLock<Vec<serde_json::Value>> = std::sync::OnceLock::new();
    SHAPES.get_or_init(|| {
        inspect(&Airflow.emit(&platform_with("plain")))
            .into_iter()
            .map(|f| f["shape"].clone())
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn escaped_strings_round_trip(values in prop::collection::vec(hostile(), 1..16)) {
        round_trip(&values);
    }

    /// Spec strings cannot change the generated code: with hostile text everywhere, every
    /// DAG parses, has exactly the shape it has with plain text, gives the text back, and
    /// hands containers no Jinja delimiter.
    #[test]
    fn spec_strings_cannot_change_the_code(text in hostile()) {
        let emit = Airflow.emit(&platform_with(&text));
        prop_assert!(emit.diagnostics.is_empty(), "{:?}", emit.diagnostics);
        let files = inspect(&emit);
        prop_assert_eq!(files.len(), plain_shapes().len());
        for ((got, want), file) in files.iter().zip(plain_shapes()).zip(&emit.files) {
            prop_assert_eq!(&got["shape"], want, "{}", file.path);
            for spec in got["specs"].as_array().unwrap() {
                let raw = spec["raw"].as_str().unwrap();
                for delimiter in ["{{", "{%", "{#"] {
                    prop_assert!(!raw.contains(delimiter), "{}: {}", file.path, raw);
                }
                let spec = &spec["json"];
                if let Some(model) = spec.get("model").filter(|m| m.is_object()) {
                    prop_assert_eq!(model["version"].as_str(), Some(text.as_str()));
                    prop_assert_eq!(model["artifact"].as_str(), Some(text.as_str()));
                }
                if let Some(approvers) = spec.get("approvers") {
                    prop_assert_eq!(&approvers[0], &serde_json::Value::from(text.clone()));
                }
                if let Some(topic) = spec.pointer("/feature_view/source/location/topic") {
                    prop_assert_eq!(topic.as_str(), Some(text.as_str()));
                }
            }
            let doc_md = got["strings"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| s.as_str())
                .find(|s| s.starts_with("### "))
                .unwrap();
            prop_assert!(doc_md.contains(text.trim()), "{}: {:?}", file.path, doc_md);
            prop_assert!(!doc_md.ends_with(".md"));
        }
    }
}

/// Each DAG of `platform` as the target writes it (spliced into the skeleton of its
/// shape) and as handlebars renders it from the DAG's whole context.
fn spliced_and_rendered(platform: &Platform) -> Vec<(String, String)> {
    let renderer = Renderer::new(platform).unwrap();
    let ctx = Ctx {
        platform,
        bucket: artifact_bucket_name(&platform.environment),
    };
    let mut scratch = Scratch::default();
    let mut json = Vec::new();
    pipelines(platform)
        .into_iter()
        .map(|pipeline| {
            let dag = ctx.dag(pipeline).unwrap();
            renderer.render(&dag, &mut scratch).unwrap();
            let mut rendered = String::new();
            let view = renderer.view(&dag, &mut json).unwrap();
            renderer.render_template(&view, &mut rendered).unwrap();
            (scratch.out.clone(), rendered)
        })
        .collect()
}

#[test]
fn splicing_writes_what_handlebars_renders() {
    // Two training DAGs of one shape but for the optional lines of `train`, rendered
    // by one renderer (sharing its skeletons): the copy trains without a GPU, so a
    // skeleton chosen by too coarse a shape would give it the original's toleration
    // and node selector. Spec text holds a NUL and a marker, which must land in the
    // file as text.
    let text = "a\0b \u{0}3\u{0} {{ x }}\n\"\"\"";
    let mut platform = platform_with(text);
    let mut copy = Model::clone(platform.models.get("fraud_scorer").unwrap());
    copy.name = "plain_scorer".to_string();
    let training = copy.training.as_mut().unwrap();
    training.resources = Resources {
        cpu: None,
        memory: None,
        gpu: 0,
        accelerator: None,
    };
    platform.models.insert(copy.name.clone(), copy.into());
    let dags = spliced_and_rendered(&platform);
    assert_eq!(dags.len(), 4);
    for (spliced, rendered) in &dags {
        assert_eq!(spliced, rendered);
    }
    assert!(
        dags.iter()
            .any(|(file, _)| file.contains("a\\x00b \\x003\\x00"))
    );
}
