//! Restarts: each service's stopped tasks of the window, from what ECS remembers (about an
//! hour) and, when given, the fleet table (14 days by default). `logs restarts` prints them;
//! `logs summary` counts them. The cluster's ARN and the fleet table are read once per
//! command ([`StoppedTasks::read`]), ECS once per service ([`StoppedTasks::of`]).

use super::{LogReaders, LogsOptions, Outcome};
use crate::fleet_cmd::print_tasks;
use chrono::{DateTime, TimeDelta, Utc};
use fleet_recorder::{FleetInventory, FleetTable};
use sentinel_aws::FromSdk;
use sentinel_core::ids::ClusterArn;
use sentinel_fleet::record::TaskRecord;
use sentinel_fleet::view::{is_failure, select_tasks, TaskFilter};
use std::collections::BTreeMap;
use std::io::Write;

/// `logs restarts`: each service's stopped tasks with exit codes, stop codes and reasons,
/// newest first. The services whose tasks could not be read are in the outcome.
pub async fn restarts(
    readers: &LogReaders<'_>,
    options: &LogsOptions,
    fleet: Option<&FleetTable>,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> anyhow::Result<Outcome> {
    let names = readers
        .services
        .named_or_all(&options.cluster, &options.services)
        .await?;
    let stopped = StoppedTasks::read(readers, options, fleet, now).await;
    let mut outcome = Outcome::default();
    let mut all = Vec::new();
    for service in &names {
        let tasks = match &stopped {
            Ok(stopped) => stopped.of(readers, service).await,
            Err(error) => Err(error.clone()),
        };
        match tasks {
            Ok(mut tasks) => {
                // --limit is per service: one busy service never hides another's restarts.
                newest_first(&mut tasks);
                if let Some(limit) = options.limit {
                    tasks.truncate(limit);
                }
                all.extend(tasks)
            }
            Err(error) => outcome.fail(service, error),
        }
    }
    newest_first(&mut all);
    print_restarts(&all, options, fleet.is_some(), out)?;
    Ok(outcome)
}

/// The tasks as a table or JSON; as text, an empty window says so (and where else to look).
fn print_restarts(
    tasks: &[TaskRecord],
    options: &LogsOptions,
    with_fleet: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if options.json {
        // Every stopped task, each marked: a restart (it failed) or not (replaced by a
        // deployment, scaled in, stopped by someone).
        let marked: Vec<serde_json::Value> = tasks
            .iter()
            .map(|t| {
                let mut doc = serde_json::to_value(t)?;
                doc["restart"] = serde_json::Value::Bool(is_failure(t));
                Ok(doc)
            })
            .collect::<Result<_, serde_json::Error>>()?;
        writeln!(out, "{}", serde_json::to_string_pretty(&marked)?)?;
        return Ok(());
    }
    if tasks.is_empty() {
        writeln!(
            out,
            "no stopped tasks in the last {} minutes{}",
            options.minutes,
            if with_fleet {
                ""
            } else {
                " (ECS remembers stopped tasks for about an hour; give --stack or --table to read the fleet table's 14 days)"
            }
        )?;
        return Ok(());
    }
    let (restarts, others): (Vec<&TaskRecord>, Vec<&TaskRecord>) =
        tasks.iter().partition(|t| is_failure(t));
    writeln!(out, "restarts (tasks that failed): {}", restarts.len())?;
    if !restarts.is_empty() {
        print_tasks(&restarts, false, out)?;
    }
    if !others.is_empty() {
        writeln!(
            out,
            "\nnot restarts (replaced by a deployment, scaled in, or stopped by someone): {}",
            others.len()
        )?;
        print_tasks(&others, false, out)?;
    }
    Ok(())
}

/// What `restarts` and `summary` read once per command, not once per service: the
/// cluster's ARN and, when the fleet table is given, its stopped tasks of the window.
pub(super) struct StoppedTasks {
    cluster: ClusterArn,
    since: DateTime<Utc>,
    /// The fleet table's stopped tasks of the cluster within the window.
    kept: Vec<TaskRecord>,
}

impl StoppedTasks {
    pub(super) async fn read(
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
    pub(super) async fn of(
        &self,
        readers: &LogReaders<'_>,
        service: &str,
    ) -> Result<Vec<TaskRecord>, String> {
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
