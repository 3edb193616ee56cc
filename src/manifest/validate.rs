//! Semantic validation: from parsed files to a [`Manifest`] of resolved jobs,
//! or every problem found, each with its place.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::env::{self, EnvPolicy};
use super::load::LoadedFile;
use super::model::{self, Job, Loc, OnMissing, RangeEnd, Settings, Sp};
use super::settings::{parse_time, Limit, Rate, RetryPolicy, RunLimits, Timeouts};
use crate::diag::{Problem, SourceFile};

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
}

/// Checks every parsed file and resolves its jobs. All problems are
/// returned, not only the first.
pub fn validate(files: Vec<LoadedFile>, policy: &EnvPolicy) -> Result<Manifest, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut jobs = Vec::new();
    let mut limits = PartialLimits::default();
    let mut names: HashMap<String, (Arc<SourceFile>, Loc)> = HashMap::new();
    let mut sources = Vec::new();

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
        let defaults = file.doc.defaults.as_ref().map_or(&empty, |d| &d.value);
        if file.doc.jobs.is_empty() {
            v.err(
                file.doc.jobs.loc,
                "`jobs` is empty".to_string(),
                "add at least one job; see jobs.example.yaml",
            );
        }
        for job in file.doc.jobs.iter() {
            let before = v.problems.len();
            let spec = v.job(job, defaults, &file.dir, policy);
            if let Some((first_file, first_loc)) = names.get(&*job.name) {
                v.err(
                    job.name.loc,
                    format!("job name `{}` is used twice", *job.name),
                    format!(
                        "job names are unique over the whole run; the first is at {}:{}:{}",
                        crate::diag::display_path(&first_file.path),
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

#[derive(Debug, Default, Clone, Copy)]
struct PartialLimit {
    concurrency: Option<u32>,
    rate: Option<Rate>,
}

impl PartialLimit {
    fn merge(&mut self, other: PartialLimit) {
        self.concurrency = match (self.concurrency, other.concurrency) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let dummy = |r| Limit {
            concurrency: 1,
            rate: r,
        };
        self.rate = dummy(self.rate).stricter(dummy(other.rate)).rate;
    }
    fn resolve(self, default_concurrency: u32) -> Limit {
        Limit {
            concurrency: self.concurrency.unwrap_or(default_concurrency),
            rate: self.rate,
        }
    }
}

#[derive(Debug, Default)]
struct PartialLimits {
    global: PartialLimit,
    per_host: PartialLimit,
    hosts: BTreeMap<String, PartialLimit>,
}

impl PartialLimits {
    fn merge(&mut self, other: PartialLimits) {
        self.global.merge(other.global);
        self.per_host.merge(other.per_host);
        for (h, l) in other.hosts {
            self.hosts.entry(h).or_default().merge(l);
        }
    }
    fn resolve(self) -> RunLimits {
        let d = RunLimits::default();
        let per_host = self.per_host.resolve(d.per_host.concurrency);
        RunLimits {
            global: self.global.resolve(d.global.concurrency),
            hosts: self
                .hosts
                .into_iter()
                .map(|(h, l)| (h, l.resolve(per_host.concurrency)))
                .collect(),
            per_host,
        }
    }
}

struct FileCheck<'a> {
    src: &'a Arc<SourceFile>,
    problems: &'a mut Vec<Problem>,
}

impl FileCheck<'_> {
    fn err(&mut self, loc: Loc, message: String, help: impl Into<String>) {
        self.problems
            .push(Problem::at(self.src, loc, message).help(help.into()));
    }

    fn positive(&mut self, v: &Sp<i64>, what: &str) -> u32 {
        if v.value <= 0 {
            self.err(
                v.loc,
                format!("{what} must be at least 1, found {}", v.value),
                format!("set {what} to a whole number of 1 or more"),
            );
            1
        } else {
            u32::try_from(v.value).unwrap_or(u32::MAX)
        }
    }

    fn time(&mut self, v: &Sp<model::TimeValue>, what: &str) -> Option<f64> {
        match parse_time(&v.value.0) {
            Ok(s) => Some(s),
            Err(e) => {
                self.err(
                    v.loc,
                    format!("{what} {e}"),
                    "expected seconds (`4`, `2.5`), H:MM:SS or MM:SS, or a humantime string (`500ms`, `1h2m3s`)",
                );
                None
            }
        }
    }

    fn limit(&mut self, l: &Sp<model::Limit>, what: &str) -> PartialLimit {
        let concurrency = l
            .concurrency
            .as_ref()
            .map(|c| self.positive(c, &format!("{what}.concurrency")));
        let burst = l
            .burst
            .as_ref()
            .map(|b| self.positive(b, &format!("{what}.burst")));
        let rate = match &l.requests_per_second {
            Some(r) if !(r.value > 0.0 && r.value.is_finite()) => {
                self.err(
                    r.loc,
                    format!(
                        "{what}.requests_per_second must be more than 0, found {}",
                        r.value
                    ),
                    "leave the key out for no rate limit",
                );
                None
            }
            Some(r) => Some(Rate {
                per_second: r.value,
                burst: burst.unwrap_or(1),
            }),
            None => {
                if let Some(b) = &l.burst {
                    self.err(
                        b.loc,
                        format!("{what}.burst is set without a rate"),
                        "burst goes with requests_per_second",
                    );
                }
                None
            }
        };
        PartialLimit { concurrency, rate }
    }

    fn limits(&mut self, l: &Sp<model::Limits>) -> PartialLimits {
        PartialLimits {
            global: l
                .global
                .as_ref()
                .map(|g| self.limit(g, "limits.global"))
                .unwrap_or_default(),
            per_host: l
                .per_host
                .as_ref()
                .map(|g| self.limit(g, "limits.per_host"))
                .unwrap_or_default(),
            hosts: l
                .hosts
                .iter()
                .flatten()
                .map(|(h, v)| {
                    (
                        h.to_ascii_lowercase(),
                        self.limit(v, &format!("limits.hosts.{h}")),
                    )
                })
                .collect(),
        }
    }

    fn retry(&mut self, base: RetryPolicy, r: Option<&Sp<model::Retry>>) -> RetryPolicy {
        let mut out = base;
        let Some(r) = r else { return out };
        if let Some(a) = &r.attempts {
            out.attempts = self.positive(a, "retry.attempts");
        }
        if let Some(b) = &r.backoff {
            if let Some(s) = self.time(b, "retry.backoff") {
                out.backoff = Duration::from_secs_f64(s);
            }
        }
        if let Some(b) = &r.max_backoff {
            if let Some(s) = self.time(b, "retry.max_backoff") {
                out.max_backoff = Duration::from_secs_f64(s);
            }
        }
        out
    }

    fn timeout(&mut self, base: Timeouts, t: Option<&Sp<model::Timeout>>) -> Timeouts {
        let mut out = base;
        let Some(t) = t else { return out };
        if let Some(c) = &t.connect {
            if let Some(s) = self.time(c, "timeout.connect") {
                out.connect = Duration::from_secs_f64(s);
            }
        }
        if let Some(c) = &t.segment {
            if let Some(s) = self.time(c, "timeout.segment") {
                out.segment = Duration::from_secs_f64(s);
            }
        }
        out
    }

    fn headers(
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
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                self.err(
                    value.loc,
                    format!("`{name}` is not a valid HTTP header name"),
                    "header names are letters, digits and `-` (e.g. `Referer`, `X-Token`)",
                );
                continue;
            }
            if reqwest::header::HeaderValue::from_str(&value.value).is_err() {
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

    fn env_refs(&mut self, value: &Sp<String>, policy: &EnvPolicy, job: &str, what: &str) {
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

    fn source(&mut self, job: &Sp<Job>) -> Option<IndexSource> {
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
        let src = if let Some(r) = &job.range {
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
            IndexSource::Range {
                start: r.start.value as u64,
                end: end as u64,
            }
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
            let d = job.duration.as_ref()?;
            let length = self.time(&d.length, "duration.length");
            let segment = self.time(&d.segment, "duration.segment");
            let (length_s, segment_s) = (length?, segment?);
            let count = ((length_s / segment_s) - 1e-9).ceil().max(1.0);
            if count > MAX_SEGMENTS as f64 {
                self.too_many(d.loc, &job.name, count as u64);
                return None;
            }
            IndexSource::Duration {
                start,
                count: count as u64,
                length_s,
                segment_s,
            }
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

    fn too_many(&mut self, loc: Loc, name: &str, count: u64) {
        self.err(
            loc,
            format!(
                "job `{name}` has {count} segments, more than the {MAX_SEGMENTS} a job may have"
            ),
            "this is almost always a typo in `end`, `count` or `length`",
        );
    }

    fn job(
        &mut self,
        job: &Sp<Job>,
        d: &Settings,
        dir: &std::path::Path,
        policy: &EnvPolicy,
    ) -> Option<JobSpec> {
        let name = &job.name;
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && !name.chars().all(|c| c == '.');
        if !valid_name {
            self.err(
                name.loc,
                format!("`{}` is not a valid job name", name.value),
                "job names use letters, digits, `.`, `_` and `-` (e.g. `lecture-01`)",
            );
        }
        let (url, playlist) = self.url_or_playlist(job, policy)?;
        let padding = match &job.padding {
            Some(p) if !(0..=20).contains(&p.value) => {
                self.err(
                    p.loc,
                    format!("padding must be from 0 to 20, found {}", p.value),
                    "padding is the width of `{{index}}` (6 makes `000042`)",
                );
                0
            }
            Some(p) => p.value as u32,
            None => 0,
        };
        let source = match &playlist {
            // Not read: a playlist job's segments come from its playlist.
            Some(_) => Some(IndexSource::Count { start: 0, count: 1 }),
            None => self.source(job),
        };
        let concurrency = job
            .concurrency
            .as_ref()
            .or(d.concurrency.as_ref())
            .map_or(crate::manifest::DEFAULT_JOB_CONCURRENCY, |c| {
                self.positive(c, "concurrency")
            });
        let retry = self.retry(RetryPolicy::default(), d.retry.as_ref());
        let retry = self.retry(retry, job.retry.as_ref());
        let timeout = self.timeout(Timeouts::default(), d.timeout.as_ref());
        let timeout = self.timeout(timeout, job.timeout.as_ref());
        let headers = self.headers(d.headers.as_ref(), job.headers.as_ref(), policy, name);
        let output_dir = job
            .output_dir
            .as_ref()
            .or(d.output_dir.as_ref())
            .map_or_else(|| "out".to_string(), |o| o.value.clone());
        if output_dir.trim().is_empty() {
            let loc = job
                .output_dir
                .as_ref()
                .or(d.output_dir.as_ref())
                .map_or(name.loc, |o| o.loc);
            self.err(
                loc,
                "output_dir is empty".into(),
                "name a folder, e.g. `out`",
            );
        }
        let output = job
            .output
            .clone()
            .unwrap_or(Sp::new("{{name}}.mp4".to_string(), name.loc));
        Some(JobSpec {
            name: name.value.clone(),
            file: self.src.clone(),
            dir: dir.to_path_buf(),
            loc: name.loc,
            url,
            playlist,
            init: job.init.clone(),
            end_auto: job
                .range
                .as_ref()
                .is_some_and(|r| r.end.value == RangeEnd::Auto),
            padding,
            source: source?,
            output,
            output_dir: dir.join(output_dir),
            vars: job
                .vars
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.value.0.clone()))
                .collect(),
            tags: job.tags.iter().flatten().map(|t| t.value.clone()).collect(),
            enabled: job.enabled.as_ref().is_none_or(|e| e.value),
            concurrency,
            headers,
            retry,
            timeout,
            on_missing: job
                .on_missing
                .as_ref()
                .or(d.on_missing.as_ref())
                .map_or(OnMissing::Fail, |o| o.value),
        })
    }
}
