//! `ecs-sentinel why`: one answer to "why is my service down?". Reads one window of the event
//! log (a filter pattern lets CloudWatch send only the cluster's events), the cluster's
//! records of the fleet table (one query of its `by-cluster` index) and the monitors'
//! episodes in the alert table (one scan), and hands them to [`sentinel_why`], which joins
//! them into a status, a cause with its evidence, and a timeline; then reads the one log
//! stream the cause quotes (the failed container's last lines). Each source is optional: one
//! that is not configured is left out and said so.

use crate::alert_table::{AlertTable, Alerts};
use crate::args::{StateArgs, WhyArgs};
use crate::events_cmd::{self, EventFilter};
use crate::locate::{Aws, Locator, ALERT_TABLE_OUTPUT, EVENT_LOG_GROUP_OUTPUT, FLEET_TABLE_OUTPUT};
use crate::{fleet_cmd, render};
use chrono::{DateTime, TimeDelta, Utc};
use fleet_recorder::FleetTable;
use sentinel_aws::ContainerLogs;
use sentinel_fleet::view::Seen;
use sentinel_why::{explain, observe, Alert, Answer, Quote, Status, Subject, Target};
use serde::Serialize;
use std::io::Write;

/// Exit status of a subject that is failing now.
pub const EXIT_FAILING: u8 = 1;
/// Exit status when the state could not be read.
pub const EXIT_COULD_NOT_READ: u8 = 2;
/// Log lines of the failed container quoted, at most.
const LOG_LINES_QUOTED: usize = 10;

/// Where the answer came from: each source by name with what was read, or `None` when it
/// was not configured.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sources {
    pub event_log: Option<Read>,
    pub fleet_table: Option<Read>,
    pub alert_table: Option<Read>,
    /// The failed container's log stream, when the cause quotes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_log: Option<Read>,
    /// What could not be read and was left out (the answer stands without it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Read {
    pub name: String,
    /// Events, records, episodes or lines read.
    pub read: usize,
}

/// The answer with its sources: `why --json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub answer: Answer,
    pub sources: Sources,
}

impl Report {
    /// 1 failing, 0 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self.answer.status {
            Status::Failing => EXIT_FAILING,
            Status::Recovered | Status::Healthy | Status::Unknown => 0,
        }
    }
}

/// Where `why` and `top` read: the event log group, the fleet table and the alert table,
/// each optional, and the clients that read a container's log.
pub struct Located {
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub group: Option<String>,
    pub table: Option<FleetTable>,
    pub alerts: Option<AlertTable>,
}

impl Located {
    /// `--log-group`, `--table` and `--alert-table`, else the stack's outputs; at least one
    /// of the event log and the fleet table is required.
    pub async fn find(aws: &Aws, state: &StateArgs) -> anyhow::Result<Located> {
        let sdk = aws.config(None).await;
        let mut locator = Locator::new(&sdk, &state.stack);
        let group = locator
            .optional(state.log_group.clone(), EVENT_LOG_GROUP_OUTPUT)
            .await?;
        let table = locator
            .optional(state.table.clone(), FLEET_TABLE_OUTPUT)
            .await?;
        let alerts = locator
            .optional(state.alert_table.clone(), ALERT_TABLE_OUTPUT)
            .await?;
        if group.is_none() && table.is_none() {
            anyhow::bail!(
                "say where the state is: --stack NAME (its event log and fleet table), or --log-group and/or --table"
            );
        }
        Ok(Located::new(&sdk, group, table, alerts))
    }

    /// The sources named, read with `sdk`'s clients.
    pub fn new(
        sdk: &sentinel_aws::sdk::SdkConfig,
        group: Option<String>,
        table: Option<String>,
        alerts: Option<String>,
    ) -> Located {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        Located {
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            ecs: aws_sdk_ecs::Client::new(sdk),
            group,
            // Reading needs no retention; the recorder's own setting governs what it writes.
            table: table.map(|name| FleetTable::new(dynamodb.clone(), name, TimeDelta::days(14))),
            alerts: alerts.map(|name| AlertTable {
                client: dynamodb,
                name,
            }),
        }
    }
}

