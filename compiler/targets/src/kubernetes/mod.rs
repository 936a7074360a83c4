//! The Kubernetes target: per service of the environment, the objects a platform team
//! would write by hand to serve a model with Triton, plus SLO alerting.
//!
//! One file per service, `out/<env>/kubernetes/<service>.yaml`: a multi-document YAML
//! stream (`---` between objects) that `kubectl apply -f DIR`, kustomize and Argo CD all
//! read. One file per service rather than per object because a build of thousands of
//! services is dominated by creating files (ten per service cost ~10x the time of one).
//! `<name>` is the service name with `_` as `-`; every object is in
//! `platform.environment.namespace`. The objects, in file order (the order `kubectl
//! apply -f` creates them: the ServiceAccount before the pods that use it):
//!
//! | object | when | name |
//! |---|---|---|
//! | ServiceAccount, IRSA-annotated with [`crate::iam_role_name`] | always | `<name>` |
//! | Deployment | rollout `rolling` | `<name>` |
//! | Argo Rollouts `Rollout` | canary, blue_green, shadow | `<name>` |
//! | Argo Rollouts `AnalysisTemplate` on the SLIs | a Rollout with SLOs | `<name>-slo` |
//! | Service: http 8000, grpc 8001 | always | `<name>` |
//! | Service: metrics 8002, every pod of the service | always | `<name>-metrics` |
//! | Service for blue_green's preview pods | blue_green | `<name>-preview` |
//! | Service for shadow's new pods (Istio mirroring) | shadow | `<name>-canary` |
//! | HPA autoscaling/v2 over the replica range | always | `<name>` |
//! | PDB, at most one pod disrupted at a time | always | `<name>` |
//! | NetworkPolicy for the service's pods | always | `<name>` |
//! | Prometheus Operator `ServiceMonitor` | always | `<name>` |
//! | Prometheus Operator `PrometheusRule` (see [`slo`]) | SLOs | `<name>-slo` |
//!
//! Per batch job, `out/<env>/kubernetes/<job>.yaml`: the ServiceAccount `<name>` its
//! pods run as (Airflow's scoring task sets `service_account_name`), IRSA-annotated with
//! the job's role as a service's is.
//!
//! And one file for the whole environment, `plinth-sli.yaml`: the `PrometheusRule`
//! `plinth-sli` with the SLI recording rules that all services of the namespace share
//! (see [`slo`]: recorded `by (namespace, job)` once instead of per service), written
//! when some service has SLOs. Its name has a `-`, which no service name has.
//!
//! Choices a reviewer should know:
//! - Pods: an init container copies `model_repository/<model>/` from the environment's
//!   artifact bucket ([`crate::model_repository_uri`]) into an `emptyDir` with the AWS CLI
//!   (credentials from IRSA), then Triton serves it with `--model-control-mode=explicit`.
//!   Non-root (uid 10001), read-only root filesystem, no privilege escalation, all
//!   capabilities dropped, `RuntimeDefault` seccomp, no service-account token mounted
//!   (the EKS webhook projects its own web-identity token).
//! - GPUs: `nvidia.com/gpu` requests = limits, the NVIDIA taint tolerated, and the node
//!   chosen by Karpenter's `karpenter.k8s.aws/instance-gpu-name` (`nvidia_t4` -> `t4`).
//! - NetworkPolicy: one policy per service selects its pods for ingress and egress, so
//!   everything not allowed is denied for them (and only them: other workloads in the
//!   namespace keep their own policies). Allowed: the `callers` namespaces to http/grpc,
//!   the `monitoring` namespace to metrics, DNS to kube-dns, and HTTPS out (S3, STS)
//!   except the instance metadata address.
//! - Metrics: a separate `<name>-metrics` Service selects all pods of the service
//!   (stable, canary and preview alike), so each pod is scraped once; the ServiceMonitor
//!   copies `rollouts-pod-template-hash` onto the series so the canary analysis can tell
//!   new pods from old.
//! - HPA on CPU utilization (70%): the only signal without a metrics adapter.
//! - Canary without a service mesh: Argo shifts traffic by replica counts. Shadow needs
//!   Istio: the Rollout mirrors traffic through the VirtualService `<name>` (route
//!   `primary`), which this target does not write yet.

pub mod api;
pub mod slo;
#[cfg(test)]
mod tests;
pub mod yaml;

use crate::hash;
use crate::names::{
    MAX_DNS_LABEL, NameProblem, check_dns1035_label, check_dns1123_label, check_label_value,
    dns_name, iam_role_name, model_repository_uri, service_account_name,
};
use crate::{Collect, Emit, FileSink, OutputFile, Target};
use api::*;
use plinth_ir::{
    BatchJob, Bytes, Environment, Millicores, Model, Origin, Platform, Rollout, Service, Team,
};
use plinth_syntax::Diagnostic;
use rayon::prelude::*;
use serde::Serialize;
use std::borrow::Cow;
use std::io;
use std::sync::OnceLock;

/// Triton Inference Server image, pinned (release 25.01 = Triton 2.54.0).
pub const TRITON_IMAGE: &str = "nvcr.io/nvidia/tritonserver:25.01-py3";
/// AWS CLI image for fetching the model repository, pinned.
pub const AWS_CLI_IMAGE: &str = "public.ecr.aws/aws-cli/aws-cli:2.15.0";
/// Namespace of Prometheus; allowed to scrape the metrics port.
pub const MONITORING_NAMESPACE: &str = "monitoring";
/// Requests and limits when the spec gives none.
pub const DEFAULT_CPU: Millicores = Millicores(1000);
pub const DEFAULT_MEMORY: Bytes = Bytes(2 << 30);

/// Diagnostic codes of this target.
pub const CODE_NAME: &str = "plinth::target::name";
pub const CODE_LABEL: &str = "plinth::target::label";
pub const CODE_ROLLOUT: &str = "plinth::target::rollout";
pub const CODE_SLO: &str = "plinth::target::slo";
pub const CODE_IAM: &str = "plinth::target::iam";
pub const CODE_REFERENCE: &str = "plinth::target::reference";
pub const CODE_INTERNAL: &str = "plinth::target::internal";

