//! `snatch new`: turn a pasted segment URL or a browser's "Copy as cURL"
//! command into a job, added to a job file.
//!
//! The pure core does no I/O:
//! * [`detect`]: the segment index in a URL (from one URL or two);
//! * [`name`]: the job's default name, from the URL's path;
//! * [`shell`]: one tokenizer per shell (bash, cmd.exe, PowerShell);
//! * [`curl`]: curl's options, read from those words, as a request;
//! * [`headers`]: which headers a job keeps and which become secrets;
//! * [`query`]: which query parameters of the URL become secrets.
//!
//! A playlist's URL (`….m3u8`) makes a playlist job instead (`playlist`):
//! the playlist is read once to list its variants, the only request
//! `snatch new` makes.
//!
//! The command ([`run_new`], in `command`) wires them together with the
//! command line (`args`, `source`: the segments asked for), the job's text
//! (`job_text`), inserting it into the file (`yaml_edit`), checking the
//! result like `validate` (`check`) and replacing the file (`file`).

mod args;
mod command;
pub mod curl;
pub mod detect;
mod file;
mod from_playlist;
pub mod headers;
mod job_text;
pub mod name;
pub mod query;
pub mod shell;
mod source;
mod trial;
mod yaml_edit;

pub use args::NewArgs;
pub use command::{run_new, NewOutput, DEFAULT_FILE, SCHEMA_COMMENT};
pub use curl::{parse_curl, CurlError, CurlRequest};
pub use detect::{detect_one, detect_two, Candidate, DetectError, Detected};
pub use headers::{export_line, plan_headers, HeaderPlan, SecretHeader};
pub use name::{slug_from_url, unique_name};
