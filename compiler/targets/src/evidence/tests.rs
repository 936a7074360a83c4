//! Evidence target tests: escaping (property tests with hostile strings), cost
//! arithmetic, the model card and its Annex IV mapping, the scorecard, the HTML report.

use super::cost::{PriceOverrides, PriceTable, estimate, money, runs_per_month};
use super::escape::{self, markdown_special};
use super::*;
use crate::test_fixtures::fraud_platform;
use plinth_ir::{Date, Model, PolicyDecision, PolicyFinding, PolicySummary, Waiver};
use proptest::prelude::*;
use std::sync::Arc;

fn file<'a>(emit: &'a Emit, path: &str) -> &'a str {
    emit.files
        .iter()
        .find(|f| f.path == path)
        .map(|f| f.contents.as_str())
        .unwrap_or_else(|| panic!("no {path} in {:?}", paths(emit)))
}

fn paths(emit: &Emit) -> Vec<&str> {
    emit.files.iter().map(|f| f.path.as_str()).collect()
}

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

/// The fixture with a waiver and policy verdicts, as the CLI would fill them.
fn governed_platform(today: &str) -> Platform {
    let mut p = fraud_platform();
    p.waivers.insert(
        "fraud_api_single_region".into(),
        Waiver {
            name: "fraud_api_single_region".into(),
            policy: "reliability.multi-region-tier1".into(),
            targets: vec!["fraud_api".into()],
            reason: "Second region lands with the Q1 review".into(),
            approved_by: "cto@acme.example".into(),
            expires: date("2027-03-31"),
            origin: Default::default(),
        },
    );
    p.policy = PolicySummary {
        today: Some(date(today)),
        decisions: vec![PolicyDecision {
            action: "train".into(),
            principal: ("Team".into(), "risk_ml".into()),
            resource: ("Model".into(), "fraud_scorer".into()),
            allowed: true,
            determining: vec!["baseline.allow".into()],
        }],
        findings: vec![PolicyFinding {
            kind: "Service".into(),
            name: "fraud_api".into(),
            policy: "reliability.multi-region-tier1".into(),
            severity: "error".into(),
            message: "tier-1 services run in two regions".into(),
            help: "add a second region".into(),
            actions: vec!["deploy".into()],
            waiver: Some("fraud_api_single_region".into()),
        }],
    };
    p
}

#[test]
fn writes_every_evidence_file() {
    let emit = Evidence::default().emit(&governed_platform("2026-11-24"));
    assert!(emit.diagnostics.is_empty(), "{:?}", emit.diagnostics);
    assert_eq!(
        paths(&emit),
        [
            "cost.json",
            "cost.md",
            "lineage.dot",
            "lineage.json",
            "models/fraud_scorer.md",
            "scorecard.json",
            "scorecard.md"
        ]
    );
}

#[test]
fn high_risk_card_maps_annex_iv_and_lists_gaps() {
    let emit = Evidence::default().emit(&governed_platform("2026-11-24"));
    let card = file(&emit, "models/fraud_scorer.md");
    assert!(card.starts_with("# Model card: fraud\\_scorer\n"), "{card}");
    assert!(card.contains("## EU AI Act Annex IV technical documentation"));
    for id in ["1(a)", "1(e)", "2(b)", "2(e)", "9"] {
        assert!(
            card.contains(&format!("### Annex IV {}", escape::markdown(id))),
            "{id}: {card}"
        );
    }
    assert!(card.contains("### Items the spec cannot answer"));
    // The fixture has no source declarations and no training: those items are gaps.
    for gap in ["1(d)", "1(h)", "2(a)", "2(d)", "2(g)", "4", "6", "7", "8"] {
        assert!(
            card.contains(&format!("- **Annex IV {},", escape::markdown(gap))),
            "{gap}"
        );
    }
    // Waiver in force with its expiry, and the policy decision.
    assert!(card.contains("| fraud\\_api\\_single\\_region |"));
    assert!(card.contains("| 2027\\-03\\-31 |\n"), "{card}");
    // No date in the build output: it changes only when a figure does.
    assert!(!card.contains("2026\\-11\\-24"));
    assert!(card.contains("waived by fraud\\_api\\_single\\_region"));
    assert!(
        card.contains("| allow | train | team risk\\_ml | model fraud\\_scorer | base permit |")
    );
}

