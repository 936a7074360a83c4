//! The Terraform target: the AWS resources behind one environment's platform, as
//! Terraform JSON (`*.tf.json`), secure by default, with IAM derived from the policies.
//!
//! Files, under `out/<env>/terraform/`:
//!
//! | file | what |
//! |---|---|
//! | `versions.tf.json` | `terraform { required_version }` (alone: checkov cannot parse it, see `tests/external/terraform.sh`) |
//! | `providers.tf.json` | the pinned AWS provider, the region, allowed account, default tags; the account and EKS OIDC issuer as locals |
//! | `kms.tf.json` | one KMS key (rotation on, key policy) and alias per classification level in use |
//! | `s3.tf.json` | buckets: model artifacts ([`crate::artifact_bucket_name`]), the offline feature store, access logs |
//! | `dynamodb.tf.json` | one table per online feature view |
//! | `iam.tf.json` | per service and batch job, an IRSA role and its policy |
//! | `outputs.tf.json` | names and ARNs for other stacks and the deploy pipeline |
//!
//! Choices a reviewer should know:
//! - IAM grants come only from `platform.grants`: the `read`/`write` decisions the policy
//!   engine allowed (filled by the CLI). Per grant whose principal is a service or batch
//!   job: a model → `s3:GetObject` on its `model_repository/<model>/` prefix (plus a
//!   prefix-scoped `s3:ListBucket`); an online feature view → `GetItem`/`BatchGetItem`/
//!   `Query` on its table; an offline one → its offline-store prefix; a `kind: s3` source
//!   → its `bucket`/`prefix` (reads), `s3:PutObject` there (writes); plus `kms:Decrypt` on
//!   exactly the keys of what is read, only through S3 or DynamoDB (`kms:ViaService`). No
//!   resource is `*`. Grants of other principals (feature views, models) and of sources
//!   that are not in S3 give no IAM statement: Airflow's materialization and training
//!   pods have no role yet, and Kafka/Postgres access is not IAM.
//! - Keys: one per classification level in use. A table uses its view's level; the
//!   offline store the highest level of any feature view; the artifact bucket (models
//!   and Airflow's run data) the highest of models and feature views. Key policies give
//!   the account root the standard delegation to IAM (`Resource: "*"` means "this key"
//!   in a key policy).
//! - Buckets: SSE-KMS with bucket keys (the log bucket SSE-S3: S3 log delivery supports
//!   nothing else), versioning, public access block, ACLs disabled, TLS-only bucket
//!   policy, server access logging to the log bucket. Lifecycle from `retention`: a
//!   feature view's offline rows expire after its source's retention (old versions one
//!   day later); Airflow's run data after the shortest source retention
//!   ([`DEFAULT_RUN_DATA_DAYS`] without one); noncurrent artifacts after
//!   [`NONCURRENT_DAYS`]; logs after [`LOG_DAYS`].
//! - DynamoDB: on-demand, hash key = the entity's key column, TTL on `expires_at` (the
//!   materializer writes `materialized_at + ttl`, `ttl` is also the
//!   `plinth:ttl-seconds` tag), PITR, the level's key, deletion protection in
//!   production.
//! - IRSA: the trust policy admits only `system:serviceaccount:<namespace>:<name>`
//!   ([`crate::names::service_account_name`], the ServiceAccount the Kubernetes target
//!   writes) through the cluster's OIDC issuer, read from `data.aws_eks_cluster` (or
//!   `var.eks_oidc_issuer` when the environment names no `cluster`).
//! - Tags: `plinth:team`, `plinth:cost-center`, `plinth:classification`,
//!   `plinth:declaration` and `plinth:spec-hash` (FNV-1a of the IR the resource comes
//!   from: the declaration, or the environment for shared resources; a role's includes
//!   its grants). The provider adds `plinth:environment` and `plinth:managed-by`.
//! - Any error diagnostic means no files for the environment: the files reference each
//!   other, so a partial configuration would be wrong rather than smaller.

pub mod iam;
pub mod json;
#[cfg(test)]
mod tests;

use crate::hash::Fnv1a64;
use crate::names::{
    access_log_bucket_name, artifact_bucket_name, check_dns1123_label, check_s3_bucket_name,
    iam_role_name, model_repository_prefix, offline_store_bucket_name, offline_store_prefix,
    service_account_name,
};
use crate::{Collect, Emit, FileSink, Target};
use iam::{PolicyDocument, Principal, Statement, sid_word};
use json::*;
use plinth_ir::{
    BatchJob, DeclRef, Environment, FeatureView, Grant, Level, Origin, Platform, Service,
};
use plinth_syntax::Diagnostic;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io;

