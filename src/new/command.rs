//! `snatch new`: add one job to a job file, found from the URL of a segment
//! (or two) or from a browser's "Copy as cURL" command.
//!
//! [`run_new`] does the work and returns what happened as data; it prints
//! nothing. The file is changed only by inserting the new job's text: every
//! byte already there (comments, blank lines, odd formatting) stays as it is.
//!
//! # Where the job goes
//!
//! * No file: one is created with the schema line, `version: 1` and `jobs:`.
//! * `jobs:` on a line of its own (a block list): the job is added after the
//!   list's last item, with the items' indentation. When `jobs:` is the last
//!   top-level key that is the end of the file; otherwise it is before the
//!   next top-level key (and before the blank lines and column-0 comments
//!   that lead up to it). Items separated by blank lines get one too.
//! * No `jobs:` key at all (an empty or comments-only file): `jobs:` and the
//!   job are appended, after `version: 1` when that is missing too.
//! * Any other shape of `jobs` (`jobs: []`, a flow list, an anchor) is an
//!   error: the job is not added by hand-editing guesswork.
//!
//! The whole new text is written to a temporary file next to the job file,
//! loaded and planned like `snatch validate` does (secrets the job will read
//! count as set: they are exported later), and checked to hold the old jobs
//! plus exactly the new one. Only then is it renamed over the job file, so
//! the file is always either the old one or the new one. `--dry-run`, and any
//! problem, leave the file untouched.
//!
//! # What the job says
//!
//! * `url` and `padding` come from [`detect_one`] or [`detect_two`]; an
//!   ambiguous URL is an error that lists the candidates. `--padding`
//!   overrides the detected width.
//! * The segment source is required: `--range A-B`, `--count N [--start I]`
//!   or `--length L --segment S [--start I]`; `start` is written only when
//!   `--start` is given (the format's default is 0). Without one, the error
//!   shows the index found in the URL as a hint. There is no open end in
//!   version 1, so `--end auto` is refused with that advice.
//! * The name is `--name`, or [`slug_from_url`] made unique among the file's
//!   jobs with [`unique_name`]. A `--name` that is taken is an error.
//! * Headers: those of `--from-curl`, then `--referer` and `-H` (which
//!   replace the copied header of the same name). All go through
//!   [`plan_headers`]: browser-only headers are dropped (except ones given
//!   with `-H`), and `Cookie`, `Authorization` and other credentials are
//!   written as `${SNATCH_<JOB>_<HEADER>}` with an `export` line returned for
//!   the user. A value given with `-H`/`--referer` that already holds a
//!   `${NAME}` placeholder is written as it is.
//! * Text copied from the cURL command is literal: a `${` in it is written
//!   as `$${` so it is not read as a variable. URLs and header values given
//!   on the command line are job-file text, where `${NAME}` is a variable.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::diag::{display_path, Problem, SourceFile};
use crate::manifest::env::{self, EnvPolicy, Secret};
use crate::manifest::{self, Loc, Manifest};
use crate::plan::{self, PlanContext, Selection};

use super::curl::{export_line, parse_curl, plan_headers, SecretHeader};
use super::detect::{detect_one, detect_two, slug_from_url, unique_name, DetectError, Detected};

/// The job file used when `-f` is not given.
pub const DEFAULT_FILE: &str = "jobs.yaml";

/// The first line of a job file that `snatch new` creates.
pub const SCHEMA_LINE: &str = "# yaml-language-server: $schema=./schemas/jobs.schema.json";

/// `snatch new`: add one job to a job file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NewArgs {
    /// The URL of one video segment; or two segments of the same stream, when
    /// the segment index cannot be told from one (with --from-curl: the URL of
    /// a neighbouring segment).
    #[arg(value_name = "URL", num_args = 0..=2)]
    pub urls: Vec<String>,
    /// The job file to add to (default: ./jobs.yaml); created when it does not exist.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Take the URL and headers from a browser's "Copy as cURL" command (`-`: read it from stdin).
    #[arg(long, value_name = "COMMAND", allow_hyphen_values = true)]
    pub from_curl: Option<String>,
    /// The job's name (default: from the URL's path, made unique in the file).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The job's output template, relative to output_dir (default: {{name}}.mp4).
    #[arg(long, value_name = "TEMPLATE")]
    pub output: Option<String>,
    /// Fetch this inclusive index range, e.g. 1-300.
    #[arg(long, value_name = "FIRST-LAST", conflicts_with_all = ["count", "length", "start"])]
    pub range: Option<String>,
    /// Fetch this many segments from --start (default 0).
    #[arg(long, value_name = "N", conflicts_with = "length")]
    pub count: Option<u64>,
    /// The video's length (H:MM:SS, MM:SS, seconds or 1h2m3s), with --segment.
    #[arg(long, value_name = "LENGTH", requires = "segment")]
    pub length: Option<String>,
    /// Seconds per segment (or 4s, 2500ms), with --length.
    #[arg(long, value_name = "SECONDS", requires = "length")]
    pub segment: Option<String>,
    /// First index for --count and --length (default 0).
    #[arg(long, value_name = "INDEX")]
    pub start: Option<u64>,
    /// Width of the zero-padded index (default: as found in the URL).
    #[arg(long, value_name = "WIDTH")]
    pub padding: Option<u32>,
    /// Send this Referer header.
    #[arg(long, value_name = "URL")]
    pub referer: Option<String>,
    /// Send this header, `Name: value` (repeatable). Cookie and Authorization
    /// values go into an environment variable, not into the file.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Print the job without writing the file.
    #[arg(long)]
    pub dry_run: bool,
    /// Not supported in job files version 1 (there is no open-ended source).
    #[arg(long, value_name = "END", hide = true)]
    pub end: Option<String>,
}

