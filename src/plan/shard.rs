//! One shard of a run split over several machines: which jobs it takes and
//! which limits it may use. Pure arithmetic on the plan.
//!
//! `K/N` deals the selected jobs, sorted by name, round-robin: the i-th
//! (from 0) goes to shard `i mod N + 1`, so shards differ by at most one job.
//! `hash:K/N` puts a job in shard `fnv1a64(name) mod N + 1`, so adding or
//! removing a job moves no other job. `index:I/N` and `hash:index:I/N` name
//! the same shards 0-based (`I` from 0 to N-1), for Kubernetes' 0-based
//! `JOB_COMPLETION_INDEX`.
//!
//! Limits in a job file are what the whole run may ask of a host; a shard
//! of N takes 1/N of each rate and concurrency (see [`split_limits`]).

use std::sync::Arc;

use serde::Serialize;

use super::{Plan, SkipReason};
use crate::common::diag::SourceFile;
use crate::common::shard::{Partition, Shard};
use crate::common::{Limit, Rate, RunLimits};

/// What a shard does with the job files' limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ShardLimits {
    /// 1/N of every rate and concurrency (the default).
    #[default]
    Split,
    /// The job files' limits as they are, in every shard.
    Full,
}

/// The shard a plan was cut to, shown by `plan` and recorded in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardInfo {
    pub shard: Shard,
    pub limits: ShardLimits,
    /// Jobs selected before the cut (not disabled, matching the selectors).
    pub selected: usize,
}

/// FNV-1a, 64 bits: a fixed, documented hash (the same on every machine and
/// every build, unlike std's randomly keyed hasher).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// Identifies a run's job files: `fnv1a64:` and 16 hex digits of FNV-1a
/// over each file's name (the last path component, so machines that mount
/// the files elsewhere agree) and contents, in name order. Reports carry it
/// so that `report merge` refuses shards of different job files.
pub fn job_files_id(files: &[Arc<SourceFile>]) -> String {
    let mut named: Vec<(String, &str)> = files
        .iter()
        .map(|f| {
            let name = f.path.file_name().unwrap_or(f.path.as_os_str());
            (name.to_string_lossy().into_owned(), &*f.text)
        })
        .collect();
    named.sort_unstable();
    let mut bytes = Vec::new();
    for (name, text) in named {
        for part in [name.as_bytes(), text.as_bytes()] {
            bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
            bytes.extend_from_slice(part);
        }
    }
    format!("fnv1a64:{:016x}", fnv1a64(&bytes))
}

/// The shard (1-based) that each of `names` falls in, in the same order.
/// `names` are the selected jobs; their order does not matter.
pub fn assign(names: &[&str], n: u32, partition: Partition) -> Vec<u32> {
    match partition {
        Partition::Hash => names
            .iter()
            .map(|name| (fnv1a64(name.as_bytes()) % u64::from(n)) as u32 + 1)
            .collect(),
        Partition::RoundRobin => {
            let mut order: Vec<usize> = (0..names.len()).collect();
            order.sort_by(|&a, &b| names[a].cmp(names[b]));
            let mut shard = vec![0; names.len()];
            for (turn, &i) in order.iter().enumerate() {
                shard[i] = (turn as u64 % u64::from(n)) as u32 + 1;
            }
            shard
        }
    }
}

/// Cuts the plan to one shard: selected jobs of other shards are skipped
/// ("other shard"), and with [`ShardLimits::Split`] every limit becomes
/// this shard's share.
pub fn apply(plan: &mut Plan, shard: Shard, limits: ShardLimits) {
    let selected: Vec<usize> = (0..plan.jobs.len())
        .filter(|&i| plan.jobs[i].skipped.is_none())
        .collect();
    let names: Vec<&str> = selected
        .iter()
        .map(|&i| plan.jobs[i].name.as_str())
        .collect();
    let owners = assign(&names, shard.n, shard.partition);
    for (&i, owner) in selected.iter().zip(owners) {
        if owner != shard.k {
            plan.jobs[i].skipped = Some(SkipReason::OtherShard);
        }
    }
    if limits == ShardLimits::Split {
        plan.limits = split_limits(&plan.limits, shard.n);
        for job in &mut plan.jobs {
            job.host_limit = job.host_limit.map(|l| split_limit(l, shard.n));
        }
    }
    plan.shard = Some(ShardInfo {
        shard,
        limits,
        selected: selected.len(),
    });
}

/// One shard's share of the run's limits: each rate divided by `n`, each
/// concurrency and burst divided by `n` rounded down but at least 1. Run
/// on `n` machines at once, the shards together ask no host for more than
/// the job files allow (up to those floors of 1).
pub fn split_limits(limits: &RunLimits, n: u32) -> RunLimits {
    let mut out = limits.clone();
    out.global = split_limit(limits.global, n);
    out.per_host = split_limit(limits.per_host, n);
    for l in out.hosts.values_mut() {
        *l = split_limit(*l, n);
    }
    out
}

