//! The monitors' alert table, read for `why` and `top`: every agent and task episode, as
//! [`sentinel_why::Alert`]s. The table holds one item per instance or service alerted in
//! the last 30 days (and the remediation windows), so one paginated Scan reads it; each
//! item is decoded by its own monitor's format, and one that cannot be is counted, not
//! fatal.

use agent_monitor::store::{is_episode, EpisodeFormat};
use sentinel_agent::AlertKind;
use sentinel_aws::table::Format;
use sentinel_fleet::view::names_cluster;
use sentinel_tasks::episode::TaskEpisode;
use sentinel_tasks::Owner;
use sentinel_why::{Alert, Alerted};
use task_monitor::store::{is_task_episode, TaskEpisodeFormat};

/// The alert table by name.
pub struct AlertTable {
    pub client: aws_sdk_dynamodb::Client,
    pub name: String,
}

/// What one read found.
#[derive(Debug, Default)]
pub struct Alerts {
    pub alerts: Vec<Alert>,
    /// Episode items that could not be decoded (left out).
    pub unreadable: usize,
}

impl AlertTable {
    /// Every episode of cluster `cluster` (name or ARN; `None`: every cluster).
    pub async fn read(&self, cluster: Option<&str>) -> anyhow::Result<Alerts> {
        let mut found = Alerts::default();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                anyhow::anyhow!(
                    "could not read the alert table {}: {}",
                    self.name,
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?;
            for item in page.items() {
                let decoded = if is_episode(item) {
                    EpisodeFormat::from_item(item).map(|e| agent_alert(&e))
                } else if is_task_episode(item) {
                    TaskEpisodeFormat::from_item(item).map(|e| task_alert(&e))
                } else {
                    // A remediation window: not an episode.
                    continue;
                };
                match decoded {
                    Ok(alert) if cluster.is_none_or(|c| names_cluster(c, &alert.cluster_arn)) => {
                        found.alerts.push(alert)
                    }
                    Ok(_) => {}
                    Err(_) => found.unreadable += 1,
                }
            }
        }
        Ok(found)
    }
}

fn agent_alert(e: &sentinel_agent::episode::Episode) -> Alert {
    Alert {
        cluster_arn: e.cluster_arn.as_str().to_owned(),
        about: Alerted::Instance {
            container_instance_arn: e.container_instance_arn.clone(),
            node: e.node_id.as_str().to_owned(),
            node_unreachable: e.kind == AlertKind::NodeUnreachable,
        },
        opened_at: e.state.opened_at,
        alert_sent: e.state.alert_sent,
        notices_sent: e.state.notices_sent,
        last_notice_at: e.state.last_notice_at,
        resolved_at: e.state.resolved_at,
    }
}

fn task_alert(e: &TaskEpisode) -> Alert {
    let group = match &e.key.owner {
        Owner::Service(name) => format!("service:{name}"),
        Owner::Family(name) => format!("family:{name}"),
    };
    let mut kinds: Vec<_> = e.by_kind.iter().map(|(k, n)| (*k, *n)).collect();
    kinds.sort_by_key(|(kind, n)| (std::cmp::Reverse(*n), *kind));
    Alert {
        cluster_arn: e.key.cluster.as_str().to_owned(),
        about: Alerted::Tasks { group, kinds },
        opened_at: e.state.opened_at,
        alert_sent: e.state.alert_sent,
        notices_sent: e.state.notices_sent,
        last_notice_at: e.state.last_notice_at,
        resolved_at: e.state.resolved_at,
    }
}
