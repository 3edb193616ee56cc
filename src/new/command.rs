//! `snatch new`: add one job to a job file, found from the URL of a segment
//! (or two) or from a browser's "Copy as cURL" command.
//!
//! [`run_new`] does the work and returns what happened as data; it prints
//! nothing. The file is changed only by inserting the new job's text: every
//! byte already there (comments, blank lines, odd formatting) stays as it is.
//!
//! # Where the job goes
//!
//! * No file: one is created with `version: 1` and `jobs:`, and the
//!   `# yaml-language-server: $schema=…` line when the schema of job files
//!   is found beside the file or in a folder above it (`schemas/` or not;
//!   see [`super::file`]); otherwise a note says how to write one.
//! * `jobs:` on a line of its own (a block list): the job is added after the
//!   list's last item, with the items' indentation. When `jobs:` is the last
//!   top-level key that is the end of the file; otherwise it is before the
//!   next top-level key (and before the blank lines and column-0 comments
//!   that lead up to it). Items separated by blank lines get one too.
//! * No `jobs:` key at all (an empty or comments-only file): `jobs:` and the
//!   job are appended, after `version: 1` when that is missing too.
//! * `jobs: []` (a skeleton): the `[]` is taken out and the job added as
//!   the first item of a block list.
//! * Any other shape of `jobs` (a flow list with items, an anchor) is an
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
//!   shows the index found in the URL as a hint. `--range FIRST-auto`
//!   writes `range: { start: FIRST, end: auto }` (the last index is found by
//!   probing at run time); `--end auto` is refused with that advice.
//! * A playlist's URL (`….m3u8`) gives `playlist:` instead (see
//!   [`super::from_playlist`]); a URL ending in `.mpd` is read too, and refused
//!   as MPEG-DASH unless it answers an HLS playlist; `--init URL` gives fMP4 segments their `init:`,
//!   and without it a `.m4s` (or `.mp4`, `.cmfv`…) segment URL gets a note
//!   that the job needs one.
//! * The name is `--name`, or [`slug_from_url`] made unique among the file's
//!   jobs with [`unique_name`]. A `--name` that is taken is an error.
//! * Headers: those of `--from-curl`, then `--referer` and `-H` (which
//!   replace the copied header of the same name). All go through
//!   [`plan_headers`](super::headers::plan_headers): browser-only headers
//!   are dropped (except ones given with `-H`), and `Cookie`,
//!   `Authorization` and other credentials are written as
//!   `${SNATCH_<JOB>_<HEADER>}` with an `export` line returned for the
//!   user. A value given with `-H`/`--referer` that already holds a
//!   `${NAME}` placeholder is written as it is.
//! * Query parameters of the URL that look like credentials (signatures,
//!   tokens, keys, `X-Amz-*`…; the list is in [`super::query`]) are written
//!   as `${SNATCH_<JOB>_<PARAM>}` with an `export` line too, so no signed
//!   value lands in the file.
//! * Text copied from the cURL command is literal: a `${` in it is written
//!   as `$${` so it is not read as a variable. URLs and header values given
//!   on the command line are job-file text, where `${NAME}` is a variable.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::common::diag::{display_path, Problem, SourceFile};

use super::args::{detect_problem, input_of, user_headers, Input, NewArgs};
use super::detect::{detect_one, detect_two, Detected};
use super::file::{read_existing, schema_line, temp_file, write_target, Existing, SCHEMA_PLACES};
use super::from_playlist::{
    details as playlist_details, is_mpd_name, is_playlist, look, refuse_segment_options, Looked,
};
use super::headers::{export, job_headers};
use super::job_text::JobText;
use super::job_text::What;
use super::name::{slug_from_url, unique_name};
use super::query::{mask, plan_query, plan_query_reusing};
use super::source::{no_source_problem, source_of, Source};
use super::trial::{check_new_text, env_policy};
use super::yaml_edit::{compose, compose_new_file, find_spot};
use crate::resolve::peek::Peek;

/// The job file used when `-f` is not given.
pub const DEFAULT_FILE: &str = "jobs.yaml";

/// The start of the first line of a job file that `snatch new` creates when
/// it finds the schema of job files: the path to it follows.
pub const SCHEMA_COMMENT: &str = "# yaml-language-server: $schema=";

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
    /// Segments the job plans (0 for a playlist job: its playlist lists them).
    pub segments: u64,
    /// Whether the job is a playlist job.
    pub playlist: bool,
    /// Whether the job's range ends with `end: auto`.
    pub end_auto: bool,
    /// Lines on what the playlist holds (its variants), when it was read.
    pub details: Vec<String>,
    /// Warnings worth a line each (e.g. a variable shared with other jobs).
    pub notes: Vec<String>,
}