/// Diagnostic codes of this target (`name` shared with the other targets).
pub const CODE_NAME: &str = "plinth::target::name";
pub const CODE_REGION: &str = "plinth::target::region";
pub const CODE_ACCOUNT: &str = "plinth::target::account";
pub const CODE_TAG: &str = "plinth::target::tag";
const CODE_INTERNAL: &str = "plinth::target::internal";

/// The AWS provider, pinned to a major version.
pub const AWS_PROVIDER_SOURCE: &str = "hashicorp/aws";
pub const AWS_PROVIDER_VERSION: &str = "~> 6.0";
/// Terraform's JSON syntax and everything used here work from 1.5 on.
pub const TERRAFORM_VERSION: &str = ">= 1.5.0";
/// Days before noncurrent object versions of the artifact bucket expire.
pub const NONCURRENT_DAYS: u64 = 90;
/// Days Airflow's run data is kept when no source declares a retention.
pub const DEFAULT_RUN_DATA_DAYS: u64 = 30;
/// Days server access logs are kept.
pub const LOG_DAYS: u64 = 365;
/// Days before an unfinished multipart upload is aborted.
const ABORT_UPLOAD_DAYS: u64 = 7;
/// The DynamoDB attribute holding each item's expiry (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";
const MAX_TABLE_NAME: usize = 255;
const MAX_TAG_VALUE: usize = 256;

const ARTIFACTS: &str = "artifacts";
const OFFLINE_STORE: &str = "offline_store";
const ACCESS_LOGS: &str = "access_logs";

pub struct Terraform;

impl Target for Terraform {
    fn name(&self) -> &'static str {
        "terraform"
    }

    /// IAM grants exactly the accesses the policies allowed.
    fn policy_results(&self) -> crate::PolicyResults {
        crate::PolicyResults {
            grants: true,
            ..crate::PolicyResults::default()
        }
    }

    fn emit(&self, platform: &Platform) -> Emit {
        Collect::emit(self, platform, CODE_INTERNAL)
    }

    fn emit_to(&self, platform: &Platform, sink: &dyn FileSink) -> io::Result<Vec<Diagnostic>> {
        let ctx = Ctx::new(platform);
        let mut diagnostics = ctx.check();
        if !diagnostics.iter().any(Diagnostic::is_error) {
            diagnostics.extend(ctx.write_files(sink)?);
        }
        Ok(diagnostics)
    }
}

fn error(code: &str, origin: &Origin, field: &str, message: String) -> Diagnostic {
    Diagnostic::error(code, origin.field_span(field), message).with_file(&origin.file)
}

/// FNV-1a of `value`'s compact JSON, hashed as it is serialized (no bytes built).
fn spec_hash(value: &impl Serialize) -> String {
    let mut hash = Fnv1a64::default();
    // Cannot fail: the IR serializes without error and the hasher takes every byte.
    let _ = serde_json::to_writer(&mut hash, value);
    hash.hex()
}

/// `${aws_x.name.attr}`
fn reference(kind: &str, name: &str, attribute: &str) -> String {
    format!("${{{kind}.{name}.{attribute}}}")
}

fn max_level<'a>(levels: impl Iterator<Item = &'a Level>) -> Option<&'a Level> {
    levels.max()
}

/// A bucket to write, with what differs between the three.
struct BucketSpec {
    local: &'static str,
    name: String,
    /// SSE-KMS with this level's key; `None`: SSE-S3 (the log bucket).
    key: Option<Level>,
    rules: Vec<LifecycleRule>,
    logged: bool,
    classification: Option<Level>,
    what: &'static str,
}

/// A workload with an IAM role: a service or a batch job of the environment.
struct Workload<'a> {
    kind: &'static str,
    name: &'a str,
    owner: &'a str,
    classification: &'a Level,
    origin: &'a Origin,
    /// What its `plinth:spec-hash` hashes (with its grants).
    ir: WorkloadIr<'a>,
}

/// A workload's declaration, serialized as itself.
#[derive(Serialize)]
#[serde(untagged)]
enum WorkloadIr<'a> {
    Service(&'a Service),
    BatchJob(&'a BatchJob),
}

struct Ctx<'a> {
    p: &'a Platform,
    env: &'a Environment,
    region: String,
    artifact_level: Option<Level>,
    offline_level: Option<Level>,
    /// Services, then batch jobs: every file but the provider's reads them.
    workloads: Vec<Workload<'a>>,
    /// The spec hash of the environment, which every shared resource is tagged with.
    env_hash: String,
}

