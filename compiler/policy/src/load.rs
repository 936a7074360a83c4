//! Loading policy packs: parse each `.cedar` file, give every policy its `@id`, check
//! the annotations Plinth relies on, and validate the whole set in Strict mode against
//! the generated schema. Any error here means no policy set: the check fails closed.

use crate::schema::{self, ACTIONS};
use cedar_policy::{
    ActionConstraint, Effect, EntityTypeName, Policy, PolicyId, PolicySet, PrincipalConstraint,
    ResourceConstraint, Schema, ValidationMode, Validator,
};
use miette::Diagnostic as _;
use plinth_syntax::{Diagnostic, Severity, Span};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Diagnostic codes of the policy engine (documented in [`crate::codes`]).
pub mod code {
    /// A policy rule matched: a violation.
    pub const VIOLATION: &str = "plinth::policy";
    /// A `.cedar` file that does not parse, validate or carry the annotations Plinth needs.
    pub const LOAD: &str = "plinth::policy::load";
    /// A pack that does not exist, or a policy folder that cannot be read.
    pub const PACK: &str = "plinth::policy::pack";
    /// A policy that failed to evaluate, or entities Cedar rejected: fail closed.
    pub const EVALUATION: &str = "plinth::policy::evaluation";
    /// An expired, unknown, too long or unused waiver.
    pub const WAIVER: &str = "plinth::policy::waiver";
}

/// A `.cedar` file: its display path (`policies/baseline/security.cedar`) and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyFile {
    pub path: String,
    pub text: String,
}

/// Which side of a request a violation is reported on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blame {
    Principal,
    Resource,
}

/// One policy with the annotations Plinth reads.
#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    pub pack: String,
    pub forbid: bool,
    pub severity: Severity,
    pub message: String,
    pub help: String,
    pub field: Option<String>,
    pub blame: Blame,
    pub file: String,
    /// The whole policy statement, annotations included.
    pub span: Span,
    pub source: String,
}

/// The loaded, validated policy set.
pub struct Packs {
    pub schema: Schema,
    pub set: PolicySet,
    pub rules: BTreeMap<String, Rule>,
    /// Every file read, for rendering diagnostics that point into them.
    pub files: Vec<PolicyFile>,
    /// Every attribute name any policy reads (`resource.replicas.min` gives `replicas`
    /// and `min`): entities sent to Cedar carry only these (see `eval`). Hashed: the
    /// entity builder asks about every attribute of every entity.
    pub referenced: crate::entities::AttrNames,
    /// Every policy of `set`, in its order, with what it reads (see `memo`).
    pub(crate) analyzed: Vec<Analyzed>,
}

/// One policy as the memoized evaluation sees it.
pub(crate) struct Analyzed {
    pub id: String,
    pub forbid: bool,
    /// The attribute paths it reads; `None`: opaque, Cedar evaluates every request.
    pub paths: Option<Vec<crate::memo::Path>>,
    /// A policy set of just this policy, so Cedar's authorizer decides it alone (its
    /// errors read exactly as in a whole set).
    pub single: PolicySet,
}

impl Packs {
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.get(id)
    }
}

/// The names of the built-in packs.
pub fn builtin_packs() -> Vec<&'static str> {
    let mut packs: Vec<&str> = crate::embedded::FILES
        .iter()
        .filter_map(|(path, _)| {
            let rest = path.strip_prefix("policies/")?;
            let (pack, file) = rest.split_once('/')?;
            (file.ends_with(".cedar") && !file.contains('/')).then_some(pack)
        })
        .collect();
    packs.dedup();
    packs
}

/// The `.cedar` files of a built-in pack.
pub fn builtin_pack_files(pack: &str) -> Vec<PolicyFile> {
    let prefix = format!("policies/{pack}/");
    crate::embedded::FILES
        .iter()
        .filter(|(path, _)| {
            path.strip_prefix(&prefix)
                .is_some_and(|f| f.ends_with(".cedar") && !f.contains('/'))
        })
        .map(|(path, text)| PolicyFile {
            path: (*path).to_string(),
            text: (*text).to_string(),
        })
        .collect()
}

