//! The output layer of `plinth diff`: per environment and target, generated files
//! added, removed and changed, each with a unified diff.
//!
//! Files are compared by contents first; only the few that differ are canonicalized and
//! diffed. A multi-document YAML file (the Kubernetes target writes one per service) is
//! compared object by object, matched by `kind` and `metadata.name`: each changed object
//! is its own entry, `<file>#<Kind>/<name>`, so a reorder is not a change and an object
//! whose only change is its spec hash folds like a file would. A file whose only differences are the spec file it names (the
//! provenance a target records, such as `plinth.dev/source` or a "Generated from"
//! header, and the Kubernetes spec hash that covers it) is not a change either: moving a
//! declaration between files changes nothing that runs.

use rayon::prelude::*;
use serde::Serialize;
use similar::TextDiff;
use std::collections::{BTreeMap, BTreeSet};

/// Per `(environment, target)`, the files by path.
pub type Outputs = BTreeMap<(String, String), BTreeMap<String, String>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    Added,
    Removed,
    Changed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileDelta {
    pub status: FileStatus,
    /// Relative to `out/<environment>/<target>/`; `<file>#<Kind>/<name>` for one object
    /// of a multi-document YAML file.
    pub path: String,
    /// Lines added and removed in the unified diff.
    pub added_lines: usize,
    pub removed_lines: usize,
    /// Only the spec-hash label changed (renderers fold these).
    pub spec_hash_only: bool,
    /// The unified diff (`--- a/… +++ b/…`); empty with `--summary`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub diff: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetDelta {
    pub environment: String,
    pub target: String,
    pub files: Vec<FileDelta>,
}

/// The differing files, and how many differ only in provenance.
pub fn compare(old: &Outputs, new: &Outputs, with_diffs: bool) -> (Vec<TargetDelta>, usize) {
    let empty = BTreeMap::new();
    let keys: BTreeSet<&(String, String)> = old.keys().chain(new.keys()).collect();
    let mut deltas = Vec::new();
    let mut provenance_only = 0usize;
    for key in keys {
        let (env, target) = key;
        let before = old.get(key).unwrap_or(&empty);
        let after = new.get(key).unwrap_or(&empty);
        let paths: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        // Cheap first pass: equal contents (nearly every file) are skipped here.
        let differing: Vec<(String, Option<String>, Option<String>)> = paths
            .into_iter()
            .map(|p| (p, before.get(p), after.get(p)))
            .filter(|(_, b, a)| b != a)
            .flat_map(|(p, b, a)| split_objects(p, b, a))
            .collect();
        let files: Vec<Option<FileDelta>> = differing
            .par_iter()
            .map(|(path, b, a)| {
                file_delta(
                    &format!("{env}/{target}/{path}"),
                    path,
                    b.as_ref(),
                    a.as_ref(),
                    with_diffs,
                )
            })
            .collect();
        provenance_only += files.iter().filter(|f| f.is_none()).count();
        let files: Vec<FileDelta> = files.into_iter().flatten().collect();
        if !files.is_empty() {
            deltas.push(TargetDelta {
                environment: env.clone(),
                target: target.clone(),
                files,
            });
        }
    }
    (deltas, provenance_only)
}

/// `None` when the two versions are the same up to object order and provenance.
fn file_delta(
    full: &str,
    path: &str,
    before: Option<&String>,
    after: Option<&String>,
    with_diffs: bool,
) -> Option<FileDelta> {
    let mut spec_hash_only = false;
    let (status, b, a) = match (before, after) {
        (None, Some(a)) => (FileStatus::Added, String::new(), a.clone()),
        (Some(b), None) => (FileStatus::Removed, b.clone(), String::new()),
        (Some(b), Some(a)) => {
            if moved_only(b, a) {
                return None;
            }
            spec_hash_only = drop_spec_hash(b) == drop_spec_hash(a);
            (FileStatus::Changed, b.clone(), a.clone())
        }
        (None, None) => return None,
    };
    let diff = TextDiff::from_lines(&b, &a);
    let (mut added_lines, mut removed_lines) = (0, 0);
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => added_lines += 1,
            similar::ChangeTag::Delete => removed_lines += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let text = if with_diffs {
        let old_name = if status == FileStatus::Added {
            "/dev/null".to_string()
        } else {
            format!("a/{full}")
        };
        let new_name = if status == FileStatus::Removed {
            "/dev/null".to_string()
        } else {
            format!("b/{full}")
        };
        diff.unified_diff()
            .context_radius(3)
            .header(&old_name, &new_name)
            .to_string()
    } else {
        String::new()
    };
    Some(FileDelta {
        status,
        path: path.to_string(),
        added_lines,
        removed_lines,
        spec_hash_only,
        diff: text,
    })
}

