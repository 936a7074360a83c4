//! Typed values of the platform model. Units are integers in their smallest unit and
//! decimals are exact, so output never prints `0.9989999999`.

use serde::Serialize;
use std::fmt;

/// Milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Duration(pub u64);

impl Duration {
    pub const SECOND: u64 = 1_000;
    pub const MINUTE: u64 = 60 * Self::SECOND;
    pub const HOUR: u64 = 60 * Self::MINUTE;
    pub const DAY: u64 = 24 * Self::HOUR;
    pub const WEEK: u64 = 7 * Self::DAY;

    pub fn millis(self) -> u64 {
        self.0
    }

    pub fn seconds(self) -> u64 {
        self.0 / Self::SECOND
    }
}

impl fmt::Display for Duration {
    /// The largest unit that divides the value exactly, as written in Plinth and in
    /// Prometheus: `5m`, `28d`, `1500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [
            ("w", Self::WEEK),
            ("d", Self::DAY),
            ("h", Self::HOUR),
            ("m", Self::MINUTE),
            ("s", Self::SECOND),
        ] {
            if ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

/// Bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    /// Kubernetes quantity in the largest binary unit that divides exactly: `4Gi`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        for (unit, shift) in [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
            let size = 1u64 << shift;
            if b != 0 && b.is_multiple_of(size) {
                return write!(f, "{}{unit}", b / size);
            }
        }
        write!(f, "{b}")
    }
}

/// CPU in millicores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Millicores(pub u64);

impl fmt::Display for Millicores {
    /// Kubernetes quantity: whole cores as `2`, otherwise `500m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1000) {
            write!(f, "{}", self.0 / 1000)
        } else {
            write!(f, "{}m", self.0)
        }
    }
}

/// An exact decimal: `units * 10^-scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Decimal {
    pub units: i64,
    pub scale: u32,
}

impl Decimal {
    /// Parses `-12.345`; `None` when malformed or too large.
    pub fn parse(text: &str) -> Option<Decimal> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        if digits.contains('.') && frac.is_empty() {
            return None;
        }
        let scale = u32::try_from(frac.len()).ok()?;
        let mut units: i64 = 0;
        for b in whole.bytes().chain(frac.bytes()) {
            units = units.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
        }
        Some(
            Decimal {
                units: if negative { -units } else { units },
                scale,
            }
            .normalized(),
        )
    }

    pub fn from_int(n: i64) -> Decimal {
        Decimal { units: n, scale: 0 }
    }

    /// Drops trailing zero digits: `99.50` becomes `99.5`.
    pub fn normalized(mut self) -> Decimal {
        while self.scale > 0 && self.units % 10 == 0 {
            self.units /= 10;
            self.scale -= 1;
        }
        self
    }

    /// Divides by `10^n` exactly: a percent to a ratio is `shift(2)`.
    pub fn shift(self, n: u32) -> Decimal {
        Decimal {
            units: self.units,
            scale: self.scale + n,
        }
        .normalized()
    }

    pub fn to_f64(self) -> f64 {
        self.units as f64 / 10f64.powi(self.scale as i32)
    }

    /// `1 - self` exactly (the error budget of an objective ratio).
    pub fn complement(self) -> Option<Decimal> {
        let one = 10i64.checked_pow(self.scale)?;
        Some(
            Decimal {
                units: one - self.units,
                scale: self.scale,
            }
            .normalized(),
        )
    }

    fn cmp_key(self, other: Decimal) -> Option<(i128, i128)> {
        let scale = self.scale.max(other.scale);
        let a = i128::from(self.units).checked_mul(10i128.checked_pow(scale - self.scale)?)?;
        let b = i128::from(other.units).checked_mul(10i128.checked_pow(scale - other.scale)?)?;
        Some((a, b))
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.cmp_key(*other).map(|(a, b)| a.cmp(&b))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.units < 0 { "-" } else { "" };
        let digits = self.units.unsigned_abs().to_string();
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{whole}.{frac}")
    }
}

/// A calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// Days since 1970-01-01 (proleptic Gregorian), for horizon arithmetic.
    pub fn days_since_epoch(self) -> i64 {
        let (y, m, d) = (
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    pub fn parse(text: &str) -> Option<Date> {
        let mut parts = text.split('-');
        let year = parts.next()?.parse().ok()?;
        let month = parts.next()?.parse().ok()?;
        let day = parts.next()?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        let date = Date { year, month, day };
        date.is_valid().then_some(date)
    }

    pub fn is_valid(self) -> bool {
        let leap = (self.year.is_multiple_of(4) && !self.year.is_multiple_of(100))
            || self.year.is_multiple_of(400);
        let days = match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return false,
        };
        (1..=days).contains(&self.day)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        let d = Decimal::parse("99.95").unwrap();
        assert_eq!(d.shift(2).to_string(), "0.9995");
        assert_eq!(d.shift(2).complement().unwrap().to_string(), "0.0005");
        assert_eq!(Decimal::parse("99.900").unwrap().to_string(), "99.9");
        assert_eq!(Decimal::parse("-1").unwrap().to_string(), "-1");
        assert!(Decimal::parse("1.").is_none());
        assert!(Decimal::parse("x").is_none());
        assert!(Decimal::parse("0.5").unwrap() < Decimal::parse("0.75").unwrap());
    }

    #[test]
    fn units_print_in_their_largest_exact_unit() {
        assert_eq!(Duration(5 * Duration::MINUTE).to_string(), "5m");
        assert_eq!(Duration(28 * Duration::DAY).to_string(), "4w");
        assert_eq!(Duration(1500).to_string(), "1500ms");
        assert_eq!(Bytes(4 << 30).to_string(), "4Gi");
        assert_eq!(Millicores(500).to_string(), "500m");
        assert_eq!(Millicores(2000).to_string(), "2");
    }

    #[test]
    fn dates_count_days() {
        let a = Date::parse("2026-11-24").unwrap();
        let b = Date::parse("2027-03-31").unwrap();
        assert_eq!(b.days_since_epoch() - a.days_since_epoch(), 127);
        assert_eq!(Date::parse("1970-01-01").unwrap().days_since_epoch(), 0);
        assert!(Date::parse("2027-02-29").is_none());
    }
}
