//! Who hears a run's events. The run tells one [`Stream`]; the stream
//! stamps and masks each event ([`Event::now`]) and hands it to every
//! [`Sink`] in one order: the terminal's progress, a JSON-lines writer
//! ([`JsonLines`], `snatch run --events`), a [`Bus`] that a web page's
//! server subscribes to.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::event::{Event, EventKind};

/// Hears every event of a run, in the stream's order. Called from the
/// run's tasks: quick, and never blocking for long.
pub trait Sink: Send + Sync {
    fn emit(&self, event: &Event);
}

/// A run's one stream of events: what the run tells goes to every sink,
/// each event to all of them before the next, so every sink sees the same
/// events in the same order, with times that never go back.
pub struct Stream {
    sinks: Mutex<Vec<Arc<dyn Sink>>>,
}

impl Stream {
    pub fn new(sinks: Vec<Arc<dyn Sink>>) -> Stream {
        Stream {
            sinks: Mutex::new(sinks),
        }
    }

    /// A stream nobody hears.
    pub fn silent() -> Stream {
        Stream::new(Vec::new())
    }

    /// Stamps `kind` with the time, masks it, and hands it to every sink.
    pub fn tell(&self, kind: EventKind) {
        // Stamped under the lock: times follow the order of the lines.
        let sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        if sinks.is_empty() {
            return;
        }
        let event = Event::now(kind);
        for s in sinks.iter() {
            s.emit(&event);
        }
    }
}

/// Writes each event as one line of JSON and flushes it (`tail -f`
/// follows). A write that fails ends the stream: no line after it, an
/// error logged once, and the run goes on ([`JsonLines::failed`] says why).
pub struct JsonLines {
    out: Mutex<Option<Box<dyn Write + Send>>>,
    /// Where the lines go, for the error: `stdout` or the file's path.
    name: String,
    failed: Mutex<Option<String>>,
}

impl JsonLines {
    pub fn new(out: Box<dyn Write + Send>, name: impl Into<String>) -> JsonLines {
        JsonLines {
            out: Mutex::new(Some(out)),
            name: name.into(),
            failed: Mutex::new(None),
        }
    }

    /// Why the stream ended early, if it did.
    pub fn failed(&self) -> Option<String> {
        self.failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Sink for JsonLines {
    fn emit(&self, event: &Event) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let Some(w) = out.as_mut() else { return };
        let written = event
            .json()
            .map_err(std::io::Error::other)
            .and_then(|mut line| {
                line.push('\n');
                w.write_all(line.as_bytes())?;
                w.flush()
            });
        if let Err(e) = written {
            *out = None;
            let why = format!(
                "cannot write the event stream to {}: {e}; the run goes on without the rest of the stream (from its `{}` event on)",
                self.name,
                event.kind.name()
            );
            tracing::error!("{why}");
            *self.failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
        }
    }
}

/// The events of a run for whoever subscribes in the process (a web
/// page's server): a tokio broadcast channel, and the last events kept
/// for a subscriber that comes late.
///
/// Memory is bounded: the channel holds `capacity` events a slow
/// subscriber has not read (it then lags: `RecvError::Lagged` says how
/// many it missed), and the history the last `keep`.
pub struct Bus {
    tx: broadcast::Sender<Arc<Event>>,
    history: Mutex<VecDeque<Arc<Event>>>,
    keep: usize,
}

/// Events a subscriber of a [`Bus`] may fall behind by before it lags.
pub const BUS_CAPACITY: usize = 4096;
/// Events a [`Bus`] keeps for late subscribers.
pub const BUS_KEEP: usize = 10_000;

impl Default for Bus {
    fn default() -> Bus {
        Bus::new(BUS_CAPACITY, BUS_KEEP)
    }
}

impl Bus {
    pub fn new(capacity: usize, keep: usize) -> Bus {
        Bus {
            tx: broadcast::channel(capacity.max(1)).0,
            history: Mutex::new(VecDeque::new()),
            keep,
        }
    }

    /// The events so far (the last `keep` of them) and a receiver of every
    /// later one: none missed, none twice.
    pub fn subscribe(&self) -> (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>) {
        let history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        (history.iter().cloned().collect(), self.tx.subscribe())
    }
}

impl Sink for Bus {
    fn emit(&self, event: &Event) {
        let event = Arc::new(event.clone());
        let mut history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        if self.keep > 0 {
            if history.len() == self.keep {
                history.pop_front();
            }
            history.push_back(event.clone());
        }
        // No subscriber is no error.
        let _ = self.tx.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(job: &str) -> EventKind {
        EventKind::JobStarted {
            job: job.into(),
            segments: 3,
            already_here: 0,
        }
    }

    /// Hands its lines to the test.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Fails every write after the first `ok` bytes.
    struct Full(usize);
    impl Write for Full {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            match self.0.checked_sub(b.len()) {
                Some(left) => {
                    self.0 = left;
                    Ok(b.len())
                }
                None => Err(std::io::Error::other("no space left")),
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_sink_hears_every_event_in_order() {
        let bus = Arc::new(Bus::new(16, 16));
        let (before, mut rx) = bus.subscribe();
        assert!(before.is_empty());
        let out = Shared::default();
        let lines = Arc::new(JsonLines::new(Box::new(out.clone()), "test"));
        let stream = Stream::new(vec![bus.clone(), lines.clone()]);
        stream.tell(started("a"));
        stream.tell(started("b"));
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let jobs: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<Event>(l).unwrap())
            .map(|e| e.job().unwrap().to_string())
            .collect();
        assert_eq!(jobs, ["a", "b"]);
        assert_eq!(rx.try_recv().unwrap().job(), Some("a"));
        assert_eq!(rx.try_recv().unwrap().job(), Some("b"));
        // A late subscriber gets what it missed from the history.
        let (late, _) = bus.subscribe();
        assert_eq!(late.len(), 2);
        assert!(lines.failed().is_none());
    }

    #[test]
    fn a_write_error_ends_the_stream_not_the_run() {
        let lines = JsonLines::new(Box::new(Full(200)), "events.jsonl");
        let stream = Stream::new(vec![Arc::new(lines)]);
        for _ in 0..5 {
            stream.tell(started("a"));
        }
        // No panic; the writer said why and stopped.
        let lines = JsonLines::new(Box::new(Full(0)), "events.jsonl");
        lines.emit(&Event::now(started("a")));
        let why = lines.failed().unwrap();
        assert!(
            why.contains("events.jsonl") && why.contains("no space left"),
            "{why}"
        );
    }

    #[test]
    fn the_history_keeps_the_last_events() {
        let bus = Bus::new(4, 2);
        for job in ["a", "b", "c"] {
            bus.emit(&Event::now(started(job)));
        }
        let (kept, _) = bus.subscribe();
        let jobs: Vec<_> = kept.iter().map(|e| e.job().unwrap()).collect();
        assert_eq!(jobs, ["b", "c"]);
    }
}
