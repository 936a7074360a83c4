//! The slice of the Kubernetes, Argo Rollouts and Prometheus Operator APIs this target
//! writes, as typed `Serialize` structs. Field order here is the order in the YAML;
//! maps are `BTreeMap`s; absent optional fields are left out rather than written as
//! `null`. Only fields the target sets exist: the schema tests catch a misspelt one.

use super::yaml;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, OnceLock};

pub type Map = BTreeMap<String, String>;

fn is_false(b: &bool) -> bool {
    !*b
}

/// One Kubernetes object: `apiVersion`, `kind`, `metadata`, then the kind's own fields
/// (the body's fields at the top level). Written by [`Manifest::write_yaml`]: the header
/// and metadata directly, the body through the YAML serializer.
pub struct Manifest<'a, B> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta<'a>,
    pub body: B,
}

impl<B: Serialize> Manifest<'_, B> {
    /// Appends the object as one YAML document (no `---`).
    pub fn write_yaml(&self, out: &mut String) -> Result<(), yaml::Error> {
        yaml::write_entry(out, 0, "apiVersion", self.api_version);
        yaml::write_entry(out, 0, "kind", self.kind);
        out.push_str("metadata:\n");
        let meta = &self.metadata;
        yaml::write_entry(out, 2, "name", &meta.name);
        yaml::write_entry(out, 2, "namespace", meta.namespace);
        for (key, entries) in [("labels", &meta.labels), ("annotations", &meta.annotations)] {
            if !entries.is_empty() {
                out.push_str("  ");
                out.push_str(key);
                out.push_str(":\n");
                entries.write_yaml(out);
            }
        }
        // The body's fields follow at the top level, as `#[serde(flatten)]` would put them.
        yaml::write(&self.body, out)
    }

    pub fn to_yaml(&self) -> Result<String, yaml::Error> {
        let mut out = String::new();
        self.write_yaml(&mut out)?;
        Ok(out)
    }
}

/// The body of most kinds.
#[derive(Serialize)]
pub struct Spec<S> {
    pub spec: S,
}

/// Borrowed where it can be: the objects of a service are built from its context and
/// written at once, so most of their text is the context's, not a copy.
#[derive(Clone)]
pub struct ObjectMeta<'a> {
    pub name: Cow<'a, str>,
    pub namespace: &'a str,
    /// Left out when empty.
    pub labels: Entries,
    /// Left out when empty.
    pub annotations: Entries,
}

/// Metadata labels or annotations: a string map whose YAML (entries at column 4, under
/// `metadata:`'s `labels:`) is rendered once and shared by every clone, since a
/// service's objects all carry the same ones. One object's own extra entry (a Service's
/// role, a ServiceAccount's IAM role) is spliced into the shared lines as it is written,
/// so adding it copies neither the map nor its YAML.
#[derive(Clone, Default)]
pub struct Entries {
    shared: Arc<EntriesInner>,
    /// The entry [`Entries::insert`] added to this copy only.
    extra: Option<(&'static str, String)>,
}

#[derive(Default)]
struct EntriesInner {
    map: Map,
    yaml: OnceLock<Rendered>,
}

/// The shared entries' YAML, and where each entry's lines start (in key order).
struct Rendered {
    text: String,
    starts: Vec<usize>,
}

/// Column of the entries of `metadata.labels` and `metadata.annotations`.
const META_ENTRY_COLUMN: usize = 4;

impl Entries {
    pub fn is_empty(&self) -> bool {
        self.shared.map.is_empty() && self.extra.is_none()
    }

    /// The shared entries: without one [`Entries::insert`] added to this copy.
    pub fn shared_map(&self) -> &Map {
        &self.shared.map
    }

    /// Adds (or replaces) `key` in this copy. A second insert into the same copy, which
    /// no object needs, makes it a new unshared map.
    pub fn insert(&mut self, key: &'static str, value: String) {
        if let Some((old_key, old_value)) = self.extra.take() {
            let mut map = self.shared.map.clone();
            map.insert(old_key.to_string(), old_value);
            *self = Entries::from(map);
        }
        self.extra = Some((key, value));
    }