/// The Cedar schema, parsed. An error here is a bug in the generator.
pub fn schema() -> Result<Schema, String> {
    Schema::from_cedarschema_str(&schema::cedar_schema())
        .map(|(s, _)| s)
        .map_err(|e| format!("the generated Cedar schema does not parse: {e}"))
}

/// Load the selected built-in packs (`packs`) plus `extra` files (a workspace's own
/// policies, as pack `workspace`). `config` is `plinth.toml`'s text, to point an
/// unknown pack name at its place. Returns `None` when anything is wrong.
pub fn load(
    packs: &[String],
    extra: Vec<PolicyFile>,
    config: Option<&str>,
) -> (Option<Packs>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let known = builtin_packs();
    let mut files: Vec<(String, PolicyFile)> = Vec::new();
    for pack in packs {
        if known.contains(&pack.as_str()) {
            files.extend(
                builtin_pack_files(pack)
                    .into_iter()
                    .map(|f| (pack.clone(), f)),
            );
        } else {
            let span = config
                .and_then(|t| {
                    t.find(&format!("\"{pack}\""))
                        .map(|i| Span::new(i, i + pack.len() + 2))
                })
                .unwrap_or_default();
            let close = did_you_mean(pack, &known);
            diags.push(
                Diagnostic::error(code::PACK, span, format!("no policy pack named `{pack}`"))
                    .with_file("plinth.toml")
                    .with_label("not a built-in pack")
                    .with_help(match close {
                        Some(c) => {
                            format!("did you mean `{c}`? built-in packs: {}", known.join(", "))
                        }
                        None => format!(
                            "built-in packs: {}; a workspace's own policies go in `[policy] paths`",
                            known.join(", ")
                        ),
                    }),
            );
        }
    }
    files.extend(extra.into_iter().map(|f| ("workspace".to_string(), f)));
    // Nothing selected: nothing to evaluate. Cedar denies what no policy permits, so
    // evaluating an empty set would report every request; say once that none ran.
    if files.is_empty() && diags.is_empty() {
        let span = config
            .and_then(|t| t.find("packs").map(|i| Span::new(i, i + "packs".len())))
            .unwrap_or_default();
        diags.push(
            Diagnostic::warning(
                code::PACK,
                span,
                "no policies are selected: the spec is checked, its policies are not",
            )
            .with_file("plinth.toml")
            .with_help(
                "select packs in `[policy]`, e.g. `packs = [\"baseline\"]`, or list folders of the workspace's own policies in `paths`",
            ),
        );
        return (None, diags);
    }

    let schema = match schema() {
        Ok(s) => s,
        Err(e) => {
            diags.push(Diagnostic::error(code::LOAD, Span::default(), e));
            return (None, diags);
        }
    };

    let mut set = PolicySet::new();
    let mut rules: BTreeMap<String, Rule> = BTreeMap::new();
    for (pack, file) in &files {
        load_file(pack, file, &mut set, &mut rules, &mut diags);
    }

    let validator = Validator::new(schema.clone());
    let result = validator.validate(&set, ValidationMode::Strict);
    for e in result.validation_errors() {
        diags.push(cedar_diagnostic(Severity::Error, e, e.policy_id(), &rules));
    }
    for w in result.validation_warnings() {
        diags.push(cedar_diagnostic(
            Severity::Warning,
            w,
            w.policy_id(),
            &rules,
        ));
    }
    let file_list = files.into_iter().map(|(_, f)| f).collect();
    if diags.iter().any(Diagnostic::is_error) {
        return (None, diags);
    }
    let mut referenced = crate::entities::AttrNames::default();
    for p in set.policies() {
        match p.to_json() {
            Ok(est) => collect_attrs(&est, &mut referenced),
            Err(e) => {
                // Without the attribute list entities would be pruned wrongly: fail.
                diags.push(Diagnostic::error(
                    code::LOAD,
                    rules
                        .get(p.id().to_string().as_str())
                        .map(|r| r.span)
                        .unwrap_or_default(),
                    format!("cannot read policy `{}` back: {e}", p.id()),
                ));
                return (None, diags);
            }
        }
    }
    let mut analyzed = Vec::new();
    for p in set.policies() {
        let mut single = PolicySet::new();
        // INVARIANT: a new set holds no id yet, so `add` cannot fail.
        let _ = single.add(p.clone());
        let ast: &cedar_policy_core::ast::Policy = p.as_ref();
        analyzed.push(Analyzed {
            id: p.id().to_string(),
            forbid: p.effect() == Effect::Forbid,
            paths: crate::memo::analyze(&ast.condition()),
            single,
        });
    }
    (
        Some(Packs {
            schema,
            set,
            rules,
            files: file_list,
            referenced,
            analyzed,
        }),
        diags,
    )
}

