//! Writing one target's output tree atomically: `out/<env>/<target>/` is either the
//! complete old tree or the complete new one, never a half-written mix.
//!
//! The new tree is written into a hidden sibling directory ([`stage_target_output`]),
//! then swapped in with two renames (old tree aside, new tree into place) and the old
//! tree is deleted ([`Staged::commit`]). Staging and committing are separate so the CLI
//! can write each target as soon as it is rendered and drop it from memory, and still
//! swap nothing in when a later target reports an error: a [`Staged`] tree that is
//! dropped uncommitted is removed, leaving the previous output intact. Between the two
//! renames (two syscalls) the target directory is briefly absent; Linux cannot rename a
//! directory over a non-empty one without `renameat2`, which would need `unsafe` FFI.
//!
//! A target can also stream into a staging directory file by file ([`Stager`], for
//! [`crate::Target::emit_to`]), so its files need not all be in memory at once.
//!
//! Each file is written exactly once (no read-back, no comparison with the old tree),
//! in parallel: file contents are copied into the page cache by whichever core is free,
//! which roughly halves the time for tens of thousands of files on two cores.

use crate::{FileSink, OutputFile};
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Replaces `out_dir/<environment>/<target>/` with exactly `files`.
pub fn write_target_output(
    out_dir: &Path,
    environment: &str,
    target: &str,
    files: &[OutputFile],
) -> io::Result<()> {
    stage_target_output(out_dir, environment, target, files)?.commit()
}

/// A complete new output tree written next to `out/<env>/<target>/`, not yet in place.
/// Dropping it without [`Staged::commit`] deletes it.
#[derive(Debug)]
pub struct Staged {
    staging: PathBuf,
    final_dir: PathBuf,
    retired: PathBuf,
    committed: bool,
}

/// Writes `files` into a hidden staging directory beside `out_dir/<environment>/<target>/`.
/// Every path is checked before anything is written; on any error the staging directory
/// is removed and the previous output is untouched.
pub fn stage_target_output(
    out_dir: &Path,
    environment: &str,
    target: &str,
    files: &[OutputFile],
) -> io::Result<Staged> {
    check_segment(environment)?;
    check_segment(target)?;
    let parent = out_dir.join(environment);
    fs::create_dir_all(&parent)?;
    let pid = std::process::id();
    let staged = Staged {
        staging: parent.join(format!(".{target}.new-{pid}")),
        final_dir: parent.join(target),
        retired: parent.join(format!(".{target}.old-{pid}")),
        committed: false,
    };
    remove_if_present(&staged.staging)?;
    // On error `staged` is dropped here, which removes whatever was written.
    write_tree(&staged.staging, files)?;
    Ok(staged)
}

/// A staging directory being written file by file, from any thread: the streaming form
/// of [`stage_target_output`], for [`crate::Target::emit_to`]. Each path is checked
/// as it arrives; after an error the caller drops the stager, which removes what was
/// written. [`Stager::finish`] gives the [`Staged`] tree to commit.
#[derive(Debug)]
pub struct Stager {
    staged: Staged,
    files: AtomicUsize,
    bytes: AtomicUsize,
}

/// Starts an empty staging directory beside `out_dir/<environment>/<target>/`.
pub fn start_target_output(out_dir: &Path, environment: &str, target: &str) -> io::Result<Stager> {
    let staged = stage_target_output(out_dir, environment, target, &[])?;
    Ok(Stager {
        staged,
        files: AtomicUsize::new(0),
        bytes: AtomicUsize::new(0),
    })
}

