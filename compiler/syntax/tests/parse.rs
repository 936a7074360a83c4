//! Parser tests: constructs checked through the span-free dump, recovery checked by the
//! diagnostics' codes and lines.

// Tests may panic: that is how they fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use plinth_syntax::ast::{ExprKind, Item};
use plinth_syntax::{Diagnostic, codes, dump, line_col, parse};

/// Parse `src`, require no diagnostics, compare the dump.
#[track_caller]
fn check(src: &str, expected: &str) {
    let p = parse(src);
    assert!(p.diagnostics.is_empty(), "{src:?}: {:#?}", p.diagnostics);
    assert_eq!(dump(&p.file).trim_end(), expected.trim(), "{src:?}");
}

/// `(code, line)` of each diagnostic.
fn diags(src: &str) -> Vec<(String, usize)> {
    parse(src)
        .diagnostics
        .iter()
        .map(|d| (d.code.clone(), line_col(src, d.span.start as usize).0))
        .collect()
}

fn only_diag(src: &str) -> Diagnostic {
    let p = parse(src);
    assert_eq!(p.diagnostics.len(), 1, "{src:?}: {:#?}", p.diagnostics);
    p.diagnostics.into_iter().next().unwrap()
}

#[test]
fn design_example_parses_cleanly() {
    let src = include_str!("data/design_example.plinth");
    let p = parse(src);
    assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
    let decls: Vec<String> = p
        .file
        .items
        .iter()
        .map(|i| match i {
            Item::Decl(d) => format!("{} {}", d.kind.text, d.name.text),
            Item::Use(u) => u.path.dotted(),
        })
        .collect();
    assert_eq!(
        decls,
        [
            "team risk_ml",
            "environment prod",
            "environment staging",
            "source transactions",
            "entity card",
            "feature_view card_velocity",
            "model fraud_scorer",
            "service fraud_api",
            "waiver fraud_api_single_region",
        ]
    );
    let Some(Item::Decl(team)) = p.file.items.first() else {
        panic!("no team");
    };
    assert_eq!(
        team.docs[0].text,
        "Card-payment fraud scoring, online, EU only."
    );
    assert_eq!(&src[team.span.range()][..3], "///");
    assert!(src[team.span.range()].ends_with('}'));
}

#[test]
fn use_items() {
    check(
        "use std.profiles as p\nuse std",
        "(use std.profiles as p)\n(use std)",
    );
}

#[test]
fn declaration_headers() {
    check(
        "profile tier1 for service extends std.base, std.eu { replicas: 2..20 }",
        r#"
(decl profile tier1
  (for service)
  (extends std.base std.eu)
  (attr replicas (range (num "2") (num "20"))))"#,
    );
}

#[test]
fn one_line_bodies_need_no_separators() {
    check(
        "environment prod { tier: production  region: eu_west_1; a: 1, b: 2 }",
        r#"
(decl environment prod
  (attr tier (path production))
  (attr region (path eu_west_1))
  (attr a (num "1"))
  (attr b (num "2")))"#,
    );
}

#[test]
fn literals() {
    check(
        r#"x y { a: "s\"\\\n\t\u{e9}" b: 42 c: -1 d: 0.92 e: 5m f: 4GB g: 99.9% h: 2027-03-31 i: 1..2 j: -0.5Gi }"#,
        r#"
(decl x y
  (attr a (str "s\"\\\n\té"))
  (attr b (num "42"))
  (attr c (num "-1"))
  (attr d (num "0.92"))
  (attr e (unit "5" "m"))
  (attr f (unit "4" "GB"))
  (attr g (percent "99.9"))
  (attr h (date 2027 3 31))
  (attr i (range (num "1") (num "2")))
  (attr j (unit "-0.5" "Gi")))"#,
    );
}

#[test]
fn compound_values() {
    check(
        "service s {\n  rollout: canary { steps: [10%, 50%]  pause: 15m }\n  agg: sum(amount, 2)\n  r: { a: 1 }\n  l: [\n    a.b,\n    c,\n  ]\n  e: []\n}",
        r#"
(decl service s
  (attr rollout (variant canary
    (attr steps (list (percent "10") (percent "50")))
    (attr pause (unit "15" "m"))))
  (attr agg (call sum (path amount) (num "2")))
  (attr r (record
    (attr a (num "1"))))
  (attr l (list (path a.b) (path c)))
  (attr e (list)))"#,
    );
}

#[test]
fn blocks_and_docs() {
    check(
        "/// the team\n///no space\nteam t {\n  /// the slo\n  slo latency { x: 1 }\n  training {}\n}",
        r#"
(decl team t
  (doc "the team")
  (doc "no space")
  (block slo latency
    (doc "the slo")
    (attr x (num "1")))
  (block training))"#,
    );
}

#[test]
fn comments_are_kept() {
    let src = "// a\nteam t { /* b */ x: 1 // c\n} /// d";
    let p = parse(src);
    assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
    let texts: Vec<&str> = p.file.comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["// a", "/* b */", "// c", "/// d"]);
    for c in &p.file.comments {
        assert_eq!(&src[c.span.range()], c.text);
    }
}

