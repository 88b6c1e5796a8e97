//! The monitors' alert episodes, as `why` and `top` use them: what was alerted, since when,
//! how many notices went out, and whether it is over. The CLI reads them from the alert
//! table (the agent monitor's episodes and the task monitor's) and hands them over in this
//! shape, so nothing here knows how either monitor stores its state.

use chrono::{DateTime, Utc};
use sentinel_fleet::view::names_cluster;
use sentinel_tasks::classify::FailureKind;
use serde::Serialize;

/// What an episode is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "monitor")]
pub enum Alerted {
    /// The agent monitor's: one container instance.
    #[serde(rename = "agent", rename_all = "camelCase")]
    Instance {
        container_instance_arn: String,
        /// Its EC2 instance or managed node id.
        node: String,
        /// SSM could not reach the (ECS Anywhere) node either, not only its agent.
        node_unreachable: bool,
    },
    /// The task monitor's: one service's or task family's failures.
    #[serde(rename = "tasks", rename_all = "camelCase")]
    Tasks {
        /// `service:<name>` or `family:<name>`, as the fleet's task records group tasks.
        group: String,
        /// Failures counted in the episode, by kind, most first.
        kinds: Vec<(FailureKind, u32)>,
    },
}

/// One alert episode, as the alert table keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub cluster_arn: String,
    #[serde(flatten)]
    pub about: Alerted,
    /// When the alert opened (the failure was confirmed), if it did.
    pub opened_at: Option<DateTime<Utc>>,
    /// The alert itself reached the notifier.
    pub alert_sent: bool,
    /// Notices sent in all (the alert, reminders, the RESOLVED).
    pub notices_sent: u32,
    pub last_notice_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl Alert {
    /// Opened and not resolved: the monitor still holds it failing.
    pub fn is_open(&self) -> bool {
        self.opened_at.is_some() && self.resolved_at.is_none()
    }

    /// In cluster `cluster` (a name or ARN).
    pub fn in_cluster(&self, cluster: &str) -> bool {
        names_cluster(cluster, &self.cluster_arn)
    }

    /// The service it is about, if a service's.
    pub fn service(&self) -> Option<&str> {
        match &self.about {
            Alerted::Tasks { group, .. } => group.strip_prefix("service:"),
            Alerted::Instance { .. } => None,
        }
    }

    /// About the container instance with ARN `arn`, or the node `id` names.
    pub fn is_about_instance(&self, arn: Option<&str>, id: &str) -> bool {
        match &self.about {
            Alerted::Instance {
                container_instance_arn,
                node,
                ..
            } => {
                Some(container_instance_arn.as_str()) == arn
                    || container_instance_arn == id
                    || crate::short(container_instance_arn) == id
                    || node == id
            }
            Alerted::Tasks { .. } => false,
        }
    }

    /// The kind the monitor alerted: the agent's, or the task kind with most failures.
    pub fn kind(&self) -> &'static str {
        match &self.about {
            Alerted::Instance {
                node_unreachable: true,
                ..
            } => "node-unreachable",
            Alerted::Instance { .. } => "agent-disconnected",
            Alerted::Tasks { kinds, .. } => kinds
                .first()
                .map_or(FailureKind::OtherFailure.as_str(), |(k, _)| k.as_str()),
        }
    }

    /// What it is about, in a word: the node id, or the service or family name.
    pub fn target(&self) -> &str {
        match &self.about {
            Alerted::Instance { node, .. } => node,
            Alerted::Tasks { group, .. } => group
                .split_once(':')
                .map_or(group.as_str(), |(_, name)| name),
        }
    }

    /// Which monitor keeps it.
    pub fn monitor(&self) -> &'static str {
        match &self.about {
            Alerted::Instance { .. } => "agent monitor",
            Alerted::Tasks { .. } => "task monitor",
        }
    }

    /// `3 crash-loop, 1 out-of-memory`, or the agent's kind.
    pub fn counts(&self) -> String {
        match &self.about {
            Alerted::Tasks { kinds, .. } if !kinds.is_empty() => kinds
                .iter()
                .map(|(kind, n)| format!("{n} {}", kind.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
            _ => self.kind().to_owned(),
        }
    }
}
