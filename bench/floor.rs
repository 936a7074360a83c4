//! The cost of writing a build's files and nothing else: the floor under `plinth build`.
//!
//! Reads a listing of `SIZE PATH` lines (the files of a tree `plinth build` wrote) and
//! writes a file of each size at each path under OUT, with THREADS threads taking every
//! THREADS-th file, as the targets' workers do; folders are made first. Prints the wall
//! time; `/usr/bin/time` around it gives the system time. Built by `bench/floor.sh`
//! with `rustc` alone: no dependency, so nothing but the writes is measured.
//!
//!     floor LISTING OUT [THREADS]

use std::io::Write as _;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(listing), Some(out)) = (args.get(1), args.get(2)) else {
        return Err("usage: floor LISTING OUT [THREADS]".into());
    };
    let threads: usize = args.get(3).map_or(Ok(2), |t| t.parse())?;
    let mut files: Vec<(String, usize)> = Vec::new();
    for line in std::fs::read_to_string(listing)?.lines() {
        let (size, path) = line.split_once(' ').ok_or("a line is not `SIZE PATH`")?;
        files.push((path.to_string(), size.parse()?));
    }
    let largest = files.iter().map(|f| f.1).max().unwrap_or(0);
    let bytes = vec![b'x'; largest];
    let start = std::time::Instant::now();
    let mut folders: Vec<&Path> = files.iter().filter_map(|f| Path::new(&f.0).parent()).collect();
    folders.sort();
    folders.dedup();
    for folder in folders {
        std::fs::create_dir_all(Path::new(out).join(folder))?;
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|k| {
                let (files, bytes) = (&files, &bytes);
                scope.spawn(move || -> std::io::Result<()> {
                    for (path, size) in files.iter().skip(k).step_by(threads) {
                        let mut file = std::fs::File::create(Path::new(out).join(path))?;
                        file.write_all(&bytes[..*size])?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().map_err(|_| std::io::Error::other("a writer panicked"))?)
    })?;
    let total: usize = files.iter().map(|f| f.1).sum();
    println!(
        "{} files, {} bytes, {threads} threads: {:.1} ms",
        files.len(),
        total,
        start.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}