impl NewOutput {
    /// One line saying what happened, e.g. `added job `abc` (300 segments) to jobs.yaml`.
    pub fn summary(&self) -> String {
        let file = display_path(&self.file);
        let what = if self.playlist {
            format!("playlist job `{}`", self.name)
        } else if self.end_auto {
            format!(
                "job `{}` (segments up to the last found by probing)",
                self.name
            )
        } else {
            format!(
                "job `{}` ({} segment{})",
                self.name,
                self.segments,
                if self.segments == 1 { "" } else { "s" }
            )
        };
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
            for line in &self.details {
                out.push_str(line);
                out.push('\n');
            }
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
    let source = source_of(args);
    let input = input_of(args, stdin).map_err(|p| vec![p])?;
    let kind = kind_of(args, &input, source)?;
    let user_headers = user_headers(args).map_err(|p| vec![p])?;

    let file = args
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FILE));
    let existing = read_existing(&file)?;
    let taken = existing.as_ref().map_or_else(Vec::new, |e| e.names.clone());
    let name = job_name(args, existing.as_ref(), &file, &input.url, &taken)?;

    let headers = job_headers(&name, &input, &user_headers)?;
    let header_vars: Vec<String> = headers.secrets.iter().map(|s| s.var.clone()).collect();
    let url = match &kind {
        Kind::Playlist { .. } => input.url.as_str(),
        Kind::Segments(detected, _) => detected.template.as_str(),
    };
    let query = plan_query(&name, url, input.from_curl, &header_vars);
    let init = args.init.as_ref().map(|init| {
        let mut taken = header_vars.clone();
        taken.extend(query.secrets.iter().map(|s| s.var.clone()));
        plan_query_reusing(&name, init, false, &taken, &query.secrets)
    });
    let secrets = every_secret(&headers.secrets, &query, init.as_ref());
    let mut told = Told::default();
    let reads = Reads {
        query: &query,
        headers: &headers,
        secrets: &secrets,
        init: init.as_ref(),
    };
    let (what, detected) = what_of(args, &input, kind, &reads, &mut told)?;
    let job = JobText {
        name: name.clone(),
        url: query.url.clone(),
        what,
        headers: headers.kept,
        send_secrets_to: std::mem::take(&mut told.send_secrets_to),
        output: args.output.clone(),
    };
    write_job(
        args,
        &file,
        existing.as_ref(),
        job,
        detected,
        &secrets,
        told,
    )
}

/// What a drafted job reads: its URL's query, its headers, every secret
/// (variable, value) and its init URL's query.
struct Reads<'a> {
    query: &'a super::query::QueryPlan,
    headers: &'a super::headers::JobHeaders,
    secrets: &'a [(&'a str, &'a str)],
    init: Option<&'a super::query::QueryPlan>,
}

/// What `snatch new` tells beside the job: details of a playlist, notes,
/// and the other origins a playlist job's secrets may go to.
#[derive(Default)]
struct Told {
    details: Vec<String>,
    notes: Vec<String>,
    send_secrets_to: Vec<String>,
}

/// What the job reads, by its kind: a playlist, looked at once (and the
/// other origins its secrets may go to), or numbered segments.
fn what_of(
    args: &NewArgs,
    input: &Input,
    kind: Kind,
    reads: &Reads<'_>,
    told: &mut Told,
) -> Result<(What, Option<Detected>), Vec<Problem>> {
    match kind {
        Kind::Playlist { mpd_name } => {
            let (url, headers) = (&reads.query.url, &reads.headers.kept);
            let looked = look(url, headers, reads.secrets, mpd_name).map_err(|p| vec![p])?;
            if mpd_name {
                refuse_segment_options(args, input).map_err(|p| vec![p])?;
            }
            if !reads.headers.secrets.is_empty() {
                told.send_secrets_to = elsewhere(&looked, &mut told.notes);
            }
            Ok((
                playlist_what(looked, &mut told.details, &mut told.notes),
                None,
            ))
        }
        Kind::Segments(detected, source) => {
            if reads.init.is_none() && fmp4_suffix(&detected.template) {
                told.notes.push(FMP4_NOTE.to_string());
            }
            let what = What::Segments {
                padding: args.padding.unwrap_or(detected.padding),
                source,
                init: reads.init.map(|i| i.url.clone()),
            };
            Ok((what, Some(detected)))
        }
    }
}

