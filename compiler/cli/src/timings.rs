//! `PLINTH_TIMINGS=1`: how long each phase takes, on stderr, for the benchmarks in
//! `bench/`. One line per phase: wall time, and the process's CPU time (all threads)
//! where Linux reports it, since on a shared machine CPU time is the steadier figure,
//! and the peak resident memory so far (which phase raises the process's peak).

use std::time::Instant;

/// Times consecutive phases; prints nothing unless `PLINTH_TIMINGS` is set.
pub struct Stopwatch {
    on: bool,
    wall: Instant,
    cpu: Option<f64>,
}

impl Stopwatch {
    pub fn start() -> Stopwatch {
        let on = std::env::var_os("PLINTH_TIMINGS").is_some();
        Stopwatch {
            on,
            wall: Instant::now(),
            cpu: if on { cpu_ms() } else { None },
        }
    }

    pub fn on(&self) -> bool {
        self.on
    }

    /// Prints the phase that just ended as `name` and starts the next one.
    pub fn lap(&mut self, name: &str) {
        if !self.on {
            return;
        }
        let wall = self.wall.elapsed().as_secs_f64() * 1000.0;
        let cpu = cpu_ms();
        match self.cpu.zip(cpu) {
            Some((before, now)) => {
                let peak = peak_mb().map_or(String::new(), |mb| format!(", peak {mb} MB"));
                line(
                    name,
                    &format!("{wall:>7.1} ms ({:.0} ms CPU{peak})", now - before),
                );
            }
            None => line(name, &format!("{wall:>7.1} ms")),
        }
        self.wall = Instant::now();
        self.cpu = cpu;
    }
}

/// One `name: value` line, aligned with the laps.
pub fn line(name: &str, value: &str) {
    eprintln!("{name:>24}: {value}");
}

/// User + system CPU time of this process so far, in ms (`/proc/self/stat`, Linux only;
/// clock ticks are 10 ms on every Linux configuration we run on).
fn cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces), from field 3 on.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) * 10.0)
}

/// The process's peak resident memory so far, in MB (`VmHWM` of `/proc/self/status`).
fn peak_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}