const HTTP_PORT: u16 = 8000;
const GRPC_PORT: u16 = 8001;
const METRICS_PORT: u16 = 8002;
const RUN_AS: u32 = 10001;
const MODELS_DIR: &str = "/models";
/// Suffixes of derived object names; the longest bounds the service name's length.
const NAME_SUFFIXES: [&str; 5] = ["", "-metrics", "-preview", "-canary", "-slo"];

pub struct Kubernetes;

impl Target for Kubernetes {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn emit(&self, platform: &Platform) -> Emit {
        Collect::emit(self, platform, CODE_INTERNAL)
    }

    fn emit_to(&self, platform: &Platform, sink: &dyn FileSink) -> io::Result<Vec<Diagnostic>> {
        let mut diagnostics = Vec::new();
        let env = &platform.environment;
        if let Err(problem) = check_dns1123_label(&env.namespace) {
            diagnostics.push(
                error(
                    CODE_NAME,
                    &env.origin,
                    "namespace",
                    format!(
                        "namespace `{}` of environment `{}` is not a valid Kubernetes namespace: {problem}",
                        env.namespace, env.name
                    ),
                )
                .with_help(DNS_HELP),
            );
            return Ok(diagnostics);
        }
        if env.account.is_none()
            && !(platform.services.is_empty() && platform.batch_jobs.is_empty())
        {
            diagnostics.push(
                Diagnostic::warning(
                    CODE_IAM,
                    env.origin.field_span("account"),
                    format!(
                        "environment `{}` has no `account`: its service accounts get no IAM role",
                        env.name
                    ),
                )
                .with_file(&env.origin.file)
                .with_help("add `account: \"<12-digit AWS account id>\"` to the environment"),
            );
        }
        // Services are independent: render them on all cores, each into a buffer its
        // worker reuses, and hand each file to the sink at once (the CLI writes it), so
        // no service's YAML outlives its rendering. `collect` keeps the platform's
        // (sorted) order for the diagnostics, so they do not depend on scheduling.
        let services: Vec<&Service> = platform.services.values().map(AsRef::as_ref).collect();
        let rendered: Vec<Vec<(bool, Vec<Diagnostic>)>> = services
            .par_chunks(hash::LANES)
            .map_init(Worker::default, |worker, chunk| {
                let hashes = worker.spec_hashes(platform, chunk);
                chunk
                    .iter()
                    .zip(hashes)
                    .map(|(service, spec_hash)| {
                        worker.render(platform, service, spec_hash.as_deref(), sink)
                    })
                    .collect::<io::Result<Vec<_>>>()
            })
            .collect::<io::Result<_>>()?;
        let rendered = rendered.into_iter().flatten();
        let mut rendered_any = false;
        for (written, service_diagnostics) in rendered {
            rendered_any |= written;
            diagnostics.extend(service_diagnostics);
        }
        // Batch jobs run from Airflow, as their own ServiceAccount: one small file each,
        // rendered and written on all cores as the services are (a file creation costs
        // more than rendering it), each thread reusing one buffer. `collect` keeps the
        // platform's order for the diagnostics.
        let jobs: Vec<&BatchJob> = platform.batch_jobs.values().map(AsRef::as_ref).collect();
        let job_errors: Vec<Vec<Diagnostic>> = jobs
            .par_iter()
            .map_init(String::new, |file, job| {
                file.clear();
                match write_batch_job_file(platform, job, file) {
                    Ok(()) => sink
                        .write(&format!("{}.yaml", job.name), file)
                        .map(|()| Vec::new()),
                    Err(errors) => Ok(errors),
                }
            })
            .collect::<io::Result<_>>()?;
        diagnostics.extend(job_errors.into_iter().flatten());
        // The shared SLI recordings, for the SLO kinds of the services in the namespace;
        // only next to some service's output (which also means the environment's name
        // is a valid label value: every service checked it).
        if rendered_any {
            match shared_sli_file(platform) {
                Ok(Some(file)) => sink.write(&file.path, &file.contents)?,
                Ok(None) => {}
                Err(diagnostic) => diagnostics.push(*diagnostic),
            }
        }
        Ok(diagnostics)
    }
}

/// What one rendering thread reuses from service to service.
struct Worker {
    /// The service's file.
    file: String,
    /// The spec JSON of each service of a chunk, for [`spec_hash`].
    specs: [Vec<u8>; hash::LANES],
}

impl Default for Worker {
    fn default() -> Worker {
        Worker {
            file: String::with_capacity(64 * 1024),
            specs: Default::default(),
        }
    }
}

impl Worker {
    /// The spec hash of each service of `chunk` (at most [`hash::LANES`]), hashed side by
    /// side; `None` for a service whose model is missing (it gets an error instead).
    fn spec_hashes(
        &mut self,
        platform: &Platform,
        chunk: &[&Service],
    ) -> [Option<String>; hash::LANES] {
        let mut present = [false; hash::LANES];
        for ((spec, service), present) in self.specs.iter_mut().zip(chunk).zip(&mut present) {
            spec.clear();
            if let Some(model) = platform.models.get(&service.model) {
                spec_json(spec, service, model);
                *present = true;
            }
        }
        let [a, b, c, d] = &self.specs;
        let hashes = hash::fnv1a64_lanes([a, b, c, d].map(Vec::as_slice));
        let mut out: [Option<String>; hash::LANES] = Default::default();
        for ((out, hash), present) in out.iter_mut().zip(hashes).zip(present) {
            *out = present.then(|| hash::hex(hash));
        }
        out
    }

    /// Renders one service and hands its file to `sink`; whether a file was written, and
    /// the service's diagnostics.
    fn render(
        &mut self,
        platform: &Platform,
        service: &Service,
        spec_hash: Option<&str>,
        sink: &dyn FileSink,
    ) -> io::Result<(bool, Vec<Diagnostic>)> {
        match ServiceContext::new(platform, service, spec_hash) {
            Ok((ctx, mut warnings)) => {
                self.file.clear();
                match ctx.write_file(&mut self.file) {
                    Ok(()) => {
                        sink.write(&format!("{}.yaml", service.name), &self.file)?;
                        Ok((true, warnings))
                    }
                    Err(diagnostic) => {
                        warnings.push(*diagnostic);
                        Ok((false, warnings))
                    }
                }
            }
            Err(diagnostics) => Ok((false, diagnostics)),
        }
    }
}

