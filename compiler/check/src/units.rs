//! Reading unit literals by the expected type: the suffix means what the field's type
//! says (`5m` is five minutes for a duration, 500 millicores for a cpu).

use plinth_ir::{Bytes, Duration, Millicores};

/// A reading failure: the message and a help line.
pub struct UnitError {
    pub message: String,
    pub help: String,
}

fn whole(number: &str) -> Option<u64> {
    number.parse::<u64>().ok()
}

pub fn duration(number: &str, suffix: &str) -> Result<Duration, UnitError> {
    let size = match suffix {
        "ms" => 1,
        "s" => Duration::SECOND,
        "m" => Duration::MINUTE,
        "h" => Duration::HOUR,
        "d" => Duration::DAY,
        "w" => Duration::WEEK,
        _ => {
            let hint = match suffix {
                "min" | "mins" => format!(" (`{number}m`)"),
                "sec" | "secs" => format!(" (`{number}s`)"),
                "hr" | "hrs" => format!(" (`{number}h`)"),
                _ => String::new(),
            };
            return Err(UnitError {
                message: format!("`{number}{suffix}` is not a duration"),
                help: format!("durations use the suffixes ms, s, m, h, d, w{hint}"),
            });
        }
    };
    let n = whole(number).ok_or_else(|| UnitError {
        message: format!("`{number}{suffix}` is not a whole number of {suffix}"),
        help: "write durations as whole numbers in a smaller unit, e.g. `90m` for 1.5h".to_string(),
    })?;
    n.checked_mul(size).map(Duration).ok_or_else(|| UnitError {
        message: format!("`{number}{suffix}` is too large"),
        help: "durations are at most a few thousand years".to_string(),
    })
}

pub fn bytes(number: &str, suffix: &str) -> Result<Bytes, UnitError> {
    let shift = match suffix {
        "Ki" => 10,
        "Mi" => 20,
        "Gi" => 30,
        "Ti" => 40,
        _ => {
            let fix = match suffix {
                "K" | "KB" | "k" | "kb" | "KiB" => Some("Ki"),
                "M" | "MB" | "mb" | "MiB" => Some("Mi"),
                "G" | "GB" | "gb" | "GiB" => Some("Gi"),
                "T" | "TB" | "tb" | "TiB" => Some("Ti"),
                _ => None,
            };
            let help = match fix {
                Some(fix) => {
                    format!("memory uses binary units, as Kubernetes: write `{number}{fix}`")
                }
                None => "memory uses the binary units Ki, Mi, Gi, Ti (e.g. `4Gi`)".to_string(),
            };
            return Err(UnitError {
                message: format!("`{number}{suffix}` is not a memory size"),
                help,
            });
        }
    };
    let n = whole(number).ok_or_else(|| UnitError {
        message: format!("`{number}{suffix}` is not a whole number of {suffix}"),
        help: "use a smaller unit, e.g. `1536Mi` for 1.5Gi".to_string(),
    })?;
    n.checked_mul(1u64 << shift)
        .map(Bytes)
        .ok_or_else(|| UnitError {
            message: format!("`{number}{suffix}` is too large"),
            help: "memory sizes are at most a few exbibytes".to_string(),
        })
}

/// `2`, `0.5` (cores) or `500m` (millicores).
pub fn cpu_cores(number: &str) -> Result<Millicores, UnitError> {
    let err = || UnitError {
        message: format!("`{number}` is not a cpu amount"),
        help: "write cores (`2`, `0.5`) or millicores (`500m`)".to_string(),
    };
    let d = plinth_ir::Decimal::parse(number).ok_or_else(err)?;
    if d.units < 0 || d.scale > 3 {
        return Err(err());
    }
    let milli = u64::try_from(d.units)
        .map_err(|_| err())?
        .checked_mul(10u64.pow(3 - d.scale))
        .ok_or_else(err)?;
    Ok(Millicores(milli))
}

pub fn cpu_unit(number: &str, suffix: &str) -> Result<Millicores, UnitError> {
    if suffix != "m" {
        return Err(UnitError {
            message: format!("`{number}{suffix}` is not a cpu amount"),
            help: "write cores (`2`, `0.5`) or millicores (`500m`)".to_string(),
        });
    }
    whole(number).map(Millicores).ok_or_else(|| UnitError {
        message: format!("`{number}m` is not a whole number of millicores"),
        help: "millicores are whole numbers: `500m`".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_read_by_type() {
        assert_eq!(duration("5", "m").ok(), Some(Duration(300_000)));
        assert_eq!(cpu_unit("500", "m").ok(), Some(Millicores(500)));
        assert_eq!(bytes("4", "Gi").ok(), Some(Bytes(4 << 30)));
        assert_eq!(cpu_cores("0.5").ok(), Some(Millicores(500)));
        assert!(duration("5", "Gi").is_err());
        let err = bytes("4", "GB").err().unwrap();
        assert!(err.help.contains("`4Gi`"), "{}", err.help);
        assert!(cpu_cores("0.0001").is_err());
    }
}
