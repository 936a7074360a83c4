//! Any spec that checks clean through the baseline and EU AI Act packs twice: the
//! memoized evaluation `plinth check` runs and plain Cedar (schema-validated entities,
//! every policy on every request) must decide alike. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plinth_check::{Db, EnvName, diagnostics, load, platform};
use plinth_policy::Options;
use std::sync::OnceLock;

/// The test prelude (teams, sources, views, a model) the fuzzed file can build on.
fn prelude() -> &'static (String, std::sync::Arc<str>) {
    static PRELUDE: OnceLock<(String, std::sync::Arc<str>)> = OnceLock::new();
    PRELUDE.get_or_init(|| {
        plinth_policy::embedded::FILES
            .iter()
            .find(|(p, _)| *p == "policies/baseline/tests/prelude.plinth")
            .map(|(p, t)| (p.to_string(), (*t).into()))
            .unwrap_or_default()
    })
}

fn packs() -> &'static Option<plinth_policy::Packs> {
    static PACKS: OnceLock<Option<plinth_policy::Packs>> = OnceLock::new();
    PACKS.get_or_init(|| {
        plinth_policy::load(&["baseline".to_string(), "eu-ai-act".to_string()], Vec::new(), None).0
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let db = Db::default();
    let ws = load(&db, vec![prelude().clone(), ("fuzz.plinth".to_string(), text.into())]);
    if diagnostics(&db, ws).iter().any(|d| d.is_error()) {
        return;
    }
    let Some(packs) = packs() else { return };
    let analysis = plinth_check::db::analysis(&db, ws);
    let platforms: Vec<_> = analysis
        .of_kind("environment")
        .filter_map(|d| platform(&db, ws, EnvName::new(&db, d.name.clone())).clone())
        .collect();
    let refs: Vec<&plinth_ir::Platform> = platforms.iter().map(AsRef::as_ref).collect();
    let run = |validate_entities| {
        plinth_policy::evaluate(
            packs,
            &refs,
            &Options {
                today: plinth_policy::parse_date("2026-11-24").unwrap_or_else(plinth_policy::today),
                max_waiver_days: 180,
                keep_entities: false,
                keep_decisions: true,
                validate_entities,
            },
        )
    };
    let (plain, fast) = (run(true), run(false));
    assert_eq!(plain.decisions, fast.decisions);
    assert_eq!(plain.diagnostics, fast.diagnostics);
    assert_eq!(plain.suppressed, fast.suppressed);
});
