//! What makes an HTTP header valid, in one place: the job file's check, the
//! plan's check once `${…}` values are filled in, `snatch new`, and the
//! requests themselves all ask here.

/// Whether `name` may be an HTTP header name.
pub fn valid_name(name: &str) -> bool {
    reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
}

/// Whether `value` may be an HTTP header value (one line of visible text).
pub fn valid_value(value: &str) -> bool {
    reqwest::header::HeaderValue::from_str(value).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_and_values() {
        assert!(super::valid_name("X-Token"));
        assert!(!super::valid_name("bad name"));
        assert!(super::valid_value("https://tv.example.com/v/1"));
        assert!(!super::valid_value("two\nlines"));
    }
}