/// The gap lists are rendered once per distinct list and shared by the cards: each card
/// still ends with exactly its own list.
#[test]
fn each_high_risk_card_ends_with_its_own_gap_list() {
    let mut p = fraud_platform();
    let Some(served) = p.models.get("fraud_scorer").map(|m| Model::clone(m)) else {
        panic!("the fixture has fraud_scorer");
    };
    // Copies under other names: no service serves them (gap 1(e)); two lack oversight
    // and explainability (gap 2(e)).
    for (name, oversight) in [("b_plain", true), ("c_blind", false), ("d_blind", false)] {
        let mut m = served.clone();
        m.name = name.into();
        if !oversight {
            m.human_oversight = None;
            m.explainability = None;
        }
        p.models.insert(m.name.clone(), Arc::new(m));
    }
    let emit = Evidence::default().emit(&p);
    let gaps = |model: &str| {
        let card = file(&emit, &format!("models/{model}.md"));
        match card.split_once("### Items the spec cannot answer\n\n") {
            Some((_, list)) => list.to_string(),
            None => panic!("no gap list in {card}"),
        }
    };
    let hardware = "- **Annex IV 1\\(e\\),";
    let oversight = "- **Annex IV 2\\(e\\),";
    let served = gaps("fraud_scorer");
    assert!(
        !served.contains(hardware) && !served.contains(oversight),
        "{served}"
    );
    let plain = gaps("b_plain");
    assert!(
        plain.contains(hardware) && !plain.contains(oversight),
        "{plain}"
    );
    let blind = gaps("c_blind");
    assert!(
        blind.contains(hardware) && blind.contains(oversight),
        "{blind}"
    );
    assert_eq!(blind, gaps("d_blind"));
    for list in [&served, &plain, &blind] {
        assert!(list.starts_with("- **Annex IV 1\\(d\\),"), "{list}");
        assert!(list.ends_with('\n'), "{list}");
        assert!(
            list.lines().all(|l| l.starts_with("- **Annex IV ")),
            "{list}"
        );
    }
}

#[test]
fn low_risk_card_has_no_annex_and_missing_fields_say_so() {
    let mut p = fraud_platform();
    if let Some(m) = p.models.get_mut("fraud_scorer").map(Arc::make_mut) {
        m.risk.name = "minimal".into();
        m.purpose = None;
        m.human_oversight = None;
    }
    let emit = Evidence::default().emit(&p);
    let card = file(&emit, "models/fraud_scorer.md");
    assert!(!card.contains("Annex IV"));
    assert!(card.contains("- **Purpose:** _not stated in the spec_"));
    assert!(card.contains("- **Human oversight:** _not stated in the spec_"));
    assert!(card.contains("_Policies were not evaluated"));
}

#[test]
fn high_risk_card_without_oversight_lists_the_item_as_a_gap() {
    let mut p = fraud_platform();
    if let Some(m) = p.models.get_mut("fraud_scorer").map(Arc::make_mut) {
        m.human_oversight = None;
        m.explainability = None;
    }
    let card = file(&Evidence::default().emit(&p), "models/fraud_scorer.md").to_string();
    assert!(card.contains(
        "- **Annex IV 2\\(e\\), Human oversight measures and interpretation of outputs \\(Article 14\\):** the spec sets neither"
    ), "{card}");
}

#[test]
fn scorecard_counts_waivers_and_readiness() {
    let p = governed_platform("2027-03-10");
    let score = scorecard::scorecard(&p, &p.policy);
    let f = &score.platform;
    // The only finding is waived: the service is ready.
    assert_eq!(f.production_readiness.met, f.production_readiness.of);
    assert_eq!(f.waivers_in_force, ["fraud_api_single_region"]);
    assert_eq!(f.waivers_expiring_30d, ["fraud_api_single_region"]);
    assert_eq!(
        score.teams["risk_ml"].waivers_in_force,
        ["fraud_api_single_region"]
    );
    assert_eq!(f.golden_path_adoption.percent, Some(100));
    // No feature views in the fixture: nothing to count, not 100%.
    assert_eq!(f.data_quality_coverage.percent, None);
    let later = governed_platform("2027-04-01");
    assert!(
        scorecard::scorecard(&later, &later.policy)
            .platform
            .waivers_in_force
            .is_empty()
    );
}

