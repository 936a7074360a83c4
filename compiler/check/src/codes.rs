//! Every diagnostic code, with its documentation: what it means, why it matters, an
//! example and the fix. `plinth explain CODE` prints these; a test checks that every
//! code the compiler can emit is listed here.

pub struct CodeDoc {
    pub code: &'static str,
    pub summary: &'static str,
    pub why: &'static str,
    pub example: &'static str,
    pub fix: &'static str,
}

const fn doc(code: &'static str, summary: &'static str, why: &'static str, example: &'static str, fix: &'static str) -> CodeDoc {
    CodeDoc { code, summary, why, example, fix }
}

pub static CODES: &[CodeDoc] = &[
    doc("plinth::syntax::unexpected", "A token where the grammar expects something else.", "The file cannot be read past this point of the declaration.", "service s { replicas = 2..4 }", "Write `key: value` entries and `kind name { ... }` blocks."),
    doc("plinth::syntax::unclosed", "A `{`, `[`, `(`, string or comment that is never closed.", "Everything after it would belong to it.", "model m { owner: t", "Close it; the label points at the opening."),
    doc("plinth::syntax::string", "A bad escape in a string.", "Only `\\\" \\\\ \\n \\t \\u{...}` are escapes.", "purpose: \"a\\qb\"", "Remove the backslash or use a valid escape."),
    doc("plinth::syntax::number", "A malformed number or date.", "Numbers and dates must be exact.", "expires: 2027-13-01", "Write `42`, `0.5`, `-1` or a real date `2027-03-31`."),
    doc("plinth::syntax::ident", "A name with capitals or a leading digit.", "Names are `[a-z_][a-z0-9_]*` so generated resource names are valid everywhere.", "service FraudApi { }", "Use snake_case: `fraud_api`."),
    doc("plinth::syntax::nesting", "Nesting deeper than the parser allows.", "Deeply nested input is never a real spec and must not exhaust the stack.", "a: [[[[[[...]]]]]]", "Flatten the structure."),
    doc("plinth::decl::unknown_kind", "A declaration of a kind Plinth does not know.", "Only the kinds of the language have checks and targets.", "servce fraud_api { }", "Use one of: team, environment, source, entity, feature_view, model, service, batch_job, waiver, profile."),
    doc("plinth::decl::duplicate", "Two declarations with the same name.", "All files of a workspace share one namespace, so references would be ambiguous.", "model m { } ... model m { }", "Rename one of them."),
    doc("plinth::decl::enum", "An `enum` outside the stdlib.", "The kind tables refer to the stdlib's enums by name; a workspace enum would not be used.", "enum colour { red }", "Use the stdlib's enum values."),
    doc("plinth::profile::for", "A profile without `for KIND`, or `for` on something else.", "A profile is a partial body of one kind and is checked as one.", "profile p { replicas: 2..4 }", "Write `profile p for service { ... }`."),
    doc("plinth::extends::unknown", "`extends` names no declaration.", "The body it would inherit does not exist.", "service s extends std.tier9 { }", "Name an existing profile (did-you-mean helps)."),
    doc("plinth::extends::not_profile", "`extends` names something that is not a profile.", "Only profiles are partial bodies meant to be inherited.", "service s extends other_service { }", "Move the shared fields into a `profile`."),
    doc("plinth::extends::kind", "`extends` names a profile for another kind.", "Its fields would not fit this declaration.", "service s extends std.batch_standard { }", "Extend a profile declared `for` this kind."),
    doc("plinth::extends::cycle", "Profiles extend each other in a cycle.", "No order of inheritance exists.", "profile a for service extends b { } profile b for service extends a { }", "Remove one `extends`."),
    doc("plinth::extends::conflict", "Two extended profiles set the same field differently.", "Which one wins would depend on order, which reviewers cannot see.", "service s extends p1, p2 { }  // both set replicas", "Set the field in the declaration itself."),
    doc("plinth::field::unknown", "A field that the kind does not have.", "It would be silently ignored: a typo must not pass.", "service s { replcas: 2..4 }", "Use the suggested field name."),
    doc("plinth::field::missing", "A required field is missing.", "Targets and policies need it.", "model m { owner: t }", "Add the field (its doc is in the help)."),
    doc("plinth::field::duplicate", "A field or named block set twice.", "Which value applies would be ambiguous.", "service s { replicas: 1..2  replicas: 3..4 }", "Keep one."),
    doc("plinth::field::shape", "A block written as a value or a value as a block, or a block name missing.", "Each field has one shape in its kind table.", "service s { batching: 4 }", "Write `batching { max_batch: 4 }`."),
    doc("plinth::type::mismatch", "A value of the wrong type.", "Targets need typed values.", "replicas: \"three\"", "Write a value of the expected type (see the label)."),
    doc("plinth::type::unit", "A unit suffix that does not fit the field's type.", "Suffixes are read by the expected type; `4GB` is not a Kubernetes quantity.", "memory: 4GB", "Use the suggested unit: `4Gi`."),
    doc("plinth::type::percent", "A percentage outside (0, 100].", "Objectives and traffic shares are shares of a whole.", "objective: 100.5%", "Use a value above 0% and at most 100%."),
    doc("plinth::type::range", "A range with min above max, or below one replica.", "The autoscaler cannot honour it.", "replicas: 10..2", "Write `min..max` with 1 <= min <= max."),
    doc("plinth::type::enum", "A value that is not in the field's enum.", "Enums are closed sets that targets map to real settings.", "tier: prod", "Use one of the listed values."),
    doc("plinth::type::variant", "An unknown variant, or settings on one that takes none.", "Each variant has its own schema.", "rollout: canery { }", "Use a listed variant."),
    doc("plinth::type::email", "A string that is not an e-mail address.", "Owners and approvers must be reachable.", "owner: \"risk-ml\"", "Write `\"risk-ml@example.com\"`."),
    doc("plinth::type::date", "A date that does not exist.", "Waiver expiry must be a real day.", "expires: 2027-02-30", "Use a real calendar date."),
    doc("plinth::type::cron", "An invalid cron expression.", "Schedules are lowered into Airflow and checked against freshness.", "schedule: \"*/0 * * *\"", "Five fields: minute hour day-of-month month day-of-week."),
    doc("plinth::type::aggregate", "An unknown aggregate or wrong arguments.", "Aggregates are typed against the source's columns.", "aggregate: total(amount)", "Use count, count_distinct, last, sum, avg, min or max over one column."),
    doc("plinth::ref::unknown", "A reference to a declaration that does not exist.", "A dangling reference would produce broken output.", "model: fraud_scorr", "Use the suggested name."),
    doc("plinth::ref::kind", "A reference to a declaration of the wrong kind.", "A feature view is not a model.", "model: card_velocity", "Name a declaration of the expected kind."),
    doc("plinth::column::unknown", "A column that the source does not have.", "Features and keys are computed from real columns.", "aggregate: sum(amont)", "Use a column of the feature view's source."),
    doc("plinth::column::type", "A numeric aggregate over a non-numeric column.", "`sum` of strings has no meaning.", "aggregate: sum(card_id)", "Use `count`, or aggregate a numeric column."),
    doc("plinth::classification::lower", "A feature view classified below its source.", "Classification never goes down along lineage; policies rely on it.", "classification: public  // source is confidential", "Use the source's classification or higher."),
    doc("plinth::freshness::schedule", "A freshness that the schedule cannot meet.", "Features are at most as fresh as the last run.", "freshness: 5m  schedule: \"0 3 * * *\"", "Raise freshness to the schedule's interval or run more often."),
    doc("plinth::feature::unknown", "A feature path naming no feature.", "The model would read nothing.", "inputs: [card_velocity.txn_cnt_1h]", "Use the suggested feature."),
    doc("plinth::tensor::packing", "Input tensors that do not pack each input feature exactly once.", "Serving would send features twice or not at all.", "input x { features: [a.f, a.f] }", "List each feature of `inputs` in exactly one `input` block."),
    doc("plinth::tensor::cast", "A feature packed into a tensor of a narrower dtype (warning).", "The cast may lose precision.", "input x { dtype: float32  features: [v.amount_f64] }", "Match the dtype, or accept the cast."),
    doc("plinth::serving::runtime", "A runtime that cannot serve the model's format.", "The server would fail to load the model.", "runtime: triton  (format: pickle)", "Pick a runtime that supports the format."),
    doc("plinth::serving::batch", "Batch sizes outside 1..max_batch.", "Triton rejects preferred sizes above max_batch_size.", "batching { max_batch: 8  preferred: [16] }", "Keep preferred sizes between 1 and max_batch."),
    doc("plinth::resources::accelerator", "An accelerator without a GPU.", "The node selector would schedule nothing that uses it.", "resources { accelerator: nvidia_t4 }", "Add `gpu: 1`."),
    doc("plinth::slo::unachievable", "A latency threshold at or below the batching delay.", "Requests wait up to max_delay before inference starts, so none can meet it.", "batching { max_delay: 50ms }  slo latency { threshold: 40ms }", "Raise the threshold or lower max_delay."),
    doc("plinth::name::too_long", "A name too long for the generated resource names.", "Kubernetes names are at most 63 characters, with suffixes added.", "service a_very_long_name_..._api { }", "Shorten the name."),
    doc("plinth::graph::cycle", "A dependency cycle.", "Data must flow one way so pipelines can be ordered.", "a batch job writing a source its own model reads", "Break the cycle."),
    doc("plinth::graph::unused", "A declaration nothing uses (warning).", "Dead spec is noise for reviewers and may hide a missing reference.", "source old_events { ... }", "Remove it or reference it."),
    doc("plinth::workspace::io", "A file or folder of the workspace cannot be read.", "The check would be incomplete.", "plinth check missing-dir", "Check the path and permissions."),
    doc("plinth::workspace::config", "`plinth.toml` is invalid.", "Settings decide packs, output and limits.", "max_waiver_days = \"x\"", "Fix the setting named in the message."),
    doc("plinth::workspace::environment", "`--env` names no environment.", "Nothing can be built for it.", "plinth build --env prdo", "Use a declared environment."),
];

pub fn lookup(code: &str) -> Option<&'static CodeDoc> {
    CODES.iter().find(|c| c.code == code)
}
