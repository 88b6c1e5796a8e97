//! What the operator commands show of the stored fleet: a summary per cluster, and tasks
//! chosen and ordered as asked. Pure: the CLI reads the records, this decides.

use crate::record::{parse_time, FleetRecord, TaskRecord};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// How far back "failing now" looks.
pub const RECENT: TimeDelta = TimeDelta::hours(1);

/// A stored record, with the reconcile's verdict that ECS no longer knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub record: FleetRecord,
    pub gone: bool,
}

/// One cluster, as `ecs-sentinel fleet` shows it. Serialized, this is the stable JSON of
/// `fleet --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSummary {
    /// The cluster's name.
    pub cluster: String,
    pub cluster_arn: String,
    /// Registered instances (not INACTIVE, not gone).
    pub instances: usize,
    pub agents_connected: usize,
    pub agents_disconnected: usize,
    /// Tasks ECS still knows, by last status (RUNNING, PENDING, …, STOPPED).
    pub tasks: BTreeMap<String, usize>,
    /// Services (or task families) with failed tasks in the last hour, most failures first.
    pub failing: Vec<Failing>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failing {
    /// `service:<name>` or `family:<name>`, as ECS groups tasks.
    pub group: String,
    pub failures: usize,
    /// The newest failed task's reason.
    pub latest_reason: Option<String>,
}

/// A stopped task that failed rather than being stopped on purpose: it never started, an
/// essential container exited non-zero, or a health check stopped it. Deployments and
/// scale-in (`Scaling activity initiated by …`) and stops by people are not failures.
pub fn is_failure(task: &TaskRecord) -> bool {
    if task.last_status != "STOPPED" || task.stop_code.as_deref() == Some("UserInitiated") {
        return false;
    }
    let reason = task.stopped_reason.as_deref().unwrap_or_default();
    if reason.starts_with("Scaling activity initiated by") {
        return false;
    }
    matches!(
        task.stop_code.as_deref(),
        Some("TaskFailedToStart" | "EssentialContainerExited")
    ) || reason.contains("health checks")
        // ECS's own words for EssentialContainerExited, for a record without the code.
        || reason.starts_with("Essential container in task exited")
        || task
            .containers
            .iter()
            .any(|c| c.exit_code.is_some_and(|code| code != 0))
}

fn cluster_name(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_owned()
}

/// Whether `wanted` (a name or an ARN) names the cluster `arn`.
pub fn names_cluster(wanted: &str, arn: &str) -> bool {
    wanted == arn || wanted == cluster_name(arn)
}

/// One group's failures while summarizing.
#[derive(Default)]
struct Tally {
    failures: usize,
    newest: Option<(DateTime<Utc>, String)>,
}

/// One summary per cluster, in name order.
pub fn summarize(records: &[Seen], now: DateTime<Utc>) -> Vec<ClusterSummary> {
    let mut clusters: BTreeMap<String, ClusterSummary> = BTreeMap::new();
    // (cluster ARN, group) → failures, and the newest one's time and reason.
    let mut failing: BTreeMap<(String, String), Tally> = BTreeMap::new();
    for seen in records.iter().filter(|s| !s.gone) {
        let arn = seen.record.cluster_arn().to_owned();
        let summary = clusters
            .entry(arn.clone())
            .or_insert_with(|| ClusterSummary {
                cluster: cluster_name(&arn),
                cluster_arn: arn.clone(),
                instances: 0,
                agents_connected: 0,
                agents_disconnected: 0,
                tasks: BTreeMap::new(),
                failing: Vec::new(),
            });
        match &seen.record {
            FleetRecord::Instance(i) if i.status != "INACTIVE" => {
                summary.instances += 1;
                if i.agent_connected {
                    summary.agents_connected += 1;
                } else {
                    summary.agents_disconnected += 1;
                }
            }
            FleetRecord::Task(t) => {
                *summary.tasks.entry(t.last_status.clone()).or_default() += 1;
                let stopped = t.stopped_at.as_deref().and_then(parse_time);
                if is_failure(t) && stopped.is_some_and(|at| now - at <= RECENT) {
                    let group = t.group.clone().unwrap_or_else(|| "(no group)".to_owned());
                    let tally = failing.entry((arn, group)).or_default();
                    tally.failures += 1;
                    let at = stopped.unwrap_or(now);
                    if tally
                        .newest
                        .as_ref()
                        .is_none_or(|(newest, _)| at >= *newest)
                    {
                        tally.newest = Some((at, t.stopped_reason.clone().unwrap_or_default()));
                    }
                }
            }
            _ => {}
        }
    }
    for ((arn, group), tally) in failing {
        if let Some(summary) = clusters.get_mut(&arn) {
            summary.failing.push(Failing {
                group,
                failures: tally.failures,
                latest_reason: tally
                    .newest
                    .map(|(_, reason)| reason)
                    .filter(|r| !r.is_empty()),
            });
        }
    }
    let mut summaries: Vec<ClusterSummary> = clusters.into_values().collect();
    for summary in &mut summaries {
        summary
            .failing
            .sort_by(|a, b| b.failures.cmp(&a.failures).then(a.group.cmp(&b.group)));
    }
    summaries.sort_by(|a, b| a.cluster.cmp(&b.cluster));
    summaries
}

