//! How a plan reads: text for a person reviewing a pull request, JSON for
//! tools. Secrets appear as `***` in both.

use std::fmt::Write;

use serde_json::json;

use super::shard::ShardInfo;
use super::{JobPlan, Plan, SkipReason};
use crate::common::diag::display_path;
use crate::common::{Limit, RunLimits};

fn limit_text(l: &Limit) -> String {
    let mut s = format!("{} in flight", l.concurrency);
    if let Some(r) = l.rate {
        let _ = write!(s, ", {} req/s (burst {})", r.per_second, r.burst);
    }
    if let Some(b) = l.bytes_per_second {
        let _ = write!(s, ", {}", byte_rate_text(b));
    }
    s
}

/// A limit in bytes per second as the job file would write it: `2MB/s`.
fn byte_rate_text(b: u64) -> String {
    format!("{}/s", size_text(b))
}

fn source_text(j: &JobPlan) -> String {
    let n = j.source.len();
    let what = j.source.describe();
    if let crate::plan::source::SegmentSource::Playlist(p) = &j.source {
        if p.resolved.is_none() {
            return what;
        }
    }
    format!(
        "{what}: {n} segment{}, indices {}–{}",
        if n == 1 { "" } else { "s" },
        j.first_index,
        j.last_index
    )
}

/// What a playlist job's segments are before `--probe` or a run.
const RESOLVED_LATER: &str = "resolved at run time (`snatch plan --probe` resolves them now)";

/// A playlist job whose playlist was not read yet.
fn unresolved(j: &JobPlan) -> bool {
    matches!(&j.source, crate::plan::source::SegmentSource::Playlist(p) if p.resolved.is_none())
}

/// The plan as text: one block per job.
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    for j in &plan.jobs {
        match j.skipped {
            Some(reason @ SkipReason::OtherShard) => {
                // One line each: a shard of many lists the others briefly.
                let _ = writeln!(out, "{}  (skipped: {reason})", j.name);
                continue;
            }
            Some(reason) => {
                let _ = writeln!(out, "{}  (skipped: {reason})", j.name);
                let _ = writeln!(out, "  source   {}", source_text(j));
                let _ = writeln!(out, "  output   {}", display_path(&j.output));
            }
            None => job_text(&mut out, j),
        }
        out.push('\n');
    }
    if let Some(info) = &plan.shard {
        out.push_str(&shard_text(info, plan.runnable().count()));
    }
    out.push_str(&totals_text(plan));
    out
}

/// A job that runs: its source, URLs, output, headers, limits, retries
/// and checks, a line each.
fn job_text(out: &mut String, j: &JobPlan) {
    let _ = writeln!(out, "{}", j.name);
    let _ = writeln!(out, "  source   {}", source_text(j));
    if unresolved(j) {
        let _ = writeln!(out, "  segments {RESOLVED_LATER}");
    } else {
        let _ = writeln!(out, "  first    {}", j.first_url);
        let _ = writeln!(out, "  last     {}", j.last_url);
    }
    let _ = writeln!(
        out,
        "  output   {} ({})",
        display_path(&j.output),
        serde_json::to_value(j.container)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    );
    for (i, (name, value)) in j.headers.iter().enumerate() {
        let label = if i == 0 { "headers" } else { "" };
        let _ = writeln!(out, "  {label:<8} {name}: {value}");
    }
    let mut limits = format!("job {} in flight", j.concurrency);
    if let Some(b) = j.bytes_per_second {
        let _ = write!(limits, ", {}", byte_rate_text(b));
    }
    if let (Some(h), Some(l)) = (&j.shown_host, &j.host_limit) {
        let _ = write!(limits, " · host {h}: {}", limit_text(l));
    }
    let _ = writeln!(out, "  limits   {limits}");
    let _ = writeln!(
        out,
        "  retry    {} attempts, backoff {:?} up to {:?}; timeouts connect {:?}, segment {:?}",
        j.retry.attempts,
        j.retry.backoff,
        j.retry.max_backoff,
        j.timeout.connect,
        j.timeout.segment
    );
    let _ = writeln!(
        out,
        "  checks   segments up to {}; duration within {}",
        size_text(j.max_segment_bytes),
        j.verify.duration_tolerance
    );
}

