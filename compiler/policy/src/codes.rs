//! Documentation of the policy engine's diagnostic codes, for `plinth explain`.

pub use plinth_syntax::CodeDoc;

pub static CODES: [CodeDoc; 5] = [
    CodeDoc {
        code: crate::load::code::VIOLATION,
        summary: "A policy rule matched a declaration: a policy violation.",
        why: "Policies encode the platform's security, privacy, reliability, responsible-AI and cost rules; CI gates merges on them.",
        example: "service api { tier: tier1  replicas: 1..3 ... }   // reliability.tier1-min-replicas",
        fix: "Follow the diagnostic's help, or add a time-boxed `waiver` approved by the rule's owner. `plinth explain POLICY_ID` shows the rule.",
    },
    CodeDoc {
        code: crate::load::code::LOAD,
        summary: "A `.cedar` file does not parse, does not validate against the Plinth schema, or lacks the annotations Plinth reads.",
        why: "A policy that cannot be read or evaluated would silently pass everything; Plinth fails closed instead.",
        example: "@id(\"x\") @severity(\"high\") forbid(principal, action, resource) when { resource.gpus > 0 };",
        fix: "Fix the policy: attributes are listed by `plinth schema --cedar`; `@severity` is `error` or `warning`; every rule has `@id`, `@message` and `@help`.",
    },
    CodeDoc {
        code: crate::load::code::PACK,
        summary: "`plinth.toml` selects a policy pack that does not exist, a policy folder cannot be read, or no policies at all (a warning).",
        why: "A missing pack would mean its rules are silently skipped; with none selected, say so instead of denying every request.",
        example: "[policy]\npacks = [\"baseline\", \"eu-ai-akt\"]",
        fix: "Select a built-in pack (`baseline`, `eu-ai-act`) or put the workspace's own policies in a folder listed in `[policy] paths`.",
    },
    CodeDoc {
        code: crate::load::code::EVALUATION,
        summary: "A policy failed to evaluate, or Cedar rejected the entities built from the spec.",
        why: "Cedar skips a forbid whose condition errors; with a base permit that would be an Allow. Plinth treats every evaluation error as a failure.",
        example: "forbid(principal, action, resource is Plinth::Service) when { resource.batching.max_batch > 64 };   // batching is optional",
        fix: "Guard optional attributes with `has` (`resource has batching && ...`); keep decimals to 4 places.",
    },
    CodeDoc {
        code: crate::load::code::WAIVER,
        summary: "A waiver that has expired, names an unknown policy or target, runs longer than allowed, or suppresses nothing.",
        why: "Waivers are time-boxed, approved exceptions; a stale one hides nothing or hides too much.",
        example: "waiver w { policy: \"reliability.multi-region-tier1\"  target: api  expires: 2020-01-01 ... }",
        fix: "Fix the violation and delete the waiver, or renew it with a current approval and a date within `[policy] max_waiver_days`.",
    },
];

pub fn lookup(code: &str) -> Option<&'static CodeDoc> {
    CODES.iter().find(|c| c.code == code)
}
