//! plinth-targets: everything Plinth writes, each output format as one [`Target`].
//!
//! Architecture invariant: targets read only the platform model (`plinth_ir::Platform`,
//! one environment at a time) and never the syntax tree. A target is a pure function from
//! the model to a list of files plus diagnostics; IO happens in [`write`], called by the
//! CLI. Adding a target is adding one module and one line in [`all`].
//!
//! Names that two targets must agree on (the IAM role a ServiceAccount assumes and the
//! Terraform target creates, the artifact bucket) live in [`names`], not in either target.

pub mod airflow;
pub mod codes;
pub mod evidence;
pub mod hash;
pub mod kubernetes;
pub mod names;
mod skeleton;
pub mod terraform;
pub mod triton;
pub mod write;

#[cfg(test)]
mod test_fixtures;

pub use names::{artifact_bucket_name, iam_role_name, model_repository_uri};
pub use write::{Staged, Stager, stage_target_output, start_target_output, write_target_output};

use plinth_syntax::Diagnostic;

/// One generated file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputFile {
    /// Relative to `out/<environment>/<target>/`, `/`-separated, no `..`.
    pub path: String,
    pub contents: String,
}

/// What a target produced for one environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Emit {
    /// Sorted by path.
    pub files: Vec<OutputFile>,
    /// Problems found while lowering (names that cannot become valid object names, ...),
    /// at the IR origin of the declaration or field responsible. A declaration with an
    /// error diagnostic has no files: the target never writes output it knows is invalid.
    pub diagnostics: Vec<Diagnostic>,
}

impl Emit {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The policy results a target reads. The build computes only what its targets read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyResults {
    /// `Platform::policy`: the verdicts per declaration.
    pub verdicts: bool,
    /// `Platform::grants`: the data accesses the policies allowed.
    pub grants: bool,
    /// The decision log, which the build writes into the target's folder as
    /// `decisions.jsonl`.
    pub decision_log: bool,
}

impl PolicyResults {
    pub fn or(self, other: Self) -> Self {
        Self {
            verdicts: self.verdicts || other.verdicts,
            grants: self.grants || other.grants,
            decision_log: self.decision_log || other.decision_log,
        }
    }
}

/// A code generator: reads the platform model for one environment, returns files.
pub trait Target: Sync {
    /// The folder name under `out/<environment>/`, e.g. `kubernetes`.
    fn name(&self) -> &'static str;
    /// The policy results this target reads; none by default.
    fn policy_results(&self) -> PolicyResults {
        PolicyResults::default()
    }
    /// Must be deterministic: the same platform gives the same bytes on every run.
    fn emit(&self, platform: &plinth_ir::Platform) -> Emit;
    /// The same files as [`Target::emit`], handed to `sink` (from any thread, in any
    /// order) instead of returned, so a target that renders many files can write each as
    /// soon as it is rendered and keep none in memory. Returns the diagnostics, or the
    /// first error of `sink`. The default renders everything with `emit`, then hands the
    /// sink all files at once (which the staging writer writes on all cores).
    fn emit_to(
        &self,
        platform: &plinth_ir::Platform,
        sink: &dyn FileSink,
    ) -> std::io::Result<Vec<Diagnostic>> {
        let emit = self.emit(platform);
        sink.write_all(&emit.files)?;
        Ok(emit.diagnostics)
    }
}

/// Where [`Target::emit_to`] puts files: `path` as in [`OutputFile::path`].
pub trait FileSink: Sync {
    fn write(&self, path: &str, contents: &str) -> std::io::Result<()>;

    /// Many files at once; by default one after the other.
    fn write_all(&self, files: &[OutputFile]) -> std::io::Result<()> {
        for file in files {
            self.write(&file.path, &file.contents)?;
        }
        Ok(())
    }
}

/// Collects files in memory, sorted by path when taken: [`Target::emit`] for targets
/// that render through [`Target::emit_to`].
#[derive(Default)]
pub struct Collect(std::sync::Mutex<Vec<OutputFile>>);

impl Collect {
    /// [`Target::emit`] of a target that renders through [`Target::emit_to`]: its
    /// files collected and sorted; none when it reported an error, as when its files
    /// are staged. `internal` is the target's code for the (unreachable) case of a sink
    /// error, reported at the environment.
    pub fn emit(
        target: &(impl Target + ?Sized),
        platform: &plinth_ir::Platform,
        internal: &str,
    ) -> Emit {
        let files = Collect::default();
        let diagnostics = match target.emit_to(platform, &files) {
            Ok(diagnostics) => diagnostics,
            Err(e) => {
                let origin = &platform.environment.origin;
                vec![
                    Diagnostic::error(
                        internal,
                        origin.span,
                        format!("could not collect the {} files: {e}", target.name()),
                    )
                    .with_file(&origin.file),
                ]
            }
        };
        let failed = diagnostics.iter().any(Diagnostic::is_error);
        Emit {
            files: if failed {
                Vec::new()
            } else {
                files.into_files()
            },
            diagnostics,
        }
    }

    pub fn into_files(self) -> Vec<OutputFile> {
        let mut files = self.0.into_inner().unwrap_or_else(|e| e.into_inner());
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files
    }
}

impl FileSink for Collect {
    fn write(&self, path: &str, contents: &str) -> std::io::Result<()> {
        let contents = contents.to_string();
        let mut files = self.0.lock().unwrap_or_else(|e| e.into_inner());
        files.push(OutputFile {
            path: path.to_string(),
            contents,
        });
        Ok(())
    }
}

/// Every target, in output order.
pub fn all() -> Vec<Box<dyn Target>> {
    vec![
        Box::new(kubernetes::Kubernetes),
        Box::new(triton::Triton),
        Box::new(airflow::Airflow),
        Box::new(terraform::Terraform),
        Box::new(evidence::Evidence::default()),
    ]
}

/// The target called `name`, if there is one.
pub fn by_name(name: &str) -> Option<Box<dyn Target>> {
    all().into_iter().find(|t| t.name() == name)
}
