//! `ecs-sentinel logs pull|errors|diagnose|restarts|summary|auto-diagnose`: what a
//! service's logs say over the last N minutes, and what ECS says about its restarts.
//!
//! - Where: each service's task definition names its log groups (the awslogs driver's
//!   group and stream prefix); a service with none falls back to `ECS_LOG_PATTERN`
//!   (`/ecs/{service}`). Found by [`crate::locate::service_logs`].
//! - What: FilterLogEvents over the whole window, every page (the newest lines kept when
//!   `--limit` cuts), throttled pages asked again; an error is reported as an error and the
//!   exit code says so, never read as "no errors".
//! - Meaning: `sentinel-logscan` classifies lines by word-boundary rules and drops
//!   health-check noise; restarts come from ECS's stopped tasks (and the fleet table when
//!   deployed), never from words in the logs.
//!
//! The steps: [`run`] turns the flags into a [`Plan`]; [`lines`] (pull, errors, diagnose,
//! summary) and [`restarts`] read and print, and return the services they could not read
//! as an [`Outcome`]; [`run`] prints those and answers the exit code.

mod lines;
mod restarts;

pub use crate::locate::{ServiceLogs, Source};
pub use lines::{diagnoses, lines, LineCommand};
pub use restarts::restarts;

use crate::args::{FleetSource, LogsAction, LogsArgs};
use crate::health::report::HealthReport;
use crate::health::{parse_list, EXIT_COULD_NOT_CHECK};
use crate::locate::{self, Aws};
use crate::progress::Progress;
use crate::services::ServiceReader;
use crate::state;
use chrono::{DateTime, TimeDelta, Utc};
use sentinel_aws::logs::{read_window, Backoff, LogLine, LogWindow};
use sentinel_aws::ContainerLogs;
use std::io::Write;

/// The fallback log group when a task definition names none (the shell tool's default).
pub const DEFAULT_LOG_PATTERN: &str = "/ecs/{service}";
/// Lines `pull` and `errors` print per service unless `--limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 200;

/// Example lines kept per category in a diagnosis.
pub const SAMPLES: usize = 3;

/// What to read.
#[derive(Debug, Clone)]
pub struct LogsOptions {
    /// A cluster name or ARN.
    pub cluster: String,
    /// The services; empty means every service of the cluster.
    pub services: Vec<String>,
    pub minutes: i64,
    /// Keep only the newest this many lines per service.
    pub limit: Option<usize>,
    pub json: bool,
    /// Say where the lines came from and how many pages it took (stderr).
    pub verbose: bool,
    /// The fallback group, `{service}` replaced by the service name.
    pub pattern: String,
    /// Events per FilterLogEvents page (the service's default when `None`).
    pub page_size: Option<i32>,
    pub backoff: Backoff,
}

impl LogsOptions {
    /// From the flags: `--service` lists (comma- or space-separated, repeated) joined, and
    /// `all` (the default) meaning every service of the cluster.
    pub fn from_args(args: &LogsArgs, verbose: bool) -> Self {
        // Positional names (the shell-script monitor's way) win over --service.
        let given = if args.names.is_empty() {
            &args.services
        } else {
            &args.names
        };
        let services: Vec<String> = given.iter().flat_map(|s| parse_list(s)).collect();
        let all = services.is_empty() || services.iter().any(|s| s == "all");
        let window = &args.window;
        LogsOptions {
            cluster: args.target.cluster.clone(),
            services: if all { Vec::new() } else { services },
            minutes: window.minutes,
            limit: window.limit,
            json: window.json,
            verbose,
            pattern: window.log_pattern.clone(),
            page_size: None,
            backoff: Backoff::default(),
        }
    }

    /// Whose logs to find.
    fn wanted(&self) -> locate::WantedLogs<'_> {
        locate::WantedLogs {
            cluster: &self.cluster,
            services: &self.services,
            pattern: &self.pattern,
        }
    }
}

/// The clients the logs commands read with.
pub struct LogReaders<'a> {
    pub services: &'a ServiceReader,
    pub logs: &'a aws_sdk_cloudwatchlogs::Client,
    pub task_definitions: &'a ContainerLogs,
}