/// `ecs-sentinel why`, located by `--stack` or by `--table` / `--log-group` / `--alert-table`.
pub async fn run(args: WhyArgs, aws: &Aws, out: &mut impl Write) -> anyhow::Result<u8> {
    let located = Located::find(aws, &args.state).await?;
    let subject = subject(&args);
    let now = Utc::now();
    let report = why(&subject, &located, now - args.since).await?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print(&report, now - args.since, out)?;
    }
    Ok(report.exit_code())
}

fn subject(args: &WhyArgs) -> Subject {
    let what = match (&args.service, &args.task, &args.instance) {
        (Some(service), _, _) => Target::Service(service.clone()),
        (None, Some(task), _) => Target::Task(task.clone()),
        // clap requires one of the three.
        (None, None, instance) => Target::Instance(instance.clone().unwrap_or_default()),
    };
    Subject {
        cluster: args.cluster.clone(),
        what,
    }
}

/// Reads the sources located and explains the subject over the window from `since`, then
/// quotes the failed container's last log lines when the cause names one.
pub async fn why(
    subject: &Subject,
    located: &Located,
    since: DateTime<Utc>,
) -> anyhow::Result<Report> {
    let cluster = Some(subject.cluster.as_str());
    let read = read_sources(located, cluster, since).await?;
    let observed = observe(cluster, &read.events, &read.records);
    let mut answer = explain(subject, &observed, &read.alerts, since);
    let mut sources = read.sources;
    if let Some(cause) = answer.cause.as_mut() {
        if let Some(quote) = cause.quote.clone() {
            quote_log(located, &quote, &mut cause.evidence, &mut sources).await;
        }
    }
    Ok(Report { answer, sources })
}

/// Adds the container's last lines to the evidence; a log that cannot be read is left out
/// and said so in the sources, never an error: the answer stands without it.
async fn quote_log(
    located: &Located,
    quote: &Quote,
    evidence: &mut Vec<String>,
    sources: &mut Sources,
) {
    let logs = ContainerLogs::new(located.ecs.clone(), located.logs.clone());
    let task_id = quote.task_arn.rsplit('/').next().unwrap_or(&quote.task_arn);
    match logs
        .tail(
            &quote.task_definition,
            task_id,
            &quote.container,
            LOG_LINES_QUOTED,
        )
        .await
    {
        Ok(Some(tail)) => {
            evidence.push(format!(
                "{} logged last ({} {}):",
                tail.container, tail.log_group, tail.log_stream
            ));
            evidence.extend(tail.lines.iter().map(|line| format!("| {line}")));
            sources.container_log = Some(Read {
                name: format!("{} {}", tail.log_group, tail.log_stream),
                read: tail.lines.len(),
            });
        }
        Ok(None) => sources.left_out.push(format!(
            "{}'s log: it logs nowhere awslogs can be read, or logged nothing",
            quote.container
        )),
        Err(e) => sources
            .left_out
            .push(format!("{}'s log: {}", quote.container, e.message)),
    }
}

/// What one reading of the sources found.
#[derive(Debug, Default)]
pub struct Readings {
    pub events: Vec<serde_json::Value>,
    pub records: Vec<Seen>,
    pub alerts: Vec<Alert>,
    pub sources: Sources,
}

