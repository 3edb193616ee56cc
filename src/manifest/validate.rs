//! Semantic validation: from parsed files to a [`Manifest`] of resolved jobs,
//! or every problem found, each with its place.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use super::bounds;
use super::env::{self, EnvPolicy};
use super::load::LoadedFile;
use super::model::{Job, Loc, MergeWith, OnMissing, RangeEnd, Settings, Sp};
use super::settings::PartialLimits;
use crate::common::diag::{Problem, SourceFile};
use crate::common::{RetryPolicy, RunLimits, Timeouts, Verify};

mod playlist;

/// A job of more segments than this is almost always a typo.
pub const MAX_SEGMENTS: u64 = 1_000_000;

/// Every job of a run, resolved, and the run's limits.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub files: Vec<Arc<SourceFile>>,
    pub jobs: Vec<JobSpec>,
    pub limits: RunLimits,
}

/// Where a job's indices come from.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexSource {
    Range {
        start: u64,
        end: u64,
    },
    Count {
        start: u64,
        count: u64,
    },
    Duration {
        start: u64,
        count: u64,
        length_s: f64,
        segment_s: f64,
    },
}

impl IndexSource {
    pub fn first(&self) -> u64 {
        match *self {
            IndexSource::Range { start, .. }
            | IndexSource::Count { start, .. }
            | IndexSource::Duration { start, .. } => start,
        }
    }

    pub fn count(&self) -> u64 {
        match *self {
            IndexSource::Range { start, end } => end - start + 1,
            IndexSource::Count { count, .. } | IndexSource::Duration { count, .. } => count,
        }
    }

    pub fn last(&self) -> u64 {
        self.first() + self.count() - 1
    }

    /// The video's expected length, where the job says it.
    pub fn expected_duration(&self) -> Option<f64> {
        match *self {
            IndexSource::Duration { length_s, .. } => Some(length_s),
            _ => None,
        }
    }
}

/// A playlist job's playlist.
#[derive(Debug, Clone)]
pub struct PlaylistSpec {
    pub url: Sp<String>,
    pub variant: super::model::Variant,
}

/// One job with its file's defaults applied and every value checked.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub name: String,
    pub file: Arc<SourceFile>,
    /// The job file's folder: relative paths resolve against it.
    pub dir: PathBuf,
    /// Where the job's name stands.
    pub loc: Loc,
    /// URL template, with `(*)` already turned into `{{index}}`; for a
    /// playlist job, the playlist's URL (a template without an index).
    pub url: Sp<String>,
    /// `Some` for a playlist job: its segments come from the playlist, and
    /// `source` is not read.
    pub playlist: Option<PlaylistSpec>,
    /// The init segment's URL template of an fMP4 `url` job.
    pub init: Option<Sp<String>>,
    /// `range: {end: auto}`: the last index is found by probing at run
    /// time; `source` is the range's start alone until then.
    pub end_auto: bool,
    pub padding: u32,
    pub source: IndexSource,
    pub output: Sp<String>,
    pub output_dir: PathBuf,
    pub vars: BTreeMap<String, String>,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub concurrency: u32,
    /// In the order written, names as written; values may hold `${NAME}`.
    pub headers: Vec<(String, Sp<String>)>,
    pub retry: RetryPolicy,
    pub timeout: Timeouts,
    pub on_missing: OnMissing,
    pub merge: MergeWith,
    pub verify: Verify,
    pub max_segment_bytes: u64,
    /// The job's own `bytes_per_second`, when limited.
    pub bytes_per_second: Option<u64>,
    /// `send_secrets_to`: where its secrets may go besides its own origin.
    pub send_secrets_to: Vec<crate::common::origins::SecretHost>,
    /// The `vars` keys the url names (their values may hold `${NAME}`).
    pub url_vars: BTreeSet<String>,
}