/// A differing file as the entries to compare: the file itself, or for a YAML stream with
/// more than one document on either side, each object that differs (`<file>#<Kind>/<name>`).
fn split_objects(
    path: &str,
    before: Option<&String>,
    after: Option<&String>,
) -> Vec<(String, Option<String>, Option<String>)> {
    let whole = || vec![(path.to_string(), before.cloned(), after.cloned())];
    if !(path.ends_with(".yaml") || path.ends_with(".yml")) {
        return whole();
    }
    let objects = |text: Option<&String>| -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for doc in text.map(|t| split_documents(t)).unwrap_or_default() {
            let (kind, name) = object_key(doc);
            let mut key = format!("{path}#{kind}/{name}");
            // Two documents with one kind and name would be a target bug; keep both.
            while out.contains_key(&key) {
                key.push('\'');
            }
            out.insert(key, doc.to_string());
        }
        out
    };
    let (b, a) = (objects(before), objects(after));
    // A file added or removed as a whole is one entry, and so is one with more than
    // one object on neither side.
    if before.is_none() || after.is_none() || (b.len() < 2 && a.len() < 2) {
        return whole();
    }
    let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    let entries: Vec<(String, Option<String>, Option<String>)> = keys
        .into_iter()
        .map(|k| (k, b.get(k), a.get(k)))
        .filter(|(_, b, a)| b != a)
        .map(|(k, b, a)| (k.clone(), b.cloned(), a.cloned()))
        .collect();
    // When every object only got a new spec hash (or moved), the file folds as one.
    let hash_only = |e: &(String, Option<String>, Option<String>)| match e {
        (_, Some(b), Some(a)) => drop_spec_hash(b) == drop_spec_hash(a) || moved_only(b, a),
        _ => false,
    };
    // (No entries at all: the objects were only reordered.)
    if !entries.is_empty() && entries.iter().all(hash_only) {
        return whole();
    }
    entries
}

/// The documents of a YAML stream, split at `---` lines (empty ones dropped).
fn split_documents(text: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut offset = 0usize;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            docs.push(text.get(start..offset).unwrap_or(""));
            start = offset + line.len();
        }
        offset += line.len();
    }
    docs.push(text.get(start..).unwrap_or(""));
    docs.into_iter().filter(|d| !d.trim().is_empty()).collect()
}

/// `(kind, metadata.name)` of a YAML object, read from its top-level lines (generated
/// YAML is block style, so these are at fixed indentation).
fn object_key(doc: &str) -> (String, String) {
    let mut kind = String::new();
    let mut name = String::new();
    let mut in_metadata = false;
    for line in doc.lines() {
        if let Some(k) = line.strip_prefix("kind:") {
            kind = k.trim().to_string();
        }
        if !line.starts_with(' ') {
            in_metadata = line.trim_end() == "metadata:";
        } else if in_metadata
            && name.is_empty()
            && let Some(n) = line.strip_prefix("  name:")
        {
            name = n.trim().trim_matches('"').to_string();
        }
    }
    (kind, name)
}

/// The two versions differ only because the declaration moved to another spec file:
/// the file names differ, and nothing else does except the spec hash (which covers the
/// file name). A spec hash that changes on its own is a real change and is listed.
fn moved_only(before: &str, after: &str) -> bool {
    let (b, a) = (drop_spec_hash(before), drop_spec_hash(after));
    b != a && mask_paths(&b) == mask_paths(&a)
}

/// Targets label objects with a hash of the IR they come from: Kubernetes as the
/// `plinth.dev/spec-hash` annotation, Terraform as the `plinth:spec-hash` tag.
const SPEC_HASH: &str = "spec-hash";

fn drop_spec_hash(text: &str) -> String {
    text.split_inclusive('\n')
        .filter(|l| !l.contains(SPEC_HASH))
        .collect()
}

