//! The Airflow target: one Python DAG file per pipeline the spec implies, every task a
//! `KubernetesPodOperator` in the environment's namespace.
//!
//! Files, under `out/<env>/airflow/dags/`:
//!
//! | file | from | tasks, in order |
//! |---|---|---|
//! | `train_<model>.py` | a `model` with `training` | `materialize_<view>` per input feature view → `validate_data` → `train` → `evaluate` → `await_approval` (when `approvals`) → `register` |
//! | `materialize_<view>.py` | a `feature_view` with `schedule` | `validate_data` (when it has `expect` checks) → `materialize` |
//! | `score_<job>.py` | a `batch_job` of the environment | `score` |
//!
//! Choices a reviewer should know (the container contract is in `targets/airflow/README.md`):
//! - Task order comes from a petgraph graph per DAG (topological sort; a cycle is an
//!   internal error, never a file).
//! - Spec strings reach Python only through [`python::python_str`]; Python variable
//!   names pass [`python::check_identifier`]. Spec strings reach containers only inside
//!   the `PLINTH_SPEC` JSON document ([`json::write_jinja_inert_json`] of a typed
//!   [`spec::Spec`]), never in a field that Airflow renders with Jinja as text: arguments
//!   hold fixed words, identifiers, numbers and our own Airflow macros; images,
//!   namespaces and buckets are validated first.
//! - Cost (21,000 DAG files at N=5,000): the template is rendered once per DAG, so its
//!   context holds whole Python fragments (string, list and dict literals built by
//!   `python`) and `{{#each}}` only over lines; each worker reuses its buffers and hands
//!   each file to the sink at once, so no DAG file outlives its rendering.
//! - Point in time: a materialization run computes features as of `data_interval_end`
//!   from events since `as_of - lookback`, lookback being the longest feature window (the
//!   ttl, else the schedule interval, when no feature has a window). Training builds its
//!   dataset for every instant of `dataset_window` before `data_interval_end`.
//! - Identity: a scoring pod runs as its batch job's ServiceAccount
//!   (`service_account_name`), which the Kubernetes target writes with the job's IRSA
//!   role, so the job gets exactly the data access its policies allowed. Materialization
//!   and training pods run as the namespace's default account: no IAM role is derived
//!   for feature views or training yet.
//! - `execution_timeout` of materialization is the view's `freshness` (a slower run
//!   cannot keep the promise; Airflow 3 has no `sla=`), `dagrun_timeout` as well.
//! - `evaluate` and `await_approval` never retry: a metric below `evaluation.min` or a
//!   rejection is a decision, not a transient failure.

pub mod json;
pub mod python;
pub mod spec;
#[cfg(test)]
mod tests;

use crate::names::{artifact_bucket_name, check_dns1123_label};
use crate::skeleton::{Skeleton, Skeletons, count, marker};
use crate::{Collect, Emit, FileSink, Target};
use handlebars::{Context, Handlebars, Output, RenderContext, Renderable};
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use plinth_ir::{
    BatchJob, Bytes, Duration, FeatureView, Millicores, Model, Origin, Platform, Resources,
    Training,
};
use plinth_syntax::Diagnostic;
use python::{
    check_identifier, comment, push_dict, push_list, push_python_str, python_str, timedelta,
};
use rayon::prelude::*;
use serde::Serialize;
use spec::{EvaluationDoc, ExpectDoc, ModelDoc, SourceDoc, Spec, ViewDoc};
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

/// Diagnostic codes of this target (shared meanings with the Kubernetes target).
pub const CODE_NAME: &str = "plinth::target::name";
pub const CODE_IMAGE: &str = "plinth::target::image";
pub const CODE_INTERNAL: &str = "plinth::target::internal";

/// Requests (= limits) of a task whose spec gives no resources.
pub const DEFAULT_CPU: Millicores = Millicores(1000);
pub const DEFAULT_MEMORY: Bytes = Bytes(2 << 30);
/// Airflow's limit on `dag_id` and `task_id`.
const MAX_AIRFLOW_KEY: usize = 250;

const TEMPLATE: &str = include_str!("../../../../targets/airflow/dag.py.hbs");
const TEMPLATE_NAME: &str = "dag.py";

pub struct Airflow;

impl Target for Airflow {
    fn name(&self) -> &'static str {
        "airflow"
    }

    fn emit(&self, platform: &Platform) -> Emit {
        Collect::emit(self, platform, CODE_INTERNAL)
    }

    fn emit_to(&self, platform: &Platform, sink: &dyn FileSink) -> io::Result<Vec<Diagnostic>> {
        let env = &platform.environment;
        if let Err(problem) = check_dns1123_label(&env.namespace) {
            return Ok(vec![error(
                CODE_NAME,
                &env.origin,
                "namespace",
                format!(
                    "namespace `{}` of environment `{}` is not a valid Kubernetes namespace for Airflow's pods: {problem}",
                    env.namespace, env.name
                ),
            )]);
        }
        let bucket = artifact_bucket_name(env);
        if let Err(why) = check_bucket(&bucket) {
            return Ok(vec![error(
                CODE_NAME,
                &env.origin,
                "account",
                format!(
                    "the artifact bucket `{bucket}` of environment `{}` is not a valid S3 bucket name: {why}",
                    env.name
                ),
            )]);
        }
        let renderer = match Renderer::new(platform) {
            Ok(r) => r,
            Err(message) => {
                return Ok(vec![Diagnostic::error(
                    CODE_INTERNAL,
                    env.origin.span,
                    message,
                )]);
            }
        };
        let ctx = Ctx { platform, bucket };
        let pipelines = pipelines(platform);
        // DAGs are independent: render them on all cores, each into buffers its worker
        // reuses, and hand each file to the sink at once, so no DAG outlives its
        // rendering. `collect` keeps the order above for the diagnostics.
        let diagnostics: Vec<Vec<Diagnostic>> = pipelines
            .par_iter()
            .map_init(Scratch::default, |scratch, pipeline| {
                let rendered = ctx
                    .dag(*pipeline)
                    .and_then(|dag| renderer.render(&dag, scratch));
                match rendered {
                    Ok(()) => {
                        sink.write(&scratch.path, &scratch.out)?;
                        Ok(Vec::new())
                    }
                    Err(diagnostics) => Ok(diagnostics),
                }
            })
            .collect::<io::Result<_>>()?;
        Ok(diagnostics.into_iter().flatten().collect())
    }
}

