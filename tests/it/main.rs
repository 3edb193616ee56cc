//! snatch's integration tests, one binary (every module of it linked
//! once): the real `snatch` binary, the project's own HTTP test server on
//! 127.0.0.1 and 127.0.0.2, segments made by ffmpeg, merges checked with
//! ffprobe. Tests that measure request timing or peak memory live in
//! `tests/timing/`, where they can run alone.

#[path = "../support/mod.rs"]
mod support;

mod attack;
mod batch;
mod byte_checks;
mod claims;
mod dash;
mod dash_fixtures;
mod end_auto;
mod errors;
mod events;
mod hls;
mod joint_audio;
mod layout;
mod ledger;
mod local_sources;
mod mp4_read;
mod net;
mod new;
mod new_playlist;
mod playlist_trust;
mod probe;
mod props;
mod recipes;
mod reliability;
mod remux;
mod report;
mod segment_clock;
mod server_selftest;
mod shard;
mod sidx;
mod store;
mod ui;
mod usage;
mod validate;