    /// Appends the entries as block YAML lines at column 4.
    fn write_yaml(&self, out: &mut String) {
        let rendered = self.shared.yaml.get_or_init(|| {
            let mut text = String::new();
            let mut starts = Vec::with_capacity(self.shared.map.len());
            for (key, value) in &self.shared.map {
                starts.push(text.len());
                yaml::write_entry(&mut text, META_ENTRY_COLUMN, key, value);
            }
            Rendered { text, starts }
        });
        let Some((key, value)) = &self.extra else {
            out.push_str(&rendered.text);
            return;
        };
        // The shared entries before `key`, `key`'s entry, then those after it (without
        // a shared entry of the same key, which it replaces).
        let before = self
            .shared
            .map
            .range::<str, _>((Bound::Unbounded, Bound::Excluded(*key)))
            .count();
        let after = before + usize::from(self.shared.map.contains_key(*key));
        let start = |i: usize| {
            rendered
                .starts
                .get(i)
                .copied()
                .unwrap_or(rendered.text.len())
        };
        out.push_str(rendered.text.get(..start(before)).unwrap_or_default());
        yaml::write_entry(out, META_ENTRY_COLUMN, key, value);
        out.push_str(rendered.text.get(start(after)..).unwrap_or_default());
    }
}

impl From<Map> for Entries {
    fn from(map: Map) -> Entries {
        Entries {
            shared: Arc::new(EntriesInner {
                map,
                yaml: OnceLock::new(),
            }),
            extra: None,
        }
    }
}

#[derive(Clone, Serialize)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i64),
    /// Named ports and percentages: always constants here.
    Str(&'static str),
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector<'a> {
    /// Most selectors are the service's own (borrowed from its context).
    pub match_labels: Cow<'a, Map>,
}

// ---- ServiceAccount ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountBody {
    pub automount_service_account_token: bool,
}

// ---- Pods ----

#[derive(Clone, Serialize)]
pub struct PodTemplateSpec<'a> {
    pub metadata: TemplateMeta<'a>,
    pub spec: PodSpec<'a>,
}

#[derive(Clone, Serialize)]
pub struct TemplateMeta<'a> {
    pub labels: &'a Map,
    pub annotations: PodAnnotations,
}

/// The pod template's annotations (a map of one key).
#[derive(Clone, Serialize)]
pub struct PodAnnotations {
    /// The container `kubectl logs` and `exec` pick without `-c`.
    #[serde(rename = "kubectl.kubernetes.io/default-container")]
    pub default_container: &'static str,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec<'a> {
    pub service_account_name: &'a str,
    pub automount_service_account_token: bool,
    pub enable_service_links: bool,
    pub security_context: PodSecurityContext,
    pub init_containers: Vec<Container<'a>>,
    pub containers: Vec<Container<'a>>,
    pub volumes: Vec<Volume>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub node_selector: Map,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    pub topology_spread_constraints: Vec<TopologySpreadConstraint<'a>>,
    pub termination_grace_period_seconds: u32,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    pub run_as_non_root: bool,
    pub run_as_user: u32,
    pub run_as_group: u32,
    pub fs_group: u32,
    pub seccomp_profile: SeccompProfile,
}

#[derive(Clone, Serialize)]
pub struct SeccompProfile {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container<'a> {
    pub name: &'static str,
    pub image: &'static str,
    pub image_pull_policy: &'static str,
    pub command: &'static [&'static str],
    pub args: Vec<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    pub resources: ResourceRequirements,
    pub security_context: ContainerSecurityContext,
    pub volume_mounts: Vec<VolumeMount>,
}