/// Which tasks `ecs-sentinel tasks` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// A cluster name or ARN.
    pub cluster: Option<String>,
    /// A service name: its tasks' group is `service:<name>`.
    pub service: Option<String>,
    pub stopped_only: bool,
    /// Only tasks updated at or after this time.
    pub since: Option<DateTime<Utc>>,
}

/// The tasks `filter` chooses, newest first (by their last update).
pub fn select_tasks<'a>(records: &'a [Seen], filter: &TaskFilter) -> Vec<&'a TaskRecord> {
    let mut tasks: Vec<(&TaskRecord, Option<DateTime<Utc>>)> = records
        .iter()
        .filter_map(|s| match &s.record {
            FleetRecord::Task(t) => Some((t, s.record.updated_at())),
            _ => None,
        })
        .filter(|(t, _)| {
            filter
                .cluster
                .as_deref()
                .is_none_or(|c| names_cluster(c, &t.cluster_arn))
        })
        .filter(|(t, _)| {
            filter
                .service
                .as_deref()
                .is_none_or(|s| t.group.as_deref() == Some(format!("service:{s}").as_str()))
        })
        .filter(|(t, _)| !filter.stopped_only || t.last_status == "STOPPED")
        .filter(|(_, at)| match filter.since {
            Some(since) => at.is_some_and(|at| at >= since),
            None => true,
        })
        .collect();
    tasks.sort_by(|(a, at_a), (b, at_b)| at_b.cmp(at_a).then(a.task_arn.cmp(&b.task_arn)));
    tasks.into_iter().map(|(t, _)| t).collect()
}

