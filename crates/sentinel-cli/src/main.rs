//! `ecs-sentinel`: the operator command line. `main` parses the flags and hands each
//! command's flags to its library function; the commands themselves (and their help texts,
//! in `sentinel_cli::args`) live in the library, where the tests run them in-process.
//!
//! - `fleet`, `tasks`: the fleet table the fleet recorder keeps (what ECS forgets after an
//!   hour), as tables or `--json`.
//! - `events`: the event archive's log group, filtered by cluster, service and type.
//! - `why`: the cause, evidence and timeline of a service's, task's or instance's trouble
//!   (exit 1 failing, 0 healthy, recovered or unknown, 2 could not read); `top`: the
//!   fleet's trouble, live (`--once`: one frame as text).
//! - `replay --from --to`: replays the event archive into the fleet recorder;
//!   `replay FILE` runs event files through the monitors they belong to.
//! - `health`: services, their target groups, HTTP endpoints and the domain's certificate,
//!   checked now (exit 0 healthy, 1 degraded or unhealthy, 2 could not check).
//! - `logs pull|errors|diagnose|restarts|summary|auto-diagnose`: what the services' logs
//!   say, and what ECS says about their restarts.
//!
//! `health` and `logs` read the shell monitor's `ECS_*` variables as defaults (flags win).
//! The fleet and event commands find the stack's state with `--stack NAME` (its outputs)
//! or by name.
//! (The local demo against the AWS emulator is dev-only: `make demo`.)

use clap::Parser;
use sentinel_cli::args::{Cli, Command, StackCommand};
use sentinel_cli::health::{self, Style, EXIT_COULD_NOT_CHECK};
use sentinel_cli::locate::Aws;
use sentinel_cli::{events_cmd, fleet_cmd, logs_cmd, replay, top_cmd, why_cmd};
use std::process::ExitCode;

/// What the commands that read the stack's state answer on any error.
const EXIT_ERROR: u8 = 1;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    sentinel_lambda::logging::init_terminal(cli.verbose);
    let aws = Aws::Environment;
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr();
    // health and logs answer 2 when they could not check or read, so cron never takes an
    // outage of the checker for good news; the other commands answer 1 on any error.
    let (result, error_code) = match cli.command {
        Command::Health(args) => (
            health::run(args, &aws, Style::for_stdout(), &mut out).await,
            EXIT_COULD_NOT_CHECK,
        ),
        Command::Logs { action } => (
            logs_cmd::run(action, cli.verbose, &aws, &mut out, &mut err).await,
            EXIT_COULD_NOT_CHECK,
        ),
        Command::Stack(command) => {
            // why answers 1 for a failing subject, so its errors are 2, as for health.
            let error_code = match command {
                StackCommand::Why(_) | StackCommand::Top(_) => why_cmd::EXIT_COULD_NOT_READ,
                _ => EXIT_ERROR,
            };
            let done = match command {
                StackCommand::Fleet(args) => {
                    fleet_cmd::run_fleet(args, &aws, &mut out).await.map(|()| 0)
                }
                StackCommand::Tasks(args) => {
                    fleet_cmd::run_tasks(args, &aws, &mut out).await.map(|()| 0)
                }
                StackCommand::Events(args) => {
                    events_cmd::run(args, &aws, &mut out).await.map(|()| 0)
                }
                StackCommand::Replay(args) => replay::run(args, &aws, &mut out, &mut err)
                    .await
                    .map(|()| 0),
                StackCommand::Why(args) => why_cmd::run(args, &aws, &mut out).await,
                StackCommand::Top(args) => top_cmd::run(args, &aws, &mut out).await.map(|()| 0),
            };
            (done, error_code)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(error_code)
        }
    }
}
