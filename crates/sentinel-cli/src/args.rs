//! The command line as clap reads it: every command, its flags and their help texts. Each
//! command's flags are one named struct, handed whole to the library function that runs
//! the command, so `main` only parses and dispatches and the tests can build the same
//! structs (or parse an argument list) in-process.
//!
//! The help texts are the `///` comments on the variants and fields; clap prints them as
//! written, so a change here is a change of `--help`.

use clap::{Args, Parser, Subcommand};
use sentinel_fleet::view::parse_age;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "ecs-sentinel",
    version,
    about = "Operator commands for ecs-sentinel: service health, log diagnosis, the fleet's state, its events, replays"
)]
pub struct Cli {
    /// Show the commands' own logs (info level); RUST_LOG overrides.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses an argument list (the program name first) as the binary does, flags over
    /// their `ECS_*` variables: for running a command in-process.
    pub fn try_from_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        <Cli as Parser>::try_parse_from(args)
    }
}

/// Where the state is: the deployed stack (its outputs), or the resource by name.
#[derive(Args, Debug, Clone, Default)]
pub struct Stack {
    /// The ecs-sentinel stack whose outputs name the table, log group and archive.
    #[arg(long, global = true)]
    pub stack: Option<String>,
}

/// Where the fleet table is: by name, or the deployed stack's output FleetTableName.
#[derive(Args, Debug, Clone, Default)]
pub struct FleetSource {
    /// The fleet table (default: the stack's output FleetTableName).
    #[arg(long)]
    pub table: Option<String>,
    #[command(flatten)]
    pub stack: Stack,
}

/// The cluster and region the health and logs commands look at.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// The cluster (name or ARN).
    #[arg(long, env = "ECS_CLUSTER")]
    pub cluster: String,
    /// The AWS region (default: the SDK's, from AWS_REGION or the profile).
    #[arg(long, env = "ECS_REGION")]
    pub region: Option<String>,
}

/// Which log lines the logs commands read.
#[derive(Args, Debug, Clone)]
pub struct LogsArgs {
    #[command(flatten)]
    pub target: Target,
    /// The services, as the shell-script monitor takes them (`logs pull my-api`); `all`
    /// for every service. Wins over --service.
    #[arg(value_name = "SERVICE")]
    pub names: Vec<String>,
    /// The services (comma-separated or repeated), or `all`.
    #[arg(
        long = "service",
        alias = "services",
        env = "ECS_SERVICES",
        default_value = "all"
    )]
    pub services: Vec<String>,
    #[command(flatten)]
    pub window: Window,
}

/// How much of each service's logs, and how to print them.
#[derive(Args, Debug, Clone)]
pub struct Window {
    /// How far back to read.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(i64).range(1..=60 * 24 * 30))]
    pub minutes: i64,
    /// At most this many lines (restarts: tasks) per service, the newest (pull and errors:
    /// default 200; diagnose and summary read every line unless given).
    #[arg(long)]
    pub limit: Option<usize>,
    /// The log group of a service whose task definition names none; `{service}` is
    /// replaced by the service name.
    #[arg(long, env = "ECS_LOG_PATTERN", default_value = crate::logs_cmd::DEFAULT_LOG_PATTERN)]
    pub log_pattern: String,
    #[arg(long)]
    pub json: bool,
}

/// The logs commands that may add the fleet table's stopped tasks (`restarts`, `summary`).
#[derive(Args, Debug, Clone)]
pub struct LogsWithFleet {
    #[command(flatten)]
    pub logs: LogsArgs,
    #[command(flatten)]
    pub source: FleetSource,
}

/// `logs auto-diagnose`: where the last health check's state is.
#[derive(Args, Debug, Clone)]
pub struct AutoDiagnoseArgs {
    /// The health state file (`health --state`; default: ecs-health.json in --outdir).
    #[arg(long, env = "ECS_HEALTH_STATE")]
    pub state: Option<PathBuf>,
    /// The directory `health` writes to.
    #[arg(long, env = "ECS_HEALTH_OUTDIR", default_value = crate::locate::DEFAULT_OUTDIR)]
    pub outdir: PathBuf,
    /// The AWS region (default: the SDK's).
    #[arg(long, env = "ECS_REGION")]
    pub region: Option<String>,
    #[command(flatten)]
    pub window: Window,
}

