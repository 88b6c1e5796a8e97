//! `ecs-sentinel events`: the event archive's log group, read back. FilterLogEvents over the
//! window, every page; the cluster, service and type are chosen here, in code, so the
//! answer is the same whatever the log service does with filter patterns.

use crate::args::EventsArgs;
use crate::locate::{Aws, Locator};
use crate::render::table;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::io::Write;
use std::time::Duration;

/// Which events `events` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// A cluster name or ARN.
    pub cluster: Option<String>,
    /// A service name.
    pub service: Option<String>,
    /// Part of the detail-type, any case: `task`, `deployment`, `Container Instance`, …
    pub kind: Option<String>,
}

impl EventFilter {
    pub fn matches(&self, event: &Value) -> bool {
        let detail = &event["detail"];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let resources: Vec<String> = event["resources"]
            .as_array()
            .map(|r| r.iter().map(text).collect())
            .unwrap_or_default();
        let cluster_ok = self.cluster.as_deref().is_none_or(|wanted| {
            let arn = text(&detail["clusterArn"]);
            sentinel_fleet::view::names_cluster(wanted, &arn)
                || resources.iter().any(|r| {
                    sentinel_core::ids::service_arn_parts(r)
                        .and_then(|(cluster, _)| cluster)
                        .is_some_and(|c| sentinel_fleet::view::names_cluster(wanted, c.as_str()))
                })
        });
        let service_ok = self.service.as_deref().is_none_or(|wanted| {
            text(&detail["group"]) == format!("service:{wanted}")
                || resources.iter().any(|r| {
                    sentinel_core::ids::service_arn_parts(r).is_some_and(|(_, name)| name == wanted)
                })
        });
        let kind_ok = self.kind.as_deref().is_none_or(|wanted| {
            text(&event["detail-type"])
                .to_ascii_lowercase()
                .contains(&wanted.to_ascii_lowercase())
        });
        cluster_ok && service_ok && kind_ok
    }
}

/// One line's cells: when, what kind, about what, what happened, why.
fn cells(event: &Value) -> Vec<String> {
    let detail = &event["detail"];
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let short = |arn: String| arn.rsplit('/').next().unwrap_or_default().to_owned();
    let kind = text(&event["detail-type"])
        .unwrap_or_default()
        .trim_start_matches("ECS ")
        .to_owned();
    let about = text(&detail["group"])
        .or_else(|| text(&detail["taskArn"]).map(short))
        .or_else(|| text(&detail["ec2InstanceId"]))
        .or_else(|| text(&detail["containerInstanceArn"]).map(short))
        .or_else(|| event["resources"][0].as_str().map(|r| short(r.to_owned())))
        .unwrap_or_default();
    let what = text(&detail["eventName"])
        .or_else(|| text(&detail["lastStatus"]))
        .or_else(|| {
            detail["agentConnected"].as_bool().map(|c| {
                format!(
                    "{} agent {}",
                    text(&detail["status"]).unwrap_or_default(),
                    if c { "connected" } else { "DISCONNECTED" }
                )
            })
        })
        .unwrap_or_default();
    let why = text(&detail["stoppedReason"])
        .or_else(|| text(&detail["reason"]))
        .unwrap_or_default();
    vec![
        text(&event["time"]).unwrap_or_default(),
        kind,
        about,
        what,
        why,
    ]
}

/// Reads the log group's events from `since` (every page); the matching ones, oldest first,
/// with the newest timestamp seen (milliseconds). `pattern`, a CloudWatch filter pattern,
/// only narrows what CloudWatch sends: `filter` still decides, here.
pub(crate) async fn read(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    since_ms: i64,
    pattern: Option<&str>,
    filter: &EventFilter,
) -> anyhow::Result<(Vec<Value>, i64)> {
    let mut pages = logs
        .filter_log_events()
        .log_group_name(group)
        .start_time(since_ms)
        .set_filter_pattern(pattern.map(str::to_owned))
        .into_paginator()
        .send();
    let mut events = Vec::new();
    let mut newest = since_ms;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            anyhow::anyhow!(
                "cannot read the event log {group}: {}",
                aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&e)
            )
        })?;
        for logged in page.events() {
            newest = newest.max(logged.timestamp().unwrap_or(since_ms));
            // Lines that are not events (none are written there by the stack) are skipped.
            if let Ok(event) = serde_json::from_str::<Value>(logged.message().unwrap_or_default()) {
                if filter.matches(&event) {
                    events.push((logged.timestamp().unwrap_or_default(), event));
                }
            }
        }
    }
    events.sort_by_key(|(at, _)| *at);
    Ok((events.into_iter().map(|(_, e)| e).collect(), newest))
}

fn print(events: &[Value], json: bool, header: bool, out: &mut impl Write) -> anyhow::Result<()> {
    if json {
        for event in events {
            writeln!(out, "{}", serde_json::to_string(event)?)?;
        }
    } else if !events.is_empty() {
        let rows: Vec<Vec<String>> = events.iter().map(cells).collect();
        let text = table(&["TIME", "TYPE", "ABOUT", "WHAT", "WHY"], &rows);
        let text = if header {
            text.as_str()
        } else {
            text.split_once('\n').map_or("", |(_, rest)| rest)
        };
        write!(out, "{text}")?;
    }
    Ok(())
}

