//! The Triton target: a model repository per environment, one folder per model that a
//! Triton service serves, laid out as Triton reads it and as the Kubernetes target
//! fetches it ([`crate::model_repository_uri`]`/<model>/`, served as `<model>`):
//!
//! | file | what |
//! |---|---|
//! | `model_repository/<model>/config.pbtxt` | Triton's `ModelConfig` in protobuf text |
//! | `model_repository/<model>/1/README.md` | where the artifact goes: version `1` is the spec's artifact |
//!
//! Choices a reviewer should know:
//! - One version folder, `1`, and `version_policy: { specific: { versions: [ 1 ] } }`: the
//!   spec names one artifact per model; its own version (`12.0.3`) is not an integer, so
//!   it is recorded in the header comment.
//! - `platform` comes from the model's `format` (`onnxruntime_onnx`, `tensorrt_plan`,
//!   `pytorch_libtorch`, `tensorflow_savedmodel`); `python` models use `backend: "python"`.
//! - `max_batch_size` is `batching.max_batch`, or 0 without a `batching` block. Spec shapes
//!   leave the batch dimension out, which is what Triton expects when it is above 0. A
//!   shape `[]` becomes `dims: [ 1 ]` with `reshape: { shape: [ ] }`, Triton's way of
//!   writing one scalar per batch item.
//! - `dynamic_batching` is written only with a `batching` block: `preferred` and
//!   `max_delay` in microseconds.
//! - `instance_group`: one instance per GPU on `KIND_GPU` (`gpus: [0 .. gpu-1]`) when the
//!   service requests GPUs, else one `KIND_CPU` instance.
//! - Services in one environment that serve the same model must agree on these settings:
//!   the repository has one config per model. Otherwise it is an error on the later
//!   service.
//!
//! The config is `targets/triton/config.pbtxt.hbs` as handlebars renders it in strict
//! mode with [`escape_pbtxt`] as the escape function ([`handlebars`]), so every
//! `{{value}}` is escaped as the inside of a protobuf text string: a name can never end
//! the string early. Handlebars renders it once per [`ModelConfig::shape`] with markers
//! for values (`crate::skeleton`), and each config is that skeleton with its own values
//! escaped by [`escape_pbtxt`] spliced in; [`configs_by_template`] is the plain
//! rendering, which tests compare it with.

#[cfg(test)]
mod tests;

use crate::names::model_repository_uri;
use crate::skeleton::{Fragments, Skeletons, count, marker, truthy};
use crate::{Collect, Emit, FileSink, Target};
use handlebars::Handlebars;
use plinth_ir::{Model, Platform, Service, Tensor};
use plinth_syntax::Diagnostic;
use rayon::prelude::*;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;

pub const CODE_DTYPE: &str = "plinth::triton::dtype";
pub const CODE_NAME: &str = "plinth::triton::name";
pub const CODE_CONFLICT: &str = "plinth::triton::conflict";
pub const CODE_INTERNAL: &str = "plinth::triton::internal";

const TEMPLATE: &str = include_str!("../../../../targets/triton/config.pbtxt.hbs");

/// The one model version folder.
pub const VERSION: &str = "1";

pub struct Triton;

impl Target for Triton {
    fn name(&self) -> &'static str {
        "triton"
    }

    fn emit(&self, platform: &Platform) -> Emit {
        Collect::emit(self, platform, CODE_INTERNAL)
    }

    /// Models are independent: each is rendered on whichever core is free, into
    /// buffers its worker reuses, and its two files go to the sink at once, so the
    /// repository (20,000 files at 5,000 services in two environments) is never all in
    /// memory. Diagnostics come back in model name order, whatever the scheduling.
    fn emit_to(&self, platform: &Platform, sink: &dyn FileSink) -> io::Result<Vec<Diagnostic>> {
        let skeleton_hbs = match skeleton_handlebars() {
            Ok(h) => h,
            Err(e) => {
                return Ok(vec![Diagnostic::error(
                    CODE_INTERNAL,
                    plinth_syntax::Span::default(),
                    format!("the Triton config template does not compile: {e}"),
                )]);
            }
        };
        let skeletons = Skeletons::default();
        let diagnostics: Vec<Vec<Diagnostic>> = served_models(platform)
            .par_iter()
            .map_init(
                || (Scratch::default(), String::with_capacity(1024)),
                |(scratch, readme), (model, services)| {
                    let mut view = match model_config(platform, model, services) {
                        Ok(view) => view,
                        Err(diags) => return Ok(diags),
                    };
                    let text = match splice_config(&skeleton_hbs, &skeletons, &mut view, scratch) {
                        Ok(text) => text,
                        Err(e) => {
                            return Ok(vec![
                                Diagnostic::error(
                                    CODE_INTERNAL,
                                    model.origin.span,
                                    format!(
                                        "cannot render the Triton config of `{}`: {e}",
                                        model.name
                                    ),
                                )
                                .with_file(&model.origin.file),
                            ]);
                        }
                    };
                    let dir = format!("model_repository/{}", model.name);
                    sink.write(&format!("{dir}/config.pbtxt"), text)?;
                    readme.clear();
                    version_readme(readme, platform, model, &view);
                    sink.write(&format!("{dir}/{VERSION}/README.md"), readme)?;
                    Ok(Vec::new())
                },
            )
            .collect::<io::Result<_>>()?;
        Ok(diagnostics.into_iter().flatten().collect())
    }
}

