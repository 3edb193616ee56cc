//! A shard of a run split over several machines, as `--shard` and the
//! reports write it: `K/N`, `hash:K/N`, `index:I/N`, `hash:index:I/N`.
//! Which jobs a shard takes is the plan's (`plan::shard`).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// The most shards a run may be split into.
pub const MAX_SHARDS: u32 = 1000;

/// The forms `--shard` accepts, for error messages.
pub const ACCEPTED: &str =
    "K/N (1 <= K <= N), hash:K/N, index:I/N (0 <= I < N) or hash:index:I/N, with N at most 1000";

/// How jobs are dealt to shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Partition {
    /// The selected jobs sorted by name, dealt in turn.
    RoundRobin,
    /// A stable hash of the job's name (FNV-1a, 64 bits).
    Hash,
}

/// Shard `k` (1-based) of `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: u32,
    pub n: u32,
    pub partition: Partition,
}

/// A `--shard` value that is not one: the text given and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` {why}; accepted: {ACCEPTED}")]
pub struct ShardError {
    pub text: String,
    pub why: NotAShard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotAShard {
    #[error("is not a shard")]
    Form,
    #[error("has a number too large")]
    TooLarge,
    #[error("needs N from 1 to {MAX_SHARDS}")]
    Count,
    #[error("needs I from 0 to N-1")]
    Index,
    #[error("needs K from 1 to N")]
    Number,
    /// A number with a minus sign, `-1/3`: `n` is N when it could be read.
    #[error("has a negative number; shard numbers start at 1: {}", first_and_last(*.0))]
    Negative(Option<u32>),
}

/// `1/N … N/N`, or the rule when N is not known.
fn first_and_last(n: Option<u32>) -> String {
    match n {
        Some(1) => "1/1".to_string(),
        Some(n) => format!("1/{n} … {n}/{n}"),
        None => "1/N … N/N".to_string(),
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let bad = |why| ShardError {
            text: s.to_string(),
            why,
        };
        let t = s.trim();
        let (partition, t) = match t.strip_prefix("hash:") {
            Some(rest) => (Partition::Hash, rest),
            None => (Partition::RoundRobin, t),
        };
        let (zero_based, t) = match t.strip_prefix("index:") {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (k, n) = t.split_once('/').ok_or_else(|| bad(NotAShard::Form))?;
        if k.starts_with('-') || n.starts_with('-') {
            let n = n
                .trim_start_matches('-')
                .parse()
                .ok()
                .filter(|n| (1..=MAX_SHARDS).contains(n));
            return Err(bad(NotAShard::Negative(n)));
        }
        let number = |v: &str| -> Result<u32, ShardError> {
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(NotAShard::Form));
            }
            v.parse::<u32>().map_err(|_| bad(NotAShard::TooLarge))
        };
        let (k, n) = (number(k)?, number(n)?);
        if n == 0 || n > MAX_SHARDS {
            return Err(bad(NotAShard::Count));
        }
        let k = if zero_based {
            if k >= n {
                return Err(bad(NotAShard::Index));
            }
            k + 1
        } else {
            if k == 0 || k > n {
                return Err(bad(NotAShard::Number));
            }
            k
        };
        Ok(Shard { k, n, partition })
    }
}

impl fmt::Display for Shard {
    /// The canonical, 1-based form: `K/N` or `hash:K/N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.partition == Partition::Hash {
            f.write_str("hash:")?;
        }
        write!(f, "{}/{}", self.k, self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(s: &str) -> Shard {
        s.parse().unwrap()
    }

    #[test]
    fn parses_every_accepted_form() {
        let rr = |k, n| Shard {
            k,
            n,
            partition: Partition::RoundRobin,
        };
        let hash = |k, n| Shard {
            k,
            n,
            partition: Partition::Hash,
        };
        assert_eq!(shard("1/3"), rr(1, 3));
        assert_eq!(shard("3/3"), rr(3, 3));
        assert_eq!(shard(" 2/3 "), rr(2, 3));
        assert_eq!(shard("hash:2/3"), hash(2, 3));
        assert_eq!(shard("index:0/3"), rr(1, 3));
        assert_eq!(shard("index:2/3"), rr(3, 3));
        assert_eq!(shard("hash:index:1/3"), hash(2, 3));
        assert_eq!(shard("1/1"), rr(1, 1));
        assert_eq!(shard("1000/1000"), rr(1000, 1000));
    }

    #[test]
    fn refuses_bad_values_naming_the_accepted_forms() {
        for bad in [
            "0/3",
            "4/3",
            "1/0",
            "0/0",
            "",
            "garbage",
            "1/3/3",
            "-1/3",
            "+1/3",
            "1 /3",
            "a/3",
            "1/b",
            "index:3/3",
            "index:-1/3",
            "index:1/3:",
            "hash:",
            "hash:0/3",
            "round:1/3",
            "1/1001",
            "99999999999999999999/3",
            "1/３",
        ] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains(ACCEPTED), "{bad}: {e}");
            assert!(e.starts_with(&format!("`{bad}`")), "{bad}: {e}");
        }
    }

    #[test]
    fn each_refusal_says_which_part_is_wrong() {
        let why = |s: &str| s.parse::<Shard>().unwrap_err().why;
        assert_eq!(why("index:3/3"), NotAShard::Index);
        assert_eq!(why("0/3"), NotAShard::Number);
        assert_eq!(why("1/0"), NotAShard::Count);
        assert_eq!(why("1-3"), NotAShard::Form);
        assert_eq!(why("99999999999999999999/3"), NotAShard::TooLarge);
    }

    #[test]
    fn displays_the_canonical_one_based_form() {
        assert_eq!(shard("index:0/3").to_string(), "1/3");
        assert_eq!(shard("hash:index:2/3").to_string(), "hash:3/3");
        assert_eq!(shard("hash:2/5").to_string(), "hash:2/5");
    }
}
