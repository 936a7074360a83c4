//! The data suites, from one test binary:
//! - `diagnostics/`: each case file is checked together with `prelude.plinth`; every
//!   diagnostic must match an annotation `// error[CODE]` or `// warning[CODE]` on the
//!   line it starts on, and every annotation must be matched.
//! - `examples/`: every example checks clean and is formatted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use plinth_tests::{check_files, read_dir_sorted, repo_root};
use std::collections::BTreeSet;

/// `(line, severity, code)` of each annotation in `text`.
fn annotations(text: &str) -> BTreeSet<(usize, String, String)> {
    let mut out = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        for severity in ["error", "warning"] {
            let marker = format!("// {severity}[");
            if let Some(pos) = line.find(&marker) {
                let rest = &line[pos + marker.len()..];
                if let Some(end) = rest.find(']') {
                    out.insert((i + 1, severity.to_string(), rest[..end].to_string()));
                }
            }
        }
    }
    out
}

#[test]
fn diagnostics_match_annotations() {
    let dir = repo_root().join("tests/diagnostics");
    let prelude = std::fs::read_to_string(dir.join("prelude.plinth")).unwrap();
    let mut failures = Vec::new();
    let mut codes = BTreeSet::new();
    let mut cases = 0;
    for (name, text) in read_dir_sorted(&dir, "plinth") {
        if name == "prelude.plinth" {
            continue;
        }
        let files = vec![
            ("0-prelude.plinth".to_string(), prelude.clone()),
            (name.clone(), text.clone()),
        ];
        let diags = check_files(files);
        let expected = annotations(&text);
        cases += expected.len();
        let mut actual = BTreeSet::new();
        for d in &diags {
            if d.file != name {
                failures.push(format!(
                    "{name}: unexpected diagnostic in {}: {} {}",
                    d.file, d.code, d.message
                ));
                continue;
            }
            let line = plinth_syntax::line_col(&text, d.span.start as usize).0;
            actual.insert((line, d.severity.as_str().to_string(), d.code.clone()));
            codes.insert(d.code.clone());
        }
        for miss in expected.difference(&actual) {
            failures.push(format!(
                "{name}:{}: expected {}[{}], not reported",
                miss.0, miss.1, miss.2
            ));
        }
        for extra in actual.difference(&expected) {
            let d = diags
                .iter()
                .find(|d| d.code == extra.2)
                .map(|d| d.message.clone())
                .unwrap_or_default();
            failures.push(format!(
                "{name}:{}: unexpected {}[{}]: {d}",
                extra.0, extra.1, extra.2
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases >= 40, "only {cases} annotated cases");
    assert!(
        codes.len() >= 40,
        "only {} distinct codes covered: {codes:?}",
        codes.len()
    );
}

#[test]
fn ten_mistakes_give_ten_diagnostics() {
    let dir = repo_root().join("tests/diagnostics");
    let prelude = std::fs::read_to_string(dir.join("prelude.plinth")).unwrap();
    let text = std::fs::read_to_string(dir.join("ten_mistakes.plinth")).unwrap();
    let diags = check_files(vec![
        ("0-prelude.plinth".into(), prelude),
        ("ten_mistakes.plinth".into(), text.clone()),
    ]);
    let lines: BTreeSet<usize> = diags
        .iter()
        .map(|d| plinth_syntax::line_col(&text, d.span.start as usize).0)
        .collect();
    assert_eq!(diags.len(), 10, "{diags:#?}");
    assert_eq!(lines.len(), 10, "each mistake on its own line: {lines:?}");
}

#[test]
fn examples_check_clean_and_are_formatted() {
    let examples = repo_root().join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("plinth.toml").exists() {
            continue;
        }
        seen += 1;
        let files = plinth_tests::read_workspace(&dir);
        for (path, text) in &files {
            let formatted = plinth_syntax::format(text).unwrap_or_default();
            assert_eq!(
                &formatted,
                text,
                "{}/{path} is not formatted",
                dir.display()
            );
        }
        let diags = check_files(files);
        assert!(diags.is_empty(), "{}: {diags:#?}", dir.display());
    }
    assert!(seen >= 3, "expected at least three examples");
}

#[test]
fn committed_json_schema_is_current_and_valid() {
    let db = plinth_check::Db::default();
    let ws = plinth_check::load(&db, Vec::new());
    let enums = &plinth_check::db::analysis(&db, ws).enums;
    let schema = plinth_check::schema::json_schema(enums);
    let expected = format!("{}\n", serde_json::to_string_pretty(&schema).unwrap());
    let path = repo_root().join("stdlib/plinth.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{} is stale: run `plinth schema > stdlib/plinth.schema.json`",
        path.display()
    );

    let validator = jsonschema::validator_for(&schema).unwrap();
    let good = serde_json::json!({
        "service": {"api": {"model": "m", "replicas": "2..4", "rollout": {"canary": {"steps": ["10%"]}},
                            "slo": {"latency": {"percentile": 99, "threshold": "40ms", "objective": "99%"}}}},
        "environment": {"prod": {"tier": "production", "region": "eu_west_1"}}
    });
    assert!(
        validator.is_valid(&good),
        "{:?}",
        validator
            .iter_errors(&good)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
    for bad in [
        serde_json::json!({"service": {"api": {"model": "m"}}}),
        serde_json::json!({"service": {"api": {"model": "m", "replicas": "2..4", "replcas": "1..2"}}}),
        serde_json::json!({"environment": {"prod": {"tier": "prod", "region": "eu_west_1"}}}),
        serde_json::json!({"servce": {}}),
    ] {
        assert!(!validator.is_valid(&bad), "accepted {bad}");
    }
}

#[test]
fn every_emitted_code_is_documented() {
    let documented = |code: &str| {
        plinth_check::codes::lookup(code).is_some()
            || plinth_policy::codes::lookup(code).is_some()
            || plinth_targets::codes::lookup(code).is_some()
    };
    let mut missing = BTreeSet::new();
    let mut seen = 0;
    let compiler = repo_root().join("compiler");
    for crate_dir in std::fs::read_dir(&compiler).unwrap().flatten() {
        for path in plinth_tests::list_files(&crate_dir.path().join("src")) {
            if !path.ends_with(".rs") || path.ends_with("codes.rs") {
                continue;
            }
            let text = std::fs::read_to_string(crate_dir.path().join("src").join(&path)).unwrap();
            for piece in text.split('"').skip(1).step_by(2) {
                if piece.starts_with("plinth::")
                    && piece.matches("::").count() == 2
                    && !piece.contains(' ')
                {
                    seen += 1;
                    if !documented(piece) {
                        missing.insert(format!(
                            "{}/src/{path}: {piece}",
                            crate_dir.file_name().to_string_lossy()
                        ));
                    }
                }
            }
        }
    }
    for code in [
        plinth_syntax::codes::UNEXPECTED,
        plinth_syntax::codes::UNCLOSED,
        plinth_syntax::codes::STRING,
        plinth_syntax::codes::NUMBER,
        plinth_syntax::codes::IDENT,
        plinth_syntax::codes::NESTING,
    ] {
        if !documented(code) {
            missing.insert(code.to_string());
        }
    }
    assert!(seen > 60, "found only {seen} code literals");
    assert!(missing.is_empty(), "undocumented codes: {missing:#?}");
}