/// Every `"attr"` of the policy's JSON form: the attributes it reads or tests with `has`.
fn collect_attrs(value: &serde_json::Value, out: &mut crate::entities::AttrNames) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if k == "attr"
                    && let Some(name) = v.as_str()
                {
                    out.insert(name.to_string());
                }
                collect_attrs(v, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_attrs(v, out)),
        _ => {}
    }
}

/// A Cedar validation error or warning at its span in the policy's file.
fn cedar_diagnostic(
    severity: Severity,
    e: &dyn miette::Diagnostic,
    id: &PolicyId,
    rules: &BTreeMap<String, Rule>,
) -> Diagnostic {
    let rule = rules.get(id.to_string().as_str());
    let span = e
        .labels()
        .and_then(|mut l| l.next())
        .map(|l| Span::new(l.offset(), l.offset() + l.len()))
        .or_else(|| rule.map(|r| r.span))
        .unwrap_or_default();
    let message = e.to_string();
    let mut d = match severity {
        Severity::Error => Diagnostic::error(code::LOAD, span, message),
        Severity::Warning => Diagnostic::warning(code::LOAD, span, message),
    };
    if let Some(r) = rule {
        d = d.with_file(&r.file);
    }
    if let Some(help) = e.help() {
        d = d.with_help(help.to_string());
    }
    d.with_label("rejected by the Plinth schema (`plinth schema --cedar`)")
}

/// Byte ranges of the top-level statements of a Cedar file (each ends at a `;` outside
/// strings and comments), in order: policy `i` of `PolicySet::from_str` is statement `i`.
pub fn statement_spans(text: &str) -> Vec<Span> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut start: Option<usize> = None;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while bytes.get(i).is_some_and(|c| *c != b'\n') {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                start.get_or_insert(i);
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    i += 1;
                    if c == b'\\' {
                        i += 1;
                    } else if c == b'"' {
                        break;
                    }
                }
                continue;
            }
            b';' => {
                if let Some(s) = start.take() {
                    spans.push(Span::new(s, i + 1));
                }
            }
            c if c.is_ascii_whitespace() => {}
            _ => {
                start.get_or_insert(i);
            }
        }
        i += 1;
    }
    spans
}