/// What `snatch new` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutput {
    /// The job file, as named on the command line.
    pub file: PathBuf,
    /// The new job's name.
    pub name: String,
    /// The job's text as inserted into the file (a `- name: …` list item,
    /// indented like the file's other jobs), with `\n` line ends.
    pub job_yaml: String,
    /// `export SNATCH_…='…'` lines for the secrets the job reads. They hold
    /// the copied credentials: show them to the user, never log them.
    pub exports: Vec<String>,
    /// Whether the file was written (false with `--dry-run`).
    pub written: bool,
    /// Whether the file did not exist before (with `written`: it was created).
    pub created: bool,
    /// Segments the job plans.
    pub segments: u64,
    /// Warnings worth a line each (e.g. a variable shared with other jobs).
    pub notes: Vec<String>,
}

impl NewOutput {
    /// One line saying what happened, e.g. `added job `abc` (300 segments) to jobs.yaml`.
    pub fn summary(&self) -> String {
        let file = display_path(&self.file);
        let what = format!(
            "job `{}` ({} segment{})",
            self.name,
            self.segments,
            if self.segments == 1 { "" } else { "s" }
        );
        match (self.written, self.created) {
            (true, true) => format!("created {file} with {what}"),
            (true, false) => format!("added {what} to {file}"),
            (false, _) => format!("dry run: {what} was not written to {file}"),
        }
    }

    /// The export lines under a header saying they hold secrets, or `None`
    /// when the job reads no secret.
    pub fn secrets_block(&self) -> Option<String> {
        if self.exports.is_empty() {
            return None;
        }
        let mut out = String::from(
            "# SECRET: the lines below hold credentials (cookies, tokens). The job file only\n\
             # names the variables: run these lines in your shell before `snatch run`, or in\n\
             # CI store the values in the secret store. Do not commit or share them.\n",
        );
        for line in &self.exports {
            out.push_str(line);
            out.push('\n');
        }
        Some(out)
    }

    /// Everything for stderr: the summary (unless `quiet`), the notes, and
    /// the secrets block (always: it is the only copy of the values).
    pub fn stderr_text(&self, quiet: bool) -> String {
        let mut out = String::new();
        if !quiet {
            out.push_str(&self.summary());
            out.push('\n');
        }
        for note in &self.notes {
            out.push_str("note: ");
            out.push_str(note);
            out.push('\n');
        }
        if let Some(block) = self.secrets_block() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&block);
        }
        out
    }
}

/// Adds one job to the job file (see the module docs). `stdin` is read only
/// for `--from-curl -`. Every error comes back as problems; the file is then
/// unchanged.
pub fn run_new(args: &NewArgs, stdin: &mut dyn Read) -> Result<NewOutput, Vec<Problem>> {
    let source = source_of(args).map_err(|p| vec![p])?;
    let input = input_of(args, stdin).map_err(|p| vec![p])?;
    let detected = match &input.neighbour {
        None => detect_one(&input.url),
        Some(b) => detect_two(&input.url, b),
    }
    .map_err(|e| vec![detect_problem(e, input.from_curl)])?;
    let Some(source) = source else {
        return Err(vec![no_source_problem(&detected)]);
    };
    let user_headers = user_headers(args).map_err(|p| vec![p])?;

    let file = args
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FILE));
    let existing = read_existing(&file)?;
    let taken = existing.as_ref().map_or_else(Vec::new, |e| e.names.clone());

    let name = match &args.name {
        Some(name) => {
            if let Some(ex) = &existing {
                if let Some(job) = ex
                    .manifest
                    .as_ref()
                    .and_then(|m| m.jobs.iter().find(|j| &j.name == name))
                {
                    return Err(vec![Problem::at(
                        &job.file,
                        job.loc,
                        format!("{} already has a job named `{name}`", display_path(&file)),
                    )
                    .label("taken")
                    .help("choose another --name, or leave --name out for a free one")]);
                }
            }
            name.clone()
        }
        None => unique_name(&slug_from_url(&input.url), &taken),
    };

    let headers = job_headers(&name, &input, &user_headers)?;
    let url = if input.from_curl {
        literal(&detected.template)
    } else {
        detected.template.clone()
    };
    let job = JobText {
        name: name.clone(),
        url,
        padding: args.padding.unwrap_or(detected.padding),
        source,
        headers: headers.kept,
        output: args.output.clone(),
    };
    let lines = job.lines();

    let old_text = existing.as_ref().map_or("", |e| e.text.as_str());
    let (new_text, job_yaml) = match &existing {
        None => compose_new_file(&lines),
        Some(ex) => {
            let spot = find_spot(&ex.text).map_err(|(offset, len, line)| {
                let src = SourceFile::new(&file, ex.text.clone());
                let loc = src.loc_at(offset, len);
                vec![Problem::at(
                    &src,
                    loc,
                    format!(
                        "`jobs` in {} is not a block list, so snatch cannot add a job to it: `{line}`",
                        display_path(&file)
                    ),
                )
                .help("write `jobs:` on a line of its own with one `- name: …` item per job (see jobs.example.yaml), or add the job by hand")]
            })?;
            compose(&ex.text, &spot, &lines)
        }
    };

    let policy = env_policy(old_text, &new_text);
    let target = write_target(&file)?;
    let mut temp = TempFile::create(&target, &new_text, existing.is_some()).map_err(|e| {
        vec![Problem::bare(format!(
            "cannot write a temporary file next to {}: {e}",
            display_path(&file)
        ))]
    })?;
    let checked = check_new_text(
        &temp.path, &file, &new_text, &policy, &taken, &job, &detected,
    );
    let segments = match checked {
        Ok(n) => n,
        Err(mut problems) => {
            problems.insert(
                0,
                Problem::bare(format!(
                    "the job `{name}` would not be valid, so {} was not {}",
                    display_path(&file),
                    if existing.is_some() {
                        "changed"
                    } else {
                        "created"
                    }
                ))
                .help("the places below are in the file as it would be with the new job"),
            );
            return Err(problems);
        }
    };

    let mut notes = Vec::new();
    for s in &headers.secrets {
        if placeholder_names(old_text).contains(&s.var) {
            notes.push(format!(
                "`${{{}}}` is also read by other jobs in {}; exporting it changes their value too",
                s.var,
                display_path(&file)
            ));
        }
    }
    let exports = headers.secrets.iter().map(export_line).collect();
    let mut out = NewOutput {
        file: file.clone(),
        name,
        job_yaml,
        exports,
        written: false,
        created: existing.is_none(),
        segments,
        notes,
    };
    if args.dry_run {
        return Ok(out);
    }

    // The file must still be what was read (or still be absent).
    let now = std::fs::read(&target).ok();
    let before = existing.as_ref().map(|e| e.text.as_bytes());
    if now.as_deref() != before {
        return Err(vec![Problem::bare(format!(
            "{} changed while snatch new was running; nothing was written",
            display_path(&file)
        ))
        .help("run snatch new again")]);
    }
    temp.persist(&target).map_err(|e| {
        vec![Problem::bare(format!(
            "cannot write {}: {e}",
            display_path(&file)
        ))]
    })?;
    out.written = true;
    Ok(out)
}

