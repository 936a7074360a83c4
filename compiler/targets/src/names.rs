//! Names shared between targets and the rules generated names must follow.
//!
//! Plinth identifiers are `[a-z_][a-z0-9_]*`; Kubernetes object names are DNS labels
//! (`[a-z0-9-]`, at most 63 characters, starting and ending alphanumeric; Services also
//! start with a letter). [`dns_name`] converts the one character that differs (`_` to
//! `-`), and the `check_*` functions say why a converted name is still unusable, so the
//! target can put a diagnostic on the spec instead of writing a manifest the API server
//! rejects.
//!
//! The functions returning cloud names ([`iam_role_name`], [`artifact_bucket_name`],
//! [`model_repository_uri`]) are a contract between targets: Kubernetes annotates and
//! reads what Terraform creates. Change them only together with every caller.

use crate::hash::fnv1a64_hex;
use plinth_ir::Environment;
use std::fmt;

/// Longest DNS label (RFC 1123) and label value Kubernetes accepts.
pub const MAX_DNS_LABEL: usize = 63;
/// Longest IAM role name AWS accepts.
pub const MAX_IAM_ROLE_NAME: usize = 64;

/// Why a generated name is not a valid Kubernetes name or label value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameProblem {
    Empty,
    TooLong { len: usize, max: usize },
    BadCharacter(char),
    BadStart(char),
    BadEnd(char),
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameProblem::Empty => f.write_str("it is empty"),
            NameProblem::TooLong { len, max } => {
                write!(f, "it is {len} characters long, the limit is {max}")
            }
            NameProblem::BadCharacter(c) => write!(f, "it contains `{c}`"),
            NameProblem::BadStart(c) => write!(f, "it starts with `{c}`"),
            NameProblem::BadEnd(c) => write!(f, "it ends with `{c}`"),
        }
    }
}

/// A Plinth identifier as a Kubernetes-style name: `fraud_api` becomes `fraud-api`.
/// The result still has to pass a `check_*` function.
pub fn dns_name(ident: &str) -> String {
    ident.replace('_', "-")
}

/// RFC 1123 label: what most object names (Deployment, ConfigMap, namespace) must be.
pub fn check_dns1123_label(name: &str) -> Result<(), NameProblem> {
    check_label_shape(name, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
    })?;
    let first = name.chars().next().unwrap_or('-');
    if !first.is_ascii_alphanumeric() {
        return Err(NameProblem::BadStart(first));
    }
    Ok(())
}

/// RFC 1035 label: what Service names must be (starts with a letter).
pub fn check_dns1035_label(name: &str) -> Result<(), NameProblem> {
    check_dns1123_label(name)?;
    let first = name.chars().next().unwrap_or('-');
    if !first.is_ascii_lowercase() {
        return Err(NameProblem::BadStart(first));
    }
    Ok(())
}

/// A label value: empty, or at most 63 of `[A-Za-z0-9_.-]` starting and ending
/// alphanumeric.
pub fn check_label_value(value: &str) -> Result<(), NameProblem> {
    if value.is_empty() {
        return Ok(());
    }
    check_label_shape(value, |c| {
        c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
    })?;
    let first = value.chars().next().unwrap_or('-');
    if !first.is_ascii_alphanumeric() {
        return Err(NameProblem::BadStart(first));
    }
    Ok(())
}

fn check_label_shape(name: &str, allowed: impl Fn(char) -> bool) -> Result<(), NameProblem> {
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    let len = name.chars().count();
    if len > MAX_DNS_LABEL {
        return Err(NameProblem::TooLong {
            len,
            max: MAX_DNS_LABEL,
        });
    }
    if let Some(c) = name.chars().find(|c| !allowed(*c)) {
        return Err(NameProblem::BadCharacter(c));
    }
    let last = name.chars().last().unwrap_or('-');
    if !last.is_ascii_alphanumeric() {
        return Err(NameProblem::BadEnd(last));
    }
    Ok(())
}

