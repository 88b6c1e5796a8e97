//! `ecs-sentinel logs pull|errors|diagnose|restarts|summary|auto-diagnose`: what a
//! service's logs say over the last N minutes, and what ECS says about its restarts.
//!
//! - Where: each service's task definition names its log groups (the awslogs driver's
//!   group and stream prefix); a service with none falls back to `ECS_LOG_PATTERN`
//!   (`/ecs/{service}`).
//! - What: FilterLogEvents over the whole window, every page (the newest lines kept when
//!   `--limit` cuts), throttled pages asked again; an error is reported as an error and the
//!   exit code says so, never read as "no errors".
//! - Meaning: `sentinel-logscan` classifies lines by word-boundary rules and drops
//!   health-check noise; restarts come from ECS's stopped tasks (and the fleet table when
//!   deployed), never from words in the logs.

use crate::fleet_cmd::print_tasks;
use crate::progress::Progress;
use crate::render::table;
use crate::services::ServiceReader;
use chrono::{DateTime, TimeDelta, Utc};
use fleet_recorder::{FleetInventory, FleetTable};
use sentinel_aws::logs::{read_window, Backoff, LogLine, LogWindow};
use sentinel_aws::{ContainerLogs, FromSdk};
use sentinel_core::ids::ClusterArn;
use sentinel_fleet::record::TaskRecord;
use sentinel_fleet::view::{select_tasks, TaskFilter};
use sentinel_logscan::{classify, Diagnosis};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;

/// The fallback log group when a task definition names none (the shell tool's default).
pub const DEFAULT_LOG_PATTERN: &str = "/ecs/{service}";
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

/// One log group (and stream prefix) a service writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub group: String,
    pub stream_prefix: Option<String>,
    /// True when the group came from the fallback pattern, not the task definition.
    pub from_pattern: bool,
}

/// A service and where its logs are, or why that could not be found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLogs {
    pub service: String,
    pub sources: Vec<Source>,
    pub error: Option<String>,
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

