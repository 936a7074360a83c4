//! Formatter tests: canonical layout cases, comment placement, idempotence.

// Tests may panic: that is how they fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use plinth_syntax::{dump, format, parse, string_literal};

/// `src` formats to `expected`, which is a fixed point with the same tree.
#[track_caller]
fn check(src: &str, expected: &str) {
    let out = format(src).unwrap_or_else(|| panic!("{:#?}", parse(src).diagnostics));
    assert_eq!(out, expected, "\n--- got ---\n{out}");
    assert_eq!(format(&out).as_deref(), Some(expected), "not idempotent");
    assert_eq!(dump(&parse(&out).file), dump(&parse(src).file));
}

#[test]
fn declarations_break_and_are_separated_by_blank_lines() {
    check(
        "use std\nuse std.p as p\nenvironment prod { tier: production  region: eu_west_1 }\nteam a {}",
        "use std\nuse std.p as p\n\nenvironment prod {\n  tier: production\n  region: eu_west_1\n}\n\nteam a {}\n",
    );
}

#[test]
fn headers() {
    check(
        "profile   p for service\n  extends std.a ,std.b{replicas:2..20}",
        "profile p for service extends std.a, std.b {\n  replicas: 2..20\n}\n",
    );
}

#[test]
fn short_values_stay_inline() {
    check(
        "service s { rollout: canary { steps: [10%, 50%]  pause: 15m }; agg: sum( amount ,2 ) ; r: {a:1 b{c:2}} l: [ ] }",
        "service s {\n  rollout: canary { steps: [10%, 50%], pause: 15m }\n  agg: sum(amount, 2)\n  r: { a: 1, b { c: 2 } }\n  l: []\n}\n",
    );
}

#[test]
fn long_values_break_outermost_first() {
    let src = "t x { steps: canary { steps: [10%, 20%, 30%, 40%, 50%, 60%, 70%, 80%], pause: 15m, name: \"abc\" } }";
    check(
        src,
        "t x {\n  steps: canary {\n    steps: [10%, 20%, 30%, 40%, 50%, 60%, 70%, 80%]\n    pause: 15m\n    name: \"abc\"\n  }\n}\n",
    );
    let list = format!(
        "t x {{ l: [{}] }}",
        ["\"a_long_string_value\""; 5].join(", ")
    );
    check(
        &list,
        &format!(
            "t x {{\n  l: [\n{}  ]\n}}\n",
            "    \"a_long_string_value\",\n".repeat(5)
        ),
    );
}

#[test]
fn blank_lines_are_kept_but_not_doubled() {
    check(
        "t x {\n\n  a: 1\n\n\n\n  b: 2\n  c: 3\n\n}\n\n\n\nt y {}",
        "t x {\n  a: 1\n\n  b: 2\n  c: 3\n}\n\nt y {}\n",
    );
}

#[test]
fn comments_keep_their_place() {
    check(
        "// head\nteam a { // open\n  x: 1 // trailing\n  // leading\n  y: [1, // one\n  2]\n  // closing\n} // after\n// tail\n",
        "// head\nteam a { // open\n  x: 1 // trailing\n  // leading\n  y: [\n    1, // one\n    2,\n  ]\n  // closing\n} // after\n// tail\n",
    );
}

#[test]
fn docs_are_canonical() {
    check(
        "///the team\n///\nteam a {\n    ///  indented doc\n  x: 1 }",
        "/// the team\n///\nteam a {\n  ///  indented doc\n  x: 1\n}\n",
    );
}

#[test]
fn strings_are_reescaped() {
    check(
        r#"t x { s: "\u{41}\u{7f}\t" }"#,
        "t x {\n  s: \"A\\u{7f}\\t\"\n}\n",
    );
    assert_eq!(string_literal("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\u{1}é""#);
}

#[test]
fn enums_stay_on_one_line_when_they_fit() {
    check(
        "enum risk {\n minimal\n limited, high }",
        "enum risk { minimal, limited, high }\n",
    );
    let long: Vec<String> = (0..20).map(|i| format!("value_{i}")).collect();
    let formatted = format(&format!("enum e {{ {} }}", long.join(", "))).unwrap();
    assert!(
        formatted.starts_with("enum e {\n  value_0\n"),
        "{formatted}"
    );
}

#[test]
fn errors_give_none() {
    assert_eq!(format("team a { x = }"), None);
    assert_eq!(format("team a {"), None);
}

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(format("").as_deref(), Some(""));
    assert_eq!(format("  \n\n").as_deref(), Some(""));
    check("// only\n\n\n/* two */", "// only\n\n/* two */\n");
}

#[test]
fn design_example_is_stable() {
    let src = include_str!("data/design_example.plinth");
    let out = format(src).unwrap();
    assert_eq!(format(&out).as_deref(), Some(out.as_str()));
    assert_eq!(dump(&parse(&out).file), dump(&parse(src).file));
    assert!(out.contains("  rollout: canary { steps: [10%, 50%], pause: 15m }\n"));
    assert!(out.contains("environment prod {\n  tier: production\n"));
}

#[test]
fn short_blocks_of_attributes_stay_inline() {
    check(
        "source s {\n  column id { type: string  pii: true }\n  column long { type: string, pii: true, event_time: true, doc_link_that_is_long: \"https://example.com/a/b\" }\n  training { resources { cpu: 2 } }\n}",
        "source s {\n  column id { type: string, pii: true }\n  column long {\n    type: string\n    pii: true\n    event_time: true\n    doc_link_that_is_long: \"https://example.com/a/b\"\n  }\n  training {\n    resources { cpu: 2 }\n  }\n}\n",
    );
}
