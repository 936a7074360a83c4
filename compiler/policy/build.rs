//! Embeds the policy packs (`policies/<pack>/*.cedar` and `policies/<pack>/tests/*`)
//! into the library, so `plinth` finds the built-in packs from any directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if name.ends_with(".cedar")
            || name.ends_with(".plinth")
            || name.ends_with(".cedarschema")
        {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.push((format!("policies/{rel}"), path.clone()));
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest.join("../../policies").canonicalize()?;
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &root, &mut files)?;
    let mut src = String::from(
        "/// The built-in policy files: `(policies/<pack>/<file>, text)`, sorted by path.\n\
         pub static FILES: &[(&str, &str)] = &[\n",
    );
    for (rel, path) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(
            src,
            "    ({rel:?}, include_str!({:?})),",
            path.display().to_string()
        )?;
    }
    src.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("embedded.rs");
    std::fs::write(out, src)?;
    Ok(())
}
