//! Writing one target's output tree atomically: `out/<env>/<target>/` is either the
//! complete old tree or the complete new one, never a half-written mix.
//!
//! The new tree is written into a hidden sibling directory, then swapped in with two
//! renames (old tree aside, new tree into place) and the old tree is deleted. Any error
//! before the swap removes the temporary directory and leaves the previous output intact.
//! Between the two renames (two syscalls) the target directory is briefly absent; Linux
//! cannot rename a directory over a non-empty one without `renameat2`, which would need
//! `unsafe` FFI.

use crate::OutputFile;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Replaces `out_dir/<environment>/<target>/` with exactly `files`.
pub fn write_target_output(
    out_dir: &Path,
    environment: &str,
    target: &str,
    files: &[OutputFile],
) -> io::Result<()> {
    check_segment(environment)?;
    check_segment(target)?;
    let parent = out_dir.join(environment);
    fs::create_dir_all(&parent)?;
    let final_dir = parent.join(target);
    let pid = std::process::id();
    let staging = parent.join(format!(".{target}.new-{pid}"));
    let retired = parent.join(format!(".{target}.old-{pid}"));

    remove_if_present(&staging)?;
    if let Err(err) = write_tree(&staging, files) {
        let _ = fs::remove_dir_all(&staging);
        return Err(err);
    }

    let had_old = final_dir.exists();
    if had_old {
        remove_if_present(&retired)?;
        if let Err(err) = fs::rename(&final_dir, &retired) {
            let _ = fs::remove_dir_all(&staging);
            return Err(err);
        }
    }
    if let Err(err) = fs::rename(&staging, &final_dir) {
        // Put the old tree back so the previous output stays usable.
        if had_old {
            let _ = fs::rename(&retired, &final_dir);
        }
        let _ = fs::remove_dir_all(&staging);
        return Err(err);
    }
    if had_old {
        fs::remove_dir_all(&retired)?;
    }
    Ok(())
}

fn write_tree(root: &Path, files: &[OutputFile]) -> io::Result<()> {
    fs::create_dir_all(root)?;
    for file in files {
        let path = relative_path(root, &file.path)?;
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::write(&path, file.contents.as_bytes())?;
    }
    Ok(())
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
