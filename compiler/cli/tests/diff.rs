//! `plinth diff` on real edits of the fraud-detection example, checked against golden
//! files in `tests/golden/diff/` (each opens with the edit and the command that made
//! it; `PLINTH_BLESS=1 cargo test -p plinth --test diff` rewrites them: review the
//! change like code). Also `--base REV` against a real git repository, the JSON shape,
//! and `plinth build --check` listing stale, missing and extra files.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TODAY: &str = "2026-11-24";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh folder holding `old/` and `new/`, both copies of the fraud-detection example.
fn pair(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("plinth-diff-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for side in ["old", "new"] {
        copy_dir(&repo().join("examples/fraud-detection"), &root.join(side));
    }
    root
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        if name == "out" {
            continue;
        }
        if p.is_dir() {
            copy_dir(&p, &to.join(name));
        } else {
            std::fs::copy(&p, to.join(name)).unwrap();
        }
    }
}

/// Replaces `from` (which must occur once) with `to` in `file`.
fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert_eq!(
        text.matches(from).count(),
        1,
        "`{from}` in {}",
        file.display()
    );
    std::fs::write(file, text.replace(from, to)).unwrap();
}

fn append(file: &Path, text: &str) {
    let mut all = std::fs::read_to_string(file).unwrap();
    all.push_str(text);
    std::fs::write(file, all).unwrap();
}

fn plinth_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .args(args)
        .output()
        .unwrap()
}

