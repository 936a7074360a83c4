//! Reading model artifacts for the signature check: the one place `plinth check` and
//! `plinth build` open a model file. Each workspace-local ONNX artifact the spec names is
//! read and decoded here; `plinth_check::artifacts` compares the results with the spec.

use plinth_check::artifacts::{ArtifactError, Artifacts, onnx_artifacts, signature_diagnostics};
use plinth_check::db::analysis;
use plinth_check::onnx::{Signature, read_signature};
use plinth_check::{Db, Workspace};
use plinth_syntax::Diagnostic;
use std::collections::BTreeMap;
use std::path::Path;

/// Protobuf messages are at most 2 GiB; larger ONNX models keep weights in external files.
const MAX_ONNX_BYTES: u64 = 2 << 30;

/// The signature check's diagnostics for the workspace at `root`.
pub fn check(db: &Db, ws: Workspace, root: &Path) -> Vec<Diagnostic> {
    let paths = onnx_artifacts(analysis(db, ws));
    if paths.is_empty() {
        return Vec::new();
    }
    let found: BTreeMap<String, Result<Signature, ArtifactError>> = paths
        .into_iter()
        .map(|p| {
            let read = read(&root.join(&p));
            (p, read)
        })
        .collect();
    let input = Artifacts::new(db, found);
    signature_diagnostics(db, ws, input).clone()
}

fn read(path: &Path) -> Result<Signature, ArtifactError> {
    let unreadable = |e: std::io::Error| {
        ArtifactError::Unreadable(match e.kind() {
            std::io::ErrorKind::NotFound => "there is no such file".to_string(),
            _ => e.to_string(),
        })
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(ArtifactError::Unreadable("it is not a file".to_string()));
    }
    if meta.len() > MAX_ONNX_BYTES {
        return Err(ArtifactError::Unreadable(format!(
            "it is {} bytes, over the 2 GiB protobuf limit",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    read_signature(&bytes).map_err(ArtifactError::Invalid)
}