impl Stager {
    /// Files and bytes written so far.
    pub fn written(&self) -> (usize, usize) {
        (
            self.files.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }

    pub fn finish(self) -> Staged {
        self.staged
    }
}

impl FileSink for Stager {
    fn write(&self, path: &str, contents: &str) -> io::Result<()> {
        let root = &self.staged.staging;
        let path = relative_path(root, path)?;
        // Most files go into a folder an earlier file created: try the write first and
        // make the folder only when it is missing (two syscalls less per file).
        match fs::write(&path, contents) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| *d != root.as_path()) {
                    fs::create_dir_all(dir)?;
                }
                fs::write(&path, contents)?;
            }
            written => written?,
        }
        self.files.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(contents.len(), Ordering::Relaxed);
        Ok(())
    }

    /// As [`stage_target_output`] writes: every path checked and every folder made
    /// first, then the files on all cores.
    fn write_all(&self, files: &[OutputFile]) -> io::Result<()> {
        write_tree(&self.staged.staging, files)?;
        self.files.fetch_add(files.len(), Ordering::Relaxed);
        let bytes = files.iter().map(|f| f.contents.len()).sum::<usize>();
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        Ok(())
    }
}

impl Staged {
    /// Swaps the staged tree into place and deletes the old one.
    pub fn commit(mut self) -> io::Result<()> {
        let had_old = self.final_dir.exists();
        if had_old {
            remove_if_present(&self.retired)?;
            fs::rename(&self.final_dir, &self.retired)?;
        }
        if let Err(err) = fs::rename(&self.staging, &self.final_dir) {
            // Put the old tree back so the previous output stays usable.
            if had_old {
                let _ = fs::rename(&self.retired, &self.final_dir);
            }
            return Err(err);
        }
        self.committed = true;
        if had_old {
            fs::remove_dir_all(&self.retired)?;
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

fn write_tree(root: &Path, files: &[OutputFile]) -> io::Result<()> {
    // Check every path and create every directory first, so the parallel part only
    // creates files and a bad path fails before anything is written.
    let paths = files
        .iter()
        .map(|f| relative_path(root, &f.path))
        .collect::<io::Result<Vec<PathBuf>>>()?;
    fs::create_dir_all(root)?;
    let dirs: BTreeSet<&Path> = paths
        .iter()
        .filter_map(|p| p.parent())
        .filter(|d| *d != root)
        .collect();
    for dir in dirs {
        fs::create_dir_all(dir)?;
    }
    paths
        .par_iter()
        .zip(files.par_iter())
        .try_for_each(|(path, file)| fs::write(path, file.contents.as_bytes()))
}

/// `root` joined with a `/`-separated relative path that must not escape it.
fn relative_path(root: &Path, relative: &str) -> io::Result<PathBuf> {
    let mut path = root.to_path_buf();
    let mut segments = 0;
    for segment in relative.split('/') {
        check_segment(segment)?;
        path.push(segment);
        segments += 1;
    }
    if segments == 0 {
        return Err(invalid(relative));
    }
    Ok(path)
}

/// One plain path component: not empty, not `.`/`..`, no separators.
fn check_segment(segment: &str) -> io::Result<()> {
    let mut components = Path::new(segment).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(_)), None) if !segment.contains(['/', '\\']) => Ok(()),
        _ => Err(invalid(segment)),
    }
}

fn invalid(path: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("output path `{path}` is not a plain relative path"),
    )
}