/// `plinth diff old new ARGS` inside `root`; must succeed.
fn diff(root: &Path, args: &[&str]) -> String {
    let mut all = vec!["diff", "old", "new", "--today", TODAY];
    all.extend_from_slice(args);
    let out = plinth_in(root, &all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Compares with (or, with `PLINTH_BLESS=1`, writes) `tests/golden/diff/NAME`.
fn golden(name: &str, edit: &str, args: &[&str], actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/diff")
        .join(name);
    let text = format!(
        "# edit: {edit}\n# command: plinth diff old new --today {TODAY} {}\n\n{actual}",
        args.join(" ")
    );
    if std::env::var_os("PLINTH_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != text {
        let d = similar::TextDiff::from_lines(&expected, &text)
            .unified_diff()
            .header("expected", "actual")
            .to_string();
        panic!(
            "{} differs (PLINTH_BLESS=1 to accept, then review):\n{d}",
            path.display()
        );
    }
}

#[test]
fn changing_replicas_shows_the_field_and_the_hpa() {
    let root = pair("replicas");
    edit(
        &root.join("new/serving.plinth"),
        "replicas: 3..30",
        "replicas: 2..30",
    );
    let args = ["--env", "prod", "--target", "kubernetes"];
    let out = diff(&root, &args);
    assert!(out.contains("fraud_api.replicas: 3..30 → 2..30"), "{out}");
    assert!(
        out.contains("-  minReplicas: 3\n+  minReplicas: 2\n"),
        "{out}"
    );
    golden(
        "replicas.txt",
        "serving.plinth: `replicas: 3..30` -> `replicas: 2..30`",
        &args,
        &out,
    );
    let args = [
        "--env",
        "prod",
        "--target",
        "kubernetes",
        "--format",
        "markdown",
    ];
    let out = diff(&root, &args);
    assert!(
        out.contains("<details><summary><code>prod/kubernetes</code>: 1 changed, 0 added, 0 removed</summary>"),
        "{out}"
    );
    golden(
        "replicas.md",
        "serving.plinth: `replicas: 3..30` -> `replicas: 2..30`",
        &args,
        &out,
    );
}

#[test]
fn a_pii_column_upstream_changes_the_derived_facts() {
    let root = pair("pii");
    let data = root.join("new/data.plinth");
    edit(
        &data,
        "  column merchant_id { type: string }\n  column amount { type: float64 }\n  column reported_at",
        "  column merchant_id { type: string }\n  /// The cardholder's e-mail, for dispute follow-up.\n  column email { type: string, pii: true }\n  column amount { type: float64 }\n  column reported_at",
    );
    edit(
        &data,
        "  expect chargeback_id_unique {",
        "  /// Distinct cardholder e-mails behind the merchant's chargebacks.\n  feature email_count_90d { type: int64, aggregate: count_distinct(email), window: 90d }\n  expect chargeback_id_unique {",
    );
    let args = ["--summary", "--env", "prod"];
    let out = diff(&root, &args);
    assert!(
        out.contains("merchant_risk.uses_pii: false → true"),
        "{out}"
    );
    assert!(
        out.contains("fraud_scorer.lineage.pii_columns: [transactions.card_id] → [chargebacks.email, transactions.card_id]"),
        "{out}"
    );
    golden(
        "pii-column.txt",
        "data.plinth: a `pii: true` column `email` on `chargebacks`, aggregated by `merchant_risk`",
        &args,
        &out,
    );
}

#[test]
fn adding_a_waiver_waives_a_violation_and_flags_its_expiry() {
    let root = pair("waiver");
    for side in ["old", "new"] {
        edit(
            &root.join(side).join("serving.plinth"),
            "replicas: 3..30",
            "replicas: 1..30",
        );
    }
    append(
        &root.join("new/governance.plinth"),
        "\n/// One replica until the node pool quota is raised.\nwaiver fraud_api_one_replica {\n  policy: \"reliability.tier1-min-replicas\"\n  target: fraud_api\n  reason: \"GPU quota in eu-west-1 is exhausted until December\"\n  approved_by: \"cto@acme.example\"\n  expires: 2026-12-15\n}\n",
    );
    let args = ["--format", "markdown"];
    let out = diff(&root, &args);
    assert!(out.starts_with("<!-- plinth-diff -->\n"), "{out}");
    assert!(
        out.contains("**now waived**: error reliability.tier1-min-replicas on `fraud_api`"),
        "{out}"
    );
    assert!(out.contains("**waiver expiring**"), "{out}");
    golden(
        "waiver.md",
        "both sides run `fraud_api` with `replicas: 1..30`; governance.plinth: a waiver for `reliability.tier1-min-replicas` expiring 2026-12-15",
        &args,
        &out,
    );
}

#[test]
fn renaming_a_service_with_the_same_body_is_a_rename() {
    let root = pair("rename");
    edit(
        &root.join("new/serving.plinth"),
        "service fraud_api ",
        "service fraud_scoring_api ",
    );
    edit(
        &root.join("new/governance.plinth"),
        "target: fraud_api",
        "target: fraud_scoring_api",
    );
    let args = ["--summary", "--env", "prod", "--target", "kubernetes"];
    let out = diff(&root, &args);
    assert!(
        out.contains("service fraud_api → fraud_scoring_api (renamed, body unchanged)"),
        "{out}"
    );
    // The waiver follows the rename, so the policy delta is empty.
    assert!(!out.contains("\nPolicy\n"), "{out}");
    golden(
        "rename.txt",
        "serving.plinth: `service fraud_api` -> `service fraud_scoring_api`; the waiver's target follows",
        &args,
        &out,
    );
}

#[test]
fn reordering_declarations_within_and_across_files_is_an_empty_diff() {
    let root = pair("reorder");
    let new = root.join("new");
    // Reverse the declarations of data.plinth.
    let data = std::fs::read_to_string(new.join("data.plinth")).unwrap();
    let mut decls: Vec<&str> = data.trim_end().split("\n\n").collect();
    assert!(decls.len() > 4);
    decls.reverse();
    std::fs::write(new.join("data.plinth"), decls.join("\n\n") + "\n").unwrap();
    // Move every declaration of serving.plinth to another file.
    let serving = std::fs::read_to_string(new.join("serving.plinth")).unwrap();
    std::fs::write(new.join("zz_moved.plinth"), serving).unwrap();
    std::fs::write(new.join("serving.plinth"), "").unwrap();
    let out = diff(&root, &[]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "plinth diff old → new");
    assert!(
        lines[1].starts_with("note: ")
            && lines[1].contains("differ only in the spec file they name"),
        "{out}"
    );
    assert_eq!(&lines[2..], ["", "No changes."], "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&diff(&root, &["--format", "json"])).unwrap();
    for key in ["declarations", "derived", "outputs"] {
        assert_eq!(json[key], serde_json::json!([]), "{key}");
    }
}

#[test]
fn json_has_every_layer() {
    let root = pair("json");
    edit(
        &root.join("new/serving.plinth"),
        "replicas: 3..30",
        "replicas: 1..30",
    );
    let json: serde_json::Value =
        serde_json::from_str(&diff(&root, &["--format", "json"])).unwrap();
    let decl = &json["declarations"][0];
    assert_eq!(decl["change"], "changed");
    assert_eq!(decl["kind"], "service");
    assert_eq!(decl["fields"][0]["path"], "fraud_api.replicas");
    assert_eq!(decl["fields"][0]["before"], "3..30");
    assert_eq!(decl["fields"][0]["after"], "1..30");
    let introduced = &json["policy"]["introduced"][0];
    assert_eq!(introduced["policy"], "reliability.tier1-min-replicas");
    assert_eq!(introduced["target"], "fraud_api");
    assert_eq!(introduced["severity"], "error");
    assert_eq!(introduced["waived_by"], serde_json::Value::Null);
    let hpa = json["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["environment"] == "prod" && t["target"] == "kubernetes")
        .flat_map(|t| t["files"].as_array().unwrap())
        .find(|f| f["path"] == "fraud_api.yaml#HorizontalPodAutoscaler/fraud-api")
        .unwrap();
    assert_eq!(hpa["status"], "changed");
    assert!(
        hpa["diff"]
            .as_str()
            .unwrap()
            .contains("+  minReplicas: 1\n")
    );
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=plinth",
            "-c",
            "user.email=plinth@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn base_compares_the_working_tree_with_a_revision() {
    let root = std::env::temp_dir().join(format!("plinth-diff-git-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    // The workspace sits in a subfolder of the repository, next to committed output.
    let ws = root.join("specs/fraud");
    copy_dir(&repo().join("examples/fraud-detection"), &ws);
    std::fs::create_dir_all(ws.join("out/prod")).unwrap();
    std::fs::write(ws.join("out/prod/stale.yaml"), "kind: Old\n").unwrap();
    git(&root, &["init", "-q"]);
    git(&root, &["add", "."]);
    git(&root, &["commit", "-q", "-m", "fraud"]);
    // Unchanged working tree: nothing to report.
    let out = plinth_in(&ws, &["diff", "--base", "HEAD", "--today", TODAY]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "plinth diff HEAD → working tree\n\nNo changes.\n"
    );
    edit(
        &ws.join("serving.plinth"),
        "replicas: 3..30",
        "replicas: 2..30",
    );
    let out = plinth_in(
        &root,
        &[
            "diff",
            "--base",
            "HEAD",
            "specs/fraud",
            "--today",
            TODAY,
            "--summary",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("plinth diff HEAD → specs/fraud (working tree)\n"),
        "{text}"
    );
    assert!(text.contains("fraud_api.replicas: 3..30 → 2..30"), "{text}");
    // The ONNX artifact came from the revision too: no spec errors on the old side.
    assert!(!text.contains("note:"), "{text}");
    // A revision that does not exist is an error, not an empty diff.
    let out = plinth_in(&ws, &["diff", "--base", "no-such-branch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`no-such-branch` is not a commit"));
}

#[test]
fn bad_arguments_exit_2() {
    let root = pair("args");
    for args in [
        vec!["diff", "old"],
        vec!["diff", "old", "new", "more"],
        vec!["diff", "old", "missing"],
        vec!["diff", "old", "new", "--target", "helm"],
        vec!["diff", "old", "new", "--today", "tomorrow"],
    ] {
        let out = plinth_in(&root, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("error: "),
            "{args:?}"
        );
    }
}

#[test]
fn build_check_lists_changed_missing_and_extra_files() {
    let root = pair("build-check");
    let ws = root.join("new");
    let built = plinth_in(&ws, &["build"]);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let up_to_date = plinth_in(&ws, &["build", "--check"]);
    assert_eq!(up_to_date.status.code(), Some(0));
    let missing = "out/prod/triton/model_repository/fraud_scorer/config.pbtxt";
    std::fs::remove_file(ws.join(missing)).unwrap();
    std::fs::write(ws.join("out/prod/kubernetes/leftover.yaml"), "kind: Old\n").unwrap();
    edit(
        &ws.join("serving.plinth"),
        "replicas: 3..30",
        "replicas: 2..30",
    );
    let stale = plinth_in(&ws, &["build", "--check"]);
    assert_eq!(stale.status.code(), Some(1));
    let listed = String::from_utf8_lossy(&stale.stdout);
    for line in [
        "changed  prod/kubernetes/fraud_api.yaml",
        "missing  prod/triton/model_repository/fraud_scorer/config.pbtxt",
        "extra    prod/kubernetes/leftover.yaml",
    ] {
        assert!(listed.lines().any(|l| l == line), "{line} in\n{listed}");
    }
    assert!(String::from_utf8_lossy(&stale.stderr).contains("run `plinth build`"));
    // `--check` never writes.
    assert!(!ws.join(missing).exists());
}