// ---------------------------------------------------------------------------
// Command-line input

/// The segment source asked for on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Range {
        start: u64,
        end: u64,
    },
    Count {
        count: u64,
        start: Option<u64>,
    },
    Duration {
        length: String,
        segment: String,
        start: Option<u64>,
    },
}

fn usage(message: impl Into<String>) -> Problem {
    Problem::bare(message).help(SOURCE_FORMS)
}

const SOURCE_FORMS: &str =
    "say which segments to fetch with one of: --range FIRST-LAST (e.g. --range 1-300), \
     --count N [--start FIRST], or --length H:MM:SS --segment SECONDS [--start FIRST]";

fn source_of(args: &NewArgs) -> Result<Option<Source>, Problem> {
    if let Some(end) = &args.end {
        return Err(usage(format!(
            "--end {end} is not supported: job files (version 1) have no open-ended source"
        ))
        .help(
            "use --range FIRST-LAST, --count N, or --length H:MM:SS --segment SECONDS; \
             with --length, 404s after the last segment are expected, so a generous length works as an open end",
        ));
    }
    let given: Vec<&str> = [
        args.range.as_ref().map(|_| "--range"),
        args.count.map(|_| "--count"),
        (args.length.is_some() || args.segment.is_some()).then_some("--length/--segment"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.len() > 1 {
        return Err(usage(format!(
            "{} cannot be used together; a job has exactly one segment source",
            given.join(" and ")
        )));
    }
    if let Some(r) = &args.range {
        if args.start.is_some() {
            return Err(usage(
                "--start goes with --count or --length; a --range has its own start",
            ));
        }
        let parsed = r
            .split_once("..=")
            .or_else(|| r.split_once(".."))
            .or_else(|| r.split_once('-'))
            .and_then(|(a, b)| {
                Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?))
            });
        let Some((start, end)) = parsed else {
            return Err(usage(format!(
                "--range `{r}` is not FIRST-LAST (two whole numbers, e.g. 1-300)"
            )));
        };
        if end < start {
            return Err(usage(format!(
                "--range `{r}` ends before it starts; the range is inclusive: FIRST-LAST with LAST >= FIRST"
            )));
        }
        return Ok(Some(Source::Range { start, end }));
    }
    if let Some(count) = args.count {
        if count == 0 {
            return Err(usage("--count must be at least 1"));
        }
        return Ok(Some(Source::Count {
            count,
            start: args.start,
        }));
    }
    match (&args.length, &args.segment) {
        (Some(length), Some(segment)) => Ok(Some(Source::Duration {
            length: length.trim().to_string(),
            segment: segment.trim().to_string(),
            start: args.start,
        })),
        (Some(_), None) => Err(usage("--length needs --segment (the seconds per segment)")),
        (None, Some(_)) => Err(usage("--segment needs --length (the video's length)")),
        (None, None) => Ok(None),
    }
}

fn no_source_problem(d: &Detected) -> Problem {
    Problem::bare("say which segments the job fetches").help(format!(
        "the URL's segment index is {}; add --range FIRST-LAST (e.g. --range 1-300), \
         --count N [--start FIRST], or --length H:MM:SS --segment SECONDS [--start FIRST] \
         (e.g. --length 1:02:03 --segment 4)",
        d.index
    ))
}