impl<'a> Ctx<'a> {
    fn new(p: &'a Platform) -> Ctx<'a> {
        let views = p.feature_views.values();
        let artifact_level = max_level(
            p.models
                .values()
                .map(|m| &m.data_classification)
                .chain(p.feature_views.values().map(|v| &v.classification)),
        )
        .or_else(|| max_level(p.sources.values().map(|s| &s.classification)))
        .cloned();
        Ctx {
            p,
            env: &p.environment,
            region: p.environment.region.replace('_', "-"),
            artifact_level,
            offline_level: max_level(views.map(|v| &v.classification)).cloned(),
            workloads: workloads(p),
            env_hash: spec_hash(&p.environment),
        }
    }

    fn online_views(&self) -> impl Iterator<Item = &'a FeatureView> + use<'a> {
        self.p
            .feature_views
            .values()
            .map(AsRef::as_ref)
            .filter(|v: &&FeatureView| v.online)
    }

    /// Every name and value this configuration needs, checked against AWS's rules.
    fn check(&self) -> Vec<Diagnostic> {
        let env = self.env;
        let o = &env.origin;
        let mut out = Vec::new();
        let parts: Vec<&str> = self.region.split('-').collect();
        let region_ok = parts.len() >= 3
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
            && parts
                .last()
                .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
        if !region_ok {
            out.push(
                error(
                    CODE_REGION,
                    o,
                    "region",
                    format!(
                        "region `{}` of environment `{}` is not an AWS region",
                        env.region, env.name
                    ),
                )
                .with_help("write an AWS region as an identifier, e.g. `eu_west_1`"),
            );
        }
        if let Some(account) = &env.account
            && !(account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()))
        {
            out.push(
                error(
                    CODE_ACCOUNT,
                    o,
                    "account",
                    format!(
                        "account `{}` of environment `{}` is not an AWS account id",
                        account.escape_default(),
                        env.name
                    ),
                )
                .with_help("an AWS account id is 12 digits, e.g. \"123456789012\""),
            );
        }
        let field = if env.account.is_some() { "account" } else { "" };
        let mut buckets = vec![artifact_bucket_name(env), access_log_bucket_name(env)];
        if !self.p.feature_views.is_empty() {
            buckets.push(offline_store_bucket_name(env));
        }
        for bucket in buckets {
            if let Err(why) = check_s3_bucket_name(&bucket) {
                out.push(
                    error(
                        CODE_NAME,
                        o,
                        field,
                        format!(
                            "environment `{}` gives the S3 bucket name `{}`, which S3 rejects: {why}",
                            env.name,
                            bucket.escape_default()
                        ),
                    )
                    .with_help("bucket names are `plinth-<environment>-<purpose>-<account>`; shorten the environment's name"),
                );
            }
        }
        for view in self.online_views() {
            let table = self.table_name(view);
            if table.len() > MAX_TABLE_NAME {
                out.push(error(
                    CODE_NAME,
                    &view.origin,
                    "",
                    format!(
                        "feature view `{}` gives the DynamoDB table name `{table}`, longer than DynamoDB's {MAX_TABLE_NAME} characters",
                        view.name
                    ),
                ).with_help("shorten the feature view's name"));
            }
        }
        for w in &self.workloads {
            if let Err(problem) = check_dns1123_label(&service_account_name(w.name)) {
                out.push(error(
                    CODE_NAME,
                    w.origin,
                    "",
                    format!(
                        "{} `{}` cannot have a Kubernetes service account for its IAM role: `{}` is not a valid name: {problem}",
                        w.kind.replace('_', " "),
                        w.name,
                        service_account_name(w.name)
                    ),
                ).with_help("rename the declaration: at most 63 characters, not starting or ending with `_`"));
            }
        }
        for team in self.p.teams.values() {
            if let Some(cc) = &team.cost_center
                && let Err(why) = check_tag_value(cc)
            {
                out.push(
                    error(
                        CODE_TAG,
                        &team.origin,
                        "cost_center",
                        format!(
                            "cost center `{}` of team `{}` cannot be an AWS tag value: {why}",
                            cc.escape_default(),
                            team.name
                        ),
                    )
                    .with_help("AWS tag values are at most 256 letters, digits, spaces and `_ . : / = + - @`"),
                );
            }
        }
        out
    }

    fn table_name(&self, view: &FeatureView) -> String {
        format!("plinth-{}-{}", self.env.name, view.name).replace('_', "-")
    }

    fn key_arn(level: &Level) -> String {
        reference("aws_kms_key", &level.name, "arn")
    }

