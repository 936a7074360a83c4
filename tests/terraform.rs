//! The Terraform target on every example, with IAM grants from the real policy engine:
//! golden files, and the proof that a Cedar forbid on one `read` removes exactly that
//! grant from the role's policy.
//!
//! Layout: `tests/golden/<example>/<env>/terraform/` holds the `*.tf.json` files as
//! `plinth build` writes them under `out/<env>/terraform/`, plus a sorted `MANIFEST`
//! (missing and extra files fail). Policies are evaluated as on 2026-11-24, so waivers do
//! not expire under the golden files. Review changes like code; regenerate with
//! `PLINTH_UPDATE_GOLDEN=1 cargo test -p plinth-tests --test terraform`.
//! `tests/external/terraform.sh` runs checkov and Terraform's loader on the same trees.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use plinth_check::{Db, EnvName, load, platform};
use plinth_ir::{Date, Platform};
use plinth_policy::{Decision, Options, PolicyFile};
use plinth_targets::Target;
use plinth_targets::terraform::Terraform;
use plinth_tests::{examples, list_files, read_workspace, repo_root};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const TODAY: Date = Date {
    year: 2026,
    month: 11,
    day: 24,
};

struct Evaluated {
    /// Per environment, the platform with its grants filled in, as `plinth build` does.
    platforms: BTreeMap<String, Platform>,
    decisions: BTreeMap<String, Vec<Decision>>,
    policy_errors: Vec<String>,
}

