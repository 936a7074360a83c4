//! Golden files of the Kubernetes target for every example and environment:
//! `tests/golden/<example>/<env>/kubernetes/`. Review changes like code; regenerate with
//! `PLINTH_UPDATE_GOLDEN=1 cargo test -p plinth-tests --test kubernetes`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use plinth_targets::Target;
use plinth_targets::kubernetes::Kubernetes;
use plinth_tests::{check_golden, example_platforms, examples, repo_root};

#[test]
fn kubernetes_golden_files_match_every_example() {
    let mut failures = Vec::new();
    let mut compared = 0;
    for example in examples() {
        let name = example.file_name().unwrap().to_string_lossy().into_owned();
        for (env, platform) in example_platforms(&example) {
            let emit = Kubernetes.emit(&platform);
            assert!(!emit.has_errors(), "{name}/{env}: {:?}", emit.diagnostics);
            let files: Vec<(String, String)> = emit
                .files
                .iter()
                .map(|f| (f.path.clone(), f.contents.clone()))
                .collect();
            compared += files.len();
            let dir = repo_root()
                .join("tests/golden")
                .join(&name)
                .join(&env)
                .join("kubernetes");
            failures.extend(check_golden(&dir, &files));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(regenerate with PLINTH_UPDATE_GOLDEN=1 and review)",
        failures.join("\n")
    );
    assert!(compared > 0 || std::env::var_os("PLINTH_UPDATE_GOLDEN").is_some());
}

/// The ServiceAccounts workloads run as exist: every IRSA role Terraform writes trusts a
/// ServiceAccount this target writes, and so does every Airflow pod that names one (a
/// batch job's scoring pod). A role trusting a missing account grants nothing.
#[test]
fn every_service_account_a_workload_runs_as_is_written() {
    use plinth_targets::airflow::Airflow;
    use plinth_targets::terraform::Terraform;
    use std::collections::BTreeSet;

    /// The `<namespace>:<name>` of every ServiceAccount in a YAML stream of our writer's.
    fn service_accounts(yaml: &str, out: &mut BTreeSet<String>) {
        for doc in yaml.split("---\n") {
            if !doc.starts_with("apiVersion: v1\nkind: ServiceAccount\n") {
                continue;
            }
            let field = |key: &str| {
                doc.lines()
                    .find_map(|l| l.strip_prefix(&format!("  {key}: ")))
                    .unwrap()
                    .to_string()
            };
            out.insert(format!("{}:{}", field("namespace"), field("name")));
        }
    }

    /// Every `<prefix><value>` in `text`, the value ending at `"` or `\`.
    fn values_after(text: &str, prefix: &str) -> Vec<String> {
        text.split(prefix)
            .skip(1)
            .map(|rest| rest.split(['"', '\\']).next().unwrap().to_string())
            .collect()
    }

    let (mut trusted_total, mut used_total) = (0, 0);
    for example in examples() {
        let name = example.file_name().unwrap().to_string_lossy().into_owned();
        for (env, platform) in example_platforms(&example) {
            let mut written = BTreeSet::new();
            for f in &Kubernetes.emit(&platform).files {
                service_accounts(&f.contents, &mut written);
            }
            let trusted: Vec<String> = Terraform
                .emit(&platform)
                .files
                .iter()
                .flat_map(|f| values_after(&f.contents, "system:serviceaccount:"))
                .collect();
            let namespace = &platform.environment.namespace;
            let used: Vec<String> = Airflow
                .emit(&platform)
                .files
                .iter()
                .flat_map(|f| values_after(&f.contents, "service_account_name=\""))
                .map(|sa| format!("{namespace}:{sa}"))
                .collect();
            for sa in trusted.iter().chain(&used) {
                assert!(
                    written.contains(sa),
                    "{name}/{env}: `{sa}` is not written; written: {written:?}"
                );
            }
            trusted_total += trusted.len();
            used_total += used.len();
        }
    }
    assert!(trusted_total > 0 && used_total > 0, "nothing was compared");
}