/// "24h", "90m", "7d", "30s" as a duration.
pub fn parse_age(text: &str) -> Result<TimeDelta, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit: write e.g. 30m, 24h or 7d"))?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a whole number"))?;
    match unit {
        "s" => Ok(TimeDelta::seconds(n)),
        "m" => Ok(TimeDelta::minutes(n)),
        "h" => Ok(TimeDelta::hours(n)),
        "d" => Ok(TimeDelta::days(n)),
        other => Err(format!(
            "{text:?}: unknown unit {other:?}; use s, m, h or d (e.g. 24h)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{InstanceRecord, Resources};

    const PROD: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";

    fn now() -> DateTime<Utc> {
        parse_time("2026-11-30T12:00:00Z").unwrap()
    }

    fn task(id: &str, group: &str, status: &str, stop: Option<(&str, &str)>, at: &str) -> Seen {
        let mut task = TaskRecord {
            group: Some(group.into()),
            stop_code: stop.map(|(code, _)| code.to_owned()),
            stopped_reason: stop.map(|(_, reason)| reason.to_owned()),
            stopped_at: stop.map(|_| at.to_owned()),
            updated_at: Some(at.into()),
            ..TaskRecord::example(id, status)
        };
        task.containers[0].exit_code = stop.map(|_| 1);
        Seen {
            record: FleetRecord::Task(task),
            gone: false,
        }
    }

    fn instance(id: &str, connected: bool) -> Seen {
        Seen {
            record: FleetRecord::Instance(InstanceRecord {
                container_instance_arn: format!(
                    "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/{id}"
                ),
                cluster_arn: PROD.into(),
                ec2_instance_id: None,
                status: "ACTIVE".into(),
                agent_connected: connected,
                agent_version: None,
                registered: Resources::default(),
                remaining: Resources::default(),
                running_tasks: None,
                updated_at: None,
                version: 1,
            }),
            gone: false,
        }
    }

    const CRASH: Option<(&str, &str)> = Some((
        "EssentialContainerExited",
        "Essential container in task exited",
    ));

    #[test]
    fn the_summary_counts_agents_tasks_and_recent_failures_per_service() {
        let records = vec![
            instance("a", true),
            instance("b", false),
            task("1", "service:api", "RUNNING", None, "2026-11-30T11:00:00Z"),
            task("2", "service:api", "STOPPED", CRASH, "2026-11-30T11:30:00Z"),
            task("3", "service:api", "STOPPED", CRASH, "2026-11-30T11:50:00Z"),
            // Failed, but two hours ago.
            task("4", "service:web", "STOPPED", CRASH, "2026-11-30T10:00:00Z"),
            // A deployment's replacement: not a failure.
            task(
                "5",
                "service:web",
                "STOPPED",
                Some((
                    "ServiceSchedulerInitiated",
                    "Scaling activity initiated by (deployment ecs-svc/1)",
                )),
                "2026-11-30T11:55:00Z",
            ),
        ];
        let summary = summarize(&records, now());
        assert_eq!(summary.len(), 1);
        let prod = &summary[0];
        assert_eq!(prod.cluster, "prod");
        assert_eq!(
            (
                prod.instances,
                prod.agents_connected,
                prod.agents_disconnected
            ),
            (2, 1, 1)
        );
        assert_eq!(prod.tasks["RUNNING"], 1);
        assert_eq!(prod.tasks["STOPPED"], 4);
        assert_eq!(
            prod.failing,
            [Failing {
                group: "service:api".into(),
                failures: 2,
                latest_reason: Some("Essential container in task exited".into()),
            }]
        );
    }

    #[test]
    fn gone_records_are_left_out() {
        let mut vanished = task("1", "service:api", "RUNNING", None, "2026-11-30T11:00:00Z");
        vanished.gone = true;
        assert!(summarize(&[vanished], now()).is_empty());
    }

    #[test]
    fn tasks_are_chosen_by_cluster_service_status_and_age_newest_first() {
        let records = vec![
            task("1", "service:api", "RUNNING", None, "2026-11-30T09:00:00Z"),
            task("2", "service:api", "STOPPED", CRASH, "2026-11-30T11:30:00Z"),
            task("3", "service:web", "STOPPED", CRASH, "2026-11-30T11:40:00Z"),
            task("4", "service:api", "STOPPED", CRASH, "2026-11-29T08:00:00Z"),
        ];
        let ids = |filter: &TaskFilter| -> Vec<String> {
            select_tasks(&records, filter)
                .iter()
                .map(|t| t.task_arn.rsplit('/').next().unwrap_or_default().to_owned())
                .collect()
        };
        assert_eq!(ids(&TaskFilter::default()), ["3", "2", "1", "4"]);
        let api_stopped_today = TaskFilter {
            cluster: Some("prod".into()),
            service: Some("api".into()),
            stopped_only: true,
            since: Some(now() - TimeDelta::hours(24)),
        };
        assert_eq!(ids(&api_stopped_today), ["2"]);
        let other_cluster = TaskFilter {
            cluster: Some("staging".into()),
            ..TaskFilter::default()
        };
        assert!(ids(&other_cluster).is_empty());
        let by_arn = TaskFilter {
            cluster: Some(PROD.into()),
            ..TaskFilter::default()
        };
        assert_eq!(ids(&by_arn).len(), 4);
    }

    #[test]
    fn ages_read_like_people_write_them() {
        assert_eq!(parse_age("24h"), Ok(TimeDelta::hours(24)));
        assert_eq!(parse_age("90m"), Ok(TimeDelta::minutes(90)));
        assert_eq!(parse_age("7d"), Ok(TimeDelta::days(7)));
        assert!(parse_age("24").unwrap_err().contains("no unit"));
        assert!(parse_age("1w").unwrap_err().contains("unknown unit"));
        assert!(parse_age("h").unwrap_err().contains("whole number"));
    }
}
