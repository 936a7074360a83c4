//! The built-in packs load, validate in Strict mode and carry the annotations Plinth
//! needs; broken policies are rejected with spans into their file.

use plinth_policy::{PolicyFile, builtin_packs, load};

fn load_all() -> (Option<plinth_policy::Packs>, Vec<plinth_syntax::Diagnostic>) {
    let packs: Vec<String> = builtin_packs().iter().map(|s| s.to_string()).collect();
    load(&packs, Vec::new(), None)
}

#[test]
fn builtin_packs_load_cleanly() {
    assert_eq!(builtin_packs(), vec!["baseline", "eu-ai-act"]);
    let (packs, diags) = load_all();
    assert!(diags.is_empty(), "{diags:#?}");
    let packs = packs.unwrap();
    let baseline = packs
        .rules
        .values()
        .filter(|r| r.pack == "baseline" && r.forbid)
        .count();
    assert!(baseline >= 20, "baseline has {baseline} rules");
    for prefix in [
        "security.",
        "privacy.",
        "reliability.",
        "responsible-ai.",
        "cost.",
    ] {
        assert!(
            packs.rules.keys().any(|k| k.starts_with(prefix)),
            "no {prefix} rule"
        );
    }
}

fn load_one(text: &str) -> Vec<plinth_syntax::Diagnostic> {
    let file = PolicyFile {
        path: "policies/mine.cedar".into(),
        text: text.into(),
    };
    let (packs, diags) = load(&["baseline".to_string()], vec![file], None);
    if diags.iter().any(|d| d.is_error()) {
        assert!(packs.is_none(), "a broken policy must not load");
    }
    diags
}

const HEAD: &str = "@id(\"mine.rule\")\n@severity(\"error\")\n@message(\"m\")\n@help(\"h\")\n";

#[test]
fn a_missing_attribute_is_an_error_with_a_span() {
    let text = format!(
        "{HEAD}forbid (principal, action == Plinth::Action::\"deploy\", resource is Plinth::Service)\nwhen {{ resource.gpus > 0 }};\n"
    );
    let diags = load_one(&text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = &diags[0];
    assert!(d.is_error());
    assert_eq!(d.code, "plinth::policy::load");
    assert_eq!(d.file, "policies/mine.cedar");
    assert!(d.message.contains("gpus"), "{}", d.message);
    assert_eq!(&text[d.span.range()], "resource.gpus");
}

#[test]
fn a_syntax_error_is_an_error_with_a_span() {
    let diags = load_one("@id(\"x\") forbid (principal, action, resource) when { resource. };");
    assert!(!diags.is_empty());
    assert!(
        diags
            .iter()
            .all(|d| d.is_error() && d.file == "policies/mine.cedar")
    );
    assert!(diags[0].message.starts_with("cedar syntax"));
}

#[test]
fn annotation_problems_are_errors() {
    let no_id =
        "@severity(\"error\") @message(\"m\") @help(\"h\")\nforbid (principal, action, resource);";
    let d = load_one(no_id);
    assert!(d.iter().any(|d| d.message.contains("no `@id`")), "{d:#?}");

    let dup = "@id(\"security.image-pinned\") @severity(\"error\") @message(\"m\") @help(\"h\")\nforbid (principal, action, resource) when { false };";
    let d = load_one(dup);
    assert!(
        d.iter().any(|d| d.message.contains("duplicate policy id")),
        "{d:#?}"
    );

    let sev = "@id(\"mine.x\") @severity(\"high\") @message(\"m\") @help(\"h\")\nforbid (principal, action, resource) when { false };";
    let d = load_one(sev);
    assert!(
        d.iter()
            .any(|d| d.message.contains("unknown severity `high`")),
        "{d:#?}"
    );
    let at = d.iter().find(|d| d.message.contains("severity")).unwrap();
    assert_eq!(&sev[at.span.range()], "@severity(\"high\")");

    let field = format!(
        "{HEAD}@field(\"resources.gpus\")\nforbid (principal, action == Plinth::Action::\"deploy\", resource is Plinth::Service) when {{ false }};"
    );
    let d = load_one(&field);
    assert!(
        d.iter()
            .any(|d| d.message.contains("names no field of Service")),
        "{d:#?}"
    );

    let no_help = "@id(\"mine.y\") @severity(\"error\") @message(\"m\")\nforbid (principal, action, resource) when { false };";
    let d = load_one(no_help);
    assert!(d.iter().any(|d| d.message.contains("no `@help`")), "{d:#?}");
}

#[test]
fn an_unknown_pack_is_an_error_pointing_into_plinth_toml() {
    let toml = "[policy]\npacks = [\"baseline\", \"eu-ai-akt\"]\n";
    let (packs, diags) = load(
        &["baseline".to_string(), "eu-ai-akt".to_string()],
        Vec::new(),
        Some(toml),
    );
    assert!(packs.is_none());
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].file, "plinth.toml");
    assert_eq!(&toml[diags[0].span.range()], "\"eu-ai-akt\"");
    assert!(
        diags[0]
            .help
            .as_deref()
            .unwrap()
            .contains("did you mean `eu-ai-act`")
    );
}