/// A batch job's file, appended to `out`: the ServiceAccount its pods run as (Airflow's
/// scoring task names it), IRSA-annotated as a service's is, so the job gets the IAM role
/// Terraform made for it; or the errors that keep its name or labels out of Kubernetes.
fn write_batch_job_file(
    platform: &Platform,
    job: &BatchJob,
    out: &mut String,
) -> Result<(), Vec<Diagnostic>> {
    let env = &platform.environment;
    let origin = &job.origin;
    let mut errors = Vec::new();
    let name = service_account_name(&job.name);
    if let Err(problem) = check_dns1123_label(&name) {
        errors.push(
            Diagnostic::error(
                CODE_NAME,
                origin.span,
                format!(
                    "batch job `{}` cannot run on Kubernetes: its ServiceAccount name `{name}` is invalid: {problem}",
                    job.name
                ),
            )
            .with_file(&origin.file)
            .with_help(DNS_HELP),
        );
    }
    let mut labels = Map::from([
        ("app.kubernetes.io/name".to_string(), name.clone()),
        ("app.kubernetes.io/instance".to_string(), name.clone()),
        (
            "app.kubernetes.io/component".to_string(),
            "batch".to_string(),
        ),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "plinth".to_string(),
        ),
    ]);
    let team = platform.teams.get(&job.owner).map(AsRef::as_ref);
    let mut values = vec![
        ("plinth.dev/environment", env.name.as_str(), &env.origin, ""),
        ("plinth.dev/team", job.owner.as_str(), origin, "owner"),
    ];
    if let Some(Team {
        cost_center: Some(cost_center),
        origin: team_origin,
        ..
    }) = team
    {
        values.push((
            "plinth.dev/cost-center",
            cost_center,
            team_origin,
            "cost_center",
        ));
    }
    for (key, value, at, field) in values {
        add_label(&mut labels, &mut errors, key, value, at, field);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut annotations = Map::from([("plinth.dev/source".to_string(), origin.file.clone())]);
    if let Some(team) = team {
        annotations.insert("plinth.dev/owner".to_string(), team.owner.clone());
    }
    if let Some(account) = &env.account {
        annotations.insert(
            "eks.amazonaws.com/role-arn".to_string(),
            format!(
                "arn:aws:iam::{account}:role/{}",
                iam_role_name(&env.name, &job.name)
            ),
        );
    }
    let manifest = Manifest {
        api_version: "v1",
        kind: "ServiceAccount",
        metadata: ObjectMeta {
            name: Cow::Borrowed(&name),
            namespace: &env.namespace,
            labels: Entries::from(labels),
            annotations: Entries::from(annotations),
        },
        body: ServiceAccountBody {
            automount_service_account_token: false,
        },
    };
    manifest.write_yaml(out).map_err(|e| {
        vec![error(
            CODE_INTERNAL,
            origin,
            "",
            format!(
                "could not write the ServiceAccount of batch job `{}`: {e}",
                job.name
            ),
        )]
    })
}

/// Adds the label `key: value`, or the error saying why `value` cannot be a label value
/// (at the `field` of `at`, where the value was written).
fn add_label(
    labels: &mut Map,
    errors: &mut Vec<Diagnostic>,
    key: &str,
    value: &str,
    at: &Origin,
    field: &str,
) {
    match check_label_value(value) {
        Ok(()) => {
            labels.insert(key.to_string(), value.to_string());
        }
        Err(problem) => errors.push(
            error(
                CODE_LABEL,
                at,
                field,
                format!("`{value}` cannot be the value of label `{key}`: {problem}"),
            )
            .with_help(LABEL_HELP),
        ),
    }
}

const DNS_HELP: &str = "Kubernetes names are at most 63 lowercase letters, digits and `-`, starting with a letter and ending with a letter or digit";
const LABEL_HELP: &str = "label values are at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit";

fn error(code: &str, origin: &Origin, field: &str, message: String) -> Diagnostic {
    Diagnostic::error(code, origin.field_span(field), message).with_file(&origin.file)
}

/// Everything derived from one service, checked; building objects from it cannot fail.
struct ServiceContext<'a> {
    env: &'a Environment,
    service: &'a Service,
    model: &'a Model,
    team: Option<&'a Team>,
    /// `fraud-api`
    name: String,
    selector: Map,
    /// The labels and the annotations as every object's metadata carries them, rendered
    /// once for all of them; the pod template's labels are the same map.
    meta_labels: Entries,
    meta_annotations: Entries,
}

