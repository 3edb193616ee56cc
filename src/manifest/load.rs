//! Finding job files and parsing them: size and encoding checks, then
//! serde-saphyr with its budgets, so that a hostile file is refused quickly.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::model::JobFile;
use super::shape::{self, Node};
use crate::diag::{display_path, Problem, SourceFile};

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

/// Expands the command line's paths: a file as it is, a folder to its
/// `*.yaml` and `*.yml` files (sorted, not recursive), nothing to
/// `./jobs.yaml`.
pub fn expand_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Vec<Problem>> {
    if paths.is_empty() {
        let default = PathBuf::from("jobs.yaml");
        if !default.exists() {
            return Err(vec![Problem::bare("no job file given and ./jobs.yaml does not exist")
                .help("name a job file or folder (`snatch run jobs.example.yaml`), or start one with `snatch new URL`")]);
        }
        return Ok(vec![default]);
    }
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = match std::fs::read_dir(p) {
                Ok(rd) => rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| {
                        f.is_file()
                            && matches!(
                                f.extension().and_then(|e| e.to_str()),
                                Some("yaml" | "yml")
                            )
                    })
                    .collect(),
                Err(e) => {
                    problems.push(Problem::bare(format!(
                        "cannot read folder {}: {e}",
                        display_path(p)
                    )));
                    continue;
                }
            };
            if found.is_empty() {
                problems.push(Problem::bare(format!(
                    "folder {} holds no *.yaml or *.yml job file",
                    display_path(p)
                )));
            }
            found.sort();
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            problems.push(Problem::bare(format!(
                "job file {} does not exist",
                display_path(p)
            )));
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(problems)
    }
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
    let bytes = read_capped(path).map_err(Problem::bare)?;
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
            .help("a job file starts with `version: 1` and a `jobs:` list; see jobs.example.yaml")
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

/// The schema the shape check reads: the one `snatch schema` prints.
fn shape_schema() -> &'static serde_json::Value {
    static SCHEMA: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(super::schema)
}

fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    let shown = display_path(path);
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if let Ok(meta) = file.metadata() {
        if meta.len() > MAX_FILE_BYTES {
            return Err(too_big(&shown, meta.len()));
        }
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(&shown, bytes.len() as u64));
    }
    Ok(bytes)
}

fn too_big(shown: &str, len: u64) -> String {
    format!(
        "{shown} is {:.1} MiB; job files are limited to {} MiB (is this the right file?)",
        len as f64 / (1024.0 * 1024.0),
        MAX_FILE_BYTES / (1024 * 1024)
    )
}

/// Turns a serde-saphyr error into a located problem with a message for a
/// person, not a developer.
fn yaml_problem(source: &Arc<SourceFile>, e: &serde_saphyr::Error) -> Problem {
    let raw = e.render_with_formatter(&serde_saphyr::UserMessageFormatter);
    // serde-saphyr appends " at line L column C"; the location is shown on
    // its own, so keep only the sentence.
    let message = strip_position(&raw);
    let (message, help) = humanize(&message);
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

/// Rewords the parser's messages for a person editing a job file, and
/// adds what was expected.
fn humanize(message: &str) -> (String, Option<String>) {
    let m = message.trim();
    let shape = "see jobs.example.yaml or `snatch schema` for the shape of each key";
    if let Some(rest) = m.strip_prefix("unknown field ") {
        let (key, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let help = if expected.is_empty() {
            "remove it or fix its spelling".to_string()
        } else {
            format!("remove it or fix its spelling; expected {expected}")
        };
        return (format!("unknown key {key}"), Some(help));
    }
    if let Some(rest) = m.strip_prefix("unknown variant ") {
        let (value, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        return (
            format!("unknown value {value}"),
            Some(format!("expected {expected}")),
        );
    }
    if let Some(rest) = m.strip_prefix("missing field ") {
        return (format!("missing required key {rest}"), Some(shape.into()));
    }
    let wanted = [
        ("expected sequence start", "expected a list here"),
        (
            "expected mapping start",
            "expected a mapping (`key: value` lines) here",
        ),
        ("expected string scalar", "expected a text value here"),
        ("invalid i64", "expected a whole number here"),
        ("invalid u32", "expected a whole number here"),
        ("invalid f64", "expected a number here"),
        ("invalid bool", "expected `true` or `false` here"),
    ];
    for (raw, nice) in wanted {
        if m.starts_with(raw) {
            return (nice.to_string(), Some(shape.into()));
        }
    }
    if m.contains("too large or too complex") {
        return (
            "the file expands past the size a job file may have (through aliases such as `*a`?)"
                .into(),
            Some("job files may not expand past a sane size (alias bombs are refused)".into()),
        );
    }
    if m.contains("budget") || m.contains("alias") {
        return (
            m.to_string(),
            Some("job files may not expand past a sane size (alias bombs are refused)".into()),
        );
    }
    (m.to_string(), None)
}
