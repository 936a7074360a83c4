//! Golden files of the evidence target for every example and environment, with the
//! policy verdicts of the example's own packs on a fixed date (2026-11-24), as
//! `plinth build` would write them on that day, plus the HTML report (built-in graph).
//!
//! Layout: `tests/golden/<example>/<env>/evidence/` holds the files `plinth build`
//! writes under `out/<env>/evidence/` (without `decisions.jsonl`, the policy engine's
//! own log) and a sorted `MANIFEST`; `report.html` beside it is `plinth report`'s page.
//! Review changes like code; regenerate with
//! `PLINTH_UPDATE_GOLDEN=1 cargo test -p plinth-tests --test evidence`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use plinth_check::{Db, EnvName, load, platform};
use plinth_ir::{Date, Platform};
use plinth_targets::Target;
use plinth_targets::evidence::cost::{PriceOverrides, PriceTable};
use plinth_targets::evidence::{self, Evidence, html};
use plinth_tests::{examples, list_files, read_workspace, repo_root};
use std::collections::BTreeMap;
use std::path::Path;

const TODAY: &str = "2026-11-24";

#[derive(serde::Deserialize, Default)]
struct Toml {
    #[serde(default)]
    policy: PolicyToml,
    #[serde(default)]
    prices: PriceOverrides,
}

#[derive(serde::Deserialize, Default)]
struct PolicyToml {
    #[serde(default)]
    packs: Vec<String>,
}

/// Every environment's platform of `example`, carrying its policy verdicts, and the
/// workspace's price table.
fn governed(example: &Path) -> (Vec<Platform>, PriceTable) {
    let config: Toml =
        toml::from_str(&std::fs::read_to_string(example.join("plinth.toml")).unwrap()).unwrap();
    let mut packs = config.policy.packs;
    if packs.is_empty() {
        packs.push("baseline".to_string());
    }
    let db = Db::default();
    let ws = load(&db, plinth_check::shared(read_workspace(example)));
    let analysis = plinth_check::db::analysis(&db, ws);
    let platforms: Vec<Platform> = analysis
        .of_kind("environment")
        .map(|d| {
            (*platform(&db, ws, EnvName::new(&db, d.name.clone()))
                .clone()
                .unwrap())
            .clone()
        })
        .collect();
    let (loaded, diags) = plinth_policy::load(&packs, Vec::new(), None);
    let loaded = loaded.unwrap_or_else(|| panic!("{diags:?}"));
    let today = Date::parse(TODAY).unwrap();
    let refs: Vec<&Platform> = platforms.iter().collect();
    let outcome = plinth_policy::evaluate(
        &loaded,
        &refs,
        &plinth_policy::Options {
            today,
            max_waiver_days: 180,
            keep_entities: false,
            keep_decisions: true,
            validate_entities: false,
        },
    );
    let platforms = platforms
        .into_iter()
        .map(|mut p| {
            p.policy = plinth_policy::summary(&loaded, &outcome, &p.environment.name, today);
            p
        })
        .collect();
    (
        platforms,
        PriceTable::with_overrides(&config.prices).unwrap(),
    )
}