impl<'a> ServiceContext<'a> {
    /// The context, plus warnings; or every error found in the service.
    /// `spec_hash` is the service's [`spec_hash`], computed by the caller (`None` only
    /// when its model is missing).
    fn new(
        platform: &'a Platform,
        service: &'a Service,
        spec_hash: Option<&str>,
    ) -> Result<(ServiceContext<'a>, Vec<Diagnostic>), Vec<Diagnostic>> {
        let env = &platform.environment;
        let origin = &service.origin;
        let mut errors = Vec::new();
        let mut warnings = Vec::new();

        let name = dns_name(&service.name);
        let longest = NAME_SUFFIXES.iter().map(|s| s.len()).max().unwrap_or(0);
        // Each suffix is `-` and lowercase letters (a test pins it), so when the name
        // is valid, every derived name is valid exactly when the longest fits: the
        // common case, checked without building the names. Otherwise the first invalid
        // one is built, for the diagnostic.
        let derived_valid =
            check_dns1035_label(&name).is_ok() && name.len() + longest <= MAX_DNS_LABEL;
        let first_invalid = || {
            NAME_SUFFIXES.iter().find_map(|suffix| {
                let derived = format!("{name}{suffix}");
                check_dns1035_label(&derived).err().map(|p| (derived, p))
            })
        };
        if let Some((derived, problem)) = (!derived_valid).then(first_invalid).flatten() {
            let help = match problem {
                NameProblem::TooLong { .. } => format!(
                    "shorten the service name to at most {} characters",
                    MAX_DNS_LABEL - longest
                ),
                _ => DNS_HELP.to_string(),
            };
            errors.push(
                Diagnostic::error(
                    CODE_NAME,
                    origin.span,
                    format!(
                        "service `{}` cannot be deployed to Kubernetes: the name `{derived}` is invalid: {problem}",
                        service.name
                    ),
                )
                .with_file(&origin.file)
                .with_label("Kubernetes object names derive from this name")
                .with_help(help),
            );
        }
        for caller in &service.callers {
            if let Err(problem) = check_dns1123_label(caller) {
                errors.push(
                    error(
                        CODE_NAME,
                        origin,
                        "callers",
                        format!("caller namespace `{caller}` is not a valid namespace: {problem}"),
                    )
                    .with_help(DNS_HELP),
                );
            }
        }

        let Some(model) = platform.models.get(&service.model) else {
            errors.push(error(
                CODE_REFERENCE,
                origin,
                "model",
                format!(
                    "model `{}` of service `{}` is not in the platform",
                    service.model, service.name
                ),
            ));
            return Err(errors);
        };
        let team = platform.teams.get(&service.owner).map(AsRef::as_ref);

        // Label values come from several declarations; each problem points at its field.
        let mut labels = Map::new();
        // INVARIANT: a valid DNS label is a valid label value; an invalid name already
        // has its diagnostic above.
        labels.insert("app.kubernetes.io/name".to_string(), name.clone());
        labels.insert("app.kubernetes.io/instance".to_string(), name.clone());
        labels.insert(
            "app.kubernetes.io/component".to_string(),
            "inference".to_string(),
        );
        labels.insert(
            "app.kubernetes.io/managed-by".to_string(),
            "plinth".to_string(),
        );
        let mut label = |key: &str, value: &str, at: &Origin, field: &str| {
            add_label(&mut labels, &mut errors, key, value, at, field);
        };
        label(
            "app.kubernetes.io/version",
            &model.version,
            &model.origin,
            "version",
        );
        label("plinth.dev/environment", &env.name, &env.origin, "");
        label("plinth.dev/team", &service.owner, origin, "owner");
        label("plinth.dev/model", &model.name, origin, "model");
        label(
            "plinth.dev/model-version",
            &model.version,
            &model.origin,
            "version",
        );
        label("plinth.dev/tier", &service.tier, origin, "tier");
        if let Some(
            team @ Team {
                cost_center: Some(cost_center),
                ..
            },
        ) = team
        {
            label(
                "plinth.dev/cost-center",
                cost_center,
                &team.origin,
                "cost_center",
            );
        }

        check_rollout(service, &mut errors);
        check_slos(service, &mut errors, &mut warnings);
        if !errors.is_empty() {
            return Err(errors);
        }

        let selector: Map = labels
            .iter()
            .filter(|(k, _)| *k == "app.kubernetes.io/name" || *k == "app.kubernetes.io/instance")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut annotations = Map::from([
            (
                "plinth.dev/spec-hash".to_string(),
                spec_hash.map_or_else(|| self::spec_hash(service, model), str::to_string),
            ),
            ("plinth.dev/source".to_string(), origin.file.clone()),
        ]);
        if let Some(team) = team {
            annotations.insert("plinth.dev/owner".to_string(), team.owner.clone());
            if let Some(oncall) = &team.oncall {
                annotations.insert("plinth.dev/oncall".to_string(), oncall.clone());
            }
        }
        Ok((
            ServiceContext {
                env,
                service,
                model,
                team,
                name,
                meta_labels: Entries::from(labels),
                selector,
                meta_annotations: Entries::from(annotations),
            },
            warnings,
        ))
    }

    fn meta<'s>(&'s self, name: impl Into<Cow<'s, str>>) -> ObjectMeta<'s> {
        ObjectMeta {
            name: name.into(),
            namespace: &self.env.namespace,
            labels: self.meta_labels.clone(),
            annotations: self.meta_annotations.clone(),
        }
    }

