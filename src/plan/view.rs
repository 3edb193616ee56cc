//! How a plan reads: text for a person reviewing a pull request, JSON for
//! tools. Secrets appear as `***` in both.

use std::fmt::Write;

use serde_json::json;

use super::{JobPlan, Plan};
use crate::diag::display_path;
use crate::manifest::{Limit, RunLimits};

fn limit_text(l: &Limit) -> String {
    let mut s = format!("{} in flight", l.concurrency);
    if let Some(r) = l.rate {
        let _ = write!(s, ", {} req/s (burst {})", r.per_second, r.burst);
    }
    s
}

fn source_text(j: &JobPlan) -> String {
    let n = j.source.len();
    let what = j.source.describe();
    if let crate::source::SegmentSource::Playlist(p) = &j.source {
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

/// The plan as text: one block per job.
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    for j in &plan.jobs {
        match j.skipped {
            Some(reason) => {
                let _ = writeln!(out, "{}  (skipped: {reason})", j.name);
                let _ = writeln!(out, "  source   {}", source_text(j));
                let _ = writeln!(out, "  output   {}", display_path(&j.output));
            }
            None => {
                let _ = writeln!(out, "{}", j.name);
                let _ = writeln!(out, "  source   {}", source_text(j));
                let _ = writeln!(out, "  first    {}", j.first_url);
                let _ = writeln!(out, "  last     {}", j.last_url);
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
                if let (Some(h), Some(l)) = (&j.host, &j.host_limit) {
                    let _ = write!(limits, " · host {h}: {}", limit_text(l));
                }
                let _ = writeln!(out, "  limits   {limits}");
                let _ = writeln!(
                    out,
                    "  retry    {} attempts, backoff {:?} up to {:?}; timeouts connect {:?}, segment {:?}",
                    j.retry.attempts, j.retry.backoff, j.retry.max_backoff, j.timeout.connect, j.timeout.segment
                );
            }
        }
        out.push('\n');
    }
    let run = plan.runnable().count();
    let segments: u64 = plan.runnable().map(|j| j.source.len()).sum();
    let _ = writeln!(
        out,
        "{run} job{} to run ({} skipped), {segments} segments; run limits: {}",
        if run == 1 { "" } else { "s" },
        plan.jobs.len() - run,
        limit_text(&plan.limits.global)
    );
    out
}

fn limit_json(l: &Limit) -> serde_json::Value {
    json!({
        "concurrency": l.concurrency,
        "requests_per_second": l.rate.map(|r| r.per_second),
        "burst": l.rate.map(|r| r.burst),
    })
}

fn limits_json(l: &RunLimits) -> serde_json::Value {
    json!({
        "global": limit_json(&l.global),
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
                "host": j.host,
                "host_limits": j.host_limit.as_ref().map(limit_json),
                "retry": j.retry,
                "timeout": j.timeout,
                "on_missing": j.on_missing,
                "expected_duration_s": j.source.expected_duration(),
                "tags": j.tags,
            })
        })
        .collect();
    json!({ "jobs": jobs, "limits": limits_json(&plan.limits) })
}