#[test]
fn unwaived_error_makes_a_deployable_not_ready() {
    let mut p = governed_platform("2026-11-24");
    p.policy.findings[0].waiver = None;
    let score = scorecard::scorecard(&p, &p.policy);
    assert_eq!(score.platform.production_readiness.missing, ["fraud_api"]);
}

#[test]
fn stdlib_prices_parse() {
    let t: PriceTable = toml::from_str(include_str!("../../../../stdlib/prices.toml")).unwrap();
    assert_eq!(t, PriceTable::stdlib());
    assert!(t.vcpu_hour > 0.0 && t.accelerator_hour.contains_key("default"));
}

#[test]
fn overrides_merge_and_refuse_negative_prices() {
    let o: PriceOverrides =
        toml::from_str("vcpu_hour = 1.0\n[accelerator_hour]\nnvidia_t4 = 2.0\n").unwrap();
    let t = PriceTable::with_overrides(&o).unwrap();
    assert_eq!(t.vcpu_hour, 1.0);
    assert_eq!(t.accelerator_hour["nvidia_t4"], 2.0);
    assert_eq!(t.gib_hour, PriceTable::stdlib().gib_hour);
    let bad: PriceOverrides = toml::from_str("gib_hour = -1.0").unwrap();
    assert!(
        PriceTable::with_overrides(&bad)
            .unwrap_err()
            .contains("gib_hour")
    );
    assert!(toml::from_str::<PriceOverrides>("cpu_hour = 1.0").is_err());
}

#[test]
fn service_cost_is_replicas_times_resources_times_hours() {
    let p = fraud_platform();
    let prices = PriceTable {
        currency: "USD".into(),
        vcpu_hour: 1.0,
        gib_hour: 0.5,
        accelerator_hour: [("nvidia_t4".to_string(), 10.0)].into(),
        training_run_hours: 2.0,
        batch_run_hours: 1.0,
        materialization_run_minutes: 5.0,
    };
    let r = estimate(&[&p], &prices);
    let svc = r.items.iter().find(|i| i.kind == "service").unwrap();
    let s = &p.services["fraud_api"];
    // cpu 2, memory 4Gi, 1 T4: 2 + 2 + 10 = 14 per replica-hour.
    assert_eq!(s.resources.gpu, 1);
    assert_eq!(svc.monthly_min, f64::from(s.min_replicas) * 14.0 * 730.0);
    assert_eq!(svc.monthly_max, f64::from(s.max_replicas) * 14.0 * 730.0);
    assert!(r.by_team.contains_key("risk_ml"));
    assert!(r.by_cost_center.contains_key("CC-1042"));
}

#[test]
fn cron_runs_per_month() {
    assert_eq!(runs_per_month("0 3 * * *"), Some(365.0 / 12.0));
    assert_eq!(runs_per_month("0 * * * *"), Some(365.0 * 24.0 / 12.0));
    assert_eq!(runs_per_month("0 0 1 * *"), Some(1.0));
    // 2026 has 52 Mondays... and one more: it starts on a Thursday, so 52.
    assert_eq!(runs_per_month("0 9 * * 1"), Some(52.0 / 12.0));
    assert_eq!(runs_per_month("not a cron"), None);
}

#[test]
fn money_is_grouped_and_rounded() {
    assert_eq!(money(1234567.891), "1,234,567.89");
    assert_eq!(money(0.0), "0.00");
    assert_eq!(money(999.999), "1,000.00");
}

#[test]
fn report_is_self_contained_and_links_every_card() {
    let p = governed_platform("2026-11-24");
    let page = html::report(&p, &PriceTable::stdlib(), None).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(page.contains("href=\"#model-fraud_scorer\""));
    assert!(page.contains("<article id=\"model-fraud_scorer\">"));
    assert!(!page.contains("<script"));
    // Nothing is fetched: the only URL is the SVG namespace.
    let urls = page.matches("http://").count() + page.matches("https://").count();
    assert_eq!(urls, 1, "{page}");
}

