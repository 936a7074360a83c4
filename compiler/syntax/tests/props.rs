//! Property tests: no input panics the parser or formatter; random valid trees printed
//! with random layout parse back to the same tree and format stably; any string survives
//! the string-literal escape round trip.

// Tests may panic: that is how they fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use plinth_syntax::ast::{
    Attr, Block, Body, Decl, Doc, Entry, Expr, ExprKind, Ident, Item, Path, SourceFile, Use,
};
use plinth_syntax::{Span, dump, format, parse, string_literal};
use proptest::prelude::*;

const DESIGN: &str = include_str!("data/design_example.plinth");

/// Whatever `text` is: parse and format must not panic, and when it formats, the result
/// must be a fixed point with the same tree and comments.
fn check_any(text: &str) {
    let p = parse(text);
    for d in &p.diagnostics {
        assert!(d.span.end as usize <= text.len(), "{d:?}");
        assert!(text.is_char_boundary(d.span.start as usize), "{d:?}");
        assert!(text.is_char_boundary(d.span.end as usize), "{d:?}");
    }
    if let Some(out) = format(text) {
        assert_eq!(
            dump(&parse(&out).file),
            dump(&p.file),
            "\n{text}\n---\n{out}"
        );
        assert_eq!(
            format(&out).as_deref(),
            Some(out.as_str()),
            "\n{text}\n---\n{out}"
        );
    }
}

// ---- a random tree, printed with random layout --------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn sp() -> Span {
    Span::default()
}

fn ident(rng: &mut Rng) -> Ident {
    let first = "abcdefghijklmnopqrstuvwxyz_";
    let rest = "abcdefghijklmnopqrstuvwxyz_0123456789";
    loop {
        let mut text = String::new();
        text.push(first.as_bytes()[rng.below(first.len())] as char);
        for _ in 0..rng.below(8) {
            text.push(rest.as_bytes()[rng.below(rest.len())] as char);
        }
        if !["use", "as", "for", "extends"].contains(&text.as_str()) {
            return Ident {
                text: text.into(),
                span: sp(),
            };
        }
    }
}

fn path(rng: &mut Rng) -> Path {
    let segments = (0..1 + rng.below(3)).map(|_| ident(rng)).collect();
    Path {
        segments,
        span: sp(),
    }
}

fn digits(rng: &mut Rng, max: usize) -> String {
    (0..1 + rng.below(max))
        .map(|_| char::from(b'0' + rng.below(10) as u8))
        .collect()
}

fn number(rng: &mut Rng) -> String {
    let mut n = String::new();
    if rng.chance(20) {
        n.push('-');
    }
    n.push_str(&digits(rng, 4));
    if rng.chance(30) {
        n.push('.');
        n.push_str(&digits(rng, 3));
    }
    n
}

fn string(rng: &mut Rng) -> String {
    let pieces = [
        "a", "Z", " ", "\"", "\\", "\n", "\t", "é", "€", "🦀", "\u{0}", "\u{7f}", "\r", "{", "}",
        "//", "/*", "u{41}",
    ];
    (0..rng.below(6)).map(|_| rng.pick(&pieces)).collect()
}