/// Checks every parsed file and resolves its jobs. All problems are
/// returned, not only the first.
pub fn validate(files: Vec<LoadedFile>, policy: &EnvPolicy) -> Result<Manifest, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut jobs = Vec::new();
    let mut limits = PartialLimits::default();
    let mut names: HashMap<String, (Arc<SourceFile>, Loc)> = HashMap::new();
    let mut sources = Vec::new();

    let folders = folder_defaults(&files, &mut problems);
    for file in &files {
        let mut v = FileCheck {
            src: &file.source,
            problems: &mut problems,
        };
        if *file.doc.version != 1 {
            v.err(
                file.doc.version.loc,
                format!("version {} is not supported", *file.doc.version),
                "this snatch reads `version: 1`",
            );
        }
        if let Some(l) = &file.doc.limits {
            limits.merge(v.limits(l));
        }
        let empty = Settings::default();
        let own = file.doc.defaults.as_ref().map_or(&empty, |d| &d.value);
        let folder = folders.get(&file.dir).unwrap_or(&empty);
        let defaults = &super::defaults::over(own, folder);
        for job in file.doc.jobs.iter().flat_map(|j| j.iter()) {
            let before = v.problems.len();
            let job = &super::defaults::apply(job, defaults);
            let spec = v.job(job, defaults, &file.dir, policy);
            if let Some((first_file, first_loc)) = names.get(&*job.name) {
                v.err(
                    job.name.loc,
                    format!("job name `{}` is used twice", *job.name),
                    format!(
                        "job names are unique over the whole run; the first is at {}:{}:{}",
                        crate::common::diag::display_path(&first_file.path),
                        first_loc.line,
                        first_loc.column
                    ),
                );
            } else {
                names.insert(job.name.value.clone(), (file.source.clone(), job.name.loc));
            }
            if v.problems.len() == before {
                jobs.extend(spec);
            }
        }
        sources.push(file.source.clone());
    }
    if problems.is_empty() {
        Ok(Manifest {
            files: sources,
            jobs,
            limits: limits.resolve(),
        })
    } else {
        Err(problems)
    }
}

/// The defaults of each folder's settings file (a file without jobs); a
/// folder has at most one such file with `defaults`.
fn folder_defaults(
    files: &[LoadedFile],
    problems: &mut Vec<Problem>,
) -> HashMap<PathBuf, Settings> {
    let mut out: HashMap<PathBuf, (Arc<SourceFile>, Settings)> = HashMap::new();
    for f in files {
        let has_jobs = f.doc.jobs.as_ref().is_some_and(|j| !j.is_empty());
        let Some(d) = f.doc.defaults.as_ref().filter(|_| !has_jobs) else {
            continue;
        };
        if let Some((first, _)) = out.get(&f.dir) {
            problems.push(
                Problem::at(
                    &f.source,
                    d.loc,
                    "a second settings file with `defaults` in this folder",
                )
                .help(format!(
                    "{} already gives the folder's defaults; keep them in one file",
                    crate::common::diag::display_path(&first.path)
                )),
            );
            continue;
        }
        out.insert(f.dir.clone(), (f.source.clone(), d.value.clone()));
    }
    out.into_iter().map(|(k, (_, v))| (k, v)).collect()
}

pub(super) struct FileCheck<'a> {
    pub(super) src: &'a Arc<SourceFile>,
    pub(super) problems: &'a mut Vec<Problem>,
}