fn load_file(
    pack: &str,
    file: &PolicyFile,
    set: &mut PolicySet,
    rules: &mut BTreeMap<String, Rule>,
    diags: &mut Vec<Diagnostic>,
) {
    let parsed = match PolicySet::from_str(&file.text) {
        Ok(p) => p,
        Err(errors) => {
            for e in errors.iter() {
                let span = e
                    .labels()
                    .and_then(|mut l| l.next())
                    .map(|l| Span::new(l.offset(), l.offset() + l.len()))
                    .unwrap_or_default();
                let mut d = Diagnostic::error(code::LOAD, span, format!("cedar syntax: {e}"))
                    .with_file(&file.path)
                    .with_label("here");
                if let Some(h) = e.help() {
                    d = d.with_help(h.to_string());
                }
                diags.push(d);
            }
            return;
        }
    };
    let spans = statement_spans(&file.text);
    let mut index = 0usize;
    while let Some(policy) = parsed.policy(&PolicyId::new(format!("policy{index}"))) {
        let span = spans.get(index).copied().unwrap_or_default();
        index += 1;
        let source = file.text.get(span.range()).unwrap_or("").to_string();
        let err = |message: String, label: &str| {
            Diagnostic::error(code::LOAD, span, message)
                .with_file(&file.path)
                .with_label(label)
        };
        let Some(id) = policy.annotation("id") else {
            diags.push(err("policy has no `@id`".into(), "this policy").with_help(
                "every policy needs a stable id, e.g. `@id(\"security.no-public-confidential\")`; waivers and reports name it",
            ));
            continue;
        };
        let id_span = annotation_span(&file.text, span, "id").unwrap_or(span);
        if let Some(first) = rules.get(id) {
            diags.push(
                Diagnostic::error(code::LOAD, id_span, format!("duplicate policy id `{id}`"))
                    .with_file(&file.path)
                    .with_label("used again here")
                    .with_related(&first.file, first.span, "first used here")
                    .with_help("policy ids are unique across every selected pack"),
            );
            continue;
        }
        for (key, _) in policy.annotations() {
            if !["id", "severity", "message", "help", "field", "blame"].contains(&key) {
                let at = annotation_span(&file.text, span, key).unwrap_or(span);
                diags.push(
                    Diagnostic::warning(code::LOAD, at, format!("unknown annotation `@{key}`"))
                        .with_file(&file.path)
                        .with_help("Plinth reads `@id`, `@severity`, `@message`, `@help`, `@field` and `@blame`"),
                );
            }
        }
        let forbid = policy.effect() == Effect::Forbid;
        let severity = match policy.annotation("severity") {
            Some("error") => Severity::Error,
            Some("warning") => Severity::Warning,
            None if !forbid => Severity::Error,
            Some(other) => {
                let at = annotation_span(&file.text, span, "severity").unwrap_or(span);
                diags.push(
                    Diagnostic::error(code::LOAD, at, format!("unknown severity `{other}`"))
                        .with_file(&file.path)
                        .with_help("`@severity` is `error` or `warning`"),
                );
                continue;
            }
            None => {
                diags.push(
                    err(format!("rule `{id}` has no `@severity`"), "this rule")
                        .with_help("add `@severity(\"error\")` or `@severity(\"warning\")`"),
                );
                continue;
            }
        };
        let mut missing = false;
        if forbid {
            for key in ["message", "help"] {
                if policy.annotation(key).is_none_or(str::is_empty) {
                    diags.push(
                        err(format!("rule `{id}` has no `@{key}`"), "this rule").with_help(
                            "each rule says what is wrong (`@message`) and how to fix it (`@help`)",
                        ),
                    );
                    missing = true;
                }
            }
        }
        if missing {
            continue;
        }
        let blame = match policy.annotation("blame") {
            None | Some("resource") => Blame::Resource,
            Some("principal") => Blame::Principal,
            Some(other) => {
                let at = annotation_span(&file.text, span, "blame").unwrap_or(span);
                diags.push(
                    Diagnostic::error(code::LOAD, at, format!("unknown `@blame(\"{other}\")`"))
                        .with_file(&file.path)
                        .with_help("`@blame` is `resource` (the default) or `principal`"),
                );
                continue;
            }
        };
        let field = policy.annotation("field").map(str::to_string);
        if let Some(f) = &field {
            // A rule may cover several kinds (`resource is A || resource is B`); the
            // field must belong to at least one of them (the others report at the
            // declaration).
            let kinds = blamed_kinds(policy, blame);
            let known = kinds.iter().any(|k| {
                crate::entities::kind_of_entity(k)
                    .is_some_and(|kind| schema::is_field_path(kind, f))
            });
            if !known {
                let at = annotation_span(&file.text, span, "field").unwrap_or(span);
                diags.push(
                    Diagnostic::error(
                        code::LOAD,
                        at,
                        format!("`@field(\"{f}\")` names no field of {}", kinds.join(", ")),
                    )
                    .with_file(&file.path)
                    .with_label("not a field")
                    .with_help("`@field` is a dotted path into the blamed entity's kind, e.g. `resources.gpu` (see `plinth schema --cedar`)"),
                );
                continue;
            }
        }
        let policy = policy.new_id(PolicyId::new(id));
        if let Err(e) = set.add(policy) {
            diags.push(err(format!("cannot add policy `{id}`: {e}"), "this policy"));
            continue;
        }
        rules.insert(
            id.to_string(),
            Rule {
                id: id.to_string(),
                pack: pack.to_string(),
                forbid,
                severity,
                message: policy_annotation(&parsed, index - 1, "message"),
                help: policy_annotation(&parsed, index - 1, "help"),
                field,
                blame,
                file: file.path.clone(),
                span,
                source,
            },
        );
    }
}