/// The URL(s) to detect the index in, and the headers copied with them.
struct Input {
    url: String,
    neighbour: Option<String>,
    from_curl: bool,
    curl_headers: Vec<(String, String)>,
}

fn input_of(args: &NewArgs, stdin: &mut dyn Read) -> Result<Input, Problem> {
    let Some(cmd) = &args.from_curl else {
        return match args.urls.as_slice() {
            [] => Err(Problem::bare("give the URL of a video segment, or --from-curl")
                .help("`snatch new https://cdn.example.com/vod/abc/000123.ts --range 1-300`, or \
                       `snatch new --from-curl 'curl …'` with a request copied from the browser's network panel")),
            [a] => Ok(Input {
                url: a.clone(),
                neighbour: None,
                from_curl: false,
                curl_headers: Vec::new(),
            }),
            [a, b] => Ok(Input {
                url: a.clone(),
                neighbour: Some(b.clone()),
                from_curl: false,
                curl_headers: Vec::new(),
            }),
            _ => Err(Problem::bare("give one URL, or the URLs of two segments of the same stream")),
        };
    };
    if args.urls.len() > 1 {
        return Err(Problem::bare(
            "with --from-curl, give at most one URL: that of a neighbouring segment",
        )
        .help("the URL and headers come from the cURL command; a second URL only helps find the segment index"));
    }
    let text = if cmd == "-" {
        let mut text = String::new();
        stdin
            .read_to_string(&mut text)
            .map_err(|e| Problem::bare(format!("cannot read the cURL command from stdin: {e}")))?;
        text
    } else {
        cmd.clone()
    };
    let req = parse_curl(&text).map_err(|e| {
        Problem::bare(format!("cannot use the cURL command: {e}"))
            .help("in the browser's network panel, right-click a video segment's request and use \"Copy as cURL\"")
    })?;
    Ok(Input {
        url: req.url,
        neighbour: args.urls.first().cloned(),
        from_curl: true,
        curl_headers: req.headers,
    })
}

fn detect_problem(e: DetectError, from_curl: bool) -> Problem {
    let two = if from_curl {
        "give the URL of a neighbouring segment after the cURL command: `snatch new --from-curl '…' NEXT_URL`"
    } else {
        "give the URL of a neighbouring segment as well: `snatch new URL NEXT_URL`"
    };
    match e {
        DetectError::Ambiguous { candidates } => {
            let list: Vec<String> = candidates.iter().map(|c| format!("  {}", c.marked)).collect();
            Problem::bare(format!(
                "cannot tell which number in the URL is the segment index; it could be any of {}",
                candidates
                    .iter()
                    .map(|c| format!("`{}`", c.digits))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .help(format!(
                "the candidates, in brackets:\n{}\nsnatch does not guess: {two}; the number that changes is the index",
                list.join("\n")
            ))
        }
        DetectError::InvalidUrl { .. } => Problem::bare(e.to_string())
            .help("give the full URL of one video segment as the browser's network panel shows it (https://…)"),
        DetectError::NoNumber { .. } => Problem::bare(e.to_string()).help(two),
        DetectError::NotNeighbours { .. } | DetectError::DifferentShape { .. } => {
            Problem::bare(e.to_string())
        }
    }
}

/// `--referer` and `-H` as (name, value), in that order.
fn user_headers(args: &NewArgs) -> Result<Vec<(String, String)>, Problem> {
    let mut out = Vec::new();
    if let Some(r) = &args.referer {
        out.push(("Referer".to_string(), r.trim().to_string()));
    }
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            return Err(Problem::bare(format!("-H `{h}` is not `Name: value`"))
                .help("e.g. -H 'Origin: https://tv.example.com'"));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(Problem::bare(format!("-H `{h}` has no header name"))
                .help("e.g. -H 'Origin: https://tv.example.com'"));
        }
        out.push((name.to_string(), value.trim().to_string()));
    }
    Ok(out)
}

struct JobHeaders {
    /// For the file: values as written, secrets as `${SNATCH_…}`.
    kept: Vec<(String, String)>,
    secrets: Vec<SecretHeader>,
}

fn job_headers(
    name: &str,
    input: &Input,
    user: &[(String, String)],
) -> Result<JobHeaders, Vec<Problem>> {
    let overridden: BTreeSet<String> = user.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    let copied: Vec<(String, String)> = input
        .curl_headers
        .iter()
        .filter(|(n, _)| !overridden.contains(&n.trim().to_ascii_lowercase()))
        .cloned()
        .collect();

    let mut kept = Vec::new();
    let mut secrets = Vec::new();
    let copied_plan = plan_headers(name, &copied);
    for (n, v) in copied_plan.kept {
        let placeholder = copied_plan.secrets.iter().any(|s| s.header == n);
        kept.push((n, if placeholder { v } else { literal(&v) }));
    }
    secrets.extend(copied_plan.secrets);

    // Values that already name a variable are job-file text: kept as given.
    let (verbatim, plain): (Vec<_>, Vec<_>) =
        user.iter().cloned().partition(|(_, v)| v.contains("${"));
    let user_plan = plan_headers(name, &plain);
    let mut user_kept = user_plan.kept;
    // A header asked for with -H is sent even if a browser would add it itself.
    for (n, v) in &plain {
        if !user_kept
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(n.trim()))
        {
            user_kept.push((n.trim().to_string(), v.clone()));
        }
    }
    user_kept.extend(verbatim);
    kept.extend(user_kept);
    for s in user_plan.secrets {
        secrets.retain(|old: &SecretHeader| old.var != s.var);
        secrets.push(s);
    }

    // One value per name (the last wins), in the order of the last mention.
    let mut unique: Vec<(String, String)> = Vec::new();
    for (n, v) in kept {
        unique.retain(|(k, _)| !k.eq_ignore_ascii_case(&n));
        unique.push((n, v));
    }

    let bad: Vec<Problem> = secrets
        .iter()
        .filter(|s| reqwest::header::HeaderValue::from_str(&s.value).is_err())
        .map(|s| {
            Problem::bare(format!(
                "the value of header `{}` is not a valid HTTP header value",
                s.header
            ))
            .help("header values are one line of visible text; was it copied completely?")
        })
        .collect();
    if !bad.is_empty() {
        return Err(bad);
    }
    Ok(JobHeaders {
        kept: unique,
        secrets,
    })
}