#[test]
fn orphan_docs_become_comments() {
    let p = parse("/// lost\nuse std\nteam t {\n  x: 1\n  /// also lost\n}");
    assert!(p.diagnostics.is_empty());
    assert_eq!(p.file.comments.len(), 2);
    assert_eq!(p.file.comments[1].text, "/// also lost");
}

#[test]
fn spans_cover_nodes() {
    let src = "team t {\n  /// d\n  x: [1, 2]\n}";
    let p = parse(src);
    let Some(Item::Decl(d)) = p.file.items.first() else {
        panic!("no decl")
    };
    assert_eq!(&src[d.span.range()], src);
    assert_eq!(&src[d.name.span.range()], "t");
    let entry = &d.body.entries[0];
    assert_eq!(&src[entry.span().range()], "/// d\n  x: [1, 2]");
    let plinth_syntax::ast::Entry::Attr(a) = entry else {
        panic!("not an attr")
    };
    assert_eq!(&src[a.value.span.range()], "[1, 2]");
    let ExprKind::List(items) = &a.value.kind else {
        panic!("not a list")
    };
    assert_eq!(&src[items[1].span.range()], "2");
}

// ---- diagnostics ------------------------------------------------------------------

#[test]
fn uppercase_identifier() {
    let d = only_diag("service FraudAPI { x: 1 }");
    assert_eq!(d.code, codes::IDENT);
    assert_eq!(d.message, "identifier `FraudAPI` must be lowercase");
    assert_eq!(d.help.as_deref(), Some("write `fraud_api`"));
}

#[test]
fn digit_identifier() {
    let d = only_diag("service s { 2fa_enabled: true }");
    assert_eq!(d.code, codes::IDENT);
    assert!(d.help.unwrap().contains("`_2fa_enabled`"));
}

#[test]
fn equals_instead_of_colon() {
    let src = "service s {\n  replicas = 3\n  model: m\n}";
    let d = only_diag(src);
    assert_eq!(d.code, codes::UNEXPECTED);
    assert_eq!(d.message, "expected `:` after `replicas`, found `=`");
    assert_eq!(
        d.help.as_deref(),
        Some("`=` is not used in Plinth; write `key: value`")
    );
    // The value is still read.
    assert!(dump(&parse(src).file).contains("(attr replicas (num \"3\"))"));
}

#[test]
fn missing_colon_or_brace() {
    let d = only_diag("service s {\n  replicas\n  model: m\n}");
    assert_eq!(
        d.message,
        "expected `:` or `{` after `replicas`, found `model`"
    );
}