/// `ecs-sentinel events`: the log group of `--log-group` or `--stack`, filtered.
pub async fn run(args: EventsArgs, aws: &Aws, out: &mut impl Write) -> anyhow::Result<()> {
    let now = Utc::now();
    let sdk = aws.config(None).await;
    let group = Locator::new(&sdk, &args.stack)
        .event_log_group(args.log_group)
        .await?;
    let filter = EventFilter {
        cluster: args.cluster,
        service: args.service,
        kind: args.kind,
    };
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    events(
        &logs,
        &group,
        now - args.since,
        &filter,
        args.json,
        args.follow,
        out,
    )
    .await
}

/// How `--follow` polls: every 5 s, for at most a day (then it says so and ends).
pub const FOLLOW: Follow = Follow {
    every: Duration::from_secs(5),
    deadline: Duration::from_secs(24 * 60 * 60),
};

/// How new events are followed: read every `every`, until `deadline` has passed.
#[derive(Debug, Clone, Copy)]
pub struct Follow {
    pub every: Duration,
    pub deadline: Duration,
}

/// Prints the matching events since `since`; with `follow`, keeps polling every 5 s (for at
/// most a day). `--json` prints one event per line (JSON Lines), as archived.
pub async fn events(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    since: DateTime<Utc>,
    filter: &EventFilter,
    json: bool,
    follow: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let follow = follow.then_some(FOLLOW);
    events_following(logs, group, since, filter, json, follow, out).await
}

/// `events`, following as `follow` says (none: print what is there and end).
pub async fn events_following(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    since: DateTime<Utc>,
    filter: &EventFilter,
    json: bool,
    follow: Option<Follow>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let (found, mut newest) = read(logs, group, since.timestamp_millis(), None, filter).await?;
    if found.is_empty() && !json && follow.is_none() {
        writeln!(
            out,
            "no events match in {group} since {}",
            since.to_rfc3339()
        )?;
    }
    print(&found, json, true, out)?;
    let Some(follow) = follow else {
        return Ok(());
    };
    // Until interrupted (Ctrl-C ends the process) or the deadline.
    let give_up = tokio::time::Instant::now() + follow.deadline;
    loop {
        out.flush()?;
        if tokio::time::Instant::now() + follow.every > give_up {
            if !json {
                writeln!(
                    out,
                    "stopped following {group} after {}s (the limit of --follow); run it again to go on",
                    follow.deadline.as_secs()
                )?;
            }
            return Ok(());
        }
        tokio::time::sleep(follow.every).await;
        let (more, latest) = read(logs, group, newest + 1, None, filter).await?;
        newest = latest;
        print(&more, json, false, out)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stop(cluster: &str, group: &str) -> Value {
        json!({"detail-type": "ECS Task State Change", "time": "2026-11-30T10:00:00Z",
               "resources": [format!("arn:aws:ecs:us-east-1:123456789012:task/{cluster}/abc")],
               "detail": {"clusterArn": format!("arn:aws:ecs:us-east-1:123456789012:cluster/{cluster}"),
                          "group": group, "lastStatus": "STOPPED", "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/prod/abc",
                          "stoppedReason": "Essential container in task exited"}})
    }

    fn deployment(cluster: &str, service: &str) -> Value {
        json!({"detail-type": "ECS Deployment State Change", "time": "2026-11-30T10:01:00Z",
               "resources": [format!("arn:aws:ecs:us-east-1:123456789012:service/{cluster}/{service}")],
               "detail": {"eventName": "SERVICE_DEPLOYMENT_FAILED", "reason": "circuit breaker"}})
    }

    #[test]
    fn filters_by_cluster_service_and_type_from_the_event_itself() {
        let filter =
            |cluster: Option<&str>, service: Option<&str>, kind: Option<&str>| EventFilter {
                cluster: cluster.map(str::to_owned),
                service: service.map(str::to_owned),
                kind: kind.map(str::to_owned),
            };
        let api_stop = stop("prod", "service:api");
        let api_deploy = deployment("prod", "api");
        let staging = stop("staging", "service:api");
        assert!(filter(Some("prod"), Some("api"), None).matches(&api_stop));
        assert!(
            filter(Some("prod"), Some("api"), None).matches(&api_deploy),
            "cluster and service from the service ARN"
        );
        assert!(!filter(Some("prod"), None, None).matches(&staging));
        assert!(!filter(None, Some("web"), None).matches(&api_stop));
        assert!(filter(None, None, Some("deployment")).matches(&api_deploy));
        assert!(!filter(None, None, Some("deployment")).matches(&api_stop));
        assert!(filter(
            Some("arn:aws:ecs:us-east-1:123456789012:cluster/prod"),
            None,
            Some("TASK")
        )
        .matches(&api_stop));
    }

    #[test]
    fn a_line_says_when_what_and_why() {
        assert_eq!(
            cells(&stop("prod", "service:api")),
            [
                "2026-11-30T10:00:00Z",
                "Task State Change",
                "service:api",
                "STOPPED",
                "Essential container in task exited"
            ]
        );
        assert_eq!(
            cells(&deployment("prod", "api")),
            [
                "2026-11-30T10:01:00Z",
                "Deployment State Change",
                "api",
                "SERVICE_DEPLOYMENT_FAILED",
                "circuit breaker"
            ]
        );
    }
}