/// Copied text as a job-file value: `${` would start a variable, `$${` is a literal `${`.
fn literal(s: &str) -> String {
    s.replace("${", "$${")
}

// ---------------------------------------------------------------------------
// The job's text

struct JobText {
    name: String,
    url: String,
    padding: u32,
    source: Source,
    headers: Vec<(String, String)>,
    output: Option<String>,
}

impl JobText {
    /// The job's lines, unindented; the first becomes the `- ` item line.
    fn lines(&self) -> Vec<String> {
        let mut out = vec![
            format!("name: {}", scalar(&self.name)),
            format!("url: {}", quoted(&self.url)),
        ];
        if self.padding > 0 {
            out.push(format!("padding: {}", self.padding));
        }
        match &self.source {
            Source::Range { start, end } => {
                out.push(format!("range: {{ start: {start}, end: {end} }}"))
            }
            Source::Count { count, start } => {
                out.push(format!("count: {count}"));
                out.extend(start.map(|s| format!("start: {s}")));
            }
            Source::Duration {
                length,
                segment,
                start,
            } => {
                let plain_number = !segment.is_empty()
                    && segment.split_once('.').map_or(
                        segment.bytes().all(|b| b.is_ascii_digit()),
                        |(a, b)| {
                            !a.is_empty()
                                && !b.is_empty()
                                && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
                        },
                    );
                let segment = if plain_number {
                    segment.clone()
                } else {
                    quoted(segment)
                };
                out.push(format!(
                    "duration: {{ length: {}, segment: {segment} }}",
                    quoted(length)
                ));
                out.extend(start.map(|s| format!("start: {s}")));
            }
        }
        if !self.headers.is_empty() {
            out.push("headers:".to_string());
            for (n, v) in &self.headers {
                out.push(format!("  {}: {}", scalar(n), quoted(v)));
            }
        }
        if let Some(o) = &self.output {
            out.push(format!("output: {}", quoted(o)));
        }
        out
    }
}

/// A YAML double-quoted scalar.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            ' '..='~' => out.push(c),
            '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..
                if !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') =>
            {
                out.push(c)
            }
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A name or key: plain when it cannot be read as anything but that text.
fn scalar(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars().any(|c| c.is_ascii_alphabetic())
        && s.parse::<f64>().is_err()
        && !lower.starts_with("0x")
        && !lower.starts_with("0o")
        && !matches!(
            lower.as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        s.to_string()
    } else {
        quoted(s)
    }
}

// ---------------------------------------------------------------------------
// Placing the job in the file

/// Where the new job goes in an existing file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Spot {
    /// The file has no top-level `jobs:` key.
    NoKey,
    /// `jobs:` is a block list (or empty): insert at byte `at`.
    Block {
        at: usize,
        /// Indentation of the list's `-`.
        indent: String,
        items: usize,
        /// Whether items are separated by blank lines.
        spaced: bool,
    },
}

struct Line<'a> {
    start: usize,
    /// Without the line end.
    text: &'a str,
}

fn split_lines(text: &str) -> Vec<Line<'_>> {
    let mut start = 0;
    text.split_inclusive('\n')
        .map(|raw| {
            let line = Line {
                start,
                text: raw.trim_end_matches(['\n', '\r']),
            };
            start += raw.len();
            line
        })
        .collect()
}

/// The key of a top-level `key:` line.
fn top_key(line: &str) -> Option<&str> {
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    if !line.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return None;
    }
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(line.len());
    let rest = line[end..].trim_start_matches(' ');
    let after = rest.strip_prefix(':')?;
    (after.is_empty() || after.starts_with([' ', '\t'])).then_some(&line[..end])
}

fn is_item(trimmed: &str) -> bool {
    trimmed == "-" || trimmed.starts_with("- ") || trimmed.starts_with("-\t")
}

fn is_content(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && !t.starts_with('#')
}