#[test]
fn bad_escapes_and_strings() {
    let d = only_diag(r#"t x { a: "a\qb" }"#);
    assert_eq!(d.code, codes::STRING);
    assert_eq!(d.message, "unknown escape `\\q`");
    assert_eq!((d.span.start, d.span.end), (11, 13));
    let d = only_diag(r#"t x { a: "\u{110000}" }"#);
    assert_eq!(d.code, codes::STRING);
    let d = only_diag("t x {\n  a: \"open\n  b: 1\n}");
    assert_eq!(d.code, codes::UNCLOSED);
    assert_eq!(d.span.start, 11);
}

#[test]
fn bad_numbers_and_dates() {
    for (src, msg) in [
        (
            "t x { a: 2027-02-29 }",
            "invalid date `2027-02-29`: month `02` of 2027 has no day `29`",
        ),
        (
            "t x { a: 2027-13-01 }",
            "invalid date `2027-13-01`: there is no month `13`",
        ),
        ("t x { a: 2027-3-1 }", "malformed date `2027-3-1`"),
        ("t x { a: 1.2.3 }", "malformed number `1.2.3`"),
    ] {
        let d = only_diag(src);
        assert_eq!(d.code, codes::NUMBER, "{src}");
        assert_eq!(d.message, msg);
    }
    check(
        "t x { a: 2028-02-29 }",
        "(decl t x\n  (attr a (date 2028 2 29)))",
    );
}

#[test]
fn unclosed_brace_at_end_points_at_opener() {
    let src = "team a {\n  x: 1\n  slo s {\n    y: 2\n  }\n";
    let d = only_diag(src);
    assert_eq!(d.code, codes::UNCLOSED);
    assert_eq!(d.span.start, 7);
    let d = only_diag("t x { a: [1, 2\n}");
    assert_eq!(d.code, codes::UNCLOSED);
    assert_eq!(d.message, "unclosed `[`");
}

#[test]
fn unclosed_comment() {
    let d = only_diag("team a {}\n/* never");
    assert_eq!(d.code, codes::UNCLOSED);
    assert_eq!(d.span.start, 10);
}

#[test]
fn garbage_between_declarations_is_one_diagnostic() {
    let src = "team a {}\n%% what is this ]]] ((\n== more\nteam b { x: 1 }\n";
    assert_eq!(diags(src), [(codes::UNEXPECTED.to_string(), 2)]);
    assert_eq!(parse(src).file.items.len(), 2);
}

#[test]
fn trailing_garbage_after_value() {
    let d = only_diag("t x {\n  a: 1 2\n  b: 3\n}");
    assert_eq!(
        d.help.as_deref(),
        Some("separate attributes with a newline")
    );
}

#[test]
fn ten_independent_mistakes() {
    let src = r#"team risk_ml {
  owner = "risk@acme.example"
  oncall: "pager
}

service Fraud_api {
  replicas: 3..
  rollout: canary { steps: [10%, , 50%] }
  batching { max_batch: 64 max_delay: 2ms }
}

%%% garbage here

model m {
  expires: 2027-02-30
  bad: "\x"
  ok: 1
  inputs: [a, b c]
}

waiver w {
  target: fraud_api
  reason "missing colon"
}
"#;
    let got = diags(src);
    let want: Vec<(String, usize)> = [
        (codes::UNEXPECTED, 2),
        (codes::UNCLOSED, 3),
        (codes::IDENT, 6),
        (codes::UNEXPECTED, 7),
        (codes::UNEXPECTED, 8),
        (codes::UNEXPECTED, 12),
        (codes::NUMBER, 15),
        (codes::STRING, 16),
        (codes::UNEXPECTED, 18),
        (codes::UNEXPECTED, 23),
    ]
    .iter()
    .map(|(c, l)| (c.to_string(), *l))
    .collect();
    assert_eq!(got, want, "{:#?}", parse(src).diagnostics);
    // Everything else still parses.
    let p = parse(src);
    assert_eq!(p.file.items.len(), 4);
    let text = dump(&p.file);
    assert!(text.contains("(block batching"), "{text}");
    assert!(text.contains("(attr ok (num \"1\"))"));
    assert!(text.contains("(attr target (path fraud_api))"));
}

#[test]
fn deep_nesting_is_bounded() {
    for (open, close) in [("{ a: ", "}"), ("[", "]"), ("x(", ")"), ("v { a: ", "}")] {
        let src = format!("t x {{ a: {} }}", open.repeat(100_000));
        let p = parse(&src);
        assert!(
            p.diagnostics.iter().any(|d| d.code == codes::NESTING),
            "{open} {:#?}",
            p.diagnostics
        );
        assert!(p.diagnostics.len() <= 3, "{:#?}", p.diagnostics);
        let closed = format!(
            "t x {{ a: {}{} }}",
            open.repeat(100_000),
            close.repeat(100_000)
        );
        let p = parse(&closed);
        let codes: Vec<&str> = p.diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, [codes::NESTING], "{open}");
    }
    let blocks = format!("t x {{ {} }}", "a {".repeat(100_000));
    assert!(
        parse(&blocks)
            .diagnostics
            .iter()
            .any(|d| d.code == codes::NESTING)
    );
    let top = "{".repeat(100_000);
    assert_eq!(parse(&top).diagnostics.len(), 1);
    // 63 nested lists inside a declaration body are fine.
    let ok = format!("t x {{ a: {}{} }}", "[".repeat(63), "]".repeat(63));
    assert!(parse(&ok).diagnostics.is_empty());
}

#[test]
fn crlf_and_byte_order_mark() {
    let src = "\u{feff}/// doc\r\nteam t {\r\n  x: 1 // c\r\n}\r\n";
    check(
        src,
        "(decl team t\n  (doc \"doc\")\n  (attr x (num \"1\")))\n(comment \"// c\")",
    );
}

#[test]
fn enum_bodies_are_bare_names() {
    check(
        "enum tier { production, staging\n development }",
        "(decl enum tier\n  (bare production)\n  (bare staging)\n  (bare development))",
    );
    // Outside `enum`, a bare name is a missing value.
    let d = only_diag("team t { owner, x: 1 }");
    assert_eq!(d.message, "expected `:` or `{` after `owner`, found `,`");
}

#[test]
fn throughput_on_a_large_file() {
    // ~10 MB of spec (1 MB in debug builds): the design example with fresh names.
    let size = if cfg!(debug_assertions) {
        1 << 20
    } else {
        10 << 20
    };
    let example = include_str!("data/design_example.plinth");
    let mut text = String::with_capacity(size + (1 << 20));
    let mut copies = 0;
    while text.len() < size {
        text.push_str(&example.replace("risk_ml {", &format!("risk_ml_{copies} {{")));
        text.push('\n');
        copies += 1;
    }
    let start = std::time::Instant::now();
    let p = parse(&text);
    let elapsed = start.elapsed();
    assert!(p.diagnostics.is_empty());
    assert_eq!(p.file.items.len(), copies * 9);
    let mb = text.len() as f64 / (1 << 20) as f64;
    println!(
        "parsed {mb:.1} MiB in {:.3}s: {:.1} MiB/s",
        elapsed.as_secs_f64(),
        mb / elapsed.as_secs_f64()
    );
    let start = std::time::Instant::now();
    let formatted = plinth_syntax::format(&text).unwrap();
    println!(
        "formatted in {:.3}s ({} bytes out)",
        start.elapsed().as_secs_f64(),
        formatted.len()
    );
}
