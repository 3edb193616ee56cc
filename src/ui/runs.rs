//! The page's runs: one at a time (a second is refused until the first
//! ends), on the jobs of the page's job files, sharing the run's limits as
//! `snatch run` does. The run tells its events to a [`Bus`]; a task reads
//! them into [`Live`], and every tab that listens hears of each change
//! ([`Runs::watch`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::live::Live;
use crate::events::{Bus, Event, JobReport, Stream};
use crate::merge::Tools;
use crate::plan::{Plan, SkipReason};
use crate::run::RunOptions;

/// The run in progress or the last one, and the reports of every job the
/// page ran.
pub struct Runs {
    live: Mutex<Live>,
    last: Mutex<BTreeMap<String, JobReport>>,
    cancel: Mutex<Option<CancellationToken>>,
    changed: watch::Sender<u64>,
}

/// A run is already in progress.
#[derive(Debug, thiserror::Error)]
#[error("a run is in progress; stop it or wait for it to end")]
pub struct Busy;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Default for Runs {
    fn default() -> Self {
        Runs {
            live: Mutex::new(Live::default()),
            last: Mutex::new(BTreeMap::new()),
            cancel: Mutex::new(None),
            changed: watch::channel(0).0,
        }
    }
}

impl Runs {
    /// The state as of now.
    pub fn snapshot(&self) -> Live {
        lock(&self.live).now()
    }

    /// Told of every change.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The reports of the jobs this page ran, by name.
    pub fn last(&self) -> BTreeMap<String, JobReport> {
        lock(&self.last).clone()
    }

    /// The names of the jobs of the run in progress.
    pub fn running(&self) -> Vec<String> {
        let live = lock(&self.live);
        match live.running {
            true => live.jobs.iter().map(|j| j.name.clone()).collect(),
            false => Vec::new(),
        }
    }

    fn update(&self, f: impl FnOnce(&mut Live)) {
        f(&mut lock(&self.live));
        self.changed.send_modify(|n| *n += 1);
    }

    /// Runs the jobs of `plan` named in `only` (all when `None`).
    pub fn start(
        self: &Arc<Self>,
        mut plan: Plan,
        only: Option<Vec<String>>,
        tools: Tools,
    ) -> Result<(), Busy> {
        let cancel = {
            let mut slot = lock(&self.cancel);
            if slot.is_some() {
                return Err(Busy);
            }
            let token = CancellationToken::new();
            *slot = Some(token.clone());
            token
        };
        if let Some(names) = only {
            for j in plan.jobs.iter_mut().filter(|j| j.skipped.is_none()) {
                if !names.contains(&j.name) {
                    j.skipped = Some(SkipReason::NotSelected);
                }
            }
        }
        self.update(|live| *live = Live::begin(&plan));
        let runs = self.clone();
        tokio::spawn(async move {
            let bus = Arc::new(Bus::default());
            let (_, rx) = bus.subscribe();
            let feed = tokio::spawn(feed(runs.clone(), rx));
            let stream = Arc::new(Stream::new(vec![bus]));
            let report =
                crate::run::run(&plan, &tools, RunOptions::default(), stream, cancel).await;
            // The stream and its bus go: the feed reads what is left, then ends.
            let _ = feed.await;
            let mut last = lock(&runs.last);
            for j in &report.jobs {
                last.insert(j.name.clone(), j.clone());
            }
            drop(last);
            // Free before the last change is told: a waiter for the end
            // ([`Runs::ended`]) wakes on it and finds the run gone.
            *lock(&runs.cancel) = None;
            runs.update(|live| live.finish(&report));
        });
        Ok(())
    }

    /// Returns once no run is in progress.
    pub async fn ended(&self) {
        let mut rx = self.watch();
        while lock(&self.cancel).is_some() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Says why a run could not start (beside the last run's report; a
    /// run in progress is left as it is).
    pub fn refused(&self, why: String) {
        self.update(|live| {
            if !live.running {
                live.error = Some(crate::common::mask::text(&why).into_owned());
            }
        });
    }

    /// Stops the run in progress: no new request; what arrived is kept.
    pub fn stop(&self) -> bool {
        let Some(token) = lock(&self.cancel).clone() else {
            return false;
        };
        token.cancel();
        self.update(|live| live.stopping = true);
        true
    }
}

/// The run's events, into the runs' [`Live`], until the bus closes. A
/// feed that falls behind by more than the bus holds loses the events it
/// missed (the bars then catch up at the job's end) and says so once.
async fn feed(runs: Arc<Runs>, mut rx: broadcast::Receiver<Arc<Event>>) {
    loop {
        match rx.recv().await {
            Ok(event) => runs.update(|live| live.apply(&event)),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    "the page missed {n} events of the run; its bars catch up as jobs end"
                );
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