/// What one DAG file is generated from.
#[derive(Clone, Copy)]
enum Pipeline<'a> {
    Training(&'a Model, &'a Training),
    Materialization(&'a FeatureView),
    Scoring(&'a BatchJob),
}

/// Every DAG file of `platform`, in the order of their diagnostics.
fn pipelines(platform: &Platform) -> Vec<Pipeline<'_>> {
    let mut pipelines = Vec::new();
    for model in platform.models.values() {
        if let Some(training) = &model.training {
            pipelines.push(Pipeline::Training(model, training));
        }
    }
    for view in platform.feature_views.values() {
        if view.schedule.is_some() {
            pipelines.push(Pipeline::Materialization(view));
        }
    }
    for job in platform.batch_jobs.values() {
        pipelines.push(Pipeline::Scoring(job));
    }
    pipelines
}

/// One worker's buffers, reused from one DAG to the next.
#[derive(Default)]
struct Scratch {
    /// A `PLINTH_SPEC` document.
    json: Vec<u8>,
    /// The file.
    out: String,
    path: String,
    /// The DAG's fragments, in [`DagView::each_fragment`] order.
    fragments: Vec<String>,
    /// The DAG's [`DagView::shape`].
    shape: Vec<u32>,
}

fn error(code: &str, origin: &Origin, field: &str, message: String) -> Diagnostic {
    Diagnostic::error(code, origin.field_span(field), message).with_file(&origin.file)
}

/// The compiled DAG template and what every DAG of the environment shares.
struct Renderer {
    hbs: Handlebars<'static>,
    /// The environment's name, for a comment.
    environment: String,
    /// The namespace as a Python literal.
    namespace: String,
    /// The template rendered once per shape of DAG, shared by the workers.
    skeletons: Skeletons,
    /// The `PLINTH_SPEC` literal of each feature view's document, by view name: the
    /// view's materialization DAG and the training DAG of each model reading it carry
    /// the same one.
    view_specs: Mutex<HashMap<String, Arc<str>>>,
}

impl Renderer {
    fn new(platform: &Platform) -> Result<Renderer, String> {
        let mut hbs = Handlebars::new();
        hbs.set_strict_mode(true);
        // Every value is already a Python fragment built in Rust (see `python`); HTML
        // escaping would corrupt it.
        hbs.register_escape_fn(handlebars::no_escape);
        hbs.register_template_string(TEMPLATE_NAME, TEMPLATE)
            .map_err(|e| format!("the Airflow DAG template does not compile: {e}"))?;
        let env = &platform.environment;
        Ok(Renderer {
            hbs,
            environment: comment(&env.name),
            namespace: python_str(&env.namespace),
            skeletons: Skeletons::default(),
            view_specs: Mutex::default(),
        })
    }
}

/// One DAG before rendering: raw values in the spec's words; [`Renderer::render`] turns
/// them into Python fragments.
struct Dag<'a> {
    dag_id: String,
    origin: &'a Origin,
    /// Where the DAG comes from, e.g. model `fraud_scorer` (identifiers only: it lands
    /// in a comment).
    what: String,
    /// First line of the module docstring and of `doc_md`.
    title: String,
    description: String,
    /// The declaration's `///` docs.
    doc: &'a str,
    /// Bullet points of `doc_md`.
    facts: Vec<String>,
    /// Cron expression; `None` means triggered by hand.
    schedule: Option<&'a str>,
    dagrun_timeout: Duration,
    owner: &'a str,
    retries: u32,
    retry_delay: Duration,
    max_retry_delay: Duration,
    tags: Vec<String>,
    /// The pod labels of every task.
    labels: Labels<'a>,
    tasks: Vec<Task<'a>>,
    /// `(upstream, downstream)` task ids.
    edges: Vec<(String, String)>,
}

type Labels<'a> = [(&'static str, &'a str); 4];

struct Ctx<'a> {
    platform: &'a Platform,
    bucket: String,
}

/// One pod.
struct Task<'a> {
    id: String,
    /// Fixed prose and identifiers only.
    comments: Vec<String>,
    image: &'a str,
    /// Declaration and field the image was written at, for diagnostics.
    image_origin: (&'a Origin, &'static str),
    /// Fixed words, identifiers, numbers and our own Airflow macros: never spec text.
    arguments: Vec<String>,
    /// `PLINTH_SPEC`: what the container needs from the spec.
    spec: Spec<'a>,
    resources: &'a Resources,
    execution_timeout: Duration,
    /// Overrides the DAG's default.
    retries: Option<u32>,
    /// The Kubernetes ServiceAccount the pod runs as, whose IAM role (Terraform's IRSA
    /// role for the workload) grants its data access; `None`: the namespace's default.
    service_account: Option<String>,
}

fn as_of_end() -> String {
    "{{ data_interval_end.isoformat() }}".to_string()
}

