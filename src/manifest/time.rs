//! Lengths of time as a job file writes them: seconds, `H:MM:SS`, or a
//! humantime string.

use super::bounds::ValueError;

/// Parses a length of time: seconds as a number, `H:MM:SS` / `MM:SS`, or a
/// humantime string (`500ms`, `1h2m3s`). Returns seconds.
pub fn parse_time(s: &str) -> Result<f64, ValueError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(ValueError::Empty);
    }
    if let Ok(v) = t.parse::<f64>() {
        return check_positive(v);
    }
    if t.contains(':') {
        let parts: Vec<&str> = t.split(':').collect();
        if parts.len() > 3 {
            return Err(ValueError::TooManyColons(t.into()));
        }
        let mut total = 0.0;
        for (i, p) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let not_clock = || ValueError::NotClock(t.into());
            let v: f64 = if last {
                p.parse().map_err(|_| not_clock())?
            } else {
                p.parse::<u64>().map_err(|_| not_clock())? as f64
            };
            if v < 0.0 || (i > 0 && v >= 60.0) {
                return Err(ValueError::ClockOver60(t.into()));
            }
            total = total * 60.0 + v;
        }
        return check_positive(total);
    }
    match humantime::parse_duration(t) {
        Ok(d) => check_positive(d.as_secs_f64()),
        Err(e) => Err(ValueError::NotTime {
            text: t.into(),
            reason: e.to_string(),
        }),
    }
}

fn check_positive(v: f64) -> Result<f64, ValueError> {
    if !v.is_finite() {
        Err(ValueError::NotFinite)
    } else if v <= 0.0 {
        Err(ValueError::NotPositive(v))
    } else {
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_accepted_form() {
        assert_eq!(parse_time("01:02:03").unwrap(), 3723.0);
        assert_eq!(parse_time("2:03").unwrap(), 123.0);
        assert_eq!(parse_time("4").unwrap(), 4.0);
        assert_eq!(parse_time("2.5").unwrap(), 2.5);
        assert_eq!(parse_time("1h2m3s").unwrap(), 3723.0);
        assert_eq!(parse_time("500ms").unwrap(), 0.5);
        assert!(parse_time("0").is_err());
        assert!(parse_time("-3").is_err());
        assert!(parse_time("1:75").is_err());
        assert!(parse_time("soon").is_err());
        assert!(parse_time("").is_err());
    }
}
