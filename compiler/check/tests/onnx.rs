//! The ONNX signature check on real models: the fixture workspace in
//! `tests/fixtures/onnx/` checks clean, every annotated line of its `mismatch.plinth.in`
//! gets its diagnostic (and no other line gets one), and the fraud example's bundled model
//! catches a changed feature type, naming both dtypes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use plinth_check::artifacts::{ArtifactError, Artifacts, onnx_artifacts, signature_diagnostics};
use plinth_check::db::analysis;
use plinth_check::onnx::read_signature;
use plinth_check::{Db, diagnostics, load};
use plinth_syntax::Diagnostic;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn plinth_files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "plinth"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// Every diagnostic of the workspace, the signature check's included, reading the
/// artifacts from `root` as the CLI does.
fn check(root: &Path, files: Vec<(String, String)>) -> Vec<Diagnostic> {
    let db = Db::default();
    let ws = load(&db, plinth_check::shared(files));
    let found: BTreeMap<_, _> = onnx_artifacts(analysis(&db, ws))
        .into_iter()
        .map(|p| {
            let read = match std::fs::read(root.join(&p)) {
                Ok(bytes) => read_signature(&bytes).map_err(ArtifactError::Invalid),
                Err(e) => Err(ArtifactError::Unreadable(e.to_string())),
            };
            (p, read)
        })
        .collect();
    let artifacts = Artifacts::new(&db, found);
    let mut all = diagnostics(&db, ws);
    all.extend(signature_diagnostics(&db, ws, artifacts).iter().cloned());
    all
}

#[test]
fn fixture_workspace_checks_clean() {
    let root = repo().join("tests/fixtures/onnx");
    let diags = check(&root, plinth_files(&root));
    assert!(diags.is_empty(), "{diags:#?}");
}

#[test]
fn mismatches_are_reported_on_their_annotated_lines() {
    let root = repo().join("tests/fixtures/onnx");
    let text = std::fs::read_to_string(root.join("mismatch.plinth.in")).unwrap();
    let mut files = plinth_files(&root);
    files.push(("mismatch.plinth".to_string(), text.clone()));
    let diags = check(&root, files);

    let mut expected = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        for severity in ["error", "warning"] {
            if let Some(rest) = line.split(&format!("// {severity}[")).nth(1) {
                let code = rest.split(']').next().unwrap();
                expected.insert((i + 1, severity.to_string(), code.to_string()));
            }
        }
    }
    let mut actual = BTreeSet::new();
    for d in &diags {
        assert_eq!(d.file, "mismatch.plinth", "{d:#?}");
        let line = plinth_syntax::line_col(&text, d.span.start as usize).0;
        actual.insert((line, d.severity.as_str().to_string(), d.code.clone()));
        let no_signature = ["plinth::onnx::unreadable", "plinth::onnx::invalid"];
        if d.code.starts_with("plinth::onnx::") && !no_signature.contains(&d.code.as_str()) {
            let help = d.help.as_deref().unwrap_or("");
            assert!(
                help.contains("has inputs: "),
                "no signature in the help: {d:#?}"
            );
        }
    }
    assert_eq!(actual, expected);

    let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    assert!(
        messages.contains(
            &"input `features` is float64 in the spec but float32 in `models/scorer.onnx`"
        )
    );
    assert!(
        messages
            .contains(&"input `amount` is float32 in the spec but float64 in `models/typed.onnx`")
    );
}

#[test]
fn fraud_example_matches_its_model_until_a_feature_type_changes() {
    let root = repo().join("examples/fraud-detection");
    let files = plinth_files(&root);
    let diags = check(&root, files.clone());
    assert!(diags.is_empty(), "{diags:#?}");

    let changed: Vec<(String, String)> = files
        .into_iter()
        .map(|(name, text)| {
            let text = text.replace(
                "feature txn_count_1h { type: int64",
                "feature txn_count_1h { type: float64",
            );
            (name, text)
        })
        .collect();
    let diags = check(&root, changed);
    let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{diags:#?}");
    let d = errors[0];
    assert_eq!(d.code, "plinth::onnx::dtype");
    assert_eq!(d.file, "models.plinth");
    assert_eq!(
        d.message,
        "input `txn_count_1h` is float64 in the spec but int64 in `models/fraud_scorer.onnx`"
    );
    assert!(
        d.help
            .as_deref()
            .unwrap()
            .contains("txn_count_1h int64[batch, 1]")
    );
    assert_eq!(d.related.len(), 1);
    assert_eq!(d.related[0].file, "data.plinth");
}

#[test]
fn a_changed_model_reruns_only_the_signature_check() {
    let root = repo().join("tests/fixtures/onnx");
    let db = Db::with_query_log();
    let ws = load(&db, plinth_check::shared(plinth_files(&root)));
    let read = |name: &str| {
        read_signature(&std::fs::read(root.join(name)).unwrap()).map_err(ArtifactError::Invalid)
    };
    let scorer = read("models/scorer.onnx");
    let artifacts = Artifacts::new(
        &db,
        BTreeMap::from([("models/scorer.onnx".to_string(), scorer.clone())]),
    );
    assert!(signature_diagnostics(&db, ws, artifacts).is_empty());
    // The scorer's file now holds the typed model: everything about it mismatches.
    let typed = read("models/typed.onnx");
    let mut db = db;
    use salsa::Setter;
    artifacts
        .set_onnx(&mut db)
        .to(BTreeMap::from([("models/scorer.onnx".to_string(), typed)]));
    db.start_logging();
    let diags = signature_diagnostics(&db, ws, artifacts).clone();
    let log = db.take_log();
    assert!(
        diags.iter().any(|d| d.code == "plinth::onnx::name"),
        "{diags:#?}"
    );
    assert!(
        log.iter().any(|q| q.starts_with("signature_diagnostics")),
        "{log:?}"
    );
    assert!(!log.iter().any(|q| q.starts_with("parse_file")), "{log:?}");
}
