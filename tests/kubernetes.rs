//! Golden files of the Kubernetes target for every example and environment:
//! `tests/golden/<example>/<env>/kubernetes/`. Review changes like code; regenerate with
//! `PLINTH_UPDATE_GOLDEN=1 cargo test -p plinth-tests --test kubernetes`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use plinth_check::{Db, EnvName, load, platform};
use plinth_targets::Target;
use plinth_targets::kubernetes::Kubernetes;
use plinth_tests::{check_golden, examples, read_workspace, repo_root};

#[test]
fn kubernetes_golden_files_match_every_example() {
    let mut failures = Vec::new();
    let mut compared = 0;
    for example in examples() {
        let name = example.file_name().unwrap().to_string_lossy().into_owned();
        let db = Db::default();
        let ws = load(&db, plinth_check::shared(read_workspace(&example)));
        let envs: Vec<String> = plinth_check::db::analysis(&db, ws)
            .of_kind("environment")
            .map(|d| d.name.clone())
            .collect();
        for env in envs {
            let platform = platform(&db, ws, EnvName::new(&db, env.clone()))
                .clone()
                .unwrap();
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
