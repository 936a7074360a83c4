//! Golden files of the Triton target for every example and environment, and for the ONNX
//! fixture workspace (`tests/fixtures/onnx`, as `fixtures-onnx`).
//!
//! Layout: `tests/golden/<workspace>/<env>/triton/` holds the model repository as
//! `plinth build` writes it under `out/<env>/triton/`, and a sorted `MANIFEST` of its files
//! (missing and extra files fail). `tests/external/triton.sh` parses the same configs with
//! Triton's own protobuf. Review changes like code; regenerate with
//! `PLINTH_UPDATE_GOLDEN=1 cargo test -p plinth-tests --test triton`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use plinth_targets::Target;
use plinth_targets::triton::Triton;
use plinth_tests::{example_platforms, list_files, repo_root};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn workspaces() -> Vec<(String, PathBuf)> {
    let root = repo_root();
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("plinth.toml").exists())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    out.push((
        "fixtures-onnx".to_string(),
        root.join("tests/fixtures/onnx"),
    ));
    out.sort();
    out
}

#[test]
fn golden_model_repositories() {
    let update = std::env::var_os("PLINTH_UPDATE_GOLDEN").is_some();
    let root = repo_root();
    let mut failures = Vec::new();
    let mut configs = 0;
    for (name, dir) in workspaces() {
        for (env, platform) in example_platforms(&dir) {
            let emit = Triton.emit(&platform);
            assert!(
                emit.diagnostics.is_empty(),
                "{name}/{env}: {:?}",
                emit.diagnostics
            );
            configs += emit
                .files
                .iter()
                .filter(|f| f.path.ends_with("/config.pbtxt"))
                .count();
            let golden = root
                .join("tests/golden")
                .join(&name)
                .join(&env)
                .join("triton");
            let manifest: String = emit.files.iter().map(|f| format!("{}\n", f.path)).collect();
            let mut expected: BTreeMap<String, String> = emit
                .files
                .iter()
                .map(|f| (f.path.clone(), f.contents.clone()))
                .collect();
            expected.insert("MANIFEST".to_string(), manifest);
            if update {
                let _ = std::fs::remove_dir_all(&golden);
                for (path, contents) in &expected {
                    let file = golden.join(path);
                    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                    std::fs::write(file, contents).unwrap();
                }
                continue;
            }
            let present = list_files(&golden);
            for p in &present {
                if !expected.contains_key(p) {
                    failures.push(format!("{name}/{env}: extra golden file triton/{p}"));
                }
            }
            for (p, contents) in &expected {
                match std::fs::read_to_string(golden.join(p)) {
                    Ok(on_disk) if &on_disk == contents => {}
                    Ok(_) => failures.push(format!("{name}/{env}: triton/{p} differs")),
                    Err(_) => failures.push(format!("{name}/{env}: triton/{p} is missing")),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(set PLINTH_UPDATE_GOLDEN=1 to rewrite the golden files, then review the diff)",
        failures.join("\n")
    );
    // fraud (prod, staging), recommendations (2 models x 2 envs), the fixtures (3).
    assert!(configs >= 7, "only {configs} configs");
}

/// Every example's configs, as `plinth build` splices them, are what plain handlebars
/// renders (`triton::configs_by_template`).
#[test]
fn spliced_configs_are_what_handlebars_renders() {
    let mut configs = 0;
    for (name, dir) in workspaces() {
        for (env, platform) in example_platforms(&dir) {
            let spliced: Vec<(String, String)> = Triton
                .emit(&platform)
                .files
                .into_iter()
                .filter(|f| f.path.ends_with("/config.pbtxt"))
                .map(|f| (f.path, f.contents))
                .collect();
            let plain = plinth_targets::triton::configs_by_template(&platform).unwrap();
            assert_eq!(spliced, plain, "{name}/{env}");
            configs += spliced.len();
        }
    }
    assert!(configs > 0);
}
