//! Shared helpers for integration tests. Include from a test file with
//! `mod support;` and use e.g. `support::server::{Fault, TestServer}`.
// Every test binary uses only part of the support code.
#![allow(dead_code)]

pub mod cli;
pub mod dash;
pub mod hls;
pub mod media;
pub mod rss;
pub mod server;
pub mod timing;
pub mod tmpfs;
