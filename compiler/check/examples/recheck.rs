//! Benchmark of incremental re-checking through salsa: load a workspace folder, check
//! it, then edit one file (a body edit that keeps every name) and check again.
//!
//!   cargo run --release -p plinth-check --example recheck -- bench/work/n5000
//!
//! Prints the cold check time (with `prefetch` on all cores, as the CLI and the
//! language server check; `RECHECK_SEQUENTIAL=1` for one core, and
//! `examples/phases.rs` times each layer) and the median of several one-file re-checks.

use plinth_check::{Db, diagnostics, load};

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use salsa::Setter;
use std::time::Instant;

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: recheck DIR");
        std::process::exit(2);
    };
    let files = common::read_workspace(&dir);
    let mut db = Db::default();
    let start = Instant::now();
    let ws = load(&db, plinth_check::shared(files.clone()));
    // As `plinth check` and the language server do: the per-file queries on all cores
    // (`RECHECK_SEQUENTIAL=1`: on this thread only, as this benchmark used to).
    if std::env::var_os("RECHECK_SEQUENTIAL").is_none() {
        plinth_check::prefetch(&db, ws);
    }
    let cold = diagnostics(&db, ws).len();
    let cold_ms = start.elapsed().as_secs_f64() * 1000.0;
    // As the CLI does once a workspace is checked: lowering reads no parse tree.
    plinth_check::release_trees(&mut db);
    println!(
        "cold check: {cold_ms:.1} ms ({cold} diagnostics, {} files)",
        files.len()
    );

    // Lowering every environment (what build and policies read).
    let start = Instant::now();
    let envs: Vec<String> = plinth_check::db::analysis(&db, ws)
        .of_kind("environment")
        .map(|d| d.name.clone())
        .collect();
    for env in &envs {
        let _ = plinth_check::platform(&db, ws, plinth_check::EnvName::new(&db, env.clone()));
    }
    println!(
        "lowering {} environments: {:.1} ms",
        envs.len(),
        start.elapsed().as_secs_f64() * 1000.0
    );

    // Edit a serving file: change a replica range, alternating so each edit is real.
    let inputs = ws.files(&db).clone();
    let serving: Vec<_> = inputs
        .iter()
        .filter(|f| f.text(&db).contains("replicas: 2.."))
        .collect();
    let Some(&&victim) = serving.get(serving.len() / 2) else {
        return;
    };
    let original = victim.text(&db).clone();
    let mut times = Vec::new();
    for round in 0..7 {
        let edited = if round % 2 == 0 {
            original
                .replacen("replicas: 2..", "replicas: 1..", 1)
                .into()
        } else {
            original.clone()
        };
        let start = Instant::now();
        victim.set_text(&mut db).to(edited);
        let n = diagnostics(&db, ws).len();
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        let _ = n;
    }
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    println!(
        "one-file re-check: median {median:.1} ms over {} edits of {}",
        times.len(),
        victim.path(&db)
    );
}
