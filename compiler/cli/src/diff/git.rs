//! `plinth diff --base REV`: the workspace as it was at a git revision, written to a
//! temporary folder with git itself (`rev-parse`, `ls-tree`, `cat-file --batch`), so
//! there is no libgit2 and no second implementation of git's object store.
//!
//! Only the workspace folder is materialized, without its output folder (which may be
//! committed and large) and without hidden folders (which the loader skips anyway).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A materialized revision; the folder is removed on drop.
pub struct Checkout {
    dir: PathBuf,
}

impl Checkout {
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `git`: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "`git {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn git_line(dir: &Path, args: &[&str]) -> Result<String, String> {
    Ok(String::from_utf8_lossy(&git(dir, args)?).trim().to_string())
}

/// Writes the workspace at `dir` as of `rev` to a fresh temporary folder.
pub fn materialize(dir: &Path, rev: &str) -> Result<Checkout, String> {
    let commit = git_line(
        dir,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .map_err(|_| {
        format!(
            "`{rev}` is not a commit of the git repository at `{}`",
            dir.display()
        )
    })?;
    let top = PathBuf::from(git_line(dir, &["rev-parse", "--show-toplevel"])?);
    // The workspace's path inside the repository, `/`-terminated (empty at the top).
    let prefix = git_line(dir, &["rev-parse", "--show-prefix"])?;
    let out_dir = output_folder(&top, &commit, &prefix);
    let listing = git(
        &top,
        &[
            "ls-tree",
            "-r",
            "-z",
            "--full-tree",
            &commit,
            "--",
            &prefix_or_dot(&prefix),
        ],
    )?;
    let mut blobs: Vec<(String, String)> = Vec::new();
    for entry in listing.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        let mut meta = meta.split(' ');
        let (Some(mode), Some(kind), Some(oid)) = (meta.next(), meta.next(), meta.next()) else {
            continue;
        };
        // Submodules and symbolic links are not workspace files.
        if kind != "blob" || mode == "120000" {
            continue;
        }
        let Some(rel) = path.strip_prefix(&prefix) else {
            continue;
        };
        let hidden = rel.split('/').any(|part| part.starts_with('.'));
        let in_output = out_dir
            .as_deref()
            .is_some_and(|o| rel == o || rel.starts_with(&format!("{o}/")));
        if !hidden && !in_output {
            blobs.push((oid.to_string(), rel.to_string()));
        }
    }
    let root = std::env::temp_dir().join(format!(
        "plinth-diff-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&root)
        .map_err(|e| format!("cannot create `{}`: {e}", root.display()))?;
    let checkout = Checkout { dir: root };
    write_blobs(&top, &blobs, checkout.path())?;
    Ok(checkout)
}

fn prefix_or_dot(prefix: &str) -> String {
    if prefix.is_empty() {
        ".".to_string()
    } else {
        prefix.to_string()
    }
}

/// `[build] out` of the revision's `plinth.toml` (default `out`), relative to the
/// workspace.
fn output_folder(top: &Path, commit: &str, prefix: &str) -> Option<String> {
    let toml = git(top, &["show", &format!("{commit}:{prefix}plinth.toml")]).ok();
    let config = toml
        .and_then(|t| toml::from_str::<crate::workspace::Config>(&String::from_utf8_lossy(&t)).ok())
        .unwrap_or_default();
    let out = config.build.out.trim_matches('/').to_string();
    (!out.is_empty() && out != ".").then_some(out)
}

/// Reads every blob through one `git cat-file --batch` and writes it under `root`.
fn write_blobs(top: &Path, blobs: &[(String, String)], root: &Path) -> Result<(), String> {
    if blobs.is_empty() {
        return Ok(());
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(top)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `git cat-file`: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("cannot write to `git cat-file`")?;
    let stdout = child
        .stdout
        .take()
        .ok_or("cannot read from `git cat-file`")?;
    let request: String = blobs.iter().map(|(oid, _)| format!("{oid}\n")).collect();
    // Feed the ids on another thread so neither pipe can fill up and block the other.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(request.as_bytes());
    });
    let mut reader = BufReader::new(stdout);
    let mut result = Ok(());
    for (oid, rel) in blobs {
        let mut header = String::new();
        if reader.read_line(&mut header).map_err(|e| e.to_string())? == 0 {
            result = Err(format!("`git cat-file` stopped before `{rel}`"));
            break;
        }
        // `<oid> blob <size>`
        let size: usize = header
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                format!(
                    "`git cat-file` cannot read `{oid}` (`{rel}`): {}",
                    header.trim()
                )
            })?;
        let mut contents = vec![0u8; size];
        reader
            .read_exact(&mut contents)
            .map_err(|e| e.to_string())?;
        let mut newline = [0u8; 1];
        reader.read_exact(&mut newline).map_err(|e| e.to_string())?;
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
        }
        std::fs::write(&path, contents)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    }
    let _ = writer.join();
    let _ = child.wait();
    result
}