/// The IAM role the service's pods assume (IRSA): `plinth-<env>-<service>`, with `_` as
/// `-`. Names over AWS's 64-character limit keep their first 47 characters and get
/// `-` plus 16 hex digits of FNV-1a of the full name, so they stay unique and stable.
/// The Terraform target creates the role under exactly this name.
pub fn iam_role_name(environment: &str, service: &str) -> String {
    let full = format!("plinth-{}-{}", dns_name(environment), dns_name(service));
    if full.len() <= MAX_IAM_ROLE_NAME {
        return full;
    }
    let hash = fnv1a64_hex(full.as_bytes());
    let keep = MAX_IAM_ROLE_NAME - 1 - hash.len();
    // INVARIANT: `full` is ASCII (identifiers are `[a-z0-9_]`), so byte slicing is safe;
    // `get` keeps it panic-free anyway.
    let head = full.get(..keep).unwrap_or("plinth").trim_end_matches('-');
    format!("{head}-{hash}")
}

/// The S3 bucket holding model artifacts and the Triton model repository for an
/// environment: `plinth-<env>-artifacts`, plus `-<account>` when the environment names its
/// AWS account (bucket names are global, the account makes them unique).
pub fn artifact_bucket_name(environment: &Environment) -> String {
    account_suffixed(
        format!("plinth-{}-artifacts", dns_name(&environment.name)),
        environment,
    )
}

/// Where the Triton target's `model_repository/<model>/` tree is published for an
/// environment; the serving pods copy it from here at start-up.
pub fn model_repository_uri(environment: &Environment, model: &str) -> String {
    format!(
        "s3://{}/{}",
        artifact_bucket_name(environment),
        model_repository_prefix(model)
    )
}

/// The key prefix of a model's repository inside the artifact bucket (no trailing `/`);
/// the Terraform target grants reads of exactly this prefix.
pub fn model_repository_prefix(model: &str) -> String {
    format!("model_repository/{model}")
}

/// The S3 bucket of the offline feature store: `plinth-<env>-offline-store`, plus
/// `-<account>` as for [`artifact_bucket_name`]. Each feature view's rows live under
/// [`offline_store_prefix`].
pub fn offline_store_bucket_name(environment: &Environment) -> String {
    account_suffixed(
        format!("plinth-{}-offline-store", dns_name(&environment.name)),
        environment,
    )
}

/// A feature view's key prefix in the offline store (no trailing `/`).
pub fn offline_store_prefix(feature_view: &str) -> String {
    format!("features/{feature_view}")
}

/// The S3 bucket receiving the other buckets' server access logs.
pub fn access_log_bucket_name(environment: &Environment) -> String {
    account_suffixed(
        format!("plinth-{}-access-logs", dns_name(&environment.name)),
        environment,
    )
}

fn account_suffixed(base: String, environment: &Environment) -> String {
    match &environment.account {
        Some(account) => format!("{base}-{account}"),
        None => base,
    }
}

/// The Kubernetes ServiceAccount of a workload (service or batch job), in the
/// environment's namespace. The Kubernetes target names a service's ServiceAccount
/// `<name>` ([`dns_name`]); the Terraform target binds the IAM role's trust to it.
pub fn service_account_name(workload: &str) -> String {
    dns_name(workload)
}

