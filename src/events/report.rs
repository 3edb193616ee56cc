//! Each job's outcome ([`JobReport`], [`JobStatus`]) and the run's
//! ([`RunReport`], with its [`Totals`]): what the JSON, JUnit and Markdown
//! reports write, and what `job_finished` and `run_finished` carry.

use serde::{Deserialize, Serialize};

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The last index `end: auto` found by probing, and the requests it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndFound {
    pub last_index: u64,
    pub requests: u32,
}

/// A job's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Ok,
    Failed,
    /// Filtered out or disabled.
    Skipped,
    /// The output was already complete from an earlier run.
    UpToDate,
    /// The run was interrupted (Ctrl-C, SIGTERM) before the job ended; what
    /// arrived is kept and a rerun resumes.
    Interrupted,
}

/// Segment counts of one job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SegmentCounts {
    pub planned: u64,
    /// Downloaded in this run.
    pub fetched: u64,
    /// Already complete from an earlier run.
    pub reused: u64,
    /// Indices that could not be had (gaps; trailing misses excluded).
    pub missing: Vec<u64>,
    /// 404s after the last segment that answered, with duration math.
    pub trailing_missing: u64,
}

/// What ffprobe found in the merged file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Media {
    pub duration_s: f64,
    /// Stream types in file order: "video", "audio", …
    pub streams: Vec<String>,
}

/// One job in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobReport {
    pub name: String,
    pub status: JobStatus,
    /// The merged file (as the user would type it), when there is one.
    pub output: Option<String>,
    pub segments: SegmentCounts,
    pub bytes: u64,
    pub retries: u64,
    /// Redirect hops followed by the job's requests.
    #[serde(default)]
    pub redirects: u64,
    pub elapsed_s: f64,
    pub media: Option<Media>,
    /// The length the job implies (duration math, or a playlist's sum of
    /// `EXTINF`), which the merged file was checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_duration_s: Option<f64>,
    /// Times a playlist job's playlist was fetched again because its links
    /// expired (403/410 after other segments arrived).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub playlist_reloads: u64,
    /// What `end: auto` found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_found: Option<EndFound>,
    /// Why the job failed, in one sentence that names the segment index
    /// where one is to blame; why it was skipped.
    pub error: Option<String>,
    /// Seconds from the last segment's arrival to the verified output in
    /// place: what the merge added after the downloads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_tail_s: Option<f64>,
    /// The job's host answered 429 without `Retry-After` and snatch
    /// lowered its rate (by any job's requests to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_adapted: Option<RateAdapted>,
}

/// How snatch adapted a host's rate to its 429s without `Retry-After`:
/// halved on each storm, grown back by a step each second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateAdapted {
    /// The host, as plans show it (`***` when it came from `${…}`).
    pub host: String,
    /// Times the rate was halved.
    pub halvings: u32,
    /// The lowest rate it was held to, in requests per second.
    pub lowest_per_second: f64,
    /// Its rate when the job ended.
    pub last_per_second: f64,
}

/// Sums over all jobs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub jobs: u64,
    pub ok: u64,
    pub failed: u64,
    pub skipped: u64,
    pub up_to_date: u64,
    /// Jobs the run's interruption stopped (reports of older snatches have
    /// none).
    #[serde(default)]
    pub interrupted: u64,
    pub segments: u64,
    pub bytes: u64,
    pub retries: u64,
}

impl Totals {
    /// The sums over `jobs`, each addition made by `add`; `Err(i)` when
    /// `add` refuses one of job `i`'s (`u64::checked_add` past 2^64 − 1).
    pub fn of<'a>(
        jobs: impl ExactSizeIterator<Item = &'a JobReport>,
        add: fn(u64, u64) -> Option<u64>,
    ) -> Result<Totals, usize> {
        let mut t = Totals {
            jobs: jobs.len() as u64,
            ..Totals::default()
        };
        for (i, j) in jobs.enumerate() {
            t.add(j, add).ok_or(i)?;
        }
        Ok(t)
    }

    fn add(&mut self, j: &JobReport, add: fn(u64, u64) -> Option<u64>) -> Option<()> {
        let status = match j.status {
            JobStatus::Ok => &mut self.ok,
            JobStatus::Failed => &mut self.failed,
            JobStatus::Skipped => &mut self.skipped,
            JobStatus::UpToDate => &mut self.up_to_date,
            JobStatus::Interrupted => &mut self.interrupted,
        };
        *status = add(*status, 1)?;
        let segments = add(j.segments.fetched, j.segments.reused)?;
        self.segments = add(self.segments, segments)?;
        self.bytes = add(self.bytes, j.bytes)?;
        self.retries = add(self.retries, j.retries)?;
        Some(())
    }
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub version: u32,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: String,
    pub elapsed_s: f64,
    /// `"K/N"` (or `"hash:K/N"`) when the run was one shard of several.
    pub shard: Option<String>,
    /// Identifies the job files the run read (names and contents; see
    /// `plan::shard::job_files_id`), so `report merge` can tell shards of
    /// one run from reports of other files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_files: Option<String>,
    /// The jobs the command line selected (`--jobs a --tag b`), absent
    /// when it selected all: shards of one run select alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<String>,
    /// The run was interrupted (Ctrl-C, SIGTERM); jobs it stopped are
    /// `interrupted`.
    pub interrupted: bool,
    pub totals: Totals,
    pub jobs: Vec<JobReport>,
}

impl RunReport {
    /// Builds the report and its totals from the jobs' outcomes.
    pub fn new(
        started_at: String,
        finished_at: String,
        elapsed_s: f64,
        interrupted: bool,
        jobs: Vec<JobReport>,
    ) -> RunReport {
        // A run's own counts are far below 2^64; only a report read back
        // (`report merge`, which checks first) could pass it.
        let t = Totals::of(jobs.iter(), |a, b| Some(a.saturating_add(b))).unwrap_or_default();
        RunReport {
            version: 1,
            started_at,
            finished_at,
            elapsed_s,
            shard: None,
            job_files: None,
            selection: None,
            interrupted,
            totals: t,
            jobs,
        }
    }
}

impl RunReport {
    /// The exit code `snatch run` ends with: 130 when the run was
    /// interrupted, 1 when a job failed, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.interrupted {
            130
        } else if self.jobs.iter().any(|j| j.status == JobStatus::Failed) {
            1
        } else {
            0
        }
    }
}
