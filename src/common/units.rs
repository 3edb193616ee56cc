//! Numbers for people: byte counts in binary units, counts with thousands
//! separators, and long lists cut short. A leaf: the progress view, the
//! reports and the messages use it, none through another.

/// The most items a message lists before "and N more".
pub const LISTED: usize = 10;

/// `items` joined with `, `; past `max` of them, the rest as a count:
/// `a, b, c and 9,997 more`.
pub fn listed<S: AsRef<str>>(items: &[S], max: usize) -> String {
    let shown: Vec<&str> = items.iter().take(max).map(AsRef::as_ref).collect();
    let mut text = shown.join(", ");
    let more = items.len().saturating_sub(max);
    if more > 0 {
        text.push_str(&format!(" and {} more", thousands(more as u64)));
    }
    text
}

/// A count with `,` between groups of three digits: `9,990`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// Bytes in binary units with one decimal: `512 B`, `1.5 KiB`, `3.2 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    // Move up while the value would print as 1024.0 or more.
    while value >= 1023.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_list_is_cut_with_a_count_of_the_rest() {
        let items: Vec<String> = (1..=10_000).map(|i| i.to_string()).collect();
        assert_eq!(
            listed(&items, LISTED),
            "1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 9,990 more"
        );
        assert_eq!(listed(&items[..3], LISTED), "1, 2, 3");
        assert_eq!(listed::<&str>(&[], LISTED), "");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }
}