fn expr(rng: &mut Rng, depth: usize) -> Expr {
    let leaf = depth == 0 || rng.chance(60);
    let kind = if leaf {
        match rng.below(8) {
            0 => ExprKind::Str(string(rng)),
            1 => ExprKind::Number(number(rng).into()),
            2 => ExprKind::Unit {
                number: number(rng).into(),
                suffix: rng
                    .pick(&["ms", "s", "m", "h", "d", "Gi", "Mi", "GB", "x"])
                    .into(),
            },
            3 => ExprKind::Percent(number(rng).into()),
            4 => ExprKind::Date {
                year: 1000 + rng.below(9000) as u16,
                month: 1 + rng.below(12) as u8,
                day: 1 + rng.below(28) as u8,
            },
            5 => ExprKind::Range(
                Box::new(Expr {
                    kind: ExprKind::Number(number(rng).into()),
                    span: sp(),
                }),
                Box::new(Expr {
                    kind: ExprKind::Unit {
                        number: number(rng).into(),
                        suffix: "m".into(),
                    },
                    span: sp(),
                }),
            ),
            _ => ExprKind::Path(path(rng)),
        }
    } else {
        match rng.below(4) {
            0 => ExprKind::List((0..rng.below(4)).map(|_| expr(rng, depth - 1)).collect()),
            1 => ExprKind::Call {
                callee: Box::new(path(rng)),
                args: (0..rng.below(3)).map(|_| expr(rng, depth - 1)).collect(),
            },
            2 => ExprKind::Variant {
                name: path(rng),
                body: Box::new(body(rng, depth - 1)),
            },
            _ => ExprKind::Record(body(rng, depth - 1)),
        }
    };
    Expr { kind, span: sp() }
}

fn docs(rng: &mut Rng) -> Vec<Doc> {
    (0..if rng.chance(20) { 1 + rng.below(2) } else { 0 })
        .map(|_| Doc {
            text: rng.pick(&["", "doc", " indented", "a `b` é"]).to_string(),
            span: sp(),
        })
        .collect()
}

fn body(rng: &mut Rng, depth: usize) -> Body {
    let entries = (0..rng.below(5))
        .map(|_| {
            if depth > 0 && rng.chance(25) {
                Entry::Block(Block {
                    docs: docs(rng).into(),
                    kind: ident(rng),
                    name: rng.chance(50).then(|| ident(rng)),
                    body: body(rng, depth - 1),
                    span: sp(),
                })
            } else {
                Entry::Attr(Attr {
                    docs: docs(rng).into(),
                    key: ident(rng),
                    value: expr(rng, depth),
                    span: sp(),
                })
            }
        })
        .collect();
    Body {
        entries,
        span: sp(),
    }
}

fn file(rng: &mut Rng) -> SourceFile {
    let mut items = Vec::new();
    for _ in 0..rng.below(3) {
        items.push(Item::Use(Use {
            path: path(rng),
            alias: rng.chance(50).then(|| ident(rng)),
            span: sp(),
        }));
    }
    if rng.chance(30) {
        let entries = (0..rng.below(5)).map(|_| Entry::Bare(ident(rng))).collect();
        items.push(Item::Decl(Decl {
            docs: docs(rng),
            kind: Ident {
                text: "enum".into(),
                span: sp(),
            },
            name: ident(rng),
            for_kind: None,
            extends: Vec::new(),
            body: Body {
                entries,
                span: sp(),
            },
            span: sp(),
        }));
    }
    for _ in 0..rng.below(4) {
        let extends = (0..rng.below(3)).map(|_| path(rng)).collect();
        items.push(Item::Decl(Decl {
            docs: docs(rng),
            kind: ident(rng),
            name: ident(rng),
            for_kind: rng.chance(20).then(|| ident(rng)),
            extends,
            body: body(rng, 3),
            span: sp(),
        }));
    }
    SourceFile {
        items,
        comments: Vec::new(),
    }
}

/// Prints a tree with random (but valid) spacing, separators and comments, recording the
/// comments it writes so the expected dump can include them.
struct Layout<'r> {
    rng: &'r mut Rng,
    out: String,
    comments: Vec<String>,
}

