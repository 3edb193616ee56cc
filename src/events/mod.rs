//! What a run tells, in one stream: the run tells a [`Stream`] each
//! [`Event`] as it happens (run and job started, segments saved, retried
//! and failed, hosts paused and resumed, playlists reloaded, merges
//! started, jobs and the run finished), and the stream hands it, stamped
//! and masked, to every [`Sink`]: the terminal's progress, the JSON lines
//! of `snatch run --events` ([`JsonLines`]), a [`Bus`] for a web page.
//! The format is `docs/events.md`.
//!
//! Each job's outcome ([`JobReport`]) and the run's ([`RunReport`]) are
//! here too: the run makes them, the reports, the progress view and the
//! shard-report merge read them, and none of those calls the engine.

mod event;
mod report;
mod sink;

pub use event::{now_text, time_text, Event, EventKind, PlannedJob, VERSION};
pub use report::{
    EndFound, JobReport, JobStatus, Media, RateAdapted, RunReport, SegmentCounts, Totals,
};
pub use sink::{Bus, JsonLines, Sink, Stream, BUS_CAPACITY, BUS_KEEP};