fn remove_if_present(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, contents: &str) -> OutputFile {
        OutputFile {
            path: path.to_string(),
            contents: contents.to_string(),
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("plinth-write-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn replaces_the_whole_tree() {
        let out = scratch("replace");
        write_target_output(
            &out,
            "prod",
            "kubernetes",
            &[file("a/x.yaml", "1"), file("b.yaml", "2")],
        )
        .unwrap();
        write_target_output(&out, "prod", "kubernetes", &[file("a/y.yaml", "3")]).unwrap();
        let root = out.join("prod/kubernetes");
        assert!(!root.join("a/x.yaml").exists(), "stale file survived");
        assert!(!root.join("b.yaml").exists(), "stale file survived");
        assert_eq!(fs::read_to_string(root.join("a/y.yaml")).unwrap(), "3");
        let leftovers: Vec<_> = fs::read_dir(out.join("prod"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec!["kubernetes"]);
        fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn a_failed_write_keeps_the_old_output() {
        let out = scratch("failed");
        write_target_output(&out, "prod", "kubernetes", &[file("ok.yaml", "old")]).unwrap();
        let err = write_target_output(
            &out,
            "prod",
            "kubernetes",
            &[file("new.yaml", "new"), file("../escape.yaml", "x")],
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let root = out.join("prod/kubernetes");
        assert_eq!(fs::read_to_string(root.join("ok.yaml")).unwrap(), "old");
        assert!(!root.join("new.yaml").exists());
        assert!(!out.join("prod/escape.yaml").exists());
        assert_eq!(fs::read_dir(out.join("prod")).unwrap().count(), 1);
        fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn a_staged_tree_dropped_uncommitted_leaves_the_old_output() {
        let out = scratch("dropped");
        write_target_output(&out, "prod", "kubernetes", &[file("ok.yaml", "old")]).unwrap();
        let staged =
            stage_target_output(&out, "prod", "kubernetes", &[file("ok.yaml", "new")]).unwrap();
        // Staged next to the old tree, not in it.
        let root = out.join("prod/kubernetes");
        assert_eq!(fs::read_to_string(root.join("ok.yaml")).unwrap(), "old");
        assert_eq!(fs::read_dir(out.join("prod")).unwrap().count(), 2);
        drop(staged);
        assert_eq!(fs::read_to_string(root.join("ok.yaml")).unwrap(), "old");
        assert_eq!(fs::read_dir(out.join("prod")).unwrap().count(), 1);
        fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn many_files_in_nested_folders_are_all_written() {
        let out = scratch("many");
        let files: Vec<OutputFile> = (0..500)
            .map(|i| file(&format!("d{}/e{}/f{i}.yaml", i % 7, i % 3), &i.to_string()))
            .collect();
        write_target_output(&out, "prod", "kubernetes", &files).unwrap();
        let root = out.join("prod/kubernetes");
        for f in &files {
            assert_eq!(fs::read_to_string(root.join(&f.path)).unwrap(), f.contents);
        }
        fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn a_streamed_tree_replaces_the_old_one_and_a_bad_path_writes_nothing() {
        let out = scratch("streamed");
        write_target_output(&out, "prod", "kubernetes", &[file("old.yaml", "old")]).unwrap();
        let stager = start_target_output(&out, "prod", "kubernetes").unwrap();
        stager.write("a/x.yaml", "1").unwrap();
        stager.write("b.yaml", "22").unwrap();
        stager
            .write_all(&[file("c/d/e.yaml", "333"), file("f.yaml", "")])
            .unwrap();
        assert_eq!(stager.written(), (4, 6));
        stager.finish().commit().unwrap();
        let root = out.join("prod/kubernetes");
        assert!(!root.join("old.yaml").exists(), "stale file survived");
        assert_eq!(fs::read_to_string(root.join("a/x.yaml")).unwrap(), "1");
        assert_eq!(fs::read_to_string(root.join("b.yaml")).unwrap(), "22");
        assert_eq!(fs::read_to_string(root.join("c/d/e.yaml")).unwrap(), "333");

        let stager = start_target_output(&out, "prod", "kubernetes").unwrap();
        stager.write("new.yaml", "new").unwrap();
        assert!(stager.write("../escape.yaml", "x").is_err());
        drop(stager);
        assert!(!out.join("prod/escape.yaml").exists());
        assert!(!root.join("new.yaml").exists());
        assert_eq!(fs::read_to_string(root.join("b.yaml")).unwrap(), "22");
        assert_eq!(fs::read_dir(out.join("prod")).unwrap().count(), 1);
        fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn rejects_paths_that_are_not_plain() {
        let out = scratch("paths");
        for bad in ["", "/abs.yaml", "a//b", "./a", "a/../b", "a\\b"] {
            assert!(
                write_target_output(&out, "prod", "k", &[file(bad, "")]).is_err(),
                "{bad:?} was accepted"
            );
        }
        assert!(write_target_output(&out, "..", "k", &[]).is_err());
        let _ = fs::remove_dir_all(&out);
    }
}