    fn label_selector(&self) -> LabelSelector<'_> {
        LabelSelector {
            match_labels: Cow::Borrowed(&self.selector),
        }
    }

    /// The service's file: every object as one YAML document, in the order of the table
    /// in the module docs (`kubectl apply -f` creates them in this order).
    /// Appends the file to `contents` (the service's `<service>.yaml`).
    fn write_file(&self, contents: &mut String) -> Result<(), Box<Diagnostic>> {
        let mut add = |what: &str, value: &dyn ErasedManifest| -> Result<(), Box<Diagnostic>> {
            if !contents.is_empty() {
                contents.push_str("---\n");
            }
            value.write_yaml(contents).map_err(|e| {
                Box::new(
                    Diagnostic::error(
                        CODE_INTERNAL,
                        self.service.origin.span,
                        format!(
                            "could not write the {what} of service `{}`: {e}",
                            self.service.name
                        ),
                    )
                    .with_file(&self.service.origin.file),
                )
            })?;
            Ok(())
        };
        add("ServiceAccount", &self.service_account())?;
        match &self.service.rollout {
            Rollout::Rolling => add("Deployment", &self.deployment())?,
            _ => {
                add("Rollout", &self.rollout())?;
                if let Some(template) = self.analysis_template() {
                    add("AnalysisTemplate", &template)?;
                }
            }
        }
        add(
            "Service",
            &self.service_object(
                &self.name,
                &[("http", HTTP_PORT), ("grpc", GRPC_PORT)],
                None,
            ),
        )?;
        add(
            "metrics Service",
            &self.service_object(
                format!("{}-metrics", self.name),
                &[("metrics", METRICS_PORT)],
                Some("metrics"),
            ),
        )?;
        match &self.service.rollout {
            Rollout::BlueGreen => add(
                "preview Service",
                &self.service_object(
                    format!("{}-preview", self.name),
                    &[("http", HTTP_PORT), ("grpc", GRPC_PORT)],
                    Some("preview"),
                ),
            )?,
            Rollout::Shadow { .. } => add(
                "canary Service",
                &self.service_object(
                    format!("{}-canary", self.name),
                    &[("http", HTTP_PORT), ("grpc", GRPC_PORT)],
                    Some("canary"),
                ),
            )?,
            Rollout::Rolling | Rollout::Canary { .. } => {}
        }
        add("HorizontalPodAutoscaler", &self.hpa())?;
        add("PodDisruptionBudget", &self.pdb())?;
        add("NetworkPolicy", &self.network_policy())?;
        add("ServiceMonitor", &self.service_monitor())?;
        if let Some(rule) = self.prometheus_rule() {
            add("PrometheusRule", &rule)?;
        }
        Ok(())
    }

    fn service_account(&self) -> Manifest<'_, ServiceAccountBody> {
        let mut metadata = self.meta(&self.name);
        if let Some(account) = &self.env.account {
            metadata.annotations.insert(
                "eks.amazonaws.com/role-arn",
                format!(
                    "arn:aws:iam::{account}:role/{}",
                    iam_role_name(&self.env.name, &self.service.name)
                ),
            );
        }
        Manifest {
            api_version: "v1",
            kind: "ServiceAccount",
            metadata,
            body: ServiceAccountBody {
                automount_service_account_token: false,
            },
        }
    }

    fn deployment(&self) -> Manifest<'_, Spec<DeploymentSpec<'_>>> {
        Manifest {
            api_version: "apps/v1",
            kind: "Deployment",
            metadata: self.meta(&self.name),
            body: Spec {
                spec: DeploymentSpec {
                    revision_history_limit: 5,
                    selector: self.label_selector(),
                    strategy: DeploymentStrategy {
                        kind: "RollingUpdate",
                        rolling_update: RollingUpdate {
                            max_surge: IntOrString::Str("25%"),
                            max_unavailable: IntOrString::Int(0),
                        },
                    },
                    template: self.pod_template(),
                },
            },
        }
    }

    fn rollout(&self) -> Manifest<'_, Spec<RolloutSpec<'_>>> {
        let analysis = (!self.service.slos.is_empty()).then(|| RolloutAnalysis {
            templates: vec![AnalysisTemplateRef {
                template_name: format!("{}-slo", self.name),
            }],
            args: vec![AnalysisRunArgument {
                name: slo::HASH_ARG,
                value_from: ArgumentValueFrom {
                    pod_template_hash_value: "Latest",
                },
            }],
        });
        let canary =
            |traffic_routing, canary_service, stable_service, steps, analysis| CanaryStrategy {
                canary_service,
                stable_service,
                traffic_routing,
                max_surge: IntOrString::Str("25%"),
                max_unavailable: IntOrString::Int(0),
                analysis,
                steps,
            };
        let strategy = match &self.service.rollout {
            Rollout::Canary { steps, pause } => {
                let steps = steps
                    .iter()
                    .filter_map(|percent| whole_percent(*percent))
                    .flat_map(|weight| {
                        [
                            CanaryStep {
                                set_weight: Some(weight),
                                ..CanaryStep::default()
                            },
                            CanaryStep {
                                pause: Some(Pause {
                                    duration: Some(pause.to_string()),
                                }),
                                ..CanaryStep::default()
                            },
                        ]
                    })
                    .collect();
                RolloutStrategy {
                    canary: Some(canary(None, None, None, steps, analysis)),
                    blue_green: None,
                }
            }
            Rollout::Shadow { percent } => {
                let weight = whole_percent(*percent).unwrap_or(0);
                let steps = vec![
                    CanaryStep {
                        set_canary_scale: Some(SetCanaryScale { weight }),
                        ..CanaryStep::default()
                    },
                    CanaryStep {
                        set_mirror_route: Some(SetMirrorRoute {
                            name: "shadow".to_string(),
                            percentage: Some(weight),
                            matches: vec![RouteMatch {
                                path: StringMatch { prefix: "/" },
                            }],
                        }),
                        ..CanaryStep::default()
                    },
                    // Shadow results need a human verdict: wait for `promote`.
                    CanaryStep {
                        pause: Some(Pause { duration: None }),
                        ..CanaryStep::default()
                    },
                ];
                let routing = TrafficRouting {
                    managed_routes: vec![ManagedRoute {
                        name: "shadow".to_string(),
                    }],
                    istio: IstioTrafficRouting {
                        virtual_service: IstioVirtualService {
                            name: self.name.clone(),
                            routes: vec!["primary".to_string()],
                        },
                    },
                };
                RolloutStrategy {
                    canary: Some(canary(
                        Some(routing),
                        Some(format!("{}-canary", self.name)),
                        Some(self.name.clone()),
                        steps,
                        analysis,
                    )),
                    blue_green: None,
                }
            }
            Rollout::BlueGreen | Rollout::Rolling => RolloutStrategy {
                canary: None,
                blue_green: Some(BlueGreenStrategy {
                    active_service: self.name.clone(),
                    preview_service: format!("{}-preview", self.name),
                    auto_promotion_enabled: true,
                    scale_down_delay_seconds: 30,
                    pre_promotion_analysis: analysis,
                }),
            },
        };
        Manifest {
            api_version: "argoproj.io/v1alpha1",
            kind: "Rollout",
            metadata: self.meta(&self.name),
            body: Spec {
                spec: RolloutSpec {
                    revision_history_limit: 5,
                    selector: self.label_selector(),
                    template: self.pod_template(),
                    strategy,
                },
            },
        }
    }

    fn slo_selector(&self) -> slo::Selector {
        slo::Selector {
            namespace: self.env.namespace.clone(),
            job: format!("{}-metrics", self.name),
        }
    }

    fn analysis_template(&self) -> Option<Manifest<'_, Spec<AnalysisTemplateSpec>>> {
        // Blue-green analysis gates promotion, so it must end: ten one-minute checks.
        // Canary analysis runs in the background until the rollout completes.
        let count = matches!(self.service.rollout, Rollout::BlueGreen).then_some(10);
        let metrics: Vec<AnalysisMetric> = self
            .service
            .slos
            .iter()
            .filter_map(|s| slo::analysis_metric(&self.slo_selector(), s, count))
            .collect();
        (!metrics.is_empty()).then(|| Manifest {
            api_version: "argoproj.io/v1alpha1",
            kind: "AnalysisTemplate",
            metadata: self.meta(format!("{}-slo", self.name)),
            body: Spec {
                spec: AnalysisTemplateSpec {
                    args: vec![Argument {
                        name: slo::HASH_ARG,
                    }],
                    metrics,
                },
            },
        })
    }

    fn pod_template(&self) -> PodTemplateSpec<'_> {
        // Built for one object and written at once: borrowed text and constants
        // rather than a copy of each string.
        const FETCH_AMOUNTS: ResourceAmounts = ResourceAmounts {
            cpu: Cow::Borrowed("500m"),
            memory: Cow::Borrowed("512Mi"),
            gpu: None,
        };
        let resources = &self.service.resources;
        let amounts = ResourceAmounts {
            cpu: resources.cpu.unwrap_or(DEFAULT_CPU).to_string().into(),
            memory: resources
                .memory
                .unwrap_or(DEFAULT_MEMORY)
                .to_string()
                .into(),
            gpu: (resources.gpu > 0).then(|| resources.gpu.to_string()),
        };
        let mut node_selector = Map::new();
        let mut tolerations = Vec::new();
        if resources.gpu > 0 {
            tolerations.push(Toleration {
                key: "nvidia.com/gpu",
                operator: "Exists",
                effect: "NoSchedule",
            });
            if let Some(accelerator) = &resources.accelerator {
                let gpu_name = accelerator.strip_prefix("nvidia_").unwrap_or(accelerator);
                node_selector.insert(
                    "karpenter.k8s.aws/instance-gpu-name".to_string(),
                    gpu_name.replace('_', "-"),
                );
            }
        }
        let model = &self.model.name;
        let [repository, http_port, grpc_port, metrics_port] = triton_fixed_args();
        let triton_args: Vec<Cow<'_, str>> = vec![
            Cow::Borrowed(repository),
            Cow::Borrowed("--model-control-mode=explicit"),
            Cow::Owned(format!("--load-model={model}")),
            Cow::Borrowed("--strict-readiness=true"),
            Cow::Borrowed("--exit-on-error=true"),
            Cow::Borrowed("--exit-timeout-secs=30"),
            Cow::Borrowed(http_port),
            Cow::Borrowed(grpc_port),
            Cow::Borrowed(metrics_port),
            Cow::Borrowed("--allow-metrics=true"),
            Cow::Borrowed(if resources.gpu > 0 {
                "--allow-gpu-metrics=true"
            } else {
                "--allow-gpu-metrics=false"
            }),
            Cow::Borrowed("--metrics-config=summary_latencies=true"),
            Cow::Owned(format!(
                "--metrics-config=summary_quantiles={}",
                slo::summary_quantiles(&self.service.slos)
            )),
        ];
        let http_probe = |path, period, failures| Probe {
            http_get: HttpGetAction {
                path,
                port: IntOrString::Str("http"),
            },
            period_seconds: period,
            timeout_seconds: 2,
            failure_threshold: failures,
        };
        let triton = Container {
            name: "triton",
            image: TRITON_IMAGE,
            image_pull_policy: "Always",
            command: &["tritonserver"],
            args: triton_args,
            env: vec![],
            ports: vec![
                port("http", HTTP_PORT),
                port("grpc", GRPC_PORT),
                port("metrics", METRICS_PORT),
            ],
            // Loading a large model can take minutes; liveness waits for it.
            startup_probe: Some(http_probe("/v2/health/ready", 10, 60)),
            readiness_probe: Some(http_probe("/v2/health/ready", 5, 3)),
            liveness_probe: Some(http_probe("/v2/health/live", 10, 3)),
            resources: ResourceRequirements { amounts },
            security_context: container_security_context(),
            volume_mounts: vec![
                VolumeMount {
                    name: "model-repository",
                    mount_path: MODELS_DIR,
                    read_only: true,
                },
                VolumeMount {
                    name: "tmp",
                    mount_path: "/tmp",
                    read_only: false,
                },
            ],
        };
        let fetch = Container {
            name: "fetch-model-repository",
            image: AWS_CLI_IMAGE,
            image_pull_policy: "Always",
            command: &["aws"],
            args: vec![
                Cow::Borrowed("s3"),
                Cow::Borrowed("sync"),
                Cow::Borrowed("--only-show-errors"),
                Cow::Owned(format!("{}/", model_repository_uri(self.env, model))),
                Cow::Owned(format!("{MODELS_DIR}/{model}/")),
            ],
            env: vec![
                EnvVar {
                    name: "HOME",
                    value: Cow::Borrowed("/tmp"),
                },
                EnvVar {
                    name: "AWS_REGION",
                    value: Cow::Owned(self.env.region.replace('_', "-")),
                },
            ],
            ports: vec![],
            startup_probe: None,
            readiness_probe: None,
            liveness_probe: None,
            resources: ResourceRequirements {
                amounts: FETCH_AMOUNTS,
            },
            security_context: container_security_context(),
            volume_mounts: vec![
                VolumeMount {
                    name: "model-repository",
                    mount_path: MODELS_DIR,
                    read_only: false,
                },
                VolumeMount {
                    name: "tmp",
                    mount_path: "/tmp",
                    read_only: false,
                },
            ],
        };
        PodTemplateSpec {
            metadata: TemplateMeta {
                labels: self.meta_labels.shared_map(),
                annotations: PodAnnotations {
                    default_container: "triton",
                },
            },
            spec: PodSpec {
                service_account_name: &self.name,
                automount_service_account_token: false,
                enable_service_links: false,
                security_context: PodSecurityContext {
                    run_as_non_root: true,
                    run_as_user: RUN_AS,
                    run_as_group: RUN_AS,
                    fs_group: RUN_AS,
                    seccomp_profile: SeccompProfile {
                        kind: "RuntimeDefault",
                    },
                },
                init_containers: vec![fetch],
                containers: vec![triton],
                volumes: vec![
                    Volume {
                        name: "model-repository",
                        empty_dir: EmptyDir { size_limit: "20Gi" },
                    },
                    Volume {
                        name: "tmp",
                        empty_dir: EmptyDir { size_limit: "1Gi" },
                    },
                ],
                node_selector,
                tolerations,
                topology_spread_constraints: vec![TopologySpreadConstraint {
                    max_skew: 1,
                    topology_key: "topology.kubernetes.io/zone",
                    when_unsatisfiable: "ScheduleAnyway",
                    label_selector: self.label_selector(),
                }],
                termination_grace_period_seconds: 60,
            },
        }
    }

    /// A Service over the service's pods; `role` marks the extra Services
    /// (`metrics`, `preview`, `canary`) apart from the main one.
    fn service_object<'s>(
        &'s self,
        name: impl Into<Cow<'s, str>>,
        ports: &[(&'static str, u16)],
        role: Option<&str>,
    ) -> Manifest<'s, Spec<ServiceSpec<'s>>> {
        let mut metadata = self.meta(name);
        if let Some(role) = role {
            metadata.labels.insert("plinth.dev/role", role.to_string());
        }
        Manifest {
            api_version: "v1",
            kind: "Service",
            metadata,
            body: Spec {
                spec: ServiceSpec {
                    kind: "ClusterIP",
                    selector: &self.selector,
                    ports: ports
                        .iter()
                        .map(|(name, port)| ServicePort {
                            name,
                            port: *port,
                            target_port: IntOrString::Str(name),
                            protocol: "TCP",
                        })
                        .collect(),
                },
            },
        }
    }

    fn hpa(&self) -> Manifest<'_, Spec<HpaSpec<'_>>> {
        let (api_version, kind) = match self.service.rollout {
            Rollout::Rolling => ("apps/v1", "Deployment"),
            _ => ("argoproj.io/v1alpha1", "Rollout"),
        };
        Manifest {
            api_version: "autoscaling/v2",
            kind: "HorizontalPodAutoscaler",
            metadata: self.meta(&self.name),
            body: Spec {
                spec: HpaSpec {
                    scale_target_ref: CrossVersionObjectReference {
                        api_version,
                        kind,
                        name: &self.name,
                    },
                    min_replicas: self.service.min_replicas.max(1),
                    max_replicas: self
                        .service
                        .max_replicas
                        .max(self.service.min_replicas)
                        .max(1),
                    metrics: vec![MetricSpec {
                        kind: "Resource",
                        resource: ResourceMetricSource {
                            name: "cpu",
                            target: MetricTarget {
                                kind: "Utilization",
                                average_utilization: 70,
                            },
                        },
                    }],
                    behavior: HpaBehavior {
                        scale_down: ScalingRules {
                            stabilization_window_seconds: 300,
                            policies: vec![ScalingPolicy {
                                kind: "Percent",
                                value: 10,
                                period_seconds: 60,
                            }],
                        },
                    },
                },
            },
        }
    }

    fn pdb(&self) -> Manifest<'_, Spec<PdbSpec<'_>>> {
        Manifest {
            api_version: "policy/v1",
            kind: "PodDisruptionBudget",
            metadata: self.meta(&self.name),
            body: Spec {
                spec: PdbSpec {
                    max_unavailable: IntOrString::Int(1),
                    selector: self.label_selector(),
                    unhealthy_pod_eviction_policy: "AlwaysAllow",
                },
            },
        }
    }

    fn network_policy(&self) -> Manifest<'_, Spec<NetworkPolicySpec<'_>>> {
        let namespace = |name: &str| NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector {
                match_labels: Cow::Owned(Map::from([(
                    "kubernetes.io/metadata.name".to_string(),
                    name.to_string(),
                )])),
            }),
            pod_selector: None,
            ip_block: None,
        };
        let tcp = |port: u16| NetworkPolicyPort {
            protocol: "TCP",
            port: IntOrString::Int(i64::from(port)),
        };
        let mut ingress = Vec::new();
        let mut callers: Vec<&String> = self.service.callers.iter().collect();
        callers.sort();
        callers.dedup();
        if !callers.is_empty() {
            ingress.push(NetworkPolicyIngressRule {
                from: callers.iter().map(|c| namespace(c)).collect(),
                ports: vec![tcp(HTTP_PORT), tcp(GRPC_PORT)],
            });
        }
        ingress.push(NetworkPolicyIngressRule {
            from: vec![namespace(MONITORING_NAMESPACE)],
            ports: vec![tcp(METRICS_PORT)],
        });
        let dns = NetworkPolicyPeer {
            pod_selector: Some(LabelSelector {
                match_labels: Cow::Owned(Map::from([(
                    "k8s-app".to_string(),
                    "kube-dns".to_string(),
                )])),
            }),
            ..namespace("kube-system")
        };
        let egress = vec![
            NetworkPolicyEgressRule {
                to: vec![dns],
                ports: vec![
                    NetworkPolicyPort {
                        protocol: "UDP",
                        port: IntOrString::Int(53),
                    },
                    tcp(53),
                ],
            },
            NetworkPolicyEgressRule {
                to: vec![NetworkPolicyPeer {
                    namespace_selector: None,
                    pod_selector: None,
                    ip_block: Some(IpBlock {
                        cidr: "0.0.0.0/0",
                        except: &["169.254.169.254/32"],
                    }),
                }],
                ports: vec![tcp(443)],
            },
        ];
        Manifest {
            api_version: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: self.meta(&self.name),
            body: Spec {
                spec: NetworkPolicySpec {
                    pod_selector: self.label_selector(),
                    policy_types: &["Ingress", "Egress"],
                    ingress,
                    egress,
                },
            },
        }
    }

    fn service_monitor(&self) -> Manifest<'_, Spec<ServiceMonitorSpec<'_>>> {
        let mut selector = self.selector.clone();
        selector.insert("plinth.dev/role".to_string(), "metrics".to_string());
        Manifest {
            api_version: "monitoring.coreos.com/v1",
            kind: "ServiceMonitor",
            metadata: self.meta(&self.name),
            body: Spec {
                spec: ServiceMonitorSpec {
                    selector: LabelSelector {
                        match_labels: Cow::Owned(selector),
                    },
                    pod_target_labels: &["rollouts-pod-template-hash"],
                    endpoints: vec![ServiceMonitorEndpoint {
                        port: "metrics",
                        path: "/metrics",
                        interval: "30s",
                        scrape_timeout: "10s",
                    }],
                },
            },
        }
    }

    fn prometheus_rule(&self) -> Option<Manifest<'_, Spec<PrometheusRuleSpec>>> {
        if self.service.slos.is_empty() {
            return None;
        }
        let ctx = slo::RuleContext::new(
            &self.service.name,
            &self.env.namespace,
            &self.service.owner,
            self.team.and_then(|t| t.oncall.as_deref()),
            self.slo_selector(),
        );
        let groups: Vec<RuleGroup> = self
            .service
            .slos
            .iter()
            .filter_map(|s| slo::rule_group(&ctx, s))
            .collect();
        (!groups.is_empty()).then(|| Manifest {
            api_version: "monitoring.coreos.com/v1",
            kind: "PrometheusRule",
            metadata: self.meta(format!("{}-slo", self.name)),
            body: Spec {
                spec: PrometheusRuleSpec { groups },
            },
        })
    }
}

