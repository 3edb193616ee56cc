//! The pauses of a run's hosts, told as events: `host_paused` when a pause
//! begins or grows longer, `host_resumed` when it ends (a timer) or when
//! the run ends with the host still paused ([`Pauses::end_all`]), so every
//! `host_paused` has its `host_resumed` before `run_finished`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::events::{time_text, EventKind, Stream};

/// A pause told and not yet ended.
struct Open {
    until: Instant,
    /// The host as events show it.
    shown: String,
    timer: AbortHandle,
}

/// The pauses told, by the limiter's name of the host.
pub(super) struct Pauses {
    events: Arc<Stream>,
    open: Arc<Mutex<HashMap<String, Open>>>,
}

impl Pauses {
    pub fn new(events: Arc<Stream>) -> Pauses {
        Pauses {
            events,
            open: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn events(&self) -> &Arc<Stream> {
        &self.events
    }

    /// `host` (shown as `shown`) is paused for `d` because of `why`: told
    /// unless it was already paused as long. Call within the runtime.
    pub fn begin(&self, host: &str, shown: &str, d: Duration, why: &str) {
        let until = Instant::now() + d;
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(o) = open.get(host) {
            if o.until >= until {
                return;
            }
            o.timer.abort();
        }
        let wall = chrono::TimeDelta::from_std(d)
            .ok()
            .and_then(|d| chrono::Utc::now().checked_add_signed(d))
            .unwrap_or_else(chrono::Utc::now);
        // Told under the lock: a pause's events keep their order.
        self.events.tell(EventKind::HostPaused {
            host: shown.to_string(),
            until: time_text(wall),
            wait_s: d.as_secs_f64(),
            why: why.to_string(),
        });
        let timer = self.timer(host.to_string(), until).abort_handle();
        let shown = shown.to_string();
        open.insert(
            host.to_string(),
            Open {
                until,
                shown,
                timer,
            },
        );
    }

    /// Tells `host_resumed` when the pause that ends at `until` is over,
    /// unless a longer one replaced it.
    fn timer(&self, host: String, until: Instant) -> tokio::task::JoinHandle<()> {
        let (open, events) = (self.open.clone(), self.events.clone());
        tokio::spawn(async move {
            tokio::time::sleep_until(until).await;
            let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
            if open.get(&host).is_some_and(|o| o.until == until) {
                let o = open.remove(&host).expect("just seen");
                events.tell(EventKind::HostResumed {
                    host: o.shown,
                    why: "the pause ended".into(),
                });
            }
        })
    }

    /// The run ends: every pause still told ends with it.
    pub fn end_all(&self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let mut ended: Vec<(String, Open)> = open.drain().collect();
        ended.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, o) in ended {
            o.timer.abort();
            self.events.tell(EventKind::HostResumed {
                host: o.shown,
                why: "the run ended".into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Bus, Event};

    fn types(events: &[Arc<Event>]) -> Vec<(&'static str, f64)> {
        events
            .iter()
            .map(|e| match &e.kind {
                EventKind::HostPaused { wait_s, .. } => ("paused", *wait_s),
                EventKind::HostResumed { why, .. } if why.contains("pause") => ("resumed", 0.0),
                EventKind::HostResumed { .. } => ("run ended", 0.0),
                _ => ("other", 0.0),
            })
            .collect()
    }

    /// A pause is told once, a longer one again, a shorter one not; it
    /// ends when the longest is over. (Tokio's paused clock.)
    #[tokio::test(start_paused = true)]
    async fn a_pause_is_told_and_ends_once() {
        let bus = Arc::new(Bus::default());
        let pauses = Pauses::new(Arc::new(Stream::new(vec![bus.clone()])));
        pauses.begin("h", "h", Duration::from_secs(5), "Retry-After");
        pauses.begin("h", "h", Duration::from_secs(2), "Retry-After");
        pauses.begin("h", "h", Duration::from_secs(10), "Retry-After");
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(
            types(&bus.subscribe().0),
            [("paused", 5.0), ("paused", 10.0)]
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
        pauses.end_all();
        assert_eq!(
            types(&bus.subscribe().0),
            [("paused", 5.0), ("paused", 10.0), ("resumed", 0.0)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_runs_end_ends_a_pause() {
        let bus = Arc::new(Bus::default());
        let pauses = Pauses::new(Arc::new(Stream::new(vec![bus.clone()])));
        pauses.begin("h", "h", Duration::from_secs(60), "Retry-After");
        pauses.end_all();
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert_eq!(
            types(&bus.subscribe().0),
            [("paused", 60.0), ("run ended", 0.0)]
        );
    }
}