    fn account_id(&self) -> &'static str {
        "${local.account_id}"
    }

    fn tags(
        &self,
        team: Option<&str>,
        classification: Option<&Level>,
        declaration: String,
        hash: String,
    ) -> Tags {
        let mut tags = Tags::new();
        if let Some(level) = classification {
            tags.insert("plinth:classification", level.name.clone());
        }
        if let Some(team) = team.and_then(|t| self.p.teams.get(t)) {
            if let Some(cc) = &team.cost_center {
                tags.insert("plinth:cost-center", cc.clone());
            }
            tags.insert("plinth:team", team.name.clone());
        }
        tags.insert("plinth:declaration", declaration);
        tags.insert("plinth:spec-hash", hash);
        tags
    }

    fn env_tags(&self, classification: Option<&Level>) -> Tags {
        self.tags(
            None,
            classification,
            format!("environment.{}", self.env.name),
            self.env_hash.clone(),
        )
    }

    /// Renders the files on all cores (IAM alone is over half the bytes), each into a
    /// buffer its worker reuses, and hands each to `sink` at once. Returns a
    /// diagnostic per file that could not be serialized, in file order.
    fn write_files(&self, sink: &dyn FileSink) -> io::Result<Vec<Diagnostic>> {
        type Build<'c, 'a> = fn(&'c Ctx<'a>) -> File;
        let mut files: Vec<(&str, Build<'_, 'a>)> = vec![
            ("versions.tf.json", Ctx::versions),
            ("providers.tf.json", Ctx::providers),
            ("kms.tf.json", Ctx::kms),
            ("s3.tf.json", Ctx::s3),
        ];
        if self.online_views().next().is_some() {
            files.push(("dynamodb.tf.json", Ctx::dynamodb));
        }
        if !self.workloads.is_empty() {
            files.push(("iam.tf.json", Ctx::iam));
        }
        files.push(("outputs.tf.json", Ctx::outputs));
        let failed: Vec<Option<Diagnostic>> = files
            .par_iter()
            .map_init(Vec::new, |buf, (path, build)| {
                buf.clear();
                let written = serde_json::to_writer_pretty(&mut *buf, &build(self))
                    .map_err(|e| e.to_string())
                    .and_then(|()| {
                        buf.push(b'\n');
                        std::str::from_utf8(buf).map_err(|e| e.to_string())
                    });
                match written {
                    Ok(text) => sink.write(path, text).map(|()| None),
                    Err(e) => Ok(Some(error(
                        CODE_INTERNAL,
                        &self.env.origin,
                        "",
                        format!("cannot serialize {path}: {e}"),
                    ))),
                }
            })
            .collect::<io::Result<_>>()?;
        Ok(failed.into_iter().flatten().collect())
    }

    fn versions(&self) -> File {
        File {
            terraform: Some(TerraformBlock {
                required_version: Some(TERRAFORM_VERSION.to_string()),
                required_providers: BTreeMap::new(),
            }),
            ..File::default()
        }
    }

    fn providers(&self) -> File {
        let env = self.env;
        let mut data = DataBlock::default();
        let mut locals = BTreeMap::new();
        let mut variable = BTreeMap::new();
        match &env.account {
            Some(account) => {
                locals.insert("account_id".to_string(), account.clone());
            }
            None => {
                data.aws_caller_identity
                    .insert("current".to_string(), Empty {});
                locals.insert(
                    "account_id".to_string(),
                    "${data.aws_caller_identity.current.account_id}".to_string(),
                );
            }
        }
        match &env.cluster {
            Some(cluster) => {
                data.aws_eks_cluster.insert(
                    "cluster".to_string(),
                    EksCluster {
                        name: cluster.clone(),
                    },
                );
                locals.insert(
                    "oidc_issuer".to_string(),
                    "${trimprefix(data.aws_eks_cluster.cluster.identity[0].oidc[0].issuer, \"https://\")}"
                        .to_string(),
                );
            }
            None => {
                variable.insert(
                    "eks_oidc_issuer".to_string(),
                    Variable {
                        kind: "string".to_string(),
                        description: format!(
                            "OIDC issuer of the EKS cluster of environment `{}`, without https:// (the environment names no cluster)",
                            env.name
                        ),
                    },
                );
                locals.insert(
                    "oidc_issuer".to_string(),
                    "${var.eks_oidc_issuer}".to_string(),
                );
            }
        }
        File {
            terraform: Some(TerraformBlock {
                required_version: None,
                required_providers: BTreeMap::from([(
                    "aws".to_string(),
                    RequiredProvider {
                        source: AWS_PROVIDER_SOURCE.to_string(),
                        version: AWS_PROVIDER_VERSION.to_string(),
                    },
                )]),
            }),
            provider: Some(ProviderBlock {
                aws: AwsProvider {
                    region: self.region.clone(),
                    allowed_account_ids: env.account.iter().cloned().collect(),
                    default_tags: DefaultTags {
                        tags: Tags::from([
                            ("plinth:environment", env.name.clone()),
                            ("plinth:managed-by", "plinth".to_string()),
                        ]),
                    },
                },
            }),
            variable,
            data: Some(data),
            locals,
            ..File::default()
        }
    }

    /// Every classification level some resource is encrypted with.
    fn levels(&self) -> BTreeMap<String, Level> {
        self.artifact_level
            .iter()
            .chain(self.offline_level.iter())
            .chain(self.online_views().map(|v| &v.classification))
            .map(|l| (l.name.clone(), l.clone()))
            .collect()
    }

    fn kms(&self) -> File {
        let mut res = Resources::default();
        for (name, level) in self.levels() {
            let policy = PolicyDocument::new(vec![
                Statement::allow("EnableIamPolicies", &["kms:*"], vec!["*".to_string()])
                    .with_principal(
                        "AWS",
                        vec![format!("arn:aws:iam::{}:root", self.account_id())],
                    ),
            ]);
            res.aws_kms_key.insert(
                name.clone(),
                KmsKey {
                    description: format!("Plinth {}: data classified `{name}`", self.env.name),
                    enable_key_rotation: true,
                    deletion_window_in_days: 30,
                    policy: policy.to_json(),
                    tags: self.env_tags(Some(&level)),
                },
            );
            res.aws_kms_alias.insert(
                name.clone(),
                KmsAlias {
                    name: format!("alias/plinth-{}-{name}", self.env.name).replace('_', "-"),
                    target_key_id: reference("aws_kms_key", &name, "key_id"),
                },
            );
        }
        File {
            resource: Some(res),
            ..File::default()
        }
    }

    fn retention_days(&self, source: &str) -> Option<u64> {
        self.p
            .sources
            .get(source)
            .and_then(|s| s.retention)
            .map(|d| d.seconds().div_ceil(86_400).max(1))
    }

    fn buckets(&self) -> Vec<BucketSpec> {
        let env = self.env;
        let abort = || AbortIncompleteUpload {
            days_after_initiation: ABORT_UPLOAD_DAYS,
        };
        let run_days = self
            .p
            .sources
            .keys()
            .filter_map(|s| self.retention_days(s))
            .min()
            .unwrap_or(DEFAULT_RUN_DATA_DAYS);
        let mut out = vec![BucketSpec {
            local: ARTIFACTS,
            name: artifact_bucket_name(env),
            key: self.artifact_level.clone(),
            rules: vec![
                LifecycleRule {
                    id: "noncurrent-versions".to_string(),
                    status: "Enabled".to_string(),
                    filter: LifecycleFilter {
                        prefix: String::new(),
                    },
                    expiration: None,
                    noncurrent_version_expiration: Some(NoncurrentExpiration {
                        noncurrent_days: NONCURRENT_DAYS,
                    }),
                    abort_incomplete_multipart_upload: abort(),
                },
                LifecycleRule {
                    id: "airflow-run-data".to_string(),
                    status: "Enabled".to_string(),
                    filter: LifecycleFilter {
                        prefix: "airflow/".to_string(),
                    },
                    expiration: Some(Expiration { days: run_days }),
                    noncurrent_version_expiration: Some(NoncurrentExpiration {
                        noncurrent_days: 1,
                    }),
                    abort_incomplete_multipart_upload: abort(),
                },
            ],
            logged: true,
            classification: self.artifact_level.clone(),
            what: "model artifacts, the Triton model repository and Airflow run data",
        }];
        if !self.p.feature_views.is_empty() {
            let mut rules = vec![LifecycleRule {
                id: "noncurrent-versions".to_string(),
                status: "Enabled".to_string(),
                filter: LifecycleFilter {
                    prefix: String::new(),
                },
                expiration: None,
                noncurrent_version_expiration: Some(NoncurrentExpiration {
                    noncurrent_days: NONCURRENT_DAYS,
                }),
                abort_incomplete_multipart_upload: abort(),
            }];
            for view in self.p.feature_views.values() {
                if let Some(days) = self.retention_days(&view.source) {
                    rules.push(LifecycleRule {
                        id: format!("retention-{}", view.name),
                        status: "Enabled".to_string(),
                        filter: LifecycleFilter {
                            prefix: format!("{}/", offline_store_prefix(&view.name)),
                        },
                        expiration: Some(Expiration { days }),
                        noncurrent_version_expiration: Some(NoncurrentExpiration {
                            noncurrent_days: 1,
                        }),
                        abort_incomplete_multipart_upload: abort(),
                    });
                }
            }
            out.push(BucketSpec {
                local: OFFLINE_STORE,
                name: offline_store_bucket_name(env),
                key: self.offline_level.clone(),
                rules,
                logged: true,
                classification: self.offline_level.clone(),
                what: "the offline feature store",
            });
        }
        out.push(BucketSpec {
            local: ACCESS_LOGS,
            name: access_log_bucket_name(env),
            key: None,
            rules: vec![LifecycleRule {
                id: "expire-logs".to_string(),
                status: "Enabled".to_string(),
                filter: LifecycleFilter {
                    prefix: String::new(),
                },
                expiration: Some(Expiration { days: LOG_DAYS }),
                noncurrent_version_expiration: Some(NoncurrentExpiration {
                    noncurrent_days: 30,
                }),
                abort_incomplete_multipart_upload: abort(),
            }],
            logged: false,
            classification: None,
            what: "S3 server access logs of the other buckets",
        });
        out
    }

    fn s3(&self) -> File {
        let mut res = Resources::default();
        let buckets = self.buckets();
        let logged: Vec<String> = buckets
            .iter()
            .filter(|b| b.logged)
            .map(|b| reference("aws_s3_bucket", b.local, "arn"))
            .collect();
        for b in buckets {
            let id = reference("aws_s3_bucket", b.local, "id");
            let arn = reference("aws_s3_bucket", b.local, "arn");
            let mut tags = self.env_tags(b.classification.as_ref());
            tags.insert("plinth:purpose", b.what.to_string());
            res.aws_s3_bucket.insert(
                b.local.to_string(),
                S3Bucket {
                    bucket: b.name.clone(),
                    tags,
                },
            );
            res.aws_s3_bucket_ownership_controls.insert(
                b.local.to_string(),
                OwnershipControls {
                    bucket: id.clone(),
                    rule: OwnershipRule {
                        object_ownership: "BucketOwnerEnforced".to_string(),
                    },
                },
            );
            res.aws_s3_bucket_public_access_block.insert(
                b.local.to_string(),
                PublicAccessBlock {
                    bucket: id.clone(),
                    block_public_acls: true,
                    block_public_policy: true,
                    ignore_public_acls: true,
                    restrict_public_buckets: true,
                },
            );
            res.aws_s3_bucket_versioning.insert(
                b.local.to_string(),
                Versioning {
                    bucket: id.clone(),
                    versioning_configuration: VersioningConfiguration {
                        status: "Enabled".to_string(),
                    },
                },
            );
            let default = match &b.key {
                Some(level) => EncryptionDefault {
                    sse_algorithm: "aws:kms".to_string(),
                    kms_master_key_id: Some(Self::key_arn(level)),
                },
                None => EncryptionDefault {
                    sse_algorithm: "AES256".to_string(),
                    kms_master_key_id: None,
                },
            };
            res.aws_s3_bucket_server_side_encryption_configuration
                .insert(
                    b.local.to_string(),
                    Encryption {
                        bucket: id.clone(),
                        rule: vec![EncryptionRule {
                            bucket_key_enabled: b.key.is_some(),
                            apply_server_side_encryption_by_default: default,
                        }],
                    },
                );
            if b.logged {
                res.aws_s3_bucket_logging.insert(
                    b.local.to_string(),
                    Logging {
                        bucket: id.clone(),
                        target_bucket: reference("aws_s3_bucket", ACCESS_LOGS, "id"),
                        target_prefix: format!("{}/", b.name),
                    },
                );
            }
            res.aws_s3_bucket_lifecycle_configuration.insert(
                b.local.to_string(),
                Lifecycle {
                    bucket: id.clone(),
                    rule: b.rules,
                    depends_on: vec![format!("aws_s3_bucket_versioning.{}", b.local)],
                },
            );
            let mut statements = vec![
                Statement {
                    sid: "DenyInsecureTransport".to_string(),
                    effect: "Deny",
                    principal: Some(Principal::Anyone("*")),
                    action: vec!["s3:*"],
                    resource: vec![arn.clone(), format!("{arn}/*")],
                    condition: iam::Conditions::new(),
                }
                .with_condition(
                    "Bool",
                    "aws:SecureTransport",
                    vec!["false".to_string()],
                ),
            ];
            if b.local == ACCESS_LOGS {
                statements.push(
                    Statement::allow(
                        "S3ServerAccessLogs",
                        &["s3:PutObject"],
                        vec![format!("{arn}/*")],
                    )
                    .with_principal("Service", vec!["logging.s3.amazonaws.com".to_string()])
                    .with_condition("ArnLike", "aws:SourceArn", logged.clone())
                    .with_condition(
                        "StringEquals",
                        "aws:SourceAccount",
                        vec![self.account_id().to_string()],
                    ),
                );
            }
            res.aws_s3_bucket_policy.insert(
                b.local.to_string(),
                BucketPolicy {
                    bucket: id,
                    policy: PolicyDocument::new(statements).to_json(),
                },
            );
        }
        File {
            resource: Some(res),
            ..File::default()
        }
    }

    fn dynamodb(&self) -> File {
        let mut res = Resources::default();
        for view in self.online_views() {
            let dtype = self
                .p
                .entities
                .get(&view.entity)
                .map_or("string", |e| e.dtype.as_str());
            let attribute_type = match dtype {
                "int64" | "int32" | "int16" | "int8" | "float64" | "float32" => "N",
                "bytes" => "B",
                _ => "S",
            };
            let mut tags = self.tags(
                Some(&view.owner),
                Some(&view.classification),
                format!("feature_view.{}", view.name),
                spec_hash(view),
            );
            if let Some(ttl) = view.ttl {
                tags.insert("plinth:ttl-seconds", ttl.seconds().to_string());
            }
            res.aws_dynamodb_table.insert(
                view.name.clone(),
                DynamoDbTable {
                    name: self.table_name(view),
                    billing_mode: "PAY_PER_REQUEST".to_string(),
                    hash_key: view.key.clone(),
                    attribute: vec![Attribute {
                        name: view.key.clone(),
                        kind: attribute_type.to_string(),
                    }],
                    ttl: view.ttl.map(|_| Ttl {
                        attribute_name: TTL_ATTRIBUTE.to_string(),
                        enabled: true,
                    }),
                    point_in_time_recovery: Enabled { enabled: true },
                    server_side_encryption: TableEncryption {
                        enabled: true,
                        kms_key_arn: Self::key_arn(&view.classification),
                    },
                    deletion_protection_enabled: self.env.tier == "production",
                    tags,
                },
            );
        }
        File {
            resource: Some(res),
            ..File::default()
        }
    }

    /// The statements granting `workload` exactly its allowed grants.
    fn statements(&self, grants: &[&Grant]) -> Vec<Statement> {
        let mut out = Vec::new();
        let mut s3_keys: BTreeSet<String> = BTreeSet::new();
        let mut dynamodb_keys: BTreeSet<String> = BTreeSet::new();
        let artifacts = reference("aws_s3_bucket", ARTIFACTS, "arn");
        let offline = reference("aws_s3_bucket", OFFLINE_STORE, "arn");
        let read_prefix = |out: &mut Vec<Statement>, sid: String, bucket: &str, prefix: &str| {
            out.push(Statement::allow(
                format!("{sid}Objects"),
                &["s3:GetObject"],
                vec![format!("{bucket}/{prefix}*")],
            ));
            out.push(
                Statement::allow(
                    format!("{sid}List"),
                    &["s3:ListBucket"],
                    vec![bucket.to_string()],
                )
                .with_condition(
                    "StringLike",
                    "s3:prefix",
                    vec![format!("{prefix}*")],
                ),
            );
        };
        for g in grants {
            let DeclRef { kind, name } = &g.resource;
            let sid = format!(
                "{}{}{}",
                sid_word(&g.action),
                sid_word(kind),
                sid_word(name)
            );
            match (g.action.as_str(), kind.as_str()) {
                ("read", "model") if self.p.models.contains_key(name) => {
                    read_prefix(
                        &mut out,
                        sid,
                        &artifacts,
                        &format!("{}/", model_repository_prefix(name)),
                    );
                    if let Some(level) = &self.artifact_level {
                        s3_keys.insert(Self::key_arn(level));
                    }
                }
                ("read", "feature_view") => {
                    let Some(view) = self.p.feature_views.get(name) else {
                        continue;
                    };
                    if view.online {
                        out.push(Statement::allow(
                            sid,
                            &[
                                "dynamodb:BatchGetItem",
                                "dynamodb:GetItem",
                                "dynamodb:Query",
                            ],
                            vec![reference("aws_dynamodb_table", name, "arn")],
                        ));
                        dynamodb_keys.insert(Self::key_arn(&view.classification));
                    } else {
                        read_prefix(
                            &mut out,
                            sid,
                            &offline,
                            &format!("{}/", offline_store_prefix(name)),
                        );
                        if let Some(level) = &self.offline_level {
                            s3_keys.insert(Self::key_arn(level));
                        }
                    }
                }
                (action, "source") => {
                    let Some(source) = self.p.sources.get(name) else {
                        continue;
                    };
                    let Some(bucket) = source
                        .location
                        .get("bucket")
                        .filter(|_| source.kind == "s3")
                    else {
                        continue;
                    };
                    let prefix = source.location.get("prefix").map_or("", String::as_str);
                    let bucket_arn = format!("arn:aws:s3:::{bucket}");
                    if action == "read" {
                        read_prefix(&mut out, sid, &bucket_arn, prefix);
                    } else if action == "write" {
                        out.push(Statement::allow(
                            format!("{sid}Objects"),
                            &["s3:AbortMultipartUpload", "s3:PutObject"],
                            vec![format!("{bucket_arn}/{prefix}*")],
                        ));
                    }
                }
                _ => {}
            }
        }
        for (service, keys) in [("S3", s3_keys), ("Dynamodb", dynamodb_keys)] {
            if keys.is_empty() {
                continue;
            }
            out.push(
                Statement::allow(
                    format!("DecryptVia{service}"),
                    &["kms:Decrypt"],
                    keys.into_iter().collect(),
                )
                .with_condition(
                    "StringEquals",
                    "kms:ViaService",
                    vec![format!(
                        "{}.{}.amazonaws.com",
                        service.to_ascii_lowercase(),
                        self.region
                    )],
                ),
            );
        }
        out
    }

    fn iam(&self) -> File {
        let mut res = Resources::default();
        let env = self.env;
        // Grants by principal, once: filtering every grant for every workload is
        // quadratic (seconds at 5,000 services). Pushed in order, so each list is the
        // grants in the order the filter yielded them.
        let mut by_principal: BTreeMap<(&str, &str), Vec<&Grant>> = BTreeMap::new();
        for g in &self.p.grants {
            by_principal
                .entry((g.principal.kind.as_str(), g.principal.name.as_str()))
                .or_default()
                .push(g);
        }
        for w in &self.workloads {
            let grants: Vec<&Grant> = by_principal
                .get(&(w.kind, w.name))
                .cloned()
                .unwrap_or_default();
            let subject = format!(
                "system:serviceaccount:{}:{}",
                env.namespace,
                service_account_name(w.name)
            );
            let trust = PolicyDocument::new(vec![
                Statement::allow(
                    "ServiceAccount",
                    &["sts:AssumeRoleWithWebIdentity"],
                    Vec::new(),
                )
                .with_principal(
                    "Federated",
                    vec![format!(
                        "arn:aws:iam::{}:oidc-provider/${{local.oidc_issuer}}",
                        self.account_id()
                    )],
                )
                .with_condition(
                    "StringEquals",
                    "${local.oidc_issuer}:aud",
                    vec!["sts.amazonaws.com".to_string()],
                )
                .with_condition(
                    "StringEquals",
                    "${local.oidc_issuer}:sub",
                    vec![subject],
                ),
            ]);
            let role = iam_role_name(&env.name, w.name);
            res.aws_iam_role.insert(
                w.name.to_string(),
                IamRole {
                    name: role,
                    description: format!(
                        "Plinth {} `{}` in `{}`: the reads its policies allow",
                        w.kind.replace('_', " "),
                        w.name,
                        env.name
                    ),
                    assume_role_policy: trust.to_json(),
                    max_session_duration: 3600,
                    tags: self.tags(
                        Some(w.owner),
                        Some(w.classification),
                        format!("{}.{}", w.kind, w.name),
                        spec_hash(&(&w.ir, &grants)),
                    ),
                },
            );
            let statements = self.statements(&grants);
            if !statements.is_empty() {
                res.aws_iam_role_policy.insert(
                    w.name.to_string(),
                    IamRolePolicy {
                        name: "plinth-allowed-data-access".to_string(),
                        role: reference("aws_iam_role", w.name, "id"),
                        policy: PolicyDocument::new(statements).to_json(),
                    },
                );
            }
        }
        File {
            resource: Some(res),
            ..File::default()
        }
    }

    fn outputs(&self) -> File {
        let mut output = BTreeMap::new();
        let mut put = |name: String, description: String, value: String| {
            output.insert(name, Output { description, value });
        };
        for b in self.buckets() {
            put(
                format!("{}_bucket", b.local),
                format!("S3 bucket: {}", b.what),
                reference("aws_s3_bucket", b.local, "bucket"),
            );
        }
        for name in self.levels().keys() {
            put(
                format!("kms_key_arn_{name}"),
                format!("KMS key for data classified `{name}`"),
                reference("aws_kms_key", name, "arn"),
            );
        }
        for view in self.online_views() {
            put(
                format!("dynamodb_table_{}", view.name),
                format!("Online store of feature view `{}`", view.name),
                reference("aws_dynamodb_table", &view.name, "name"),
            );
        }
        for w in &self.workloads {
            put(
                format!("iam_role_arn_{}", w.name),
                format!(
                    "IAM role of {} `{}` (service account `{}`)",
                    w.kind.replace('_', " "),
                    w.name,
                    service_account_name(w.name)
                ),
                reference("aws_iam_role", w.name, "arn"),
            );
        }
        File {
            output,
            ..File::default()
        }
    }
}

/// Services, then batch jobs, each in name order.
fn workloads(p: &Platform) -> Vec<Workload<'_>> {
    let services = p.services.values().map(|s| Workload {
        kind: "service",
        name: &s.name,
        owner: &s.owner,
        classification: &s.data_classification,
        origin: &s.origin,
        ir: WorkloadIr::Service(s),
    });
    let jobs = p.batch_jobs.values().map(|j| Workload {
        kind: "batch_job",
        name: &j.name,
        owner: &j.owner,
        classification: &j.data_classification,
        origin: &j.origin,
        ir: WorkloadIr::BatchJob(j),
    });
    services.chain(jobs).collect()
}

/// AWS tag values: at most 256 of letters, digits, spaces and `_ . : / = + - @`.
fn check_tag_value(value: &str) -> Result<(), String> {
    if value.chars().count() > MAX_TAG_VALUE {
        return Err(format!("it is longer than {MAX_TAG_VALUE} characters"));
    }
    let ok = |c: char| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c);
    match value.chars().find(|c| !ok(*c)) {
        Some(c) => Err(format!("it contains `{}`", c.escape_default())),
        None => Ok(()),
    }
}
