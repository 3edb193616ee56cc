//! snatch: declarative, resumable downloads of segmented video streams.
//!
//! The code follows the data: a job file is loaded and checked
//! ([`manifest`]), expanded into segment lists ([`plan`], pure), resolved
//! where a playlist or `end: auto` needs the network ([`resolve`]), fetched
//! ([`net`]) into what lives on disk ([`state`]), merged and verified with
//! ffmpeg ([`merge`]) while [`run`] drives the jobs, and told in reports
//! ([`report`]) and as it happens in one stream of [`events`], which the
//! terminal ([`progress`]) hears too. `main.rs` only wires these together.
//!
//! The rooms, one line each, in the order imports may point: a room's
//! code names only rooms listed above it (the test `layout` in `tests/it/`
//! fails otherwise).
//!
//! - `common/` what every stage shares: `Secret` and the one masking function, resolved settings, located problems, units, the output container, the form of a shard
//! - `events/` what a run tells, in one stream (JSON lines, a bus, the terminal): run, jobs, segments, hosts; each job's and the run's results
//! - `template/` the Handlebars registry for URL and output templates, each template checked
//! - `manifest/` job files loaded and validated, every problem located (`file:line:col`)
//! - `plan/` jobs expanded into segment lists, outputs, headers, limits and shards; pure; `plan/source/` is the one model of where segments come from
//! - `media/` a segment's bytes: format checks as they arrive, its own timestamps, AES-128
//! - `state/` what lives on disk below the output folder: store (no link followed), spool, ledger, parts, locks, atomic writes
//! - `net/` requests: limits, redirects, one retry loop, the origin rule for secrets, internal addresses refused, a segment's download into its part
//! - `resolve/` the network step before fetching: playlists read, variants chosen, stream identity kept, `end: auto` probed
//! - `merge/` ffmpeg fed in index order, the output verified per stream with ffprobe
//! - `report/` JSON, JUnit and Markdown reports; `shards.rs` merges the reports of a run's shards
//! - `progress/` bars on a terminal, plain lines in CI
//! - `run/` jobs in flight, where net, state and merge meet
//! - `new/` `snatch new`: a job from a pasted URL or "Copy as cURL"
//! - `ui/` `snatch ui`: the local web page (axum): jobs, the Add form through `new`, runs told over Server-Sent Events; token, `Host` and `Origin` checked
//! - `cli` the command line as plain data (clap)
//! - `resume` the command line that resumes an interrupted run

pub mod cli;
pub mod common;
pub mod events;
pub mod manifest;
pub mod media;
pub mod merge;
pub mod net;
pub mod new;
pub mod plan;
pub mod progress;
pub mod report;
pub mod resolve;
pub mod resume;
pub mod run;
pub mod state;
pub mod template;
pub mod ui;
