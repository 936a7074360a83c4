//! The policy verdicts of one environment as the platform model's [`PolicySummary`]:
//! what targets that report on policies (the evidence) read instead of the outcome.

use crate::{Blame, Outcome, Packs};
use plinth_ir::{Date, PolicyDecision, PolicyFinding, PolicySummary};
use std::collections::HashMap;

/// The summary of environment `env`: its decisions, and per (policy, blamed
/// declaration) one finding for each forbid rule that determined a Deny.
pub fn summary(packs: &Packs, outcome: &Outcome, env: &str, today: Date) -> PolicySummary {
    let decisions = outcome.decisions.get(env).map(Vec::as_slice).unwrap_or(&[]);
    let mut findings: Vec<PolicyFinding> = Vec::new();
    // (policy, kind, name) → its finding: a workspace with many violations must not
    // search them all for each decision.
    let mut seen: HashMap<(&str, &str, &str), usize> = HashMap::new();
    for d in decisions {
        for id in &d.determining {
            let Some(rule) = packs.rule(id).filter(|r| r.forbid) else {
                continue;
            };
            let (kind, name) = match rule.blame {
                Blame::Resource => &d.resource,
                Blame::Principal => &d.principal,
            };
            if let Some(f) = seen
                .get(&(id.as_str(), kind.as_str(), name.as_str()))
                .and_then(|&i| findings.get_mut(i))
            {
                if !f.actions.contains(&d.action) {
                    f.actions.push(d.action.clone());
                    f.actions.sort();
                }
                continue;
            }
            seen.insert((id, kind, name), findings.len());
            findings.push(PolicyFinding {
                kind: kind.clone(),
                name: name.clone(),
                policy: id.clone(),
                severity: rule.severity.as_str().to_string(),
                message: rule.message.clone(),
                help: rule.help.clone(),
                actions: vec![d.action.clone()],
                waiver: d
                    .waived
                    .iter()
                    .find(|(p, _)| p == id)
                    .map(|(_, w)| w.clone()),
            });
        }
    }
    findings.sort();
    PolicySummary {
        today: Some(today),
        decisions: decisions
            .iter()
            .map(|d| PolicyDecision {
                action: d.action.clone(),
                principal: d.principal.clone(),
                resource: d.resource.clone(),
                allowed: d.allowed,
                determining: d.determining.clone(),
            })
            .collect(),
        findings,
    }
}
