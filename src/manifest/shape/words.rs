//! The words of shape problems: what a schema expects, said for a person,
//! and the nearest known key to a misspelt one.

use serde_json::Value;

pub use crate::diag::nearest;

/// A JSON Schema `type` in words.
pub fn type_word(t: &str) -> &'static str {
    match t {
        "integer" => "a whole number",
        "number" => "a number",
        "string" => "text",
        "boolean" => "`true` or `false`",
        "object" => "a mapping (`key: value` lines)",
        "array" => "a list",
        _ => "nothing",
    }
}

/// The `type` of a schema as a list (absent: none).
pub fn types(s: &Value) -> Vec<&str> {
    match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Joins choices as `a`, `a or b`, `a, b or c`.
pub fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_prose() {
        let s = |v: &[&str]| or_list(&v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&["a"]), "a");
        assert_eq!(s(&["a", "b"]), "a or b");
        assert_eq!(s(&["a", "b", "c"]), "a, b or c");
    }
}