/// What `why` and `top` read: the event log's window from `since` (the cluster's events,
/// with its filter pattern, or every event), the fleet table's records (the cluster's,
/// through the `by-cluster` index, or a scan of every cluster) and the alert table's
/// episodes (one scan).
pub async fn read_sources(
    located: &Located,
    cluster: Option<&str>,
    since: DateTime<Utc>,
) -> anyhow::Result<Readings> {
    let mut read = Readings::default();
    if let Some(group) = located.group.as_deref() {
        let filter = EventFilter {
            cluster: cluster.map(str::to_owned),
            ..EventFilter::default()
        };
        let pattern = cluster.map(cluster_pattern);
        let (found, _) = events_cmd::read(
            &located.logs,
            group,
            since.timestamp_millis(),
            pattern.as_deref(),
            &filter,
        )
        .await?;
        read.sources.event_log = Some(Read {
            name: group.to_owned(),
            read: found.len(),
        });
        read.events = found;
    }
    if let Some(table) = &located.table {
        read.records = fleet_cmd::read(table, cluster, None).await?;
        read.sources.fleet_table = Some(Read {
            name: table.table_name().to_owned(),
            read: read.records.len(),
        });
    }
    if let Some(table) = &located.alerts {
        let Alerts { alerts, unreadable } = table.read(cluster).await?;
        if unreadable > 0 {
            read.sources.left_out.push(format!(
                "{unreadable} item(s) of {} that are not readable episodes",
                table.name
            ));
        }
        read.sources.alert_table = Some(Read {
            name: table.name.clone(),
            read: alerts.len(),
        });
        read.alerts = alerts;
    }
    Ok(read)
}

/// The CloudWatch filter pattern for a cluster's events: its name after a slash, quoted
/// (a substring match), which every ECS event about it carries in an ARN: the cluster's,
/// a task's, a container instance's or a service's (`service/<cluster>/<name>`). It only
/// narrows what CloudWatch sends; the events are still chosen exactly here.
fn cluster_pattern(cluster: &str) -> String {
    let name = cluster.rsplit('/').next().unwrap_or(cluster);
    format!("\"/{}\"", name.replace('"', ""))
}

/// The report as text: status, cause, evidence, timeline, and what was read.
pub fn print(report: &Report, since: DateTime<Utc>, out: &mut impl Write) -> anyhow::Result<()> {
    let answer = &report.answer;
    writeln!(
        out,
        "{}: {}",
        answer.subject.describe(),
        answer.status.as_str().to_ascii_uppercase()
    )?;
    if let Some(cause) = &answer.cause {
        writeln!(out, "cause: {} — {}", cause.kind.as_str(), cause.summary)?;
        if !cause.evidence.is_empty() {
            writeln!(out, "evidence:")?;
            for line in &cause.evidence {
                writeln!(out, "  - {line}")?;
            }
        }
    }
    writeln!(out)?;
    if answer.timeline.is_empty() {
        writeln!(out, "timeline since {}: nothing recorded", minute(since))?;
    } else {
        writeln!(out, "timeline since {}:", minute(since))?;
        let rows: Vec<Vec<String>> = answer
            .timeline
            .iter()
            .map(|e| {
                vec![
                    e.time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    e.source.to_owned(),
                    e.text.clone(),
                ]
            })
            .collect();
        write!(out, "{}", render::table(&["TIME", "SOURCE", "WHAT"], &rows))?;
    }
    writeln!(out)?;
    let described = |read: &Option<Read>, what: &str, unit: &str| match read {
        Some(r) => format!("{what} {} ({} {unit})", r.name, r.read),
        None => format!("{what}: not configured, left out"),
    };
    let sources = &report.sources;
    writeln!(
        out,
        "read: {}; {}; {}",
        described(&sources.event_log, "event log", "events"),
        described(&sources.fleet_table, "fleet table", "records"),
        described(&sources.alert_table, "alert table", "episodes")
    )?;
    if let Some(log) = &sources.container_log {
        writeln!(out, "quoted: {} ({} lines)", log.name, log.read)?;
    }
    for note in &sources.left_out {
        writeln!(out, "left out: {note}")?;
    }
    Ok(())
}

fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%MZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::cluster_pattern;

    #[test]
    fn the_filter_pattern_is_the_clusters_name_after_a_slash() {
        assert_eq!(cluster_pattern("prod"), "\"/prod\"");
        assert_eq!(
            cluster_pattern("arn:aws:ecs:us-east-1:123456789012:cluster/prod"),
            "\"/prod\""
        );
        assert_eq!(cluster_pattern("we\"ird"), "\"/weird\"");
    }
}