/// The clients behind [`LogReaders`], built from one SDK configuration.
pub struct LogClients {
    services: ServiceReader,
    logs: aws_sdk_cloudwatchlogs::Client,
    task_definitions: ContainerLogs,
}

impl LogClients {
    pub fn new(sdk: &sentinel_aws::sdk::SdkConfig) -> Self {
        let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
        LogClients {
            services: ServiceReader::new(sdk),
            task_definitions: ContainerLogs::new(aws_sdk_ecs::Client::new(sdk), logs.clone()),
            logs,
        }
    }

    pub fn readers(&self) -> LogReaders<'_> {
        LogReaders {
            services: &self.services,
            logs: &self.logs,
            task_definitions: &self.task_definitions,
        }
    }
}

/// A service whose logs (or stopped tasks) could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub service: String,
    pub error: String,
}

/// What a logs command could not read. The command prints what it could and carries on;
/// the caller reports these and exits 2 when there are any, so an unreadable service is
/// never taken for a quiet one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub errors: Vec<Unreadable>,
}

impl Outcome {
    /// How many services (or a service's restarts) could not be read.
    pub fn unreadable(&self) -> usize {
        self.errors.len()
    }

    fn fail(&mut self, service: &str, error: String) {
        self.errors.push(Unreadable {
            service: service.to_owned(),
            error,
        });
    }

    /// One `error: SERVICE: WHY` line each.
    pub fn print_errors(&self, err: &mut impl Write) -> std::io::Result<()> {
        for Unreadable { service, error } in &self.errors {
            writeln!(err, "error: {service}: {error}")?;
        }
        Ok(())
    }

    /// 0 when everything was read, 2 (could not check) otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.errors.is_empty() {
            0
        } else {
            EXIT_COULD_NOT_CHECK
        }
    }
}

/// What a logs action comes to once its flags (and, for auto-diagnose, the health state)
/// are read.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Read these services' logs, or their stopped tasks.
    Read {
        command: Command,
        args: LogsArgs,
        /// Where the fleet table is, for the commands that count restarts.
        fleet: Option<FleetSource>,
    },
    /// auto-diagnose: the last health check found every service healthy.
    NothingToDiagnose { report: HealthReport, json: bool },
}

/// The logs commands that read: the four over log lines, and restarts over stopped tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Lines(LineCommand),
    Restarts,
}

impl Plan {
    /// The plan of an action. auto-diagnose reads the health state file here, and becomes
    /// `diagnose` of the services it marked degraded or unhealthy.
    pub fn of(action: LogsAction) -> anyhow::Result<Plan> {
        let read = |command, args, fleet| Plan::Read {
            command,
            args,
            fleet,
        };
        Ok(match action {
            LogsAction::Pull(args) => read(Command::Lines(LineCommand::Pull), args, None),
            LogsAction::Errors(args) => read(Command::Lines(LineCommand::Errors), args, None),
            LogsAction::Diagnose(args) => read(Command::Lines(LineCommand::Diagnose), args, None),
            LogsAction::Summary(with) => read(
                Command::Lines(LineCommand::Summary),
                with.logs,
                Some(with.source),
            ),
            LogsAction::Restarts(with) => read(Command::Restarts, with.logs, Some(with.source)),
            LogsAction::AutoDiagnose(auto) => {
                let path = locate::health_state(auto.state.as_deref(), &auto.outdir);
                let report = state::read(&path)?;
                let bad = report.services_needing_a_look();
                if bad.is_empty() {
                    return Ok(Plan::NothingToDiagnose {
                        report,
                        json: auto.window.json,
                    });
                }
                let args = LogsArgs {
                    target: crate::args::Target {
                        cluster: report.cluster,
                        region: auto.region,
                    },
                    names: Vec::new(),
                    services: vec![bad.join(",")],
                    window: auto.window,
                };
                read(Command::Lines(LineCommand::Diagnose), args, None)
            }
        })
    }
}

