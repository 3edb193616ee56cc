//! The segment source a `snatch new` command line asks for: `--range`,
//! `--count [--start]` or `--length --segment [--start]`.

use crate::common::diag::Problem;

use super::args::NewArgs;
use super::detect::Detected;

/// The segment source asked for on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Source {
    Range {
        start: u64,
        end: u64,
    },
    /// `--range FIRST-auto`: the last index is found by probing at run time.
    RangeAuto {
        start: u64,
    },
    Count {
        count: u64,
        start: Option<u64>,
    },
    Duration {
        length: String,
        segment: String,
        start: Option<u64>,
    },
}

pub(super) fn usage(message: impl Into<String>) -> Problem {
    Problem::bare(message).help(SOURCE_FORMS)
}

pub(super) const SOURCE_FORMS: &str =
    "say which segments to fetch with one of: --range FIRST-LAST (e.g. --range 1-300, or 1-auto), \
     --count N [--start FIRST], or --length H:MM:SS --segment SECONDS [--start FIRST]";

pub(super) fn source_of(args: &NewArgs) -> Result<Option<Source>, Problem> {
    if let Some(end) = &args.end {
        return Err(usage(format!(
            "--end {end} is not supported: write the range as --range FIRST-auto"
        ))
        .help(
            "--range 1-auto fetches from index 1 to the last that exists, found by probing at run time; \
             or use --range FIRST-LAST, --count N, or --length H:MM:SS --segment SECONDS",
        ));
    }
    let given: Vec<&str> = [
        args.range.as_ref().map(|_| "--range"),
        args.count.map(|_| "--count"),
        (args.length.is_some() || args.segment.is_some()).then_some("--length/--segment"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.len() > 1 {
        return Err(usage(format!(
            "{} cannot be used together; a job has exactly one segment source",
            given.join(" and ")
        )));
    }
    if let Some(r) = &args.range {
        if args.start.is_some() {
            return Err(usage(
                "--start goes with --count or --length; a --range has its own start",
            ));
        }
        if let Some(first) = r.trim().strip_suffix("-auto") {
            let Ok(start) = first.trim().parse::<u64>() else {
                return Err(usage(format!(
                    "--range `{r}` is not FIRST-auto (a whole number, e.g. 1-auto)"
                )));
            };
            return Ok(Some(Source::RangeAuto { start }));
        }
        let parsed = r
            .split_once("..=")
            .or_else(|| r.split_once(".."))
            .or_else(|| r.split_once('-'))
            .and_then(|(a, b)| {
                Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?))
            });
        let Some((start, end)) = parsed else {
            return Err(usage(format!(
                "--range `{r}` is not FIRST-LAST (two whole numbers, e.g. 1-300)"
            )));
        };
        if end < start {
            return Err(usage(format!(
                "--range `{r}` ends before it starts; the range is inclusive: FIRST-LAST with LAST >= FIRST"
            )));
        }
        return Ok(Some(Source::Range { start, end }));
    }
    if let Some(count) = args.count {
        if count == 0 {
            return Err(usage("--count must be at least 1"));
        }
        return Ok(Some(Source::Count {
            count,
            start: args.start,
        }));
    }
    match (&args.length, &args.segment) {
        (Some(length), Some(segment)) => Ok(Some(Source::Duration {
            length: length.trim().to_string(),
            segment: segment.trim().to_string(),
            start: args.start,
        })),
        (Some(_), None) => Err(usage("--length needs --segment (the seconds per segment)")),
        (None, Some(_)) => Err(usage("--segment needs --length (the video's length)")),
        (None, None) => Ok(None),
    }
}

pub(super) fn no_source_problem(d: &Detected) -> Problem {
    Problem::bare("say which segments the job fetches").help(format!(
        "the URL's segment index is {}; add --range FIRST-LAST (e.g. --range 1-300), \
         --count N [--start FIRST], or --length H:MM:SS --segment SECONDS [--start FIRST] \
         (e.g. --length 1:02:03 --segment 4)",
        d.index
    ))
}
