//! The job-file model: the Rust types that serde-saphyr loads and schemars
//! describes. One set of types serves both, so `snatch schema` can never
//! drift from what the loader accepts.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};

pub use crate::common::diag::Loc;

/// A place as the YAML parser gives it, as a [`Loc`].
fn loc_of(loc: serde_saphyr::Location) -> Loc {
    let span = loc.span();
    Loc {
        line: loc.line(),
        column: loc.column(),
        offset: span.byte_offset().unwrap_or(0) as usize,
        len: span.byte_len().unwrap_or(0) as usize,
    }
}

/// A value with the place it came from. Deserialises through
/// `serde_saphyr::Spanned` and is transparent in the JSON Schema.
#[derive(Debug, Clone)]
pub struct Sp<T> {
    pub value: T,
    pub loc: Loc,
}

impl<T> Sp<T> {
    pub fn new(value: T, loc: Loc) -> Sp<T> {
        Sp { value, loc }
    }
}

impl<T> std::ops::Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<T>::deserialize(d)?;
        Ok(Sp {
            value: s.value,
            loc: loc_of(s.referenced),
        })
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A length of time: a number of seconds (may be fractional) or a string
/// such as `500ms`, `2m`, `1h2m3s`, or a clock time `H:MM:SS` / `MM:SS`.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct TimeValue(pub String);

impl JsonSchema for TimeValue {
    fn schema_name() -> Cow<'static, str> {
        "TimeValue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A length of time: seconds as a number (may be fractional), a humantime string (`500ms`, `2m`, `1h2m3s`), or a clock time `H:MM:SS` / `MM:SS`.",
            "type": ["string", "number"]
        })
    }
}

/// A size in bytes: a whole number, or a number with a unit such as
/// `256MiB`, `10MB`, `512KiB` (KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024).
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct SizeValue(pub String);

impl JsonSchema for SizeValue {
    fn schema_name() -> Cow<'static, str> {
        "SizeValue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A size in bytes: a whole number, or a number with a unit (`256MiB`, `10MB`, `512KiB`; KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024). From 1KiB to 16GiB.",
            "type": ["string", "integer"]
        })
    }
}

/// A limit in bytes per second: `2M`, `500K`, `1.5MiB/s`, `250000`.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct ByteRateValue(pub String);

impl JsonSchema for ByteRateValue {
    fn schema_name() -> Cow<'static, str> {
        "ByteRateValue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Bytes per second: a whole number, or a number with a unit (`2M`, `500K`, `1.5MiB`; K/M/G and KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024); `/s` may follow. From 1K to 100G.",
            "type": ["string", "integer"]
        })
    }
}

/// A duration tolerance: a percentage (`2%`) or seconds (`1.5s`, `1.5`).
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct ToleranceValue(pub String);

impl JsonSchema for ToleranceValue {
    fn schema_name() -> Cow<'static, str> {
        "ToleranceValue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A share of the expected length (`2%`, more than 0 and at most 100) or seconds either way (`1.5s` or `1.5`, more than 0 and at most 1 day).",
            "type": ["string", "number"]
        })
    }
}

/// A template value for `vars`: any scalar, used as text.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct VarValue(pub String);

impl JsonSchema for VarValue {
    fn schema_name() -> Cow<'static, str> {
        "VarValue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

/// A snatch job file, version 1.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "snatch job file")]
pub struct JobFile {
    /// Format version; must be 1.
    pub version: Sp<u32>,
    /// Settings every job of this file inherits; a job's own keys win.
    #[serde(default)]
    pub defaults: Option<Sp<Settings>>,
    /// Limits shared by all jobs of the run. Where several files set the
    /// same limit, the stricter value wins.
    #[serde(default)]
    pub limits: Option<Sp<Limits>>,
    /// The jobs: one merged video each. A file without jobs (no key, or
    /// `jobs: []`) holds settings only: its `limits` join the run's, and
    /// its `defaults` apply to the job files of the same folder.
    #[serde(default)]
    pub jobs: Option<Sp<Vec<Sp<Job>>>>,
}

/// Settings a job inherits from `defaults` and may override itself.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Folder for merged files and download state, relative to the job file's
    /// folder; it must stay inside that folder or the one snatch runs in.
    /// Default `out`; `--output-dir` overrides it.
    pub output_dir: Option<Sp<String>>,
    /// Segments in flight for one job. Default 8 (1 to 1024).
    pub concurrency: Option<Sp<i64>>,
    /// HTTP headers sent with every request; merged key by key with a job's
    /// own. `${SNATCH_NAME}` takes a value from the environment.
    pub headers: Option<BTreeMap<String, Sp<String>>>,
    /// Retries of a failed segment.
    pub retry: Option<Sp<Retry>>,
    /// Timeouts for one request.
    pub timeout: Option<Sp<Timeout>>,
    /// What a segment that cannot be had does to the job: `fail` (default)
    /// or `skip` (merge without it; the report still lists it).
    pub on_missing: Option<Sp<OnMissing>>,
    /// How the segments are merged: `auto` (default: MPEG-TS into MP4 by
    /// snatch itself where the streams are H.264 and AAC, else ffmpeg) or
    /// `ffmpeg` (always ffmpeg).
    pub merge: Option<Sp<MergeWith>>,
    /// How the merged file is checked.
    pub verify: Option<Sp<Verify>>,
    /// The largest body a segment may have. Default `256MiB`; from 1KiB to 16GiB.
    pub max_segment_bytes: Option<Sp<SizeValue>>,
    /// Segment body bytes per second for one job (`2M`, `500K`; K = 1000).
    /// Default: no limit. Shared limits are under `limits`.
    pub bytes_per_second: Option<Sp<ByteRateValue>>,
    /// Hosts besides the job's own origin (the origin of its `url` or
    /// `playlist`) that its secrets may go to: values from `${…}`,
    /// `Cookie`, `Authorization` and `Proxy-Authorization`.
    /// `cdn.example.com` or `*.example.net` (over https, or http when the
    /// job's own URL is http), or an origin `https://cdn.example.com:8443`.
    /// Every other host a playlist or redirect names gets the job's other
    /// headers only.
    pub send_secrets_to: Option<Vec<Sp<String>>>,
    /// Width of `{{index}}`, zero-padded, for `url` jobs. Default 0.
    pub padding: Option<Sp<i64>>,
    /// First index for `count` and `duration` jobs (a `range` has its own).
    /// Default 0.
    pub start: Option<Sp<i64>>,
    /// Output file template, relative to `output_dir`. Default `{{name}}.mp4`.
    pub output: Option<Sp<String>>,
    /// Values for templates, as `{{vars.NAME}}`; merged key by key with a
    /// job's own.
    pub vars: Option<BTreeMap<String, Sp<VarValue>>>,
}

