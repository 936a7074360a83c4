//! Incrementality: an edit re-runs only the queries that depend on it. The log of
//! executed queries is asserted, so a change that silently breaks incrementality fails.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use plinth_check::db::{analysis, check_file, symbol_index};

use plinth_check::{Db, diagnostics, load};
use salsa::Setter;

const A: &str = r#"team t { owner: "t@example.com" }
environment prod { tier: production  region: eu_west_1 }
source s {
  kind: kafka
  owner: t
  classification: internal
  column id { type: string }
  column v { type: float64 }
}
entity e { key: id  type: string }
"#;

const B: &str = r#"feature_view f {
  entity: e
  source: s
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
service api { model: m  replicas: 2..4 }
"#;

fn count(log: &[String], query: &str) -> usize {
    log.iter()
        .filter(|l| l.starts_with(&format!("{query}(")))
        .count()
}

#[test]
fn editing_a_body_reruns_only_that_file_and_the_workspace_pass() {
    let mut db = Db::with_query_log();
    let ws = load(
        &db,
        vec![("a.plinth".into(), A.into()), ("b.plinth".into(), B.into())],
    );
    assert!(
        diagnostics(&db, ws).is_empty(),
        "{:#?}",
        diagnostics(&db, ws)
    );
    let files = ws.files(&db).clone();
    let b = *files.last().unwrap();

    // A body edit: the replica range changes, no declaration is added or renamed.
    db.start_logging();
    b.set_text(&mut db).to(B.replace("2..4", "3..6").into());
    let diags = diagnostics(&db, ws);
    let log = db.take_log();
    assert!(diags.is_empty());
    assert_eq!(
        count(&log, "parse_file"),
        1,
        "only b.plinth is re-parsed: {log:#?}"
    );
    assert_eq!(
        count(&log, "check_file"),
        1,
        "only b.plinth is re-checked: {log:#?}"
    );
    assert_eq!(count(&log, "file_symbols"), 1, "{log:#?}");
    assert_eq!(
        count(&log, "symbol_index"),
        0,
        "names did not change, the index is reused: {log:#?}"
    );
    assert_eq!(
        count(&log, "file_diagnostics"),
        1,
        "only b.plinth's cross-checks re-run: {log:#?}"
    );
    assert_eq!(
        count(&log, "merged_decl"),
        1,
        "only the edited service is re-merged: {log:#?}"
    );
    assert_eq!(count(&log, "file_links"), 1, "{log:#?}");
    assert_eq!(
        count(&log, "graph_diagnostics"),
        0,
        "no reference changed, the graph is reused: {log:#?}"
    );
    assert_eq!(
        count(&log, "analysis"),
        0,
        "lowering's analysis is not part of checking: {log:#?}"
    );

    // Nothing changed: nothing re-runs.
    db.start_logging();
    let _ = diagnostics(&db, ws);
    assert!(db.take_log().is_empty());

    // A rename changes the index, so every file's check re-runs (references may
    // resolve differently), but no other file is re-parsed.
    db.start_logging();
    b.set_text(&mut db)
        .to(B.replace("service api", "service api2").into());
    let _ = diagnostics(&db, ws);
    let log = db.take_log();
    assert_eq!(count(&log, "parse_file"), 1, "{log:#?}");
    assert_eq!(count(&log, "symbol_index"), 1, "{log:#?}");
    // The stdlib files and a.plinth are checked again against the new index.
    assert_eq!(count(&log, "check_file"), files.len(), "{log:#?}");
    assert_eq!(count(&log, "graph_diagnostics"), 1, "{log:#?}");

    // Editing what another file reads re-checks that file too: the model's inputs
    // change, so the service file (same file here) and the graph are checked again.
    db.start_logging();
    b.set_text(&mut db).to(B
        .replace("service api", "service api2")
        .replace("inputs: [f.total]", "inputs: [f.total, f.total]")
        .into());
    let _ = diagnostics(&db, ws);
    let log = db.take_log();
    assert_eq!(count(&log, "parse_file"), 1, "{log:#?}");
    assert_eq!(count(&log, "symbol_index"), 0, "{log:#?}");
    let _ = (check_file, symbol_index, analysis);
}

#[test]
fn errors_are_reported_after_an_edit_and_cleared_after_the_fix() {
    let mut db = Db::default();
    let ws = load(
        &db,
        vec![("a.plinth".into(), A.into()), ("b.plinth".into(), B.into())],
    );
    let b = *ws.files(&db).last().unwrap();
    b.set_text(&mut db).to(B.replace("sum(v)", "sum(w)").into());
    let diags = diagnostics(&db, ws);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].code, "plinth::column::unknown");
    assert_eq!(diags[0].help.as_deref(), Some("did you mean `v`?"));
    b.set_text(&mut db).to(B.into());
    assert!(diagnostics(&db, ws).is_empty());
}

#[test]
fn released_trees_are_not_reparsed_by_lowering_or_by_an_edit_elsewhere() {
    let mut db = Db::with_query_log();
    let ws = load(
        &db,
        vec![("a.plinth".into(), A.into()), ("b.plinth".into(), B.into())],
    );
    let before = diagnostics(&db, ws);
    plinth_check::release_trees(&mut db);

    // Diagnostics and lowering read no tree.
    db.start_logging();
    assert_eq!(diagnostics(&db, ws), before);
    let env = plinth_check::EnvName::new(&db, "prod".to_string());
    assert!(plinth_check::platform(&db, ws, env).is_some());
    let log = db.take_log();
    assert_eq!(count(&log, "parse_file"), 0, "{log:#?}");
    assert_eq!(count(&log, "check_file"), 0, "{log:#?}");

    // A body edit re-parses the edited file only; the other trees stay dropped.
    let b = *ws.files(&db).last().unwrap();
    db.start_logging();
    b.set_text(&mut db).to(B.replace("sum(v)", "sum(w)").into());
    let diags = diagnostics(&db, ws);
    let log = db.take_log();
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(count(&log, "parse_file"), 1, "{log:#?}");
    assert_eq!(count(&log, "check_file"), 1, "{log:#?}");
}