fn policy_annotation(set: &PolicySet, index: usize, key: &str) -> String {
    set.annotation(&PolicyId::new(format!("policy{index}")), key)
        .unwrap_or("")
        .to_string()
}

/// The span of `@key(...)` inside a statement.
fn annotation_span(text: &str, statement: Span, key: &str) -> Option<Span> {
    let body = text.get(statement.range())?;
    let needle = format!("@{key}(");
    let at = body.find(&needle)?;
    let end = body
        .get(at..)?
        .find(')')
        .map_or(at + needle.len(), |e| at + e + 1);
    let start = statement.start as usize;
    Some(Span::new(start + at, start + end))
}

fn entity_name(t: &EntityTypeName) -> String {
    t.basename().to_string()
}

/// The Cedar entity types a violation of `policy` may be reported on.
fn blamed_kinds(policy: &Policy, blame: Blame) -> Vec<String> {
    let scoped = match blame {
        Blame::Resource => match policy.resource_constraint() {
            ResourceConstraint::Is(t) | ResourceConstraint::IsIn(t, _) => Some(entity_name(&t)),
            ResourceConstraint::Eq(uid) => Some(entity_name(uid.type_name())),
            ResourceConstraint::Any | ResourceConstraint::In(_) => None,
        },
        Blame::Principal => match policy.principal_constraint() {
            PrincipalConstraint::Is(t) | PrincipalConstraint::IsIn(t, _) => Some(entity_name(&t)),
            PrincipalConstraint::Eq(uid) => Some(entity_name(uid.type_name())),
            PrincipalConstraint::Any | PrincipalConstraint::In(_) => None,
        },
    };
    if let Some(t) = scoped {
        return vec![t];
    }
    let actions: Vec<String> = match policy.action_constraint() {
        ActionConstraint::Eq(uid) => vec![uid.id().unescaped().to_string()],
        ActionConstraint::In(uids) => uids
            .iter()
            .map(|u| u.id().unescaped().to_string())
            .collect(),
        ActionConstraint::Any => ACTIONS.iter().map(|a| a.0.to_string()).collect(),
    };
    let mut kinds: Vec<String> = ACTIONS
        .iter()
        .filter(|a| actions.iter().any(|x| x == a.0))
        .flat_map(|(_, principals, resources, _)| match blame {
            Blame::Principal => principals.iter(),
            Blame::Resource => resources.iter(),
        })
        .map(|s| (*s).to_string())
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// The closest name by edit distance, when close enough (one rule for all of Plinth).
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    plinth_syntax::did_you_mean(word, candidates.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_at_semicolons_outside_strings_and_comments() {
        let text = "// a; comment\n@id(\"a;b\")\npermit(principal, action, resource);\n\nforbid(principal, action, resource) when { \"x;\" == \"y\" };\n";
        let spans = statement_spans(text);
        assert_eq!(spans.len(), 2);
        assert!(text[spans[0].range()].starts_with("@id(\"a;b\")"));
        assert!(text[spans[1].range()].starts_with("forbid"));
        assert!(text[spans[1].range()].ends_with("};"));
    }
}
