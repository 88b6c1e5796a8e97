//! `ecs-sentinel fleet` and `ecs-sentinel tasks`: the fleet table, read and shown.

use crate::args::{FleetArgs, TasksArgs};
use crate::locate::{self, Aws};
use crate::render;
use chrono::{DateTime, Utc};
use fleet_recorder::FleetTable;
use sentinel_fleet::record::TaskRecord;
use sentinel_fleet::view::{select_tasks, summarize, Seen, TaskFilter};
use sentinel_fleet::Kind;
use std::io::Write;

/// The stored records of one cluster (through the by-cluster index: a name is the cluster
/// of that name in the table's account and region) or of every cluster (a Scan).
/// Unreadable items are reported on stderr and skipped.
pub(crate) async fn read(
    table: &FleetTable,
    cluster: Option<&str>,
    kind: Option<Kind>,
) -> anyhow::Result<Vec<Seen>> {
    let (stored, unreadable) = match cluster {
        Some(arn) if arn.starts_with("arn:") => table.cluster(arn, kind).await?,
        Some(name) => {
            let arn = table.cluster_arn_named(name).await?;
            table.cluster(&arn, kind).await?
        }
        None => table.all().await?,
    };
    for item in &unreadable {
        eprintln!(
            "warning: skipping item {} of {}: {}",
            item.key,
            table.table_name(),
            item.why
        );
    }
    Ok(stored
        .into_iter()
        .map(|s| Seen {
            record: s.record,
            gone: s.gone,
        })
        .collect())
}

/// `ecs-sentinel fleet`: the table of `--table` or `--stack`, summarised per cluster.
pub async fn run_fleet(args: FleetArgs, aws: &Aws, out: &mut impl Write) -> anyhow::Result<()> {
    let table = locate::fleet_table(aws, &args.source).await?;
    fleet(&table, args.cluster.as_deref(), args.json, Utc::now(), out).await
}

/// `ecs-sentinel tasks`: the chosen tasks of the table of `--table` or `--stack`.
pub async fn run_tasks(args: TasksArgs, aws: &Aws, out: &mut impl Write) -> anyhow::Result<()> {
    let table = locate::fleet_table(aws, &args.source).await?;
    let filter = TaskFilter {
        cluster: Some(args.cluster),
        service: args.service,
        stopped_only: args.stopped,
        since: args.since.map(|age| Utc::now() - age),
    };
    tasks(&table, &filter, args.limit, args.json, out).await
}

/// Per cluster: instances, agents down, tasks by status, what failed in the last hour.
pub async fn fleet(
    table: &FleetTable,
    cluster: Option<&str>,
    json: bool,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let records = read(table, cluster, None).await?;
    let summaries: Vec<_> = summarize(&records, now)
        .into_iter()
        .filter(|s| cluster.is_none_or(|c| sentinel_fleet::view::names_cluster(c, &s.cluster_arn)))
        .collect();
    if json {
        let doc = serde_json::json!({"checkedAt": now.to_rfc3339(), "clusters": summaries});
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(());
    }
    if summaries.is_empty() {
        writeln!(
            out,
            "no clusters recorded in {}{}",
            table.table_name(),
            match cluster {
                Some(c) => format!(" for {c}"),
                None => String::new(),
            }
        )?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = summaries
        .iter()
        .map(|s| {
            let count = |status: &str| s.tasks.get(status).copied().unwrap_or(0).to_string();
            let failing = s
                .failing
                .iter()
                .map(|f| format!("{} ({})", f.group, f.failures))
                .collect::<Vec<_>>()
                .join(", ");
            vec![
                s.cluster.clone(),
                s.instances.to_string(),
                s.agents_disconnected.to_string(),
                count("RUNNING"),
                count("PENDING"),
                count("STOPPED"),
                if failing.is_empty() {
                    "-".to_owned()
                } else {
                    failing
                },
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render::table(
            &[
                "CLUSTER",
                "INSTANCES",
                "AGENTS DOWN",
                "RUNNING",
                "PENDING",
                "STOPPED",
                "FAILING IN THE LAST HOUR"
            ],
            &rows
        )
    )?;
    Ok(())
}

pub async fn tasks(
    table: &FleetTable,
    filter: &TaskFilter,
    limit: usize,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let records = read(table, filter.cluster.as_deref(), Some(Kind::Task)).await?;
    let chosen: Vec<_> = select_tasks(&records, filter)
        .into_iter()
        .take(limit)
        .collect();
    print_tasks(&chosen, json, out)
}

/// Tasks as a table (newest first as given) or a JSON array of task records.
pub fn print_tasks(chosen: &[&TaskRecord], json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&chosen)?)?;
        return Ok(());
    }
    if chosen.is_empty() {
        writeln!(out, "no tasks match")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = chosen
        .iter()
        .map(|t| {
            let exits = t
                .containers
                .iter()
                .map(|c| {
                    format!(
                        "{}={}",
                        c.name,
                        c.exit_code
                            .map_or_else(|| "-".to_owned(), |code| code.to_string())
                    )
                })
                .collect::<Vec<_>>()
                .join(" ");
            let reason = t
                .stopped_reason
                .clone()
                .into_iter()
                .chain(
                    t.containers
                        .iter()
                        .filter_map(|c| c.reason.as_ref().map(|r| format!("{}: {r}", c.name))),
                )
                .collect::<Vec<_>>()
                .join("; ");
            // Seconds are enough on a terminal; the JSON keeps ECS's text.
            let updated = t
                .updated_at
                .as_deref()
                .and_then(sentinel_fleet::record::parse_time)
                .map(|at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .or_else(|| t.updated_at.clone())
                .unwrap_or_default();
            vec![
                updated,
                t.last_status.clone(),
                t.group.clone().unwrap_or_default(),
                t.stop_code.clone().unwrap_or_else(|| "-".to_owned()),
                exits,
                t.task_arn.rsplit('/').next().unwrap_or_default().to_owned(),
                reason,
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        render::table(
            &[
                "UPDATED",
                "STATUS",
                "GROUP",
                "STOP CODE",
                "EXIT CODES",
                "TASK",
                "REASON"
            ],
            &rows
        )
    )?;
    Ok(())
}
