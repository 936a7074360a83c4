//! The policy engine as CI runs it: exit codes, waivers, SARIF (validated against the
//! official SARIF 2.1.0 schema), JUnit, the decision log, explain and bad input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TODAY: &str = "2026-11-24";

fn plinth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .output()
        .unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A workspace in a fresh temp folder: `files` are `(name, text)`.
fn workspace(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plinth-policy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

const BASE: &str = r#"
team t { owner: "t@test.example"  cost_center: "CC-1" }
environment prod { tier: production  region: eu_west_1 }
source events { kind: kafka  topic: "e"  owner: t  classification: internal  region: eu_west_1  retention: 30d
  column id { type: string }  column k { type: string }  column amount { type: float64 } }
entity key { key: k  type: string }
feature_view fv { entity: key  source: events  online: true  freshness: 5m  schedule: "*/5 * * * *"  ttl: 7d
  image: "r/m:1.0"  feature n { type: int64  aggregate: count(id) }  expect e { column: amount  min: 0 } }
model m { owner: t  format: onnx  artifact: "s3://m/m.onnx"  version: "1"  risk: minimal  inputs: [fv.n]
  output y { dtype: float32  shape: [1] } }
"#;

/// Two tier-1 services with one replica: `reliability.tier1-min-replicas` fires twice.
const TWO_SMALL: &str = r#"
service a { model: m  tier: tier1  replicas: 1..3  rollout: blue_green
  slo availability { objective: 99.9% }  slo latency { percentile: 99  threshold: 50ms  objective: 99% }
  monitor drift { feature: fv.n  threshold: 0.2 } }
service b { model: m  tier: tier1  replicas: 1..3  rollout: blue_green
  slo availability { objective: 99.9% }  slo latency { percentile: 99  threshold: 50ms  objective: 99% }
  monitor drift { feature: fv.n  threshold: 0.2 } }
"#;

const WAIVE_A: &str = r#"
waiver a_small {
  policy: "reliability.tier1-min-replicas"
  target: a
  reason: "Load test pending"
  approved_by: "sre@test.example"
  expires: 2027-01-31
}
"#;

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn policies(report: &Value) -> Vec<(String, String, String)> {
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| {
            Some((
                d["policy"].as_str()?.to_string(),
                d["severity"].as_str()?.to_string(),
                d["file"].as_str()?.to_string(),
            ))
        })
        .collect()
}

#[test]
fn examples_check_clean() {
    for ex in ["fraud-detection", "recommendations", "churn"] {
        let dir = repo().join("examples").join(ex);
        let out = plinth(&["check", dir.to_str().unwrap(), "--today", TODAY]);
        assert_eq!(out.status.code(), Some(0), "{ex}:\n{}", stderr(&out));
        assert!(
            stderr(&out).ends_with("0 errors, 0 warnings\n"),
            "{ex}:\n{}",
            stderr(&out)
        );
    }
}