/// An Airflow macro for `data_interval_end - duration`, as ISO 8601.
fn before_end(duration: Duration) -> String {
    format!(
        "{{{{ (data_interval_end - macros.timedelta(seconds={})).isoformat() }}}}",
        duration.seconds()
    )
}

/// How far back from the as-of time a materialization reads events: the longest feature
/// window; without windows (`last(...)` features) the ttl, else the schedule interval.
fn lookback(view: &FeatureView) -> Duration {
    view.features
        .iter()
        .filter_map(|f| f.window)
        .max()
        .or(view.ttl)
        .or(view.schedule.as_ref().map(|s| s.interval))
        .unwrap_or(Duration(Duration::DAY))
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `s3://...` for the first argument pair; an S3 bucket name (3-63 of `[a-z0-9.-]`,
/// alphanumeric at both ends), checked because it is written into Jinja-rendered
/// arguments.
fn check_bucket(bucket: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    if !(3..=63).contains(&bucket.len()) {
        return Err(format!(
            "it is {} characters long, S3 allows 3 to 63",
            bucket.len()
        ));
    }
    if let Some(c) = bucket.chars().find(|c| !ok_char(*c)) {
        return Err(format!("it contains `{c}`"));
    }
    if !bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Err("it must start and end with a letter or digit".to_string());
    }
    Ok(())
}

/// A container image reference: `[registry[:port]/]path[:tag][@sha256:...]`, checked for
/// the characters a reference can hold, because `image` is rendered by Jinja and a name
/// ending in `.json`/`.yaml`/`.yml` would be read as a template file.
pub fn check_image(image: &str) -> Result<(), String> {
    if image.is_empty() || image.len() > 512 {
        return Err("it must be 1 to 512 characters long".to_string());
    }
    let ok_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@');
    if let Some(c) = image.chars().find(|c| !ok_char(*c)) {
        return Err(format!("it contains `{}`", c.escape_default()));
    }
    if !image.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("it must start with a letter or digit".to_string());
    }
    if [".json", ".yaml", ".yml"]
        .iter()
        .any(|ext| image.ends_with(ext))
    {
        return Err("it ends like a template file name (`.json`, `.yaml`, `.yml`)".to_string());
    }
    Ok(())
}