/// The models that Triton services serve, each with its services, in model name order
/// (services in name order: the platform's map is sorted by name).
fn served_models(platform: &Platform) -> Vec<(&Model, Vec<&Service>)> {
    let mut by_model: BTreeMap<&str, Vec<&Service>> = BTreeMap::new();
    for service in platform.services.values() {
        if service.runtime == "triton" {
            by_model.entry(&service.model).or_default().push(service);
        }
    }
    by_model
        .into_iter()
        // The checker reports unknown references.
        .filter_map(|(name, services)| Some((&**platform.models.get(name)?, services)))
        .collect()
}

/// A worker's buffers, reused for each config it renders.
#[derive(Default)]
struct Scratch {
    shape: Vec<u32>,
    fragments: Fragments,
    out: String,
}

/// `config.pbtxt` of one model in `scratch.out`: the skeleton of its shape with its
/// values, escaped by [`escape_pbtxt`] as [`handlebars`] escapes every `{{value}}`,
/// spliced in. `skeleton_hbs` is [`skeleton_handlebars`].
fn splice_config<'s>(
    skeleton_hbs: &Handlebars<'_>,
    skeletons: &Skeletons,
    view: &mut ModelConfig<'_>,
    scratch: &'s mut Scratch,
) -> Result<&'s str, String> {
    scratch.shape.clear();
    view.shape(&mut scratch.shape);
    scratch.fragments.clear();
    let fragments = &mut scratch.fragments;
    view.each_fragment(&mut |value| fragments.push_with(|buf| escape_pbtxt_into(value, buf)));
    let skeleton = skeletons.get(&scratch.shape, || {
        // Only for the first model of each shape: a copy of its view with markers.
        let mut markers = view.clone();
        let mut count = 0;
        markers.each_fragment(&mut |value| {
            *value = Cow::Owned(marker(count));
            count += 1;
        });
        let rendered = skeleton_hbs
            .render("config", &markers)
            .map_err(|e| e.to_string())?;
        Ok((rendered, count))
    })?;
    scratch.out.clear();
    skeleton.fill(|i| scratch.fragments.get(i), &mut scratch.out)?;
    Ok(&scratch.out)
}

/// Every Triton-served model's `config.pbtxt` as plain handlebars ([`handlebars`])
/// renders it, `(path, text)` in model order, models with diagnostics left out: the
/// reference that the spliced configs `plinth build` writes are tested against.
pub fn configs_by_template(platform: &Platform) -> Result<Vec<(String, String)>, String> {
    let hbs = handlebars().map_err(|e| e.to_string())?;
    served_models(platform)
        .iter()
        .filter_map(|(model, services)| model_config(platform, model, services).ok())
        .map(|view| {
            let text = hbs.render("config", &view).map_err(|e| e.to_string())?;
            Ok((format!("model_repository/{}/config.pbtxt", view.name), text))
        })
        .collect()
}

/// The template registry: strict mode, pbtxt escaping, no HTML escaping.
pub fn handlebars() -> Result<Handlebars<'static>, handlebars::TemplateError> {
    registry(escape_pbtxt)
}

/// The registry that renders skeletons: [`handlebars`] without escaping, since every
/// value it writes is a marker, whose NUL [`escape_pbtxt`] would change; the values
/// spliced in are escaped instead.
fn skeleton_handlebars() -> Result<Handlebars<'static>, handlebars::TemplateError> {
    registry(handlebars::no_escape)
}

