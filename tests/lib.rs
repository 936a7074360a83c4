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
    let ws = load(&db, plinth_check::shared(files));
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

/// Every example workspace (a folder of `examples/` with a `plinth.toml`), sorted.
pub fn examples() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(repo_root().join("examples"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("plinth.toml").exists())
        .collect();
    out.sort();
    out
}

/// The files under `dir`, relative to it, `/`-separated, sorted.
pub fn list_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Compares `files` (`(relative path, contents)`) with the golden folder `dir`, which
/// also holds a sorted `MANIFEST`: a changed, missing or extra file is a failure. With
/// `PLINTH_UPDATE_GOLDEN=1` the folder is rewritten instead; review the diff like code.
pub fn check_golden(dir: &Path, files: &[(String, String)]) -> Vec<String> {
    let mut files: Vec<&(String, String)> = files.iter().collect();
    files.sort();
    let manifest: String = files.iter().map(|(p, _)| format!("{p}\n")).collect();
    if std::env::var_os("PLINTH_UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(dir);
        for (path, contents) in &files {
            let target = dir.join(path);
            if let Some(parent) = target.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = std::fs::write(target, contents);
        }
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::write(dir.join("MANIFEST"), manifest);
        return Vec::new();
    }
    let mut failures = Vec::new();
    let shown = dir
        .strip_prefix(repo_root())
        .unwrap_or(dir)
        .display()
        .to_string();
    if std::fs::read_to_string(dir.join("MANIFEST"))
        .ok()
        .as_deref()
        != Some(manifest.as_str())
    {
        failures.push(format!(
            "{shown}/MANIFEST differs from the generated file list"
        ));
    }
    for (path, contents) in &files {
        match std::fs::read_to_string(dir.join(path)) {
            Ok(golden) if golden == *contents => {}
            Ok(_) => failures.push(format!("{shown}/{path} differs")),
            Err(_) => failures.push(format!("{shown}/{path} is missing")),
        }
    }
    let expected: std::collections::BTreeSet<&str> =
        files.iter().map(|(p, _)| p.as_str()).collect();
    for present in list_files(dir) {
        if present != "MANIFEST" && !expected.contains(present.as_str()) {
            failures.push(format!("{shown}/{present} is not generated any more"));
        }
    }
    failures
}

/// The workspace in `dir` lowered for each of its environments, as the CLI lowers it:
/// `(environment, platform)`; a workspace with errors or without environments fails
/// the test.
pub fn example_platforms(dir: &Path) -> Vec<(String, std::sync::Arc<plinth_ir::Platform>)> {
    let db = Db::default();
    let ws = load(&db, plinth_check::shared(read_workspace(dir)));
    let platforms = plinth_check::db::platforms(&db, ws).to_vec();
    assert!(!platforms.is_empty(), "{} does not lower", dir.display());
    platforms
}