/// Lowers every environment of the workspace and evaluates its `plinth.toml` packs plus
/// `extra` (as the CLI passes a workspace's `[policy] paths` files).
fn evaluate(dir: &Path, extra: Vec<PolicyFile>) -> Evaluated {
    let db = Db::default();
    let ws = load(&db, plinth_check::shared(read_workspace(dir)));
    let analysis = plinth_check::db::analysis(&db, ws);
    let mut platforms: BTreeMap<String, Platform> = analysis
        .of_kind("environment")
        .map(|d| {
            let p = platform(&db, ws, EnvName::new(&db, d.name.clone()))
                .clone()
                .unwrap_or_else(|| panic!("{}/{} does not lower", dir.display(), d.name));
            (d.name.clone(), (*p).clone())
        })
        .collect();
    let config: toml::Table =
        toml::from_str(&std::fs::read_to_string(dir.join("plinth.toml")).unwrap()).unwrap();
    let packs: Vec<String> = config["policy"]["packs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    let (packs, diags) = plinth_policy::load(&packs, extra, None);
    assert!(diags.is_empty(), "{diags:?}");
    let packs = packs.unwrap();
    let refs: Vec<&Platform> = platforms.values().collect();
    let outcome = plinth_policy::evaluate(
        &packs,
        &refs,
        &Options {
            today: TODAY,
            max_waiver_days: 180,
            keep_entities: false,
            keep_decisions: true,
            validate_entities: false,
        },
    );
    for (env, p) in &mut platforms {
        p.grants = plinth_policy::grants(&outcome.decisions[env]);
    }
    Evaluated {
        platforms,
        policy_errors: outcome
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{}: {}", d.policy.clone().unwrap_or_default(), d.message))
            .collect(),
        decisions: outcome.decisions,
    }
}

#[test]
fn terraform_golden_files_match_every_example() {
    assert!(examples().len() >= 3, "examples: {:?}", examples());
    let update = std::env::var_os("PLINTH_UPDATE_GOLDEN").is_some();
    let root = repo_root();
    let mut failures = Vec::new();
    let mut compared = 0;
    for example in examples() {
        let name = example.file_name().unwrap().to_string_lossy().into_owned();
        let evaluated = evaluate(&example, Vec::new());
        assert!(
            evaluated.policy_errors.is_empty(),
            "{name}: {:?}",
            evaluated.policy_errors
        );
        for (env, platform) in &evaluated.platforms {
            let emit = Terraform.emit(platform);
            assert!(
                emit.diagnostics.is_empty(),
                "{name}/{env}: {:?}",
                emit.diagnostics
            );
            let dir = root
                .join("tests/golden")
                .join(&name)
                .join(env)
                .join("terraform");
            let mut expected: BTreeMap<String, String> = emit
                .files
                .iter()
                .map(|f| (f.path.clone(), f.contents.clone()))
                .collect();
            let manifest: String = emit.files.iter().map(|f| format!("{}\n", f.path)).collect();
            expected.insert("MANIFEST".to_string(), manifest);
            if update {
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).unwrap();
                for (p, contents) in &expected {
                    std::fs::write(dir.join(p), contents).unwrap();
                }
                continue;
            }
            for p in list_files(&dir) {
                if !expected.contains_key(&p) {
                    failures.push(format!("{name}/{env}: extra golden file terraform/{p}"));
                }
            }
            for (p, contents) in &expected {
                compared += 1;
                match std::fs::read_to_string(dir.join(p)) {
                    Ok(on_disk) if &on_disk == contents => {}
                    Ok(_) => failures.push(format!("{name}/{env}: terraform/{p} differs")),
                    Err(_) => failures.push(format!("{name}/{env}: terraform/{p} is missing")),
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

/// The role policy of `workload` in `platform`, parsed.
fn role_policy(platform: &Platform, workload: &str) -> Value {
    let emit = Terraform.emit(platform);
    let iam = emit.files.iter().find(|f| f.path == "iam.tf.json").unwrap();
    let iam: Value = serde_json::from_str(&iam.contents).unwrap();
    serde_json::from_str(
        iam["resource"]["aws_iam_role_policy"][workload]["policy"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn every_iam_statement_comes_from_an_allowed_read_or_write() {
    for example in examples() {
        let evaluated = evaluate(&example, Vec::new());
        for (env, platform) in &evaluated.platforms {
            let allowed: Vec<&Decision> = evaluated.decisions[env]
                .iter()
                .filter(|d| d.allowed && (d.action == "read" || d.action == "write"))
                .collect();
            for w in platform.services.keys().chain(platform.batch_jobs.keys()) {
                let emit = Terraform.emit(platform);
                let iam = emit.files.iter().find(|f| f.path == "iam.tf.json").unwrap();
                let iam: Value = serde_json::from_str(&iam.contents).unwrap();
                let Some(policy) = iam["resource"]["aws_iam_role_policy"][w]["policy"].as_str()
                else {
                    continue;
                };
                let policy: Value = serde_json::from_str(policy).unwrap();
                for st in policy["Statement"].as_array().unwrap() {
                    let sid = st["Sid"].as_str().unwrap();
                    if sid.starts_with("DecryptVia") {
                        continue;
                    }
                    // Sids are `<Action><Kind><Name>...`: find the decision behind it.
                    let backed = allowed.iter().any(|d| {
                        d.principal.1 == *w
                            && sid.starts_with(&format!(
                                "{}{}{}",
                                camel(&d.action),
                                d.resource.0,
                                camel(&d.resource.1)
                            ))
                    });
                    assert!(
                        backed,
                        "{}/{env}: {w}: {sid} has no allowed decision",
                        example.display()
                    );
                }
            }
        }
    }
}

fn camel(ident: &str) -> String {
    ident
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn a_cedar_forbid_on_one_read_removes_exactly_that_iam_grant() {
    let example = repo_root().join("examples/fraud-detection");
    let before = evaluate(&example, Vec::new());
    let policy = role_policy(&before.platforms["prod"], "fraud_api");
    let text = policy.to_string();
    assert!(
        text.contains("${aws_dynamodb_table.merchant_risk.arn}"),
        "{text}"
    );
    assert!(
        text.contains("${aws_dynamodb_table.card_velocity.arn}"),
        "{text}"
    );

    // What a workspace's `[policy] paths` folder would hold.
    let forbid = PolicyFile {
        path: "policies/reads.cedar".to_string(),
        text: r#"@id("workspace.fraud-api-no-merchant-history")
@severity("error")
@message("fraud_api may not read merchant chargeback history")
@help("score from card velocity only until the data-sharing agreement is signed")
forbid (
  principal == Plinth::Service::"fraud_api",
  action == Plinth::Action::"read",
  resource == Plinth::FeatureView::"merchant_risk"
);
"#
        .to_string(),
    };
    let after = evaluate(&example, vec![forbid]);
    // The check fails (so `plinth build` stops with exit 1 before writing anything) ...
    assert!(
        after
            .policy_errors
            .iter()
            .any(|e| e.starts_with("workspace.fraud-api-no-merchant-history")),
        "{:?}",
        after.policy_errors
    );
    let denied = after.decisions["prod"]
        .iter()
        .find(|d| {
            d.action == "read" && d.principal.1 == "fraud_api" && d.resource.1 == "merchant_risk"
        })
        .unwrap();
    assert!(!denied.allowed);
    // ... and the grant is gone from the platform and from the role's policy, while
    // every other grant stays.
    let (b, a) = (
        &before.platforms["prod"].grants,
        &after.platforms["prod"].grants,
    );
    assert_eq!(b.len(), a.len() + 1);
    assert!(a.iter().all(|g| b.contains(g)));
    let policy = role_policy(&after.platforms["prod"], "fraud_api");
    let text = policy.to_string();
    assert!(!text.contains("merchant_risk"), "{text}");
    assert!(
        text.contains("${aws_dynamodb_table.card_velocity.arn}"),
        "{text}"
    );
    assert!(text.contains("model_repository/fraud_scorer/*"), "{text}");
    // The batch job's grants did not change.
    assert_eq!(
        role_policy(&before.platforms["prod"], "fraud_rescoring"),
        role_policy(&after.platforms["prod"], "fraud_rescoring")
    );
}
