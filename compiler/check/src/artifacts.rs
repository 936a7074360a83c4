//! Model artifacts checked against the spec: a `format: onnx` model whose `artifact` is
//! a workspace path must have the inputs and outputs the spec declares (names, dtypes,
//! shapes), and a leading dynamic batch dimension wherever a service batches it.
//!
//! This crate does no IO: the caller lists the paths with [`onnx_artifacts`], reads and
//! decodes each file ([`crate::onnx::read_signature`]) and passes what it found as the
//! [`Artifacts`] input. [`signature_diagnostics`] is a tracked query over that input and
//! the workspace, so an edit to a spec or a changed model re-runs only this check.
//!
//! Batch rule, as Triton applies it: with `max_batch_size > 0` (a `batching` block) the
//! model's first dimension is the batch dimension, which must be dynamic, and the spec's
//! shape is compared with the rest; with no `batching` the spec's shape is the whole
//! shape. A model served by no service is compared as if batched: the spec's shapes
//! leave out the batch dimension (DESIGN §1.3).

use crate::analysis::{Analysis, Decls};
use crate::checked::{Decl, Value};
use crate::db::{EnvName, Workspace, analysis, diagnostics, platform};
use crate::onnx::{Dim, OnnxError, OnnxType, OnnxValue, Signature};
use plinth_ir::{Model, Origin, Platform, Tensor};
use plinth_syntax::did_you_mean;
use plinth_syntax::{Diagnostic, Span};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub const UNREADABLE: &str = "plinth::onnx::unreadable";
pub const INVALID: &str = "plinth::onnx::invalid";
pub const NAME: &str = "plinth::onnx::name";
pub const DTYPE: &str = "plinth::onnx::dtype";
pub const SHAPE: &str = "plinth::onnx::shape";
pub const BATCH: &str = "plinth::onnx::batch";

/// Why an artifact has no signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ArtifactError {
    /// The file could not be read (missing, a folder, too large); the text says why.
    Unreadable(String),
    Invalid(OnnxError),
}

/// What the caller found at each workspace-local ONNX artifact path.
#[salsa::input(debug)]
pub struct Artifacts {
    /// Keyed by the path exactly as the spec writes it.
    #[returns(ref)]
    pub onnx: BTreeMap<String, Result<Signature, ArtifactError>>,
}

/// A path in the workspace rather than a URI (`s3://...`).
pub fn is_workspace_path(artifact: &str) -> bool {
    !artifact.is_empty() && !artifact.contains("://")
}

/// The workspace-relative artifact paths of `format: onnx` models, sorted: the files the
/// caller should read for [`Artifacts`].
pub fn onnx_artifacts(analysis: &Analysis) -> Vec<String> {
    let paths: BTreeSet<String> = analysis
        .of_kind("model")
        .filter(|d| d.body.str("format") == Some("onnx"))
        .filter_map(|d| d.body.str("artifact"))
        .filter(|a| is_workspace_path(a))
        .map(str::to_string)
        .collect();
    paths.into_iter().collect()
}