/// How the merged file is checked.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    /// How far the merged length may be from a `duration` job's `length`:
    /// `2%` (default), `1.5s` or `1.5` (seconds).
    pub duration_tolerance: Option<Sp<ToleranceValue>>,
}

/// Retry policy: exponential backoff with jitter.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all, the first included. Default 5 (1 to 100).
    pub attempts: Option<Sp<i64>>,
    /// Wait before the first retry, doubled each time. Default `500ms` (1ms to 1h).
    pub backoff: Option<Sp<TimeValue>>,
    /// The longest wait between two attempts. Default `30s` (1ms to 1h).
    pub max_backoff: Option<Sp<TimeValue>>,
}

/// Request timeouts.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timeout {
    /// Time to open a connection. Default `10s` (1ms to 10m).
    pub connect: Option<Sp<TimeValue>>,
    /// Deadline for one whole segment, body included. Default `2m` (1ms to 24h).
    pub segment: Option<Sp<TimeValue>>,
}

/// What to do about a segment that cannot be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnMissing {
    /// The job fails and names the missing indices.
    #[default]
    Fail,
    /// The video is merged without the missing segments.
    Skip,
}

/// What merges a job's segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeWith {
    /// MPEG-TS segments into an MP4 without a separate audio rendition are
    /// remuxed by snatch itself when their streams are H.264 and AAC;
    /// anything else by ffmpeg.
    #[default]
    Auto,
    /// ffmpeg merges every job.
    Ffmpeg,
}

/// Limits shared by all jobs of a run.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// For the whole run. Default: 64 requests in flight, no rate limit,
    /// 4 jobs at once.
    pub global: Option<Sp<GlobalLimit>>,
    /// For every host not listed under `hosts`. Default: 8 in flight, no rate limit.
    pub per_host: Option<Sp<Limit>>,
    /// For named hosts (the URL's host name; the port is ignored).
    pub hosts: Option<BTreeMap<String, Sp<Limit>>>,
}

/// One set of limits. A rate applies only where one is set.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Requests in flight at once (1 to 1024).
    pub concurrency: Option<Sp<i64>>,
    /// Requests started per second (may be fractional; 0.001 to 10000).
    pub requests_per_second: Option<Sp<f64>>,
    /// Requests that may start at once above the rate. Default 1 (1 to 1000).
    pub burst: Option<Sp<i64>>,
    /// Segment body bytes per second, shared by every request it covers
    /// (`2M`, `500K`, `1.5MiB`; K/M/G = 1000). Default: no limit.
    pub bytes_per_second: Option<Sp<ByteRateValue>>,
}

/// The limits of the whole run: a [`Limit`] and how many jobs run at once.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GlobalLimit {
    /// Requests in flight at once (1 to 1024).
    pub concurrency: Option<Sp<i64>>,
    /// Requests started per second (may be fractional; 0.001 to 10000).
    pub requests_per_second: Option<Sp<f64>>,
    /// Requests that may start at once above the rate. Default 1 (1 to 1000).
    pub burst: Option<Sp<i64>>,
    /// Segment body bytes per second, shared by every request it covers
    /// (`2M`, `500K`, `1.5MiB`; K/M/G = 1000). Default: no limit.
    pub bytes_per_second: Option<Sp<ByteRateValue>>,
    /// Jobs in flight at once, each with its own ffmpeg. Default 4 (1 to 256).
    pub jobs: Option<Sp<i64>>,
}

