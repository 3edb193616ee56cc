//! One job's checks: its name, its templates on their syntax trees, its
//! `vars`, its folder in the workspace, and its settings over the defaults.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::bounds;
use super::env::{self, EnvPolicy};
use super::model::{Job, MergeWith, OnMissing, RangeEnd, Settings, Sp};
use super::paths;
use super::validate::{FileCheck, IndexSource, JobSpec};
use crate::common::origins::SecretHost;
use crate::common::DEFAULT_MAX_SEGMENT_BYTES;
use crate::common::{RetryPolicy, Timeouts, Verify, DEFAULT_JOB_CONCURRENCY};
use crate::template::check::{self as template_check, Scope, TemplateProblem};

/// A job's fetching settings, resolved over the defaults.
struct Fetching {
    /// `None` when the value was refused (a problem is recorded).
    concurrency: Option<u32>,
    retry: RetryPolicy,
    timeout: Timeouts,
    verify: Verify,
    max_segment_bytes: u64,
    bytes_per_second: Option<u64>,
}

impl FileCheck<'_> {
    pub(super) fn job(
        &mut self,
        job: &Sp<Job>,
        d: &Settings,
        dir: &Path,
        policy: &EnvPolicy,
    ) -> Option<JobSpec> {
        let name = &job.name;
        self.name(name);
        let vars = self.vars(job, policy);
        let keys: BTreeSet<String> = vars.keys().cloned().collect();
        let (url, playlist) = self.url_or_playlist(job, policy)?;
        let url_vars = match &playlist {
            None => self.url(job, &url, &keys, policy),
            Some(_) => self.playlist_url(job, &url, &keys),
        };
        let output = job
            .output
            .clone()
            .unwrap_or(Sp::new("{{name}}.mp4".to_string(), name.loc));
        self.output(name, &output, &keys, &vars);
        let padding = job
            .padding
            .as_ref()
            .map_or(Some(0), |p| self.int_in(p, "padding", bounds::PADDING));
        let source = match &playlist {
            // Not read: a playlist job's segments come from its playlist.
            Some(_) => Some(IndexSource::Count { start: 0, count: 1 }),
            None => self.source(job),
        };
        let fetching = self.fetching(job, d);
        let headers = self.headers(d.headers.as_ref(), job.headers.as_ref(), policy, name);
        let listed = job.send_secrets_to.as_ref().or(d.send_secrets_to.as_ref());
        let send_secrets_to = self.secret_hosts(listed);
        let output_dir = self.output_dir(job, d, dir);
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
            padding: padding?,
            source: source?,
            output,
            output_dir: output_dir?,
            vars,
            tags: job.tags.iter().flatten().map(|t| t.value.clone()).collect(),
            enabled: job.enabled.as_ref().is_none_or(|e| e.value),
            concurrency: fetching.concurrency?,
            headers,
            retry: fetching.retry,
            timeout: fetching.timeout,
            on_missing: job
                .on_missing
                .as_ref()
                .or(d.on_missing.as_ref())
                .map_or(OnMissing::Fail, |o| o.value),
            merge: job
                .merge
                .as_ref()
                .or(d.merge.as_ref())
                .map_or(MergeWith::Auto, |m| m.value),
            verify: fetching.verify,
            max_segment_bytes: fetching.max_segment_bytes,
            bytes_per_second: fetching.bytes_per_second,
            send_secrets_to,
            url_vars: url_vars?,
        })
    }

    /// How the job fetches: each setting the job's own, else the file's
    /// `defaults`, else snatch's; each checked where it stands.
    fn fetching(&mut self, job: &Sp<Job>, d: &Settings) -> Fetching {
        let concurrency = match job.concurrency.as_ref().or(d.concurrency.as_ref()) {
            Some(c) => self.int_in(c, "concurrency", bounds::CONCURRENCY),
            None => Some(DEFAULT_JOB_CONCURRENCY),
        };
        // In this order, so that problems are told as before.
        let retry = self.retry(RetryPolicy::default(), d.retry.as_ref());
        let retry = self.retry(retry, job.retry.as_ref());
        let timeout = self.timeout(Timeouts::default(), d.timeout.as_ref());
        let timeout = self.timeout(timeout, job.timeout.as_ref());
        let verify = self.verify(Verify::default(), d.verify.as_ref());
        let verify = self.verify(verify, job.verify.as_ref());
        let max = self.max_segment_bytes(DEFAULT_MAX_SEGMENT_BYTES, d.max_segment_bytes.as_ref());
        let max_segment_bytes = self.max_segment_bytes(max, job.max_segment_bytes.as_ref());
        let inherited = self.byte_rate(d.bytes_per_second.as_ref(), "");
        let bytes_per_second = match &job.bytes_per_second {
            Some(own) => self.byte_rate(Some(own), ""),
            None => inherited,
        };
        Fetching {
            concurrency,
            retry,
            timeout,
            verify,
            max_segment_bytes,
            bytes_per_second,
        }
    }

    /// `send_secrets_to`, each entry checked where it stands.
    fn secret_hosts(&mut self, listed: Option<&Vec<Sp<String>>>) -> Vec<SecretHost> {
        let mut out = Vec::new();
        for entry in listed.into_iter().flatten() {
            match SecretHost::parse(entry) {
                Ok(h) => out.push(h),
                Err(e) => self.err(
                    entry.loc,
                    format!("send_secrets_to: {e}"),
                    "list hosts as `cdn.example.com`, `*.example.net` or `https://cdn.example.com:8443`",
                ),
            }
        }
        out
    }

    fn name(&mut self, name: &Sp<String>) {
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
        } else {
            self.text_len(name.loc, name, "a job name", bounds::NAME_LEN);
        }
    }

    /// The job's `vars`; a value may read `${NAME}` like a url (the url
    /// then holds a secret), checked against the policy here.
    fn vars(&mut self, job: &Sp<Job>, policy: &EnvPolicy) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in job.vars.iter().flatten() {
            let what = format!("vars.{k}");
            let text = Sp::new(v.value.0.clone(), v.loc);
            if self.text_len(v.loc, &text, &what, bounds::VAR_LEN) {
                self.env_refs(&text, policy, &job.name, &what);
            }
            out.insert(k.clone(), text.value);
        }
        out
    }

    /// Checks the url template; returns the `vars` keys it names.
    fn url(
        &mut self,
        job: &Sp<Job>,
        url: &Sp<String>,
        keys: &BTreeSet<String>,
        policy: &EnvPolicy,
    ) -> Option<BTreeSet<String>> {
        let loc = url.loc;
        if !self.text_len(loc, url, "the url", bounds::URL_LEN) {
            return None;
        }
        self.env_refs(url, policy, &job.name, "the url");
        let scope = Scope {
            per_segment: true,
            vars: keys,
        };
        match template_check::check(&url.value, &scope) {
            Ok(uses) if uses.index => Some(uses.vars),
            Ok(_) => {
                self.err(
                    loc,
                    format!("the url of job `{}` has no index placeholder", *job.name),
                    "put `{{index}}` (or `(*)`) where the segment number goes, e.g. `https://cdn.example.com/vod/{{index}}.ts`",
                );
                None
            }
            Err(p) => {
                self.template_err(url, &format!("url of job `{}`", *job.name), p);
                None
            }
        }
    }

    /// Checks a playlist job's URL: its length and its template (known
    /// names only, and no index: one playlist per job). Its `${…}` were
    /// checked with the other playlist keys.
    fn playlist_url(
        &mut self,
        job: &Sp<Job>,
        url: &Sp<String>,
        keys: &BTreeSet<String>,
    ) -> Option<BTreeSet<String>> {
        if !self.text_len(url.loc, url, "the playlist url", bounds::URL_LEN) {
            return None;
        }
        let scope = Scope {
            per_segment: false,
            vars: keys,
        };
        match template_check::check(&url.value, &scope) {
            Ok(uses) => Some(uses.vars),
            Err(p) => {
                self.template_err(url, &format!("playlist of job `{}`", *job.name), p);
                None
            }
        }
    }

    /// Checks the output template: known names only, and no value from
    /// the environment (file names never hold one).
    fn output(
        &mut self,
        name: &Sp<String>,
        output: &Sp<String>,
        keys: &BTreeSet<String>,
        vars: &BTreeMap<String, String>,
    ) {
        if !self.text_len(output.loc, output, "the output", bounds::OUTPUT_LEN) {
            return;
        }
        let scope = Scope {
            per_segment: false,
            vars: keys,
        };
        let uses = match template_check::check(output, &scope) {
            Ok(uses) => uses,
            Err(p) => {
                let what = format!("output of job `{}`", name.value);
                return self.template_err(output, &what, p);
            }
        };
        for k in uses.vars {
            let reads_env = env::parse(&vars[&k])
                .map(|pieces| env::vars(&pieces).next().is_some())
                .unwrap_or(false);
            if reads_env {
                self.err(
                    output.loc,
                    format!(
                        "the output of job `{}` uses `vars.{k}`, which reads a value from the environment",
                        name.value
                    ),
                    "file names never hold values from the environment; use another variable in `output`",
                );
            }
        }
    }

    /// The job's folder: relative, inside the job file's folder or the
    /// folder snatch runs in.
    fn output_dir(&mut self, job: &Sp<Job>, d: &Settings, dir: &Path) -> Option<PathBuf> {
        let Some(written) = job.output_dir.as_ref().or(d.output_dir.as_ref()) else {
            return Some(dir.join("out"));
        };
        if written.trim().is_empty() {
            self.err(
                written.loc,
                "output_dir is empty".into(),
                "name a folder, e.g. `out`",
            );
            return None;
        }
        if !self.text_len(written.loc, written, "output_dir", bounds::OUTPUT_DIR_LEN) {
            return None;
        }
        match paths::output_dir(dir, written) {
            Ok(p) => Some(p),
            Err(e) => {
                self.err(
                    written.loc,
                    e.to_string(),
                    "in a job file, output_dir is a folder relative to the job file (e.g. `out`) that stays inside it or the folder snatch runs in; the command line's --output-dir may point anywhere",
                );
                None
            }
        }
    }

    /// A template problem, underlined where in the value it is when the
    /// value stands in the file as written (plain or quoted, no escapes).
    fn template_err(&mut self, value: &Sp<String>, what: &str, p: TemplateProblem) {
        let loc = p
            .span
            .and_then(|span| within(&self.src.text, value, span))
            .map_or(value.loc, |(off, len)| self.src.loc_at(off, len));
        self.err(loc, format!("{what}: {}", p.message), p.help);
    }
}

/// The file offset and length of `span` of a value, where the raw text of
/// the value is the value itself, or it between quotes.
fn within(text: &str, value: &Sp<String>, span: std::ops::Range<usize>) -> Option<(usize, usize)> {
    let raw = text.get(value.loc.offset..value.loc.offset + value.loc.len)?;
    let quote = usize::from(raw.starts_with('"') || raw.starts_with('\''));
    let inner = raw.get(quote..raw.len() - quote)?;
    (inner == value.value && span.end <= inner.len())
        .then(|| (value.loc.offset + quote + span.start, span.len().max(1)))
}
