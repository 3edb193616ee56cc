//! `--junit FILE`: one `<testcase>` per job, so CI systems show the jobs of a
//! run like tests. Failed jobs carry a `<failure>` whose message is the job's
//! one-sentence error; interrupted jobs an `<error>` (the job never came to
//! a verdict, which is JUnit's error, not its failure); skipped jobs a
//! `<skipped>` with the reason.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::markdown::status_word;
use super::{Exporter, RenderError};
use crate::common::units::human_bytes;
use crate::events::{JobReport, JobStatus, RunReport};

/// The name of the report, the suite and every test case's class.
const NAME: &str = "snatch";

/// JUnit XML through `quick-junit`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Junit;

impl Exporter for Junit {
    fn kind(&self) -> &'static str {
        "JUnit report"
    }

    fn render(&self, report: &RunReport) -> Result<Vec<u8>, RenderError> {
        let timestamp = parse_timestamp(&report.started_at);
        let elapsed = seconds(report.elapsed_s);

        let mut suite = TestSuite::new(NAME);
        suite.set_time(elapsed);
        if let Some(ts) = timestamp {
            suite.set_timestamp(ts);
        }
        if let Some(shard) = &report.shard {
            suite.add_property(Property::new("shard", shard.as_str()));
        }
        if report.interrupted {
            suite.add_property(Property::new("interrupted", "true"));
        }
        suite.add_test_cases(report.jobs.iter().map(test_case));

        let mut junit = Report::new(NAME);
        junit.set_time(elapsed);
        if let Some(ts) = timestamp {
            junit.set_timestamp(ts);
        }
        junit.add_test_suite(suite);

        let mut bytes = Vec::new();
        junit.serialize(&mut bytes)?;
        Ok(bytes)
    }
}

fn test_case(job: &JobReport) -> TestCase {
    let status = match job.status {
        JobStatus::Ok | JobStatus::UpToDate => TestCaseStatus::success(),
        JobStatus::Failed => not_done(job, NonSuccessKind::Failure, "failed"),
        JobStatus::Interrupted => not_done(job, NonSuccessKind::Error, "interrupted"),
        JobStatus::Skipped => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(job.error.as_deref().unwrap_or("skipped"));
            s
        }
    };
    let mut case = TestCase::new(job.name.as_str(), status);
    case.set_classname(NAME)
        .set_time(seconds(job.elapsed_s))
        .set_system_out(summary_line(job));
    case
}

/// A `<failure>` or `<error>` whose message is the job's sentence.
fn not_done(job: &JobReport, kind: NonSuccessKind, word: &str) -> TestCaseStatus {
    let sentence = job
        .error
        .clone()
        .unwrap_or_else(|| format!("Job {} {word}.", job.name));
    let mut s = TestCaseStatus::non_success(kind);
    s.set_message(sentence.as_str())
        .set_type(word)
        .set_description(sentence);
    s
}

/// One line for `<system-out>`: what the job did.
fn summary_line(job: &JobReport) -> String {
    if job.status == JobStatus::Skipped && job.segments.planned == 0 {
        return format!("skipped: {}", job.error.as_deref().unwrap_or("not run"));
    }
    let s = &job.segments;
    let mut line = format!(
        "{}: {} fetched + {} reused of {} planned segments",
        status_word(job.status),
        s.fetched,
        s.reused,
        s.planned
    );
    if !s.missing.is_empty() {
        let list: Vec<String> = s.missing.iter().map(u64::to_string).collect();
        let list = crate::common::units::listed(&list, crate::common::units::LISTED);
        line.push_str(&format!(", missing {list}"));
    }
    if s.trailing_missing > 0 {
        line.push_str(&format!(", {} trailing missing", s.trailing_missing));
    }
    line.push_str(&format!(", {}", human_bytes(job.bytes)));
    if job.retries > 0 {
        line.push_str(&format!(", {} retries", job.retries));
    }
    if let Some(a) = &job.rate_adapted {
        line.push_str(&format!(
            ", rate of {} halved {}× for 429 without Retry-After (at least {}/s)",
            a.host, a.halvings, a.lowest_per_second
        ));
    }
    if let Some(out) = &job.output {
        line.push_str(&format!(" → {out}"));
    }
    line
}

/// `started_at` as quick-junit wants it; `None` when it is not RFC 3339.
fn parse_timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

/// Seconds as a `Duration`; zero for negative or non-finite values.
fn seconds(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or_default()
}
