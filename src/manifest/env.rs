//! `${NAME}` placeholders: which names a job file may read, and the two
//! renderings of a value that holds them — the real one, sent to the server,
//! and the shown one, with every secret as `***`.

use crate::common::Secret;
use std::collections::{BTreeMap, BTreeSet};

/// The prefix every readable variable has, unless `--allow-env` names it.
pub const PREFIX: &str = "SNATCH_";

/// The variables a run may read, and their values. Made once from the
/// process environment at the command line, so later stages stay pure.
#[derive(Debug, Clone, Default)]
pub struct EnvPolicy {
    pub allowed: BTreeSet<String>,
    pub values: BTreeMap<String, String>,
}

impl EnvPolicy {
    /// Reads the environment for every name that is allowed to be read.
    pub fn from_process(allow: &[String]) -> EnvPolicy {
        let allowed: BTreeSet<String> = allow.iter().cloned().collect();
        let values = std::env::vars()
            .filter(|(k, _)| k.starts_with(PREFIX) || allowed.contains(k))
            .collect();
        EnvPolicy { allowed, values }
    }

    pub fn may_read(&self, name: &str) -> bool {
        name.starts_with(PREFIX) || self.allowed.contains(name)
    }
}

/// Why a value's `${NAME}` placeholders cannot be read or filled in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("`${{` has no closing `}}`")]
    Unclosed,
    #[error(
        "`${{{0}}}` is not a variable name (letters, digits and `_`, not starting with a digit)"
    )]
    NotAName(String),
    /// The variable named has no value (the name alone).
    #[error("environment variable `{0}` is not set")]
    NotSet(String),
}

/// A piece of a value: literal text or a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Var(String),
}

/// Splits a value into literal text and `${NAME}` placeholders. `$` not
/// followed by `{` is literal; `$${` is a literal `${`.
pub fn parse(value: &str) -> Result<Vec<Piece>, EnvError> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        text.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix("${") {
            text.push_str("${");
            rest = a;
            continue;
        }
        if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                return Err(EnvError::Unclosed);
            };
            let name = &body[..end];
            if !is_var_name(name) {
                return Err(EnvError::NotAName(name.to_string()));
            }
            if !text.is_empty() {
                out.push(Piece::Text(std::mem::take(&mut text)));
            }
            out.push(Piece::Var(name.to_string()));
            rest = &body[end + 1..];
        } else {
            text.push('$');
            rest = after;
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

/// Letters, digits and `_`, not starting with a digit.
fn is_var_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// The names of the `${NAME}` placeholders anywhere in a text (a whole job
/// file, not one value): tolerant of what is not a placeholder, and a
/// superset (an escaped `$${NAME}` counts too), for widening what a check
/// allows, never for reading a value.
pub fn names_in(text: &str) -> std::collections::BTreeSet<String> {
    text.match_indices("${")
        .filter_map(|(i, _)| {
            let rest = &text[i + 2..];
            let name = &rest[..rest.find('}')?];
            is_var_name(name).then(|| name.to_string())
        })
        .collect()
}

pub fn vars(pieces: &[Piece]) -> impl Iterator<Item = &str> {
    pieces.iter().filter_map(|p| match p {
        Piece::Var(v) => Some(v.as_str()),
        Piece::Text(_) => None,
    })
}

/// Joins pieces, taking variables from `values`: the value sent, and the
/// value shown with each variable as `***`. A missing variable comes back
/// as [`EnvError::NotSet`].
pub fn resolve(pieces: &[Piece], values: &BTreeMap<String, String>) -> Result<Secret, EnvError> {
    let mut real = String::new();
    let mut shown = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => {
                real.push_str(t);
                shown.push_str(t);
            }
            Piece::Var(v) => {
                let value = values.get(v).ok_or_else(|| EnvError::NotSet(v.clone()))?;
                real.push_str(value);
                shown.push_str("***");
            }
        }
    }
    Ok(Secret::pair(real, shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_placeholders_and_literals() {
        assert_eq!(
            parse("a=${SNATCH_X};b=$5;c=$${lit}").unwrap(),
            vec![
                Piece::Text("a=".into()),
                Piece::Var("SNATCH_X".into()),
                Piece::Text(";b=$5;c=${lit}".into()),
            ]
        );
        assert!(parse("${unclosed").is_err());
        assert!(parse("${1BAD}").is_err());
        assert!(parse("${}").is_err());
    }

    #[test]
    fn secret_shows_stars_and_sends_the_value() {
        let values = BTreeMap::from([("SNATCH_T".to_string(), "hunter2".to_string())]);
        let s = resolve(&parse("Bearer ${SNATCH_T}").unwrap(), &values).unwrap();
        assert_eq!(s.expose(), "Bearer hunter2");
        assert_eq!(s.to_string(), "Bearer ***");
        assert_eq!(format!("{s:?}"), "\"Bearer ***\"");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"Bearer ***\"");
        assert_eq!(
            resolve(&parse("${SNATCH_MISSING}").unwrap(), &values).unwrap_err(),
            EnvError::NotSet("SNATCH_MISSING".into())
        );
        assert_eq!(
            parse("a ${1x}").unwrap_err(),
            EnvError::NotAName("1x".into())
        );
        assert_eq!(
            parse("a ${open").unwrap_err().to_string(),
            "`${` has no closing `}`"
        );
    }
}
