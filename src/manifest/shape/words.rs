//! The words of shape problems: what a schema expects, said for a person,
//! and the nearest known key to a misspelt one.

use serde_json::Value;

pub use crate::diag::nearest;

use super::Kind;

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

/// The one key of an externally tagged enum variant (`{max_height: …}`).
pub fn single_key(s: &Value) -> Option<&str> {
    match s
        .get("required")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        Some([Value::String(k)])
            if s.get("properties")
                .and_then(Value::as_object)
                .is_some_and(|p| p.len() == 1) =>
        {
            Some(k)
        }
        _ => None,
    }
}

/// Whether a node is of a JSON Schema type, as serde-saphyr reads it: text
/// may be any scalar (`1.5` is the text "1.5"), and a whole number is a number.
pub fn fits(k: &Kind, t: &str) -> bool {
    matches!(
        (t, k),
        ("null", Kind::Null)
            | ("boolean", Kind::Bool(_))
            | ("integer", Kind::Int(_))
            | ("number", Kind::Int(_) | Kind::Float(_))
            | (
                "string",
                Kind::Str(_) | Kind::Int(_) | Kind::Float(_) | Kind::Bool(_)
            )
            | ("array", Kind::Seq(_))
            | ("object", Kind::Map(_))
    )
}

pub fn same(k: &Kind, c: &Value) -> bool {
    match (k, c) {
        (Kind::Str(s), Value::String(c)) => s == c,
        _ => false,
    }
}

pub fn nth(i: usize) -> &'static str {
    match i % 10 {
        1 if i % 100 != 11 => "st",
        2 if i % 100 != 12 => "nd",
        3 if i % 100 != 13 => "rd",
        _ => "th",
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
