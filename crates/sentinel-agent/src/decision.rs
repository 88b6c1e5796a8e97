//! The decision: after the grace period, does this disconnection deserve a human's attention?
//!
//! Alert only when, looked at now, the cluster is monitored, the container instance is still
//! registered and ACTIVE, its agent is still disconnected, and its node is up (EC2 `running`;
//! ECS Anywhere node `Online` in SSM). An Anywhere node that SSM lost too is a different, worse
//! problem — the whole server is unreachable — and gets its own alert kind (switchable).
//! Everything else is normal fleet life (reconnect, scale-in, draining, deregistration) and
//! is skipped with a reason that gets logged.

use crate::node::NodeId;
use crate::observation::{ContainerInstanceView, NodeView, Observation};
use crate::states::{Ec2State, InstanceStatus, PingStatus};
use sentinel_core::ClusterView;
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    /// The node is up but its ECS agent has stayed disconnected: ECS cannot place or stop
    /// tasks there.
    AgentDisconnected,
    /// An ECS Anywhere node that SSM cannot reach either: the server itself is likely down
    /// or cut off.
    NodeUnreachable,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::AgentDisconnected => "agent-disconnected",
            AlertKind::NodeUnreachable => "node-unreachable",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            AlertKind::AgentDisconnected => Severity::High,
            AlertKind::NodeUnreachable => Severity::Critical,
        }
    }
}

pub use sentinel_core::notification::Severity;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    ClusterNotMonitored {
        tag_value: Option<String>,
    },
    ClusterMissing,
    /// DescribeContainerInstances no longer knows it: deregistered (scale-in, replacement).
    InstanceDeregistered,
    /// Registered, but not ACTIVE: DRAINING, INACTIVE, DEREGISTERING, …
    InstanceNotActive {
        status: InstanceStatus,
    },
    /// The normal case: the agent came back within the grace period.
    AgentReconnected,
    /// EC2 or SSM no longer knows the node.
    NodeNotFound,
    /// The EC2 instance is stopping, stopped, shutting down or terminated.
    NodeNotRunning {
        state: Ec2State,
    },
    /// SSM marks the Anywhere node Inactive (deregistered from SSM) or reports a status we do
    /// not know.
    AnywhereNodeInactive {
        ping_status: PingStatus,
    },
    /// SSM lost the Anywhere node too, and ALERT_ON_UNREACHABLE_ANYWHERE_NODES is false.
    UnreachableAlertsDisabled,
    /// ECS reports a node id of a kind that does not match what SSM or EC2 returned.
    NodeMismatch,
}

impl SkipReason {
    /// Stable code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::ClusterNotMonitored { .. } => "cluster-not-monitored",
            SkipReason::ClusterMissing => "cluster-missing",
            SkipReason::InstanceDeregistered => "instance-deregistered",
            SkipReason::InstanceNotActive { .. } => "instance-not-active",
            SkipReason::AgentReconnected => "agent-reconnected",
            SkipReason::NodeNotFound => "node-not-found",
            SkipReason::NodeNotRunning { .. } => "node-not-running",
            SkipReason::AnywhereNodeInactive { .. } => "anywhere-node-inactive",
            SkipReason::UnreachableAlertsDisabled => "unreachable-alerts-disabled",
            SkipReason::NodeMismatch => "node-mismatch",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::ClusterNotMonitored { tag_value: None } => {
                f.write_str("cluster does not carry the monitoring tag")
            }
            SkipReason::ClusterNotMonitored {
                tag_value: Some(value),
            } => write!(
                f,
                "cluster's monitoring tag is {value:?}, not the configured value"
            ),
            SkipReason::ClusterMissing => f.write_str("cluster no longer exists"),
            SkipReason::InstanceDeregistered => {
                f.write_str("container instance is no longer registered")
            }
            SkipReason::InstanceNotActive { status } => {
                write!(f, "container instance is {status}, not ACTIVE")
            }
            SkipReason::AgentReconnected => {
                f.write_str("agent reconnected within the grace period")
            }
            SkipReason::NodeNotFound => f.write_str("node no longer exists"),
            SkipReason::NodeNotRunning { state } => write!(f, "EC2 instance is {state}"),
            SkipReason::AnywhereNodeInactive { ping_status } => {
                write!(f, "SSM reports the Anywhere node as {ping_status}")
            }
            SkipReason::UnreachableAlertsDisabled => f.write_str(
                "Anywhere node is unreachable and ALERT_ON_UNREACHABLE_ANYWHERE_NODES is false",
            ),
            SkipReason::NodeMismatch => f.write_str("node lookup returned another kind of node"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Alert { kind: AlertKind },
    Skip { reason: SkipReason },
}

/// Settings that change the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionSettings {
    pub alert_on_unreachable_anywhere_nodes: bool,
}

impl Default for DecisionSettings {
    fn default() -> Self {
        DecisionSettings {
            alert_on_unreachable_anywhere_nodes: true,
        }
    }
}

