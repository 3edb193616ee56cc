//! `snatch new`'s command line: the arguments, and the URL(s) and headers
//! they name (from the command line or a copied cURL command).

use std::io::Read;
use std::path::PathBuf;

use crate::common::diag::Problem;

use super::curl::parse_curl;
use super::detect::DetectError;

/// `snatch new`: add one job to a job file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NewArgs {
    /// The URL of one video segment; or two segments of the same stream, when
    /// the segment index cannot be told from one (with --from-curl: the URL of
    /// a neighbouring segment). A URL ending in `.m3u8` is an HLS playlist:
    /// the job gets `playlist:` (and the playlist is read once to list what
    /// it offers). A URL ending in `.mpd` is read too: snatch does not read
    /// MPEG-DASH yet, and says what to do instead.
    #[arg(value_name = "URL", num_args = 0..=2)]
    pub urls: Vec<String>,
    /// The job file to add to (default: ./jobs.yaml); created when it does not exist.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Take the URL and headers from a browser's "Copy as cURL" command (`-`: read it from stdin).
    #[arg(long, value_name = "COMMAND", allow_hyphen_values = true)]
    pub from_curl: Option<String>,
    /// The job's name (default: from the URL's path, made unique in the file).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The job's output template, relative to output_dir (default: {{name}}.mp4).
    #[arg(long, value_name = "TEMPLATE")]
    pub output: Option<String>,
    /// Fetch this inclusive index range, e.g. 1-300; 1-auto: up to the last
    /// index that exists, found by probing at run time (`end: auto`).
    #[arg(long, value_name = "FIRST-LAST", conflicts_with_all = ["count", "length", "start"])]
    pub range: Option<String>,
    /// Fetch this many segments from --start (default 0).
    #[arg(long, value_name = "N", conflicts_with = "length")]
    pub count: Option<u64>,
    /// The video's length (H:MM:SS, MM:SS, seconds or 1h2m3s), with --segment.
    #[arg(long, value_name = "LENGTH", requires = "segment")]
    pub length: Option<String>,
    /// Seconds per segment (or 4s, 2500ms), with --length.
    #[arg(long, value_name = "SECONDS", requires = "length")]
    pub segment: Option<String>,
    /// First index for --count and --length (default 0).
    #[arg(long, value_name = "INDEX")]
    pub start: Option<u64>,
    /// The init segment of fragmented-MP4 (`.m4s`, CMAF) segments: written
    /// as the job's `init:`.
    #[arg(long, value_name = "URL")]
    pub init: Option<String>,
    /// Width of the zero-padded index (default: as found in the URL).
    #[arg(long, value_name = "WIDTH")]
    pub padding: Option<u32>,
    /// Send this Referer header.
    #[arg(long, value_name = "URL")]
    pub referer: Option<String>,
    /// Send this header, `Name: value` (repeatable). Cookie and Authorization
    /// values go into an environment variable, not into the file.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Print the job without writing the file.
    #[arg(long)]
    pub dry_run: bool,
    /// Not supported: `--range FIRST-auto` is the open end.
    #[arg(long, value_name = "END", hide = true)]
    pub end: Option<String>,
}

/// The URL(s) to detect the index in, and the headers copied with them.
pub(super) struct Input {
    pub(super) url: String,
    pub(super) neighbour: Option<String>,
    pub(super) from_curl: bool,
    pub(super) curl_headers: Vec<(String, String)>,
}

pub(super) fn input_of(args: &NewArgs, stdin: &mut dyn Read) -> Result<Input, Problem> {
    let Some(cmd) = &args.from_curl else {
        return match args.urls.as_slice() {
            [] => Err(Problem::bare("give the URL of a video segment, or --from-curl")
                .help("`snatch new https://cdn.example.com/vod/abc/000123.ts --range 1-300`, or \
                       `snatch new --from-curl 'curl …'` with a request copied from the browser's network panel")),
            [a] => Ok(Input {
                url: a.clone(),
                neighbour: None,
                from_curl: false,
                curl_headers: Vec::new(),
            }),
            [a, b] => Ok(Input {
                url: a.clone(),
                neighbour: Some(b.clone()),
                from_curl: false,
                curl_headers: Vec::new(),
            }),
            _ => Err(Problem::bare("give one URL, or the URLs of two segments of the same stream")),
        };
    };
    if args.urls.len() > 1 {
        return Err(Problem::bare(
            "with --from-curl, give at most one URL: that of a neighbouring segment",
        )
        .help("the URL and headers come from the cURL command; a second URL only helps find the segment index"));
    }
    let text = if cmd == "-" {
        let mut text = String::new();
        stdin
            .read_to_string(&mut text)
            .map_err(|e| Problem::bare(format!("cannot read the cURL command from stdin: {e}")))?;
        text
    } else {
        cmd.clone()
    };
    let req = parse_curl(&text).map_err(|e| {
        Problem::bare(format!("cannot use the cURL command: {e}"))
            .help("in the browser's network panel, right-click a video segment's request and use \"Copy as cURL\"")
    })?;
    Ok(Input {
        url: req.url,
        neighbour: args.urls.first().cloned(),
        from_curl: true,
        curl_headers: req.headers,
    })
}

pub(super) fn detect_problem(e: DetectError, from_curl: bool) -> Problem {
    let two = if from_curl {
        "give the URL of a neighbouring segment after the cURL command: `snatch new --from-curl '…' NEXT_URL`"
    } else {
        "give the URL of a neighbouring segment as well: `snatch new URL NEXT_URL`"
    };
    match e {
        DetectError::Ambiguous { candidates } => {
            let list: Vec<String> = candidates.iter().map(|c| format!("  {}", c.marked)).collect();
            Problem::bare(format!(
                "cannot tell which number in the URL is the segment index; it could be any of {}",
                candidates
                    .iter()
                    .map(|c| format!("`{}`", c.digits))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .help(format!(
                "the candidates, in brackets:\n{}\nsnatch does not guess: {two}; the number that changes is the index",
                list.join("\n")
            ))
        }
        DetectError::InvalidUrl { .. } => Problem::bare(e.to_string())
            .help("give the full URL of one video segment as the browser's network panel shows it (https://…)"),
        DetectError::NoNumber { .. } => Problem::bare(e.to_string()).help(two),
        DetectError::NotNeighbours { .. } | DetectError::DifferentShape { .. } => {
            Problem::bare(e.to_string())
        }
    }
}

/// `--referer` and `-H` as (name, value), in that order.
pub(super) fn user_headers(args: &NewArgs) -> Result<Vec<(String, String)>, Problem> {
    let mut out = Vec::new();
    if let Some(r) = &args.referer {
        out.push(("Referer".to_string(), r.trim().to_string()));
    }
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            return Err(Problem::bare(format!("-H `{h}` is not `Name: value`"))
                .help("e.g. -H 'Origin: https://tv.example.com'"));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(Problem::bare(format!("-H `{h}` has no header name"))
                .help("e.g. -H 'Origin: https://tv.example.com'"));
        }
        out.push((name.to_string(), value.trim().to_string()));
    }
    Ok(out)
}