fn registry(
    escape: impl Fn(&str) -> String + Send + Sync + 'static,
) -> Result<Handlebars<'static>, handlebars::TemplateError> {
    let mut h = Handlebars::new();
    h.set_strict_mode(true);
    h.register_escape_fn(escape);
    h.register_template_string("config", TEMPLATE)?;
    Ok(h)
}

/// Escapes `text` as the inside of a double-quoted protobuf text-format string: `"` and
/// `\` get a backslash, newline, carriage return and tab their C escapes, and every
/// other byte outside printable ASCII a three-digit octal escape (UTF-8 bytes included),
/// so the output is plain ASCII that Triton's C++ parser and Python's `text_format` read
/// back as exactly `text`.
pub fn escape_pbtxt(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_pbtxt_into(text, &mut out);
    out
}

/// [`escape_pbtxt`] of `text`, appended to `out`.
pub fn escape_pbtxt_into(text: &str, out: &mut String) {
    // Most values need no escape: copy them whole.
    if text
        .bytes()
        .all(|b| matches!(b, 0x20..=0x7e) && b != b'"' && b != b'\\')
    {
        out.push_str(text);
        return;
    }
    out.reserve(text.len());
    for byte in text.bytes() {
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(char::from(byte)),
            // Writing into a `String` cannot fail.
            _ => {
                let _ = write!(out, "\\{byte:03o}");
            }
        }
    }
}

pub use crate::skeleton::Text;