#[derive(Subcommand, Debug, Clone)]
pub enum LogsAction {
    /// Every line of the window, oldest first.
    Pull(LogsArgs),
    /// The lines that are errors, with their category.
    Errors(LogsArgs),
    /// Per service: error categories with samples, and the HTTP status distribution
    /// (health-check requests left out).
    Diagnose(LogsArgs),
    /// Stopped tasks with exit codes, stop codes and reasons, from ECS (about an hour) and
    /// the fleet table when --stack or --table is given.
    Restarts(LogsWithFleet),
    /// One row per service: lines, errors, top categories, 5xx answers, restarts.
    Summary(LogsWithFleet),
    /// Diagnoses the services the last health check marked degraded or unhealthy.
    AutoDiagnose(AutoDiagnoseArgs),
}

/// `health`: what to check, where to keep the report, how to print it.
#[derive(Args, Debug, Clone)]
pub struct HealthArgs {
    #[command(flatten)]
    pub target: Target,
    /// The services to check (comma-separated), or `all` (the default): every service of
    /// the cluster.
    #[arg(long, alias = "service", env = "ECS_SERVICES")]
    pub services: Option<String>,
    /// HTTP endpoints to probe: name=url pairs, comma-separated.
    #[arg(long, env = "ECS_HTTP_ENDPOINTS")]
    pub endpoints: Option<String>,
    /// The domain whose certificate to check, and whose https://<domain>/ to probe (host or
    /// host:port).
    #[arg(long, env = "ECS_DOMAIN")]
    pub domain: Option<String>,
    /// Where to keep the last complete report (written atomically; default: ecs-health.json
    /// in --outdir).
    #[arg(long, env = "ECS_HEALTH_STATE")]
    pub state: Option<PathBuf>,
    /// The directory for a timestamped report per run, alerts.jsonl and (unless --state
    /// says otherwise) the state file.
    #[arg(long, env = "ECS_HEALTH_OUTDIR", default_value = crate::locate::DEFAULT_OUTDIR)]
    pub outdir: PathBuf,
    /// Days the timestamped reports are kept (0: forever).
    #[arg(long, default_value_t = 7)]
    pub keep_days: u32,
    /// An SNS topic for the alerts (status changes), published with the stack's attributes
    /// (monitor=health).
    #[arg(long, env = "ECS_ALERT_TOPIC_ARN")]
    pub notify_topic: Option<String>,
    /// Seconds each probe and the certificate check may take.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// The window of the log diagnosis run for each service that is not healthy.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(i64).range(1..=60 * 24 * 30))]
    pub minutes: i64,
    /// The log group of a service whose task definition names none (for the diagnosis);
    /// `{service}` is replaced by the service name.
    #[arg(long, env = "ECS_LOG_PATTERN", default_value = crate::logs_cmd::DEFAULT_LOG_PATTERN)]
    pub log_pattern: String,
    /// Extra trusted CA certificates (PEM) for endpoints and the certificate check.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Print nothing, send no alert; write the state file (and the run's report) only.
    #[arg(long, conflicts_with = "json")]
    pub quiet: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Checks the cluster's services (counts, rollouts, their target groups), HTTP
    /// endpoints and a domain's TLS certificate now. Exit 0 healthy, 1 degraded or
    /// unhealthy, 2 could not check.
    Health(HealthArgs),
    /// What the services' logs say, and what ECS says about their restarts.
    Logs {
        #[command(subcommand)]
        action: LogsAction,
    },
    #[command(flatten)]
    Stack(StackCommand),
}

/// `fleet`: which clusters, and how to print them.
#[derive(Args, Debug, Clone)]
pub struct FleetArgs {
    /// Only this cluster (name or ARN).
    #[arg(long)]
    pub cluster: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub source: FleetSource,
}

/// `tasks`: which tasks, how many, and how to print them.
#[derive(Args, Debug, Clone)]
pub struct TasksArgs {
    /// The cluster (name or ARN).
    #[arg(long)]
    pub cluster: String,
    /// Only this service's tasks.
    #[arg(long)]
    pub service: Option<String>,
    /// Only stopped tasks.
    #[arg(long)]
    pub stopped: bool,
    /// Only tasks updated within this age (30m, 24h, 7d).
    #[arg(long, value_parser = parse_age)]
    pub since: Option<chrono::TimeDelta>,
    /// At most this many tasks (the newest).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub source: FleetSource,
}

/// `events`: which events of the event log, and how to print them.
#[derive(Args, Debug, Clone)]
pub struct EventsArgs {
    /// How far back (30m, 1h, 7d).
    #[arg(long, default_value = "1h", value_parser = parse_age)]
    pub since: chrono::TimeDelta,
    #[arg(long)]
    pub cluster: Option<String>,
    #[arg(long)]
    pub service: Option<String>,
    /// Part of the detail-type: task, service, deployment, instance.
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Keep printing new events (every 5 s) until interrupted.
    #[arg(long)]
    pub follow: bool,
    /// The event log group (default: the stack's output EventLogGroupName).
    #[arg(long)]
    pub log_group: Option<String>,
    /// One archived event per line (JSON Lines).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub stack: Stack,
}

