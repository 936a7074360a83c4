//! Lowering every environment at once gives each environment the platform model it
//! gets lowered alone: declarations shared between environments are copied, overridden
//! ones lowered per environment, and ones deployed elsewhere left out.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use plinth_check::db::analysis;
use plinth_check::lower::{lower, lower_all};
use plinth_check::{Db, diagnostics, load};

const SPEC: &str = r#"team t { owner: "t@example.com" }
environment prod { tier: production  region: eu_west_1 }
environment staging { tier: staging  region: eu_west_1 }
source s {
  kind: kafka
  owner: t
  classification: internal
  column id { type: string }
  column v { type: float64 }
}
entity e { key: id  type: string }
feature_view f {
  entity: e
  source: s
  environments: [prod]
  feature total { type: float64  aggregate: sum(v) }
}
model m {
  owner: t
  format: onnx
  artifact: "m.onnx"
  version: "1"
  risk: minimal
  inputs: [f.total]
}
service api {
  model: m
  replicas: 2..4
  env staging { replicas: 1..2 }
}
service beta { model: m  replicas: 1..1  environments: [staging] }
"#;

#[test]
fn lowering_together_is_lowering_each_alone() {
    let db = Db::default();
    let ws = load(&db, vec![("a.plinth".into(), SPEC.into())]);
    assert!(
        diagnostics(&db, ws).is_empty(),
        "{:#?}",
        diagnostics(&db, ws)
    );
    let analysis = analysis(&db, ws);

    let asked = ["staging", "nope", "prod", "staging"];
    let together = lower_all(analysis, &asked);
    let alone: Vec<_> = asked.iter().map(|env| lower(analysis, env)).collect();
    assert_eq!(together, alone);

    let [Some(staging), None, Some(prod), Some(_)] = &together[..] else {
        panic!("one model per environment asked: {together:#?}")
    };
    assert_eq!(staging.environment.name, "staging");
    assert_eq!(prod.environment.name, "prod");
    // The override applies in its environment only.
    assert_eq!(staging.services["api"].min_replicas, 1);
    assert_eq!(prod.services["api"].min_replicas, 2);
    // Deployed where listed only.
    assert!(staging.services.contains_key("beta"));
    assert!(!prod.services.contains_key("beta"));
    assert!(prod.feature_views.contains_key("f"));
    assert!(staging.feature_views.is_empty());
    // Shared declarations are in both.
    assert_eq!(staging.models, prod.models);
    assert_eq!(staging.sources, prod.sources);
}
