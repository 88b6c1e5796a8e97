//! `ecs-sentinel`: the operator command line.
//!
//! - `fleet`, `tasks`: the fleet table the fleet recorder keeps (what ECS forgets after an
//!   hour), as tables or `--json`.
//! - `events`: the event archive's log group, filtered by cluster, service and type.
//! - `replay --from --to`: replays the event archive into the fleet recorder;
//!   `replay FILE` runs event files through the agent monitor's handler.
//!
//! - `health`: services, their target groups, HTTP endpoints and the domain's certificate,
//!   checked now (exit 0 healthy, 1 degraded or unhealthy, 2 could not check).
//! - `logs pull|errors|diagnose|restarts|summary|auto-diagnose`: what the services' logs
//!   say, and what ECS says about their restarts.
//!
//! `health` and `logs` read the shell monitor's `ECS_*` variables as defaults (flags win).
//! The fleet and event commands find the stack's state with `--stack NAME` (its outputs)
//! or by name.
//! (The local demo against the AWS emulator is dev-only: `make demo`.)

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sentinel_cli::{archive_cmd, events_cmd, fleet_cmd, health, locate, logs_cmd, replay, state};
use sentinel_fleet::view::{parse_age, TaskFilter};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "ecs-sentinel",
    version,
    about = "Operator commands for ecs-sentinel: service health, log diagnosis, the fleet's state, its events, replays"
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

/// The cluster and region the health and logs commands look at.
#[derive(Args)]
struct Target {
    /// The cluster (name or ARN).
    #[arg(long, env = "ECS_CLUSTER")]
    cluster: String,
    /// The AWS region (default: the SDK's, from AWS_REGION or the profile).
    #[arg(long, env = "ECS_REGION")]
    region: Option<String>,
}

/// Which log lines the logs commands read.
#[derive(Args)]
struct LogsArgs {
    #[command(flatten)]
    target: Target,
    /// The services (comma-separated or repeated), or `all`.
    #[arg(long = "service", env = "ECS_SERVICES", default_value = "all")]
    services: Vec<String>,
    #[command(flatten)]
    window: Window,
}

