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

/// Found by fuzzing: a `///` line before a value's `{` documents nothing (the `{` is not
/// an entry), so it is a plain comment. The formatter had split it off the `{` line
/// after another comment, onto a line of its own before the first entry inside the
/// braces, where it read back as that entry's doc.
#[test]
fn an_orphan_doc_before_a_brace_stays_an_orphan() {
    for text in [
        "source s {\n  nd: kide/// ee:0\n  ///Dct it\n { te: count_d}}\n",
        "team t /// a\n///b\n{\n  email: \"a@b.c\"\n}\n",
        "team t {\n  resources // a\n  /// b\n  { cpu: 1 }\n}\n",
    ] {
        round_trips(text);
    }
    assert_eq!(
        plinth_syntax::format("source s {\n  nd: kide/// ee:0\n  ///Dct it\n { te: count_d}}\n")
            .as_deref(),
        Some("source s {\n  nd: kide /// ee:0\n  ///Dct it\n  {\n    te: count_d\n  }\n}\n")
    );
}

/// Found by `cargo fuzz run parse` (minimized): a `///` line before a `,` in an enum's
/// list documents nothing, so it is a plain comment; the formatter printed it twice.
#[test]
fn an_orphan_doc_before_a_comma_prints_once() {
    for text in [
        "enum f{\n///\n,t}",
        "enum format { onnx, savedmodelformat { onnx, python }\n\n/// Data }\n, python }\n",
    ] {
        round_trips(text);
    }
}

/// Found by fuzzing (ten inputs): a `///` that documents nothing (it follows code on
/// its line) and that the layout must print after a `//` comment goes on a line of its
/// own right before an entry, where it would read back as that entry's doc. No layout
/// keeps it a plain comment there, so the formatter refuses, pointing at it.
#[test]
fn a_layout_that_would_make_a_doc_is_refused() {
    let text =
        "source s {\n  region: a // note\n  /// x\n  .b\n  column c {\n    type: string\n  }\n}\n";
    let parsed = plinth_syntax::parse(text);
    assert!(!parsed.has_errors());
    assert!(plinth_syntax::dump(&parsed.file).contains("(comment \"/// x\")"));
    let start = text.find("/// x").unwrap();
    assert_eq!(
        plinth_syntax::format_checked(text),
        Err(plinth_syntax::FormatError::ChangesMeaning {
            span: plinth_syntax::Span::new(start, start + 5)
        })
    );
    round_trips(text);
    round_trips(
        "// C\nsource user_events {\nnd: kafkconfidential\n  regionus: _east_1\n  /// Devee:0h }\n  ///Distinct it\n .ature distin4h { te: count_d}\n}",
    );
}