#[derive(Clone, Serialize)]
pub struct EnvVar<'a> {
    pub name: &'static str,
    pub value: Cow<'a, str>,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub name: &'static str,
    pub container_port: u16,
    pub protocol: &'static str,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub http_get: HttpGetAction,
    pub period_seconds: u32,
    pub timeout_seconds: u32,
    pub failure_threshold: u32,
}

#[derive(Clone, Serialize)]
pub struct HttpGetAction {
    pub path: &'static str,
    pub port: IntOrString,
}

/// Requests and limits: the same amounts for both (the Guaranteed QoS class), written
/// twice from one value.
#[derive(Clone)]
pub struct ResourceRequirements {
    pub amounts: ResourceAmounts,
}

impl Serialize for ResourceRequirements {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("ResourceRequirements", 2)?;
        s.serialize_field("requests", &self.amounts)?;
        s.serialize_field("limits", &self.amounts)?;
        s.end()
    }
}

/// Amounts of resources by name, in the sorted key order a map of them has.
#[derive(Clone, Serialize)]
pub struct ResourceAmounts {
    pub cpu: Cow<'static, str>,
    pub memory: Cow<'static, str>,
    #[serde(rename = "nvidia.com/gpu", skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSecurityContext {
    pub allow_privilege_escalation: bool,
    pub privileged: bool,
    pub read_only_root_filesystem: bool,
    pub run_as_non_root: bool,
    pub capabilities: Capabilities,
}

#[derive(Clone, Serialize)]
pub struct Capabilities {
    pub drop: &'static [&'static str],
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: &'static str,
    pub mount_path: &'static str,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub name: &'static str,
    pub empty_dir: EmptyDir,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmptyDir {
    pub size_limit: &'static str,
}

#[derive(Clone, Serialize)]
pub struct Toleration {
    pub key: &'static str,
    pub operator: &'static str,
    pub effect: &'static str,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopologySpreadConstraint<'a> {
    pub max_skew: u32,
    pub topology_key: &'static str,
    pub when_unsatisfiable: &'static str,
    pub label_selector: LabelSelector<'a>,
}

// ---- Deployment ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec<'a> {
    pub revision_history_limit: u32,
    pub selector: LabelSelector<'a>,
    pub strategy: DeploymentStrategy,
    pub template: PodTemplateSpec<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStrategy {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub rolling_update: RollingUpdate,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdate {
    pub max_surge: IntOrString,
    pub max_unavailable: IntOrString,
}

// ---- Service ----

#[derive(Serialize)]
pub struct ServiceSpec<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub selector: &'a Map,
    pub ports: Vec<ServicePort>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    pub name: &'static str,
    pub port: u16,
    pub target_port: IntOrString,
    pub protocol: &'static str,
}

// ---- HorizontalPodAutoscaler (autoscaling/v2) ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaSpec<'a> {
    pub scale_target_ref: CrossVersionObjectReference<'a>,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub metrics: Vec<MetricSpec>,
    pub behavior: HpaBehavior,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CrossVersionObjectReference<'a> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub name: &'a str,
}

#[derive(Serialize)]
pub struct MetricSpec {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub resource: ResourceMetricSource,
}

#[derive(Serialize)]
pub struct ResourceMetricSource {
    pub name: &'static str,
    pub target: MetricTarget,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricTarget {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub average_utilization: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaBehavior {
    pub scale_down: ScalingRules,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalingRules {
    pub stabilization_window_seconds: u32,
    pub policies: Vec<ScalingPolicy>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalingPolicy {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: u32,
    pub period_seconds: u32,
}

// ---- PodDisruptionBudget ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PdbSpec<'a> {
    pub max_unavailable: IntOrString,
    pub selector: LabelSelector<'a>,
    pub unhealthy_pod_eviction_policy: &'static str,
}

// ---- NetworkPolicy ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec<'a> {
    pub pod_selector: LabelSelector<'a>,
    pub policy_types: &'static [&'static str],
    pub ingress: Vec<NetworkPolicyIngressRule<'a>>,
    pub egress: Vec<NetworkPolicyEgressRule<'a>>,
}

#[derive(Serialize)]
pub struct NetworkPolicyIngressRule<'a> {
    pub from: Vec<NetworkPolicyPeer<'a>>,
    pub ports: Vec<NetworkPolicyPort>,
}

