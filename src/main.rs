//! The `snatch` binary: parse the command line, call the library, map the
//! outcome to an exit code (0 ok, 1 a job failed, 2 bad input, 130
//! interrupted).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use snatch::cli::{Cli, Command, Format, JobArgs, RunArgs};
use snatch::diag::{self, Problem};
use snatch::manifest::{self, env::EnvPolicy};
use snatch::plan::{self, Plan, PlanContext, Selection};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match &cli.command {
        Command::Schema => {
            let schema = manifest::schema();
            println!("{}", serde_json::to_string_pretty(&schema).expect("JSON"));
            ExitCode::SUCCESS
        }
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
        Command::Validate(args) => match load_plan(args) {
            Ok(plan) => {
                if !cli.quiet {
                    let n = plan.jobs.len();
                    eprintln!("ok: {n} job{} valid", if n == 1 { "" } else { "s" });
                }
                ExitCode::SUCCESS
            }
            Err(problems) => invalid(&problems),
        },
        Command::Plan(args) => match load_plan(&args.jobs) {
            Ok(plan) => print_plan(&plan, args.format),
            Err(problems) => invalid(&problems),
        },
        Command::Run(args) => match load_plan(&args.jobs) {
            Ok(plan) if args.dry_run => print_plan(&plan, args.format),
            Ok(plan) => run(&cli, args, &plan),
            Err(problems) => invalid(&problems),
        },
    }
}

fn load_plan(args: &JobArgs) -> Result<Plan, Vec<Problem>> {
    let policy = EnvPolicy::from_process(&args.allow_env);
    let selection = Selection::new(&args.jobs, &args.tags).map_err(|p| vec![p])?;
    if let Some(d) = args.allow_local.iter().find(|d| !d.is_dir()) {
        return Err(vec![Problem::bare(format!(
            "--allow-local {}: no such folder",
            diag::display_path(d)
        ))]);
    }
    let manifest = manifest::load(&args.paths, &policy)?;
    let ctx = PlanContext {
        date: chrono::Local::now().format("%Y-%m-%d").to_string(),
        env: &policy,
        output_dir: args.output_dir.clone(),
        selection: &selection,
        allow_local: args.allow_local.clone(),
    };
    plan::plan(&manifest, &ctx)
}

fn print_plan(plan: &Plan, format: Format) -> ExitCode {
    let text = match format {
        Format::Text => plan::render_text(plan),
        Format::Json => {
            serde_json::to_string_pretty(&plan::render_json(plan)).expect("JSON") + "\n"
        }
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    ExitCode::SUCCESS
}

fn invalid(problems: &[Problem]) -> ExitCode {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    eprint!("{}", diag::render(problems, color));
    ExitCode::from(2)
}

/// Logs go to stderr. `-v` and `-vv` raise snatch's own level only, so no
/// library logs a request line; `RUST_LOG` takes over when set.
fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "snatch=info,warn",
        _ => "snatch=debug,warn",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn run(cli: &Cli, args: &RunArgs, plan: &Plan) -> ExitCode {
    use snatch::progress::{Mode, Reporter};
    use snatch::report::{JobStatus, ReportTargets};
    use snatch::run::RunOptions;

    let tools = match snatch::merge::Tools::find() {
        Ok(t) => t,
        Err(e) => return invalid(&[Problem::bare(e)]),
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
    let progress = std::sync::Arc::new(Reporter::new(mode));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let opts = RunOptions {
        force: args.force,
        keep_segments: args.keep_segments,
    };
    let report = runtime.block_on(async {
        let cancel = tokio_util::sync::CancellationToken::new();
        let on_signal = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
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
                    on_term.cancel();
                }
            });
        }
        snatch::run::run(plan, &tools, opts, progress.clone(), cancel).await
    });
    progress.finish();
    for e in targets.write_all(&report) {
        eprintln!("error: {e}");
    }
    let t = &report.totals;
    if !cli.quiet {
        eprintln!(
            "{} job{}: {} ok, {} up to date, {} failed, {} skipped · {} segments · {:.1} s",
            t.jobs,
            if t.jobs == 1 { "" } else { "s" },
            t.ok,
            t.up_to_date,
            t.failed,
            t.skipped,
            t.segments,
            report.elapsed_s
        );
    }
    if report.interrupted {
        eprintln!("interrupted: what arrived is kept; run the same command again to resume");
        ExitCode::from(130)
    } else if report.jobs.iter().any(|j| j.status == JobStatus::Failed) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
