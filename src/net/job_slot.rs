//! A job's place among the jobs in flight (`limits.global.jobs`), given
//! back while every request of the job waits out a paused host, and taken
//! again (waiting in line) when one of them goes on; given to the next job
//! for good once the job has fetched all it will and only merges and checks. A pause holds no job
//! slot, as it holds no request slot ([`super::Limiter`]). The slot of the
//! job being run is found from the task (a task-local): requests of the
//! job, wherever they are made, count in it.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

tokio::task_local! {
    static CURRENT: Arc<JobSlot>;
}

/// One job's slot, held or given back.
pub struct JobSlot {
    jobs: Arc<Semaphore>,
    permit: tokio::sync::Mutex<Option<OwnedSemaphorePermit>>,
    counts: Mutex<Counts>,
    /// As many places as `jobs`, for jobs that merge and check after
    /// their slot went to the next job ([`JobSlot::fetched`]).
    tails: Arc<Semaphore>,
    tail: Mutex<Option<OwnedSemaphorePermit>>,
}

/// The job's requests under way, and how many of them wait out a pause.
#[derive(Default)]
struct Counts {
    working: usize,
    aside: usize,
}

impl JobSlot {
    /// A job that holds `permit`, one of `jobs`; `tails` are the places
    /// of jobs that finish without a slot.
    pub fn new(
        jobs: Arc<Semaphore>,
        tails: Arc<Semaphore>,
        permit: OwnedSemaphorePermit,
    ) -> Arc<JobSlot> {
        Arc::new(JobSlot {
            jobs,
            permit: tokio::sync::Mutex::new(Some(permit)),
            counts: Mutex::new(Counts::default()),
            tails,
            tail: Mutex::new(None),
        })
    }

    /// The job has fetched all it will: while its ffmpeg finishes and the
    /// output is checked, its slot goes to the next job, so that no
    /// connection idles while another job has segments to fetch. It takes
    /// one of the `tails` places instead (held until the job ends); when
    /// none is free, it keeps its slot. A request it still makes takes a
    /// slot again like any other ([`aside`]).
    pub fn fetched(&self) {
        let Ok(tail) = self.tails.clone().try_acquire_owned() else {
            return;
        };
        if let Ok(mut permit) = self.permit.try_lock() {
            if permit.take().is_some() {
                *self.tail.lock().unwrap_or_else(|e| e.into_inner()) = Some(tail);
            }
        }
    }

    /// Runs `f` as this job: its requests (in this task) count in the slot.
    pub async fn scope<F: Future>(self: &Arc<Self>, f: F) -> F::Output {
        CURRENT.scope(self.clone(), f).await
    }

    /// The slot of the job this task runs, if any.
    pub fn current() -> Option<Arc<JobSlot>> {
        CURRENT.try_with(Arc::clone).ok()
    }

    /// Waits until the job holds a slot again (at once if it never gave
    /// it back).
    pub async fn hold(&self) {
        let mut permit = self.permit.lock().await;
        if permit.is_none() {
            *permit = self.jobs.clone().acquire_owned().await.ok();
        }
    }

    fn count(&self, f: impl FnOnce(&mut Counts)) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut c);
        if c.aside > 0 && c.aside == c.working {
            // Every request waits out a pause: the slot goes back. (A
            // request taking it again holds the lock, and is not aside.)
            if let Ok(mut permit) = self.permit.try_lock() {
                permit.take();
            }
        }
    }
}

/// Counts one request of the current job (if any) as under way until dropped.
pub(super) struct Working(Option<Arc<JobSlot>>);

impl Working {
    pub(super) fn start() -> Working {
        let slot = JobSlot::current();
        if let Some(s) = &slot {
            s.count(|c| c.working += 1);
        }
        Working(slot)
    }
}

impl Drop for Working {
    fn drop(&mut self) {
        if let Some(s) = &self.0 {
            s.count(|c| c.working -= 1);
        }
    }
}

/// Counts one request as waiting out a pause until dropped.
struct Aside<'a>(&'a JobSlot);

impl Drop for Aside<'_> {
    fn drop(&mut self) {
        self.0.count(|c| c.aside -= 1);
    }
}

/// Waits out a pause (`wait`) without the current job's slot when every
/// other request of the job waits too; takes a slot again before going on.
pub(super) async fn aside<F: Future>(wait: F) -> F::Output {
    let Some(slot) = JobSlot::current() else {
        return wait.await;
    };
    let out = {
        slot.count(|c| c.aside += 1);
        let _aside = Aside(&slot);
        wait.await
    };
    slot.hold().await;
    out
}