/// Writes `job` into `file` (its `existing` text kept), once the new text
/// loads and plans as `snatch validate` would; with `--dry-run`, only
/// checks it.
fn write_job(
    args: &NewArgs,
    file: &Path,
    existing: Option<&Existing>,
    job: JobText,
    detected: Option<Detected>,
    secrets: &[(&str, &str)],
    told: Told,
) -> Result<NewOutput, Vec<Problem>> {
    let name = job.name.clone();
    let file = file.to_path_buf();
    let taken = existing.map_or_else(Vec::new, |e| e.names.clone());
    let (details, mut notes) = (told.details, told.notes);
    let old_text = existing.map_or("", |e| e.text.as_str());
    let schema = schema_line(&file);
    let (new_text, job_yaml) = new_text(&file, existing, &job.lines(), schema.as_deref())?;

    let policy = env_policy(old_text, &new_text);
    let target = write_target(&file)?;
    let temp = temp_file(&target, &new_text, existing.is_some()).map_err(|e| {
        vec![Problem::bare(format!(
            "cannot write a temporary file next to {}: {e}",
            display_path(&file)
        ))]
    })?;
    let segments = check_new_text(
        temp.path(),
        &file,
        &new_text,
        &policy,
        &taken,
        &job,
        detected.as_ref(),
    )
    .map_err(|problems| not_valid(problems, &name, &file, existing.is_some()))?;

    notes.extend(shared_secret_notes(secrets, old_text, &file));
    if existing.is_none() && schema.is_none() {
        notes.push(no_schema_note(&file));
    }
    let out = NewOutput {
        file: file.clone(),
        name,
        job_yaml,
        exports: secrets
            .iter()
            .map(|(var, value)| export(var, value))
            .collect(),
        written: false,
        created: existing.is_none(),
        segments,
        playlist: matches!(job.what, What::Playlist { .. }),
        end_auto: job.what.ends_auto(),
        details,
        notes,
    };
    if args.dry_run {
        return Ok(out);
    }
    let before = existing.map(|e| e.text.as_bytes());
    persist(temp, &target, before, &file)?;
    Ok(NewOutput {
        written: true,
        ..out
    })
}

/// (variable, value) of every secret the job reads: its headers', its
/// URL's query and its init URL's.
fn every_secret<'a>(
    headers: &'a [super::headers::SecretHeader],
    query: &'a super::query::QueryPlan,
    init: Option<&'a super::query::QueryPlan>,
) -> Vec<(&'a str, &'a str)> {
    let params = query
        .secrets
        .iter()
        .chain(init.iter().flat_map(|i| i.secrets.iter()));
    headers
        .iter()
        .map(|s| (s.var.as_str(), s.value.as_str()))
        .chain(params.map(|s| (s.var.as_str(), s.value.as_str())))
        .collect()
}

/// Whether the URL names a playlist or a segment of a numbered stream, with
/// the options each takes checked.
fn kind_of(
    args: &NewArgs,
    input: &Input,
    source: Result<Option<Source>, Problem>,
) -> Result<Kind, Vec<Problem>> {
    if is_mpd_name(&input.url) {
        // Read before the options are checked: it is most likely DASH.
        return Ok(Kind::Playlist { mpd_name: true });
    }
    if is_playlist(&input.url) {
        refuse_segment_options(args, input).map_err(|p| vec![p])?;
        return Ok(Kind::Playlist { mpd_name: false });
    }
    let source = source.map_err(|p| vec![p])?;
    let detected = detect(input)?;
    let Some(source) = source else {
        return Err(vec![no_source_problem(&detected)]);
    };
    Ok(Kind::Segments(detected, source))
}

/// The hosts besides its own that a read playlist names, for a job whose
/// headers hold secrets: they get them too (`send_secrets_to`), and a
/// note says so.
fn elsewhere(looked: &Looked, notes: &mut Vec<String>) -> Vec<String> {
    let Looked::Seen(seen) = looked else {
        return Vec::new();
    };
    if !seen.elsewhere.is_empty() {
        notes.push(format!(
            "the playlist names other hosts ({}); the job's secret headers (cookies, \
             credentials) go to the playlist's own origin only, so the job lists them in \
             `send_secrets_to`: remove any that needs none",
            seen.elsewhere.join(", ")
        ));
    }
    seen.elsewhere.clone()
}

/// A playlist job: a master's variants go to `details`; a playlist that
/// could not be read gives a note instead.
fn playlist_what(looked: Looked, details: &mut Vec<String>, notes: &mut Vec<String>) -> What {
    let master = match looked {
        Looked::Seen(seen) => {
            *details = playlist_details(&seen.peek);
            matches!(seen.peek, Peek::Master(_) | Peek::Dash { .. })
        }
        Looked::NotRead(note) => {
            notes.push(note);
            false
        }
    };
    What::Playlist { master }
}

/// What the URL is: a playlist, or a segment of a numbered stream.
enum Kind {
    /// `mpd_name`: the URL ends in `.mpd`; the options are checked once
    /// it turns out to be an HLS playlist.
    Playlist {
        mpd_name: bool,
    },
    Segments(Detected, Source),
}

/// Fragmented-MP4 segments are often named so; they need their init segment.
fn fmp4_suffix(template: &str) -> bool {
    let path = template.split(['?', '#']).next().unwrap_or("");
    let lower = path.to_ascii_lowercase();
    [".m4s", ".m4v", ".m4a", ".cmfv", ".cmfa", ".mp4"]
        .iter()
        .any(|s| lower.ends_with(s))
}

