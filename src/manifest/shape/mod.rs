//! The shape check: a job file's YAML tree against the model's JSON Schema
//! (the one `snatch schema` prints, generated from the loader's types), so
//! that every unknown key, wrong type and missing key of a file is found in
//! one pass, each with its place, before the typed load (which stops at the
//! first).

mod node;
mod words;

use serde_json::{Map, Value};

use node::quoted;
pub use node::{Kind, Node};
use words::{fits, nearest, nth, same, single_key, types, Want};

use crate::manifest::Loc;

/// One shape problem: where, what, and what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub loc: Loc,
    pub message: String,
    pub help: String,
}

/// Where the shape of each key is told.
pub(crate) const SHAPE_HELP: &str =
    "see docs/jobfile.md or `snatch schema` for the shape of each key";

/// Checks a parsed document against the schema of job files.
pub fn check(root: &Node, schema: &Value) -> Vec<Issue> {
    let empty = Map::new();
    let defs = schema
        .get("definitions")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut c = Checker {
        defs,
        issues: Vec::new(),
    };
    c.node(root, schema, &Place::default());
    c.issues.sort_by_key(|i| i.loc.offset);
    c.issues
}

/// Where in the file a node is: the job it belongs to and the keys above it.
#[derive(Debug, Clone, Default)]
struct Place {
    job: Option<String>,
    keys: Vec<String>,
}

impl Place {
    fn key(&self, k: &str) -> Place {
        let mut p = self.clone();
        p.keys.push(k.to_string());
        p
    }

    /// `retry.attempts` of job `a`, `defaults.concurrency`, job `a`.
    fn said(&self) -> String {
        let keys = format!("`{}`", self.keys.join("."));
        match (&self.job, self.keys.is_empty()) {
            (Some(j), true) => j.clone(),
            (Some(j), false) => format!("{keys} of {j}"),
            (None, true) => "the file's top level".into(),
            (None, false) => keys,
        }
    }
}

struct Checker<'a> {
    defs: &'a Map<String, Value>,
    issues: Vec<Issue>,
}

impl<'a> Checker<'a> {
    fn issue(&mut self, loc: Loc, message: String, help: impl Into<String>) {
        self.issues.push(Issue {
            loc,
            message,
            help: help.into(),
        });
    }

    /// The schema behind `$ref` and one-element `allOf`.
    fn resolve(&self, mut s: &'a Value) -> &'a Value {
        for _ in 0..8 {
            if let Some(r) = s.get("$ref").and_then(Value::as_str) {
                match r
                    .strip_prefix("#/definitions/")
                    .and_then(|d| self.defs.get(d))
                {
                    Some(d) => s = d,
                    None => return s,
                }
            } else if let Some([one]) = s.get("allOf").and_then(Value::as_array).map(Vec::as_slice)
            {
                s = one;
            } else {
                break;
            }
        }
        s
    }

    fn node(&mut self, n: &Node, s: &'a Value, at: &Place) {
        let s = self.resolve(s);
        if let Some(branches) = s.get("anyOf").or(s.get("oneOf")).and_then(Value::as_array) {
            return self.union(n, branches, at);
        }
        if let Some(c) = s.get("const") {
            if !same(&n.value, c) {
                self.wrong(n, &describe(self, s), at);
            }
            return;
        }
        let ts = types(s);
        if ts.is_empty() {
            return;
        }
        if !ts.iter().any(|t| fits(&n.value, t)) {
            let want = ts
                .iter()
                .filter(|t| **t != "null")
                .map(|t| Want::of_type(t))
                .collect();
            return self.wrong(n, &Want::any_of(want), at);
        }
        match &n.value {
            Kind::Map(entries) => self.map(n, entries, s, at),
            Kind::Seq(items) => {
                if let Some(item) = s.get("items") {
                    for (i, it) in items.iter().enumerate() {
                        let place = self.item_place(it, i, at);
                        self.node(it, item, &place);
                    }
                }
            }
            Kind::Int(i) => self.int_range(n.loc, *i, s, at),
            _ => {}
        }
    }

    /// A list item's place: a job is named by its `name`.
    fn item_place(&self, it: &Node, i: usize, at: &Place) -> Place {
        if at.job.is_none() && at.keys == ["jobs"] {
            let name = match &it.value {
                Kind::Map(e) => e
                    .iter()
                    .find(|(k, _)| matches!(&k.value, Kind::Str(s) if s == "name"))
                    .and_then(|(_, v)| v.value.shown()),
                _ => None,
            };
            return Place {
                job: Some(
                    name.map_or(format!("the {}{} job", i + 1, nth(i + 1)), |n| {
                        format!("job {}", quoted(&n))
                    }),
                ),
                keys: Vec::new(),
            };
        }
        at.key(&format!("[{}]", i + 1))
    }

    fn map(&mut self, n: &Node, entries: &[(Node, Node)], s: &'a Value, at: &Place) {
        let props = s.get("properties").and_then(Value::as_object);
        let extra = s.get("additionalProperties");
        for (k, v) in entries {
            let Some(key) = k.value.shown() else {
                self.issue(
                    k.loc,
                    format!("a key of {} is not text", at.said()),
                    "keys are names, e.g. `url:`",
                );
                continue;
            };
            match (props.and_then(|p| p.get(&key)), extra) {
                (Some(ps), _) => self.node(v, ps, &at.key(&key)),
                (None, Some(Value::Bool(false))) => self.unknown_key(k.loc, &key, props, at),
                (None, Some(es)) if es.is_object() => self.node(v, es, &at.key(&key)),
                (None, _) => {}
            }
        }
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !entries
                .iter()
                .any(|(k, _)| k.value.shown().as_deref() == Some(r))
            {
                self.issue(
                    n.loc,
                    format!("{} is missing the required key `{r}`", at.said()),
                    SHAPE_HELP,
                );
            }
        }
    }