/// Finds each service's log groups from the task definition its primary deployment runs.
pub async fn locate(
    readers: &LogReaders<'_>,
    options: &LogsOptions,
) -> anyhow::Result<Vec<ServiceLogs>> {
    let cluster = &options.cluster;
    let names = readers
        .services
        .named_or_all(cluster, &options.services)
        .await?;
    let described = readers
        .services
        .describe(cluster, &names)
        .await
        .map_err(|e| anyhow::anyhow!("cannot describe the services of cluster {cluster}: {e}"))?;
    let mut located = Vec::new();
    for service in described {
        let name = service.facts.name.clone();
        let fallback = || Source {
            group: options.pattern.replace("{service}", &name),
            stream_prefix: None,
            from_pattern: true,
        };
        let entry = match (service.facts.status.as_str(), &service.task_definition) {
            ("MISSING", _) => ServiceLogs {
                service: name.clone(),
                sources: Vec::new(),
                error: Some(format!(
                    "ECS does not know service {name} in cluster {cluster}"
                )),
            },
            (_, None) => ServiceLogs {
                service: name.clone(),
                sources: vec![fallback()],
                error: None,
            },
            (_, Some(task_definition)) => {
                match readers.task_definitions.destinations(task_definition).await {
                    Ok(found) if found.is_empty() => ServiceLogs {
                        service: name.clone(),
                        sources: vec![fallback()],
                        error: None,
                    },
                    Ok(found) => ServiceLogs {
                        service: name.clone(),
                        sources: found
                            .iter()
                            .map(|d| Source {
                                group: d.group.clone(),
                                stream_prefix: d.streams(),
                                from_pattern: false,
                            })
                            .collect(),
                        error: None,
                    },
                    Err(e) => ServiceLogs {
                        service: name.clone(),
                        sources: Vec::new(),
                        error: Some(format!(
                            "cannot read task definition {task_definition}: {e}"
                        )),
                    },
                }
            }
        };
        located.push(entry);
    }
    Ok(located)
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

fn when(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn group_names(service: &ServiceLogs) -> String {
    service
        .sources
        .iter()
        .map(|s| s.group.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a logs command found: how many services could not be read (exit code 2 when any).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub unreadable: usize,
}

/// The commands that read log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineCommand {
    /// Every line.
    Pull,
    /// The lines that are errors, with their category.
    Errors,
    /// Per service: categories, samples, HTTP status distribution.
    Diagnose,
    /// Per service, one row: lines, errors, top categories, 5xx, restarts.
    Summary,
}

/// Runs `pull`, `errors`, `diagnose` or `summary` over the services.
pub async fn lines(
    command: LineCommand,
    readers: &LogReaders<'_>,
    options: &LogsOptions,
    fleet: Option<&FleetTable>,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> anyhow::Result<Outcome> {
    let located = locate(readers, options).await?;
    let mut progress = Progress::for_terminal(options.json);
    let mut outcome = Outcome::default();
    let mut diagnoses = Vec::new();
    let mut rows = Vec::new();
    let several = located.len() > 1;
    // Summary's restarts: the cluster and the fleet table are read once for all services.
    let stopped = match command {
        LineCommand::Summary => Some(StoppedTasks::read(readers, options, fleet, now).await),
        _ => None,
    };
    for service in &located {
        let read = match &service.error {
            Some(error) => Err(error.clone()),
            None => read_service(readers, service, options, now, &mut progress).await,
        };
        progress.clear();
        let lines = match read {
            Ok(lines) => lines,
            Err(error) => {
                outcome.unreadable += 1;
                eprintln!("error: {}: {error}", service.service);
                if options.json && matches!(command, LineCommand::Diagnose | LineCommand::Summary) {
                    diagnoses.push(json!({"service": service.service, "logGroup": group_names(service), "error": error}));
                }
                continue;
            }
        };
        match command {
            LineCommand::Pull | LineCommand::Errors => {
                for line in &lines {
                    let category = classify(&line.message);
                    if command == LineCommand::Errors && category.is_none() {
                        continue;
                    }
                    if options.json {
                        let mut doc = json!({
                            "service": service.service, "timestamp": when(line.timestamp_ms),
                            "stream": line.stream, "message": line.message,
                        });
                        if let Some(category) = category {
                            doc["category"] = json!(category.as_str());
                        }
                        writeln!(out, "{doc}")?;
                    } else {
                        let mut cells = vec![when(line.timestamp_ms)];
                        if several {
                            cells.push(service.service.clone());
                        }
                        if command == LineCommand::Errors {
                            cells.push(category.map(|c| c.as_str()).unwrap_or_default().to_owned());
                        }
                        cells.push(line.message.clone());
                        writeln!(out, "{}", cells.join("  "))?;
                    }
                }
            }
            LineCommand::Diagnose => {
                let diagnosis = diagnose(&lines);
                if options.json {
                    diagnoses.push(diagnosis_json(service, &diagnosis));
                } else {
                    print_diagnosis(service, &diagnosis, out)?;
                }
            }
            LineCommand::Summary => {
                let diagnosis = diagnose(&lines);
                let tasks = match &stopped {
                    Some(Ok(stopped)) => stopped.of(readers, &service.service).await,
                    Some(Err(error)) => Err(error.clone()),
                    None => Err("stopped tasks are read for summary only".to_owned()),
                };
                let restarts = match tasks {
                    Ok(tasks) => Some(tasks.len()),
                    Err(error) => {
                        outcome.unreadable += 1;
                        eprintln!("error: {}: {error}", service.service);
                        None
                    }
                };
                let http_5xx: usize = diagnosis
                    .http_status()
                    .iter()
                    .filter(|(code, _)| (500..600).contains(*code))
                    .map(|(_, n)| n)
                    .sum();
                if options.json {
                    let mut doc = diagnosis_json(service, &diagnosis);
                    doc["errors"] = json!(diagnosis.errors());
                    doc["http5xx"] = json!(http_5xx);
                    doc["restarts"] = json!(restarts);
                    diagnoses.push(doc);
                } else {
                    rows.push(vec![
                        service.service.clone(),
                        diagnosis.events().to_string(),
                        diagnosis.errors().to_string(),
                        top_categories(&diagnosis),
                        http_5xx.to_string(),
                        restarts.map_or("?".into(), |n| n.to_string()),
                        group_names(service),
                    ]);
                }
            }
        }
    }
    if matches!(command, LineCommand::Diagnose | LineCommand::Summary) && options.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({"services": diagnoses}))?
        )?;
    }
    if command == LineCommand::Summary && !options.json {
        writeln!(
            out,
            "last {} minutes of cluster {}\n",
            options.minutes, options.cluster
        )?;
        out.write_all(
            table(
                &[
                    "SERVICE",
                    "LINES",
                    "ERRORS",
                    "TOP CATEGORIES",
                    "5XX",
                    "RESTARTS",
                    "LOG GROUPS",
                ],
                &rows,
            )
            .as_bytes(),
        )?;
    }
    Ok(outcome)
}

