//! The `snatch` binary: parse the command line, call the library, map the
//! outcome to an exit code (0 ok, 1 a job failed, 2 bad input, 130
//! interrupted).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use snatch::cli::{Cli, Command, Format, JobArgs, ReportCommand, RunArgs, SchemaArgs, ShardArgs};
use snatch::common::diag::{self, Problem};
use snatch::events::JsonLines;
use snatch::manifest;
use snatch::plan::load::{Load, Unset};
use snatch::plan::{self, Plan};
use std::sync::Arc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match &cli.command {
        Command::Schema(args) => schema(args, cli.quiet),
        Command::New(args) => match snatch::new::run_new(args, &mut std::io::stdin()) {
            Ok(out) => {
                // stdout: the job alone, so it can be piped; stderr: the
                // summary and the secrets' export lines.
                print!("{}", out.job_yaml);
                eprint!("{}", out.stderr_text(cli.quiet));
                ExitCode::SUCCESS
            }
            Err(problems) => invalid(&problems),
        },
        Command::Validate(args) => match load_plan(args, Unset::Refuse) {
            Ok(plan) => {
                if !cli.quiet {
                    let n = plan.jobs.len();
                    eprintln!("ok: {n} job{} valid", if n == 1 { "" } else { "s" });
                }
                ExitCode::SUCCESS
            }
            Err(problems) => invalid(&problems),
        },
        Command::Plan(args) => match load_shard(&args.jobs, &args.shard, unset_in_plan(args)) {
            Ok(plan) if args.probe => probe(&plan, args.format),
            Ok(plan) => print_plan(&plan, args.format),
            Err(problems) => invalid(&problems),
        },
        Command::Report(ReportCommand::Merge(args)) => merge_reports(&cli, args),
        Command::Ui(args) => ui(args),
        Command::Completions(args) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut cmd, "snatch", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write the manual page: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run(args) => match load_shard(&args.jobs, &args.shard, Unset::Refuse) {
            Ok(_) if args.dry_run && args.events.is_some() => invalid(&[Problem::bare(
                "--events tells what a run does, and --dry-run runs nothing",
            )
            .help("drop --dry-run to run the jobs, or drop --events to print the plan")]),
            Ok(plan) if args.dry_run => print_plan(&plan, args.format.unwrap_or(Format::Text)),
            Ok(_) if args.format.is_some() => invalid(&[Problem::bare(
                "--format only chooses the plan's format with --dry-run",
            )
            .help("add --dry-run to print the plan, or drop --format: a run writes its JSON report with --report FILE")]),
            Ok(plan) => run(&cli, args, &plan),
            Err(problems) => invalid(&problems),
        },
    }
}