impl<'a> Ctx<'a> {
    fn dag(&self, pipeline: Pipeline<'a>) -> Result<Dag<'a>, Vec<Diagnostic>> {
        match pipeline {
            Pipeline::Training(model, training) => self.training_dag(model, training),
            Pipeline::Materialization(view) => self.materialization_dag(view),
            Pipeline::Scoring(job) => self.scoring_dag(job),
        }
    }

    /// Where the tasks of one run exchange data: `s3://<artifact bucket>/airflow/<dag>/<run>/`.
    fn workdir(&self, dag_id: &str) -> String {
        format!("s3://{}/airflow/{dag_id}/{{{{ run_id }}}}/", self.bucket)
    }

    fn view_doc(&self, view: &'a FeatureView) -> Spec<'a> {
        Spec::FeatureView {
            feature_view: ViewDoc::new(
                view,
                self.platform.sources.get(&view.source).map(AsRef::as_ref),
            ),
        }
    }

    fn labels(&self, team: &'a str, kind: &'static str, name: &'a str) -> Labels<'a> {
        [
            ("app.kubernetes.io/managed-by", "plinth"),
            (
                "plinth.dev/environment",
                self.platform.environment.name.as_str(),
            ),
            ("plinth.dev/team", team),
            (kind, name),
        ]
    }

    fn input_views(&self, model: &Model) -> Vec<&'a FeatureView> {
        let mut names: Vec<&str> = model.inputs.iter().map(|f| f.view.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .filter_map(|n| self.platform.feature_views.get(n).map(AsRef::as_ref))
            .collect()
    }

    fn training_dag(
        &self,
        model: &'a Model,
        training: &'a Training,
    ) -> Result<Dag<'a>, Vec<Diagnostic>> {
        let dag_id = format!("train_{}", model.name);
        let workdir = self.workdir(&dag_id);
        let features = format!("{workdir}features/");
        let candidate = format!("{workdir}model/");
        let window = training
            .dataset_window
            .unwrap_or(Duration(30 * Duration::DAY));
        let views = self.input_views(model);
        let mut tasks = Vec::new();
        let mut edges = Vec::new();
        let mut missing = Vec::new();
        for view in &views {
            let Some(view_image) = &view.image else {
                missing.push(error(
                    CODE_IMAGE,
                    &view.origin,
                    "image",
                    format!(
                        "feature view `{}` has no `image`: Airflow cannot build the training set of model `{}`",
                        view.name, model.name
                    ),
                ));
                continue;
            };
            let back = lookback(view);
            let id = format!("materialize_{}", view.name);
            tasks.push(Task {
                id: id.clone(),
                comments: vec![
                    format!(
                        "Point-in-time training set from `{}`: its features as of every instant of the",
                        view.name
                    ),
                    format!("{window} dataset window, from events up to {back} older (its longest window)."),
                ],
                image: view_image,
                image_origin: (&view.origin, "image"),
                arguments: vec![
                    "materialize".to_string(),
                    "--as-of-start".to_string(),
                    before_end(window),
                    "--as-of-end".to_string(),
                    as_of_end(),
                    "--events-since".to_string(),
                    before_end(Duration(window.millis().saturating_add(back.millis()))),
                    "--output".to_string(),
                    format!("{features}{}/", view.name),
                ],
                spec: self.view_doc(view),
                resources: &view.resources,
                execution_timeout: Duration(6 * Duration::HOUR),
                retries: None,
                service_account: None,
            });
            edges.push((id, "validate_data".to_string()));
        }
        if !missing.is_empty() {
            return Err(missing);
        }
        let step = |id: &str, comments: Vec<String>, arguments: Vec<String>, spec: Spec<'a>| Task {
            id: id.to_string(),
            comments,
            image: &training.image,
            image_origin: (&model.origin, "training.image"),
            arguments,
            spec,
            resources: &NO_RESOURCES,
            execution_timeout: Duration(Duration::HOUR),
            retries: None,
            service_account: None,
        };
        tasks.push(step(
            "validate_data",
            strings(&["The `expect` checks of the input feature views, run on the training set."]),
            vec![
                "validate".to_string(),
                "--input".to_string(),
                features.clone(),
            ],
            Spec::Expectations {
                expectations: ExpectDoc::all(&views),
            },
        ));
        let mut train = step(
            "train",
            vec![format!(
                "Trains `{}` on the {window} dataset window, with the spec's training resources.",
                model.name
            )],
            vec![
                "train".to_string(),
                "--input".to_string(),
                features,
                "--output".to_string(),
                candidate.clone(),
            ],
            Spec::Train {
                model: ModelDoc::new(model),
                dataset_window_seconds: window.seconds(),
            },
        );
        train.resources = &training.resources;
        train.execution_timeout = Duration(12 * Duration::HOUR);
        tasks.push(train);
        edges.push(("validate_data".to_string(), "train".to_string()));

        let mut arguments = vec![
            "evaluate".to_string(),
            "--model".to_string(),
            candidate.clone(),
        ];
        let comments = match &training.evaluation {
            Some(evaluation) => {
                arguments.extend([
                    "--metric".to_string(),
                    evaluation.metric.clone(),
                    "--min".to_string(),
                    evaluation.min.to_string(),
                ]);
                vec![
                    format!(
                        "Gate: exits non-zero, failing the run, when `{}` on the holdout set is below {}.",
                        evaluation.metric, evaluation.min
                    ),
                    "No retries: a low score is a verdict, not a transient failure.".to_string(),
                ]
            }
            None => strings(&["Reports metrics only: the spec sets no `evaluation` gate."]),
        };
        let mut evaluate = step(
            "evaluate",
            comments,
            arguments,
            Spec::Evaluate {
                model: ModelDoc::new(model),
                evaluation: training.evaluation.as_ref().map(EvaluationDoc::new),
            },
        );
        evaluate.execution_timeout = Duration(2 * Duration::HOUR);
        evaluate.retries = Some(0);
        tasks.push(evaluate);
        edges.push(("train".to_string(), "evaluate".to_string()));

        let mut before_register = "evaluate";
        if !training.approvals.is_empty() {
            let mut approval = step(
                "await_approval",
                vec![
                    format!(
                        "Waits until each of the {} approver(s) in PLINTH_SPEC signs off this candidate in the",
                        training.approvals.len()
                    ),
                    "model registry; fails on a rejection, or when nobody decides within 3 days."
                        .to_string(),
                ],
                vec![
                    "await-approval".to_string(),
                    "--model".to_string(),
                    candidate.clone(),
                ],
                Spec::Approval {
                    model: ModelDoc::new(model),
                    approvers: &training.approvals,
                },
            );
            approval.execution_timeout = Duration(3 * Duration::DAY);
            approval.retries = Some(0);
            tasks.push(approval);
            edges.push(("evaluate".to_string(), "await_approval".to_string()));
            before_register = "await_approval";
        }
        tasks.push(step(
            "register",
            vec![format!(
                "Publishes the approved candidate as model `{}` in the registry.",
                model.name
            )],
            vec!["register".to_string(), "--model".to_string(), candidate],
            Spec::Register {
                model: ModelDoc::new(model),
            },
        ));
        edges.push((before_register.to_string(), "register".to_string()));

        let mut facts = vec![
            format!("Owner: team `{}`", model.owner),
            format!("Risk: {}", model.risk.name),
            format!("Dataset window: {window}"),
        ];
        if let Some(e) = &training.evaluation {
            facts.push(format!("Evaluation gate: {} >= {}", e.metric, e.min));
        }
        if !training.approvals.is_empty() {
            facts.push(format!("Approvals: {}", training.approvals.join(", ")));
        }
        for (label, text) in [
            ("Purpose", &model.purpose),
            ("Intended use", &model.intended_use),
            ("Limitations", &model.limitations),
            ("Human oversight", &model.human_oversight),
        ] {
            if let Some(text) = text {
                facts.push(format!("{label}: {text}"));
            }
        }
        Ok(Dag {
            dag_id,
            origin: &model.origin,
            what: format!("model `{}`", model.name),
            title: format!(
                "Training pipeline of model `{}` (version {}).",
                model.name, model.version
            ),
            description: model
                .purpose
                .clone()
                .unwrap_or_else(|| format!("Trains model {}", model.name)),
            doc: &model.doc,
            facts,
            schedule: training.schedule.as_ref().map(|s| s.expr.as_str()),
            dagrun_timeout: Duration(4 * Duration::DAY),
            owner: &model.owner,
            retries: 2,
            retry_delay: Duration(5 * Duration::MINUTE),
            max_retry_delay: Duration(Duration::HOUR),
            tags: vec![
                "plinth".to_string(),
                format!("team:{}", model.owner),
                format!("model:{}", model.name),
                format!("risk:{}", model.risk.name),
            ],
            labels: self.labels(&model.owner, "plinth.dev/model", &model.name),
            tasks,
            edges,
        })
    }

    fn materialization_dag(&self, view: &'a FeatureView) -> Result<Dag<'a>, Vec<Diagnostic>> {
        let Some(image) = &view.image else {
            return Err(vec![error(
                CODE_IMAGE,
                &view.origin,
                "image",
                format!(
                    "feature view `{}` has a `schedule` but no `image`: Airflow has nothing to run",
                    view.name
                ),
            )]);
        };
        let interval = view
            .schedule
            .as_ref()
            .map(|s| s.interval)
            .unwrap_or(Duration(Duration::DAY));
        // INVARIANT: the checker proved freshness >= interval; a run slower than the
        // freshness promise has already broken it.
        let deadline = view.freshness.unwrap_or(interval);
        let back = lookback(view);
        let dag_id = format!("materialize_{}", view.name);
        let pod = |id: &str, comments: Vec<String>, arguments: Vec<String>, spec: Spec<'a>| Task {
            id: id.to_string(),
            comments,
            image,
            image_origin: (&view.origin, "image"),
            arguments,
            spec,
            resources: &view.resources,
            execution_timeout: deadline,
            retries: None,
            service_account: None,
        };
        let window_args = || {
            vec![
                "--as-of".to_string(),
                as_of_end(),
                "--events-since".to_string(),
                before_end(back),
            ]
        };
        let mut tasks = Vec::new();
        let mut edges = Vec::new();
        if !view.expects.is_empty() {
            let mut arguments = vec!["validate".to_string()];
            arguments.extend(window_args());
            tasks.push(pod(
                "validate_data",
                strings(&[
                    "The view's `expect` checks on the source window, before anything is written:",
                    "bad data fails the run instead of reaching the feature store.",
                ]),
                arguments,
                Spec::Expectations {
                    expectations: ExpectDoc::all(&[view]),
                },
            ));
            edges.push(("validate_data".to_string(), "materialize".to_string()));
        }
        let mut arguments = vec!["materialize".to_string()];
        arguments.extend(window_args());
        let stores = if view.online {
            "offline and online stores"
        } else {
            "offline store"
        };
        tasks.push(pod(
            "materialize",
            vec![
                format!("Point in time: features as of the end of the data interval, from events of the last {back}"),
                format!("(the longest feature window), written to the {stores}."),
            ],
            arguments,
            self.view_doc(view),
        ));
        let mut facts = vec![
            format!("Owner: team `{}`", view.owner),
            format!("Entity: `{}` (key `{}`)", view.entity, view.key),
            format!("Source: `{}`", view.source),
            format!("Classification: {}", view.classification.name),
            format!("Lookback window: {back}"),
        ];
        if let Some(f) = view.freshness {
            facts.push(format!("Freshness: {f} (each task's execution timeout)"));
        }
        let features: Vec<&str> = view.features.iter().map(|f| f.name.as_str()).collect();
        facts.push(format!("Features: {}", features.join(", ")));
        Ok(Dag {
            dag_id,
            origin: &view.origin,
            what: format!("feature view `{}`", view.name),
            title: format!("Materialization of feature view `{}`.", view.name),
            description: format!("Materializes feature view {} every {interval}", view.name),
            doc: &view.doc,
            facts,
            schedule: view.schedule.as_ref().map(|s| s.expr.as_str()),
            dagrun_timeout: deadline,
            owner: &view.owner,
            retries: 2,
            retry_delay: clamp(
                interval.millis() / 10,
                10 * Duration::SECOND,
                5 * Duration::MINUTE,
            ),
            max_retry_delay: clamp(deadline.millis() / 2, Duration::MINUTE, Duration::HOUR),
            tags: vec![
                "plinth".to_string(),
                format!("team:{}", view.owner),
                format!("feature_view:{}", view.name),
                format!("classification:{}", view.classification.name),
            ],
            labels: self.labels(&view.owner, "plinth.dev/feature-view", &view.name),
            tasks,
            edges,
        })
    }

    fn scoring_dag(&self, job: &'a BatchJob) -> Result<Dag<'a>, Vec<Diagnostic>> {
        let model = self.platform.models.get(&job.model);
        let image = job
            .image
            .as_ref()
            .map(|i| (i.as_str(), (&job.origin, "image")))
            .or_else(|| {
                model
                    .and_then(|m| m.training.as_ref().map(|t| (m, t)))
                    .map(|(m, t)| (t.image.as_str(), (&m.origin, "training.image")))
            });
        let Some((image, image_origin)) = image else {
            return Err(vec![error(
                CODE_IMAGE,
                &job.origin,
                "image",
                format!(
                    "batch job `{}` has no `image` and its model no training image: Airflow has nothing to run",
                    job.name
                ),
            )]);
        };
        let dag_id = format!("score_{}", job.name);
        let risk = model.map_or("", |m| m.risk.name.as_str());
        let interval = job.schedule.interval;
        let sources = &self.platform.sources;
        let task = Task {
            id: "score".to_string(),
            comments: vec![format!(
                "Scores `{}` with model `{}` as of the end of the data interval; writes `{}`.",
                job.input, job.model, job.output
            )],
            image,
            image_origin,
            arguments: vec![
                "score".to_string(),
                "--as-of".to_string(),
                as_of_end(),
                "--events-since".to_string(),
                before_end(interval),
            ],
            spec: Spec::Score {
                batch_job: &job.name,
                model: model.map(|m| ModelDoc::new(m)),
                input: SourceDoc::new(sources.get(&job.input).map(AsRef::as_ref), &job.input),
                output: SourceDoc::new(sources.get(&job.output).map(AsRef::as_ref), &job.output),
            },
            resources: &job.resources,
            execution_timeout: interval,
            retries: None,
            // The Kubernetes target writes it, IRSA-annotated with the job's role.
            service_account: Some(crate::names::service_account_name(&job.name)),
        };
        Ok(Dag {
            dag_id,
            origin: &job.origin,
            what: format!("batch job `{}`", job.name),
            title: format!(
                "Batch scoring job `{}` with model `{}`.",
                job.name, job.model
            ),
            description: format!("Scores {} with model {}", job.input, job.model),
            doc: &job.doc,
            facts: vec![
                format!("Owner: team `{}`", job.owner),
                format!("Model: `{}` (risk {risk})", job.model),
                format!("Input: `{}`", job.input),
                format!("Output: `{}`", job.output),
                format!("Classification: {}", job.data_classification.name),
            ],
            schedule: Some(&job.schedule.expr),
            dagrun_timeout: interval,
            owner: &job.owner,
            retries: 2,
            retry_delay: Duration(5 * Duration::MINUTE),
            max_retry_delay: Duration(Duration::HOUR),
            tags: vec![
                "plinth".to_string(),
                format!("team:{}", job.owner),
                format!("model:{}", job.model),
                format!("risk:{risk}"),
                format!("batch_job:{}", job.name),
            ],
            labels: self.labels(&job.owner, "plinth.dev/batch-job", &job.name),
            tasks: vec![task],
            edges: Vec::new(),
        })
    }
}

/// Resources of a training step other than `train`: the defaults.
static NO_RESOURCES: Resources = Resources {
    cpu: None,
    memory: None,
    gpu: 0,
    accelerator: None,
};

fn clamp(ms: u64, min: u64, max: u64) -> Duration {
    Duration(ms.clamp(min, max))
}

// ---- rendering ----

/// The template's context: Python fragments (see `python`), laid out by `dag.py.hbs`.
#[derive(Serialize)]
struct DagView<'v> {
    docstring: String,
    source: String,
    environment: &'v str,
    dag_id: String,
    description: String,
    doc_md: String,
    schedule: String,
    max_active_runs: String,
    dagrun_timeout: String,
    owner: String,
    retries: String,
    retry_delay: String,
    max_retry_delay: String,
    /// A list literal.
    tags: String,
    namespace: &'v str,
    /// A dict literal: the labels of every task.
    labels: String,
    tasks: Vec<TaskView>,
    dependencies: Vec<String>,
}

#[derive(Serialize)]
struct TaskView {
    comments: Vec<String>,
    var: String,
    task_id: String,
    image: String,
    arguments: Vec<String>,
    /// The `PLINTH_SPEC` document as a string literal.
    spec: String,
    /// A dict literal: requests, and the same limits.
    resources: String,
    gpu: bool,
    /// A dict literal.
    node_selector: Option<String>,
    task_retries: Option<String>,
    /// A string literal.
    service_account: Option<String>,
    execution_timeout: String,
}

impl DagView<'_> {
    /// What the template decides on: the number of tasks and, per task, of comment and
    /// argument lines and which optional lines it has; then the number of dependency
    /// lines. Every optional fragment present is non-empty (a literal or a number), so
    /// `{{#if}}` on it is true exactly when it is present.
    fn shape(&self, out: &mut Vec<u32>) {
        out.push(count(self.tasks.len()));
        for task in &self.tasks {
            out.push(count(task.comments.len()));
            out.push(count(task.arguments.len()));
            out.push(
                u32::from(task.gpu)
                    | u32::from(task.node_selector.is_some()) << 1
                    | u32::from(task.task_retries.is_some()) << 2
                    | u32::from(task.service_account.is_some()) << 3,
            );
        }
        out.push(count(self.dependencies.len()));
    }

