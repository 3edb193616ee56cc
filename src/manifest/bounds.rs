//! The accepted range of every number in a job file, and the parsers of
//! sizes and tolerances. One table, so that docs/jobfile.md, the schema's
//! descriptions and the checks say the same thing.

use std::time::Duration;

use super::time::parse_time;
use crate::common::Tolerance;

/// Why a value of a job file (a length of time, a size, a tolerance) is
/// refused: the words that follow the key's name (`timeout.connect must
/// be from 1ms to 10m, found `11m``).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error("is empty")]
    Empty,
    #[error("is not a finite number")]
    NotFinite,
    #[error("must be more than zero, found {0}")]
    NotPositive(f64),
    #[error("`{0}` has too many `:`; expected H:MM:SS or MM:SS")]
    TooManyColons(String),
    #[error("`{0}` is not H:MM:SS or MM:SS")]
    NotClock(String),
    #[error("`{0}`: minutes and seconds must be below 60")]
    ClockOver60(String),
    /// `reason` is humantime's.
    #[error(
        "`{text}` is not a length of time ({reason}); expected seconds, H:MM:SS, or e.g. `500ms`, `4s`, `1h2m3s`"
    )]
    NotTime { text: String, reason: String },
    #[error("must be from {} to {}, found `{found}`", show(*.min), show(*.max))]
    TimeRange {
        min: Duration,
        max: Duration,
        found: String,
    },
    #[error(
        "`{0}` is not a size; expected bytes (`1048576`) or a number with a unit: KB, MB, GB, KiB, MiB, GiB"
    )]
    SizeUnit(String),
    #[error("`{0}` is not a size; expected e.g. `256MiB` or `10MB`")]
    NotSize(String),
    #[error("must be from 1KiB to 16GiB, found `{0}`")]
    SizeRange(String),
    #[error(
        "`{0}` is not a rate in bytes; expected bytes per second (`500000`) or a number with a unit: K, M, G (powers of 1000, as KB, MB, GB), KiB, MiB, GiB; `/s` may follow"
    )]
    ByteRateUnit(String),
    #[error("must be from 1K to 100G per second, found `{0}`")]
    ByteRateRange(String),
    #[error("`{0}` is not a percentage; expected e.g. `2%`")]
    NotPercent(String),
    #[error("must be more than 0% and at most 100%, found `{0}`")]
    PercentRange(String),
    #[error("must be at most 1 day (86400 s), found `{0}`")]
    ToleranceTooLong(String),
}

/// Whole numbers: `(min, max)`, both inclusive.
pub const CONCURRENCY: (i64, i64) = (1, 1024);
pub const BURST: (i64, i64) = (1, 1000);
pub const JOBS: (i64, i64) = (1, 256);
pub const ATTEMPTS: (i64, i64) = (1, 100);
pub const PADDING: (i64, i64) = (0, 20);

/// Requests per second.
pub const RATE: (f64, f64) = (0.001, 10_000.0);

/// Lengths of time.
pub const BACKOFF: (Duration, Duration) = (Duration::from_millis(1), Duration::from_secs(3600));
pub const CONNECT: (Duration, Duration) = (Duration::from_millis(1), Duration::from_secs(600));
pub const SEGMENT_TIMEOUT: (Duration, Duration) =
    (Duration::from_millis(1), Duration::from_secs(24 * 3600));
pub const SEGMENT_LENGTH: (Duration, Duration) =
    (Duration::from_millis(1), Duration::from_secs(3600));
pub const VIDEO_LENGTH: (Duration, Duration) = (
    Duration::from_millis(1),
    Duration::from_secs(30 * 24 * 3600),
);

/// `max_segment_bytes`.
pub const SEGMENT_BYTES: (u64, u64) = (1024, 16 * 1024 * 1024 * 1024);

/// `bytes_per_second`: 1K to 100G.
pub const BYTE_RATE: (u64, u64) = (1000, 100_000_000_000);

/// `verify.duration_tolerance`: percent, and seconds.
pub const TOLERANCE_PERCENT: f64 = 100.0;
pub const TOLERANCE_SECONDS: f64 = 86_400.0;

/// Lengths of text, in bytes.
pub const NAME_LEN: usize = 128;
pub const URL_LEN: usize = 4096;
pub const OUTPUT_LEN: usize = 1024;
pub const OUTPUT_DIR_LEN: usize = 1024;
pub const VAR_LEN: usize = 4096;
pub const HEADER_LEN: usize = 8192;
/// One component of a rendered output path (common file systems' limit).
pub const PATH_COMPONENT_LEN: usize = 255;

/// A length of time for messages: `1ms`, `10m`, `24h`.
pub fn show(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        _ if ms > 0 && ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms > 0 && ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms > 0 && ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

/// Parses a length of time and checks it lies in `range`; the conversion
/// to a `Duration` is checked, so no value can overflow it.
pub fn duration_in(text: &str, range: (Duration, Duration)) -> Result<Duration, ValueError> {
    let secs = parse_time(text)?;
    let (min, max) = range;
    let out_of_range = || ValueError::TimeRange {
        min,
        max,
        found: text.trim().to_string(),
    };
    let d = Duration::try_from_secs_f64(secs).map_err(|_| out_of_range())?;
    if d < min || d > max {
        return Err(out_of_range());
    }
    Ok(d)
}

/// Splits `12.5 MiB` into its number and its unit.
fn number_and_unit(t: &str) -> (&str, &str) {
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    (&t[..split], t[split..].trim())
}

/// Parses a limit in bytes per second: a whole number, or a number with a
/// unit as sizes have them, where `K`, `M` and `G` alone are `KB`, `MB`
/// and `GB` (powers of 1000, as curl's `--limit-rate` would not: its `K`
/// is 1024; write `KiB` for that); a `/s` may follow (`2MB/s`). Checked
/// to lie in [`BYTE_RATE`].
pub fn parse_byte_rate(text: &str) -> Result<u64, ValueError> {
    let t = text.trim();
    let bare = t.strip_suffix("/s").unwrap_or(t).trim_end();
    let (num, unit) = number_and_unit(bare);
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "m" | "mb" => 1000 * 1000,
        "g" | "gb" => 1000 * 1000 * 1000,
        "kib" => 1024,
        "mib" => 1024 * 1024,
        "gib" => 1024 * 1024 * 1024,
        _ => return Err(ValueError::ByteRateUnit(t.into())),
    };
    let value: f64 = num
        .parse()
        .map_err(|_| ValueError::ByteRateUnit(t.into()))?;
    let bytes = value * factor as f64;
    let (min, max) = BYTE_RATE;
    if !bytes.is_finite() || bytes < min as f64 || bytes > max as f64 {
        return Err(ValueError::ByteRateRange(t.into()));
    }
    Ok(bytes as u64)
}