    fn unknown_key(&mut self, loc: Loc, key: &str, props: Option<&Map<String, Value>>, at: &Place) {
        let known: Vec<&str> = props
            .into_iter()
            .flat_map(|p| p.keys())
            .map(String::as_str)
            .collect();
        let list = known
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let help = match nearest(key, known.iter().copied()) {
            Some(k) => format!("did you mean `{k}`?"),
            None => format!("remove it or fix its spelling; {} takes {list}", at.said()),
        };
        self.issue(
            loc,
            format!("unknown key {} in {}", quoted(key), at.said()),
            help,
        );
    }

    fn union(&mut self, n: &Node, branches: &'a [Value], at: &Place) {
        let branches = self.flatten(branches);
        let fitting: Vec<&'a Value> = branches
            .iter()
            .copied()
            .filter(|b| self.quiet(n, b))
            .collect();
        if !fitting.is_empty() {
            return;
        }
        // An enum of keys (`variant: {max_height: 720}`): check the variant named.
        if let Kind::Map(e) = &n.value {
            if let [(k, _)] = e.as_slice() {
                let key = k.value.shown().unwrap_or_default();
                if let Some(b) = branches
                    .iter()
                    .find(|b| single_key(b) == Some(key.as_str()))
                {
                    return self.node(n, b, at);
                }
                if branches.iter().any(|b| single_key(b).is_some()) {
                    let want = self.any_branch(&branches);
                    let keys = branches.iter().filter_map(|b| single_key(b));
                    let help = nearest(&key, keys)
                        .map_or(SHAPE_HELP.to_string(), |k| format!("did you mean `{k}`?"));
                    let msg = format!(
                        "{} must be {}, found the key {}",
                        at.said(),
                        want.words,
                        quoted(&key)
                    );
                    return self.issue(k.loc, msg, help);
                }
            }
        }
        // One non-constant branch of the node's type: its problem is the one.
        let typed: Vec<&&Value> = branches
            .iter()
            .filter(|b| {
                b.get("const").is_none()
                    && single_key(b).is_none()
                    && types(b).iter().any(|t| *t != "null" && fits(&n.value, t))
            })
            .collect();
        if let [b] = typed.as_slice() {
            return self.node(n, b, at);
        }
        let want = self.any_branch(&branches);
        self.wrong(n, &want, at);
    }

