//! `plinth graph`: DOT and Mermaid output of the examples, classification colours,
//! environment filtering, policy violations, and the message when graphviz is missing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn plinth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .output()
        .unwrap()
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn dot_shows_the_data_flow_coloured_by_classification() {
    let dot = stdout(&plinth(&["graph", &example("fraud-detection")]));
    assert!(dot.starts_with("digraph plinth {"), "{dot}");
    // sources -> feature views -> model -> service and batch job -> its output.
    for edge in [
        "\"transactions\" -> \"card_velocity\"",
        "\"card_velocity\" -> \"fraud_scorer\"",
        "\"fraud_scorer\" -> \"fraud_api\"",
        "\"fraud_scorer\" -> \"fraud_rescoring\"",
        "\"transactions_archive\" -> \"fraud_rescoring\"",
        "\"fraud_rescoring\" -> \"fraud_rescores\"",
    ] {
        assert!(dot.contains(edge), "missing {edge}:\n{dot}");
    }
    // The model's data classification is derived from its inputs.
    assert!(
        dot.contains("\"fraud_scorer\" [label=\"fraud_scorer\\nmodel · confidential · PII\", shape=\"box3d\", fillcolor=\"#fbe5b6\"]"),
        "{dot}"
    );
    // Teams and environments are not part of the data flow.
    assert!(!dot.contains("\"risk_ml\""), "{dot}");
    // The same bytes every run.
    assert_eq!(
        dot,
        stdout(&plinth(&["graph", &example("fraud-detection")]))
    );
}

#[test]
fn mermaid_for_one_environment() {
    let all = stdout(&plinth(&[
        "graph",
        &example("fraud-detection"),
        "--format",
        "mermaid",
    ]));
    assert!(all.starts_with("flowchart LR\n"), "{all}");
    assert!(all.contains("  n_fraud_scorer --> n_fraud_api\n"), "{all}");
    assert!(all.contains("n_fraud_rescoring"), "{all}");
    // The batch job runs in prod only; staging has no batch job and no archive.
    let staging = stdout(&plinth(&[
        "graph",
        &example("fraud-detection"),
        "--format",
        "mermaid",
        "--env",
        "staging",
    ]));
    assert!(staging.contains("n_fraud_api("), "{staging}");
    assert!(!staging.contains("n_fraud_rescoring"), "{staging}");
    assert!(!staging.contains("n_transactions_archive"), "{staging}");
    assert!(
        staging.contains("classDef confidential fill:#fbe5b6"),
        "{staging}"
    );

    let out = plinth(&["graph", &example("fraud-detection"), "--env", "nowhere"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no environment `nowhere`"), "{err}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn temp_copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plinth-graph-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(Path::new(&example("fraud-detection")), &dir);
    dir
}

#[test]
fn policy_violations_are_marked() {
    let dir = temp_copy("violation");
    let serving = dir.join("serving.plinth");
    let text = std::fs::read_to_string(&serving).unwrap();
    std::fs::write(
        &serving,
        text.replace("  callers:", "  expose: public\n  callers:"),
    )
    .unwrap();
    let dot = stdout(&plinth(&["graph", dir.to_str().unwrap()]));
    let line = dot
        .lines()
        .find(|l| l.starts_with("  \"fraud_api\" ["))
        .unwrap();
    assert!(line.contains("denied: "), "{line}");
    assert!(line.contains("security.no-public-confidential"), "{line}");
    assert!(line.contains("color=\"#d00000\", penwidth=3"), "{line}");
    let mermaid = stdout(&plinth(&[
        "graph",
        dir.to_str().unwrap(),
        "--format",
        "mermaid",
    ]));
    assert!(
        mermaid.contains("  class n_fraud_api denied\n"),
        "{mermaid}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn svg_without_graphviz_says_what_to_install() {
    let empty = std::env::temp_dir().join(format!("plinth-graph-nopath-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(["graph", &example("recommendations"), "--format", "svg"])
        .env("PATH", &empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs graphviz's `dot`"), "{err}");
    assert!(err.contains("--format dot"), "{err}");
    assert!(out.stdout.is_empty());
}
