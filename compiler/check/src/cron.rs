//! Five-field cron expressions: validation and the largest gap between two runs, which
//! the freshness check compares against.
//!
//! The gap is exact for schedules repeating daily or weekly. Day-of-month schedules are
//! measured over a 31-day month and month lists over 30-day months: an estimate that
//! errs towards the longer gap, which is the safe side for a freshness check.

use plinth_ir::Duration;

const MINUTES_PER_DAY: u64 = 1440;

fn parse_field(field: &str, min: u32, max: u32, name: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| format!("bad step `{s}` in the {name} field"))?;
                if step == 0 {
                    return Err(format!("a step of 0 in the {name} field never fires"));
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a: u32 = a
                .parse()
                .map_err(|_| format!("bad value `{a}` in the {name} field"))?;
            let b: u32 = b
                .parse()
                .map_err(|_| format!("bad value `{b}` in the {name} field"))?;
            (a, b)
        } else {
            let v: u32 = range
                .parse()
                .map_err(|_| format!("bad value `{range}` in the {name} field"))?;
            if part.contains('/') { (v, max) } else { (v, v) }
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!(
                "`{part}` is outside {min}-{max} in the {name} field"
            ));
        }
        out.extend((lo..=hi).step_by(step as usize));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Largest cyclic gap between sorted points on a circle of length `period`.
fn max_gap(points: &[u64], period: u64) -> u64 {
    match (points.first(), points.last()) {
        (Some(first), Some(last)) => {
            let wrap = period - last + first;
            points
                .windows(2)
                .map(|w| w.get(1).copied().unwrap_or(0) - w.first().copied().unwrap_or(0))
                .fold(wrap, u64::max)
        }
        _ => period,
    }
}

/// Validates `expr` and returns its largest gap between runs.
pub fn interval(expr: &str) -> Result<Duration, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = fields.as_slice() else {
        return Err(format!(
            "a cron expression has 5 fields (minute hour day month weekday), this one has {}",
            fields.len()
        ));
    };
    let minutes = parse_field(minute, 0, 59, "minute")?;
    let hours = parse_field(hour, 0, 23, "hour")?;
    let doms = parse_field(dom, 1, 31, "day-of-month")?;
    let months = parse_field(month, 1, 12, "month")?;
    let dows: Vec<u32> = parse_field(dow, 0, 7, "day-of-week")?
        .into_iter()
        .map(|d| d % 7)
        .collect();

    let times: Vec<u64> = hours
        .iter()
        .flat_map(|h| {
            minutes
                .iter()
                .map(move |m| u64::from(*h) * 60 + u64::from(*m))
        })
        .collect();
    // Days of the cycle on which the schedule fires, and the cycle length in days.
    let (days, period_days): (Vec<u64>, u64) = if *dom != "*" {
        (doms.iter().map(|d| u64::from(*d) - 1).collect(), 31)
    } else if *dow != "*" {
        let mut ds: Vec<u64> = dows.iter().map(|d| u64::from(*d)).collect();
        ds.sort_unstable();
        ds.dedup();
        (ds, 7)
    } else {
        (vec![0], 1)
    };
    let points: Vec<u64> = days
        .iter()
        .flat_map(|d| times.iter().map(move |t| d * MINUTES_PER_DAY + t))
        .collect();
    let mut gap = max_gap(&points, period_days * MINUTES_PER_DAY);
    if *month != "*" {
        let month_points: Vec<u64> = months.iter().map(|m| u64::from(*m)).collect();
        let month_gap = max_gap(&month_points, 12);
        if month_gap > 1 {
            gap = gap.max(month_gap * 30 * MINUTES_PER_DAY);
        }
    }
    Ok(Duration(gap * Duration::MINUTE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap(expr: &str) -> String {
        interval(expr).map(|d| d.to_string()).unwrap_or_else(|e| e)
    }

    #[test]
    fn gaps_of_common_schedules() {
        assert_eq!(gap("*/5 * * * *"), "5m");
        assert_eq!(gap("0 3 * * *"), "1d");
        assert_eq!(gap("0 3 * * 1"), "1w");
        assert_eq!(gap("0 */6 * * *"), "6h");
        assert_eq!(gap("0 9 * * 1-5"), "3d");
        assert_eq!(gap("0 0 1 * *"), "31d");
        assert_eq!(gap("15,45 * * * *"), "30m");
    }

    #[test]
    fn invalid_expressions_say_why() {
        assert!(gap("* * *").contains("5 fields"));
        assert!(gap("61 * * * *").contains("outside 0-59"));
        assert!(gap("*/0 * * * *").contains("never fires"));
        assert!(gap("x * * * *").contains("bad value"));
    }
}
