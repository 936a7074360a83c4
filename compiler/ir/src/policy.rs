//! The policy verdicts of one environment as plain data, carried in
//! [`crate::Platform::policy`] next to [`crate::Platform::grants`]: empty out of
//! lowering; the CLI fills both from the policy engine before running targets
//! (`plinth_policy::summary`), so a target reads the same verdicts `plinth check`
//! printed without evaluating Cedar itself. The evidence target reads this one.

use crate::values::Date;
use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PolicySummary {
    /// The date waivers were checked against; `None` when policies were not evaluated.
    pub today: Option<Date>,
    /// Every request and its verdict, in request order.
    pub decisions: Vec<PolicyDecision>,
    /// Forbid rules that determined a Deny, one per (policy, declaration), sorted.
    pub findings: Vec<PolicyFinding>,
}

/// One request and Plinth's verdict on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyDecision {
    /// `deploy`, `train`, `materialize`, `read` or `write`.
    pub action: String,
    /// Cedar entity type and name: `("Team", "risk_ml")`.
    pub principal: (String, String),
    pub resource: (String, String),
    pub allowed: bool,
    /// The policy ids that determined Cedar's decision, sorted.
    pub determining: Vec<String>,
}

/// A forbid rule that denied something: a violation, a warning or a waived one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PolicyFinding {
    /// Cedar entity type of the blamed declaration (`Service`, `Model`, `Team`, ...).
    pub kind: String,
    pub name: String,
    pub policy: String,
    /// `error` or `warning`.
    pub severity: String,
    pub message: String,
    pub help: String,
    /// The actions it denied, sorted.
    pub actions: Vec<String>,
    /// The waiver in force that suppresses it.
    pub waiver: Option<String>,
}

impl PolicyFinding {
    /// An error-severity rule no waiver suppresses: it fails `plinth check`.
    pub fn blocks(&self) -> bool {
        self.severity == "error" && self.waiver.is_none()
    }
}

impl PolicySummary {
    /// Findings about the declaration `name` of Cedar type `kind`.
    pub fn findings_for<'a>(
        &'a self,
        kind: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a PolicyFinding> + 'a {
        self.findings
            .iter()
            .filter(move |f| f.kind == kind && f.name == name)
    }

    /// Decisions whose principal or resource is `name` of Cedar type `kind`.
    pub fn decisions_about<'a>(
        &'a self,
        kind: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a PolicyDecision> + 'a {
        self.decisions.iter().filter(move |d| {
            (d.principal.0 == kind && d.principal.1 == name)
                || (d.resource.0 == kind && d.resource.1 == name)
        })
    }

    /// `(kind, name)` of every declaration with a blocking finding.
    pub fn blocked(&self) -> std::collections::BTreeSet<(&str, &str)> {
        self.findings
            .iter()
            .filter(|f| f.blocks())
            .map(|f| (f.kind.as_str(), f.name.as_str()))
            .collect()
    }
}