/// `why`: what to explain, where the stack's state is, and how to print it.
#[derive(Args, Debug, Clone)]
#[command(group(clap::ArgGroup::new("subject").required(true).args(["service", "task", "instance"])))]
pub struct WhyArgs {
    /// The cluster (name or ARN).
    #[arg(long, env = "ECS_CLUSTER")]
    pub cluster: String,
    /// A service, by name.
    #[arg(long)]
    pub service: Option<String>,
    /// A task, by id or ARN.
    #[arg(long)]
    pub task: Option<String>,
    /// A container instance: its EC2 instance id, managed node id (mi-…), or container
    /// instance id.
    #[arg(long)]
    pub instance: Option<String>,
    /// How far back to look (30m, 2h, 7d).
    #[arg(long, default_value = "2h", value_parser = parse_age)]
    pub since: chrono::TimeDelta,
    /// The answer as one JSON document.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

/// Where `why` and `top` read the stack's state: each source by flag, else the stack's
/// output; a source that is neither is left out (and said so).
#[derive(Args, Debug, Clone, Default)]
pub struct StateArgs {
    /// The fleet table (default: the stack's output FleetTableName).
    #[arg(long)]
    pub table: Option<String>,
    /// The event log group (default: the stack's output EventLogGroupName).
    #[arg(long)]
    pub log_group: Option<String>,
    /// The monitors' alert table, for their open episodes and the notices sent (default:
    /// the stack's output AlertTableName).
    #[arg(long)]
    pub alert_table: Option<String>,
    #[command(flatten)]
    pub stack: Stack,
}

/// `top`: which clusters, how far back, how often, where the state is.
#[derive(Args, Debug, Clone)]
pub struct TopArgs {
    /// Only this cluster (name or ARN); default every cluster in the fleet table.
    #[arg(long, env = "ECS_CLUSTER")]
    pub cluster: Option<String>,
    /// How far back to look (30m, 1h, 1d).
    #[arg(long, default_value = "1h", value_parser = parse_age)]
    pub since: chrono::TimeDelta,
    /// How often to read again (10s, 1m).
    #[arg(long, default_value = "10s", value_parser = parse_age)]
    pub every: chrono::TimeDelta,
    /// Print one frame as plain text and exit (also what a non-terminal stdout gets).
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

/// `replay`: an event file, or a window of the event archive.
#[derive(Args, Debug, Clone)]
pub struct ReplayArgs {
    /// A file with one EventBridge event, a JSON array of them, or a Lambda SQS event.
    #[arg(conflicts_with_all = ["from", "to", "archive"], required_unless_present = "from")]
    pub file: Option<PathBuf>,
    /// Start of the events to replay: a time (2026-11-30T08:00:00Z) or an age (6h).
    #[arg(long)]
    pub from: Option<String>,
    /// End of the events to replay (default: now).
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// The archive (default: the stack's output EventArchiveName).
    #[arg(long, requires = "from")]
    pub archive: Option<String>,
    #[command(flatten)]
    pub stack: Stack,
}

/// The commands that read what the deployed stack keeps (fleet table, event log, archive).
#[derive(Subcommand, Debug, Clone)]
pub enum StackCommand {
    /// Per cluster: instances (agents connected and down), tasks by status, services with
    /// failed tasks in the last hour.
    Fleet(FleetArgs),
    /// Tasks with stop code, reason and exit codes, newest first.
    Tasks(TasksArgs),
    /// ECS events from the event archive's log group.
    Events(EventsArgs),
    /// Why a service, task or instance is in trouble: its status, the cause with its
    /// evidence, and the timeline, joined from the event log and the fleet table. Exit 1
    /// failing, 0 healthy, recovered or unknown, 2 could not read.
    Why(WhyArgs),
    /// A live view of the fleet's trouble: agents down, services failing with their cause,
    /// the latest stopped tasks; select a service to see its `why`. `--once` prints one
    /// frame as text.
    Top(TopArgs),
    /// `replay FILE`: run event files through the monitors they belong to (agent, task,
    /// fleet) once, with their configuration from the environment (or --stack).
    /// `replay --from T [--to T] --stack S`: replay the event archive into the fleet
    /// recorder and follow its progress.
    Replay(ReplayArgs),
}