/// `plinth-sli.yaml`: the PrometheusRule with the SLI recording rules that every
/// service's alerts read ([`slo::shared_sli_groups`]); `None` without SLOs.
fn shared_sli_file(platform: &Platform) -> Result<Option<OutputFile>, Box<Diagnostic>> {
    let slos = || {
        platform
            .services
            .values()
            .flat_map(|s| &s.slos)
            .filter(|s| slo::error_budget(s).is_some())
    };
    let availability = slos().any(|s| matches!(s, plinth_ir::Slo::Availability { .. }));
    let latency = slos().any(|s| matches!(s, plinth_ir::Slo::Latency { .. }));
    let env = &platform.environment;
    let groups = slo::shared_sli_groups(&env.namespace, availability, latency);
    if groups.is_empty() {
        return Ok(None);
    }
    let manifest = Manifest {
        api_version: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: ObjectMeta {
            name: Cow::Borrowed(slo::SHARED_RULE_NAME),
            namespace: &env.namespace,
            labels: Entries::from(Map::from([
                ("app.kubernetes.io/component".to_string(), "slo".to_string()),
                (
                    "app.kubernetes.io/managed-by".to_string(),
                    "plinth".to_string(),
                ),
                (
                    "app.kubernetes.io/name".to_string(),
                    slo::SHARED_RULE_NAME.to_string(),
                ),
                ("plinth.dev/environment".to_string(), env.name.clone()),
            ])),
            annotations: Entries::default(),
        },
        body: Spec {
            spec: PrometheusRuleSpec { groups },
        },
    };
    let mut contents = String::with_capacity(8 * 1024);
    manifest.write_yaml(&mut contents).map_err(|e| {
        Box::new(error(
            CODE_INTERNAL,
            &env.origin,
            "",
            format!("could not write the shared SLI PrometheusRule: {e}"),
        ))
    })?;
    Ok(Some(OutputFile {
        path: format!("{}.yaml", slo::SHARED_RULE_NAME),
        contents,
    }))
}