impl Layout<'_> {
    /// Space that stays on one line.
    fn sp(&mut self) {
        match self.rng.below(10) {
            0 => self.out.push_str("  "),
            1 => {
                self.out.push_str(" /* c */ ");
                self.comments.push("/* c */".into());
            }
            _ => self.out.push(' '),
        }
    }
    /// Any space, line breaks and comments included.
    fn gap(&mut self) {
        match self.rng.below(12) {
            0 => self.out.push('\n'),
            1 => self.out.push_str("\n\n  "),
            2 => {
                self.out.push_str(" // line c\n");
                self.comments.push("// line c".into());
            }
            3 => {
                self.out.push_str("/* a\n b */");
                self.comments.push("/* a\n b */".into());
            }
            4 => {}
            _ => self.sp(),
        }
    }
    /// Any space, but never empty: between two words.
    fn word_gap(&mut self) {
        self.out.push(' ');
        self.gap();
    }
    fn s(&mut self, text: &str) {
        self.out.push_str(text);
    }
    fn docs(&mut self, docs: &[Doc]) {
        for d in docs {
            self.out.push_str("\n///");
            if !d.text.is_empty() || self.rng.chance(50) {
                self.out.push(' ');
            }
            self.out.push_str(&d.text);
            self.out.push('\n');
        }
    }
    fn path(&mut self, p: &Path) {
        let dotted = p.dotted();
        self.s(&dotted);
    }
    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Str(s) => {
                let lit = string_literal(s);
                // Sometimes spell `A` as `\u{41}`: a non-canonical but equal literal.
                let lit = if self.rng.chance(30) {
                    lit.replace('A', "\\u{41}")
                } else {
                    lit
                };
                self.s(&lit);
            }
            ExprKind::Number(n) => self.s(n),
            ExprKind::Unit { number, suffix } => self.s(&format!("{number}{suffix}")),
            ExprKind::Percent(p) => self.s(&format!("{p}%")),
            ExprKind::Date { year, month, day } => {
                self.s(&format!("{year:04}-{month:02}-{day:02}"))
            }
            ExprKind::Range(lo, hi) => {
                self.expr(lo);
                self.gap();
                self.s("..");
                self.gap();
                self.expr(hi);
            }
            ExprKind::List(items) => {
                self.s("[");
                self.items(items);
                self.s("]");
            }
            ExprKind::Path(p) => self.path(p),
            ExprKind::Call { callee, args } => {
                self.path(callee);
                self.s("(");
                self.items(args);
                self.s(")");
            }
            ExprKind::Variant { name, body } => {
                self.path(name);
                self.gap();
                self.body(body);
            }
            ExprKind::Record(body) => self.body(body),
            ExprKind::Error => {}
        }
    }
    fn items(&mut self, items: &[Expr]) {
        for (i, item) in items.iter().enumerate() {
            self.gap();
            self.expr(item);
            self.gap();
            if i + 1 < items.len() || self.rng.chance(30) {
                self.s(",");
            }
        }
        self.gap();
    }
    fn body(&mut self, body: &Body) {
        self.s("{");
        for entry in &body.entries {
            self.gap();
            match entry {
                Entry::Attr(a) => {
                    self.docs(&a.docs);
                    self.s(&a.key.text);
                    self.gap();
                    self.s(":");
                    self.gap();
                    self.expr(&a.value);
                }
                Entry::Block(b) => {
                    self.docs(&b.docs);
                    self.s(&b.kind.text);
                    if let Some(n) = &b.name {
                        self.sp();
                        self.s(&n.text);
                    }
                    self.gap();
                    self.body(&b.body);
                }
                Entry::Bare(name) => {
                    self.s(&name.text);
                    // A bare name must be followed by `,`, `}` or a new line.
                    let sep = self.rng.pick(&[",", "\n", " ,\n", " // line c\n"]);
                    if sep.contains("//") {
                        self.comments.push("// line c".into());
                    }
                    self.s(sep);
                    continue;
                }
            }
            // A separator, or at least a space before the next entry.
            let sep = self.rng.pick(&[" ", "\n", ",", ";", " , "]);
            self.s(sep);
        }
        self.gap();
        self.s("}");
    }
    fn file(&mut self, f: &SourceFile) {
        for item in &f.items {
            self.gap();
            match item {
                Item::Use(u) => {
                    self.s("use");
                    self.sp();
                    self.path(&u.path);
                    if let Some(a) = &u.alias {
                        self.sp();
                        self.s("as");
                        self.sp();
                        self.s(&a.text);
                    }
                }
                Item::Decl(d) => {
                    self.docs(&d.docs);
                    self.s(&d.kind.text);
                    self.sp();
                    self.s(&d.name.text);
                    if let Some(k) = &d.for_kind {
                        self.word_gap();
                        self.s("for");
                        self.word_gap();
                        self.s(&k.text);
                    }
                    for (i, p) in d.extends.iter().enumerate() {
                        self.word_gap();
                        self.s(if i == 0 { "extends" } else { "," });
                        self.word_gap();
                        self.path(p);
                    }
                    self.gap();
                    self.body(&d.body);
                }
            }
            self.s("\n");
        }
        self.gap();
    }
}