/// Finds where a job goes. The error is the byte range and text of the
/// line that makes `jobs` something other than a block list.
fn find_spot(text: &str) -> Result<Spot, (usize, usize, String)> {
    let lines = split_lines(text);
    let Some(j) = lines.iter().position(|l| top_key(l.text) == Some("jobs")) else {
        return Ok(Spot::NoKey);
    };
    let odd = |l: &Line| Err((l.start, l.text.len(), l.text.trim().to_string()));
    let after_colon = lines[j].text.split_once(':').map_or("", |(_, a)| a).trim();
    if !(after_colon.is_empty() || after_colon.starts_with('#')) {
        return odd(&lines[j]);
    }
    // The block runs to the next line that starts at column 0 and is neither
    // a comment nor a list item (a key, `---`, `...`).
    let end = (j + 1..lines.len())
        .find(|&k| {
            let l = lines[k].text;
            l.starts_with(|c: char| !c.is_whitespace() && c != '#') && !is_item(l)
        })
        .unwrap_or(lines.len());
    let (indent, items, spaced) = match (j + 1..end).find(|&k| is_content(lines[k].text)) {
        None => ("  ".to_string(), 0, false),
        Some(first) => {
            let l = lines[first].text;
            let t = l.trim_start();
            let indent = &l[..l.len() - t.len()];
            if !is_item(t) || indent.contains('\t') {
                return odd(&lines[first]);
            }
            let item_lines: Vec<usize> = (first..end)
                .filter(|&k| lines[k].text.strip_prefix(indent).is_some_and(is_item))
                .collect();
            let spaced = item_lines.iter().skip(1).any(|&k| {
                (j + 1..k)
                    .rev()
                    .map(|i| lines[i].text.trim())
                    .find(|t| !t.starts_with('#'))
                    .is_some_and(str::is_empty)
            });
            (indent.to_string(), item_lines.len(), spaced)
        }
    };
    let at = if end == lines.len() {
        text.len()
    } else {
        // Before the blank lines and column-0 comments that lead to the next key.
        let last = (j..end)
            .rev()
            .find(|&k| {
                let l = lines[k].text;
                !l.trim().is_empty() && !l.starts_with('#')
            })
            .unwrap_or(j);
        lines[last + 1].start
    };
    Ok(Spot::Block {
        at,
        indent,
        items,
        spaced,
    })
}

/// The lines as a list item under `indent`, each ending in `nl`.
fn item_text(lines: &[String], indent: &str, nl: &str) -> String {
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        out.push_str(indent);
        out.push_str(if i == 0 { "- " } else { "  " });
        out.push_str(l);
        out.push_str(nl);
    }
    out
}

/// A new file holding only this job. Returns the text and the item.
fn compose_new_file(lines: &[String]) -> (String, String) {
    let item = item_text(lines, "  ", "\n");
    (format!("{SCHEMA_LINE}\nversion: 1\n\njobs:\n{item}"), item)
}

/// The file's text with the job inserted at `spot`; every byte of `text`
/// is kept. Returns the text and the item (with `\n` line ends).
fn compose(text: &str, spot: &Spot, lines: &[String]) -> (String, String) {
    let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = String::with_capacity(text.len() + 512);
    match spot {
        Spot::NoKey => {
            let item = item_text(lines, "  ", "\n");
            out.push_str(text);
            if !out.is_empty() && !out.ends_with('\n') {
                out.push_str(nl);
            }
            let lines_of = split_lines(text);
            let has_content = lines_of.iter().any(|l| is_content(l.text));
            if !has_content && !text.contains("yaml-language-server") {
                out.push_str(SCHEMA_LINE);
                out.push_str(nl);
            }
            if !lines_of.iter().any(|l| top_key(l.text) == Some("version")) {
                out.push_str("version: 1");
                out.push_str(nl);
            }
            out.push_str(nl);
            out.push_str("jobs:");
            out.push_str(nl);
            out.push_str(&item_text(lines, "  ", nl));
            (out, item)
        }
        Spot::Block {
            at,
            indent,
            items,
            spaced,
        } => {
            let item = item_text(lines, indent, "\n");
            let (before, after) = text.split_at(*at);
            out.push_str(before);
            if !out.is_empty() && !out.ends_with('\n') {
                out.push_str(nl);
            }
            let blank_before = out.ends_with(&format!("{nl}{nl}")) || out == nl;
            if *spaced && *items > 0 && !blank_before {
                out.push_str(nl);
            }
            out.push_str(&item_text(lines, indent, nl));
            out.push_str(after);
            (out, item)
        }
    }
}

// ---------------------------------------------------------------------------
// The file

/// The job file as it is now.
struct Existing {
    text: String,
    /// Its jobs' names (empty when it does not validate yet but has no jobs).
    names: Vec<String>,
    manifest: Option<Manifest>,
}

