//! Inputs the fuzzer found, kept as regression tests.

/// `parse(format(x))` must give the tree `parse(x)` gives, and formatting is a fixed point.
fn round_trips(text: &str) {
    let parse = plinth_syntax::parse(text);
    if let Some(out) = plinth_syntax::format(text) {
        let again = plinth_syntax::parse(&out);
        assert_eq!(
            plinth_syntax::dump(&again.file),
            plinth_syntax::dump(&parse.file),
            "formatted:\n{out}"
        );
        assert_eq!(plinth_syntax::format(&out).as_deref(), Some(out.as_str()));
    }
}

/// Found by `cargo fuzz run parse` (minimized): a doc comment after a block comment on
/// the same line is a plain comment; the formatter had moved it to a line of its own,
/// where it read back as the declaration's doc.
#[test]
fn comments_on_one_line_stay_on_it() {
    for text in [
        "/*:*//// d\nwaiver w {\n  expires: 2027-03-31\n}\n",
        "/* a */ /* b */ // c\nteam t {\n  /* x */ /// y\n  email: \"a@b.c\"\n}\n",
    ] {
        round_trips(text);
    }
    assert_eq!(
        plinth_syntax::format("/*:*//// d\nteam t {\n}\n").as_deref(),
        Some("/*:*/ /// d\nteam t {}\n")
    );
}
