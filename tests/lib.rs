//! Shared helpers for the data-driven test suites in this folder.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use plinth_check::{Db, diagnostics, load};
use plinth_syntax::Diagnostic;
use std::path::{Path, PathBuf};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Checks `(path, text)` files as one workspace (with the stdlib).
pub fn check_files(files: Vec<(String, String)>) -> Vec<Diagnostic> {
    let db = Db::default();
    let ws = load(&db, files);
    diagnostics(&db, ws)
}

/// `(file name, text)` of the files in `dir` with `ext`, sorted.
pub fn read_dir_sorted(dir: &Path, ext: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            Some((name, std::fs::read_to_string(&p).ok()?))
        })
        .collect();
    out.sort();
    out
}

/// Every `*.plinth` file under `dir` (recursively), workspace-relative, sorted.
pub fn read_workspace(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "out") {
                    walk(root, &p, out);
                }
            } else if p.extension().is_some_and(|e| e == "plinth")
                && let (Ok(rel), Ok(text)) = (p.strip_prefix(root), std::fs::read_to_string(&p))
            {
                out.push((rel.to_string_lossy().into_owned(), text));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
