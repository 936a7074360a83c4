//! Reading a workspace from disk: `plinth.toml` and every `*.plinth` file under the
//! folder (skipping hidden folders and the output folder).

use plinth_syntax::{Diagnostic, Span};
use rayon::prelude::*;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub build: BuildConfig,
    /// Overrides of the stdlib price table (`plinth cost`, the evidence's estimate).
    #[serde(default)]
    pub prices: plinth_targets::evidence::cost::PriceOverrides,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    #[serde(default = "default_packs")]
    pub packs: Vec<String>,
    /// Extra policy folders of the workspace, relative to it.
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default = "default_waiver_days")]
    pub max_waiver_days: u32,
}

impl PolicyConfig {
    /// No pack and no folder of the workspace's own: no policy can run (the policy
    /// engine warns), so `check` need not lower the spec for one.
    pub fn selects_nothing(&self) -> bool {
        self.packs.is_empty() && self.paths.is_empty()
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            packs: default_packs(),
            paths: Vec::new(),
            max_waiver_days: default_waiver_days(),
        }
    }
}

fn default_packs() -> Vec<String> {
    vec!["baseline".to_string()]
}

fn default_waiver_days() -> u32 {
    180
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildConfig {
    #[serde(default = "default_out")]
    pub out: String,
}

impl Default for BuildConfig {
    fn default() -> Self {
        BuildConfig { out: default_out() }
    }
}

fn default_out() -> String {
    "out".to_string()
}

pub struct Loaded {
    pub root: PathBuf,
    pub config: Config,
    /// `(workspace-relative path, text)`, sorted by path.
    pub files: Vec<(String, String)>,
    pub diagnostics: Vec<Diagnostic>,
}

fn io_error(path: &str, message: String) -> Diagnostic {
    Diagnostic::error("plinth::workspace::io", Span::default(), message).with_file(path)
}

pub fn load(root: &Path) -> Loaded {
    let mut diagnostics = Vec::new();
    let mut config = Config::default();
    let toml_path = root.join("plinth.toml");
    if let Ok(text) = std::fs::read_to_string(&toml_path) {
        match toml::from_str::<Config>(&text) {
            Ok(c) => config = c,
            Err(e) => {
                let span = e
                    .span()
                    .map_or(Span::default(), |r| Span::new(r.start, r.end));
                diagnostics.push(
                    Diagnostic::error(
                        "plinth::workspace::config",
                        span,
                        format!("invalid plinth.toml: {}", e.message()),
                    )
                    .with_file("plinth.toml"),
                );
            }
        }
    }
    let mut found = Vec::new();
    if !root.is_dir() {
        diagnostics.push(io_error(
            &root.display().to_string(),
            format!("`{}` is not a folder", root.display()),
        ));
    } else {
        let skip = root.join(&config.build.out);
        collect(root, root, &skip, &mut found);
    }
    // Read on all cores (a workspace has hundreds of files), reported in walk order.
    let read: Vec<Result<(String, String), Box<Diagnostic>>> = found
        .into_par_iter()
        .map(|entry| match entry {
            Found::Problem(d) => Err(Box::new(d)),
            Found::File { rel, path } => match std::fs::read(&path) {
                // Valid UTF-8 (nearly always) is taken as it is, without a copy.
                Ok(bytes) => {
                    let text = String::from_utf8(bytes)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                    Ok((rel, text))
                }
                Err(e) => Err(Box::new(io_error(
                    &rel,
                    format!("cannot read `{rel}`: {e}"),
                ))),
            },
        })
        .collect();
    let mut files = Vec::new();
    for r in read {
        match r {
            Ok(file) => files.push(file),
            Err(d) => diagnostics.push(*d),
        }
    }
    files.sort();
    Loaded {
        root: root.to_path_buf(),
        config,
        files,
        diagnostics,
    }
}

/// What the walk found, in walk order: a `.plinth` file to read, or a folder it could
/// not read.
enum Found {
    File { rel: String, path: PathBuf },
    Problem(Diagnostic),
}

fn collect(root: &Path, dir: &Path, skip: &Path, found: &mut Vec<Found>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            found.push(Found::Problem(io_error(
                &dir.display().to_string(),
                format!("cannot read `{}`: {e}", dir.display()),
            )));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden || path == skip {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, skip, found);
        } else if path.extension().is_some_and(|e| e == "plinth") {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            found.push(Found::File { rel, path });
        }
    }
}
