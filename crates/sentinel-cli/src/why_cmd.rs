//! `ecs-sentinel why`: one answer to "why is my service down?". Reads one window of the event
//! log (a filter pattern lets CloudWatch send only the cluster's events) and the cluster's
//! records of the fleet table (one query of its `by-cluster` index), and hands them to
//! [`sentinel_why`], which joins them into a status, a cause with its evidence, and a
//! timeline. Each source is optional: one that is not configured is left out and said so.

use crate::args::WhyArgs;
use crate::events_cmd::{self, EventFilter};
use crate::locate::{Aws, Locator, EVENT_LOG_GROUP_OUTPUT, FLEET_TABLE_OUTPUT};
use crate::{fleet_cmd, render};
use chrono::{DateTime, TimeDelta, Utc};
use fleet_recorder::FleetTable;
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

/// `ecs-sentinel why`, located by `--stack` or by `--table` / `--log-group`.
pub async fn run(args: WhyArgs, aws: &Aws, out: &mut impl Write) -> anyhow::Result<u8> {
    let sdk = aws.config(None).await;
    let mut locator = Locator::new(&sdk, &args.stack);
    let group = locator
        .optional(args.log_group.clone(), EVENT_LOG_GROUP_OUTPUT)
        .await?;
    let table = locator
        .optional(args.table.clone(), FLEET_TABLE_OUTPUT)
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
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let subject = subject(&args);
    let now = Utc::now();
    let report = why(
        &subject,
        group.as_deref().map(|g| (&logs, g)),
        table.as_ref(),
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
    let mut sources = Sources::default();
    let mut events = Vec::new();
    if let Some((logs, group)) = event_log {
        let filter = EventFilter {
            cluster: Some(subject.cluster.clone()),
            ..EventFilter::default()
        };
        let pattern = cluster_pattern(&subject.cluster);
        let (found, _) = events_cmd::read(
            logs,
            group,
            since.timestamp_millis(),
            Some(&pattern),
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
        records = fleet_cmd::read(table, Some(&subject.cluster), None).await?;
        sources.fleet_table = Some(Read {
            name: table.table_name().to_owned(),
            read: records.len(),
        });
    }
    let observed = observe(&subject.cluster, &events, &records);
    Ok(Report {
        answer: explain(subject, &observed, since),
        sources,
    })
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