    /// What a union wants: any of its branches that wants something.
    fn any_branch(&self, branches: &[&'a Value]) -> Want {
        let want = branches
            .iter()
            .map(|b| describe(self, b))
            .filter(|d| !d.is_nothing())
            .collect();
        Want::any_of(want)
    }

    /// The branches of a union, with unions inside it (`Option<Variant>`)
    /// opened up, so that the innermost choices are the ones compared.
    fn flatten(&self, branches: &'a [Value]) -> Vec<&'a Value> {
        let mut out = Vec::new();
        for b in branches {
            let b = self.resolve(b);
            match b.get("anyOf").or(b.get("oneOf")).and_then(Value::as_array) {
                Some(inner) if out.len() < 64 => out.extend(self.flatten(inner)),
                _ => out.push(b),
            }
        }
        out
    }

    fn quiet(&self, n: &Node, s: &'a Value) -> bool {
        let mut c = Checker {
            defs: self.defs,
            issues: Vec::new(),
        };
        c.node(n, s, &Place::default());
        c.issues.is_empty()
    }

    fn wrong(&mut self, n: &Node, want: &Want, at: &Place) {
        let found = match &n.value {
            Kind::Map(e) => match e.first().and_then(|(k, _)| k.value.shown()) {
                Some(k) => format!("a mapping with {}", quoted(&k)),
                None => "an empty mapping".into(),
            },
            other => other.what(),
        };
        let help = match &n.value {
            Kind::Str(s) if want.numeric && s.trim().parse::<f64>().is_ok() => {
                "write the number without quotes".to_string()
            }
            Kind::Str(s) => {
                let consts = want.quoted.iter().map(String::as_str);
                match nearest(s, consts) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => SHAPE_HELP.into(),
                }
            }
            _ => SHAPE_HELP.into(),
        };
        self.issue(
            n.loc,
            format!("{} must be {}, found {found}", at.said(), want.words),
            help,
        );
    }

    fn int_range(&mut self, loc: Loc, i: i128, s: &Value, at: &Place) {
        let (lo, hi): (i128, i128) = match s.get("format").and_then(Value::as_str) {
            Some("uint32") => (0, u32::MAX.into()),
            Some("uint64") => (0, u64::MAX.into()),
            Some("int64") | None => (i64::MIN.into(), i64::MAX.into()),
            Some(_) => return,
        };
        if !(lo..=hi).contains(&i) {
            // The bounds as numbers: "fits in 64 bits" leaves a person to
            // work out what that allows.
            let bound = match i > hi {
                true => format!("at most {hi}"),
                false => format!("at least {lo}"),
            };
            self.issue(
                loc,
                format!("{} must be a whole number {bound}, found {i}", at.said()),
                SHAPE_HELP,
            );
        }
    }
}

/// A schema in words.
fn describe(c: &Checker, s: &Value) -> Want {
    let s = c.resolve(s);
    if let Some(v) = s.get("const") {
        return Want::exactly(v.as_str().map_or_else(|| v.to_string(), str::to_string));
    }
    if let Some(k) = single_key(s) {
        return Want::exactly(format!("{{{k}: …}}"));
    }
    if let Some(bs) = s.get("anyOf").or(s.get("oneOf")).and_then(Value::as_array) {
        let ds = bs
            .iter()
            .map(|b| describe(c, b))
            .filter(|d| !d.is_nothing())
            .collect();
        return Want::any_of(ds);
    }
    let ts: Vec<Want> = types(s)
        .into_iter()
        .filter(|t| *t != "null")
        .map(Want::of_type)
        .collect();
    if ts.is_empty() {
        Want::nothing()
    } else {
        Want::any_of(ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(yaml: &str, schema: serde_json::Value) -> Vec<Issue> {
        check(&serde_saphyr::from_str::<Node>(yaml).unwrap(), &schema)
    }

    // The help for a quoted number follows the schema's types, not the
    // words: a constant that merely says "number" takes no number.
    #[test]
    fn a_quoted_number_is_told_to_drop_its_quotes_only_where_numbers_go() {
        let schema = |value| serde_json::json!({"type": "object", "properties": {"k": value}});
        let number = issues("k: \"5\"\n", schema(serde_json::json!({"type": "integer"})));
        assert_eq!(number[0].help, "write the number without quotes");
        let words = issues(
            "k: \"5\"\n",
            schema(serde_json::json!({"const": "a number"})),
        );
        assert_eq!(
            words[0].message,
            "`k` must be `a number`, found the text `5`"
        );
        assert_ne!(words[0].help, "write the number without quotes");
    }

    #[test]
    fn wanted_values_are_offered_as_the_nearest_spelling() {
        let schema = serde_json::json!({"type": "object", "properties": {"end": {"anyOf": [
            {"type": "integer"}, {"const": "auto"}
        ]}}});
        let found = issues("end: aut\n", schema);
        assert_eq!(found[0].help, "did you mean `auto`?");
        assert!(
            found[0].message.contains("a whole number or `auto`"),
            "{found:?}"
        );
    }
}