const FMP4_NOTE: &str = "the segments look like fragmented MP4 (CMAF), which cannot be merged \
     without their init segment: add `init: URL` to the job (or run snatch new again with \
     --init URL). The init segment is the stream's first request in the browser's network \
     panel, often `init.mp4` or a name with `init` in it";

/// The index in the URL(s); a message that quotes them shows no signed value.
fn detect(input: &Input) -> Result<Detected, Vec<Problem>> {
    match &input.neighbour {
        None => detect_one(&input.url),
        Some(b) => detect_two(&input.url, b),
    }
    .map_err(|e| {
        let mut p = detect_problem(e, input.from_curl);
        let urls: Vec<&str> = [Some(&input.url), input.neighbour.as_ref()]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        p.message = mask(&p.message, &urls);
        p.help = p.help.map(|h| mask(&h, &urls));
        vec![p]
    })
}

/// `--name` when it is free in the file, or a free name from the URL.
fn job_name(
    args: &NewArgs,
    existing: Option<&Existing>,
    file: &Path,
    url: &str,
    taken: &[String],
) -> Result<String, Vec<Problem>> {
    let Some(name) = &args.name else {
        return Ok(unique_name(&slug_from_url(url), taken));
    };
    let clash = existing
        .and_then(|ex| ex.manifest.as_ref())
        .and_then(|m| m.jobs.iter().find(|j| &j.name == name));
    match clash {
        Some(job) => Err(vec![Problem::at(
            &job.file,
            job.loc,
            format!("{} already has a job named `{name}`", display_path(file)),
        )
        .label("taken")
        .help("choose another --name, or leave --name out for a free one")]),
        None => Ok(name.clone()),
    }
}

/// The file's text with the job in it, and the job's item text.
fn new_text(
    file: &Path,
    existing: Option<&Existing>,
    lines: &[String],
    schema: Option<&str>,
) -> Result<(String, String), Vec<Problem>> {
    let Some(ex) = existing else {
        return Ok(compose_new_file(lines, schema));
    };
    let spot = find_spot(&ex.text).map_err(|(offset, len, line)| {
        let src = SourceFile::new(file, ex.text.clone());
        let loc = src.loc_at(offset, len);
        vec![Problem::at(
            &src,
            loc,
            format!(
                "`jobs` in {} is not a block list, so snatch cannot add a job to it: `{line}`",
                display_path(file)
            ),
        )
        .help("write `jobs:` on a line of its own with one `- name: …` item per job (see docs/jobfile.md), or add the job by hand")]
    })?;
    Ok(compose(&ex.text, &spot, lines, schema))
}

/// The problems of the would-be file, under a line saying nothing changed.
fn not_valid(mut problems: Vec<Problem>, name: &str, file: &Path, exists: bool) -> Vec<Problem> {
    problems.insert(
        0,
        Problem::bare(format!(
            "the job `{name}` would not be valid, so {} was not {}",
            display_path(file),
            if exists { "changed" } else { "created" }
        ))
        .help("the places below are in the file as it would be with the new job"),
    );
    problems
}

/// A note for each secret the file's other jobs read too.
fn shared_secret_notes(secrets: &[(&str, &str)], old_text: &str, file: &Path) -> Vec<String> {
    let old = crate::manifest::env::names_in(old_text);
    secrets
        .iter()
        .filter(|(var, _)| old.contains(*var))
        .map(|(var, _)| {
            format!(
                "`${{{var}}}` is also read by other jobs in {}; exporting it changes their value too",
                display_path(file)
            )
        })
        .collect()
}

/// Renames the checked temporary file over the job file, if that is still
/// what was read (`before`; `None`: still absent).
fn persist(
    temp: crate::state::atomic::Temp,
    target: &Path,
    before: Option<&[u8]>,
    file: &Path,
) -> Result<(), Vec<Problem>> {
    let now = std::fs::read(target).ok();
    if now.as_deref() != before {
        return Err(vec![Problem::bare(format!(
            "{} changed while snatch new was running; nothing was written",
            display_path(file)
        ))
        .help("run snatch new again")]);
    }
    temp.persist(target, |a, b| std::fs::rename(a, b))
        .map_err(|e| {
            vec![Problem::bare(format!(
                "cannot write {}: {e}",
                display_path(file)
            ))]
        })
}

/// Why the new file has no `$schema` line, and how to get one, in one
/// short line.
fn no_schema_note(file: &Path) -> String {
    let dir = file.parent().unwrap_or(Path::new(""));
    format!(
        "no `$schema` line: no schema was found (`snatch schema -o {}` writes one)",
        display_path(&dir.join(SCHEMA_PLACES[0])),
    )
}
