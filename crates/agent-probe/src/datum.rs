//! The one datum a run reports, and the JSON `--dry-run` prints for it (pure).

use std::time::SystemTime;

use serde::Serialize;

use crate::agent::AgentHealth;
use crate::ecs_config::{cluster_name, DEFAULT_CLUSTER};
use crate::systemd::UnitState;

/// The CloudWatch namespace unless `--namespace` says otherwise.
pub const DEFAULT_NAMESPACE: &str = "ECS/AgentProbe";
/// 0 when the agent is fine, 1 when it is not.
pub const METRIC_NAME: &str = "AgentDown";

/// What one run found, ready to be sent or printed.
///
/// Its JSON form is the `--dry-run` output and is kept stable: these field names, optional
/// fields left out when unknown.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Datum {
    pub namespace: String,
    pub metric_name: String,
    /// 0 agent up, 1 agent down.
    pub value: u8,
    pub cluster: String,
    /// `i-…` on EC2, `mi-…` on ECS Anywhere.
    pub instance_id: String,
    pub region: String,
    /// Why the agent is down; absent when it is up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    /// The agent's systemd unit and its state, when `--systemd-unit` asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<UnitState>,
    /// When the agent was looked at: the metric's timestamp, so a datum sent after retries
    /// still lands in the minute it describes. `None` lets CloudWatch stamp its arrival.
    #[serde(skip)]
    pub observed_at: Option<SystemTime>,
}

/// Where the datum belongs: the instance and the cluster it is part of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub cluster: String,
    pub instance_id: String,
    pub region: String,
}

impl Datum {
    /// The datum for one look at the agent.
    pub fn new(
        namespace: &str,
        health: &AgentHealth,
        subject: Subject,
        systemd_unit: Option<UnitState>,
        observed_at: Option<SystemTime>,
    ) -> Datum {
        let metadata = health.metadata();
        Datum {
            namespace: namespace.to_string(),
            metric_name: METRIC_NAME.to_string(),
            value: u8::from(!health.is_up()),
            cluster: subject.cluster,
            instance_id: subject.instance_id,
            region: subject.region,
            reason: health.cause().map(|cause| cause.to_string()),
            agent_version: metadata.and_then(|m| m.version.clone()),
            container_instance_arn: metadata.and_then(|m| m.container_instance_arn.clone()),
            systemd_unit,
            observed_at,
        }
    }

    pub fn agent_down(&self) -> bool {
        self.value != 0
    }

    /// One line for the journal or a terminal.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{}={} cluster={} instance={} region={}",
            self.metric_name, self.value, self.cluster, self.instance_id, self.region
        );
        match &self.reason {
            Some(reason) => line.push_str(&format!(": {reason}")),
            None => line.push_str(": agent up"),
        }
        if let Some(unit) = &self.systemd_unit {
            line.push_str(&format!(" (systemd unit {}: {})", unit.name, unit.state));
        }
        line
    }
}

/// The cluster for the datum: what the agent says, else `ECS_CLUSTER` from ecs.config, else
/// `default`; always as a name, never an ARN.
pub fn resolve_cluster(health: &AgentHealth, ecs_config_cluster: Option<&str>) -> String {
    let from_agent = health.metadata().and_then(|m| m.cluster.as_deref());
    let raw = from_agent
        .or(ecs_config_cluster)
        .map(cluster_name)
        .filter(|c| !c.is_empty())
        .unwrap_or(DEFAULT_CLUSTER);
    raw.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentMetadata, DownCause};

    fn subject() -> Subject {
        Subject {
            cluster: "prod".into(),
            instance_id: "i-0abc".into(),
            region: "us-east-1".into(),
        }
    }

    fn up() -> AgentHealth {
        AgentHealth::Up(AgentMetadata {
            cluster: Some("prod".into()),
            container_instance_arn: Some("arn:ci".into()),
            version: Some("Amazon ECS Agent - v1.89.2 (2ab4e3d8)".into()),
        })
    }

    #[test]
    fn up_datum_json_is_stable() {
        let datum = Datum::new(DEFAULT_NAMESPACE, &up(), subject(), None, None);
        assert_eq!(
            serde_json::to_string(&datum).unwrap(),
            r#"{"namespace":"ECS/AgentProbe","metricName":"AgentDown","value":0,"cluster":"prod","instanceId":"i-0abc","region":"us-east-1","agentVersion":"Amazon ECS Agent - v1.89.2 (2ab4e3d8)","containerInstanceArn":"arn:ci"}"#
        );
        assert!(!datum.agent_down());
    }

    #[test]
    fn down_datum_carries_the_reason_and_unit() {
        let health = AgentHealth::Down {
            cause: DownCause::NotListening,
            metadata: None,
        };
        let unit = UnitState {
            name: "ecs".into(),
            state: "inactive".into(),
            detail: None,
        };
        let datum = Datum::new("Custom/NS", &health, subject(), Some(unit), None);
        assert_eq!(
            serde_json::to_value(&datum).unwrap(),
            serde_json::json!({
                "namespace": "Custom/NS",
                "metricName": "AgentDown",
                "value": 1,
                "cluster": "prod",
                "instanceId": "i-0abc",
                "region": "us-east-1",
                "reason": "agent not listening",
                "systemdUnit": {"name": "ecs", "state": "inactive"},
            })
        );
        assert_eq!(
            datum.summary(),
            "AgentDown=1 cluster=prod instance=i-0abc region=us-east-1: agent not listening (systemd unit ecs: inactive)"
        );
    }

    #[test]
    fn cluster_comes_from_the_agent_then_the_config_then_default() {
        assert_eq!(resolve_cluster(&up(), Some("other")), "prod");
        let down = AgentHealth::Down {
            cause: DownCause::NotListening,
            metadata: None,
        };
        assert_eq!(resolve_cluster(&down, Some("from-config")), "from-config");
        assert_eq!(resolve_cluster(&down, None), "default");
        assert_eq!(
            resolve_cluster(
                &down,
                Some("arn:aws:ecs:us-east-1:123456789012:cluster/prod")
            ),
            "prod"
        );
        // An unregistered agent still names the cluster it is trying to join.
        let unregistered = AgentHealth::Down {
            cause: DownCause::NotRegistered,
            metadata: Some(AgentMetadata {
                cluster: Some("staging".into()),
                ..AgentMetadata::default()
            }),
        };
        assert_eq!(resolve_cluster(&unregistered, Some("x")), "staging");
    }
}