fn diagnose(lines: &[LogLine]) -> Diagnosis {
    let mut diagnosis = Diagnosis::new(SAMPLES);
    for line in lines {
        diagnosis.add(&line.message);
    }
    diagnosis
}

fn top_categories(diagnosis: &Diagnosis) -> String {
    let mut counted: Vec<(&sentinel_logscan::Category, &usize)> =
        diagnosis.categories().iter().collect();
    counted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let top: Vec<String> = counted
        .iter()
        .take(3)
        .map(|(category, n)| format!("{} {n}", category.as_str()))
        .collect();
    if top.is_empty() {
        "-".into()
    } else {
        top.join(", ")
    }
}

/// The `diagnose --json` object of one service (a stable schema: add, never rename).
fn diagnosis_json(service: &ServiceLogs, diagnosis: &Diagnosis) -> Value {
    json!({
        "service": service.service,
        "logGroup": group_names(service),
        "events": diagnosis.events(),
        "healthChecks": diagnosis.health_checks(),
        "failedHealthChecks": diagnosis.failed_health_checks(),
        "categories": diagnosis.categories(),
        "samples": diagnosis.samples(),
        "httpStatus": diagnosis
            .http_status()
            .iter()
            .map(|(code, n)| (code.to_string(), json!(n)))
            .collect::<serde_json::Map<String, Value>>(),
    })
}

fn print_diagnosis(
    service: &ServiceLogs,
    diagnosis: &Diagnosis,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "{} ({}): {} lines, {} health checks left out ({} failed), {} errors",
        service.service,
        group_names(service),
        diagnosis.events(),
        diagnosis.health_checks(),
        diagnosis.failed_health_checks(),
        diagnosis.errors()
    )?;
    for (category, count) in diagnosis.categories() {
        writeln!(out, "  {:<18} {count}", category.as_str())?;
        for sample in diagnosis.samples().get(category).into_iter().flatten() {
            writeln!(out, "      {sample}")?;
        }
    }
    if !diagnosis.http_status().is_empty() {
        let statuses: Vec<String> = diagnosis
            .http_status()
            .iter()
            .map(|(code, n)| format!("{code}: {n}"))
            .collect();
        writeln!(out, "  http status        {}", statuses.join(", "))?;
    }
    writeln!(out)?;
    Ok(())
}

/// What `restarts` and `summary` read once per command, not once per service: the
/// cluster's ARN and, when the fleet table is given, its stopped tasks of the window.
struct StoppedTasks {
    cluster: ClusterArn,
    since: DateTime<Utc>,
    /// The fleet table's stopped tasks of the cluster within the window.
    kept: Vec<TaskRecord>,
}

impl StoppedTasks {
    async fn read(
        readers: &LogReaders<'_>,
        options: &LogsOptions,
        fleet: Option<&FleetTable>,
        now: DateTime<Utc>,
    ) -> Result<Self, String> {
        let since = now - TimeDelta::minutes(options.minutes);
        let cluster = cluster_arn(readers, &options.cluster).await?;
        let kept = match fleet {
            Some(fleet) => {
                let seen = crate::fleet_cmd::read(
                    fleet,
                    Some(cluster.as_str()),
                    Some(sentinel_fleet::Kind::Task),
                )
                .await
                .map_err(|e| format!("cannot read the fleet table: {e:#}"))?;
                let filter = TaskFilter {
                    cluster: Some(cluster.as_str().to_owned()),
                    service: None,
                    stopped_only: true,
                    since: Some(since),
                };
                select_tasks(&seen, &filter).into_iter().cloned().collect()
            }
            None => Vec::new(),
        };
        Ok(StoppedTasks {
            cluster,
            since,
            kept,
        })
    }

