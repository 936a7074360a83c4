//! Any input through the whole front end (parse, index, check, analysis, lowering)
//! gives diagnostics, never a panic, and every diagnostic's span lies in its file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use plinth_check::{Db, EnvName, diagnostics, load, platform};
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../../../examples/fraud-detection/serving.plinth");
const DATA: &str = include_str!("../../../examples/fraud-detection/data.plinth");

fn run(text: &str) {
    let db = Db::default();
    let ws = load(
        &db,
        vec![
            ("data.plinth".into(), DATA.into()),
            ("x.plinth".into(), text.into()),
        ],
    );
    let diags = diagnostics(&db, ws);
    for d in &diags {
        let len = if d.file == "x.plinth" {
            text.len()
        } else if d.file == "data.plinth" {
            DATA.len()
        } else {
            usize::MAX
        };
        assert!((d.span.end as usize) <= len, "span out of range: {d:?}");
        assert!(!d.code.is_empty() && !d.message.is_empty());
    }
    for env in ["prod", "staging", "nope"] {
        let _ = platform(&db, ws, EnvName::new(&db, env.to_string()));
    }
}

/// Byte-level mutations of a real spec: deletions, duplications, swaps.
fn mutated() -> impl Strategy<Value = String> {
    let len = EXAMPLE.len();
    prop::collection::vec((0..len, 0..len, 0u8..4, any::<char>()), 1..8).prop_map(|edits| {
        let mut text = EXAMPLE.to_string();
        for (a, b, op, c) in edits {
            let (lo, hi) = (a.min(b), a.max(b));
            let (lo, hi) = (floor(&text, lo), floor(&text, hi));
            match op {
                0 => text.replace_range(lo..hi, ""),
                1 => {
                    let piece = text[lo..hi].to_string();
                    text.insert_str(hi, &piece);
                }
                2 => text.insert(lo, c),
                _ => text.replace_range(lo..hi, &c.to_string()),
            }
        }
        text
    })
}

fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        run(&text);
    }

    #[test]
    fn spec_like_tokens_never_panic(text in prop::collection::vec(prop::sample::select(vec![
        "service", "model", "x", "{", "}", ":", "[", "]", "..", "5m", "4Gi", "99.9%", "2027-03-31",
        "\"s\"", ",", "\n", "extends", "std.tier1_online", "env", "slo", "latency", "(", ")", "-1", "0.5",
    ]), 0..60).prop_map(|v| v.join(" "))) {
        run(&text);
    }

    #[test]
    fn mutated_specs_never_panic(text in mutated()) {
        run(&text);
    }
}

#[test]
fn deep_nesting_is_a_diagnostic() {
    let text = format!("service s {{ a: {} }}", "[".repeat(100_000));
    let db = Db::default();
    let ws = load(&db, vec![("x.plinth".into(), text.into())]);
    let diags = diagnostics(&db, ws);
    assert!(
        diags.iter().any(|d| d.code == "plinth::syntax::nesting"),
        "{diags:#?}"
    );
}