/// The part of the decision that ECS alone settles. `Ok(node)` names the node whose health
/// must be looked up next; the pipeline uses this to look up only the nodes that matter.
pub fn assess_registration<'a>(
    cluster: &ClusterView,
    instance: Option<&'a ContainerInstanceView>,
) -> Result<&'a NodeId, SkipReason> {
    match cluster {
        ClusterView::Monitored => {}
        ClusterView::NotMonitored { tag_value } => {
            return Err(SkipReason::ClusterNotMonitored {
                tag_value: tag_value.clone(),
            })
        }
        ClusterView::Missing => return Err(SkipReason::ClusterMissing),
    }
    let instance = instance.ok_or(SkipReason::InstanceDeregistered)?;
    if instance.status != InstanceStatus::Active {
        return Err(SkipReason::InstanceNotActive {
            status: instance.status.clone(),
        });
    }
    if instance.agent_connected {
        return Err(SkipReason::AgentReconnected);
    }
    // A registered instance always has a node; without one there is nothing to check.
    instance.node_id.as_ref().ok_or(SkipReason::NodeNotFound)
}

/// Why was this instance alerted, or not? The whole answer, in one pure function.
pub fn assess(observation: &Observation, settings: DecisionSettings) -> Verdict {
    let skip = |reason| Verdict::Skip { reason };
    let node_id = match assess_registration(
        &observation.cluster,
        observation.container_instance.as_ref(),
    ) {
        Ok(node_id) => node_id,
        Err(reason) => return skip(reason),
    };
    match (node_id.kind(), &observation.node) {
        (_, None) => skip(SkipReason::NodeNotFound),
        (crate::NodeKind::Ec2, Some(NodeView::Ec2 { state, .. })) => {
            if *state == Ec2State::Running {
                Verdict::Alert {
                    kind: AlertKind::AgentDisconnected,
                }
            } else {
                skip(SkipReason::NodeNotRunning {
                    state: state.clone(),
                })
            }
        }
        (crate::NodeKind::Anywhere, Some(NodeView::Anywhere { ping_status, .. })) => {
            match ping_status {
                PingStatus::Online => Verdict::Alert {
                    kind: AlertKind::AgentDisconnected,
                },
                PingStatus::ConnectionLost if settings.alert_on_unreachable_anywhere_nodes => {
                    Verdict::Alert {
                        kind: AlertKind::NodeUnreachable,
                    }
                }
                PingStatus::ConnectionLost => skip(SkipReason::UnreachableAlertsDisabled),
                other => skip(SkipReason::AnywhereNodeInactive {
                    ping_status: other.clone(),
                }),
            }
        }
        (_, Some(_)) => skip(SkipReason::NodeMismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON: DecisionSettings = DecisionSettings {
        alert_on_unreachable_anywhere_nodes: true,
    };
    const OFF: DecisionSettings = DecisionSettings {
        alert_on_unreachable_anywhere_nodes: false,
    };

    fn instance(node: &str, status: &str, connected: bool) -> Option<ContainerInstanceView> {
        Some(ContainerInstanceView {
            arn: "arn:aws:ecs:us-east-1:1:container-instance/c/1".into(),
            status: InstanceStatus::parse(status),
            agent_connected: connected,
            agent_version: Some("1.82.0".into()),
            node_id: NodeId::parse(node).ok(),
            instance_type: None,
            availability_zone: None,
            os_type: None,
        })
    }

    fn ec2(state: &str) -> Option<NodeView> {
        Some(NodeView::Ec2 {
            state: Ec2State::parse(state),
            instance_type: Some("m7g.large".into()),
            availability_zone: Some("us-east-1a".into()),
            private_ip: None,
        })
    }

    fn anywhere(ping: &str) -> Option<NodeView> {
        Some(NodeView::Anywhere {
            ping_status: PingStatus::parse(ping),
            platform_type: Some("Linux".into()),
            last_ping: None,
            computer_name: None,
            ip_address: None,
        })
    }

    fn obs(
        cluster: ClusterView,
        container_instance: Option<ContainerInstanceView>,
        node: Option<NodeView>,
    ) -> Observation {
        Observation {
            cluster,
            container_instance,
            node,
        }
    }

    fn alert(kind: AlertKind) -> Verdict {
        Verdict::Alert { kind }
    }

    fn skip(reason: SkipReason) -> Verdict {
        Verdict::Skip { reason }
    }

    /// One row per branch of the decision.
    #[test]
    fn every_branch_of_the_decision() {
        use ClusterView::*;
        let ec2_id = "i-0abc";
        let mi_id = "mi-0123456789abcdef0";
        let rows: Vec<(&str, Observation, DecisionSettings, Verdict)> = vec![
            (
                "EC2 running, agent still down",
                obs(Monitored, instance(ec2_id, "ACTIVE", false), ec2("running")),
                ON,
                alert(AlertKind::AgentDisconnected),
            ),
            (
                "Anywhere node online, agent still down",
                obs(
                    Monitored,
                    instance(mi_id, "ACTIVE", false),
                    anywhere("Online"),
                ),
                ON,
                alert(AlertKind::AgentDisconnected),
            ),
            (
                "Anywhere node lost by SSM too",
                obs(
                    Monitored,
                    instance(mi_id, "ACTIVE", false),
                    anywhere("ConnectionLost"),
                ),
                ON,
                alert(AlertKind::NodeUnreachable),
            ),
            (
                "Anywhere node lost, unreachable alerts switched off",
                obs(
                    Monitored,
                    instance(mi_id, "ACTIVE", false),
                    anywhere("ConnectionLost"),
                ),
                OFF,
                skip(SkipReason::UnreachableAlertsDisabled),
            ),
            (
                "Anywhere node inactive in SSM",
                obs(
                    Monitored,
                    instance(mi_id, "ACTIVE", false),
                    anywhere("Inactive"),
                ),
                ON,
                skip(SkipReason::AnywhereNodeInactive {
                    ping_status: PingStatus::Inactive,
                }),
            ),
            (
                "untagged cluster",
                obs(
                    NotMonitored { tag_value: None },
                    instance(ec2_id, "ACTIVE", false),
                    ec2("running"),
                ),
                ON,
                skip(SkipReason::ClusterNotMonitored { tag_value: None }),
            ),
            (
                "cluster deleted",
                obs(Missing, None, None),
                ON,
                skip(SkipReason::ClusterMissing),
            ),
            (
                "deregistered",
                obs(Monitored, None, ec2("running")),
                ON,
                skip(SkipReason::InstanceDeregistered),
            ),
            (
                "draining",
                obs(
                    Monitored,
                    instance(ec2_id, "DRAINING", false),
                    ec2("running"),
                ),
                ON,
                skip(SkipReason::InstanceNotActive {
                    status: InstanceStatus::Draining,
                }),
            ),
            (
                "reconnected within the grace period",
                obs(Monitored, instance(ec2_id, "ACTIVE", true), None),
                ON,
                skip(SkipReason::AgentReconnected),
            ),
            (
                "registered without a node id",
                obs(Monitored, instance("bogus", "ACTIVE", false), None),
                ON,
                skip(SkipReason::NodeNotFound),
            ),
            (
                "EC2 instance gone",
                obs(Monitored, instance(ec2_id, "ACTIVE", false), None),
                ON,
                skip(SkipReason::NodeNotFound),
            ),
            (
                "EC2 instance terminated",
                obs(
                    Monitored,
                    instance(ec2_id, "ACTIVE", false),
                    ec2("terminated"),
                ),
                ON,
                skip(SkipReason::NodeNotRunning {
                    state: Ec2State::Terminated,
                }),
            ),
            (
                "EC2 instance stopping",
                obs(
                    Monitored,
                    instance(ec2_id, "ACTIVE", false),
                    ec2("stopping"),
                ),
                ON,
                skip(SkipReason::NodeNotRunning {
                    state: Ec2State::Stopping,
                }),
            ),
            (
                "ECS says EC2, lookup says Anywhere",
                obs(
                    Monitored,
                    instance(ec2_id, "ACTIVE", false),
                    anywhere("Online"),
                ),
                ON,
                skip(SkipReason::NodeMismatch),
            ),
        ];
        for (name, observation, settings, expected) in rows {
            assert_eq!(assess(&observation, settings), expected, "{name}");
        }
    }

    #[test]
    fn registration_stage_names_the_node_to_look_up() {
        let i = instance("i-0abc", "ACTIVE", false);
        let node = assess_registration(&ClusterView::Monitored, i.as_ref());
        assert_eq!(node.map(NodeId::as_str), Ok("i-0abc"));
    }

    #[test]
    fn skip_reasons_read_well() {
        assert_eq!(
            SkipReason::InstanceNotActive {
                status: InstanceStatus::Draining
            }
            .to_string(),
            "container instance is DRAINING, not ACTIVE"
        );
        assert_eq!(SkipReason::AgentReconnected.code(), "agent-reconnected");
    }

    proptest::proptest! {
        /// Whatever ECS, EC2 and SSM say, an alert needs a monitored cluster and an ACTIVE
        /// instance whose agent is disconnected.
        #[test]
        fn alerts_only_for_active_disconnected_instances_of_monitored_clusters(
            monitored in proptest::bool::ANY,
            status in proptest::sample::select(vec!["ACTIVE", "DRAINING", "INACTIVE", "REGISTERING"]),
            connected in proptest::bool::ANY,
            anywhere_node in proptest::bool::ANY,
            state in proptest::sample::select(vec!["running", "stopped", "terminated", "Online", "ConnectionLost", "Inactive"]),
            unreachable in proptest::bool::ANY,
        ) {
            let cluster = if monitored { ClusterView::Monitored } else { ClusterView::NotMonitored { tag_value: None } };
            let node = if anywhere_node { anywhere(state) } else { ec2(state) };
            let id = if anywhere_node { "mi-0123456789abcdef0" } else { "i-0abc" };
            let verdict = assess(
                &obs(cluster, instance(id, status, connected), node),
                DecisionSettings { alert_on_unreachable_anywhere_nodes: unreachable },
            );
            if let Verdict::Alert { .. } = verdict {
                proptest::prop_assert!(monitored && status == "ACTIVE" && !connected);
            }
        }
    }
}