    /// Every fragment of this DAG, in the one order that numbers a skeleton's markers.
    /// The environment and namespace are the same for every DAG a [`Renderer`] renders,
    /// so they are rendered into the skeleton.
    fn each_fragment(&mut self, f: &mut impl FnMut(&mut String)) {
        for fragment in [
            &mut self.docstring,
            &mut self.source,
            &mut self.dag_id,
            &mut self.description,
            &mut self.doc_md,
            &mut self.schedule,
            &mut self.max_active_runs,
            &mut self.dagrun_timeout,
            &mut self.owner,
            &mut self.retries,
            &mut self.retry_delay,
            &mut self.max_retry_delay,
            &mut self.tags,
            &mut self.labels,
        ] {
            f(fragment);
        }
        for task in &mut self.tasks {
            task.comments.iter_mut().for_each(&mut *f);
            for fragment in [&mut task.var, &mut task.task_id, &mut task.image] {
                f(fragment);
            }
            task.arguments.iter_mut().for_each(&mut *f);
            for fragment in [
                &mut task.spec,
                &mut task.resources,
                &mut task.execution_timeout,
            ] {
                f(fragment);
            }
            for fragment in [
                &mut task.node_selector,
                &mut task.task_retries,
                &mut task.service_account,
            ]
            .into_iter()
            .flatten()
            {
                f(fragment);
            }
        }
        self.dependencies.iter_mut().for_each(f);
    }
}

