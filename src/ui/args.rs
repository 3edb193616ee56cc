//! `snatch ui`'s command line.

use std::net::IpAddr;
use std::path::PathBuf;

/// `snatch ui`: the local web page.
#[derive(Debug, Clone, clap::Args)]
pub struct UiArgs {
    /// Job files, or folders of *.yaml / *.yml files. Default: ./jobs.yaml
    /// (created by the page's Add form when it does not exist).
    pub paths: Vec<PathBuf>,
    /// Listen on this port (default: a free one).
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    pub port: u16,
    /// Listen on this address instead of 127.0.0.1 (the page still needs
    /// the token; anyone who can reach the address and has it can run
    /// jobs).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<IpAddr>,
    /// Open the page in the browser (xdg-open, open, or start).
    #[arg(long)]
    pub open: bool,
    /// Let job files read this environment variable besides SNATCH_* ones (repeatable).
    #[arg(long = "allow-env", value_name = "NAME")]
    pub allow_env: Vec<String>,
}
