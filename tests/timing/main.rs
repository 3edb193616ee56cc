//! snatch's integration tests that measure: request timing (rate limits,
//! pauses, caps reached in time) and peak memory, in a binary of their
//! own. A test that measures runs alone ([`support::timing::alone`]), the
//! others of this binary beside each other ([`support::timing::shared`]);
//! no test of `tests/it/` shares the machine with them.

#[path = "../support/mod.rs"]
mod support;

mod hostile_net;
mod limits;
mod memory;
mod run;
