//! The binary as a user runs it: exit codes, output formats, init, fmt, build.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn plinth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .output()
        .unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plinth-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn spec_errors_exit_2_with_json_positions() {
    let dir = temp_dir("bad");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("a.plinth"),
        "team t {\n  owner: \"t@example.com\"\n  oncall: 5m\n}\n",
    )
    .unwrap();
    let out = plinth(&["check", dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["severity"] == "error")
        .unwrap();
    assert_eq!(d["code"], "plinth::type::mismatch");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "a.plinth");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(3), Some(11))
    );
    assert_eq!(
        (d["end_line"].as_u64(), d["end_column"].as_u64()),
        (Some(3), Some(13))
    );
    assert_eq!(json["summary"]["errors"], 1);
}

#[test]
fn human_output_shows_code_snippet_and_help() {
    let dir = temp_dir("human");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("a.plinth"),
        "environment prod { tier: prodution  region: eu_west_1 }\n",
    )
    .unwrap();
    let out = plinth(&["check", dir.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("plinth::type::enum"), "{text}");
    assert!(text.contains("a.plinth:1:26"), "{text}");
    assert!(text.contains("did you mean `production`?"), "{text}");
}

#[test]
fn init_creates_a_workspace_that_checks_clean() {
    for profile in ["tier1_online", "tier2_online", "batch_standard"] {
        let dir = temp_dir(profile);
        let out = plinth(&["init", dir.to_str().unwrap(), "--profile", profile]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = plinth(&["check", dir.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{profile}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = plinth(&["fmt", dir.to_str().unwrap(), "--check"]);
        assert!(
            out.status.success(),
            "{profile}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        // A second init refuses to overwrite.
        assert_eq!(
            plinth(&["init", dir.to_str().unwrap()]).status.code(),
            Some(2)
        );
    }
    assert_eq!(
        plinth(&["init", temp_dir("x").to_str().unwrap(), "--profile", "gold"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn explain_documents_codes() {
    let out = plinth(&["explain", "plinth::type::unit"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("4Gi"), "{text}");
    let out = plinth(&["explain", "plinth::type::unti"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `plinth::type::unit`?"));
}

#[test]
fn fmt_check_fails_on_unformatted_files() {
    let dir = temp_dir("fmt");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.plinth"), "team t {owner:\"t@example.com\"}").unwrap();
    assert_eq!(
        plinth(&["fmt", dir.to_str().unwrap(), "--check"])
            .status
            .code(),
        Some(2)
    );
    assert!(plinth(&["fmt", dir.to_str().unwrap()]).status.success());
    assert!(
        plinth(&["fmt", dir.to_str().unwrap(), "--check"])
            .status
            .success()
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("a.plinth")).unwrap(),
        "team t {\n  owner: \"t@example.com\"\n}\n"
    );
}

#[test]
fn build_is_byte_identical_and_check_detects_staleness() {
    let example = repo().join("examples/fraud-detection");
    let (a, b) = (temp_dir("build-a"), temp_dir("build-b"));
    for out in [&a, &b] {
        let res = plinth(&[
            "build",
            example.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(
            res.status.success(),
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
    }
    let list = |root: &Path| {
        let mut files = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.push((
                        p.strip_prefix(root).unwrap().to_path_buf(),
                        std::fs::read(&p).unwrap(),
                    ));
                }
            }
        }
        files.sort();
        files
    };
    let (fa, fb) = (list(&a), list(&b));
    assert!(!fa.is_empty());
    assert!(fa == fb, "two builds differ");
    let check = plinth(&[
        "build",
        example.to_str().unwrap(),
        "--out",
        a.to_str().unwrap(),
        "--check",
    ]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let (victim, _) = &fa[0];
    std::fs::write(a.join(victim), "edited by hand\n").unwrap();
    let check = plinth(&[
        "build",
        example.to_str().unwrap(),
        "--out",
        a.to_str().unwrap(),
        "--check",
    ]);
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stdout).contains(&victim.to_string_lossy().to_string()));
}
