//! `snatch new` on an HLS playlist's URL (`….m3u8`): the job gets
//! `playlist:` instead of `url` and a segment source.
//!
//! The playlist is fetched once, with this command's headers (`--from-curl`,
//! `--referer`, `-H`; not the file's `defaults`), one retry and a short
//! timeout, through [`crate::resolve::peek`]: a master playlist's variants
//! are listed (and the job gets `variant: best`), a media playlist's
//! segments counted. A playlist that a job could not download (not HLS,
//! live, SAMPLE-AES…) is an error and nothing is written. A playlist that
//! cannot be read now (no answer, an HTTP error, a variable that is not
//! set) does not stop the job from being written: a note says so.
//!
//! An MPEG-DASH manifest (a URL ending in `.mpd`, or any playlist URL whose
//! body is an MPD, told by its XML root) gives a playlist job too: the MPD
//! is read as the job would read it and its video representations listed;
//! one a job could not download (DRM, live) is refused naming why.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::diag::Problem;
use crate::common::Secret;
use crate::common::{RetryPolicy, RunLimits, Timeouts};
use crate::manifest::env::{self, EnvError, EnvPolicy};
use crate::net::{Ask, Fetcher};
use crate::resolve::peek::{peek, Offered, Peek, PeekError, Seen};
use crate::resolve::{PlaylistError, DASH_NOT_YET};

use super::args::{Input, NewArgs};

/// Whether the URL's path ends in `.m3u8` (or `.m3u`), in any case.
pub(super) fn is_playlist(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".m3u8") || lower.ends_with(".m3u")
}

/// Whether the URL's path ends in `.mpd` (an MPEG-DASH manifest's name), in
/// any case.
pub(super) fn is_mpd_name(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or("");
    path.to_ascii_lowercase().ends_with(".mpd")
}

