//! The `snatch` binary: parse the command line, call the library, map the
//! outcome to an exit code (0 ok, 1 a job failed, 2 bad input, 130
//! interrupted).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use snatch::cli::{Cli, Command, Format, JobArgs};
use snatch::diag::{self, Problem};
use snatch::manifest::{self, env::EnvPolicy};
use snatch::plan::{self, Plan, PlanContext, Selection};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Schema => {
            let schema = manifest::schema();
            println!("{}", serde_json::to_string_pretty(&schema).expect("JSON"));
            ExitCode::SUCCESS
        }
        Command::Validate(args) => match load_plan(&args) {
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
            Ok(_) => invalid(&[Problem::bare("`snatch run` needs the download engine")]),
            Err(problems) => invalid(&problems),
        },
    }
}

fn load_plan(args: &JobArgs) -> Result<Plan, Vec<Problem>> {
    let policy = EnvPolicy::from_process(&args.allow_env);
    let selection = Selection::new(&args.jobs, &args.tags).map_err(|p| vec![p])?;
    let manifest = manifest::load(&args.paths, &policy)?;
    let ctx = PlanContext {
        date: chrono::Local::now().format("%Y-%m-%d").to_string(),
        env: &policy,
        output_dir: args.output_dir.clone(),
        selection: &selection,
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
