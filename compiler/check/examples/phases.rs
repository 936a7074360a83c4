//! Where a cold check spends its time, query by query (sequential, one database):
//!
//!   cargo run --release -p plinth-check --example phases -- bench/work/n5000
//!
//! Each line runs one layer of queries over every file, so the next layer finds them
//! memoized; the sum is what `recheck` reports as its cold check.

use plinth_check::db::{
    check_file, duplicate_diagnostics, file_diagnostics, file_links, file_symbols,
    graph_diagnostics, symbol_index,
};
use plinth_check::{Db, diagnostics, load, parse_file};
use std::time::Instant;

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: phases DIR");
        std::process::exit(2);
    };
    let files = common::read_workspace(&dir);
    let db = Db::default();
    let total = Instant::now();
    let ws = load(&db, plinth_check::shared(files));
    let inputs = ws.files(&db).clone();
    let phase = |name: &str, f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        println!(
            "{name:>22}: {:7.1} ms  (rss {} MB, peak {} MB)",
            start.elapsed().as_secs_f64() * 1000.0,
            status("VmRSS:"),
            status("VmHWM:"),
        );
    };
    phase("parse_file", &mut || {
        for f in &inputs {
            let _ = parse_file(&db, *f);
        }
    });
    phase("file_symbols", &mut || {
        for f in &inputs {
            let _ = file_symbols(&db, *f);
        }
    });
    phase("symbol_index", &mut || {
        let _ = symbol_index(&db, ws);
    });
    phase("check_file", &mut || {
        for f in &inputs {
            let _ = check_file(&db, ws, *f);
        }
    });
    phase("file_diagnostics", &mut || {
        for f in &inputs {
            let _ = file_diagnostics(&db, ws, *f);
        }
    });
    phase("file_links", &mut || {
        for f in &inputs {
            let _ = file_links(&db, ws, *f);
        }
    });
    phase("graph+duplicates", &mut || {
        let _ = graph_diagnostics(&db, ws);
        let _ = duplicate_diagnostics(&db, ws);
    });
    phase("diagnostics", &mut || {
        let _ = diagnostics(&db, ws);
    });
    let mut db = db;
    phase("release_trees", &mut || {
        plinth_check::release_trees(&mut db)
    });
    phase("analysis", &mut || {
        let _ = plinth_check::db::analysis(&db, ws);
    });
    let envs: Vec<String> = plinth_check::db::analysis(&db, ws)
        .of_kind("environment")
        .map(|d| d.name.clone())
        .collect();
    for env in &envs {
        phase(&format!("platform {env}"), &mut || {
            let _ = plinth_check::platform(&db, ws, plinth_check::EnvName::new(&db, env.clone()));
        });
    }
    println!(
        "{:>22}: {:7.1} ms",
        "total",
        total.elapsed().as_secs_f64() * 1000.0
    );
}

/// A line of /proc/self/status in MB (0 where there is none).
fn status(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        / 1024
}