/// Every `*.plinth` path becomes `<spec>`.
fn mask_paths(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let mut rest = line;
        while let Some(i) = rest.find(".plinth") {
            let (head, tail) = rest.split_at(i);
            let keep = head
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || "_-./".contains(c)))
                .map_or(0, |j| j + 1);
            out.push_str(head.get(..keep).unwrap_or(""));
            out.push_str("<spec>");
            rest = tail.get(".plinth".len()..).unwrap_or("");
        }
        out.push_str(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_streams_are_compared_object_by_object() {
        let svc = |name: &str, port: u16| {
            format!("kind: Service\nmetadata:\n  name: {name}\nspec:\n  port: {port}\n")
        };
        let a = format!("{}---\n{}", svc("b", 1), svc("a", 1));
        // Reordered, `a` changed, `c` added.
        let b = format!("{}---\n{}---\n{}", svc("a", 2), svc("b", 1), svc("c", 1));
        let entries = split_objects("s.yaml", Some(&a), Some(&b));
        let summary: Vec<(&str, bool, bool)> = entries
            .iter()
            .map(|(p, b, a)| (p.as_str(), b.is_some(), a.is_some()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("s.yaml#Service/a", true, true),
                ("s.yaml#Service/c", false, true)
            ]
        );
        // A reorder alone is no entry at all; other files stay whole.
        let reordered = format!("{}---\n{}", svc("a", 1), svc("b", 1));
        assert!(split_objects("s.yaml", Some(&a), Some(&reordered)).is_empty());
        assert_eq!(split_objects("s.txt", Some(&a), Some(&b)).len(), 1);
        // A file added whole stays one entry; so does one whose objects only got new
        // spec hashes.
        assert_eq!(split_objects("s.yaml", None, Some(&b)).len(), 1);
        let hashed = |h: &str| {
            format!("{}---\n{}", svc("a", 1), svc("b", 1))
                .replace("spec:", &format!("  spec-hash: {h}\nspec:"))
        };
        assert_eq!(
            split_objects("s.yaml", Some(&hashed("1")), Some(&hashed("2"))).len(),
            1
        );
    }

    #[test]
    fn a_move_between_spec_files_is_not_a_change() {
        let a = "# Generated by plinth from serving.plinth. Do not edit\n  plinth.dev/source: serving.plinth\n  plinth.dev/spec-hash: 1234\nx: 1\n";
        let b = "# Generated by plinth from sub/other_file.plinth. Do not edit\n  plinth.dev/source: sub/other_file.plinth\n  plinth.dev/spec-hash: 9999\nx: 1\n";
        assert!(moved_only(a, b));
        // Anything else that differs is a change.
        assert!(!moved_only(a, &b.replace("x: 1", "x: 2")));
        // So is a spec hash that changes while the file name stays.
        assert!(!moved_only(a, &a.replace("1234", "9999")));
    }

    #[test]
    fn changed_added_and_removed_files_with_diffs() {
        let mut old = Outputs::new();
        let mut new = Outputs::new();
        let key = ("prod".to_string(), "kubernetes".to_string());
        old.entry(key.clone()).or_default().extend([
            ("a.yaml".to_string(), "x: 1\ny: 2\n".to_string()),
            ("gone.yaml".to_string(), "z: 1\n".to_string()),
            ("same.yaml".to_string(), "s: 1\n".to_string()),
        ]);
        new.entry(key).or_default().extend([
            ("a.yaml".to_string(), "x: 1\ny: 3\n".to_string()),
            ("new.yaml".to_string(), "n: 1\n".to_string()),
            ("same.yaml".to_string(), "s: 1\n".to_string()),
        ]);
        let (deltas, provenance) = compare(&old, &new, true);
        assert_eq!(provenance, 0);
        let files = &deltas[0].files;
        let summary: Vec<(FileStatus, &str, usize, usize)> = files
            .iter()
            .map(|f| (f.status, f.path.as_str(), f.added_lines, f.removed_lines))
            .collect();
        assert_eq!(
            summary,
            vec![
                (FileStatus::Changed, "a.yaml", 1, 1),
                (FileStatus::Removed, "gone.yaml", 0, 1),
                (FileStatus::Added, "new.yaml", 1, 0),
            ]
        );
        assert_eq!(
            files[0].diff,
            "--- a/prod/kubernetes/a.yaml\n+++ b/prod/kubernetes/a.yaml\n@@ -1,2 +1,2 @@\n x: 1\n-y: 2\n+y: 3\n"
        );
        assert!(
            files[2]
                .diff
                .starts_with("--- /dev/null\n+++ b/prod/kubernetes/new.yaml\n")
        );
    }
}