/// Parses a size: a whole number of bytes, or a number with a unit
/// (`B`, `KB`, `MB`, `GB`, `KiB`, `MiB`, `GiB`; case-insensitive), and
/// checks it lies in [`SEGMENT_BYTES`].
pub fn parse_size(text: &str) -> Result<u64, ValueError> {
    let t = text.trim();
    let (num, unit) = number_and_unit(t);
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000 * 1000,
        "gb" => 1000 * 1000 * 1000,
        "kib" => 1024,
        "mib" => 1024 * 1024,
        "gib" => 1024 * 1024 * 1024,
        _ => return Err(ValueError::SizeUnit(t.into())),
    };
    let value: f64 = num.parse().map_err(|_| ValueError::NotSize(t.into()))?;
    let bytes = value * factor as f64;
    let (min, max) = SEGMENT_BYTES;
    if !bytes.is_finite() || bytes < min as f64 || bytes > max as f64 {
        return Err(ValueError::SizeRange(t.into()));
    }
    Ok(bytes as u64)
}

/// Parses a duration tolerance: `2%`, `1.5s`, `500ms` or `1.5` (seconds).
pub fn parse_tolerance(text: &str) -> Result<Tolerance, ValueError> {
    let t = text.trim();
    if let Some(p) = t.strip_suffix('%') {
        let v: f64 = p
            .trim()
            .parse()
            .map_err(|_| ValueError::NotPercent(t.into()))?;
        if !(v > 0.0 && v <= TOLERANCE_PERCENT) {
            return Err(ValueError::PercentRange(t.into()));
        }
        return Ok(Tolerance::Percent(v));
    }
    let secs = parse_time(t)?;
    if secs > TOLERANCE_SECONDS {
        return Err(ValueError::ToleranceTooLong(t.into()));
    }
    Ok(Tolerance::Seconds(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_range_checked_without_overflow() {
        assert_eq!(
            duration_in("2m", CONNECT).unwrap(),
            Duration::from_secs(120)
        );
        assert_eq!(
            duration_in("500ms", BACKOFF).unwrap(),
            Duration::from_millis(500)
        );
        for bad in ["1e30", "1e-20", "0.0000001", "11m", "inf", "NaN", "-1"] {
            assert!(duration_in(bad, CONNECT).is_err(), "{bad}");
        }
        let err = duration_in("1e30", SEGMENT_TIMEOUT).unwrap_err();
        assert!(matches!(err, ValueError::TimeRange { .. }), "{err:?}");
        assert_eq!(err.to_string(), "must be from 1ms to 24h, found `1e30`");
    }

    #[test]
    fn sizes_in_every_form() {
        assert_eq!(parse_size("256MiB").unwrap(), 256 * 1024 * 1024);
        assert_eq!(parse_size("10MB").unwrap(), 10_000_000);
        assert_eq!(parse_size("1 GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("1.5KiB").unwrap(), 1536);
        for bad in [
            "0",
            "10",
            "1e30",
            "17GiB",
            "-1",
            "ten",
            "5 parsecs",
            "",
            "1..2MB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn byte_rates_in_every_form() {
        assert_eq!(parse_byte_rate("2M").unwrap(), 2_000_000);
        assert_eq!(parse_byte_rate("2MB/s").unwrap(), 2_000_000);
        assert_eq!(parse_byte_rate("1.5 MiB/s").unwrap(), 1_572_864);
        assert_eq!(parse_byte_rate("500k").unwrap(), 500_000);
        assert_eq!(parse_byte_rate("1G").unwrap(), 1_000_000_000);
        assert_eq!(parse_byte_rate("250000").unwrap(), 250_000);
        for bad in [
            "0",
            "-1",
            "-2M",
            "999",
            "1e30",
            "101G",
            "ten",
            "5 parsecs",
            "",
            "M",
            "1..2M",
            "NaN",
            "2M/h",
        ] {
            assert!(parse_byte_rate(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_byte_rate("0").unwrap_err().to_string(),
            "must be from 1K to 100G per second, found `0`"
        );
    }

    #[test]
    fn tolerances_in_every_form() {
        assert_eq!(parse_tolerance("2%").unwrap(), Tolerance::Percent(2.0));
        assert_eq!(parse_tolerance("1.5s").unwrap(), Tolerance::Seconds(1.5));
        assert_eq!(parse_tolerance("1.5").unwrap(), Tolerance::Seconds(1.5));
        for bad in ["0%", "101%", "-2%", "NaN%", "0", "2 days", "x"] {
            assert!(parse_tolerance(bad).is_err(), "{bad}");
        }
    }
}