impl FileCheck<'_> {
    pub(super) fn err(&mut self, loc: Loc, message: String, help: impl Into<String>) {
        self.problems
            .push(Problem::at(self.src, loc, message).help(help.into()));
    }

    pub(super) fn headers(
        &mut self,
        defaults: Option<&BTreeMap<String, Sp<String>>>,
        own: Option<&BTreeMap<String, Sp<String>>>,
        policy: &EnvPolicy,
        job: &str,
    ) -> Vec<(String, Sp<String>)> {
        let mut out: Vec<(String, Sp<String>)> = Vec::new();
        for (name, value) in defaults
            .into_iter()
            .flatten()
            .chain(own.into_iter().flatten())
        {
            if !crate::common::headers::valid_name(name) {
                self.err(
                    value.loc,
                    format!("`{name}` is not a valid HTTP header name"),
                    "header names are letters, digits and `-` (e.g. `Referer`, `X-Token`)",
                );
                continue;
            }
            if !self.text_len(
                value.loc,
                &value.value,
                &format!("header `{name}`"),
                bounds::HEADER_LEN,
            ) {
                continue;
            }
            if !crate::common::headers::valid_value(&value.value) {
                self.err(
                    value.loc,
                    format!("the value of header `{name}` is not a valid HTTP header value"),
                    "header values are one line of visible text",
                );
                continue;
            }
            self.env_refs(value, policy, job, &format!("header `{name}`"));
            out.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            out.push((name.clone(), value.clone()));
        }
        out
    }

    pub(super) fn env_refs(
        &mut self,
        value: &Sp<String>,
        policy: &EnvPolicy,
        job: &str,
        what: &str,
    ) {
        match env::parse(&value.value) {
            Err(e) => self.err(
                value.loc,
                format!("{what} of job `{job}`: {e}"),
                "write `${SNATCH_NAME}` for a value from the environment, `$${` for a literal `${`",
            ),
            Ok(pieces) => {
                for var in env::vars(&pieces) {
                    if !policy.may_read(var) {
                        self.err(
                            value.loc,
                            format!("{what} of job `{job}` reads `${{{var}}}`, which job files may not read"),
                            format!(
                                "only variables that start with `{}` can be read; if this job file is trusted, allow it with `--allow-env {var}`",
                                env::PREFIX
                            ),
                        );
                    }
                }
            }
        }
    }

    /// The job's indices: one source, checked, within the segment cap.
    pub(super) fn source(&mut self, job: &Sp<Job>) -> Option<IndexSource> {
        self.one_source(job)?;
        let start = self.start(job)?;
        let src = if let Some(r) = &job.range {
            self.range(r)?
        } else if let Some(c) = &job.count {
            if c.value <= 0 {
                self.err(
                    c.loc,
                    format!("count must be at least 1, found {}", c.value),
                    "count is the number of segments",
                );
                return None;
            }
            IndexSource::Count {
                start,
                count: c.value as u64,
            }
        } else {
            self.duration_source(job, start)?
        };
        if src.count() > MAX_SEGMENTS {
            let loc = job
                .range
                .as_ref()
                .map(|r| r.end.loc)
                .or(job.count.as_ref().map(|c| c.loc))
                .unwrap_or(job.name.loc);
            self.too_many(loc, &job.name, src.count());
            return None;
        }
        Some(src)
    }

    /// Exactly one of `range`, `count` and `duration`.
    fn one_source(&mut self, job: &Sp<Job>) -> Option<()> {
        let given: Vec<(&str, Loc)> = [
            job.range.as_ref().map(|r| ("range", r.loc)),
            job.count.as_ref().map(|r| ("count", r.loc)),
            job.duration.as_ref().map(|r| ("duration", r.loc)),
        ]
        .into_iter()
        .flatten()
        .collect();
        if given.is_empty() {
            self.err(
                job.name.loc,
                format!("job `{}` has no segment source", *job.name),
                "give exactly one of `range: {start, end}`, `count: N` or `duration: {length, segment}`",
            );
            return None;
        }
        if given.len() > 1 {
            let keys: Vec<&str> = given.iter().map(|g| g.0).collect();
            self.err(
                given[1].1,
                format!(
                    "job `{}` has more than one segment source ({})",
                    *job.name,
                    keys.join(", ")
                ),
                "keep exactly one of `range`, `count` and `duration`",
            );
            return None;
        }
        Some(())
    }

    /// `start` of a `count` or `duration` job (0 when absent).
    fn start(&mut self, job: &Sp<Job>) -> Option<u64> {
        let start = match &job.start {
            Some(s) if job.range.is_some() => {
                self.err(
                    s.loc,
                    "`start` goes with `count` or `duration`; a `range` has its own start".into(),
                    "move the value into `range: {start, end}`",
                );
                return None;
            }
            Some(s) if s.value < 0 => {
                self.err(
                    s.loc,
                    format!("start must be 0 or more, found {}", s.value),
                    "indices are whole numbers from 0",
                );
                return None;
            }
            Some(s) => s.value as u64,
            None => 0,
        };
        Some(start)
    }

    /// A `range`, inclusive; `end: auto` is its start until probed.
    fn range(&mut self, r: &Sp<super::model::Range>) -> Option<IndexSource> {
        if r.start.value < 0 {
            self.err(
                r.start.loc,
                format!("range start must be 0 or more, found {}", r.start.value),
                "indices are whole numbers from 0",
            );
            return None;
        }
        // `end: auto` is found at run time; until then the range is its start.
        let end = match r.end.value {
            RangeEnd::Index(end) => end,
            RangeEnd::Auto => r.start.value,
        };
        if end < r.start.value {
            self.err(
                r.end.loc,
                format!(
                    "range end ({end}) is less than its start ({})",
                    r.start.value
                ),
                "the range is inclusive: `end` is the last index and at least `start`",
            );
            return None;
        }
        Some(IndexSource::Range {
            start: r.start.value as u64,
            end: end as u64,
        })
    }

    /// `duration: {length, segment}`: as many segments as cover the length.
    fn duration_source(&mut self, job: &Sp<Job>, start: u64) -> Option<IndexSource> {
        let d = job.duration.as_ref()?;
        let length = self.duration(&d.length, "duration.length", bounds::VIDEO_LENGTH);
        let segment = self.duration(&d.segment, "duration.segment", bounds::SEGMENT_LENGTH);
        let (length_s, segment_s) = (length?.as_secs_f64(), segment?.as_secs_f64());
        let count = ((length_s / segment_s) - 1e-9).ceil().max(1.0);
        if count > MAX_SEGMENTS as f64 {
            self.too_many(d.loc, &job.name, count as u64);
            return None;
        }
        Some(IndexSource::Duration {
            start,
            count: count as u64,
            length_s,
            segment_s,
        })
    }

    fn too_many(&mut self, loc: Loc, name: &str, count: u64) {
        self.err(
            loc,
            format!(
                "job `{name}` has {count} segments, more than the {MAX_SEGMENTS} a job may have"
            ),
            "this is almost always a typo in `end`, `count` or `length`",
        );
    }
}
