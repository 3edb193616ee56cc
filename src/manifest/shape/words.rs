//! The words of shape problems: what a schema expects, said for a person,
//! and the nearest known key to a misspelt one.

use serde_json::Value;

pub use crate::common::diag::nearest;

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

/// What a node should have been: the words a message shows, and apart
/// from them what the help decides on, so that no decision reads the words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub words: String,
    /// A number (whole or not) is among the choices.
    pub numeric: bool,
    /// The values the words quote (constants, a variant's key, `true` and
    /// `false`): the candidates of a did-you-mean.
    pub quoted: Vec<String>,
}

impl Want {
    /// Nothing is wanted (a schema without a type).
    pub fn nothing() -> Want {
        Want {
            words: "nothing".into(),
            numeric: false,
            quoted: Vec::new(),
        }
    }

    pub fn is_nothing(&self) -> bool {
        self.words == "nothing" && self.quoted.is_empty()
    }

    /// One JSON Schema type.
    pub fn of_type(t: &str) -> Want {
        let quoted: &[&str] = match t {
            "boolean" => &["true", "false"],
            "object" => &["key: value"],
            _ => &[],
        };
        Want {
            words: type_word(t).into(),
            numeric: matches!(t, "integer" | "number"),
            quoted: quoted.iter().map(|q| q.to_string()).collect(),
        }
    }

    /// A value written out (`auto`, `{max_height: …}`).
    pub fn exactly(shown: String) -> Want {
        Want {
            words: format!("`{shown}`"),
            numeric: false,
            quoted: vec![shown],
        }
    }

    /// Any of `choices`, read as `a, b or c`.
    pub fn any_of(choices: Vec<Want>) -> Want {
        let words: Vec<String> = choices.iter().map(|c| c.words.clone()).collect();
        Want {
            words: or_list(&words),
            numeric: choices.iter().any(|c| c.numeric),
            quoted: choices.into_iter().flat_map(|c| c.quoted).collect(),
        }
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
