//! plinth-check: the salsa database and every check of the language, from names to
//! the dependency graph, and lowering of the checked spec into the platform model.
//!
//! Architecture invariant: this crate does no IO. Files arrive as salsa inputs (the
//! stdlib is embedded at compile time); callers read and write disk.

pub mod analysis;
pub mod artifacts;
pub mod checked;
pub mod codes;
mod cron;
pub mod db;
pub mod index;
pub mod lower;
pub mod onnx;
pub mod schema;
pub mod typeck;
mod units;

pub use db::{
    Db, EnvName, File, Workspace, diagnostics, parse_file, platform, prefetch, release_trees,
};
pub use plinth_syntax::did_you_mean;

/// The stdlib sources, embedded: `(path, text)`.
pub const STDLIB: [(&str, &str); 2] = [
    (
        "std/enums.plinth",
        include_str!("../../../stdlib/enums.plinth"),
    ),
    (
        "std/profiles.plinth",
        include_str!("../../../stdlib/profiles.plinth"),
    ),
];

/// `(path, text)` files with shareable texts, as [`load`] takes them.
pub fn shared(files: Vec<(String, String)>) -> Vec<(String, std::sync::Arc<str>)> {
    files.into_iter().map(|(p, t)| (p, t.into())).collect()
}

/// A workspace in a fresh database: the stdlib plus `files` (`(path, text)`), sorted by
/// path so the result does not depend on the order files were found in.
pub fn load(db: &Db, files: Vec<(String, std::sync::Arc<str>)>) -> Workspace {
    let mut files = files;
    files.sort();
    let mut inputs: Vec<File> = STDLIB
        .iter()
        .map(|(p, t)| {
            File::builder(p.to_string(), std::sync::Arc::from(*t))
                .durability(salsa::Durability::HIGH)
                .new(db)
        })
        .collect();
    inputs.extend(files.into_iter().map(|(p, t)| File::new(db, p, t)));
    Workspace::new(db, inputs)
}