/// S3's bucket naming rules (general purpose buckets): 3 to 63 of `[a-z0-9.-]`, a letter
/// or digit at both ends, no `..`, not shaped like an IP address, none of the reserved
/// prefixes and suffixes.
pub fn check_s3_bucket_name(bucket: &str) -> Result<(), String> {
    let len = bucket.len();
    if !(3..=63).contains(&len) {
        return Err(format!("it is {len} characters long, S3 allows 3 to 63"));
    }
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    if let Some(c) = bucket.chars().find(|c| !ok_char(*c)) {
        return Err(format!("it contains `{}`", c.escape_default()));
    }
    if !bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Err("it must start and end with a letter or digit".to_string());
    }
    if bucket.contains("..") {
        return Err("it contains `..`".to_string());
    }
    if bucket.split('.').count() == 4 && bucket.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err("it is shaped like an IP address".to_string());
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if bucket.starts_with(prefix) {
            return Err(format!("it starts with the reserved prefix `{prefix}`"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if bucket.ends_with(suffix) {
            return Err(format!("it ends with the reserved suffix `{suffix}`"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_become_dns_names() {
        assert_eq!(dns_name("fraud_api"), "fraud-api");
        assert_eq!(check_dns1035_label("fraud-api"), Ok(()));
        assert_eq!(check_dns1123_label("9lives"), Ok(()));
        assert_eq!(
            check_dns1035_label("9lives"),
            Err(NameProblem::BadStart('9'))
        );
        assert_eq!(
            check_dns1123_label(&dns_name("_private")),
            Err(NameProblem::BadStart('-'))
        );
        assert_eq!(
            check_dns1123_label(&dns_name("trailing_")),
            Err(NameProblem::BadEnd('-'))
        );
        assert_eq!(
            check_dns1123_label("Upper"),
            Err(NameProblem::BadCharacter('U'))
        );
        assert_eq!(check_dns1123_label(""), Err(NameProblem::Empty));
        let long = "a".repeat(64);
        assert_eq!(
            check_dns1123_label(&long),
            Err(NameProblem::TooLong { len: 64, max: 63 })
        );
        assert_eq!(check_dns1123_label(&long[..63]), Ok(()));
    }

    #[test]
    fn label_values_follow_kubernetes_rules() {
        assert_eq!(check_label_value(""), Ok(()));
        assert_eq!(check_label_value("12.0.3"), Ok(()));
        assert_eq!(check_label_value("CC-1042"), Ok(()));
        assert_eq!(check_label_value("risk_ml"), Ok(()));
        assert_eq!(
            check_label_value("risk-ml@acme.example"),
            Err(NameProblem::BadCharacter('@'))
        );
        assert_eq!(check_label_value("-x"), Err(NameProblem::BadStart('-')));
        assert_eq!(check_label_value("x."), Err(NameProblem::BadEnd('.')));
        assert!(matches!(
            check_label_value(&"v".repeat(64)),
            Err(NameProblem::TooLong { .. })
        ));
    }

    #[test]
    fn iam_role_names_fit_aws_limits_and_stay_stable() {
        assert_eq!(iam_role_name("prod", "fraud_api"), "plinth-prod-fraud-api");
        let long = iam_role_name("production_eu", &"s".repeat(80));
        assert_eq!(long.len(), MAX_IAM_ROLE_NAME);
        assert_eq!(long, iam_role_name("production_eu", &"s".repeat(80)));
        assert_ne!(long, iam_role_name("production_eu", &"s".repeat(81)));
        assert!(long.starts_with("plinth-production-eu-sss"));
    }

    #[test]
    fn s3_bucket_names_follow_aws_rules() {
        assert_eq!(
            check_s3_bucket_name("plinth-prod-artifacts-123456789012"),
            Ok(())
        );
        assert!(check_s3_bucket_name("ab").is_err());
        assert!(check_s3_bucket_name(&"a".repeat(64)).is_err());
        assert_eq!(check_s3_bucket_name(&"a".repeat(63)), Ok(()));
        assert!(check_s3_bucket_name("Plinth").is_err());
        assert!(check_s3_bucket_name("a_b").is_err());
        assert!(check_s3_bucket_name("-ab").is_err());
        assert!(check_s3_bucket_name("a..b").is_err());
        assert!(check_s3_bucket_name("192.168.1.10").is_err());
        assert!(check_s3_bucket_name("xn--abc").is_err());
        assert!(check_s3_bucket_name("abc-s3alias").is_err());
    }
}