#[test]
fn graphviz_svg_is_inlined_only_when_inert() {
    let svg = "<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<svg width=\"1\"><g/></svg>\n";
    assert_eq!(
        html::inline_svg(svg).as_deref(),
        Some("<svg width=\"1\"><g/></svg>\n")
    );
    assert!(html::inline_svg("<svg><script>x</script></svg>").is_none());
    assert!(html::inline_svg("<svg><g onload=\"x\"/></svg>").is_none());
    assert!(html::inline_svg("<svg><g class=\"node\"/></svg>").is_some());
    assert!(html::inline_svg("no svg").is_none());
}

/// Strings that try to be markup in every format the evidence writes.
#[test]
fn markdown_escape_changes_exactly_the_special_bytes() {
    // The escape decides by a compile-time bit mask; it must agree with the rule.
    for b in 0..=255u8 {
        let c = char::from(b);
        let text = c.to_string();
        let expected = match c {
            '\n' => "&#10;".to_string(),
            '\r' => "&#13;".to_string(),
            '\t' => "&#9;".to_string(),
            c if markdown_special(c) => format!("\\{c}"),
            c => c.to_string(),
        };
        assert_eq!(escape::markdown(&text), expected, "byte {b}");
        assert_eq!(
            markdown_special(c),
            c.is_ascii_punctuation() && !",;%'\"?/".contains(c)
        );
    }
}

fn hostile() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("<script>alert(1)</script>".to_string()),
        Just("</pre><b>x</b>".to_string()),
        Just("&amp;&lt;".to_string()),
        Just("| a | b |".to_string()),
        Just("*em* **strong** _u_".to_string()),
        Just("`code` ```".to_string()),
        Just("\n# heading\n".to_string()),
        Just("\n\n    indented\n".to_string()),
        Just("[link](http://x.example)".to_string()),
        Just("<!--plinth:graph-->".to_string()),
        Just("{{name}}".to_string()),
        Just("\\".to_string()),
        Just("\"'".to_string()),
        Just("1. item\n- item\n".to_string()),
        Just("\r\t".to_string()),
        "[ -~]{0,8}",
        "\\PC{0,4}",
    ];
    prop::collection::vec(pieces, 0..8).prop_map(|v| v.concat())
}

