//! The pure core of `snatch new`: finding the segment index in a URL
//! ([`detect`]) and reading a browser's "Copy as cURL" command ([`curl`]).
//!
//! Nothing here does I/O or depends on the rest of the crate.

pub mod curl;
pub mod detect;

pub use curl::{
    export_line, parse_curl, plan_headers, CurlError, CurlRequest, HeaderPlan, SecretHeader,
};
pub use detect::{
    detect_one, detect_two, slug_from_url, unique_name, Candidate, DetectError, Detected,
};