#[derive(Serialize)]
pub struct NetworkPolicyEgressRule<'a> {
    pub to: Vec<NetworkPolicyPeer<'a>>,
    pub ports: Vec<NetworkPolicyPort>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyPeer<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlock>,
}

#[derive(Serialize)]
pub struct IpBlock {
    pub cidr: &'static str,
    pub except: &'static [&'static str],
}

#[derive(Serialize)]
pub struct NetworkPolicyPort {
    pub protocol: &'static str,
    pub port: IntOrString,
}

// ---- Prometheus Operator ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec<'a> {
    pub selector: LabelSelector<'a>,
    pub pod_target_labels: &'static [&'static str],
    pub endpoints: Vec<ServiceMonitorEndpoint>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorEndpoint {
    pub port: &'static str,
    pub path: &'static str,
    pub interval: &'static str,
    pub scrape_timeout: &'static str,
}

#[derive(Serialize)]
pub struct PrometheusRuleSpec {
    pub groups: Vec<RuleGroup>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleGroup {
    pub name: String,
    pub interval: &'static str,
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rule {
    /// Most record names are constants; the shared SLI recordings name their window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<Cow<'static, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    pub expr: String,
    pub labels: RuleLabels,
    /// Shared (cloned by reference): an SLO's alerts carry the same annotations.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "shared_annotations"
    )]
    pub annotations: Option<Arc<AlertAnnotations>>,
}

fn shared_annotations<S: serde::Serializer>(
    annotations: &Option<Arc<AlertAnnotations>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    annotations.as_deref().serialize(serializer)
}

/// The labels of one SLO rule, written as a map in sorted key order (`job`, `namespace`,
/// `plinth_service`, `plinth_slo`, `severity`, `team`), as a `BTreeMap` of them would be.
/// Typed rather than a map so the rules of a service share their series labels instead
/// of each building and cloning a map of six strings.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleLabels {
    /// `job`, `namespace` and `plinth_service` of a service's own rules (shared by all of
    /// them); the shared SLI recordings have none.
    pub series: Option<Arc<SeriesLabels>>,
    /// `plinth_slo`: the SLO kind.
    pub slo: &'static str,
    /// `severity` and `team` of an alert.
    pub alert: Option<(&'static str, Arc<str>)>,
}

/// The labels that identify one service's recorded SLI series.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesLabels {
    pub job: String,
    pub namespace: String,
    /// The spec's service name (`fraud_api`).
    pub service: String,
}

impl Serialize for RuleLabels {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        if let Some(series) = &self.series {
            map.serialize_entry("job", &series.job)?;
            map.serialize_entry("namespace", &series.namespace)?;
            map.serialize_entry("plinth_service", &series.service)?;
        }
        map.serialize_entry("plinth_slo", self.slo)?;
        if let Some((severity, team)) = &self.alert {
            map.serialize_entry("severity", severity)?;
            map.serialize_entry("team", team.as_ref())?;
        }
        map.end()
    }
}

/// The annotations of an SLO's alerts; fields in sorted order, as a map's keys.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertAnnotations {
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oncall: Option<String>,
    pub summary: String,
}

// ---- Argo Rollouts ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec<'a> {
    pub revision_history_limit: u32,
    pub selector: LabelSelector<'a>,
    pub template: PodTemplateSpec<'a>,
    pub strategy: RolloutStrategy,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStrategy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<BlueGreenStrategy>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStrategy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary_service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stable_service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic_routing: Option<TrafficRouting>,
    pub max_surge: IntOrString,
    pub max_unavailable: IntOrString,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<RolloutAnalysis>,
    pub steps: Vec<CanaryStep>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficRouting {
    pub managed_routes: Vec<ManagedRoute>,
    pub istio: IstioTrafficRouting,
}

