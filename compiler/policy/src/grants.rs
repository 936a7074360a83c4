//! The data accesses the policies allowed, as the platform model's [`Grant`]s: what
//! targets that grant access (Terraform's IAM) read instead of the decisions.
//!
//! A `read` or `write` request whose decision is allowed becomes one grant. "Allowed" is
//! Plinth's verdict ([`Decision::allowed`]), the one the decision log records: a read
//! denied only by a warning-severity or waived rule is granted, as the build goes ahead
//! with it; a read denied by an error-severity rule, by no permit or by an evaluation
//! failure is not (and the check fails anyway).

use crate::Decision;
use plinth_ir::{DeclRef, Grant};

/// The allowed `read`/`write` decisions as grants, sorted and without duplicates.
pub fn grants(decisions: &[Decision]) -> Vec<Grant> {
    let mut out: Vec<Grant> = decisions
        .iter()
        .filter(|d| d.allowed && (d.action == "read" || d.action == "write"))
        .filter_map(|d| {
            Some(Grant {
                action: d.action.clone(),
                principal: decl_ref(&d.principal.0, &d.principal.1)?,
                resource: decl_ref(&d.resource.0, &d.resource.1)?,
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A Cedar entity type and name as the DSL's kind word and name.
fn decl_ref(entity: &str, name: &str) -> Option<DeclRef> {
    let kind = match entity {
        "Source" => "source",
        "FeatureView" => "feature_view",
        "Model" => "model",
        "Service" => "service",
        "BatchJob" => "batch_job",
        _ => return None,
    };
    Some(DeclRef {
        kind: kind.to_string(),
        name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(action: &str, allowed: bool) -> Decision {
        Decision {
            environment: "prod".to_string(),
            action: action.to_string(),
            principal: ("Service".to_string(), "fraud_api".to_string()),
            resource: ("FeatureView".to_string(), "card_velocity".to_string()),
            allowed,
            cedar_allowed: allowed,
            determining: Vec::new(),
            waived: Vec::new(),
            errors: Vec::new(),
        }
    }

    #[test]
    fn only_allowed_data_edges_become_grants() {
        let got = grants(&[
            decision("read", true),
            decision("read", true),
            decision("deploy", true),
            decision("write", false),
        ]);
        assert_eq!(
            got,
            vec![Grant {
                action: "read".to_string(),
                principal: DeclRef {
                    kind: "service".to_string(),
                    name: "fraud_api".to_string()
                },
                resource: DeclRef {
                    kind: "feature_view".to_string(),
                    name: "card_velocity".to_string()
                },
            }]
        );
    }
}