/// The template's data: borrowed from the platform, so building it copies no names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModelConfig<'a> {
    /// For the header comment.
    pub source: Text<'a>,
    pub model: Text<'a>,
    pub version: Text<'a>,
    pub services: Text<'a>,
    pub environment: Text<'a>,
    pub name: Text<'a>,
    pub platform: Option<Text<'a>>,
    pub backend: Option<Text<'a>>,
    pub default_model_filename: Text<'a>,
    /// A number, as text (handlebars writes a number as its decimal digits).
    pub max_batch_size: Text<'a>,
    pub inputs: Vec<TensorConfig<'a>>,
    pub outputs: Vec<TensorConfig<'a>>,
    pub dynamic_batching: Option<DynamicBatching<'a>>,
    pub instance_group: InstanceGroup<'a>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TensorConfig<'a> {
    pub name: Text<'a>,
    /// `TYPE_INT64`, ...
    pub data_type: Text<'a>,
    /// `1, 16`: the list's inside.
    pub dims: Text<'a>,
    /// A scalar per batch item: `dims: [ 1 ]` reshaped to `[ ]`.
    pub reshape: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DynamicBatching<'a> {
    /// `16, 32`, or empty.
    pub preferred_batch_size: Text<'a>,
    /// A number, as text.
    pub max_queue_delay_microseconds: Text<'a>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstanceGroup<'a> {
    /// A number, as text.
    pub count: Text<'a>,
    /// `KIND_GPU` or `KIND_CPU`.
    pub kind: Text<'a>,
    /// `0, 1`, or empty for CPU.
    pub gpus: Text<'a>,
}

impl<'a> ModelConfig<'a> {
    /// What the template decides on: each `{{#if}}` value's truth and each `{{#each}}`
    /// list's length (`@last` follows from it). Destructures the view whole, so a new
    /// field must be placed here or in [`ModelConfig::each_fragment`].
    pub fn shape(&self, out: &mut Vec<u32>) {
        let ModelConfig {
            source: _,
            model: _,
            version: _,
            services: _,
            environment: _,
            name: _,
            platform,
            backend,
            default_model_filename: _,
            max_batch_size: _,
            inputs,
            outputs,
            dynamic_batching,
            instance_group:
                InstanceGroup {
                    count: _,
                    kind: _,
                    gpus,
                },
        } = self;
        out.push(u32::from(truthy(platform.as_ref())));
        out.push(u32::from(truthy(backend.as_ref())));
        for tensors in [inputs, outputs] {
            out.push(count(tensors.len()));
            out.extend(tensors.iter().map(|t| u32::from(t.reshape)));
        }
        match dynamic_batching {
            Some(d) => out.extend([1, u32::from(truthy(Some(&d.preferred_batch_size)))]),
            None => out.push(0),
        }
        out.push(u32::from(truthy(Some(gpus))));
    }

    /// Every value the template may write, in the one order that numbers a skeleton's
    /// markers. A value that an `{{#if}}` tests is visited only when it holds (a marker
    /// in its place would make it hold); the shape says which.
    pub fn each_fragment(&mut self, f: &mut impl FnMut(&mut Text<'a>)) {
        let ModelConfig {
            source,
            model,
            version,
            services,
            environment,
            name,
            platform,
            backend,
            default_model_filename,
            max_batch_size,
            inputs,
            outputs,
            dynamic_batching,
            instance_group: InstanceGroup { count, kind, gpus },
        } = self;
        for value in [
            source,
            model,
            version,
            services,
            environment,
            name,
            default_model_filename,
            max_batch_size,
        ] {
            f(value);
        }
        for tensor in inputs.iter_mut().chain(outputs) {
            let TensorConfig {
                name,
                data_type,
                dims,
                reshape: _,
            } = tensor;
            for value in [name, data_type, dims] {
                f(value);
            }
        }
        let preferred = match dynamic_batching {
            Some(DynamicBatching {
                preferred_batch_size,
                max_queue_delay_microseconds,
            }) => {
                f(max_queue_delay_microseconds);
                Some(preferred_batch_size)
            }
            None => None,
        };
        f(count);
        f(kind);
        for value in [platform.as_mut(), backend.as_mut(), preferred, Some(gpus)]
            .into_iter()
            .flatten()
            .filter(|value| truthy(Some(value)))
        {
            f(value);
        }
    }
}

/// `(platform, backend, default_model_filename)` for a model format.
pub fn format_platform(
    format: &str,
) -> Option<(Option<&'static str>, Option<&'static str>, &'static str)> {
    Some(match format {
        "onnx" => (Some("onnxruntime_onnx"), None, "model.onnx"),
        "tensorrt" => (Some("tensorrt_plan"), None, "model.plan"),
        "torchscript" => (Some("pytorch_libtorch"), None, "model.pt"),
        "savedmodel" => (Some("tensorflow_savedmodel"), None, "model.savedmodel"),
        "python" => (None, Some("python"), "model.py"),
        _ => return None,
    })
}

/// Triton's `DataType` for a spec dtype (`stdlib/enums.plinth`, `enum dtype`).
pub fn data_type(dtype: &str) -> Option<&'static str> {
    Some(match dtype.to_ascii_lowercase().as_str() {
        "bool" => "TYPE_BOOL",
        "int8" => "TYPE_INT8",
        "int16" => "TYPE_INT16",
        "int32" => "TYPE_INT32",
        "int64" => "TYPE_INT64",
        "uint8" => "TYPE_UINT8",
        "float16" | "fp16" => "TYPE_FP16",
        "float32" | "fp32" => "TYPE_FP32",
        "float64" | "fp64" => "TYPE_FP64",
        "string" | "bytes" => "TYPE_STRING",
        _ => return None,
    })
}

/// The settings a service decides, which every service of one model must share.
fn serving(
    service: &Service,
) -> (
    Text<'static>,
    Option<DynamicBatching<'static>>,
    InstanceGroup<'static>,
) {
    let max_batch_size = service.batching.as_ref().map_or(0, |b| b.max_batch);
    let dynamic_batching = service.batching.as_ref().map(|b| DynamicBatching {
        preferred_batch_size: join(&b.preferred),
        max_queue_delay_microseconds: number(b.max_delay.millis().saturating_mul(1000)),
    });
    let gpu = service.resources.gpu;
    let instance_group = if gpu > 0 {
        InstanceGroup {
            count: Cow::Borrowed("1"),
            kind: Cow::Borrowed("KIND_GPU"),
            gpus: join(&(0..gpu).collect::<Vec<_>>()),
        }
    } else {
        InstanceGroup {
            count: Cow::Borrowed("1"),
            kind: Cow::Borrowed("KIND_CPU"),
            gpus: Cow::Borrowed(""),
        }
    };
    (number(max_batch_size), dynamic_batching, instance_group)
}

/// A number as handlebars writes it.
fn number(n: impl ToString) -> Text<'static> {
    Cow::Owned(n.to_string())
}

