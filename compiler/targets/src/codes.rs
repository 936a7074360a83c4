//! Documentation of the targets' diagnostic codes, for `plinth explain`.

pub use plinth_syntax::CodeDoc;

pub static CODES: &[CodeDoc] = &[
    CodeDoc::new(
        "plinth::target::name",
        "A generated object or resource name that the target platform would reject.",
        "Kubernetes names are DNS-1123 labels of at most 63 characters; S3 bucket and IAM role names have their own rules. Output with an invalid name fails at apply time.",
        "service a_very_long_service_name_for_the_fraud_scoring_platform { ... }",
        "Shorten or rename the declaration (the message names the generated name and the rule).",
    ),
    CodeDoc::new(
        "plinth::target::label",
        "A Kubernetes label value that would be invalid (over 63 characters or bad characters).",
        "The API server rejects objects with invalid labels; labels carry team, model and cost center.",
        "team t { cost_center: \"cost center #42 / shared\" }",
        "Use a value of letters, digits, `-`, `_` and `.`, at most 63 characters.",
    ),
    CodeDoc::new(
        "plinth::target::rollout",
        "A rollout setting the Kubernetes target cannot express.",
        "Argo Rollouts needs well-formed steps, pauses and traffic shares.",
        "rollout: canary { steps: [] }",
        "Give at least one step, each above 0% and below 100%.",
    ),
    CodeDoc::new(
        "plinth::target::slo",
        "An SLO whose burn-rate alerts cannot be computed.",
        "Alert windows must fit inside the SLO window and the objective must leave an error budget.",
        "slo availability { objective: 100%  window: 1h }",
        "Use an objective below 100% and a window of at least a few days.",
    ),
    CodeDoc::new(
        "plinth::target::iam",
        "The service account cannot be bound to an IAM role.",
        "IRSA needs the environment's cloud account to build the role ARN.",
        "environment prod { tier: production  region: eu_west_1 }   // no account",
        "Add `account: \"123456789012\"` to the environment.",
    ),
    CodeDoc::new(
        "plinth::target::reference",
        "The platform model refers to something the target cannot find.",
        "A target reads only the platform model; a dangling reference there is a compiler bug or an unchecked spec.",
        "(internal)",
        "Run `plinth check` first; if it is clean, report the bug with the spec.",
    ),
    CodeDoc::new(
        "plinth::target::internal",
        "A target failed to serialize or render its output.",
        "Output is never written half-done.",
        "(internal)",
        "Report the bug with the spec that triggers it.",
    ),
    CodeDoc::new(
        "plinth::target::image",
        "A container image reference that is not pinned or not valid.",
        "Unpinned images make runs irreproducible and are a supply-chain risk.",
        "image: \"registry.example.com/train:latest\"",
        "Pin the image by tag or digest: `registry.example.com/train:1.4.2`.",
    ),
    CodeDoc::new(
        "plinth::target::region",
        "An environment region that has no cloud region name.",
        "The Terraform provider and resource ARNs need a real region.",
        "environment prod { region: mars_north_1 ... }",
        "Use a region from the stdlib `region` enum.",
    ),
    CodeDoc::new(
        "plinth::target::account",
        "An environment account that is not a 12-digit cloud account id.",
        "ARNs and provider account guards are built from it.",
        "environment prod { account: \"prod\" ... }",
        "Write the 12-digit account id: `account: \"123456789012\"`.",
    ),
    CodeDoc::new(
        "plinth::target::tag",
        "A value that cannot be a cloud resource tag.",
        "AWS tag values have a length limit and a character set.",
        "team t { cost_center: \"…more than 256 characters…\" }",
        "Shorten the value or remove the characters the message names.",
    ),
    CodeDoc::new(
        "plinth::triton::dtype",
        "A tensor dtype Triton has no type for, or a format Triton cannot serve.",
        "The model repository would hold a config Triton rejects.",
        "feature seen_at { type: timestamp }  (a model input)",
        "Convert timestamps to int64 (epoch milliseconds) before the model.",
    ),
    CodeDoc::new(
        "plinth::triton::name",
        "A model name that cannot be a folder of the Triton model repository.",
        "Triton loads models by folder name; `/` or a leading `.` would escape it.",
        "a model named `../x` in a hand-built platform model",
        "Use letters, digits, `_`, `-` and `.`.",
    ),
    CodeDoc::new(
        "plinth::triton::conflict",
        "Services in one environment serve the same model with different batching or GPUs.",
        "The model repository holds one config.pbtxt per model.",
        "service a { model: m  batching { max_batch: 8 } }  service b { model: m }",
        "Give both services the same `batching` and `resources.gpu`.",
    ),
    CodeDoc::new(
        "plinth::triton::internal",
        "The Triton config template failed to compile or render (a bug in Plinth).",
        "No config can be written.",
        "(none: report it)",
        "Report the message; the template lives in targets/triton/.",
    ),
];

pub fn lookup(code: &str) -> Option<&'static CodeDoc> {
    CODES.iter().find(|c| c.code == code)
}