/// Every mismatch between the spec's models and their ONNX artifacts. Empty while the
/// spec has errors (there is no platform model to compare).
#[salsa::tracked(returns(ref))]
pub fn signature_diagnostics(
    db: &dyn salsa::Database,
    ws: Workspace,
    artifacts: Artifacts,
) -> Vec<Diagnostic> {
    if diagnostics(db, ws).iter().any(Diagnostic::is_error) {
        return Vec::new();
    }
    let analysis = analysis(db, ws);
    let platforms: Vec<Arc<Platform>> = analysis
        .of_kind("environment")
        .filter_map(|d| platform(db, ws, EnvName::new(db, d.name.clone())).clone())
        .collect();
    let Some(first) = platforms.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for model in first.models.values() {
        if model.format != "onnx" || !is_workspace_path(&model.artifact) {
            continue;
        }
        let Some(found) = artifacts.onnx(db).get(&model.artifact) else {
            continue;
        };
        let artifact_span = model.origin.field_span("artifact");
        match found {
            Err(ArtifactError::Unreadable(why)) => out.push(
                Diagnostic::error(
                    UNREADABLE,
                    artifact_span,
                    format!("cannot read the artifact `{}`: {why}", model.artifact),
                )
                .with_file(&model.origin.file)
                .with_help(
                    "a workspace path is relative to the folder with plinth.toml; \
                     use a URI such as `s3://...` for artifacts kept elsewhere",
                ),
            ),
            Err(ArtifactError::Invalid(why)) => out.push(
                Diagnostic::error(
                    INVALID,
                    artifact_span,
                    format!(
                        "`{}` cannot be read as an ONNX model: {why}",
                        model.artifact
                    ),
                )
                .with_file(&model.origin.file)
                .with_help(
                    "the file may be truncated or in another format; export it again \
                     (`onnx.save`) and check it with `onnx.checker.check_model`",
                ),
            ),
            Ok(sig) => {
                let servers = servers_of(&platforms, &model.name);
                let cx = ModelCheck {
                    model,
                    decls: &analysis.decls,
                    sig,
                    help: format!("`{}` has {sig}", model.artifact),
                    out: &mut out,
                };
                cx.run(&servers);
            }
        }
    }
    out.sort_by(|a, b| {
        (&a.file, a.span.start, &a.code, &a.message).cmp(&(
            &b.file,
            b.span.start,
            &b.code,
            &b.message,
        ))
    });
    out.dedup();
    out
}

/// A Triton service serving the model, in some environment.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Server {
    max_batch: u32,
    service: String,
    file: String,
    span: Span,
}

fn servers_of(platforms: &[Arc<Platform>], model: &str) -> Vec<Server> {
    let set: BTreeSet<Server> = platforms
        .iter()
        .flat_map(|p| p.services.values())
        .filter(|s| s.model == model && s.runtime == "triton")
        .map(|s| Server {
            max_batch: s.batching.as_ref().map_or(0, |b| b.max_batch),
            service: s.name.clone(),
            file: s.origin.file.clone(),
            span: batching_span(&s.origin),
        })
        .collect();
    set.into_iter().collect()
}

fn batching_span(origin: &Origin) -> Span {
    for path in ["batching.max_batch", "batching"] {
        if let Some(span) = origin.fields.get(path) {
            return *span;
        }
    }
    origin.span
}

/// Where a tensor is written in the spec.
struct Site {
    file: String,
    /// The tensor as a whole (the `inputs` item or the `input`/`output` block).
    span: Span,
    dtype: Span,
    shape: Span,
    /// Where the dtype comes from when it is not written on the tensor: the feature's
    /// `type`.
    dtype_origin: Option<(String, Span)>,
}

struct ModelCheck<'a> {
    model: &'a Model,
    decls: &'a Decls,
    sig: &'a Signature,
    help: String,
    out: &'a mut Vec<Diagnostic>,
}