/// One limit's share; see [`split_limits`].
pub fn split_limit(l: Limit, n: u32) -> Limit {
    let n = n.max(1);
    Limit {
        concurrency: (l.concurrency / n).max(1),
        rate: l.rate.map(|r| Rate {
            per_second: r.per_second / f64::from(n),
            burst: (r.burst / n).max(1),
        }),
        bytes_per_second: l.bytes_per_second.map(|b| (b / u64::from(n)).max(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn round_robin_deals_by_name_and_sizes_differ_by_at_most_one() {
        let names = ["c", "a", "e", "b", "d"];
        assert_eq!(
            assign(&names, 2, Partition::RoundRobin),
            vec![1, 1, 1, 2, 2]
        );
        for n in 1..=7u32 {
            let shards = assign(&names, n, Partition::RoundRobin);
            let sizes: Vec<usize> = (1..=n)
                .map(|k| shards.iter().filter(|&&s| s == k).count())
                .collect();
            let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(max - min <= 1, "n={n}: {sizes:?}");
            assert_eq!(sizes.iter().sum::<usize>(), names.len());
        }
    }

    #[test]
    fn hash_partition_ignores_order_and_other_jobs() {
        let names = ["a", "b", "c", "d", "e", "f"];
        let before = assign(&names, 4, Partition::Hash);
        let more = ["a", "b", "c", "d", "e", "f", "zzz", "0"];
        assert_eq!(assign(&more, 4, Partition::Hash)[..6], before[..]);
        let reversed: Vec<&str> = names.iter().rev().copied().collect();
        let mut back = assign(&reversed, 4, Partition::Hash);
        back.reverse();
        assert_eq!(back, before);
        assert!(before.iter().all(|&s| (1..=4).contains(&s)));
    }

    #[test]
    fn job_files_id_follows_names_and_contents_not_folders_or_order() {
        let a = SourceFile::new("ci/jobs.yaml", "version: 1\n");
        let b = SourceFile::new("/mnt/jobs/more.yaml", "jobs: []\n");
        let id = job_files_id(&[a.clone(), b.clone()]);
        assert!(id.starts_with("fnv1a64:") && id.len() == 8 + 16, "{id}");
        let moved = SourceFile::new("/jobs/jobs.yaml", "version: 1\n");
        assert_eq!(job_files_id(&[b.clone(), moved]), id);
        let edited = SourceFile::new("jobs.yaml", "version: 1\n#\n");
        assert_ne!(job_files_id(&[edited, b.clone()]), id);
        let renamed = SourceFile::new("job.yaml", "version: 1\n");
        assert_ne!(job_files_id(&[renamed, b.clone()]), id);
        assert_ne!(job_files_id(&[a]), id);
    }

    fn limit(concurrency: u32, rate: Option<(f64, u32)>) -> Limit {
        Limit {
            concurrency,
            rate: rate.map(|(per_second, burst)| Rate { per_second, burst }),
            bytes_per_second: None,
        }
    }

    #[test]
    fn a_share_divides_bytes_per_second() {
        let mut l = limit(4, None);
        l.bytes_per_second = Some(3_000_000);
        assert_eq!(split_limit(l, 3).bytes_per_second, Some(1_000_000));
        assert_eq!(split_limit(l, 1).bytes_per_second, Some(3_000_000));
        assert_eq!(split_limit(limit(4, None), 3).bytes_per_second, None);
    }

    #[test]
    fn a_share_divides_rates_and_floors_concurrency_and_burst_at_one() {
        assert_eq!(
            split_limit(limit(32, Some((100.0, 10))), 3),
            limit(10, Some((100.0 / 3.0, 3)))
        );
        assert_eq!(
            split_limit(limit(8, Some((20.0, 5))), 4),
            limit(2, Some((5.0, 1)))
        );
        // Rounded down, but never below one.
        assert_eq!(
            split_limit(limit(2, Some((1.0, 1))), 3),
            limit(1, Some((1.0 / 3.0, 1)))
        );
        assert_eq!(split_limit(limit(7, None), 2), limit(3, None));
        // One shard is the whole run.
        assert_eq!(
            split_limit(limit(5, Some((2.5, 2))), 1),
            limit(5, Some((2.5, 2)))
        );
    }

    #[test]
    fn shares_together_never_exceed_the_whole_above_the_floor() {
        for n in 1..=12u32 {
            for c in 1..=40u32 {
                let l = split_limit(limit(c, Some((c as f64, c))), n);
                assert!(l.concurrency >= 1 && l.rate.unwrap().burst >= 1);
                if c >= n {
                    assert!(l.concurrency * n <= c, "c={c} n={n}");
                    assert!(l.rate.unwrap().burst * n <= c);
                }
                let total = l.rate.unwrap().per_second * f64::from(n);
                assert!((total - c as f64).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn every_limit_of_the_run_is_split() {
        let mut whole = RunLimits {
            global: limit(64, Some((90.0, 9))),
            per_host: limit(8, None),
            ..RunLimits::default()
        };
        whole
            .hosts
            .insert("cdn.example.com".into(), limit(6, Some((3.0, 3))));
        let share = split_limits(&whole, 3);
        assert_eq!(share.global, limit(21, Some((30.0, 3))));
        assert_eq!(share.per_host, limit(2, None));
        assert_eq!(share.hosts["cdn.example.com"], limit(2, Some((1.0, 1))));
    }
}