/// Options that describe numbered segments are refused beside a playlist.
pub(super) fn refuse_segment_options(args: &NewArgs, input: &Input) -> Result<(), Problem> {
    let given: Vec<&str> = [
        args.range.as_ref().map(|_| "--range"),
        args.count.map(|_| "--count"),
        args.length.as_ref().map(|_| "--length"),
        args.segment.as_ref().map(|_| "--segment"),
        args.start.map(|_| "--start"),
        args.padding.map(|_| "--padding"),
        args.end.as_ref().map(|_| "--end"),
        args.init.as_ref().map(|_| "--init"),
        input.neighbour.as_ref().map(|_| "a second URL"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.is_empty() {
        return Ok(());
    }
    Err(Problem::bare(format!(
        "{} cannot be used with a playlist: it lists its segments (and its init segment) itself",
        given.join(", ")
    ))
    .help("give the playlist's URL alone: `snatch new https://…/index.m3u8`"))
}

/// What reading the playlist gave.
pub(super) enum Looked {
    Seen(Seen),
    /// Why it was not read (a note for the user).
    NotRead(String),
}

/// Reads the playlist at `url` (job-file text) with `headers` (job-file
/// text), the variables in them taking `secrets` or the environment.
/// `mpd_name`: the URL ends in `.mpd`, so anything but an HLS playlist
/// is refused as DASH.
pub(super) fn look(
    url: &str,
    headers: &[(String, String)],
    secrets: &[(&str, &str)],
    mpd_name: bool,
) -> Result<Looked, Problem> {
    let values = values(secrets);
    let real = |text: &str| -> Result<Secret, Unasked> {
        let pieces = env::parse(text)?;
        Ok(env::resolve(&pieces, &values)?)
    };
    let request = real(url).and_then(|url| {
        let headers = headers
            .iter()
            .map(|(n, v)| Ok((n.clone(), real(v)?)))
            .collect::<Result<Vec<_>, Unasked>>()?;
        let ask = Ask::new("new", &headers, RETRY, TIMEOUT, Default::default())
            .map_err(Unasked::Headers)?;
        Ok((url, ask))
    });
    let (url, ask) = match request {
        Ok(r) => r,
        Err(e) => return Ok(Looked::NotRead(not_read(&e.to_string()))),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Problem::bare(format!("cannot start the HTTP client: {e}")))?;
    let fetcher = Fetcher::new(&RunLimits::default());
    looked(
        runtime.block_on(peek(&url, &values, &fetcher, &ask)),
        mpd_name,
    )
}

/// An MPD a job could not download: why, and what snatch reads.
fn mpd_problem(e: &PlaylistError) -> Problem {
    Problem::bare(format!(
        "snatch cannot download this MPEG-DASH manifest, so no job was added: {}",
        printable(&e.to_string())
    ))
    .help(
        "snatch downloads static (on-demand) MPDs without DRM; a live stream's MPD can be \
         added once the stream has ended",
    )
}

/// What the answer to the playlist's request makes of the job.
fn looked(peeked: Result<Seen, PeekError>, mpd_name: bool) -> Result<Looked, Problem> {
    match peeked {
        Ok(p) => Ok(Looked::Seen(p)),
        Err(PeekError::Refused(e @ PlaylistError::Mpd { .. })) => Err(mpd_problem(&e)),
        Err(PeekError::Refused(PlaylistError::Dash(_))) => Err(dash_problem()),
        Err(PeekError::Refused(e)) if mpd_name => Err(Problem::bare(format!(
            "the URL ends in .mpd, the name of an MPEG-DASH manifest, but what it answers is \
             neither an MPD nor an HLS playlist, so no job was added: {}",
            printable(&e.to_string())
        ))),
        Err(PeekError::Unreachable(e)) => Ok(Looked::NotRead(not_read(&printable(&e.to_string())))),
        Err(PeekError::Refused(e)) => Err(Problem::bare(format!(
            "snatch cannot download this playlist, so no job was added: {}",
            printable(&e.to_string())
        ))
        .help(
            "snatch downloads finished (VOD) HLS playlists, clear or AES-128 encrypted; \
             a live stream's playlist can be added once the stream has ended",
        )),
    }
}

/// An MPD met where an HLS playlist was read.
fn dash_problem() -> Problem {
    let what = "this is an MPEG-DASH manifest (MPD)".to_string();
    Problem::bare(format!("{what}; {DASH_NOT_YET}, so no job was added")).help(
        "give the MPD's own URL to `snatch new`: it writes a playlist job for it; \
         see docs/jobfile.md#dash-manifests-mpd",
    )
}

/// Why the playlist is not asked for (the job is written all the same,
/// with a note saying so).
#[derive(Debug, thiserror::Error)]
enum Unasked {
    #[error("`${{{0}}}` is not set here")]
    NotSet(String),
    #[error(transparent)]
    Env(EnvError),
    /// A header the request cannot carry (see `Ask::new`).
    #[error("{0}")]
    Headers(crate::net::HeaderError),
}

impl From<EnvError> for Unasked {
    fn from(e: EnvError) -> Unasked {
        match e {
            EnvError::NotSet(name) => Unasked::NotSet(name),
            other => Unasked::Env(other),
        }
    }
}

/// One attempt and a retry, and a short deadline: `snatch new` should not hang.
const RETRY: RetryPolicy = RetryPolicy {
    attempts: 2,
    backoff: Duration::from_millis(300),
    max_backoff: Duration::from_millis(300),
};
const TIMEOUT: Timeouts = Timeouts {
    connect: Duration::from_secs(5),
    segment: Duration::from_secs(15),
};

/// The secrets of this command, then the environment a job file may read.
fn values(secrets: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut values = EnvPolicy::from_process(&[]).values;
    for (var, value) in secrets {
        values.insert(var.to_string(), value.to_string());
    }
    values
}

/// A message that may quote what a server sent, safe for a terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn not_read(why: &str) -> String {
    format!(
        "the playlist was not read ({why}), so its variants are not listed; the job was written \
         without `variant:` (for a master playlist that means `best`, the highest bandwidth; \
         also `worst`, `{{ max_height: N }}`, `{{ max_bandwidth: N }}`); \
         `snatch plan --probe` reads the playlist and shows what the job gets"
    )
}

/// What a playlist offers to choose from (`offers N things`), each
/// choice a line, and how to take another than `best`.
fn choice_lines(offers: &str, thing: &str, offered: &[Offered]) -> Vec<String> {
    let mut out = vec![format!(
        "{offers} {} {thing}{}; the job takes the one marked `best`:",
        offered.len(),
        if offered.len() == 1 { "" } else { "s" }
    )];
    out.extend(variant_lines(offered));
    out.push("to take another, change `variant:` in the job as shown".into());
    out
}

/// Lines that tell what the playlist holds.
pub(super) fn details(peek: &Peek) -> Vec<String> {
    match peek {
        Peek::Master(offered) => choice_lines("the master playlist offers", "variant", offered),
        Peek::Dash {
            offered,
            periods,
            segments,
            duration_s,
            audio,
        } => {
            let mut out = vec![format!(
                "the MPEG-DASH manifest (MPD) lists {duration_s:.1} s in {periods} period{}: \
                 {segments} segments of the best video{}",
                if *periods == 1 { "" } else { "s" },
                if *audio { " and the audio" } else { "" }
            )];
            if !offered.is_empty() {
                out.extend(choice_lines("it offers", "video representation", offered));
            }
            out
        }
        Peek::Media {
            segments,
            duration_s,
            fmp4,
            encrypted,
        } => {
            let mut what = format!(
                "the playlist lists {segments} segment{} ({duration_s:.1} s from EXTINF)",
                if *segments == 1 { "" } else { "s" }
            );
            if *fmp4 {
                what.push_str(", fragmented MP4 with an init segment");
            }
            if *encrypted {
                what.push_str(", AES-128 encrypted (snatch decrypts it)");
            }
            vec![what]
        }
    }
}

/// Each variant offered with the `variant:` that takes it.
fn variant_lines(offered: &[Offered]) -> Vec<String> {
    let width = offered.iter().map(|o| o.text.len()).max().unwrap_or(0);
    let line = |(i, o): (usize, &Offered)| {
        format!("  {:width$}  variant: {}", o.text, choice_for(i, offered))
    };
    offered.iter().enumerate().map(line).collect()
}

/// The `variant:` value that takes `offered[i]` (offered highest first).
fn choice_for(i: usize, offered: &[Offered]) -> String {
    let o = &offered[i];
    if o.best {
        return "best".into();
    }
    let top = |fits: &dyn Fn(&Offered) -> bool| {
        offered
            .iter()
            .enumerate()
            .filter(|(_, c)| fits(c))
            .max_by_key(|(j, c)| (c.bandwidth, std::cmp::Reverse(*j)))
            .map(|(j, _)| j)
    };
    if let Some(h) = o.height {
        if top(&|c: &Offered| c.height.is_some_and(|ch| ch <= h)) == Some(i) {
            return format!("{{ max_height: {h} }}");
        }
    }
    if top(&|c: &Offered| c.bandwidth <= o.bandwidth) == Some(i) {
        return format!("{{ max_bandwidth: {} }}", o.bandwidth);
    }
    if i + 1 == offered.len() {
        return "worst".into();
    }
    "(not one `variant:` takes it alone)".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlist_urls_are_told_by_their_path() {
        assert!(is_playlist("https://h/v/index.m3u8"));
        assert!(is_playlist("https://h/v/Master.M3U8?token=a.ts"));
        assert!(is_playlist("https://h/v/list.m3u#x"));
        assert!(!is_playlist("https://h/v/000123.ts?list=a.m3u8"));
        assert!(!is_playlist("https://h/v/seg-1.m4s"));
        assert!(is_mpd_name("https://h/v/Manifest.MPD?token=a"));
        assert!(!is_mpd_name("https://h/v/seg-1.m4s?manifest=a.mpd"));
    }

    #[test]
    fn each_variant_is_shown_with_the_choice_that_takes_it() {
        let o = |text: &str, height, bandwidth, best| Offered {
            text: text.into(),
            height,
            bandwidth,
            best,
        };
        let offered = [
            o("1920x1080 at 5000000 bit/s", Some(1080), 5_000_000, true),
            o("1280x720 at 3000000 bit/s", Some(720), 3_000_000, false),
            o("1280x720 at 2000000 bit/s", Some(720), 2_000_000, false),
            o("96000 bit/s", None, 96_000, false),
        ];
        let got: Vec<String> = (0..4).map(|i| choice_for(i, &offered)).collect();
        assert_eq!(
            got,
            [
                "best",
                "{ max_height: 720 }",
                "{ max_bandwidth: 2000000 }",
                "{ max_bandwidth: 96000 }"
            ]
        );
        let lines = details(&Peek::Master(offered.to_vec()));
        assert_eq!(lines[1], "  1920x1080 at 5000000 bit/s  variant: best");
    }
}