/// The command line's `--jobs` and `--tag`, as the report records them;
/// `None` when it selects every job.
fn selection_text(args: &JobArgs) -> Option<String> {
    let words: Vec<String> = (args.jobs.iter().map(|g| format!("--jobs {g}")))
        .chain(args.tags.iter().map(|t| format!("--tag {t}")))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// `plan` shows what a run would do before the secrets are there;
/// `plan --probe` makes the requests, and needs them.
fn unset_in_plan(args: &snatch::cli::PlanArgs) -> Unset {
    match args.probe {
        true => Unset::Refuse,
        false => Unset::StandIn,
    }
}

/// `snatch schema [-o FILE]`: the same bytes on stdout or in the file.
fn schema(args: &SchemaArgs, quiet: bool) -> ExitCode {
    let text = format!(
        "{}\n",
        serde_json::to_string_pretty(&manifest::schema()).expect("JSON")
    );
    let Some(path) = &args.output else {
        print!("{text}");
        return ExitCode::SUCCESS;
    };
    match snatch::report::write_atomic(path, text.as_bytes()) {
        Ok(()) => {
            if !quiet {
                eprintln!("wrote {}", diag::display_path(path));
            }
            ExitCode::SUCCESS
        }
        Err(e) => invalid(&[Problem::bare(format!(
            "cannot write the schema to {}: {e}",
            diag::display_path(path)
        ))]),
    }
}

/// The plan of the job files `args` names; with stand-ins for unset
/// variables (`plan`), a note names them.
fn load_plan(args: &JobArgs, unset: Unset) -> Result<Plan, Vec<Problem>> {
    let load = Load {
        paths: &args.paths,
        allow_env: &args.allow_env,
        jobs: &args.jobs,
        tags: &args.tags,
        output_dir: args.output_dir.clone(),
        allow_local: args.allow_local.clone(),
    };
    let loaded = plan::load::load(&load, unset)?;
    let names = &loaded.stood_in;
    if let Some(first) = names.first() {
        let one = names.len() == 1;
        eprintln!(
            "note: {} {} not set: the plan shows {} as ***; `snatch run` needs {} (export {first}=… first)",
            names.join(", "),
            if one { "is" } else { "are" },
            if one { "it" } else { "them" },
            if one { "it" } else { "them" },
        );
    }
    Ok(loaded.plan)
}

/// The plan, cut to this machine's shard when `--shard` (or
/// `SNATCH_SHARD`) names one.
fn load_shard(args: &JobArgs, shard: &ShardArgs, unset: Unset) -> Result<Plan, Vec<Problem>> {
    use snatch::cli::ShardLimitsArg;
    use snatch::plan::shard::{self, ShardLimits};
    let chosen = match shard.shard {
        Some(s) => Some(s),
        None => shard_from_env().map_err(|p| vec![p])?,
    };
    let mut plan = load_plan(args, unset)?;
    if let Some(s) = chosen {
        let limits = match shard.shard_limits {
            ShardLimitsArg::Split => ShardLimits::Split,
            ShardLimitsArg::Full => ShardLimits::Full,
        };
        shard::apply(&mut plan, s, limits);
    }
    Ok(plan)
}

/// The shard `SNATCH_SHARD` names, if it is set; set but empty or not a
/// shard, an error naming the variable.
fn shard_from_env() -> Result<Option<snatch::common::shard::Shard>, Problem> {
    let Some(value) = std::env::var_os("SNATCH_SHARD") else {
        return Ok(None);
    };
    let value = value.to_string_lossy();
    let fix = "set SNATCH_SHARD to this machine's shard (for example 1/3), or unset it";
    if value.trim().is_empty() {
        return Err(Problem::bare("SNATCH_SHARD is set but empty").help(fix));
    }
    value
        .parse()
        .map(Some)
        .map_err(|e| Problem::bare(format!("SNATCH_SHARD: {e}")).help(fix))
}

/// `snatch report merge`: exit 0 when every job is ok, 1 when one failed
/// or was interrupted or a shard was interrupted, 2 when the reports cannot
/// be merged.
fn merge_reports(cli: &Cli, args: &snatch::cli::MergeArgs) -> ExitCode {
    use snatch::events::JobStatus;
    use snatch::report::{shards, ReportTargets};
    let merged = args
        .files
        .iter()
        .map(|f| shards::read(f))
        .collect::<Result<Vec<_>, _>>()
        .and_then(|inputs| shards::merge(&inputs));
    let report = match merged {
        Ok(r) => r,
        Err(e) => return invalid(&[Problem::bare(e.message).help(e.help)]),
    };
    let targets = ReportTargets::from_args(
        Some(args.output.clone()),
        args.junit.clone(),
        args.summary.clone(),
        std::env::var_os("GITHUB_STEP_SUMMARY").map(Into::into),
    );
    let errors = targets.write_all(&report);
    for e in &errors {
        eprintln!("error: {e}");
    }
    if !cli.quiet {
        eprintln!(
            "merged {} report{}: {}",
            args.files.len(),
            if args.files.len() == 1 { "" } else { "s" },
            totals_line(&report)
        );
    }
    let not_done = |s: JobStatus| matches!(s, JobStatus::Failed | JobStatus::Interrupted);
    if !errors.is_empty() || report.interrupted || report.jobs.iter().any(|j| not_done(j.status)) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn totals_line(report: &snatch::events::RunReport) -> String {
    let t = &report.totals;
    format!(
        "{} job{}: {} ok, {} up to date, {} failed, {} interrupted, {} skipped · {} segments · {} retr{} · {:.1} s",
        t.jobs,
        if t.jobs == 1 { "" } else { "s" },
        t.ok,
        t.up_to_date,
        t.failed,
        t.interrupted,
        t.skipped,
        t.segments,
        t.retries,
        if t.retries == 1 { "y" } else { "ies" },
        report.elapsed_s
    )
}

fn print_plan(plan: &Plan, format: Format) -> ExitCode {
    let text = match format {
        Format::Text => plan::render_text(plan),
        Format::Json => {
            serde_json::to_string_pretty(&plan::render_json(plan)).expect("JSON") + "\n"
        }
    };
    let text = snatch::common::mask::text(&text);
    let _ = std::io::stdout().write_all(text.as_bytes());
    ExitCode::SUCCESS
}

/// The async runtime of `run` and `plan --probe`.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start: {e}");
            ExitCode::FAILURE
        })
}