#[test]
fn violations_exit_1_with_policy_ids_at_the_field() {
    let dir = workspace("violations", &[("a.plinth", BASE), ("s.plinth", TWO_SMALL)]);
    let out = plinth(&[
        "check",
        dir.to_str().unwrap(),
        "--today",
        TODAY,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report = json(&out);
    let found = policies(&report);
    let small: Vec<_> = found
        .iter()
        .filter(|(p, ..)| p == "reliability.tier1-min-replicas")
        .collect();
    assert_eq!(small.len(), 2, "{found:?}");
    // Single-region tier-1 services also get the multi-region warning.
    assert!(
        found
            .iter()
            .any(|(p, s, _)| p == "reliability.multi-region-tier1" && s == "warning")
    );
    let d = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["policy"] == "reliability.tier1-min-replicas")
        .unwrap();
    assert_eq!(d["code"], "plinth::policy");
    assert_eq!(d["file"], "s.plinth");
    // `@field("replicas")`: the span is the value `1..3` on line 2.
    assert_eq!(d["line"], 2);
    assert!(d["help"].as_str().unwrap().contains("replicas"));
}

#[test]
fn spec_errors_win_over_policy_errors() {
    let bad = format!("{TWO_SMALL}\nteam broken {{ owner: 5m }}\n");
    let dir = workspace("spec-wins", &[("a.plinth", BASE), ("s.plinth", &bad)]);
    let out = plinth(&["check", dir.to_str().unwrap(), "--today", TODAY]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn a_waiver_silences_exactly_one_rule_for_one_target() {
    let dir = workspace(
        "waiver",
        &[
            ("a.plinth", BASE),
            ("s.plinth", TWO_SMALL),
            ("w.plinth", WAIVE_A),
        ],
    );
    let out = plinth(&[
        "check",
        dir.to_str().unwrap(),
        "--today",
        TODAY,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    let small: Vec<_> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["policy"] == "reliability.tier1-min-replicas")
        .collect();
    assert_eq!(small.len(), 1, "{report:#}");
    assert_eq!(small[0]["line"], 5, "b's replicas remain: {report:#}");
    // a's other findings are not waived.
    let warnings = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["policy"] == "reliability.multi-region-tier1")
        .count();
    assert_eq!(warnings, 2);

    // SARIF lists the waived violation with a suppression.
    let out = plinth(&[
        "check",
        dir.to_str().unwrap(),
        "--today",
        TODAY,
        "--format",
        "sarif",
    ]);
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    validate_sarif(&sarif);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let suppressed: Vec<_> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["ruleId"], "reliability.tier1-min-replicas");
    assert!(
        suppressed[0]["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .contains("a_small")
    );
}

#[test]
fn an_expired_waiver_fails_and_the_violation_returns() {
    let dir = workspace(
        "expired",
        &[
            ("a.plinth", BASE),
            ("s.plinth", TWO_SMALL),
            ("w.plinth", WAIVE_A),
        ],
    );
    let out = plinth(&[
        "check",
        dir.to_str().unwrap(),
        "--today",
        "2027-02-01",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    let all = report["diagnostics"].as_array().unwrap();
    assert!(all.iter().any(|d| {
        d["code"] == "plinth::policy::waiver"
            && d["message"]
                .as_str()
                .unwrap()
                .contains("expired on 2027-01-31")
            && d["file"] == "w.plinth"
            && d["line"] == 7
    }));
    let small = all
        .iter()
        .filter(|d| d["policy"] == "reliability.tier1-min-replicas")
        .count();
    assert_eq!(small, 2);
}

#[test]
fn waiver_problems_are_reported() {
    let waivers = r#"
waiver typo { policy: "reliability.tier1-min-replica"  target: a  reason: "r"  approved_by: "x@test.example"  expires: 2027-01-01 }
waiver too_long { policy: "reliability.tier1-min-replicas"  target: a  reason: "r"  approved_by: "x@test.example"  expires: 2028-01-01 }
waiver unused { policy: "security.image-pinned"  target: fv  reason: "r"  approved_by: "x@test.example"  expires: 2027-01-01 }
"#;
    let dir = workspace(
        "waiver-problems",
        &[
            ("a.plinth", BASE),
            ("s.plinth", TWO_SMALL),
            ("w.plinth", waivers),
        ],
    );
    let out = plinth(&[
        "check",
        dir.to_str().unwrap(),
        "--today",
        TODAY,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    let waiver_diags: Vec<(String, String, Option<String>)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "plinth::policy::waiver")
        .map(|d| {
            (
                d["severity"].as_str().unwrap().to_string(),
                d["message"].as_str().unwrap().to_string(),
                d["help"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert!(
        waiver_diags.iter().any(|(s, m, h)| s == "error"
            && m.contains("names no policy `reliability.tier1-min-replica`")
            && h.as_deref()
                .unwrap()
                .contains("did you mean `reliability.tier1-min-replicas`")),
        "{waiver_diags:#?}"
    );
    assert!(
        waiver_diags.iter().any(|(s, m, _)| s == "error"
            && m.contains("longer than the workspace's maximum of 180 days")),
        "{waiver_diags:#?}"
    );
    assert!(
        waiver_diags
            .iter()
            .any(|(s, m, _)| s == "warning" && m.contains("`unused` suppresses nothing")),
        "{waiver_diags:#?}"
    );
}

#[test]
fn a_waiver_date_in_the_wrong_format_is_an_error() {
    let waiver = WAIVE_A.replace("2027-01-31", "\"2027-01-31\"");
    let dir = workspace(
        "waiver-date",
        &[
            ("a.plinth", BASE),
            ("s.plinth", TWO_SMALL),
            ("w.plinth", &waiver),
        ],
    );
    let out = plinth(&["check", dir.to_str().unwrap(), "--today", TODAY]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("w.plinth"), "{}", stderr(&out));

    let out = plinth(&["check", dir.to_str().unwrap(), "--today", "24.11.2026"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("YYYY-MM-DD"));
}

#[test]
fn an_unknown_pack_fails_with_a_span_in_plinth_toml() {
    let toml = "[policy]\npacks = [\"baseline\", \"eu-ai-akt\"]\n";
    let dir = workspace("pack", &[("a.plinth", BASE), ("plinth.toml", toml)]);
    let out = plinth(&["check", dir.to_str().unwrap(), "--today", TODAY]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("no policy pack named `eu-ai-akt`"), "{err}");
    assert!(err.contains("plinth.toml:2"), "{err}");
    assert!(err.contains("did you mean `eu-ai-act`"), "{err}");
}

/// `packs = []` and no folders of its own: the spec is checked, no policy runs, and one
/// warning says so (not an error per request that no policy permits).
#[test]
fn no_policies_selected_is_one_warning() {
    let toml = "[policy]\npacks = []\n";
    let dir = workspace("nopacks", &[("a.plinth", BASE), ("plinth.toml", toml)]);
    let out = plinth(&["check", dir.to_str().unwrap(), "--today", TODAY]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches("no policies are selected").count(), 1, "{err}");
    assert!(err.contains("plinth.toml:2"), "{err}");
    assert!(err.contains("0 errors"), "{err}");
    // `explain` of a declaration says why there is nothing to show.
    let out = plinth(&["explain", "m", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the workspace selects none"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_broken_workspace_policy_fails_closed_with_a_span() {
    let toml = "[policy]\npacks = [\"baseline\"]\npaths = [\"policies\"]\n";
    let missing_attr = "@id(\"team.gpu-cap\")\n@severity(\"error\")\n@message(\"m\")\n@help(\"h\")\nforbid (principal, action == Plinth::Action::\"deploy\", resource is Plinth::Service)\nwhen { resource.resources.gpus > 4 };\n";
    let dir = workspace(
        "broken-policy",
        &[
            ("a.plinth", BASE),
            ("plinth.toml", toml),
            ("policies/team.cedar", missing_attr),
        ],
    );
    let out = plinth(&[
        "check",
        dir.to_str().unwrap(),
        "--today",
        TODAY,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report = json(&out);
    let d = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "plinth::policy::load")
        .unwrap();
    assert_eq!(d["file"], "policies/team.cedar");
    assert_eq!(d["line"], 6);

    let syntax = "@id(\"team.x\") forbid (principal, action, resource) when { resource. };";
    std::fs::write(dir.join("policies/team.cedar"), syntax).unwrap();
    let out = plinth(&["check", dir.to_str().unwrap(), "--today", TODAY]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cedar syntax"), "{}", stderr(&out));

    // A working workspace policy applies like a built-in one.
    let ok = "@id(\"team.no-big-batches\")\n@severity(\"error\")\n@message(\"batch too big\")\n@help(\"use 32\")\n@field(\"replicas\")\nforbid (principal, action == Plinth::Action::\"deploy\", resource is Plinth::Service)\nwhen { resource.replicas.max > 2 };\n";
    std::fs::write(dir.join("policies/team.cedar"), ok).unwrap();
    std::fs::write(
        dir.join("s.plinth"),
        "service c { model: m  replicas: 1..3 }\n",
    )
    .unwrap();
    let out = plinth(&[
        "check",
        dir.to_str().unwrap(),
        "--today",
        TODAY,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        policies(&json(&out))
            .iter()
            .any(|(p, ..)| p == "team.no-big-batches")
    );
}

fn validate_sarif(sarif: &Value) {
    let schema_path = repo().join("tests/schemas/sarif-schema-2.1.0.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let dir = repo().join("examples/fraud-detection");
    let out = plinth(&[
        "check",
        dir.to_str().unwrap(),
        "--today",
        TODAY,
        "--format",
        "sarif",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    validate_sarif(&sarif);
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert!(run["tool"]["driver"]["rules"].as_array().unwrap().len() >= 30);
    // The fraud example's waiver shows up as a suppressed result.
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ruleId"], "reliability.multi-region-tier1");
    assert_eq!(results[0]["suppressions"][0]["status"], "accepted");

    // Spec errors and policy errors validate too.
    let dir = workspace("sarif", &[("a.plinth", BASE), ("s.plinth", TWO_SMALL)]);
    let out = plinth(&[
        "check",
        dir.to_str().unwrap(),
        "--today",
        TODAY,
        "--format",
        "sarif",
    ]);
    assert_eq!(out.status.code(), Some(1));
    validate_sarif(&serde_json::from_slice(&out.stdout).unwrap());
    std::fs::write(dir.join("x.plinth"), "team broken { owner: 5m }\n").unwrap();
    let out = plinth(&[
        "check",
        dir.to_str().unwrap(),
        "--today",
        TODAY,
        "--format",
        "sarif",
    ]);
    assert_eq!(out.status.code(), Some(2));
    validate_sarif(&serde_json::from_slice(&out.stdout).unwrap());
}

#[test]
fn junit_has_a_failing_case_per_violated_rule() {
    let dir = workspace("junit", &[("a.plinth", BASE), ("s.plinth", TWO_SMALL)]);
    let out = plinth(&[
        "check",
        dir.to_str().unwrap(),
        "--today",
        TODAY,
        "--format",
        "junit",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let xml = stdout(&out);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"));
    assert!(xml.contains("<testcase name=\"reliability.tier1-min-replicas\" classname=\"plinth.policy\">\n      <failure"));
    assert!(xml.contains("<testsuite name=\"policies\""));
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert_eq!(
        xml.matches("<testcase").count(),
        xml.matches("</testcase>").count()
    );
}

#[test]
fn build_writes_the_decision_log() {
    let src = repo().join("examples/churn");
    let out_dir = std::env::temp_dir().join(format!("plinth-policy-build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let out = plinth(&[
        "build",
        src.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = std::fs::read_to_string(out_dir.join("prod/evidence/decisions.jsonl")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 8, "{log}");
    let read = lines
        .iter()
        .find(|l| {
            l["request"]["action"]["id"] == "read"
                && l["request"]["principal"]["id"] == "churn_scoring"
        })
        .unwrap();
    assert_eq!(read["decision"], "allow");
    assert_eq!(read["request"]["environment"], "prod");
    assert!(
        read["determining_policies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "baseline.allow")
    );
    assert!(out_dir.join("staging/evidence/decisions.jsonl").is_file());
}

#[test]
fn explain_shows_policies_and_declarations() {
    let out = plinth(&["explain", "reliability.tier1-min-replicas"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("fewer than 2 replicas"), "{text}");
    assert!(text.contains("resource.replicas.min < 2"), "{text}");
    assert!(
        text.contains("policies/baseline/reliability.cedar"),
        "{text}"
    );

    let dir = repo().join("examples/fraud-detection");
    let out = plinth(&["explain", "fraud_api", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("\"type\": \"Plinth::Service\""), "{text}");
    assert!(
        text.contains("reliability.multi-region-tier1 waived by fraud_api_single_region"),
        "{text}"
    );
    assert!(
        text.contains("read Service::\"fraud_api\" -> Model::\"fraud_scorer\""),
        "{text}"
    );

    let out = plinth(&["explain", "plinth::policy::waiver"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("time-boxed"));
}

#[test]
fn cedar_schema_command_prints_the_committed_schema() {
    let out = plinth(&["schema", "--cedar"]);
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(repo().join("policies/schema.cedarschema")).unwrap();
    assert_eq!(stdout(&out), committed);
}

#[test]
fn test_policies_passes() {
    let out = plinth(&["test-policies"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains(" 0 failed"));
}