/// The fixture with `text` in every free-text field an auditor reads.
fn platform_with(text: &str) -> Platform {
    let mut p = governed_platform("2026-11-24");
    if let Some(m) = p.models.get_mut("fraud_scorer").map(Arc::make_mut) {
        m.purpose = Some(text.to_string());
        m.intended_use = Some(text.to_string());
        m.limitations = Some(text.to_string());
        m.human_oversight = Some(text.to_string());
        m.explainability = Some(text.to_string());
        m.doc = text.to_string();
        m.version = text.to_string();
        m.artifact = text.to_string();
    }
    if let Some(t) = p.teams.get_mut("risk_ml").map(Arc::make_mut) {
        t.owner = text.to_string();
        t.cost_center = Some(text.to_string());
    }
    if let Some(w) = p.waivers.get_mut("fraud_api_single_region") {
        w.reason = text.to_string();
        w.approved_by = text.to_string();
    }
    p.policy.findings[0].message = text.to_string();
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn markdown_escape_reads_back_and_leaves_no_syntax(text in hostile()) {
        let escaped = escape::markdown(&text);
        prop_assert_eq!(escape::markdown_unescape(&escaped), Some(text.clone()));
        prop_assert!(!escaped.contains('\n') && !escaped.contains('\r'));
        // Every special character is preceded by a backslash or is part of one of the
        // line-break references we write.
        let mut rest = escaped.as_str();
        while let Some(c) = rest.chars().next() {
            if c == '\\' {
                let next = rest[1..].chars().next();
                prop_assert!(next.is_some_and(markdown_special), "{escaped}");
                rest = &rest[2..];
            } else if c == '&' {
                let entity = ["&#10;", "&#13;", "&#9;"].into_iter().find(|e| rest.starts_with(e));
                prop_assert!(entity.is_some(), "{escaped}");
                rest = &rest[entity.unwrap().len()..];
            } else {
                prop_assert!(!markdown_special(c), "unescaped {c:?} in {escaped}");
                rest = &rest[c.len_utf8()..];
            }
        }
    }

    #[test]
    fn html_escape_reads_back_and_leaves_no_markup(text in hostile()) {
        let escaped = escape::html(&text);
        prop_assert_eq!(escape::html_unescape(&escaped), Some(text.clone()));
        prop_assert!(!escaped.contains('<') && !escaped.contains('>') && !escaped.contains('"'));
        // Every `&` starts one of our references.
        for (i, _) in escaped.match_indices('&') {
            let tail = &escaped[i..];
            prop_assert!(["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"].iter().any(|e| tail.starts_with(e)));
        }
    }

    #[test]
    fn dot_escape_stays_in_its_string(text in hostile()) {
        let escaped = escape::dot(&text);
        // No unescaped quote: every `"` is preceded by an odd run of backslashes.
        let bytes = escaped.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'"' {
                let run = bytes[..i].iter().rev().take_while(|c| **c == b'\\').count();
                prop_assert!(run % 2 == 1, "{escaped}");
            }
        }
        prop_assert!(!escaped.contains('\n'));
    }

    /// Hostile text everywhere: the card and the report keep their structure and show
    /// the text verbatim, never as markup.
    #[test]
    fn spec_strings_stay_text_in_cards_and_report(text in hostile()) {
        // A blank doc comment or purpose is "not stated", a different (tested) shape.
        prop_assume!(!text.trim().is_empty());
        let p = platform_with(&text);
        let plain = Evidence::default().emit(&platform_with("plain"));
        let emit = Evidence::default().emit(&p);
        prop_assert!(emit.diagnostics.is_empty(), "{:?}", emit.diagnostics);
        let card = file(&emit, "models/fraud_scorer.md");
        let plain_card = file(&plain, "models/fraud_scorer.md");
        // Same Markdown structure: the same lines start a heading, list item or table row.
        let kind = |l: &str| match l {
            "" => "blank",
            l if l.starts_with('#') => "heading",
            l if l.starts_with('|') => "table",
            l if l.starts_with("- ") => "item",
            l if l.starts_with("  - ") => "subitem",
            _ => "text",
        };
        let shape = |s: &str| s.lines().map(kind).collect::<Vec<_>>();
        prop_assert_eq!(shape(card), shape(plain_card));
        let purpose = format!("- **Purpose:** {}", escape::markdown(&text));
        prop_assert!(text.is_empty() || card.contains(&purpose), "{}", card);
        let page = html::report(&p, &PriceTable::stdlib(), None).unwrap();
        let plain_page = html::report(&platform_with("plain"), &PriceTable::stdlib(), None).unwrap();
        prop_assert_eq!(page.matches('<').count(), plain_page.matches('<').count());
        prop_assert!(!page.contains("<script"));
        prop_assert!(page.contains(&escape::html(&text)));
    }
}

/// (model name, card) in model order.
type Cards = Vec<(String, String)>;

/// The cards of `p` spliced (as `plinth build` writes them, all through one set of
/// skeletons) and as plain handlebars renders each.
fn spliced_and_rendered(p: &Platform) -> (Cards, Cards) {
    let hbs = markdown_renderer().unwrap();
    let lin = lineage::lineage(p);
    (
        model_cards(&hbs, p, &lin).unwrap(),
        model_cards_by_template(&hbs, p, &lin).unwrap(),
    )
}

/// Hostile spec text: Markdown syntax, handlebars syntax, line breaks, a NUL and text
/// that looks like a skeleton's marker (`\0` number `\0`), which must land in the card
/// as text.
const HOSTILE: &str = "a\0b \u{0}3\u{0} {{name}} {{{doc}}} *x* | y |\n# z\r\t`w` \\ &#10;";

