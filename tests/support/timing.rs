//! Tests that read request timing take [`alone`] and run by themselves;
//! the others of their binary take [`shared`] and run beside each other.
//! On 2 busy cores, a process starved by parallel ffmpeg runs can send a
//! request it was allowed long ago in a bunch with later ones, which says
//! nothing of the limiter.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static TIMING: RwLock<()> = RwLock::new(());

/// Runs beside the other tests that take it, never beside [`alone`].
pub fn shared() -> RwLockReadGuard<'static, ()> {
    TIMING.read().unwrap_or_else(|e| e.into_inner())
}

/// Runs with no other test of the binary.
pub fn alone() -> RwLockWriteGuard<'static, ()> {
    TIMING.write().unwrap_or_else(|e| e.into_inner())
}