fn join<T: ToString>(items: &[T]) -> Text<'static> {
    Cow::Owned(
        items
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn model_config<'a>(
    platform: &'a Platform,
    model: &'a Model,
    services: &[&Service],
) -> Result<ModelConfig<'a>, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let origin = &model.origin;
    let Some((first, others)) = services.split_first() else {
        return Err(diags);
    };
    let settings = serving(first);
    for other in others {
        if serving(other) != settings {
            diags.push(
                Diagnostic::error(
                    CODE_CONFLICT,
                    other.origin.field_span("batching"),
                    format!(
                        "`{}` and `{}` both serve `{}` in `{}` with different batching or GPUs",
                        other.name, first.name, model.name, platform.environment.name
                    ),
                )
                .with_file(&other.origin.file)
                .with_help(
                    "the model repository holds one config per model: give both services \
                     the same `batching` and `resources.gpu`, or serve a copy of the model",
                )
                .with_related(
                    &first.origin.file,
                    first.origin.span,
                    "the other service",
                ),
            );
        }
    }
    if !is_repository_name(&model.name) {
        diags.push(
            Diagnostic::error(
                CODE_NAME,
                origin.span,
                format!("`{}` cannot be a Triton model folder name", model.name),
            )
            .with_file(&origin.file)
            .with_help("use letters, digits, `_`, `-` and `.`, not starting with `.`"),
        );
    }
    let Some((platform_name, backend, default_model_filename)) = format_platform(&model.format)
    else {
        diags.push(
            Diagnostic::error(
                CODE_DTYPE,
                origin.field_span("format"),
                format!("Triton cannot serve format `{}`", model.format),
            )
            .with_file(&origin.file),
        );
        return Err(diags);
    };
    let mut tensors = |list: &'a [Tensor], kind: &str| -> Vec<TensorConfig<'a>> {
        list.iter()
            .filter_map(|t| {
                let Some(data_type) = data_type(&t.dtype) else {
                    let span = origin
                        .fields
                        .get(&format!("{kind}.{}.dtype", t.name))
                        .copied()
                        .unwrap_or_else(|| origin.field_span("inputs"));
                    diags.push(
                        Diagnostic::error(
                            CODE_DTYPE,
                            span,
                            format!(
                                "{kind} `{}` is {}, which Triton has no tensor type for",
                                t.name, t.dtype
                            ),
                        )
                        .with_file(&origin.file)
                        .with_help("Triton serves bool, int8..int64, uint8, float16..float64 and string tensors; convert timestamps to int64 epoch milliseconds"),
                    );
                    return None;
                };
                Some(TensorConfig {
                    name: Cow::Borrowed(&t.name),
                    data_type: Cow::Borrowed(data_type),
                    dims: if t.dims.is_empty() {
                        Cow::Borrowed("1")
                    } else {
                        join(&t.dims)
                    },
                    reshape: t.dims.is_empty(),
                })
            })
            .collect()
    };
    let inputs = tensors(&model.input_tensors, "input");
    let outputs = tensors(&model.output_tensors, "output");
    if !diags.is_empty() {
        return Err(diags);
    }
    let (max_batch_size, dynamic_batching, instance_group) = settings;
    let names: Vec<String> = services.iter().map(|s| format!("`{}`", s.name)).collect();
    Ok(ModelConfig {
        source: Cow::Borrowed(&origin.file),
        model: Cow::Borrowed(&model.name),
        version: Cow::Borrowed(&model.version),
        services: Cow::Owned(names.join(", ")),
        environment: Cow::Borrowed(&platform.environment.name),
        name: Cow::Borrowed(&model.name),
        platform: platform_name.map(Cow::Borrowed),
        backend: backend.map(Cow::Borrowed),
        default_model_filename: Cow::Borrowed(default_model_filename),
        max_batch_size,
        inputs,
        outputs,
        dynamic_batching,
        instance_group,
    })
}

/// A folder name Triton and S3 both take as is, that stays inside `model_repository/`.
fn is_repository_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `1/README.md`: what belongs in the version folder, and where it is published;
/// appended to `out`.
fn version_readme(out: &mut String, platform: &Platform, model: &Model, view: &ModelConfig) {
    let uri = model_repository_uri(&platform.environment, &model.name);
    let file = &view.default_model_filename;
    // Writing into a `String` cannot fail.
    let _ = write!(
        out,
        "# `{name}` version {VERSION}\n\
         \n\
         Generated by plinth from `{source}`. This folder holds the model itself, which plinth\n\
         does not copy: publish the spec's artifact (version {version}) as `{file}` here.\n\
         \n\
         - artifact: `{artifact}`\n\
         - publish to: `{uri}/{VERSION}/{file}` (with `config.pbtxt` at `{uri}/config.pbtxt`)\n\
         \n\
         The Kubernetes target's pods copy `{uri}/` at start-up and serve it as `{name}`.\n",
        name = model.name,
        source = model.origin.file,
        version = model.version,
        artifact = model.artifact,
    );
}
