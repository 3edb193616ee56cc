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
    /// Print the JSON Schema (draft-07) of job files, or write it with -o.
    Schema(SchemaArgs),
    /// Add a job to a job file from a segment URL or a copied cURL command.
    New(crate::new::NewArgs),
    /// Serve a local web page to list, add and run jobs (127.0.0.1, a one-time token).
    Ui(crate::ui::UiArgs),
    /// Work on JSON reports (`report merge`: combine shard reports).
    #[command(subcommand)]
    Report(ReportCommand),
    /// Print a shell completion script: `snatch completions bash > /etc/bash_completion.d/snatch`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `snatch man > snatch.1; man ./snatch.1`.
    Man,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `snatch report …`
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Combine the JSON reports of a run's shards into one report.
    Merge(MergeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The shards' JSON reports (`snatch run --report`).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write the combined JSON report here.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: PathBuf,
    /// Write a JUnit XML report of the combined run here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary here (default: $GITHUB_STEP_SUMMARY when set).
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Write the run's events here as JSON lines, one flushed per event
    /// (`-`: standard output); the file is replaced. Format: docs/events.md.
    #[arg(long, value_name = "FILE|-")]
    pub events: Option<PathBuf>,
}

/// `--shard-limits`: what a shard does with the job files' limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ShardLimitsArg {
    /// Each of N shards takes 1/N of every rate and concurrency.
    #[default]
    Split,
    /// Every shard uses the job files' limits whole.
    Full,
}

/// Which part of the selected jobs this machine takes.
#[derive(Debug, Clone, Args)]
pub struct ShardArgs {
    /// Run only shard K of N: `K/N` (round-robin over the selected jobs
    /// sorted by name), `hash:K/N` (by a stable hash of the name), or
    /// `index:I/N` / `hash:index:I/N` with a 0-based I. Without the flag,
    /// the environment variable SNATCH_SHARD gives it, if set.
    #[arg(long, value_name = "K/N", value_parser = parse_shard, allow_hyphen_values = true)]
    pub shard: Option<crate::common::shard::Shard>,
    /// With --shard: `split` (default) gives each of N shards 1/N of every
    /// rate and concurrency; `full` keeps the job files' limits whole.
    #[arg(long, value_enum, value_name = "HOW", default_value_t = ShardLimitsArg::Split)]
    pub shard_limits: ShardLimitsArg,
}

fn parse_shard(s: &str) -> Result<crate::common::shard::Shard, crate::common::shard::ShardError> {
    s.parse()
}

#[derive(Debug, Clone, Args)]
pub struct SchemaArgs {
    /// Write the schema to this file (replaced atomically; folders created)
    /// instead of printing it.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
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
    /// Let local segment paths lie in this folder besides the job file's own (repeatable).
    #[arg(long = "allow-local", value_name = "DIR")]
    pub allow_local: Vec<PathBuf>,
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
    #[command(flatten)]
    pub shard: ShardArgs,
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
    #[command(flatten)]
    pub shard: ShardArgs,
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
    /// Write the run's events here as JSON lines, one flushed per event
    /// (`-`: standard output); the file is replaced. Format: docs/events.md.
    #[arg(long, value_name = "FILE|-")]
    pub events: Option<PathBuf>,
}