fn read_existing(file: &Path) -> Result<Option<Existing>, Vec<Problem>> {
    let shown = display_path(file);
    match std::fs::symlink_metadata(file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = file.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(dir) = parent {
                if !dir.is_dir() {
                    return Err(vec![Problem::bare(format!(
                        "cannot create {shown}: folder {} does not exist",
                        display_path(dir)
                    ))]);
                }
            }
            return Ok(None);
        }
        Err(e) => return Err(vec![Problem::bare(format!("cannot read {shown}: {e}"))]),
        Ok(_) if file.is_dir() => {
            return Err(vec![Problem::bare(format!(
                "{shown} is a folder; -f names the job file to add the job to"
            ))])
        }
        Ok(_) => {}
    }
    // A file that is not UTF-8 or too big is reported by the loader.
    let text = std::fs::read(file)
        .map_err(|e| vec![Problem::bare(format!("cannot read {shown}: {e}"))])?;
    let (text, utf8) = match String::from_utf8(text) {
        Ok(t) => (t, true),
        Err(_) => (String::new(), false),
    };
    // Every variable the file reads counts as allowed and set: `new` checks
    // structure, it needs no secrets, and the file was trusted before.
    let policy = env_policy(&text, &text);
    let loaded = manifest::load(&[file.to_path_buf()], &policy).and_then(|m| {
        plan::plan(&m, &plan_context(&policy))?;
        Ok(m)
    });
    match loaded {
        Ok(m) => Ok(Some(Existing {
            text,
            names: m.jobs.iter().map(|j| j.name.clone()).collect(),
            manifest: Some(m),
        })),
        // A file with no jobs yet (empty, comments only, `jobs:` with
        // nothing under it) is filled in; the result is validated whole.
        Err(_)
            if matches!(
                find_spot(&text),
                Ok(Spot::NoKey) | Ok(Spot::Block { items: 0, .. })
            ) && utf8 =>
        {
            Ok(Some(Existing {
                text,
                names: Vec::new(),
                manifest: None,
            }))
        }
        Err(problems) => {
            let mut out = vec![Problem::bare(format!(
                "{shown} does not validate; fix it first, then run snatch new again"
            ))
            .help("`snatch validate` shows the same problems")];
            out.extend(problems);
            Err(out)
        }
    }
}

fn plan_context(policy: &EnvPolicy) -> PlanContext<'_> {
    static SELECTION: std::sync::OnceLock<Selection> = std::sync::OnceLock::new();
    PlanContext {
        date: "2000-01-01".to_string(),
        env: policy,
        output_dir: None,
        selection: SELECTION.get_or_init(Selection::default),
        allow_local: Vec::new(),
    }
}

/// `${NAME}` names in a text (a superset is fine: it only widens what counts as set).
fn placeholder_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        rest = &rest[i + 2..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end > 0 && rest[end..].starts_with('}') {
            out.insert(rest[..end].to_string());
        }
    }
    out
}

/// May read what the old file reads (it was allowed before) and `SNATCH_*`;
/// every variable of the new text counts as set (the user exports them later).
fn env_policy(old: &str, new: &str) -> EnvPolicy {
    EnvPolicy {
        allowed: placeholder_names(old),
        values: placeholder_names(new)
            .into_iter()
            .map(|n| (n, "x".to_string()))
            .collect(),
    }
}

/// Loads and plans the new text (at `temp`) and checks it holds the old jobs
/// and the new one, whose URL renders back the URL it was made from.
/// Returns the new job's segment count.
fn check_new_text(
    temp: &Path,
    file: &Path,
    new_text: &str,
    policy: &EnvPolicy,
    old_names: &[String],
    job: &JobText,
    detected: &Detected,
) -> Result<u64, Vec<Problem>> {
    let temp_shown = display_path(temp);
    let file_shown = display_path(file);
    let real = SourceFile::new(file, new_text.to_string());
    let relocate = |problems: Vec<Problem>| -> Vec<Problem> {
        problems
            .into_iter()
            .map(|mut p| {
                if p.file.as_ref().is_some_and(|f| f.path == temp) {
                    p.file = Some(real.clone());
                }
                p.message = p.message.replace(&temp_shown, &file_shown);
                p.help = p.help.map(|h| h.replace(&temp_shown, &file_shown));
                p
            })
            .collect()
    };
    let m = manifest::load(&[temp.to_path_buf()], policy).map_err(relocate)?;
    let plan = plan::plan(&m, &plan_context(policy)).map_err(relocate)?;

    let at_name = |m: &Manifest| {
        m.jobs
            .iter()
            .find(|j| j.name == job.name)
            .map_or(Loc::default(), |j| j.loc)
    };
    let mut want: Vec<&str> = old_names.iter().map(String::as_str).collect();
    want.push(&job.name);
    want.sort_unstable();
    let mut got: Vec<&str> = m.jobs.iter().map(|j| j.name.as_str()).collect();
    got.sort_unstable();
    if got != want {
        return Err(vec![Problem::at(
            &real,
            at_name(&m),
            format!(
                "snatch could not place the job in {file_shown}: the file would hold the jobs {got:?} instead of {want:?}"
            ),
        )
        .help("add the job by hand")]);
    }
    let spec = m.jobs.iter().find(|j| j.name == job.name).expect("checked");
    let planned = plan
        .jobs
        .iter()
        .find(|j| j.name == job.name)
        .expect("planned");

    // The template must give back the URL it was made from.
    let index = format!("{:0w$}", detected.index, w = detected.padding as usize);
    let mut templates = crate::template::Templates::new();
    let ctx = serde_json::json!({
        "index": index, "n": detected.index, "name": job.name,
        "vars": {}, "date": "2000-01-01",
    });
    let rendered = templates
        .register("url", &spec.url)
        .and_then(|()| templates.render("url", &ctx))
        .map(|r| shown(&r));
    let expected = shown(&job.url.replace("{{index}}", &index));
    match rendered {
        Ok(r) if r == expected => {}
        Ok(r) => {
            return Err(vec![Problem::at(&real, spec.url.loc, format!(
                "the URL cannot be written as a job template: it would fetch `{r}` instead of `{expected}`"
            ))
            .help("the URL holds text that job files read as a placeholder (`(*)`, or `\\` before the number); add the job by hand")])
        }
        Err(e) => return Err(vec![Problem::at(&real, spec.url.loc, format!("the URL cannot be used: {e}"))]),
    }
    Ok(planned.source.len())
}

