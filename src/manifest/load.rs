//! Parsing job files: size and encoding checks, then
//! serde-saphyr with its budgets, so that a hostile file is refused quickly.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::model::JobFile;
use super::shape::{self, Node};
use crate::common::diag::{display_path, Problem, SourceFile};

/// The largest job file snatch reads. Real files are a few KiB; 5,000 jobs
/// fit in well under a MiB.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// One parsed job file.
#[derive(Debug, Clone)]
pub struct LoadedFile {
    pub source: Arc<SourceFile>,
    /// The folder relative paths in this file resolve against.
    pub dir: PathBuf,
    pub doc: JobFile,
}

/// Reads and parses one job file. A YAML syntax error comes back alone;
/// otherwise every structural problem of the file (unknown keys, wrong
/// types, missing keys), each located, found by the shape check before the
/// typed load.
pub fn load_file(path: &Path) -> Result<LoadedFile, Vec<Problem>> {
    load_one(path).map_err(|p| match p {
        Refused::One(p) => vec![p],
        Refused::Many(ps) => ps,
    })
}

enum Refused {
    One(Problem),
    Many(Vec<Problem>),
}

impl From<Problem> for Refused {
    fn from(p: Problem) -> Refused {
        Refused::One(p)
    }
}

fn load_one(path: &Path) -> Result<LoadedFile, Refused> {
    let bytes = read_capped(path).map_err(|e| Problem::bare(e.to_string()))?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // Offsets in the lossy text match up to the first bad byte.
            let source = SourceFile::new(path, lossy);
            let loc = source.loc_at(at, 1);
            return Err(Problem::at(&source, loc, "the file is not valid UTF-8")
                .label("invalid byte")
                .help("save the job file as UTF-8")
                .into());
        }
    };
    let source = SourceFile::new(path, text);
    // An empty parent means the working directory; joining onto it keeps
    // relative paths short in messages.
    let dir = path.parent().map(PathBuf::from).unwrap_or_default();
    if source.text.trim().is_empty()
        || source
            .text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(Problem::in_file(&source, "the job file is empty")
            .help(
                "a job file starts with `version: 1` and a `jobs:` list: `snatch new URL` \
                 adds a job to it, and docs/jobfile.md describes every key",
            )
            .into());
    }
    let options = || {
        serde_saphyr::options! {
            with_snippet: false,
        }
    };
    // A file the typed load takes is well formed; one it refuses (at its
    // first problem) is walked by the shape check, which finds them all.
    let first = match serde_saphyr::from_str_with_options::<JobFile>(&source.text, options()) {
        Ok(doc) => return Ok(LoadedFile { source, dir, doc }),
        Err(e) => e,
    };
    // A tab in the indentation makes the parser point elsewhere (the line
    // above, the next key); the tab itself is the problem to show.
    if let Some(p) = tab_problem(&source) {
        return Err(p.into());
    }
    // `.inf` reaches the range checks as it does in the typed load.
    let mut untyped = options();
    untyped.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::PassThrough;
    let tree = serde_saphyr::from_str_with_options::<Node>(&source.text, untyped)
        .map_err(|e| yaml_problem(&source, &e))?;
    let issues = shape::check(&tree, shape_schema());
    if issues.is_empty() {
        // A problem the shape check does not know (a number too large
        // for its key, say), as serde gives it.
        return Err(yaml_problem(&source, &first).into());
    }
    let problems = issues
        .into_iter()
        .map(|i| Problem::at(&source, i.loc, i.message).help(i.help))
        .collect();
    Err(Refused::Many(problems))
}

/// The first tab in a line's indentation, located on the tab itself and
/// shown as `→` (a snippet would draw it as spaces).
fn tab_problem(source: &Arc<SourceFile>) -> Option<Problem> {
    let mut offset = 0;
    let tab = source.text.split_inclusive('\n').find_map(|line| {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        let found = line[..indent].find('\t').map(|i| offset + i);
        offset += line.len();
        found
    })?;
    let shown = SourceFile::new(source.path.clone(), source.text.replace('\t', "→"));
    let at = tab + 2 * source.text[..tab].matches('\t').count();
    let mut problem = Problem::at(
        &shown,
        shown.loc_at(at, '→'.len_utf8()),
        "a tab in the indentation",
    );
    problem.label = Some("tab".into());
    Some(problem.help(
        "YAML indents with spaces: replace the tab (shown as →) with spaces, as many as \
         the lines around it use (see docs/troubleshooting.md#tabs-in-yaml)",
    ))
}