fn expected_dump(f: &SourceFile, comments: &[String]) -> String {
    let mut text = dump(f);
    for c in comments {
        text.push_str(&format!("(comment {c:?})\n"));
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,300}") {
        check_any(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check_any(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_design_example_never_panics(
        edits in proptest::collection::vec((any::<usize>(), 0u8..4, any::<u8>()), 1..8)
    ) {
        let mut bytes = DESIGN.as_bytes().to_vec();
        let alphabet = b"{}[]()\":,;./*-%=\n abc019";
        for (at, op, b) in edits {
            let at = at % (bytes.len() + 1);
            let b = alphabet[b as usize % alphabet.len()];
            match op {
                0 => bytes.insert(at, b),
                1 if at < bytes.len() => { bytes.remove(at); }
                2 if at < bytes.len() => bytes[at] = b,
                _ => {
                    let end = (at + 40).min(bytes.len());
                    let chunk = bytes[at..end].to_vec();
                    bytes.splice(at..at, chunk);
                }
            }
        }
        check_any(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_trees_round_trip(seed in any::<u64>()) {
        let mut rng = Rng(seed);
        let tree = file(&mut rng);
        let mut layout = Layout { rng: &mut rng, out: String::new(), comments: Vec::new() };
        layout.file(&tree);
        let (text, comments) = (layout.out, layout.comments);
        let p = parse(&text);
        prop_assert!(p.diagnostics.is_empty(), "{text}\n{:#?}", p.diagnostics);
        prop_assert_eq!(dump(&p.file), expected_dump(&tree, &comments), "{}", text);
        let out = format(&text).unwrap();
        prop_assert_eq!(dump(&parse(&out).file), dump(&p.file), "{}\n---\n{}", text, out);
        prop_assert_eq!(format(&out), Some(out.clone()), "{}", out);
    }

    #[test]
    fn string_literals_round_trip(value in any::<String>()) {
        let text = format!("t x {{ s: {} }}", string_literal(&value));
        let p = parse(&text);
        prop_assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
        let dumped = dump(&p.file);
        prop_assert_eq!(dumped, format!("(decl t x\n  (attr s (str {value:?})))\n"));
    }

    #[test]
    fn hostile_string_literals_round_trip(
        value in proptest::collection::vec(
            prop_oneof![Just('"'), Just('\\'), Just('\n'), Just('\r'), Just('\t'), Just('\u{0}'),
                        Just('\u{1b}'), Just('\u{7f}'), Just('\u{85}'), Just('\u{2028}'), Just('{'),
                        Just('u'), Just('é'), Just('🦀'), any::<char>()],
            0..20,
        ).prop_map(|cs| cs.into_iter().collect::<String>())
    ) {
        let lit = string_literal(&value);
        prop_assert!(!lit.contains('\n') && !lit.contains('\r'));
        let p = parse(&format!("t x {{ s: {lit} }}"));
        prop_assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
        let Some(Item::Decl(d)) = p.file.items.first() else { panic!("no decl") };
        let Entry::Attr(a) = &d.body.entries[0] else { panic!("no attr") };
        prop_assert_eq!(&a.value.kind, &ExprKind::Str(value.clone()));
    }
}
