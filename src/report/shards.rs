//! `snatch report merge`: the JSON reports of a run's shards → one report,
//! totals recomputed. Refuses reports of different job files, a job run by
//! two reports, and shards that are missing or given twice, naming the
//! files.

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};

use crate::common::diag::display_path;
use crate::common::shard::Shard;
use crate::events::{JobReport, JobStatus, RunReport, Totals};

/// Reports larger than this are refused (a report of 10,000 jobs is a few MB).
pub const MAX_REPORT_BYTES: u64 = 256 * 1024 * 1024;

/// The skip reason a shard writes for the jobs it left to other shards.
const OTHER_SHARD: &str = "other shard";

/// One report read back, with the file it came from.
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub report: RunReport,
}

/// Why reports cannot be merged: a sentence naming the files, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeError {
    pub message: String,
    pub help: String,
}

fn refuse(message: String, help: &str) -> MergeError {
    MergeError {
        message,
        help: help.to_string(),
    }
}

fn name(path: &Path) -> String {
    display_path(path)
}

/// Reads one JSON report (as `snatch run --report` writes it).
pub fn read(path: &Path) -> Result<Input, MergeError> {
    let help = "give the JSON files that `snatch run --report FILE` wrote";
    let file = std::fs::File::open(path)
        .map_err(|e| refuse(format!("cannot read {}: {e}", name(path)), help))?;
    let mut text = String::new();
    file.take(MAX_REPORT_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| refuse(format!("cannot read {}: {e}", name(path)), help))?;
    if text.len() as u64 > MAX_REPORT_BYTES {
        return Err(refuse(
            format!(
                "{} is larger than {MAX_REPORT_BYTES} bytes; not a snatch report",
                name(path)
            ),
            help,
        ));
    }
    let report: RunReport = serde_json::from_str(&text).map_err(|e| {
        refuse(
            format!("{} is not a snatch JSON report: {e}", name(path)),
            help,
        )
    })?;
    if report.version != 1 {
        return Err(refuse(
            format!(
                "{} is a version {} report; this snatch reads version 1",
                name(path),
                report.version
            ),
            "merge with the snatch that wrote the reports",
        ));
    }
    Ok(Input {
        path: path.to_path_buf(),
        report,
    })
}

/// Combines the reports into one. The merged report has no shard, the job
/// files' id of its inputs, every job once (from the report that ran it),
/// and totals recomputed.
pub fn merge(inputs: &[Input]) -> Result<RunReport, MergeError> {
    same_job_files(inputs)?;
    same_selection(inputs)?;
    whole_set_of_shards(inputs)?;
    let jobs = combine_jobs(inputs)?;
    checked_totals(&jobs)?;
    let jobs: Vec<JobReport> = jobs.into_iter().map(|(j, _)| j).collect();
    let started = inputs.iter().map(|i| i.report.started_at.as_str()).min();
    let finished = inputs.iter().map(|i| i.report.finished_at.as_str()).max();
    let (started, finished) = (
        started.unwrap_or_default().to_string(),
        finished.unwrap_or_default().to_string(),
    );
    let longest = inputs
        .iter()
        .map(|i| i.report.elapsed_s)
        .fold(0.0_f64, f64::max);
    let elapsed = match (timestamp(&started), timestamp(&finished)) {
        (Some(a), Some(b)) => ((b - a).num_milliseconds() as f64 / 1000.0).max(longest),
        _ => longest,
    };
    let interrupted = inputs.iter().any(|i| i.report.interrupted);
    let mut merged = RunReport::new(started, finished, elapsed, interrupted, jobs);
    merged.job_files = inputs.first().and_then(|i| i.report.job_files.clone());
    merged.selection = inputs.first().and_then(|i| i.report.selection.clone());
    Ok(merged)
}

fn timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

fn same_job_files(inputs: &[Input]) -> Result<(), MergeError> {
    let Some(first) = inputs.first() else {
        return Err(refuse(
            "no report to merge".into(),
            "name the shards' JSON reports",
        ));
    };
    let id = &first.report.job_files;
    if let Some(other) = inputs.iter().find(|i| &i.report.job_files != id) {
        let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
        return Err(refuse(
            format!(
                "{} and {} were made from different job files ({} and {})",
                name(&first.path),
                name(&other.path),
                shown(id),
                shown(&other.report.job_files)
            ),
            "merge only the reports of one run: every shard must read the same job files (same names, same contents)",
        ));
    }
    Ok(())
}

/// Shards of one run select the same jobs: a job another selection left
/// out would end `skipped` in the merge, and the run look whole.
fn same_selection(inputs: &[Input]) -> Result<(), MergeError> {
    let Some(first) = inputs.first() else {
        return Ok(());
    };
    let chosen = &first.report.selection;
    let Some(other) = inputs.iter().find(|i| &i.report.selection != chosen) else {
        return Ok(());
    };
    let shown = |v: &Option<String>| match v {
        Some(s) => format!("`{s}`"),
        None => "every job".to_string(),
    };
    Err(refuse(
        format!(
            "{} ran {} but {} ran {}",
            name(&first.path),
            shown(chosen),
            name(&other.path),
            shown(&other.report.selection)
        ),
        "merge only the shards of one run: each runs with the same --jobs and --tag",
    ))
}