impl ModelCheck<'_> {
    fn run(mut self, servers: &[Server]) {
        let model = self.model;
        let path = &model.artifact;
        for (tensor, site) in model
            .input_tensors
            .iter()
            .map(|t| (t, self.input_site(t)))
            .collect::<Vec<_>>()
        {
            match self.sig.input(&tensor.name) {
                Some(value) => self.compare(tensor, value, &site, "input", servers),
                None => {
                    let candidates = self.sig.inputs.iter().map(|v| v.name.as_str());
                    let hint = did_you_mean(&tensor.name, candidates)
                        .map(|s| format!("did you mean `{s}`? "))
                        .unwrap_or_default();
                    let help = format!("{hint}{}", self.help);
                    self.error(
                        NAME,
                        &site.file,
                        site.span,
                        format!("input `{}` is not an input of `{path}`", tensor.name),
                        help,
                    );
                }
            }
        }
        let declared: BTreeSet<&str> = model
            .input_tensors
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        let inputs_span = ["inputs", "input"]
            .iter()
            .find_map(|p| model.origin.fields.get(p).copied())
            .unwrap_or(model.origin.span);
        for value in &self.sig.inputs {
            if !declared.contains(value.name.as_str()) {
                let help = format!(
                    "Triton feeds every input of the model; declare it, as a feature in \
                     `inputs` or an `input {} {{ .. }}` block. {}",
                    value.name, self.help
                );
                self.error(
                    NAME,
                    &model.origin.file,
                    inputs_span,
                    format!(
                        "`{path}` has input `{}`, which the spec does not declare",
                        value.name
                    ),
                    help,
                );
            }
        }
        for tensor in &model.output_tensors {
            let site = self.block_site("output", &tensor.name);
            match self.sig.output(&tensor.name) {
                Some(value) => self.compare(tensor, value, &site, "output", servers),
                None => {
                    let candidates = self.sig.outputs.iter().map(|v| v.name.as_str());
                    let hint = did_you_mean(&tensor.name, candidates)
                        .map(|s| format!("did you mean `{s}`? "))
                        .unwrap_or_default();
                    let help = format!("{hint}{}", self.help);
                    self.error(
                        NAME,
                        &site.file,
                        site.span,
                        format!("output `{}` is not an output of `{path}`", tensor.name),
                        help,
                    );
                }
            }
        }
    }

    fn compare(
        &mut self,
        tensor: &Tensor,
        value: &OnnxValue,
        site: &Site,
        role: &str,
        servers: &[Server],
    ) {
        let path = &self.model.artifact;
        let name = &tensor.name;
        let shape = match &value.ty {
            OnnxType::Tensor { shape, .. } => shape,
            OnnxType::Other(kind) => {
                let help = format!("Triton serves tensors only. {}", self.help);
                self.error(
                    DTYPE,
                    &site.file,
                    site.span,
                    format!("{role} `{name}` of `{path}` is a {kind}, not a tensor"),
                    help,
                );
                return;
            }
        };
        let onnx_dtype = value.dtype_name();
        if !onnx_dtype.eq_ignore_ascii_case(&tensor.dtype) {
            let mut d = Diagnostic::error(
                DTYPE,
                site.dtype,
                format!(
                    "{role} `{name}` is {} in the spec but {onnx_dtype} in `{path}`",
                    tensor.dtype
                ),
            )
            .with_file(&site.file)
            .with_label(format!("{} here", tensor.dtype))
            .with_help(format!(
                "make the spec's dtype {onnx_dtype}, or export the model again. {}",
                self.help
            ));
            if let Some((file, span)) = &site.dtype_origin {
                d = d.with_related(
                    file,
                    *span,
                    format!("the feature's type is {}", tensor.dtype),
                );
            }
            self.out.push(d);
        }
        let Some(dims) = shape else {
            return; // the model records no shape: any shape fits
        };
        // Each distinct way the model is served: batched by some service, or not.
        let mut modes: Vec<Option<&Server>> = Vec::new();
        if let Some(s) = servers.iter().find(|s| s.max_batch > 0) {
            modes.push(Some(s));
        }
        if servers.is_empty() {
            modes.push(None);
        }
        let unbatched = servers.iter().find(|s| s.max_batch == 0);
        for mode in modes {
            let rest = match dims.split_first() {
                Some((first, rest)) if first.is_dynamic() => rest,
                _ => {
                    let shown = show_onnx(dims);
                    let (file, span, who) = match mode {
                        Some(s) => (
                            s.file.as_str(),
                            s.span,
                            format!(
                                "`{}` batches up to {} requests (Triton's max_batch_size)",
                                s.service, s.max_batch
                            ),
                        ),
                        None => (
                            site.file.as_str(),
                            site.span,
                            "the spec's shapes leave out the batch dimension".to_string(),
                        ),
                    };
                    let help = format!(
                        "with max_batch_size > 0 Triton takes the model's first dimension as \
                         the batch dimension, so it must be dynamic: export the model with a \
                         dynamic first axis, or remove `batching`. {}",
                        self.help
                    );
                    self.error(
                        BATCH,
                        file,
                        span,
                        format!(
                            "{who}, but {role} `{name}` of `{path}` has no dynamic batch dimension: its shape is {shown}"
                        ),
                        help,
                    );
                    continue;
                }
            };
            self.compare_dims(tensor, rest, dims, site, role, true);
        }
        if unbatched.is_some() {
            self.compare_dims(tensor, dims, dims, site, role, false);
        }
    }

    fn compare_dims(
        &mut self,
        tensor: &Tensor,
        compared: &[Dim],
        whole: &[Dim],
        site: &Site,
        role: &str,
        batched: bool,
    ) {
        let fits = compared.len() == tensor.dims.len()
            && compared
                .iter()
                .zip(&tensor.dims)
                .all(|(o, s)| o.is_dynamic() || matches!(o, Dim::Fixed(n) if n == s));
        if fits {
            return;
        }
        let path = &self.model.artifact;
        let spec: Vec<String> = tensor.dims.iter().map(i64::to_string).collect();
        let after = if batched {
            format!(
                " after the batch dimension (whole shape {})",
                show_onnx(whole)
            )
        } else {
            " (no batching, so the whole shape)".to_string()
        };
        let help = format!(
            "write the shape without the batch dimension; -1 is dynamic and fits only a \
             dynamic dimension of the model. {}",
            self.help
        );
        self.error(
            SHAPE,
            &site.file,
            site.shape,
            format!(
                "{role} `{}` has shape [{}] in the spec but {} in `{path}`{after}",
                tensor.name,
                spec.join(", "),
                show_onnx(compared),
            ),
            help,
        );
    }

    fn error(&mut self, code: &str, file: &str, span: Span, message: String, help: String) {
        self.out.push(
            Diagnostic::error(code, span, message)
                .with_file(file)
                .with_help(help),
        );
    }

    fn decl(&self, name: &str) -> Option<&Decl> {
        self.decls.get(name).map(|d| &**d)
    }

    /// An `input NAME { }` block, or the `inputs` item of a one-feature tensor.
    fn input_site(&self, tensor: &Tensor) -> Site {
        let block = format!("input.{}", tensor.name);
        if self.model.origin.fields.contains_key(&block) {
            return self.block_site("input", &tensor.name);
        }
        let origin = &self.model.origin;
        let whole = origin.field_span("inputs");
        let feature = tensor.features.first();
        let item = self
            .decl(&self.model.name)
            .and_then(|d| match d.body.get("inputs") {
                Some(Value::List(items)) => items
                    .iter()
                    .find(|i| matches!(&i.value, Value::FeatureRef(r) if Some(r) == feature))
                    .map(|i| i.span),
                _ => None,
            })
            .unwrap_or(whole);
        let dtype_origin = feature.and_then(|r| {
            let view = self.decl(&r.view)?;
            let (_, f) = view
                .body
                .named("feature")
                .iter()
                .find(|(n, _)| *n == r.feature)?;
            Some((view.file.clone(), f.value.span_of("type").unwrap_or(f.span)))
        });
        Site {
            file: origin.file.clone(),
            span: item,
            dtype: item,
            shape: item,
            dtype_origin,
        }
    }

    fn block_site(&self, kind: &str, name: &str) -> Site {
        let origin = &self.model.origin;
        let block = format!("{kind}.{name}");
        let span = origin.field_span(&block);
        let field = |f: &str| {
            origin
                .fields
                .get(&format!("{block}.{f}"))
                .copied()
                .unwrap_or(span)
        };
        Site {
            file: origin.file.clone(),
            span,
            dtype: field("dtype"),
            shape: field("shape"),
            dtype_origin: None,
        }
    }
}

fn show_onnx(dims: &[Dim]) -> String {
    let dims: Vec<String> = dims.iter().map(ToString::to_string).collect();
    format!("[{}]", dims.join(", "))
}