#[derive(Serialize)]
pub struct ManagedRoute {
    pub name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioTrafficRouting {
    pub virtual_service: IstioVirtualService,
}

#[derive(Serialize)]
pub struct IstioVirtualService {
    pub name: String,
    pub routes: Vec<String>,
}

/// One canary step; exactly one field is set.
#[derive(Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_weight: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_canary_scale: Option<SetCanaryScale>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_mirror_route: Option<SetMirrorRoute>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause: Option<Pause>,
}

#[derive(Serialize)]
pub struct SetCanaryScale {
    pub weight: i64,
}

#[derive(Serialize)]
pub struct SetMirrorRoute {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percentage: Option<i64>,
    #[serde(rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<RouteMatch>,
}

#[derive(Serialize)]
pub struct RouteMatch {
    pub path: StringMatch,
}

#[derive(Serialize)]
pub struct StringMatch {
    pub prefix: &'static str,
}

/// Without a duration the rollout waits for `kubectl argo rollouts promote`.
#[derive(Serialize)]
pub struct Pause {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueGreenStrategy {
    pub active_service: String,
    pub preview_service: String,
    pub auto_promotion_enabled: bool,
    pub scale_down_delay_seconds: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_promotion_analysis: Option<RolloutAnalysis>,
}

#[derive(Serialize)]
pub struct RolloutAnalysis {
    pub templates: Vec<AnalysisTemplateRef>,
    pub args: Vec<AnalysisRunArgument>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisTemplateRef {
    pub template_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunArgument {
    pub name: &'static str,
    pub value_from: ArgumentValueFrom,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgumentValueFrom {
    pub pod_template_hash_value: &'static str,
}

#[derive(Serialize)]
pub struct AnalysisTemplateSpec {
    pub args: Vec<Argument>,
    pub metrics: Vec<AnalysisMetric>,
}

#[derive(Serialize)]
pub struct Argument {
    pub name: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisMetric {
    pub name: String,
    pub interval: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    pub failure_limit: u32,
    pub success_condition: String,
    pub provider: MetricProvider,
}

#[derive(Serialize)]
pub struct MetricProvider {
    pub prometheus: PrometheusMetric,
}

#[derive(Serialize)]
pub struct PrometheusMetric {
    pub address: &'static str,
    pub query: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(entries: &Entries) -> String {
        let mut out = String::new();
        entries.write_yaml(&mut out);
        out
    }

    #[test]
    fn an_inserted_entry_is_written_as_if_it_were_in_the_map() {
        let map = Map::from([
            ("b".to_string(), "2".to_string()),
            ("d".to_string(), "multi\nline".to_string()),
            ("f".to_string(), "6".to_string()),
        ]);
        let shared = Entries::from(map.clone());
        // First, between, replacing, last; then two inserts into one copy.
        let cases: [&[(&'static str, &str)]; 6] = [
            &[("a", "1")],
            &[("c", "3")],
            &[("d", "4")],
            &[("f", "no")],
            &[("z", "yes: no")],
            &[("c", "3"), ("e", "5")],
        ];
        for inserts in cases {
            let mut entries = shared.clone();
            let mut expected = map.clone();
            for (key, value) in inserts {
                entries.insert(key, value.to_string());
                expected.insert(key.to_string(), value.to_string());
            }
            assert_eq!(written(&entries), written(&Entries::from(expected)));
            assert!(!entries.is_empty());
        }
        // The shared copy is unchanged.
        assert_eq!(written(&shared), written(&Entries::from(map)));
        let mut empty = Entries::default();
        assert!(empty.is_empty());
        empty.insert("k", "v".to_string());
        assert_eq!(written(&empty), "    k: v\n");
    }
}