/// The schema the shape check reads: the one `snatch schema` prints.
fn shape_schema() -> &'static serde_json::Value {
    static SCHEMA: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(super::schema)
}

/// Why a job file's bytes were not read; `shown` is its path as shown.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("cannot read {shown}: {error}")]
    Io {
        shown: String,
        error: std::io::Error,
    },
    #[error(
        "{shown} is {:.1} MiB; job files are limited to {} MiB (is this the right file?)",
        *.len as f64 / (1024.0 * 1024.0),
        MAX_FILE_BYTES / (1024 * 1024)
    )]
    TooBig { shown: String, len: u64 },
}

fn read_capped(path: &Path) -> Result<Vec<u8>, ReadError> {
    let shown = || display_path(path);
    let io = |error| ReadError::Io {
        shown: shown(),
        error,
    };
    let too_big = |len| ReadError::TooBig {
        shown: shown(),
        len,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    if let Ok(meta) = file.metadata() {
        if meta.len() > MAX_FILE_BYTES {
            return Err(too_big(meta.len()));
        }
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Turns a serde-saphyr error into a located problem with a message for a
/// person, not a developer.
fn yaml_problem(source: &Arc<SourceFile>, e: &serde_saphyr::Error) -> Problem {
    let raw = e.render_with_formatter(&serde_saphyr::UserMessageFormatter);
    // serde-saphyr appends " at line L column C"; the location is shown on
    // its own, so keep only the sentence.
    let message = strip_position(&raw);
    let (message, help) = humanize(e, &message);
    let mut p = match e.location() {
        Some(l) => {
            let span = l.span();
            let loc = match span.byte_offset() {
                Some(off) => {
                    let mut loc =
                        source.loc_at(off as usize, span.byte_len().unwrap_or(1) as usize);
                    loc.line = l.line();
                    loc.column = l.column();
                    loc
                }
                None => {
                    let off = offset_of(&source.text, l.line(), l.column());
                    source.loc_at(off, 1)
                }
            };
            Problem::at(source, loc, message)
        }
        None => Problem::in_file(source, message),
    };
    if let Some(h) = help {
        p = p.help(h);
    }
    p
}

fn offset_of(text: &str, line: u64, column: u64) -> usize {
    let mut off = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i as u64 + 1 == line {
            return off
                + l.char_indices()
                    .nth(column.saturating_sub(1) as usize)
                    .map_or(l.len(), |(b, _)| b);
        }
        off += l.len();
    }
    text.len()
}

fn strip_position(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw).trim().to_string();
    match first.rfind(" at line ") {
        Some(i) => first[..i].to_string(),
        None => first,
    }
}

/// What a job file's author should read for one of serde-saphyr's errors,
/// chosen by its variant: serde-saphyr types serde's own refusals
/// (`unknown_field`, `unknown_variant`, `missing_field`) and its budgets, so
/// no decision here reads the message text. `message` (the parser's own
/// sentence) is kept for every other error.
fn humanize(e: &serde_saphyr::Error, message: &str) -> (String, Option<String>) {
    use serde_saphyr::Error as E;
    let shape = || Some(SHAPE_HELP.to_string());
    match innermost(e) {
        E::SerdeUnknownField {
            field, expected, ..
        } => {
            let help = match expected.as_slice() {
                [] => "remove it or fix its spelling".to_string(),
                some => format!(
                    "remove it or fix its spelling; expected one of {}",
                    some.join(", ")
                ),
            };
            (format!("unknown key `{field}`"), Some(help))
        }
        E::SerdeUnknownVariant {
            variant, expected, ..
        } => (
            format!("unknown value `{variant}`"),
            Some(format!("expected one of {}", expected.join(", "))),
        ),
        E::SerdeMissingField { field, .. } => (format!("missing required key `{field}`"), shape()),
        E::Unexpected { expected, .. } => match expected_here(expected) {
            Some(nice) => (nice.to_string(), shape()),
            None => (message.to_string(), None),
        },
        E::InvalidScalar { ty, .. } => match scalar_wanted(ty) {
            Some(nice) => (nice.to_string(), shape()),
            None => (message.to_string(), None),
        },
        E::Budget { .. }
        | E::AliasReplayCounterOverflow { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => (
            "the file expands past the size a job file may have (through aliases such as `*a`?)"
                .into(),
            Some(EXPANSION_HELP.into()),
        ),
        _ => (message.to_string(), None),
    }
}

const SHAPE_HELP: &str = super::shape::SHAPE_HELP;
const EXPANSION_HELP: &str = "job files may not expand past a sane size (alias bombs are refused)";

/// The error itself, out of the wrappers that only add places to it (an
/// alias's use and definition, a snippet).
fn innermost(mut e: &serde_saphyr::Error) -> &serde_saphyr::Error {
    while let serde_saphyr::Error::AliasError { error, .. }
    | serde_saphyr::Error::WithSnippet { error, .. } = e
    {
        e = error;
    }
    e
}

/// The parser's "expected sequence start" and its kin, in a job file's words.
fn expected_here(token: &str) -> Option<&'static str> {
    Some(match token {
        "sequence start" => "expected a list here",
        "mapping start" => "expected a mapping (`key: value` lines) here",
        "string scalar" => "expected a text value here",
        _ => return None,
    })
}

/// A scalar that does not parse as the type its key wants.
fn scalar_wanted(ty: &str) -> Option<&'static str> {
    Some(match ty {
        "i64" | "u32" => "expected a whole number here",
        "f64" => "expected a number here",
        "bool" => "expected `true` or `false` here",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::humanize;
    use serde_saphyr::budget::BudgetBreach;
    use serde_saphyr::{Error as E, Location};

    const AT: Location = Location::UNKNOWN;

    // The wording follows the variant; the text passed beside it is the
    // parser's sentence, which no decision reads.
    #[test]
    fn an_unknown_field_is_named_by_its_variant_not_its_text() {
        let e = E::SerdeUnknownField {
            field: "concurency".into(),
            expected: vec!["concurrency", "rate"],
            location: AT,
        };
        let (message, help) = humanize(&e, "some other sentence");
        assert_eq!(message, "unknown key `concurency`");
        assert_eq!(
            help.as_deref(),
            Some("remove it or fix its spelling; expected one of concurrency, rate")
        );
    }

    #[test]
    fn variants_and_missing_keys_are_read_from_the_error() {
        let e = E::SerdeUnknownVariant {
            variant: "sometimes".into(),
            expected: vec!["fail", "skip"],
            location: AT,
        };
        let (message, help) = humanize(&e, "");
        assert_eq!(message, "unknown value `sometimes`");
        assert_eq!(help.as_deref(), Some("expected one of fail, skip"));
        let e = E::SerdeMissingField {
            field: "jobs",
            location: AT,
        };
        assert_eq!(humanize(&e, "").0, "missing required key `jobs`");
        let e = E::InvalidScalar {
            ty: "bool",
            location: AT,
        };
        assert_eq!(humanize(&e, "").0, "expected `true` or `false` here");
    }

    #[test]
    fn a_breached_budget_is_an_expansion_whatever_its_text() {
        let e = E::Budget {
            breach: BudgetBreach::Aliases { aliases: 9 },
            location: AT,
        };
        let (message, help) = humanize(&e, "limits breached");
        assert!(message.starts_with("the file expands past the size"));
        assert!(help.unwrap().contains("alias bombs"));
    }

    // Matching on text gave a custom message that happens to say "alias"
    // the alias-bomb help; the variant says it is something else.
    #[test]
    fn a_message_that_says_alias_is_not_an_alias_bomb() {
        let e = E::Message {
            msg: "`alias` is too large for an index".into(),
            location: AT,
        };
        let (message, help) = humanize(&e, "`alias` is too large for an index");
        assert_eq!(message, "`alias` is too large for an index");
        assert_eq!(help, None);
    }
}