#[test]
fn evidence_golden_files_match_every_example() {
    let update = std::env::var_os("PLINTH_UPDATE_GOLDEN").is_some();
    let root = repo_root();
    let mut failures = Vec::new();
    let mut compared = 0;
    let examples = examples();
    assert!(examples.len() >= 3, "examples: {examples:?}");
    for example in examples {
        let name = example.file_name().unwrap().to_string_lossy().into_owned();
        let (platforms, prices) = governed(&example);
        assert!(!platforms.is_empty(), "{name} has no environment");
        for platform in platforms {
            let env = platform.environment.name.clone();
            let emit = Evidence {
                prices: prices.clone(),
            }
            .emit(&platform);
            assert!(
                emit.diagnostics.is_empty(),
                "{name}/{env}: {:?}",
                emit.diagnostics
            );
            // Every model has a card; a high-risk one covers Annex IV and lists gaps.
            for m in platform.models.values() {
                let card = emit
                    .files
                    .iter()
                    .find(|f| f.path == format!("models/{}.md", m.name))
                    .unwrap_or_else(|| panic!("{name}/{env}: no card for {}", m.name));
                if m.risk.name == "high" {
                    assert!(card.contents.contains("## EU AI Act Annex IV"));
                    assert!(card.contents.contains("### Items the spec cannot answer"));
                }
            }
            let report = html::report(&platform, &prices, None).unwrap();
            for m in platform.models.keys() {
                assert!(
                    report.contains(&format!("id=\"model-{m}\"")),
                    "{name}/{env}: {m}"
                );
            }
            let env_dir = root.join("tests/golden").join(&name).join(&env);
            let dir = env_dir.join("evidence");
            let manifest: String = emit.files.iter().map(|f| format!("{}\n", f.path)).collect();
            if update {
                let _ = std::fs::remove_dir_all(&dir);
                for f in &emit.files {
                    let path = dir.join(&f.path);
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(path, &f.contents).unwrap();
                }
                std::fs::write(dir.join("MANIFEST"), &manifest).unwrap();
                std::fs::write(env_dir.join("report.html"), &report).unwrap();
                continue;
            }
            let mut expected: BTreeMap<String, String> = emit
                .files
                .iter()
                .map(|f| (f.path.clone(), f.contents.clone()))
                .collect();
            expected.insert("MANIFEST".to_string(), manifest);
            let present = list_files(&dir);
            for p in &present {
                if !expected.contains_key(p) {
                    failures.push(format!("{name}/{env}: extra golden file evidence/{p}"));
                }
            }
            for (p, contents) in &expected {
                compared += 1;
                match std::fs::read_to_string(dir.join(p)) {
                    Ok(on_disk) if &on_disk == contents => {}
                    Ok(_) => failures.push(format!("{name}/{env}: evidence/{p} differs")),
                    Err(_) => failures.push(format!("{name}/{env}: evidence/{p} is missing")),
                }
            }
            match std::fs::read_to_string(env_dir.join("report.html")) {
                Ok(on_disk) if on_disk == report => {}
                Ok(_) => failures.push(format!("{name}/{env}: report.html differs")),
                Err(_) => failures.push(format!("{name}/{env}: report.html is missing")),
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

/// The model cards `plinth build` writes are spliced into skeletons the card template
/// renders once per shape (`plinth_targets::evidence::model_cards`): every example's
/// cards, all of an environment through one set of skeletons, are what plain handlebars
/// renders for each card.
#[test]
fn spliced_cards_are_what_the_template_renders_for_every_example() {
    let hbs = evidence::markdown_renderer().unwrap();
    let mut cards = 0;
    for example in examples() {
        for platform in governed(&example).0 {
            let lin = evidence::lineage::lineage(&platform);
            let spliced = evidence::model_cards(&hbs, &platform, &lin).unwrap();
            let rendered = evidence::model_cards_by_template(&hbs, &platform, &lin).unwrap();
            assert_eq!(spliced.len(), platform.models.len());
            assert_eq!(spliced, rendered, "{}", example.display());
            cards += spliced.len();
        }
    }
    assert!(cards > 0);
}

/// The fraud example's high-risk model: the card answers the Annex IV items its spec
/// can, from the spec's own words, and lists the rest as gaps.
#[test]
fn fraud_scorer_card_covers_annex_iv_from_the_spec() {
    let (platforms, prices) = governed(&repo_root().join("examples/fraud-detection"));
    let prod = platforms
        .iter()
        .find(|p| p.environment.name == "prod")
        .unwrap();
    let emit = Evidence { prices }.emit(prod);
    let card = &emit
        .files
        .iter()
        .find(|f| f.path == "models/fraud_scorer.md")
        .unwrap()
        .contents;
    for item in [
        "1\\(a\\)", "1\\(e\\)", "2\\(a\\)", "2\\(b\\)", "2\\(c\\)", "2\\(d\\)", "2\\(e\\)",
        "2\\(f\\)", "2\\(g\\)", "2\\(h\\)", "3", "5", "9",
    ] {
        assert!(card.contains(&format!("### Annex IV {item}:")), "{item}");
    }
    for gap in ["1\\(d\\)", "1\\(h\\)", "4", "6", "7", "8"] {
        assert!(card.contains(&format!("- **Annex IV {gap},")), "{gap}");
    }
    // Lineage down to the PII column, the evaluation gate, the waiver with its expiry.
    assert!(card.contains("**Personal data upstream:** transactions\\.card\\_id"));
    assert!(card.contains("- **Evaluation gate:** auc at least 0\\.92"));
    assert!(card.contains("| fraud\\_api\\_single\\_region |"));
    assert!(card.contains("| 2027\\-03\\-31 |\n"));
}