/// `plan --probe`: the plan with playlists resolved; exit 1 when one
/// could not be.
fn probe(plan: &Plan, format: Format) -> ExitCode {
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let (probed, errors) = runtime.block_on(snatch::resolve::probe(plan));
    let code = print_plan(&probed, format);
    for e in &errors {
        eprintln!("error: {}", diag::terminal_text(&e.to_string()));
    }
    if errors.is_empty() {
        code
    } else {
        ExitCode::FAILURE
    }
}

/// `snatch ui`: prints the address with its token, serves until Ctrl-C
/// or SIGTERM.
fn ui(args: &snatch::ui::UiArgs) -> ExitCode {
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let served = runtime.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            stopped_by_signal().await;
            on_signal.cancel();
        });
        snatch::ui::serve(args, shutdown, |url| {
            println!("snatch ui: open {url}");
            let _ = std::io::stdout().flush();
            eprintln!(
                "the token in the address is the key to this page: do not share it; Ctrl-C stops"
            );
            if args.open {
                open_browser(url);
            }
        })
        .await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => invalid(&[Problem::bare(e.to_string())]),
    }
}

/// Ctrl-C, or SIGTERM.
async fn stopped_by_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// `--open`: the system's opener; a note when there is none.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let opened = if cfg!(windows) {
        std::process::Command::new("cmd")
            .args(["/C", "start", "", url])
            .spawn()
    } else {
        std::process::Command::new(opener).arg(url).spawn()
    };
    if let Err(e) = opened {
        eprintln!("note: cannot open a browser ({opener}: {e}); open the address above");
    }
}

/// Colour only on a terminal, and never with `NO_COLOR` set.
fn color_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn invalid(problems: &[Problem]) -> ExitCode {
    eprint!("{}", diag::render(problems, color_on_stderr()));
    ExitCode::from(2)
}

/// Logs go to stderr. `-v` and `-vv` raise snatch's own level only, so no
/// library logs a request line; `RUST_LOG` takes over when set. The MP4
/// reader's note of a box it does not know is no warning of snatch's.
fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn,mp4_atom=error",
        (_, 1) => "snatch=info,warn,mp4_atom=error",
        _ => "snatch=debug,warn,mp4_atom=error",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| MaskedStderr)
        .with_target(false)
        .with_ansi(color_on_stderr())
        .try_init();
}

/// Standard error for log lines, each masked as a whole (one event is
/// one write).
struct MaskedStderr;

impl std::io::Write for MaskedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(snatch::common::mask::text(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// A token cancelled by Ctrl-C or SIGTERM, which first clear the bars.
/// Call within the runtime.
fn cancel_on_signals(
    progress: std::sync::Arc<snatch::progress::Reporter>,
) -> tokio_util::sync::CancellationToken {
    let cancel = tokio_util::sync::CancellationToken::new();
    let (on_signal, shown) = (cancel.clone(), progress.clone());
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            shown.interrupted(snatch::progress::terminal_echoes_ctrl_c());
            on_signal.cancel();
        }
    });
    #[cfg(unix)]
    {
        let on_term = cancel.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            if let Ok(mut term) = signal(SignalKind::terminate()) {
                term.recv().await;
                progress.interrupted(false);
                on_term.cancel();
            }
        });
    }
    cancel
}