/// The last line: jobs to run and skipped, segments, the run's limits.
fn totals_text(plan: &Plan) -> String {
    let run = plan.runnable().count();
    let later = plan.runnable().filter(|j| unresolved(j)).count();
    let segments: u64 = plan.runnable().map(|j| j.source.len()).sum();
    let segments = match later {
        0 => format!("{segments} segments"),
        _ => format!(
            "{segments} segments, and those of {later} playlist job{} {RESOLVED_LATER}",
            if later == 1 { "" } else { "s" }
        ),
    };
    format!(
        "{run} job{} to run ({} skipped), {segments}; run limits: {}, {} job{} at once\n",
        if run == 1 { "" } else { "s" },
        plan.jobs.len() - run,
        limit_text(&plan.limits.global),
        plan.limits.jobs,
        if plan.limits.jobs == 1 { "" } else { "s" }
    )
}

/// What the shard takes, and whose limits it uses.
fn shard_text(info: &ShardInfo, run: usize) -> String {
    use super::shard::ShardLimits;
    let s = info.shard;
    let jobs = if run == 0 {
        format!(
            "no job of the {} selected falls in this shard; nothing to do",
            info.selected
        )
    } else {
        format!("{run} of {} selected jobs", info.selected)
    };
    let limits = match info.limits {
        ShardLimits::Split => format!(
            "the limits shown are 1/{} of the job files' (--shard-limits full keeps them whole)",
            s.n
        ),
        ShardLimits::Full => "limits are the job files' own (--shard-limits full)".to_string(),
    };
    format!("shard {s}: {jobs}; {limits}\n")
}

fn shard_json(info: &ShardInfo) -> serde_json::Value {
    json!({
        "shard": info.shard.to_string(),
        "k": info.shard.k,
        "n": info.shard.n,
        "partition": info.shard.partition,
        "limits": info.limits,
        "selected": info.selected,
    })
}

/// Bytes as the job file would say them: `256MiB`, `10MB`, `1500`.
fn size_text(n: u64) -> String {
    const UNITS: [(u64, &str); 6] = [
        (1 << 30, "GiB"),
        (1_000_000_000, "GB"),
        (1 << 20, "MiB"),
        (1_000_000, "MB"),
        (1 << 10, "KiB"),
        (1000, "KB"),
    ];
    UNITS
        .iter()
        .find(|(u, _)| n.is_multiple_of(*u))
        .map_or_else(
            || format!("{n} bytes"),
            |(u, name)| format!("{}{name}", n / u),
        )
}

fn limit_json(l: &Limit) -> serde_json::Value {
    json!({
        "concurrency": l.concurrency,
        "requests_per_second": l.rate.map(|r| r.per_second),
        "burst": l.rate.map(|r| r.burst),
        "bytes_per_second": l.bytes_per_second,
    })
}

fn limits_json(l: &RunLimits) -> serde_json::Value {
    let mut global = limit_json(&l.global);
    global["jobs"] = json!(l.jobs);
    json!({
        "global": global,
        "per_host": limit_json(&l.per_host),
        "hosts": l.hosts.iter().map(|(h, v)| (h.clone(), limit_json(v))).collect::<serde_json::Map<_, _>>(),
    })
}

/// The plan as JSON. The shape is documented in docs/jobfile.md and kept
/// stable: fields may be added, never renamed or removed.
pub fn render_json(plan: &Plan) -> serde_json::Value {
    let jobs: Vec<_> = plan
        .jobs
        .iter()
        .map(|j| {
            json!({
                "name": j.name,
                "status": if j.skipped.is_some() { "skipped" } else { "planned" },
                "skip_reason": j.skipped,
                "source": j.source.kind(),
                "segments": j.source.len(),
                "first_index": j.first_index,
                "last_index": j.last_index,
                "first_url": j.first_url,
                "last_url": j.last_url,
                "output": display_path(&j.output),
                "container": j.container,
                "segment_format": j.format,
                "headers": j.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "concurrency": j.concurrency,
                "host": j.shown_host,
                "host_limits": j.host_limit.as_ref().map(limit_json),
                "retry": j.retry,
                "timeout": j.timeout,
                "on_missing": j.on_missing,
                "verify": j.verify,
                "max_segment_bytes": j.max_segment_bytes,
                "bytes_per_second": j.bytes_per_second,
                "expected_duration_s": j.source.expected_duration(),
                "tags": j.tags,
            })
        })
        .collect();
    json!({
        "jobs": jobs,
        "limits": limits_json(&plan.limits),
        "shard": plan.shard.as_ref().map(shard_json),
    })
}
