//! `ecs-sentinel`: the operator command line.
//!
//! - `fleet`, `tasks`: the fleet table the fleet recorder keeps (what ECS forgets after an
//!   hour), as tables or `--json`.
//! - `events`: the event archive's log group, filtered by cluster, service and type.
//! - `replay --from --to`: replays the event archive into the fleet recorder;
//!   `replay FILE` runs event files through the agent monitor's handler.
//!
//! Every command finds the stack's state with `--stack NAME` (its outputs) or by name.
//! (The local demo against the AWS emulator is dev-only: `make demo`.)

use clap::{Args, Parser, Subcommand};
use sentinel_cli::{archive_cmd, events_cmd, fleet_cmd, locate, replay};
use sentinel_fleet::view::{parse_age, TaskFilter};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "ecs-sentinel",
    version,
    about = "Operator commands for ecs-sentinel: the fleet's state, its events, replays"
)]
struct Cli {
    /// Show the commands' own logs (info level); RUST_LOG overrides.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

/// Where the state is: the deployed stack (its outputs), or the resource by name.
#[derive(Args)]
struct Stack {
    /// The ecs-sentinel stack whose outputs name the table, log group and archive.
    #[arg(long, global = true)]
    stack: Option<String>,
}

/// Where the fleet table is: by name, or the deployed stack's output FleetTableName.
#[derive(Args)]
struct FleetSource {
    /// The fleet table (default: the stack's output FleetTableName).
    #[arg(long)]
    table: Option<String>,
    #[command(flatten)]
    stack: Stack,
}

#[derive(Subcommand)]
enum Command {
    /// Per cluster: instances (agents connected and down), tasks by status, services with
    /// failed tasks in the last hour.
    Fleet {
        /// Only this cluster (name or ARN).
        #[arg(long)]
        cluster: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        source: FleetSource,
    },
    /// Tasks with stop code, reason and exit codes, newest first.
    Tasks {
        /// The cluster (name or ARN).
        #[arg(long)]
        cluster: String,
        /// Only this service's tasks.
        #[arg(long)]
        service: Option<String>,
        /// Only stopped tasks.
        #[arg(long)]
        stopped: bool,
        /// Only tasks updated within this age (30m, 24h, 7d).
        #[arg(long, value_parser = parse_age)]
        since: Option<chrono::TimeDelta>,
        /// At most this many tasks (the newest).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        source: FleetSource,
    },
    /// ECS events from the event archive's log group.
    Events {
        /// How far back (30m, 1h, 7d).
        #[arg(long, default_value = "1h", value_parser = parse_age)]
        since: chrono::TimeDelta,
        #[arg(long)]
        cluster: Option<String>,
        #[arg(long)]
        service: Option<String>,
        /// Part of the detail-type: task, service, deployment, instance.
        #[arg(long = "type")]
        kind: Option<String>,
        /// Keep printing new events (every 5 s) until interrupted.
        #[arg(long)]
        follow: bool,
        /// The event log group (default: the stack's output EventLogGroupName).
        #[arg(long)]
        log_group: Option<String>,
        /// One archived event per line (JSON Lines).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        stack: Stack,
    },
    /// `replay FILE`: run event files through the agent monitor's handler once, with the
    /// configuration from the environment. `replay --from T [--to T] --stack S`: replay the
    /// event archive into the fleet recorder and follow its progress.
    Replay {
        /// A file with one EventBridge event, a JSON array of them, or a Lambda SQS event.
        #[arg(conflicts_with_all = ["from", "to", "archive"], required_unless_present = "from")]
        file: Option<PathBuf>,
        /// Start of the events to replay: a time (2026-11-30T08:00:00Z) or an age (6h).
        #[arg(long)]
        from: Option<String>,
        /// End of the events to replay (default: now).
        #[arg(long, requires = "from")]
        to: Option<String>,
        /// The archive (default: the stack's output EventArchiveName).
        #[arg(long, requires = "from")]
        archive: Option<String>,
        #[command(flatten)]
        stack: Stack,
    },
}

/// The fleet table, by name or from the stack's outputs.
async fn fleet_table(source: FleetSource) -> anyhow::Result<sentinel_aws::FleetTable> {
    let sdk = sentinel_aws::sdk::from_env().await;
    let name = locate::resolve(
        &sdk,
        source.table,
        source.stack.stack.as_deref(),
        "FleetTableName",
        "--table",
    )
    .await?;
    // Reading needs no retention; the recorder's own setting governs what it writes.
    Ok(sentinel_aws::FleetTable::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        name,
        chrono::TimeDelta::days(14),
    ))
}

async fn run(command: Command) -> anyhow::Result<()> {
    let sdk = || sentinel_aws::sdk::from_env();
    let mut out = std::io::stdout().lock();
    let now = chrono::Utc::now();
    match command {
        Command::Fleet {
            cluster,
            json,
            source,
        } => {
            let table = fleet_table(source).await?;
            fleet_cmd::fleet(&table, cluster.as_deref(), json, now, &mut out).await
        }
        Command::Tasks {
            cluster,
            service,
            stopped,
            since,
            limit,
            json,
            source,
        } => {
            let table = fleet_table(source).await?;
            let filter = TaskFilter {
                cluster: Some(cluster),
                service,
                stopped_only: stopped,
                since: since.map(|age| now - age),
            };
            fleet_cmd::tasks(&table, &filter, limit, json, &mut out).await
        }
        Command::Events {
            since,
            cluster,
            service,
            kind,
            follow,
            log_group,
            json,
            stack,
        } => {
            let sdk = sdk().await;
            let group = locate::resolve(
                &sdk,
                log_group,
                stack.stack.as_deref(),
                "EventLogGroupName",
                "--log-group",
            )
            .await?;
            let filter = events_cmd::EventFilter {
                cluster,
                service,
                kind,
            };
            let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
            events_cmd::events(&logs, &group, now - since, &filter, json, follow, &mut out).await
        }
        Command::Replay {
            file: Some(file), ..
        } => replay::run(&file).await,
        Command::Replay {
            file: None,
            from,
            to,
            archive,
            stack,
        } => {
            let sdk = sdk().await;
            let from = archive_cmd::parse_when(from.as_deref().unwrap_or_default(), now)
                .map_err(anyhow::Error::msg)?;
            let to = match to {
                Some(to) => archive_cmd::parse_when(&to, now).map_err(anyhow::Error::msg)?,
                None => now,
            };
            let outputs = match stack.stack.as_deref() {
                Some(name) => Some(locate::StackOutputs::read(&sdk, name).await?),
                None => None,
            };
            let archive = match (archive, &outputs) {
                (Some(name), _) => name,
                (None, Some(outputs)) => outputs.get("EventArchiveName")?,
                (None, None) => anyhow::bail!("say which archive: --archive NAME, or --stack NAME"),
            };
            let rule = match &outputs {
                Some(outputs) => Some(outputs.get("FleetEventsRuleArn")?),
                None => None,
            };
            let events = aws_sdk_eventbridge::Client::new(&sdk);
            archive_cmd::replay(
                &events,
                &archive,
                from,
                to,
                rule.as_deref(),
                Duration::from_secs(5),
                &mut out,
            )
            .await
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    sentinel_lambda::logging::init_terminal(cli.verbose);
    match run(cli.command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