/// An inclusive index range.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// First index.
    pub start: Sp<i64>,
    /// Last index (inclusive); at least `start`. `auto`: found at run time
    /// by probing (about 2·log2(N) small requests).
    pub end: Sp<RangeEnd>,
}

/// Duration math: count = ceil(length / segment).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DurationSource {
    /// The video's length: `H:MM:SS`, `MM:SS`, seconds, or `1h2m3s` (at most 30 days).
    pub length: Sp<TimeValue>,
    /// Seconds per segment (may be fractional) or a humantime string (1ms to 1h).
    pub segment: Sp<TimeValue>,
}

/// One job: a numbered segment list fetched and merged into one file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Unique over the whole run; letters, digits, `.`, `_` and `-`; at most 128.
    pub name: Sp<String>,
    /// Segment URL template. `{{index}}` (or `(*)`) is the zero-padded index;
    /// also `{{n}}`, `{{name}}`, `{{vars.*}}`, `{{date}}`, `{{pad n 4}}`.
    /// http, https, file://, or a path relative to the job file's folder
    /// (a local path must stay inside that folder or an `--allow-local` one).
    /// A job has either `url` (with a segment source) or `playlist`.
    pub url: Option<Sp<String>>,
    /// An HLS playlist (`.m3u8`, http or https) that lists the segments,
    /// instead of `url` and a segment source. A master playlist's variant
    /// is chosen by `variant`.
    pub playlist: Option<Sp<String>>,
    /// Which variant of a master playlist: `best` (highest bandwidth, the
    /// default), `worst`, `{max_height: 720}` or `{max_bandwidth: N}`.
    pub variant: Option<Sp<Variant>>,
    /// For a `url` job of fragmented MP4 (CMAF) segments: the URL of the
    /// init segment, fed to the merge before the first segment. Makes the
    /// segment format `fmp4`.
    pub init: Option<Sp<String>>,
    /// Width of `{{index}}`, zero-padded. 0 or absent: no padding.
    pub padding: Option<Sp<i64>>,
    /// Segment source: an inclusive index range.
    pub range: Option<Sp<Range>>,
    /// Segment source: this many segments from `start`.
    pub count: Option<Sp<i64>>,
    /// Segment source: duration math from the video's length.
    pub duration: Option<Sp<DurationSource>>,
    /// First index for `count` and `duration`. Default 0.
    pub start: Option<Sp<i64>>,
    /// Output file template, relative to `output_dir`; its extension (.mp4,
    /// .mkv, .ts) picks the container. Default `{{name}}.mp4`.
    pub output: Option<Sp<String>>,
    /// Values for templates, as `{{vars.NAME}}`.
    pub vars: Option<BTreeMap<String, Sp<VarValue>>>,
    /// Labels to select jobs with `--tag`.
    pub tags: Option<Vec<Sp<String>>>,
    /// `false` keeps the job in the file but skips it. Default true.
    pub enabled: Option<Sp<bool>>,
    /// See `defaults.output_dir`.
    pub output_dir: Option<Sp<String>>,
    /// See `defaults.concurrency`.
    pub concurrency: Option<Sp<i64>>,
    /// See `defaults.headers`.
    pub headers: Option<BTreeMap<String, Sp<String>>>,
    /// See `defaults.retry`.
    pub retry: Option<Sp<Retry>>,
    /// See `defaults.timeout`.
    pub timeout: Option<Sp<Timeout>>,
    /// See `defaults.on_missing`.
    pub on_missing: Option<Sp<OnMissing>>,
    /// See `defaults.merge`.
    pub merge: Option<Sp<MergeWith>>,
    /// See `defaults.verify`.
    pub verify: Option<Sp<Verify>>,
    /// See `defaults.max_segment_bytes`.
    pub max_segment_bytes: Option<Sp<SizeValue>>,
    /// See `defaults.bytes_per_second`.
    pub bytes_per_second: Option<Sp<ByteRateValue>>,
    /// See `defaults.send_secrets_to`.
    pub send_secrets_to: Option<Vec<Sp<String>>>,
}

/// Which variant of a master playlist a playlist job downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// The highest bandwidth.
    #[default]
    Best,
    /// The lowest bandwidth.
    Worst,
    /// The highest bandwidth of those at most this many pixels high.
    MaxHeight(u64),
    /// The highest bandwidth of those at most this many bits per second.
    MaxBandwidth(u64),
}

/// The end of a range: an index, or `auto` (found by probing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeEnd {
    Index(i64),
    Auto,
}

impl<'de> Deserialize<'de> for RangeEnd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RangeEnd;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an index or `auto`")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RangeEnd, E> {
                Ok(RangeEnd::Index(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RangeEnd, E> {
                i64::try_from(v)
                    .map(RangeEnd::Index)
                    .map_err(|_| E::custom(format!("{v} is too large for an index")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RangeEnd, E> {
                match v {
                    "auto" => Ok(RangeEnd::Auto),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RangeEnd {
    fn schema_name() -> Cow<'static, str> {
        "RangeEnd".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The last index (inclusive), or `auto`: found at run time by probing.",
            "oneOf": [{ "type": "integer" }, { "const": "auto" }]
        })
    }
}
