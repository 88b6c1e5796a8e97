//! `ecs-sentinel why`: one answer to "why is my service down?". Reads one window of the event
//! log (a filter pattern lets CloudWatch send only the cluster's events) and the cluster's
//! records of the fleet table (one query of its `by-cluster` index), and hands them to
//! [`sentinel_why`], which joins them into a status, a cause with its evidence, and a
//! timeline. Each source is optional: one that is not configured is left out and said so.

use crate::args::{Stack, WhyArgs};
use crate::events_cmd::{self, EventFilter};
use crate::locate::{Aws, Locator, EVENT_LOG_GROUP_OUTPUT, FLEET_TABLE_OUTPUT};
use crate::{fleet_cmd, render};
use chrono::{DateTime, TimeDelta, Utc};
use fleet_recorder::FleetTable;
use sentinel_fleet::view::Seen;
use sentinel_why::{explain, observe, Answer, Status, Subject, Target};
use serde::Serialize;
use std::io::Write;

/// Exit status of a subject that is failing now.
pub const EXIT_FAILING: u8 = 1;
/// Exit status when the state could not be read.
pub const EXIT_COULD_NOT_READ: u8 = 2;

/// Where the answer came from: each source by name with what was read, or `None` when it
/// was not configured.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sources {
    pub event_log: Option<Read>,
    pub fleet_table: Option<Read>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Read {
    pub name: String,
    /// Events or records read.
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

/// Where `why` and `top` read: the event log group and the fleet table, each optional.
pub struct Located {
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub group: Option<String>,
    pub table: Option<FleetTable>,
}

impl Located {
    /// `--log-group` and `--table`, else the stack's outputs; at least one is required.
    pub async fn find(
        aws: &Aws,
        stack: &Stack,
        log_group: Option<String>,
        table: Option<String>,
    ) -> anyhow::Result<Located> {
        let sdk = aws.config(None).await;
        let mut locator = Locator::new(&sdk, stack);
        let group = locator.optional(log_group, EVENT_LOG_GROUP_OUTPUT).await?;
        let table = locator
            .optional(table, FLEET_TABLE_OUTPUT)
            .await?
            .map(|name| {
                FleetTable::new(
                    aws_sdk_dynamodb::Client::new(&sdk),
                    name,
                    TimeDelta::days(14),
                )
            });
        if group.is_none() && table.is_none() {
            anyhow::bail!(
                "say where the state is: --stack NAME (its event log and fleet table), or --log-group and/or --table"
            );
        }
        Ok(Located {
            logs: aws_sdk_cloudwatchlogs::Client::new(&sdk),
            group,
            table,
        })
    }

    /// The event log to read, if any.
    pub fn event_log(&self) -> Option<(&aws_sdk_cloudwatchlogs::Client, &str)> {
        self.group.as_deref().map(|g| (&self.logs, g))
    }
}

/// `ecs-sentinel why`, located by `--stack` or by `--table` / `--log-group`.
pub async fn run(args: WhyArgs, aws: &Aws, out: &mut impl Write) -> anyhow::Result<u8> {
    let located =
        Located::find(aws, &args.stack, args.log_group.clone(), args.table.clone()).await?;
    let subject = subject(&args);
    let now = Utc::now();
    let report = why(
        &subject,
        located.event_log(),
        located.table.as_ref(),
        now - args.since,
    )
    .await?;
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

/// Reads the sources given and explains the subject over the window from `since`.
pub async fn why(
    subject: &Subject,
    event_log: Option<(&aws_sdk_cloudwatchlogs::Client, &str)>,
    fleet: Option<&FleetTable>,
    since: DateTime<Utc>,
) -> anyhow::Result<Report> {
    let cluster = Some(subject.cluster.as_str());
    let (events, records, sources) = read_sources(cluster, event_log, fleet, since).await?;
    let observed = observe(cluster, &events, &records);
    Ok(Report {
        answer: explain(subject, &observed, since),
        sources,
    })
}

/// What `why` and `top` read: the event log's window from `since` (the cluster's events,
/// with its filter pattern, or every event) and the fleet table's records (the cluster's,
/// through the `by-cluster` index, or a scan of every cluster).
pub async fn read_sources(
    cluster: Option<&str>,
    event_log: Option<(&aws_sdk_cloudwatchlogs::Client, &str)>,
    fleet: Option<&FleetTable>,
    since: DateTime<Utc>,
) -> anyhow::Result<(Vec<serde_json::Value>, Vec<Seen>, Sources)> {
    let mut sources = Sources::default();
    let mut events = Vec::new();
    if let Some((logs, group)) = event_log {
        let filter = EventFilter {
            cluster: cluster.map(str::to_owned),
            ..EventFilter::default()
        };
        let pattern = cluster.map(cluster_pattern);
        let (found, _) = events_cmd::read(
            logs,
            group,
            since.timestamp_millis(),
            pattern.as_deref(),
            &filter,
        )
        .await?;
        sources.event_log = Some(Read {
            name: group.to_owned(),
            read: found.len(),
        });
        events = found;
    }
    let mut records = Vec::new();
    if let Some(table) = fleet {
        records = fleet_cmd::read(table, cluster, None).await?;
        sources.fleet_table = Some(Read {
            name: table.table_name().to_owned(),
            read: records.len(),
        });
    }
    Ok((events, records, sources))
}

/// The CloudWatch filter pattern for a cluster's events: its name after a slash, quoted
/// (a substring match), which every ECS event about it carries in an ARN: the cluster's,
/// a task's, a container instance's or a service's (`service/<cluster>/<name>`). It only
/// narrows what CloudWatch sends; the events are still chosen exactly here.
fn cluster_pattern(cluster: &str) -> String {
    let name = cluster.rsplit('/').next().unwrap_or(cluster);
    format!("\"/{}\"", name.replace('"', ""))
}

fn print(report: &Report, since: DateTime<Utc>, out: &mut impl Write) -> anyhow::Result<()> {
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
    writeln!(
        out,
        "read: {}; {}",
        described(&report.sources.event_log, "event log", "events"),
        described(&report.sources.fleet_table, "fleet table", "records")
    )?;
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