/// A manifest of any body type, appended to a YAML stream.
trait ErasedManifest {
    fn write_yaml(&self, out: &mut String) -> Result<(), yaml::Error>;
}

impl<B: Serialize> ErasedManifest for Manifest<'_, B> {
    fn write_yaml(&self, out: &mut String) -> Result<(), yaml::Error> {
        Manifest::write_yaml(self, out)
    }
}

/// Triton's arguments made of this module's constants, formatted once.
fn triton_fixed_args() -> &'static [String; 4] {
    static ARGS: OnceLock<[String; 4]> = OnceLock::new();
    ARGS.get_or_init(|| {
        [
            format!("--model-repository={MODELS_DIR}"),
            format!("--http-port={HTTP_PORT}"),
            format!("--grpc-port={GRPC_PORT}"),
            format!("--metrics-port={METRICS_PORT}"),
        ]
    })
}

fn port(name: &'static str, port: u16) -> ContainerPort {
    ContainerPort {
        name,
        container_port: port,
        protocol: "TCP",
    }
}

fn container_security_context() -> ContainerSecurityContext {
    ContainerSecurityContext {
        allow_privilege_escalation: false,
        privileged: false,
        read_only_root_filesystem: true,
        run_as_non_root: true,
        capabilities: Capabilities { drop: &["ALL"] },
    }
}