/// Either no report is a shard, or they are shards 1..N of one split, each
/// once.
fn whole_set_of_shards(inputs: &[Input]) -> Result<(), MergeError> {
    let (shards, plain) = shards_of(inputs)?;
    let Some(&(first, first_input)) = shards.first() else {
        return Ok(());
    };
    if let Some(p) = plain.first() {
        return Err(refuse(
            format!(
                "{} is shard {first} but {} is not a shard",
                name(&first_input.path),
                name(&p.path)
            ),
            SHARDS_HELP,
        ));
    }
    if let Some((s, i)) = shards
        .iter()
        .find(|(s, _)| s.n != first.n || s.partition != first.partition)
    {
        return Err(refuse(
            format!(
                "{} is shard {first} but {} is shard {s}: not the same split",
                name(&first_input.path),
                name(&i.path)
            ),
            SHARDS_HELP,
        ));
    }
    let by_k = each_once(first.n, &shards)?;
    none_missing(first.n, &shards, &by_k)
}

/// The advice when the reports are not the shards of one run, each once.
const SHARDS_HELP: &str = "merge the reports of every shard of one run, each once";

/// Reports with the shard each is.
type Sharded<'a> = Vec<(Shard, &'a Input)>;

/// The reports that are shards (with their shard read), and those that
/// are not.
fn shards_of(inputs: &[Input]) -> Result<(Sharded<'_>, Vec<&Input>), MergeError> {
    let mut shards: Sharded = Vec::new();
    let mut plain: Vec<&Input> = Vec::new();
    for input in inputs {
        match &input.report.shard {
            None => plain.push(input),
            Some(s) => {
                let shard: Shard = s.parse().map_err(|e| {
                    refuse(format!("{}: shard {e}", name(&input.path)), SHARDS_HELP)
                })?;
                shards.push((shard, input));
            }
        }
    }
    Ok((shards, plain))
}

/// The reports of each shard 1..=`n`, refused when one is given twice.
fn each_once<'a>(n: u32, shards: &[(Shard, &'a Input)]) -> Result<Vec<Vec<&'a Input>>, MergeError> {
    let mut by_k: Vec<Vec<&Input>> = vec![Vec::new(); n as usize];
    for (s, i) in shards {
        by_k[(s.k - 1) as usize].push(i);
    }
    for (k, holders) in by_k.iter().enumerate() {
        if holders.len() > 1 {
            let files: Vec<String> = holders.iter().map(|i| name(&i.path)).collect();
            return Err(refuse(
                format!("shard {}/{n} is given twice: {}", k + 1, files.join(", ")),
                SHARDS_HELP,
            ));
        }
    }
    Ok(by_k)
}

/// Refuses a set of shards of `n` that lacks one.
fn none_missing(
    n: u32,
    shards: &[(Shard, &Input)],
    by_k: &[Vec<&Input>],
) -> Result<(), MergeError> {
    let missing: Vec<String> = (1..=n)
        .filter(|&k| by_k[(k - 1) as usize].is_empty())
        .map(|k| format!("{k}/{n}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let have: Vec<String> = shards
        .iter()
        .map(|(s, i)| format!("{s} ({})", name(&i.path)))
        .collect();
    let (noun, verb) = match missing.len() {
        1 => ("shard", "is"),
        _ => ("shards", "are"),
    };
    Err(refuse(
        format!(
            "{noun} {} {verb} missing: the reports are {}",
            missing.join(", "),
            have.join(", ")
        ),
        "add the missing shards' reports (in CI, check that every shard uploaded its report)",
    ))
}

fn left_to_another_shard(job: &JobReport) -> bool {
    job.status == JobStatus::Skipped && job.error.as_deref() == Some(OTHER_SHARD)
}

/// The totals can be added up: no sum passes 2^64 − 1 (a report snatch
/// wrote never comes near; one that does is refused, naming its file).
fn checked_totals(jobs: &[(JobReport, &Path)]) -> Result<(), MergeError> {
    let Err(i) = Totals::of(jobs.iter().map(|(j, _)| j), u64::checked_add) else {
        return Ok(());
    };
    let (job, path) = &jobs[i];
    Err(refuse(
        format!(
            "{}: the segments, bytes or retries of job {} take the totals past 2^64 − 1; \
             not a report snatch wrote",
            name(path),
            crate::common::diag::terminal_text(&format!("`{}`", job.name))
        ),
        "merge the JSON files that `snatch run --report FILE` wrote, unedited",
    ))
}

/// Every job once, in the order the reports list them: the entry of the
/// report that ran it (with its file), else the skipped entry that says why.
fn combine_jobs(inputs: &[Input]) -> Result<Vec<(JobReport, &Path)>, MergeError> {
    let mut jobs: Vec<(JobReport, &Path)> = Vec::new();
    let mut at = std::collections::HashMap::new();
    for input in inputs {
        for job in &input.report.jobs {
            let Some(&slot) = at.get(&job.name) else {
                at.insert(job.name.clone(), jobs.len());
                jobs.push((job.clone(), &input.path));
                continue;
            };
            let (kept, from) = &jobs[slot];
            if job.status != JobStatus::Skipped && kept.status != JobStatus::Skipped {
                return Err(refuse(
                    format!(
                        "job `{}` ran in both {} and {}",
                        job.name,
                        name(from),
                        name(&input.path)
                    ),
                    "merge reports of disjoint shards of one run (the same --shard N and partition in every shard)",
                ));
            }
            let better = job.status != JobStatus::Skipped
                || (left_to_another_shard(kept) && !left_to_another_shard(job));
            if better {
                jobs[slot] = (job.clone(), &input.path);
            }
        }
    }
    Ok(jobs)
}