/// Collects handlebars' output in a buffer the worker reuses.
struct BufferOutput<'s>(&'s mut String);

impl Output for BufferOutput<'_> {
    fn write(&mut self, seg: &str) -> io::Result<()> {
        self.0.push_str(seg);
        Ok(())
    }
}

/// A task id that is a valid Airflow key and a valid Python variable.
fn check_task_id(dag: &Dag, id: &str) -> Option<Diagnostic> {
    let problem = if id.len() > MAX_AIRFLOW_KEY {
        Some(format!(
            "it is longer than Airflow's {MAX_AIRFLOW_KEY} characters"
        ))
    } else {
        check_identifier(id).err().map(|p| p.to_string())
    };
    problem.map(|problem| {
        Diagnostic::error(
            CODE_NAME,
            dag.origin.span,
            format!(
                "{} cannot become an Airflow task: the name `{id}` is not a usable Python identifier: {problem}",
                dag.what
            ),
        )
        .with_file(&dag.origin.file)
        .with_help("rename the declaration")
    })
}

/// `doc_md`: title, the spec's docs, then facts. It always ends with the generated-by
/// line, so it never ends in `.md` (Airflow would read such a doc as a file path).
fn doc_md(dag: &Dag) -> String {
    let mut doc = format!("### {}\n", dag.title);
    if !dag.doc.trim().is_empty() {
        doc.push('\n');
        doc.push_str(dag.doc.trim());
        doc.push('\n');
    }
    doc.push('\n');
    for fact in &dag.facts {
        doc.push_str("- ");
        doc.push_str(fact);
        doc.push('\n');
    }
    doc.push_str(&format!(
        "\n_Generated by Plinth from {}; edit the spec, not this file._\n",
        dag.what
    ));
    doc
}