/// A stable fingerprint of what the service's objects are generated from: the service
/// and its model as IR JSON (spans are not serialized, so moving text does not change it).
/// [`Worker::spec_hashes`] hashes the same JSON for several services at once.
fn spec_hash(service: &Service, model: &Model) -> String {
    let mut json = Vec::new();
    spec_json(&mut json, service, model);
    hash::fnv1a64_hex(&json)
}

/// The JSON [`spec_hash`] hashes, appended to `out`.
fn spec_json(out: &mut Vec<u8>, service: &Service, model: &Model) {
    // Unreachable for IR types (string keys only); then nothing is hashed, as before.
    if serde_json::to_writer(&mut *out, &(service, model)).is_err() {
        out.clear();
    }
}

/// A percent as a whole number in 1..=100, which is what Argo's weights are.
fn whole_percent(percent: plinth_ir::Decimal) -> Option<i64> {
    let p = percent.normalized();
    (p.scale == 0 && (1..=100).contains(&p.units)).then_some(p.units)
}

fn check_rollout(service: &Service, errors: &mut Vec<Diagnostic>) {
    let percents: Vec<_> = match &service.rollout {
        Rollout::Canary { steps, .. } => steps.clone(),
        Rollout::Shadow { percent } => vec![*percent],
        Rollout::Rolling | Rollout::BlueGreen => vec![],
    };
    for percent in percents {
        if whole_percent(percent).is_none() {
            errors.push(
                error(
                    CODE_ROLLOUT,
                    &service.origin,
                    "rollout",
                    format!("rollout percentage `{percent}%` of service `{}` is not a whole percent between 1 and 100", service.name),
                )
                .with_help("Argo Rollouts sets traffic weights in whole percents, e.g. `10%`"),
            );
        }
    }
}

fn check_slos(service: &Service, errors: &mut Vec<Diagnostic>, warnings: &mut Vec<Diagnostic>) {
    let mut seen = Vec::new();
    for s in &service.slos {
        if seen.contains(&s.kind()) {
            errors.push(error(
                CODE_SLO,
                &service.origin,
                "slo",
                format!(
                    "service `{}` has more than one `{}` SLO",
                    service.name,
                    s.kind()
                ),
            ));
        }
        seen.push(s.kind());
        let Some(budget) = slo::error_budget(s) else {
            continue;
        };
        let budget = budget.to_f64();
        for w in &slo::BURN_WINDOWS {
            let Some(factor) = slo::burn_rate_factor(w.budget_share, s.window(), w.long) else {
                continue;
            };
            if factor.to_f64() * budget >= 1.0 {
                warnings.push(
                    Diagnostic::warning(
                        CODE_SLO,
                        service.origin.field_span("slo"),
                        format!(
                            "the {} alert of the `{}` SLO can never fire: burning at {factor}x a {budget} error budget needs more than 100% errors over {}",
                            w.severity.as_str(),
                            s.kind(),
                            w.long
                        ),
                    )
                    .with_file(&service.origin.file)
                    .with_help("raise the objective or lengthen the SLO window"),
                );
            }
        }
    }
}
