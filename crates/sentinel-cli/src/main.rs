//! `ecs-sentinel`: the operator command line. Today: `replay` runs event files through the
//! agent monitor's handler code against any AWS endpoint. (The local demo against the AWS
//! emulator is dev-only: `make demo`.)

mod replay;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "ecs-sentinel",
    version,
    about = "Monitor for the ECS agent on container instances"
)]
struct Cli {
    /// Show the pipeline's own logs (info level); RUST_LOG overrides.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run events through the handler once, with the configuration from the environment
    /// (ALERT_TOPIC_ARN, DEAD_LETTER_QUEUE_URL, … and AWS_ENDPOINT_URL/AWS_REGION).
    Replay {
        /// A file with one EventBridge event, a JSON array of them, or a Lambda SQS event.
        file: PathBuf,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    sentinel_lambda::logging::init_terminal(cli.verbose);
    let result = match cli.command {
        Command::Replay { file } => replay::run(&file).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