/// auto-diagnose's answer when the last check found nothing to look at.
fn print_nothing_to_diagnose(
    report: &HealthReport,
    json: bool,
    out: &mut impl Write,
) -> std::io::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::json!({"services": []}))
    } else {
        writeln!(
            out,
            "every service of {} was healthy at {}: nothing to diagnose",
            report.cluster, report.checked_at
        )
    }
}

/// Runs a logs action: the report on `out`, each service that could not be read on `err`;
/// answers the exit code (2 when any could not be read). An error means nothing could be
/// read at all (the caller exits 2 too).
pub async fn run(
    action: LogsAction,
    verbose: bool,
    aws: &Aws,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<u8> {
    let (command, args, fleet) = match Plan::of(action)? {
        Plan::NothingToDiagnose { report, json } => {
            print_nothing_to_diagnose(&report, json, out)?;
            return Ok(0);
        }
        Plan::Read {
            command,
            args,
            fleet,
        } => (command, args, fleet),
    };
    let mut options = LogsOptions::from_args(&args, verbose);
    if matches!(
        command,
        Command::Lines(LineCommand::Pull | LineCommand::Errors)
    ) {
        // What is printed line by line stops at the shell-script monitor's default; what is
        // only counted (diagnose, summary) reads every line.
        options.limit.get_or_insert(DEFAULT_LIMIT);
    }
    let sdk = aws.config(args.target.region).await;
    let fleet = match fleet {
        Some(source) => locate::optional_fleet_table(aws, &source).await?,
        None => None,
    };
    let clients = LogClients::new(&sdk);
    let readers = clients.readers();
    let now = Utc::now();
    let outcome = match command {
        Command::Lines(command) => {
            lines(command, &readers, &options, fleet.as_ref(), now, out).await?
        }
        Command::Restarts => restarts(&readers, &options, fleet.as_ref(), now, out).await?,
    };
    outcome.print_errors(err)?;
    Ok(outcome.exit_code())
}

/// One service's lines over the window, oldest first: every source read to its end.
pub async fn read_service(
    readers: &LogReaders<'_>,
    service: &ServiceLogs,
    options: &LogsOptions,
    now: DateTime<Utc>,
    progress: &mut Progress,
) -> Result<Vec<LogLine>, String> {
    let start = now - TimeDelta::minutes(options.minutes);
    let mut lines = Vec::new();
    for source in &service.sources {
        let window = LogWindow {
            group: source.group.clone(),
            stream_prefix: source.stream_prefix.clone(),
            start_ms: start.timestamp_millis(),
            end_ms: now.timestamp_millis(),
            keep: options.limit,
            page_size: options.page_size,
        };
        let label = format!("{} ({})", service.service, source.group);
        let read = read_window(readers.logs, &window, options.backoff, |n| {
            progress.update(&label, n)
        })
        .await
        .map_err(|e| {
            let missing = e.code.as_deref() == Some("ResourceNotFoundException");
            let hint = if missing && source.from_pattern {
                " (the task definition names no awslogs group; set ECS_LOG_PATTERN or --log-pattern)"
            } else {
                ""
            };
            format!("cannot read log group {}: {e}{hint}", source.group)
        })?;
        if options.verbose {
            progress.clear();
            eprintln!(
                "{}: {} lines in {}{} ({} page{}, {} throttled and asked again)",
                service.service,
                read.seen,
                source.group,
                source
                    .stream_prefix
                    .as_deref()
                    .map(|p| format!(" streams {p}*"))
                    .unwrap_or_default(),
                read.pages,
                if read.pages == 1 { "" } else { "s" },
                read.throttled
            );
        }
        lines.extend(read.lines);
    }
    lines.sort_by_key(|l| l.timestamp_ms);
    if let Some(limit) = options.limit {
        let cut = lines.len().saturating_sub(limit);
        lines.drain(..cut);
    }
    Ok(lines)
}

/// The names of a service's log groups, comma-separated.
fn group_names(service: &ServiceLogs) -> String {
    service
        .sources
        .iter()
        .map(|s| s.group.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
