//! Golden files of the Airflow target for every example and environment, plus the task
//! graph each DAG must have, derived from the spec by the rules below (not from the
//! target's code or output): `tests/external/airflow.sh` holds real Airflow's DagBag to it.
//!
//! Layout: `tests/golden/<example>/<env>/airflow/` holds `dags/*.py` as `plinth build`
//! writes them under `out/<env>/airflow/`, a sorted `MANIFEST` of those files (missing and
//! extra files fail), and `expected-graph.json`. Review changes like code; regenerate with
//! `PLINTH_UPDATE_GOLDEN=1 cargo test -p plinth-tests --test airflow`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use plinth_check::{Db, EnvName, load, platform};
use plinth_ir::Platform;
use plinth_targets::Target;
use plinth_targets::airflow::Airflow;
use plinth_tests::{list_files, read_workspace, repo_root};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// What the spec implies, written independently of the target: per trained model a
/// training pipeline, per scheduled feature view a materialization, per batch job a
/// scoring run. `{dag_id: {"tasks": [...], "edges": [[up, down], ...]}}`.
fn expected_graph(platform: &Platform) -> Value {
    let mut dags = BTreeMap::new();
    let chain = |tasks: &[String]| -> Vec<[String; 2]> {
        tasks
            .windows(2)
            .map(|w| [w[0].clone(), w[1].clone()])
            .collect()
    };
    for model in platform.models.values() {
        let Some(training) = &model.training else {
            continue;
        };
        let mut views: Vec<&str> = model.inputs.iter().map(|f| f.view.as_str()).collect();
        views.sort_unstable();
        views.dedup();
        let mut pipeline = vec!["validate_data", "train", "evaluate"];
        if !training.approvals.is_empty() {
            pipeline.push("await_approval");
        }
        pipeline.push("register");
        let pipeline: Vec<String> = pipeline.into_iter().map(String::from).collect();
        let mut tasks: Vec<String> = views.iter().map(|v| format!("materialize_{v}")).collect();
        let mut edges: Vec<[String; 2]> = tasks
            .iter()
            .map(|t| [t.clone(), "validate_data".to_string()])
            .collect();
        edges.extend(chain(&pipeline));
        tasks.extend(pipeline);
        dags.insert(
            format!("train_{}", model.name),
            json!({ "tasks": tasks, "edges": edges }),
        );
    }
    for view in platform.feature_views.values() {
        if view.schedule.is_none() {
            continue;
        }
        let mut tasks = Vec::new();
        if !view.expects.is_empty() {
            tasks.push("validate_data".to_string());
        }
        tasks.push("materialize".to_string());
        dags.insert(
            format!("materialize_{}", view.name),
            json!({ "tasks": tasks, "edges": chain(&tasks) }),
        );
    }
    for job in platform.batch_jobs.values() {
        dags.insert(
            format!("score_{}", job.name),
            json!({ "tasks": ["score"], "edges": [] }),
        );
    }
    json!({ "dags": dags })
}

#[test]
fn airflow_golden_files_match_every_example() {
    let update = std::env::var_os("PLINTH_UPDATE_GOLDEN").is_some();
    let root = repo_root();
    let mut failures = Vec::new();
    let mut compared = 0;
    let mut examples: Vec<_> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("plinth.toml").exists())
        .collect();
    examples.sort();
    assert!(examples.len() >= 3, "examples: {examples:?}");
    for example in examples {
        let name = example.file_name().unwrap().to_string_lossy().into_owned();
        let db = Db::default();
        let ws = load(&db, plinth_check::shared(read_workspace(&example)));
        let analysis = plinth_check::db::analysis(&db, ws);
        let envs: Vec<String> = analysis
            .of_kind("environment")
            .map(|d| d.name.clone())
            .collect();
        assert!(!envs.is_empty(), "{name} has no environment");
        for env in envs {
            let platform = platform(&db, ws, EnvName::new(&db, env.clone()))
                .clone()
                .unwrap_or_else(|| panic!("{name}/{env} does not lower"));
            let emit = Airflow.emit(&platform);
            assert!(
                emit.diagnostics.is_empty(),
                "{name}/{env}: {:?}",
                emit.diagnostics
            );
            let dir = root
                .join("tests/golden")
                .join(&name)
                .join(&env)
                .join("airflow");
            let manifest: String = emit.files.iter().map(|f| format!("{}\n", f.path)).collect();
            let graph = format!(
                "{}\n",
                serde_json::to_string_pretty(&expected_graph(&platform)).unwrap()
            );
            if update {
                let _ = std::fs::remove_dir_all(&dir);
                for f in &emit.files {
                    let path = dir.join(&f.path);
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(path, &f.contents).unwrap();
                }
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join("MANIFEST"), &manifest).unwrap();
                std::fs::write(dir.join("expected-graph.json"), &graph).unwrap();
                continue;
            }
            let mut expected: BTreeMap<String, String> = emit
                .files
                .iter()
                .map(|f| (f.path.clone(), f.contents.clone()))
                .collect();
            expected.insert("MANIFEST".to_string(), manifest);
            expected.insert("expected-graph.json".to_string(), graph);
            let present = list_files(&dir);
            for p in &present {
                if !expected.contains_key(p) {
                    failures.push(format!("{name}/{env}: extra golden file airflow/{p}"));
                }
            }
            for (p, contents) in &expected {
                compared += 1;
                match std::fs::read_to_string(dir.join(p)) {
                    Ok(on_disk) if &on_disk == contents => {}
                    Ok(_) => failures.push(format!("{name}/{env}: airflow/{p} differs")),
                    Err(_) => failures.push(format!("{name}/{env}: airflow/{p} is missing")),
                }
            }
            // The graph the target emits must be the one the spec implies.
            for dag in expected_graph(&platform)["dags"]
                .as_object()
                .unwrap()
                .keys()
            {
                if !emit
                    .files
                    .iter()
                    .any(|f| f.path == format!("dags/{dag}.py"))
                {
                    failures.push(format!("{name}/{env}: no file for DAG {dag}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(set PLINTH_UPDATE_GOLDEN=1 to rewrite the golden files, then review the diff)",
        failures.join("\n")
    );
    assert!(update || compared > 0);
}
