//! What the benchmark examples share: reading a workspace's `.plinth` files.

/// The `.plinth` files directly in `dir` as (file name, text), sorted by name.
pub fn read_workspace(dir: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "plinth"))
        .filter_map(|p| {
            Some((
                p.file_name()?.to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).ok()?,
            ))
        })
        .collect();
    files.sort();
    files
}
