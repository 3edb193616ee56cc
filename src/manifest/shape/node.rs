//! A YAML document as a plain tree with a location on every node, read by
//! serde-saphyr with the same budgets as the typed load. The shape check
//! walks it; nothing else does.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::manifest::Sp;

/// One YAML node and where it stands.
pub type Node = Sp<Kind>;

/// What a node holds. Scalars keep the kind YAML's core schema gives them.
#[derive(Debug, Clone)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in the order written.
    Map(Vec<(Node, Node)>),
}

impl Kind {
    /// The value as the user wrote it, for a message (scalars only).
    pub fn shown(&self) -> Option<String> {
        Some(match self {
            Kind::Null => return None,
            Kind::Bool(b) => b.to_string(),
            Kind::Int(i) => i.to_string(),
            Kind::Float(f) => f.to_string(),
            Kind::Str(s) => s.clone(),
            Kind::Seq(_) | Kind::Map(_) => return None,
        })
    }

    /// What the node is, in words.
    pub fn what(&self) -> String {
        match self {
            Kind::Null => "nothing".into(),
            Kind::Bool(b) => format!("`{b}`"),
            Kind::Int(i) => format!("the number {i}"),
            Kind::Float(f) => format!("the number {f}"),
            Kind::Str(s) => format!("the text {}", quoted(s)),
            Kind::Seq(_) => "a list".into(),
            Kind::Map(_) => "a mapping".into(),
        }
    }
}

/// A short quotation of user text for a message.
pub fn quoted(s: &str) -> String {
    let short: String = s.chars().take(40).collect();
    let more = if short.len() < s.len() { "…" } else { "" };
    format!("`{}{more}`", short.escape_debug())
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Int(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Kind, E> {
        Ok(i128::try_from(v).map_or(Kind::Float(v as f64), Kind::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            items.push(n);
        }
        Ok(Kind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<Node, Node>()? {
            entries.push((k, v));
        }
        Ok(Kind::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Node {
        serde_saphyr::from_str::<Node>(text).unwrap()
    }

    #[test]
    fn scalars_keep_their_kind_and_place() {
        let n = parse("a: 5\nb: \"5\"\nc: five\nd:\ne: 1.5\nf: true\ng: [1, x]\n");
        let Kind::Map(entries) = &n.value else {
            panic!("{n:?}")
        };
        let kinds: Vec<String> = entries
            .iter()
            .map(|(_, v)| format!("{:?}", v.value))
            .collect();
        assert_eq!(
            kinds,
            [
                "Int(5)",
                "Str(\"5\")",
                "Str(\"five\")",
                "Null",
                "Float(1.5)",
                "Bool(true)",
                "Seq([Sp { value: Int(1), loc: Loc { line: 7, column: 5, offset: 42, len: 1 } }, Sp { value: Str(\"x\"), loc: Loc { line: 7, column: 8, offset: 45, len: 1 } }])"
            ]
        );
        let (k, v) = &entries[2];
        assert_eq!((k.loc.line, k.loc.column), (3, 1));
        assert_eq!((v.loc.line, v.loc.column), (3, 4));
    }
}
