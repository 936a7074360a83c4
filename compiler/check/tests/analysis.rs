//! The analysis holds every declaration the symbol index resolves to, merged with its
//! profiles, and nothing else: it is collected file by file, so this checks that the
//! files' own declarations are exactly the index's (duplicates and profiles included).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use plinth_check::db::{DeclName, analysis, merged_decl, symbol_index};
use plinth_check::{Db, load};
use std::collections::BTreeMap;

/// The index's names, each with its merged declaration (when it has one).
fn by_name(files: Vec<(String, std::sync::Arc<str>)>) {
    let db = Db::default();
    let ws = load(&db, files);
    let index = symbol_index(&db, ws);
    let expected: BTreeMap<&String, _> = index
        .symbols
        .keys()
        .filter_map(|name| {
            merged_decl(&db, ws, DeclName::new(&db, name.as_str()))
                .decl
                .clone()
                .map(|d| (name, d))
        })
        .collect();
    let got: BTreeMap<&String, _> = analysis(&db, ws).decls.iter().collect();
    assert_eq!(got.len(), expected.len());
    for ((gn, gd), (en, ed)) in got.iter().zip(&expected) {
        assert_eq!(gn, en);
        assert_eq!(gd, &ed, "{gn}");
    }
}

#[test]
fn the_analysis_has_the_declarations_of_the_index_on_every_example() {
    let mut seen = 0;
    for dir in std::fs::read_dir("../../examples").unwrap() {
        let dir = dir.unwrap().path();
        let mut files = Vec::new();
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "plinth") {
                let text = std::fs::read_to_string(&f).unwrap();
                files.push((f.file_name().unwrap().to_string_lossy().into(), text.into()));
            }
        }
        if !files.is_empty() {
            seen += 1;
            by_name(files);
        }
    }
    assert!(seen >= 3, "examples not found");
}

#[test]
fn duplicates_and_profiles_resolve_as_the_index_does() {
    let a = r#"team t { owner: "a@example.com" }
team t { owner: "second@example.com" }
profile p { replicas: 2..3 }
service s { model: m  profile: p }
"#;
    let b = r#"team t { owner: "other-file@example.com" }
model m { owner: t  format: onnx  artifact: "m.onnx"  version: "1"  risk: minimal }
service s { model: m }
"#;
    by_name(vec![
        ("a.plinth".into(), a.into()),
        ("b.plinth".into(), b.into()),
    ]);
}