/// A value with its `${NAME}` placeholders shown as `***` (and `$${` as `${`).
fn shown(s: &str) -> String {
    env::parse(s)
        .ok()
        .and_then(|pieces| {
            let values: BTreeMap<String, String> = env::vars(&pieces)
                .map(|v| (v.to_string(), String::new()))
                .collect();
            Secret::resolve(&pieces, &values).ok()
        })
        .map_or_else(|| s.to_string(), |s| s.shown().to_string())
}

/// The path to write: the job file, or what it links to.
fn write_target(file: &Path) -> Result<PathBuf, Vec<Problem>> {
    let is_link = std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_symlink());
    if is_link {
        std::fs::canonicalize(file).map_err(|e| {
            vec![Problem::bare(format!(
                "cannot follow the link {}: {e}",
                display_path(file)
            ))]
        })
    } else {
        Ok(file.to_path_buf())
    }
}

/// A file next to the job file, removed on drop unless persisted.
struct TempFile {
    path: PathBuf,
    done: bool,
}

impl TempFile {
    fn create(target: &Path, text: &str, copy_permissions: bool) -> std::io::Result<TempFile> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = target
            .file_name()
            .map_or_else(|| DEFAULT_FILE.into(), |n| n.to_string_lossy().into_owned());
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path =
                target.with_file_name(format!(".{base}.snatch-new-{}-{n}.tmp", std::process::id()));
            let mut f = match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            };
            let temp = TempFile { path, done: false };
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            drop(f);
            if copy_permissions {
                if let Ok(meta) = std::fs::metadata(target) {
                    std::fs::set_permissions(&temp.path, meta.permissions())?;
                }
            }
            return Ok(temp);
        }
    }

    fn persist(&mut self, target: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, target)?;
        self.done = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines() -> Vec<String> {
        vec![
            "name: new".to_string(),
            "url: \"u{{index}}\"".to_string(),
            "count: 3".to_string(),
        ]
    }

    fn insert(text: &str) -> String {
        let spot = find_spot(text).unwrap();
        compose(text, &spot, &lines()).0
    }

    #[test]
    fn appends_when_jobs_is_the_last_key() {
        let text = "version: 1\njobs:\n  - name: a   # first\n    count: 1\n# trailing\n";
        assert_eq!(
            insert(text),
            format!("{text}  - name: new\n    url: \"u{{{{index}}}}\"\n    count: 3\n")
        );
        // No newline at the end: one is added, nothing else changes.
        let text = "version: 1\njobs:\n  - name: a\n    count: 1";
        assert!(insert(text).starts_with(&format!("{text}\n  - name: new\n")));
    }

    #[test]
    fn inserts_before_the_next_top_level_key_and_its_comments() {
        let text =
            "version: 1\njobs:\n- name: a\n  count: 1\n\n# the limits\nlimits:\n  global: {}\n";
        assert_eq!(
            insert(text),
            "version: 1\njobs:\n- name: a\n  count: 1\n- name: new\n  url: \"u{{index}}\"\n  count: 3\n\n# the limits\nlimits:\n  global: {}\n"
        );
    }

    #[test]
    fn keeps_blank_lines_between_items_and_crlf() {
        let text = "jobs:\r\n  - name: a\r\n\r\n  # b\r\n  - name: b\r\n";
        let out = insert(text);
        assert_eq!(
            out,
            format!("{text}\r\n  - name: new\r\n    url: \"u{{{{index}}}}\"\r\n    count: 3\r\n")
        );
    }

    #[test]
    fn empty_jobs_and_missing_jobs() {
        let text = "version: 1\njobs:\nlimits: {}\n";
        assert_eq!(
            insert(text),
            "version: 1\njobs:\n  - name: new\n    url: \"u{{index}}\"\n    count: 3\nlimits: {}\n"
        );
        assert_eq!(find_spot("# only a comment\n").unwrap(), Spot::NoKey);
        let out = insert("# only a comment\n");
        assert!(out.starts_with("# only a comment\n"), "{out}");
        assert!(
            out.contains("version: 1\n\njobs:\n  - name: new\n"),
            "{out}"
        );
    }

    #[test]
    fn refuses_flow_lists_and_other_shapes() {
        for text in [
            "version: 1\njobs: []\n",
            "version: 1\njobs: [ { name: a } ]\n",
            "version: 1\njobs: &all\n  - name: a\n",
            "version: 1\njobs:\n  [ ]\n",
        ] {
            assert!(find_spot(text).is_err(), "{text}");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quoted("x\ny\u{7f}é\u{2028}"), "\"x\\ny\\u007Fé\\u2028\"");
        assert_eq!(scalar("lecture-01"), "lecture-01");
        for s in ["123", "1e3", "true", "No", "-x", ".inf", "0x1f", "a b", ""] {
            assert!(scalar(s).starts_with('"'), "{s}");
        }
        assert_eq!(literal("a${B}c$${d}"), "a$${B}c$$${d}");
        assert_eq!(shown(&literal("a${B}c$${d}")), "a${B}c$${d}");
        assert_eq!(shown("t=${SNATCH_T}"), "t=***");
    }

    #[test]
    fn placeholders_found() {
        let names = placeholder_names("a ${SNATCH_A} $${LIT} ${bad name} ${B_2}");
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            ["B_2", "LIT", "SNATCH_A"]
        );
    }
}