    /// One service's stopped tasks within the window: what ECS remembers (about an hour),
    /// and what the fleet table kept (14 days by default) when it is given; newest first.
    async fn of(&self, readers: &LogReaders<'_>, service: &str) -> Result<Vec<TaskRecord>, String> {
        let group = format!("service:{service}");
        let mut by_arn: BTreeMap<String, TaskRecord> = self
            .kept
            .iter()
            .filter(|t| t.group.as_deref() == Some(group.as_str()))
            .map(|t| (t.task_arn.clone(), t.clone()))
            .collect();
        // ECS's own answer is the freshest: it replaces the table's copy of the same task.
        // ListTasks was asked for the service's tasks; the group check costs nothing and
        // keeps another service's task out whatever the listing did.
        let inventory = FleetInventory::new(readers.services.ecs().clone());
        for task in inventory
            .stopped_service_tasks(&self.cluster, service)
            .await
            .map_err(|e| format!("cannot list the stopped tasks of {service}: {e}"))?
            .into_iter()
            .filter(|t| t.group.as_deref() == Some(group.as_str()))
        {
            let stopped = task
                .stopped_at
                .as_deref()
                .and_then(sentinel_fleet::record::parse_time);
            if stopped.is_none_or(|at| at >= self.since) {
                by_arn.insert(task.task_arn.clone(), task);
            }
        }
        let mut tasks: Vec<TaskRecord> = by_arn.into_values().collect();
        newest_first(&mut tasks);
        Ok(tasks)
    }
}

/// Stopped tasks newest first (by when they stopped, then their last update).
fn newest_first(tasks: &mut [TaskRecord]) {
    tasks.sort_by(|a, b| {
        b.stopped_at
            .cmp(&a.stopped_at)
            .then(b.updated_at.cmp(&a.updated_at))
    });
}

/// The cluster's ARN (a name is looked up once with DescribeClusters).
async fn cluster_arn(readers: &LogReaders<'_>, cluster: &str) -> Result<ClusterArn, String> {
    if let Ok(arn) = ClusterArn::parse(cluster) {
        return Ok(arn);
    }
    let output = readers
        .services
        .ecs()
        .describe_clusters()
        .clusters(cluster)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot describe cluster {cluster}: {}",
                sentinel_aws::AwsError::from_sdk("ecs", "DescribeClusters", e)
            )
        })?;
    output
        .clusters()
        .iter()
        .find_map(|c| c.cluster_arn())
        .ok_or_else(|| format!("ECS does not know cluster {cluster}"))
        .and_then(ClusterArn::parse)
}

/// `logs restarts`: each service's stopped tasks with exit codes, stop codes and reasons.
pub async fn restarts(
    readers: &LogReaders<'_>,
    options: &LogsOptions,
    fleet: Option<&FleetTable>,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> anyhow::Result<Outcome> {
    let cluster = &options.cluster;
    let names = readers
        .services
        .named_or_all(cluster, &options.services)
        .await?;
    let mut outcome = Outcome::default();
    let mut all = Vec::new();
    let stopped = StoppedTasks::read(readers, options, fleet, now).await;
    for service in &names {
        let tasks = match &stopped {
            Ok(stopped) => stopped.of(readers, service).await,
            Err(error) => Err(error.clone()),
        };
        match tasks {
            Ok(tasks) => all.extend(tasks),
            Err(error) => {
                outcome.unreadable += 1;
                eprintln!("error: {service}: {error}");
            }
        }
    }
    newest_first(&mut all);
    if let Some(limit) = options.limit {
        all.truncate(limit);
    }
    if all.is_empty() && !options.json {
        writeln!(
            out,
            "no stopped tasks in the last {} minutes{}",
            options.minutes,
            if fleet.is_none() {
                " (ECS remembers stopped tasks for about an hour; give --stack or --table to read the fleet table's 14 days)"
            } else {
                ""
            }
        )?;
        return Ok(outcome);
    }
    let chosen: Vec<&TaskRecord> = all.iter().collect();
    print_tasks(&chosen, options.json, out)?;
    Ok(outcome)
}