/// The task graph in topological order (petgraph), and each task's upstream ids.
fn order(dag: &Dag) -> Result<Vec<(usize, Vec<usize>)>, Box<Diagnostic>> {
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..dag.tasks.len()).map(|i| graph.add_node(i)).collect();
    let index = |id: &str| dag.tasks.iter().position(|t| t.id == id);
    let internal = |message: String| {
        Box::new(
            Diagnostic::error(CODE_INTERNAL, dag.origin.span, message).with_file(&dag.origin.file),
        )
    };
    for (up, down) in &dag.edges {
        match (
            index(up).and_then(|i| nodes.get(i)),
            index(down).and_then(|i| nodes.get(i)),
        ) {
            (Some(u), Some(d)) => {
                graph.add_edge(*u, *d, ());
            }
            _ => {
                return Err(internal(format!(
                    "the DAG of {} names a task it does not have: `{up}` -> `{down}`",
                    dag.what
                )));
            }
        }
    }
    let sorted = toposort(&graph, None)
        .map_err(|_| internal(format!("the tasks of {} form a cycle", dag.what)))?;
    let position = |n: NodeIndex| sorted.iter().position(|s| *s == n).unwrap_or(usize::MAX);
    Ok(sorted
        .iter()
        .filter_map(|n| {
            let task = *graph.node_weight(*n)?;
            let mut ups: Vec<NodeIndex> = graph
                .neighbors_directed(*n, petgraph::Direction::Incoming)
                .collect();
            ups.sort_by_key(|u| position(*u));
            let ups = ups
                .iter()
                .filter_map(|u| graph.node_weight(*u).copied())
                .collect();
            Some((task, ups))
        })
        .collect())
}

impl Renderer {
    /// Renders `dag` into `scratch.out`, its path into `scratch.path`.
    fn render(&self, dag: &Dag, scratch: &mut Scratch) -> Result<(), Vec<Diagnostic>> {
        let mut view = self.view(dag, &mut scratch.json)?;
        scratch.shape.clear();
        view.shape(&mut scratch.shape);
        scratch.fragments.clear();
        view.each_fragment(&mut |fragment| scratch.fragments.push(std::mem::take(fragment)));
        let skeleton = self
            .skeleton(&scratch.shape, &mut view)
            .map_err(|e| internal(dag, e))?;
        scratch.out.clear();
        skeleton
            .fill(
                |i| scratch.fragments.get(i).map(String::as_str),
                &mut scratch.out,
            )
            .map_err(|e| internal(dag, e))?;
        scratch.path.clear();
        scratch.path.push_str("dags/");
        scratch.path.push_str(&dag.dag_id);
        scratch.path.push_str(".py");
        Ok(())
    }

    /// The template's context for `dag`, after checking the names and images it uses;
    /// `json` is a buffer for the `PLINTH_SPEC` documents.
    fn view(&self, dag: &Dag, json: &mut Vec<u8>) -> Result<DagView<'_>, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        for task in &dag.tasks {
            if let Some(d) = check_task_id(dag, &task.id) {
                errors.push(d);
            }
            if let Err(why) = check_image(task.image) {
                let (origin, field) = task.image_origin;
                errors.push(error(
                    CODE_IMAGE,
                    origin,
                    field,
                    format!("image `{}` cannot be used by Airflow: {why}", task.image.escape_default()),
                ).with_help("write a plain image reference: `registry.example/name:tag` or `...@sha256:<digest>`"));
            }
        }
        if dag.dag_id.len() > MAX_AIRFLOW_KEY {
            errors.push(
                Diagnostic::error(CODE_NAME, dag.origin.span, format!("{} gives the Airflow DAG id `{}`, longer than Airflow's {MAX_AIRFLOW_KEY} characters", dag.what, dag.dag_id))
                    .with_file(&dag.origin.file),
            );
        }
        let ordered = order(dag).map_err(|d| vec![*d])?;
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut tasks = Vec::with_capacity(ordered.len());
        let mut dependencies = Vec::new();
        for (i, ups) in &ordered {
            let Some(task) = dag.tasks.get(*i) else {
                continue;
            };
            let var = |i: &usize| dag.tasks.get(*i).map_or("", |t| t.id.as_str());
            match ups.as_slice() {
                [] => {}
                [one] => dependencies.push(format!("{} >> {}", var(one), task.id)),
                many => dependencies.push(format!(
                    "[{}] >> {}",
                    many.iter().map(var).collect::<Vec<_>>().join(", "),
                    task.id
                )),
            }
            let spec = match &task.spec {
                Spec::FeatureView { feature_view } => {
                    self.view_spec(feature_view.name(), &task.spec, json)
                }
                spec => spec_literal(spec, json),
            }
            .map_err(|e| internal(dag, e))?;
            tasks.push(task_view(task, spec));
        }
        let mut tags = String::new();
        push_list(&mut tags, dag.tags.iter().map(String::as_str));
        let mut labels = String::new();
        push_dict(&mut labels, dag.labels);
        Ok(DagView {
            docstring: python_str(&dag.title),
            source: comment(&dag.what),
            environment: &self.environment,
            dag_id: python_str(&dag.dag_id),
            description: python_str(&dag.description),
            doc_md: python_str(&doc_md(dag)),
            schedule: dag.schedule.map_or("None".to_string(), python_str),
            max_active_runs: 1.to_string(),
            dagrun_timeout: timedelta(dag.dagrun_timeout),
            owner: python_str(dag.owner),
            retries: dag.retries.to_string(),
            retry_delay: timedelta(dag.retry_delay),
            max_retry_delay: timedelta(dag.max_retry_delay),
            tags,
            namespace: &self.namespace,
            labels,
            tasks,
            dependencies,
        })
    }
}

