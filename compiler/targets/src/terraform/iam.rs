//! AWS policy documents (IAM role policies, trust policies, key and bucket policies) as
//! typed values, serialized compactly into the string attributes Terraform takes. ARNs of
//! resources in the same configuration are `${aws_x.y.arn}` references, which Terraform
//! interpolates into the string.

use serde::Serialize;
use std::collections::BTreeMap;

/// Condition operator → condition key → values. Operators, keys and actions are this
/// target's fixed words, borrowed rather than copied into every statement (there are
/// tens of thousands per environment at 5,000 services).
pub type Conditions = BTreeMap<&'static str, BTreeMap<&'static str, Vec<String>>>;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

impl PolicyDocument {
    pub fn new(statement: Vec<Statement>) -> PolicyDocument {
        PolicyDocument {
            version: "2012-10-17",
            statement,
        }
    }

    /// Compact JSON; serializing these plain structs cannot fail.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Principal {
    /// `"*"`: anyone (only ever in a `Deny`).
    Anyone(&'static str),
    /// `{"AWS": [...]}`, `{"Federated": [...]}`, `{"Service": [...]}`.
    Named(BTreeMap<&'static str, Vec<String>>),
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub sid: String,
    pub effect: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    pub action: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub condition: Conditions,
}

impl Statement {
    pub fn allow(
        sid: impl Into<String>,
        actions: &[&'static str],
        resources: Vec<String>,
    ) -> Statement {
        Statement {
            sid: sid.into(),
            effect: "Allow",
            principal: None,
            action: actions.to_vec(),
            resource: resources,
            condition: Conditions::new(),
        }
    }

    pub fn with_principal(mut self, kind: &'static str, ids: Vec<String>) -> Statement {
        self.principal = Some(Principal::Named(BTreeMap::from([(kind, ids)])));
        self
    }

    pub fn with_condition(
        mut self,
        operator: &'static str,
        key: &'static str,
        values: Vec<String>,
    ) -> Statement {
        self.condition
            .entry(operator)
            .or_default()
            .insert(key, values);
        self
    }
}

/// `fraud_scorer` → `FraudScorer`, for statement ids (which must be alphanumeric).
pub fn sid_word(ident: &str) -> String {
    ident
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_serialize_in_aws_shape() {
        let doc = PolicyDocument::new(vec![
            Statement::allow("Read", &["s3:GetObject"], vec!["arn:x/*".to_string()])
                .with_condition("StringEquals", "kms:ViaService", vec!["s3".to_string()]),
        ]);
        assert_eq!(
            doc.to_json(),
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:x/*"],"Condition":{"StringEquals":{"kms:ViaService":["s3"]}}}]}"#
        );
        assert_eq!(sid_word("fraud_scorer_2"), "FraudScorer2");
    }
}