/// Drops every report target below an output folder that a link would
/// lead out of (saying so): reports obey the store's rule too.
fn confined_reports(
    mut targets: snatch::report::ReportTargets,
    plan: &Plan,
) -> snatch::report::ReportTargets {
    let roots: Vec<_> = plan.runnable().map(|j| j.output_dir.clone()).collect();
    for slot in [
        &mut targets.json,
        &mut targets.junit,
        &mut targets.summary,
        &mut targets.step_summary,
    ] {
        let refused = slot
            .as_deref()
            .map(|p| snatch::state::store::check_report(&roots, p));
        if let Some(Err(e)) = refused {
            eprintln!("error: no report written there: {e}");
            *slot = None;
        }
    }
    targets
}

/// `--events FILE|-`: the run's events as JSON lines on standard output,
/// or in FILE, created afresh (replaced when it is there, as `--report`
/// replaces its file; below an output folder, no link on its way).
fn events_out(path: &std::path::Path, plan: &Plan) -> Result<Arc<JsonLines>, Problem> {
    if path == std::path::Path::new("-") {
        return Ok(Arc::new(JsonLines::new(
            Box::new(std::io::stdout()),
            "standard output",
        )));
    }
    let roots: Vec<_> = plan.runnable().map(|j| j.output_dir.clone()).collect();
    let shown = diag::display_path(path);
    let created =
        snatch::state::store::check_report(&roots, path).and_then(|()| std::fs::File::create(path));
    match created {
        Ok(file) => Ok(Arc::new(JsonLines::new(Box::new(file), shown))),
        Err(e) => Err(
            Problem::bare(format!("--events {shown}: cannot create it: {e}")).help(
                "name a file in a folder that exists and may be written, or - for standard output",
            ),
        ),
    }
}

fn run(cli: &Cli, args: &RunArgs, plan: &Plan) -> ExitCode {
    use snatch::events::{Sink, Stream};
    use snatch::progress::{Mode, Reporter};
    use snatch::report::ReportTargets;
    use snatch::run::RunOptions;

    let tools = match snatch::merge::Tools::find() {
        Ok(t) => t,
        Err(e) => return invalid(&[Problem::bare(e.to_string())]),
    };
    let targets = ReportTargets::from_args(
        args.report.clone(),
        args.junit.clone(),
        args.summary.clone(),
        std::env::var_os("GITHUB_STEP_SUMMARY").map(Into::into),
    );
    let mode = if cli.quiet {
        Mode::Quiet
    } else if std::io::stderr().is_terminal() {
        Mode::Bars
    } else {
        Mode::Lines
    };
    let events_file = match args.events.as_deref().map(|p| events_out(p, plan)) {
        Some(Err(problem)) => return invalid(&[problem]),
        Some(Ok(file)) => Some(file),
        None => None,
    };
    let progress = Arc::new(Reporter::new(mode));
    let mut sinks: Vec<Arc<dyn Sink>> = vec![progress.clone()];
    sinks.extend(events_file.map(|f| f as Arc<dyn Sink>));
    let events = Arc::new(Stream::new(sinks));
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let opts = RunOptions {
        force: args.force,
        keep_segments: args.keep_segments,
    };
    let report = runtime.block_on(async {
        let cancel = cancel_on_signals(progress.clone());
        snatch::run::run(plan, &tools, opts, events, cancel).await
    });
    progress.finish();
    let mut report = report;
    report.shard = plan.shard.map(|s| s.shard.to_string());
    report.job_files = Some(plan.job_files.clone());
    report.selection = selection_text(&args.jobs);
    let targets = confined_reports(targets, plan);
    for e in targets.write_all(&report) {
        eprintln!("error: {e}");
    }
    if !cli.quiet {
        if let Some(info) = plan.shard.filter(|_| plan.runnable().next().is_none()) {
            eprintln!(
                "shard {}: no job of the {} selected falls in this shard; nothing to do",
                info.shard, info.selected
            );
        }
        eprintln!("{}", totals_line(&report));
    }
    if report.interrupted {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        let again = snatch::resume::command(&args);
        eprintln!(
            "interrupted: what arrived is kept; to resume, run: {}",
            snatch::common::mask::text(&again)
        );
    }
    ExitCode::from(report.exit_code())
}
