//! Typed Terraform JSON syntax (`*.tf.json`) for the blocks and AWS resources this
//! target writes. Field order here is key order in the output; maps are `BTreeMap`s, so
//! every file is the same bytes on every run. A nested block is a JSON object (one) or
//! an array of objects (repeatable), as Terraform's JSON syntax reads them.

use serde::Serialize;
use std::collections::BTreeMap;

/// Tag keys are this target's own fixed names (`plinth:team`, ...).
pub type Tags = BTreeMap<&'static str, String>;
/// Resources of one type by local name.
pub type Named<T> = BTreeMap<String, T>;

fn is_false(b: &bool) -> bool {
    !*b
}

/// One `.tf.json` file.
#[derive(Debug, Default, Serialize)]
pub struct File {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terraform: Option<TerraformBlock>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderBlock>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub variable: Named<Variable>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<DataBlock>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub locals: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resources>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub output: Named<Output>,
}

#[derive(Debug, Default, Serialize)]
pub struct TerraformBlock {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_version: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub required_providers: BTreeMap<String, RequiredProvider>,
}

#[derive(Debug, Serialize)]
pub struct RequiredProvider {
    pub source: String,
    pub version: String,
}

#[derive(Debug, Serialize)]
pub struct ProviderBlock {
    pub aws: AwsProvider,
}

#[derive(Debug, Serialize)]
pub struct AwsProvider {
    pub region: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_account_ids: Vec<String>,
    pub default_tags: DefaultTags,
}

#[derive(Debug, Serialize)]
pub struct DefaultTags {
    pub tags: Tags,
}

#[derive(Debug, Serialize)]
pub struct Variable {
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
}

#[derive(Debug, Default, Serialize)]
pub struct DataBlock {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aws_caller_identity: Named<Empty>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aws_eks_cluster: Named<EksCluster>,
}

#[derive(Debug, Serialize)]
pub struct Empty {}

#[derive(Debug, Serialize)]
pub struct EksCluster {
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct Output {
    pub description: String,
    pub value: String,
}

/// Every resource type this target writes, in output order.
#[derive(Debug, Default, Serialize)]
pub struct Resources {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aws_kms_key: Named<KmsKey>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aws_kms_alias: Named<KmsAlias>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aws_s3_bucket: Named<S3Bucket>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aws_s3_bucket_ownership_controls: Named<OwnershipControls>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aws_s3_bucket_public_access_block: Named<PublicAccessBlock>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aws_s3_bucket_versioning: Named<Versioning>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aws_s3_bucket_server_side_encryption_configuration: Named<Encryption>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aws_s3_bucket_logging: Named<Logging>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aws_s3_bucket_lifecycle_configuration: Named<Lifecycle>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aws_s3_bucket_policy: Named<BucketPolicy>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aws_dynamodb_table: Named<DynamoDbTable>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aws_iam_role: Named<IamRole>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aws_iam_role_policy: Named<IamRolePolicy>,
}

#[derive(Debug, Serialize)]
pub struct KmsKey {
    pub description: String,
    pub enable_key_rotation: bool,
    pub deletion_window_in_days: u32,
    /// A JSON policy document (see `iam.rs`).
    pub policy: String,
    pub tags: Tags,
}

#[derive(Debug, Serialize)]
pub struct KmsAlias {
    pub name: String,
    pub target_key_id: String,
}

#[derive(Debug, Serialize)]
pub struct S3Bucket {
    pub bucket: String,
    pub tags: Tags,
}

#[derive(Debug, Serialize)]
pub struct OwnershipControls {
    pub bucket: String,
    pub rule: OwnershipRule,
}

#[derive(Debug, Serialize)]
pub struct OwnershipRule {
    pub object_ownership: String,
}

#[derive(Debug, Serialize)]
pub struct PublicAccessBlock {
    pub bucket: String,
    pub block_public_acls: bool,
    pub block_public_policy: bool,
    pub ignore_public_acls: bool,
    pub restrict_public_buckets: bool,
}

#[derive(Debug, Serialize)]
pub struct Versioning {
    pub bucket: String,
    pub versioning_configuration: VersioningConfiguration,
}

#[derive(Debug, Serialize)]
pub struct VersioningConfiguration {
    pub status: String,
}

#[derive(Debug, Serialize)]
pub struct Encryption {
    pub bucket: String,
    pub rule: Vec<EncryptionRule>,
}

#[derive(Debug, Serialize)]
pub struct EncryptionRule {
    pub apply_server_side_encryption_by_default: EncryptionDefault,
    #[serde(skip_serializing_if = "is_false")]
    pub bucket_key_enabled: bool,
}

#[derive(Debug, Serialize)]
pub struct EncryptionDefault {
    pub sse_algorithm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_master_key_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Logging {
    pub bucket: String,
    pub target_bucket: String,
    pub target_prefix: String,
}

#[derive(Debug, Serialize)]
pub struct Lifecycle {
    pub bucket: String,
    pub rule: Vec<LifecycleRule>,
    /// Terraform addresses (no `${}`), as `depends_on` takes them.
    pub depends_on: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct LifecycleRule {
    pub id: String,
    pub status: String,
    pub filter: LifecycleFilter,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Expiration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noncurrent_version_expiration: Option<NoncurrentExpiration>,
    pub abort_incomplete_multipart_upload: AbortIncompleteUpload,
}

#[derive(Debug, Serialize)]
pub struct LifecycleFilter {
    pub prefix: String,
}

#[derive(Debug, Serialize)]
pub struct Expiration {
    pub days: u64,
}

#[derive(Debug, Serialize)]
pub struct NoncurrentExpiration {
    pub noncurrent_days: u64,
}

#[derive(Debug, Serialize)]
pub struct AbortIncompleteUpload {
    pub days_after_initiation: u64,
}

#[derive(Debug, Serialize)]
pub struct BucketPolicy {
    pub bucket: String,
    pub policy: String,
}

#[derive(Debug, Serialize)]
pub struct DynamoDbTable {
    pub name: String,
    pub billing_mode: String,
    pub hash_key: String,
    pub attribute: Vec<Attribute>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Ttl>,
    pub point_in_time_recovery: Enabled,
    pub server_side_encryption: TableEncryption,
    pub deletion_protection_enabled: bool,
    pub tags: Tags,
}

#[derive(Debug, Serialize)]
pub struct Attribute {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Serialize)]
pub struct Ttl {
    pub attribute_name: String,
    pub enabled: bool,
}

#[derive(Debug, Serialize)]
pub struct Enabled {
    pub enabled: bool,
}

#[derive(Debug, Serialize)]
pub struct TableEncryption {
    pub enabled: bool,
    pub kms_key_arn: String,
}

#[derive(Debug, Serialize)]
pub struct IamRole {
    pub name: String,
    pub description: String,
    pub assume_role_policy: String,
    pub max_session_duration: u32,
    pub tags: Tags,
}

#[derive(Debug, Serialize)]
pub struct IamRolePolicy {
    pub name: String,
    pub role: String,
    pub policy: String,
}