impl Renderer {
    /// The skeleton of `shape`, rendered from `view` (whose fragments have been taken)
    /// the first time a DAG of that shape comes.
    fn skeleton(&self, shape: &[u32], view: &mut DagView) -> Result<Arc<Skeleton>, String> {
        self.skeletons.get(shape, || {
            let mut count = 0;
            view.each_fragment(&mut |fragment| {
                *fragment = marker(count);
                count += 1;
            });
            let mut rendered = String::new();
            self.render_template(view, &mut rendered)?;
            Ok((rendered, count))
        })
    }

    /// [`spec_literal`] of `spec`, the document of the feature view `name`, made once.
    fn view_spec(&self, name: &str, spec: &Spec, json: &mut Vec<u8>) -> Result<String, String> {
        let cached = |specs: &Mutex<HashMap<String, Arc<str>>>| {
            specs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(name)
                .map(|literal| literal.to_string())
        };
        if let Some(literal) = cached(&self.view_specs) {
            return Ok(literal);
        }
        // Made outside the lock: two workers may both make it, and insert the same text.
        let literal = spec_literal(spec, json)?;
        self.view_specs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_string(), Arc::from(literal.as_str()));
        Ok(literal)
    }

    /// `dag.py.hbs` rendered by handlebars with `view`, appended to `out`.
    fn render_template(&self, view: &DagView, out: &mut String) -> Result<(), String> {
        let context = Context::wraps(view).map_err(|e| e.to_string())?;
        let template = self
            .hbs
            .get_template(TEMPLATE_NAME)
            .ok_or_else(|| "the template is not registered".to_string())?;
        template
            .render(
                &self.hbs,
                &context,
                &mut RenderContext::new(template.name.as_ref()),
                &mut BufferOutput(out),
            )
            .map_err(|e| e.to_string())
    }
}

/// An internal error while rendering the DAG of `dag`.
fn internal(dag: &Dag, message: impl std::fmt::Display) -> Vec<Diagnostic> {
    vec![
        Diagnostic::error(
            CODE_INTERNAL,
            dag.origin.span,
            format!("cannot render the Airflow DAG of {}: {message}", dag.what),
        )
        .with_file(&dag.origin.file),
    ]
}

/// The `PLINTH_SPEC` document `spec` as a Python string literal; `json` is a buffer.
fn spec_literal(spec: &Spec, json: &mut Vec<u8>) -> Result<String, String> {
    json.clear();
    json::write_jinja_inert_json(spec, json).map_err(|e| e.to_string())?;
    let text = std::str::from_utf8(json).map_err(|e| e.to_string())?;
    let mut literal = String::with_capacity(text.len() + text.len() / 8);
    push_python_str(&mut literal, text);
    Ok(literal)
}

fn task_view(task: &Task, spec: String) -> TaskView {
    let cpu = task.resources.cpu.unwrap_or(DEFAULT_CPU).to_string();
    let memory = task.resources.memory.unwrap_or(DEFAULT_MEMORY).to_string();
    let gpu = task.resources.gpu > 0;
    let gpus = task.resources.gpu.to_string();
    let mut resources = vec![("cpu", cpu.as_str()), ("memory", memory.as_str())];
    let mut node_selector = None;
    if gpu {
        resources.push(("nvidia.com/gpu", &gpus));
        // The same node label as the Kubernetes target: Karpenter's GPU name.
        if let Some(accelerator) = &task.resources.accelerator {
            let gpu_name = accelerator.strip_prefix("nvidia_").unwrap_or(accelerator);
            let mut selector = String::new();
            push_dict(
                &mut selector,
                [(
                    "karpenter.k8s.aws/instance-gpu-name",
                    gpu_name.replace('_', "-").as_str(),
                )],
            );
            node_selector = Some(selector);
        }
    }
    let mut resource_dict = String::new();
    push_dict(&mut resource_dict, resources);
    TaskView {
        comments: task.comments.iter().map(|c| comment(c)).collect(),
        var: task.id.clone(),
        task_id: python_str(&task.id),
        image: python_str(task.image),
        arguments: task.arguments.iter().map(|a| python_str(a)).collect(),
        spec,
        resources: resource_dict,
        gpu,
        node_selector,
        task_retries: task.retries.map(|r| r.to_string()),
        service_account: task.service_account.as_deref().map(python_str),
        execution_timeout: timedelta(task.execution_timeout),
    }
}
