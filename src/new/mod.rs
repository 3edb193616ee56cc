//! `snatch new`: its pure core — finding the segment index in a URL
//! ([`detect`]) and reading a browser's "Copy as cURL" command ([`curl`]) —
//! and the command itself ([`command`]: [`run_new`]), which adds the job to a
//! job file.
//!
//! `detect` and `curl` do no I/O and depend on nothing else in the crate.

mod command;
pub mod curl;
pub mod detect;

pub use command::{run_new, NewArgs, NewOutput, DEFAULT_FILE, SCHEMA_LINE};
pub use curl::{
    export_line, parse_curl, plan_headers, CurlError, CurlRequest, HeaderPlan, SecretHeader,
};
pub use detect::{
    detect_one, detect_two, slug_from_url, unique_name, Candidate, DetectError, Detected,
};