#[test]
fn splicing_writes_what_handlebars_renders() {
    // Copies of the model that each differ from a base in one thing the template
    // decides on, rendered together so they share skeletons: a shape that missed that
    // thing would give the copy its base's skeleton (or the base the copy's). The `m_`
    // copies are of minimal risk, so no Annex IV fact follows from what they change.
    // Leaving any flag or count out of `Card::shape` fails this test, except where the
    // rest of the shape implies it: `serving` (the service and batch job counts), a
    // count whose items have entries (services, decisions, answered items), `annex`
    // (its entries), `policy_evaluated` (one value per platform) and `not_covered` (one
    // value per Annex IV item).
    let mut p = platform_with(HOSTILE);
    let Some(base) = p.models.get("fraud_scorer").map(|m| Model::clone(m)) else {
        panic!("the fixture has fraud_scorer");
    };
    let training = |approvals: &[&str]| plinth_ir::Training {
        schedule: approvals.is_empty().then(|| plinth_ir::Cron {
            expr: HOSTILE.to_string(),
            interval: plinth_ir::Duration(3_600_000),
        }),
        image: HOSTILE.to_string(),
        dataset_window: None,
        resources: Default::default(),
        evaluation: None,
        approvals: approvals.iter().map(ToString::to_string).collect(),
    };
    type Change = Box<dyn Fn(&mut Model)>;
    let variants: Vec<(&str, Change)> = vec![
        // High risk: the Annex IV items and their facts follow these.
        ("h_no_purpose", Box::new(|m| m.purpose = None)),
        ("h_no_oversight", Box::new(|m| m.human_oversight = None)),
        (
            "h_trained",
            Box::new(move |m| m.training = Some(training(&[HOSTILE]))),
        ),
        // One fact more (2(f): scheduled retraining), nothing else.
        (
            "h_trained_2",
            Box::new(move |m| {
                m.training = Some(training(&[HOSTILE]));
                if let Some(t) = &mut m.training {
                    t.schedule = training(&[]).schedule;
                }
            }),
        ),
        ("m_base", Box::new(|_| {})),
        // A tested value that is empty is false, like a missing one.
        ("m_doc", Box::new(|m| m.doc = " ".to_string())),
        ("m_purpose", Box::new(|m| m.purpose = Some(String::new()))),
        ("m_use", Box::new(|m| m.intended_use = None)),
        (
            "m_limits",
            Box::new(|m| m.limitations = Some(String::new())),
        ),
        (
            "m_explain",
            Box::new(|m| m.explainability = Some(String::new())),
        ),
        ("m_oversight", Box::new(|m| m.human_oversight = None)),
        ("m_team", Box::new(|m| m.owner = HOSTILE.to_string())),
        ("m_inputs", Box::new(|m| m.inputs.truncate(1))),
        ("m_in_tensors", Box::new(|m| m.input_tensors.clear())),
        ("m_out_tensors", Box::new(|m| m.output_tensors.clear())),
        (
            "m_sourced",
            Box::new(|m| m.lineage.sources = vec!["src".into()]),
        ),
        (
            "m_viewed",
            Box::new(|m| m.lineage.feature_views = vec!["fv".into()]),
        ),
        (
            "m_pii",
            Box::new(|m| m.lineage.pii_columns = vec![HOSTILE.into()]),
        ),
        (
            "m_pii_3",
            Box::new(|m| m.lineage.pii_columns = vec!["a".into(), HOSTILE.into(), "c".into()]),
        ),
        (
            "m_trained",
            Box::new(move |m| m.training = Some(training(&[]))),
        ),
        (
            "m_approved",
            Box::new(move |m| m.training = Some(training(&[HOSTILE, "b"]))),
        ),
        // What the platform says about these names differs (below).
        ("m_served", Box::new(|_| {})),
        ("m_served_2", Box::new(|_| {})),
        ("m_served_no_slo", Box::new(|_| {})),
        ("m_served_no_monitor", Box::new(|_| {})),
        ("m_batch", Box::new(|_| {})),
        ("m_waived", Box::new(|_| {})),
        ("m_found", Box::new(|_| {})),
        ("m_forbidden", Box::new(|_| {})),
        ("m_permitted", Box::new(|_| {})),
    ];
    for (name, change) in &variants {
        let mut m = base.clone();
        m.name = (*name).to_string();
        if name.starts_with("m_") {
            m.risk.name = "minimal".into();
        }
        change(&mut m);
        p.models.insert(m.name.clone(), Arc::new(m));
    }
    for (name, model, slos, monitors) in [
        ("s_1", "m_served", true, true),
        ("s_2", "m_served_2", true, true),
        ("s_3", "m_served_2", true, true),
        ("s_4", "m_served_no_slo", false, true),
        ("s_5", "m_served_no_monitor", true, false),
    ] {
        let mut s = crate::test_fixtures::fraud_api();
        s.name = name.into();
        s.model = model.into();
        s.callers = vec![HOSTILE.into()];
        if !slos {
            s.slos.clear();
        }
        if !monitors {
            s.monitors.clear();
        }
        p.services.insert(s.name.clone(), Arc::new(s));
    }
    let level = plinth_ir::Level {
        rank: 1,
        name: HOSTILE.into(),
    };
    let source = plinth_ir::Source {
        name: "src".into(),
        doc: String::new(),
        kind: HOSTILE.into(),
        location: Default::default(),
        owner: "risk_ml".into(),
        classification: level.clone(),
        region: Some(HOSTILE.into()),
        residency: vec![],
        retention: None,
        columns: vec![],
        origin: Default::default(),
    };
    p.sources.insert(source.name.clone(), Arc::new(source));
    let view = plinth_ir::FeatureView {
        name: "fv".into(),
        doc: String::new(),
        entity: "card".into(),
        key: "card_id".into(),
        source: "src".into(),
        freshness: None,
        ttl: None,
        online: false,
        schedule: None,
        owner: "risk_ml".into(),
        classification: level,
        image: None,
        resources: Default::default(),
        features: vec![],
        expects: vec![],
        uses_pii: false,
        lineage: Default::default(),
        origin: Default::default(),
    };
    p.feature_views.insert(view.name.clone(), Arc::new(view));
    let mut job = crate::test_fixtures::fraud_rescoring();
    job.model = "m_batch".into();
    p.batch_jobs.insert(job.name.clone(), Arc::new(job));
    let mut waiver = p.waivers.values().next().unwrap().clone();
    waiver.name = "w_2".into();
    waiver.targets = vec!["m_waived".into()];
    p.waivers.insert(waiver.name.clone(), waiver);
    let mut finding = p.policy.findings[0].clone();
    (finding.kind, finding.name, finding.waiver) = ("Model".into(), "m_found".into(), None);
    p.policy.findings.push(finding);
    // One decision each, determined by a forbid rule (one a finding names) or by a
    // base permit only: `{{#if by}}` differs.
    for (model, rule) in [
        ("m_forbidden", "reliability.multi-region-tier1"),
        ("m_permitted", "baseline.allow"),
    ] {
        p.policy.decisions.push(PolicyDecision {
            action: HOSTILE.into(),
            principal: ("Team".into(), "risk_ml".into()),
            resource: ("Model".into(), model.into()),
            allowed: false,
            determining: vec![rule.into()],
        });
    }

    let (spliced, rendered) = spliced_and_rendered(&p);
    assert_eq!(spliced.len(), variants.len() + 1);
    for ((name, spliced), (_, rendered)) in spliced.iter().zip(&rendered) {
        assert_eq!(spliced, rendered, "{name}");
    }
    // The hostile text reached the cards, escaped, and the variants took effect.
    let card = |name: &str| &spliced.iter().find(|(n, _)| n == name).unwrap().1;
    assert!(card("fraud_scorer").contains("a\0b \u{0}3\u{0} \\{\\{name\\}\\}"));
    assert!(card("m_purpose").contains("- **Purpose:** _not stated in the spec_"));
    assert!(card("m_approved").contains("- **Approvals:** a\0b"));
    assert!(card("m_forbidden").contains("| reliability\\.multi\\-region\\-tier1 |\n"));
    assert!(card("m_permitted").contains("| base permit |\n"));
    assert!(card("m_served_2").contains("### service s\\_3"));
    assert!(!card("m_base").contains("Annex IV"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Hostile text in every field the fixture fills, both ways.
    #[test]
    fn splicing_writes_what_handlebars_renders_for_any_text(text in hostile()) {
        let (spliced, rendered) = spliced_and_rendered(&platform_with(&text));
        prop_assert_eq!(spliced, rendered);
    }
}
