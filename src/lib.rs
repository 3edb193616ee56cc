//! snatch: declarative, resumable downloads of segmented video streams.
//!
//! The code follows the data: [`manifest`] (load and validate job files) →
//! [`plan`] (expand jobs into segment lists; pure) → fetch → merge → report.
//! The command line in `main.rs` only wires these stages together.

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
