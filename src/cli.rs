//! The command line as plain data (clap derive). No work happens here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "snatch",
    version,
    about = "Fetch segmented video streams from declarative job files, and merge them with ffmpeg",
    propagate_version = true
)]
pub struct Cli {
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More logging (-v: info, -vv: debug). RUST_LOG works too.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check job files; exit 0 when valid, 2 with every problem found.
    Validate(JobArgs),
    /// Show what a run would fetch and write, without touching the network.
    Plan(PlanArgs),
    /// Fetch every selected job, merge each with ffmpeg, verify, report.
    Run(RunArgs),
    /// Print the JSON Schema (draft-07) of job files.
    Schema,
    /// Add a job to a job file from a segment URL or a copied cURL command.
    New(crate::new::NewArgs),
}

/// Which job files, and which of their jobs.
#[derive(Debug, Clone, Args)]
pub struct JobArgs {
    /// Job files, or folders of *.yaml / *.yml files. Default: ./jobs.yaml.
    pub paths: Vec<PathBuf>,
    /// Only jobs whose name matches this glob (repeatable).
    #[arg(long = "jobs", value_name = "GLOB")]
    pub jobs: Vec<String>,
    /// Only jobs with this tag (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Let job files read this environment variable besides SNATCH_* ones (repeatable).
    #[arg(long = "allow-env", value_name = "NAME")]
    pub allow_env: Vec<String>,
    /// Write outputs here instead of each file's output_dir.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub jobs: JobArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Resolve playlists over the network, to show real segment counts
    /// and durations (plan alone makes no request).
    #[arg(long)]
    pub probe: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub jobs: JobArgs,
    /// Print the plan and stop (the same as `snatch plan`).
    #[arg(long)]
    pub dry_run: bool,
    /// Plan format with --dry-run (text by default).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Fetch every segment and merge again, even when the output is complete.
    #[arg(long)]
    pub force: bool,
    /// Keep the downloaded segments after a verified merge.
    #[arg(long)]
    pub keep_segments: bool,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary here (default: $GITHUB_STEP_SUMMARY when set).
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
}