/// How much of each service's logs, and how to print them.
#[derive(Args)]
struct Window {
    /// How far back to read.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(i64).range(1..=60 * 24 * 30))]
    minutes: i64,
    /// At most this many lines (restarts: tasks) per service, the newest.
    #[arg(long)]
    limit: Option<usize>,
    /// The log group of a service whose task definition names none; `{service}` is
    /// replaced by the service name.
    #[arg(long, env = "ECS_LOG_PATTERN", default_value = logs_cmd::DEFAULT_LOG_PATTERN)]
    log_pattern: String,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum LogsAction {
    /// Every line of the window, oldest first.
    Pull(LogsArgs),
    /// The lines that are errors, with their category.
    Errors(LogsArgs),
    /// Per service: error categories with samples, and the HTTP status distribution
    /// (health-check requests left out).
    Diagnose(LogsArgs),
    /// Stopped tasks with exit codes, stop codes and reasons, from ECS (about an hour) and
    /// the fleet table when --stack or --table is given.
    Restarts {
        #[command(flatten)]
        args: LogsArgs,
        #[command(flatten)]
        source: FleetSource,
    },
    /// One row per service: lines, errors, top categories, 5xx answers, restarts.
    Summary {
        #[command(flatten)]
        args: LogsArgs,
        #[command(flatten)]
        source: FleetSource,
    },
    /// Diagnoses the services the last health check marked degraded or unhealthy.
    AutoDiagnose {
        /// The health state file (`health --state`).
        #[arg(long, env = "ECS_HEALTH_STATE")]
        state: Option<PathBuf>,
        /// The directory `health --outdir` wrote to (its health-state.json).
        #[arg(long, env = "ECS_HEALTH_OUTDIR")]
        outdir: Option<PathBuf>,
        /// The AWS region (default: the SDK's).
        #[arg(long, env = "ECS_REGION")]
        region: Option<String>,
        #[command(flatten)]
        window: Window,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Checks the cluster's services (counts, rollouts, their target groups), HTTP
    /// endpoints and a domain's TLS certificate now. Exit 0 healthy, 1 degraded or
    /// unhealthy, 2 could not check.
    Health {
        #[command(flatten)]
        target: Target,
        /// The services to check (comma-separated); default every service of the cluster.
        #[arg(long, env = "ECS_SERVICES")]
        services: Option<String>,
        /// HTTP endpoints to probe: name=url pairs, comma-separated.
        #[arg(long, env = "ECS_HTTP_ENDPOINTS")]
        endpoints: Option<String>,
        /// The domain whose certificate to check (host or host:port).
        #[arg(long, env = "ECS_DOMAIN")]
        domain: Option<String>,
        /// Where to keep the last complete report (written atomically).
        #[arg(long, env = "ECS_HEALTH_STATE")]
        state: Option<PathBuf>,
        /// A directory for a timestamped report per run (and health-state.json, unless
        /// --state says otherwise).
        #[arg(long, env = "ECS_HEALTH_OUTDIR")]
        outdir: Option<PathBuf>,
        /// Seconds each probe and the certificate check may take.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        /// Extra trusted CA certificates (PEM) for endpoints and the certificate check.
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// Print nothing; write the state file only.
        #[arg(long, conflicts_with = "json")]
        quiet: bool,
        #[arg(long)]
        json: bool,
    },
    /// What the services' logs say, and what ECS says about their restarts.
    Logs {
        #[command(subcommand)]
        action: LogsAction,
    },
    #[command(flatten)]
    Stack(StackCommand),
}

/// The commands that read what the deployed stack keeps (fleet table, event log, archive).
#[derive(Subcommand)]
enum StackCommand {
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
async fn fleet_table(source: FleetSource) -> anyhow::Result<fleet_recorder::FleetTable> {
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
    Ok(fleet_recorder::FleetTable::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        name,
        chrono::TimeDelta::days(14),
    ))
}

/// The fleet table when --table or --stack says where it is.
async fn optional_fleet_table(
    source: FleetSource,
) -> anyhow::Result<Option<fleet_recorder::FleetTable>> {
    if source.table.is_none() && source.stack.stack.is_none() {
        return Ok(None);
    }
    fleet_table(source).await.map(Some)
}

/// The SDK configuration, in the region asked for.
async fn sdk_in(region: Option<String>) -> sentinel_aws::sdk::SdkConfig {
    let loader = sentinel_aws::sdk::loader();
    match region {
        Some(region) => {
            loader
                .region(aws_sdk_ecs::config::Region::new(region))
                .load()
                .await
        }
        None => loader.load().await,
    }
}

/// Where `health` keeps its state: --state, else health-state.json in --outdir.
fn state_path(state: Option<PathBuf>, outdir: Option<&PathBuf>) -> Option<PathBuf> {
    state.or_else(|| outdir.map(|dir| dir.join("health-state.json")))
}

#[allow(clippy::too_many_arguments)]
async fn health_command(
    target: Target,
    services: Option<String>,
    endpoints: Option<String>,
    domain: Option<String>,
    state: Option<PathBuf>,
    outdir: Option<PathBuf>,
    timeout: u64,
    ca_file: Option<PathBuf>,
    quiet: bool,
    json: bool,
) -> anyhow::Result<u8> {
    let state = state_path(state, outdir.as_ref());
    if quiet && state.is_none() && outdir.is_none() {
        anyhow::bail!("--quiet prints nothing and writes only the state file: give --state FILE (or ECS_HEALTH_STATE)");
    }
    let options = health::HealthOptions {
        cluster: target.cluster,
        services: services
            .as_deref()
            .map(health::parse_list)
            .unwrap_or_default(),
        endpoints: health::parse_endpoints(endpoints.as_deref().unwrap_or_default())
            .map_err(anyhow::Error::msg)?,
        domain: domain.filter(|d| !d.is_empty()),
    };
    let timeout = Duration::from_secs(timeout.max(1));
    let probe = match ca_file {
        Some(path) => {
            let pem = std::fs::read(&path)
                .with_context(|| format!("cannot read the CA file {}", path.display()))?;
            let mut roots = sentinel_http::roots_from_pem(&pem)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            if let Ok(native) = sentinel_http::ProbeOptions::with_native_roots(timeout) {
                roots.roots.extend(native.roots.roots.iter().cloned());
            }
            sentinel_http::ProbeOptions::with_roots(timeout, std::sync::Arc::new(roots))
        }
        None => sentinel_http::ProbeOptions::with_native_roots(timeout)
            .map_err(|e| anyhow::anyhow!("cannot load the system's trusted certificates: {e}"))?,
    };
    let sdk = sdk_in(target.region).await;
    let reader = sentinel_cli::services::ServiceReader::new(&sdk);
    let report = health::check(&reader, &probe, &options, chrono::Utc::now()).await?;
    // Only a complete report gets here: a check that could not run returned above and
    // left the state file as it was.
    if let Some(dir) = &outdir {
        let name = format!("health-{}.json", report.checked_at.format("%Y%m%dT%H%M%SZ"));
        state::write(&dir.join(name), &report)?;
    }
    if let Some(path) = &state {
        state::write(path, &report)?;
    }
    if !quiet {
        let mut out = std::io::stdout().lock();
        if json {
            writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        } else {
            health::print(&report, health::Style::for_stdout(), &mut out)?;
        }
    }
    Ok(health::exit_code(&report))
}

fn logs_options(args: LogsArgs, verbose: bool) -> (Option<String>, logs_cmd::LogsOptions) {
    let services: Vec<String> = args
        .services
        .iter()
        .flat_map(|s| health::parse_list(s))
        .collect();
    let all = services.is_empty() || services.iter().any(|s| s == "all");
    let window = args.window;
    (
        args.target.region,
        logs_cmd::LogsOptions {
            cluster: args.target.cluster,
            services: if all { Vec::new() } else { services },
            minutes: window.minutes,
            limit: window.limit,
            json: window.json,
            verbose,
            pattern: window.log_pattern,
            page_size: None,
            backoff: sentinel_aws::logs::Backoff::default(),
        },
    )
}

async fn logs_command(action: LogsAction, verbose: bool) -> anyhow::Result<u8> {
    let (options, source, command) = match action {
        LogsAction::Pull(args) => (args, None, Some(logs_cmd::LineCommand::Pull)),
        LogsAction::Errors(args) => (args, None, Some(logs_cmd::LineCommand::Errors)),
        LogsAction::Diagnose(args) => (args, None, Some(logs_cmd::LineCommand::Diagnose)),
        LogsAction::Summary { args, source } => {
            (args, Some(source), Some(logs_cmd::LineCommand::Summary))
        }
        LogsAction::Restarts { args, source } => (args, Some(source), None),
        LogsAction::AutoDiagnose {
            state,
            outdir,
            region,
            window,
        } => {
            let path = state_path(state, outdir.as_ref()).context(
                "say where the health state file is: --state FILE (or ECS_HEALTH_STATE), or --outdir DIR",
            )?;
            let report = state::read(&path)?;
            let bad = report.services_needing_a_look();
            if bad.is_empty() {
                if window.json {
                    println!("{}", serde_json::json!({"services": []}));
                } else {
                    println!(
                        "every service of {} was healthy at {}: nothing to diagnose",
                        report.cluster, report.checked_at
                    );
                }
                return Ok(0);
            }
            let args = LogsArgs {
                target: Target {
                    cluster: report.cluster,
                    region,
                },
                services: vec![bad.join(",")],
                window,
            };
            (args, None, Some(logs_cmd::LineCommand::Diagnose))
        }
    };
    let (region, options) = logs_options(options, verbose);
    let sdk = sdk_in(region).await;
    let fleet = match source {
        Some(source) => optional_fleet_table(source).await?,
        None => None,
    };
    let clients = logs_cmd::LogClients::new(&sdk);
    let readers = clients.readers();
    let mut out = std::io::stdout().lock();
    let now = chrono::Utc::now();
    let outcome = match command {
        Some(command) => {
            logs_cmd::lines(command, &readers, &options, fleet.as_ref(), now, &mut out).await?
        }
        None => logs_cmd::restarts(&readers, &options, fleet.as_ref(), now, &mut out).await?,
    };
    Ok(if outcome.unreadable > 0 { 2 } else { 0 })
}

async fn run(command: StackCommand) -> anyhow::Result<()> {
    let sdk = || sentinel_aws::sdk::from_env();
    let mut out = std::io::stdout().lock();
    let now = chrono::Utc::now();
    match command {
        StackCommand::Fleet {
            cluster,
            json,
            source,
        } => {
            let table = fleet_table(source).await?;
            fleet_cmd::fleet(&table, cluster.as_deref(), json, now, &mut out).await
        }
        StackCommand::Tasks {
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
        StackCommand::Events {
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
        StackCommand::Replay {
            file: Some(file), ..
        } => replay::run(&file).await,
        StackCommand::Replay {
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
    // health and logs answer 2 when they could not check or read, so cron never takes an
    // outage of the checker for good news; the other commands answer 1 on any error.
    let (result, error_code) = match cli.command {
        Command::Health {
            target,
            services,
            endpoints,
            domain,
            state,
            outdir,
            timeout,
            ca_file,
            quiet,
            json,
        } => (
            health_command(
                target, services, endpoints, domain, state, outdir, timeout, ca_file, quiet, json,
            )
            .await,
            health::EXIT_COULD_NOT_CHECK,
        ),
        Command::Logs { action } => (
            logs_command(action, cli.verbose).await,
            health::EXIT_COULD_NOT_CHECK,
        ),
        Command::Stack(command) => (run(command).await.map(|()| 0), 1),
    };
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(error_code)
        }
    }
}
