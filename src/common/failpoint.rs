//! Fault injection for tests. In debug builds (the ones `cargo test` runs),
//! `SNATCH_FAILPOINT=NAME:ARG[,NAME:ARG…]` makes [`hit`] answer true at the
//! named places, so a test can make a segment task or a job task panic. In
//! release builds `hit` is always false and costs nothing.
//!
//! The `fail` crate does the same behind a cargo feature, but `cargo test`
//! (the project's one test command) would not build the binary with it.

/// Whether the failpoint `name` is set for `arg` (a segment index, a job).
#[cfg(debug_assertions)]
pub fn hit(name: &str, arg: &str) -> bool {
    std::env::var("SNATCH_FAILPOINT")
        .is_ok_and(|v| v.split(',').any(|p| p.split_once(':') == Some((name, arg))))
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn hit(_name: &str, _arg: &str) -> bool {
    false
}
