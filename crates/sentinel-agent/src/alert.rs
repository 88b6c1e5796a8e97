//! The notification: one per cluster per batch, listing every affected instance.
//!
//! Three renderings of the same facts: a subject line (SNS allows at most 100 ASCII
//! characters), a plain-text body for a tired on-call human reading email on a phone, and a
//! versioned JSON document for machines (SQS, Lambda, HTTPS subscribers). The JSON schema is
//! documented in docs/agent-monitor.md; change both together and bump [`SCHEMA_VERSION`] on
//! breaking changes.

use crate::decision::{AlertKind, Severity};
use crate::episode::Notice;
use crate::episode::RemediationRecord;
use crate::node::{NodeId, NodeKind};
use crate::observation::{ContainerInstanceView, NodeView};
use chrono::{DateTime, Utc};
use sentinel_core::chat::{severity_badge, ChatMessage};
use sentinel_core::notification::{
    fit_sns_message, human_duration, plural, sns_message, subject_with, Monitor, Notification,
    SNS_MESSAGE_MAX_BYTES,
};
use sentinel_core::ClusterArn;
use serde::Serialize;
use std::fmt::Write as _;

pub const SCHEMA_VERSION: &str = "1.0";

/// One container instance that is alerted, with what is known about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffectedInstance {
    pub kind: AlertKind,
    pub container_instance_arn: String,
    pub node_id: NodeId,
    pub instance_type: Option<String>,
    pub availability_zone: Option<String>,
    pub agent_version: Option<String>,
    /// EC2 state or SSM ping status, as seen at check time.
    pub node_state: String,
    pub platform: Option<String>,
    /// When the disconnection event happened, if the event said.
    pub disconnected_since: Option<DateTime<Utc>>,
    /// Remediation done so far in this episode.
    pub remediations: Vec<RemediationRecord>,
}

impl AffectedInstance {
    /// Merges the ECS and node views; the node's own answer wins where both know a fact.
    pub fn new(
        kind: AlertKind,
        node_id: NodeId,
        instance: &ContainerInstanceView,
        node: &NodeView,
        disconnected_since: Option<DateTime<Utc>>,
    ) -> Self {
        let (instance_type, availability_zone, platform) = match node {
            NodeView::Ec2 {
                instance_type,
                availability_zone,
                ..
            } => (
                instance_type
                    .clone()
                    .or_else(|| instance.instance_type.clone()),
                availability_zone
                    .clone()
                    .or_else(|| instance.availability_zone.clone()),
                instance.os_type.clone(),
            ),
            NodeView::Anywhere { platform_type, .. } => (
                instance.instance_type.clone(),
                instance.availability_zone.clone(),
                platform_type.clone().or_else(|| instance.os_type.clone()),
            ),
        };
        AffectedInstance {
            kind,
            container_instance_arn: instance.arn.clone(),
            node_id,
            instance_type,
            availability_zone,
            agent_version: instance.agent_version.clone(),
            node_state: node.state().to_owned(),
            platform,
            disconnected_since,
            remediations: Vec::new(),
        }
    }
}

impl AffectedInstance {
    /// The instance of an open episode, with whatever the latest look found about it (a
    /// reminder or a re-sent alert may have no fresh view of the node).
    pub fn from_episode(
        episode: &crate::episode::Episode,
        instance: Option<&ContainerInstanceView>,
        node: Option<&NodeView>,
    ) -> Self {
        let mut affected = match (instance, node) {
            (Some(instance), Some(node)) => {
                AffectedInstance::new(episode.kind, episode.node_id.clone(), instance, node, None)
            }
            _ => AffectedInstance {
                kind: episode.kind,
                container_instance_arn: episode.container_instance_arn.clone(),
                node_id: episode.node_id.clone(),
                instance_type: instance.and_then(|i| i.instance_type.clone()),
                availability_zone: instance.and_then(|i| i.availability_zone.clone()),
                agent_version: instance.and_then(|i| i.agent_version.clone()),
                node_state: node.map_or("unknown", NodeView::state).to_owned(),
                platform: instance.and_then(|i| i.os_type.clone()),
                disconnected_since: None,
                remediations: Vec::new(),
            },
        };
        affected.disconnected_since = Some(episode.state.first_seen_at);
        affected.remediations = episode.remediations.clone();
        affected
    }
}

/// Everything one notification says about one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterAlert {
    pub cluster_arn: ClusterArn,
    pub checked_at: DateTime<Utc>,
    pub instances: Vec<AffectedInstance>,
    /// A reminder about episodes still open, rather than the first alert.
    pub reminder: bool,
}

impl ClusterAlert {
    pub fn cluster_name(&self) -> &str {
        self.cluster_arn.name()
    }

    /// The distinct kinds in this alert, in a stable order.
    pub fn kinds(&self) -> Vec<AlertKind> {
        let mut kinds: Vec<AlertKind> = self.instances.iter().map(|i| i.kind).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    pub fn severity(&self) -> Severity {
        self.instances
            .iter()
            .map(|i| i.kind.severity())
            .max()
            .unwrap_or(Severity::High)
    }

    fn headline(&self) -> &'static str {
        match self.kinds().as_slice() {
            [AlertKind::NodeUnreachable] => "ECS Anywhere node unreachable",
            [AlertKind::AgentDisconnected] | [] => "ECS agent disconnected",
            _ => "ECS agent disconnected or node unreachable",
        }
    }

    /// At most 100 ASCII characters; a long cluster name is shortened, never the facts.
    pub fn subject(&self) -> String {
        let n = self.instances.len();
        let prefix = format!(
            "[{}] {}{}: {} instance{} in ",
            self.severity().as_str().to_ascii_uppercase(),
            if self.reminder { "Reminder - " } else { "" },
            self.headline(),
            n,
            plural(n)
        );
        subject_with(&prefix, self.cluster_name())
    }

    /// The email body, every instance in detail.
    pub fn text(&self) -> String {
        self.text_listing(self.instances.len())
    }

    /// The email body with the first `listed` instances in detail and the rest by id only.
    fn text_listing(&self, listed: usize) -> String {
        let c = &self.cluster_arn;
        let n = self.instances.len();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}{} on {} container instance{} in ECS cluster {} ({}, account {}).",
            if self.reminder {
                "Reminder, still down: "
            } else {
                ""
            },
            self.headline(),
            n,
            plural(n),
            c.name(),
            c.region(),
            c.account()
        );
        out.push('\n');
        out.push_str(
            "ECS cannot start or stop tasks on these instances. Their agents did not reconnect \
             within the grace period, and a fresh check confirmed that each instance is still \
             registered and ACTIVE, its agent is still disconnected, and its machine is still \
             there (EC2 state / SSM ping below).\n\n",
        );
        let _ = writeln!(out, "Cluster: {}", c.name());
        if let Some(url) = console::cluster(c) {
            let _ = writeln!(out, "  {url}");
        }
        for (i, instance) in self.instances.iter().take(listed).enumerate() {
            out.push('\n');
            let mut facts = vec![match instance.node_id.kind() {
                NodeKind::Ec2 => "EC2".to_owned(),
                NodeKind::Anywhere => "ECS Anywhere".to_owned(),
            }];
            facts.extend(instance.instance_type.clone());
            facts.extend(instance.availability_zone.clone());
            facts.extend(instance.platform.clone());
            let _ = writeln!(
                out,
                "{}. {} ({}): {}",
                i + 1,
                instance.node_id,
                facts.join(", "),
                match instance.kind {
                    AlertKind::AgentDisconnected => "AGENT DISCONNECTED",
                    AlertKind::NodeUnreachable => "NODE UNREACHABLE",
                }
            );
            let node_line = match instance.node_id.kind() {
                NodeKind::Ec2 => format!("EC2 state {}", instance.node_state),
                NodeKind::Anywhere => format!("SSM ping status {}", instance.node_state),
            };
            let rows = [
                (
                    "container instance",
                    Some(instance.container_instance_arn.clone()),
                ),
                ("agent version", instance.agent_version.clone()),
                ("node", Some(node_line)),
                (
                    "disconnected since",
                    instance.disconnected_since.map(|t| {
                        format!(
                            "{} ({} before the check)",
                            t.format("%Y-%m-%d %H:%M:%S UTC"),
                            human_duration(self.checked_at - t)
                        )
                    }),
                ),
                ("remediation", describe_remediations(&instance.remediations)),
                ("console", console::node(c, &instance.node_id)),
            ];
            for (label, value) in rows {
                if let Some(value) = value {
                    let _ = writeln!(out, "   {:<19} {value}", format!("{label}:"));
                }
            }
        }
        let omitted = self.omitted_node_ids(listed);
        if !omitted.is_empty() {
            let _ = writeln!(
                out,
                "\n...and {} more (too many to detail in one message): {}",
                omitted.len(),
                omitted.join(", ")
            );
        }
        out.push_str("\nWhat to do next:\n");
        for step in self.next_steps() {
            let _ = writeln!(out, "- {step}");
        }
        let _ = writeln!(
            out,
            "\nChecked at {} by ecs-sentinel.",
            self.checked_at.format("%Y-%m-%dT%H:%M:%SZ")
        );
        out
    }

    /// What to do, by the kinds of node and failure in this alert (email and chat).
    fn next_steps(&self) -> Vec<&'static str> {
        let mut steps = Vec::new();
        if self
            .instances
            .iter()
            .any(|i| i.node_id.kind() == NodeKind::Ec2)
        {
            steps.push(
                "EC2: open a Session Manager shell on the instance, look at \
                 `sudo systemctl status ecs` and `sudo journalctl -u ecs --since -1h`, then \
                 `sudo systemctl restart ecs`; or drain and replace the instance.",
            );
        }
        if self.instances.iter().any(|i| {
            i.kind == AlertKind::AgentDisconnected && i.node_id.kind() == NodeKind::Anywhere
        }) {
            steps.push(
                "ECS Anywhere, node online: on the server, `sudo systemctl status ecs` and \
                 `sudo systemctl restart ecs`.",
            );
        }
        if self
            .instances
            .iter()
            .any(|i| i.kind == AlertKind::NodeUnreachable)
        {
            steps.push(
                "ECS Anywhere, node unreachable: SSM cannot reach the server either. Check its \
                 power and network first; the agent cannot recover while the server is cut off.",
            );
        }
        steps
    }

    /// The chat rendering: the severity and headline as the title, one line per instance,
    /// the same next steps as the email, and the ids a "Restart agent" button needs.
    pub fn chat(&self) -> ChatMessage {
        let c = &self.cluster_arn;
        let n = self.instances.len();
        let mut description = format!(
            "{} on **{n}** container instance{} in ECS cluster {} ({}, account {}). ECS cannot \
             start or stop tasks there; a fresh check confirmed each agent is still \
             disconnected after the grace period.\n",
            self.headline(),
            plural(n),
            markdown_link(c.name(), console::cluster(c).as_deref()),
            c.region(),
            c.account()
        );
        const LISTED: usize = 20;
        for i in self.instances.iter().take(LISTED) {
            let mut facts = vec![match i.node_id.kind() {
                NodeKind::Ec2 => "EC2".to_owned(),
                NodeKind::Anywhere => "ECS Anywhere".to_owned(),
            }];
            facts.extend(i.instance_type.clone());
            facts.extend(i.availability_zone.clone());
            let since = i
                .disconnected_since
                .map(|t| format!(", down {}", human_duration(self.checked_at - t)))
                .unwrap_or_default();
            let _ = write!(
                description,
                "\n• {} ({}): **{}**{since}, node {}",
                markdown_link(
                    &format!("`{}`", i.node_id),
                    console::node(c, &i.node_id).as_deref()
                ),
                facts.join(", "),
                i.kind.as_str(),
                i.node_state
            );
        }
        if n > LISTED {
            let _ = write!(description, "\n…and {} more", n - LISTED);
        }
        let mut keywords = vec![c.name().to_owned()];
        keywords.extend(self.kinds().iter().map(|k| k.as_str().to_owned()));
        ChatMessage {
            title: format!(
                "{} · {}{}: {n} instance{} in {}",
                severity_badge(self.severity(), false),
                if self.reminder {
                    "Reminder, still down - "
                } else {
                    ""
                },
                self.headline(),
                plural(n),
                c.name()
            ),
            description,
            next_steps: self.next_steps().into_iter().map(str::to_owned).collect(),
            keywords,
            thread_id: thread_id(c),
            summary: self.subject(),
            event_type: if self.reminder {
                "agent-reminder"
            } else {
                "agent-alert"
            }
            .to_owned(),
            related_resources: self
                .instances
                .iter()
                .map(|i| i.container_instance_arn.clone())
                .collect(),
            additional_context: chat_context(c, self.instances.iter().map(|i| &i.node_id)),
        }
    }

    /// The machine-readable document (schema in docs/agent-monitor.md), every instance in
    /// detail.
    pub fn document(&self) -> AlertDocument {
        self.document_listing(self.instances.len())
    }

    fn omitted_node_ids(&self, listed: usize) -> Vec<String> {
        self.instances
            .iter()
            .skip(listed)
            .map(|i| i.node_id.to_string())
            .collect()
    }

    fn document_listing(&self, listed: usize) -> AlertDocument {
        let c = &self.cluster_arn;
        AlertDocument {
            schema_version: SCHEMA_VERSION,
            source: "ecs-sentinel",
            kind: "agent-alert",
            notice: if self.reminder { "reminder" } else { "alert" },
            severity: self.severity(),
            kinds: self.kinds(),
            account: c.account().to_owned(),
            region: c.region().to_owned(),
            cluster: ClusterDoc {
                name: c.name().to_owned(),
                arn: c.as_str().to_owned(),
                console_url: console::cluster(c),
            },
            checked_at: self.checked_at,
            instance_count: self.instances.len(),
            omitted_node_ids: self.omitted_node_ids(listed),
            instances: self
                .instances
                .iter()
                .take(listed)
                .map(|i| InstanceDoc {
                    kind: i.kind,
                    container_instance_arn: i.container_instance_arn.clone(),
                    node_id: i.node_id.clone(),
                    node_type: i.node_id.kind(),
                    node_state: i.node_state.clone(),
                    instance_type: i.instance_type.clone(),
                    availability_zone: i.availability_zone.clone(),
                    platform: i.platform.clone(),
                    agent_version: i.agent_version.clone(),
                    disconnected_since: i.disconnected_since,
                    actions: i.remediations.iter().map(ActionDoc::from).collect(),
                    console_url: console::node(c, &i.node_id),
                })
                .collect(),
        }
    }

    /// The SNS `Message` for `MessageStructure=json`: email gets the text; every other
    /// protocol (SQS, Lambda, HTTP/S, email-json) gets the JSON document through `default`.
    ///
    /// One message per cluster must fit SNS's size limit even in a storm, so when all
    /// details do not fit, as many instances as fit are detailed and the rest are listed by
    /// node id (`omittedNodeIds`); `instanceCount` always counts them all.
    pub fn sns_message(&self) -> Result<String, serde_json::Error> {
        self.sns_message_within(SNS_MESSAGE_MAX_BYTES)
    }

    pub fn sns_message_within(&self, max_bytes: usize) -> Result<String, serde_json::Error> {
        fit_sns_message(self.instances.len(), max_bytes, |listed| {
            sns_message(&self.document_listing(listed), self.text_listing(listed))
        })
    }

    /// The message to send: one per cluster, `monitor` = `agent`.
    pub fn notification(&self) -> Result<Notification, serde_json::Error> {
        Ok(Notification {
            monitor: Monitor::Agent,
            notice: if self.reminder {
                Notice::Reminder
            } else {
                Notice::Alert
            },
            cluster: self.cluster_arn.clone(),
            service: None,
            kinds: self
                .kinds()
                .into_iter()
                .map(|k| k.as_str().to_owned())
                .collect(),
            severity: self.severity(),
            about: self
                .instances
                .iter()
                .map(|i| i.container_instance_arn.clone())
                .collect(),
            subject: self.subject(),
            message: self.sns_message()?,
            chat: self.chat(),
        })
    }
}

/// One thread per cluster for the agent monitor: an alert, its reminders and its RESOLVED
/// (which may close instances of several alerts at once) read as one conversation.
pub(crate) fn thread_id(cluster: &ClusterArn) -> String {
    format!(
        "ecs-sentinel-agent-{}-{}-{}",
        cluster.account(),
        cluster.region(),
        cluster.name()
    )
}

/// What the channel's custom actions read: the cluster and the nodes (EC2 instance ids and
/// ECS Anywhere managed instance ids, comma-separated, as `aws ssm send-command` takes them).
pub(crate) fn chat_context<'a>(
    cluster: &ClusterArn,
    nodes: impl Iterator<Item = &'a NodeId>,
) -> Vec<(String, String)> {
    let ids: Vec<String> = nodes.map(|n| n.to_string()).collect();
    vec![
        ("Monitor".into(), "agent".into()),
        ("ClusterName".into(), cluster.name().to_owned()),
        ("Region".into(), cluster.region().to_owned()),
        ("InstanceIds".into(), ids.join(",")),
    ]
}

/// `[text](url)`, or the text alone when there is no link.
pub(crate) fn markdown_link(text: &str, url: Option<&str>) -> String {
    match url {
        Some(url) => format!("[{text}]({url})"),
        None => text.to_owned(),
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertDocument {
    pub schema_version: &'static str,
    pub source: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `alert` (first notice of an episode) or `reminder`.
    pub notice: &'static str,
    pub severity: Severity,
    pub kinds: Vec<AlertKind>,
    pub account: String,
    pub region: String,
    pub cluster: ClusterDoc,
    pub checked_at: DateTime<Utc>,
    /// Every affected instance, including those only named in `omitted_node_ids`.
    pub instance_count: usize,
    /// Instances too many to detail within SNS's size limit; empty in almost every alert.
    pub omitted_node_ids: Vec<String>,
    pub instances: Vec<InstanceDoc>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterDoc {
    pub name: String,
    pub arn: String,
    pub console_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceDoc {
    pub kind: AlertKind,
    pub container_instance_arn: String,
    pub node_id: NodeId,
    pub node_type: NodeKind,
    pub node_state: String,
    pub instance_type: Option<String>,
    pub availability_zone: Option<String>,
    pub platform: Option<String>,
    pub agent_version: Option<String>,
    pub disconnected_since: Option<DateTime<Utc>>,
    /// Remediation done so far (empty when none is configured).
    pub actions: Vec<ActionDoc>,
    pub console_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionDoc {
    pub action: String,
    pub at: DateTime<Utc>,
    pub outcome: String,
}

impl From<&RemediationRecord> for ActionDoc {
    fn from(r: &RemediationRecord) -> Self {
        ActionDoc {
            action: r.action.clone(),
            at: r.at,
            outcome: r.text(),
        }
    }
}

/// "restart-agent at 10:05:00: succeeded, command 1234; …", or `None` when nothing was done.
pub(crate) fn describe_remediations(done: &[RemediationRecord]) -> Option<String> {
    (!done.is_empty()).then(|| {
        done.iter()
            .map(|r| format!("{} at {}: {}", r.action, r.at.format("%H:%M:%S"), r.text()))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// Console links, per partition; unknown partitions get no link rather than a wrong one.
pub(crate) mod console {
    use super::{ClusterArn, NodeId, NodeKind};
    use sentinel_core::notification::console_url;

    pub fn cluster(c: &ClusterArn) -> Option<String> {
        console_url(
            c.partition(),
            &format!(
                "/ecs/v2/clusters/{}/infrastructure?region={}",
                c.name(),
                c.region()
            ),
        )
    }

    pub fn node(c: &ClusterArn, node: &NodeId) -> Option<String> {
        let region = c.region();
        let path = match node.kind() {
            NodeKind::Ec2 => format!("/ec2/home?region={region}#InstanceDetails:instanceId={node}"),
            NodeKind::Anywhere => format!(
                "/systems-manager/fleet-manager/managed-nodes/{node}/general?region={region}"
            ),
        };
        console_url(c.partition(), &path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use sentinel_core::notification::SUBJECT_MAX_CHARS;

    fn instance(node: &str, kind: AlertKind, state: &str) -> AffectedInstance {
        AffectedInstance {
            kind,
            container_instance_arn: format!(
                "arn:aws:ecs:us-east-1:123456789012:container-instance/payments-prod/{node}"
            ),
            node_id: NodeId::parse(node).unwrap(),
            instance_type: Some("m7g.large".into()),
            availability_zone: Some("us-east-1a".into()),
            agent_version: Some("1.82.0".into()),
            node_state: state.into(),
            platform: None,
            disconnected_since: Some(Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap()),
            remediations: Vec::new(),
        }
    }

    fn alert(cluster: &str, instances: Vec<AffectedInstance>) -> ClusterAlert {
        ClusterAlert {
            cluster_arn: ClusterArn::parse(&format!(
                "arn:aws:ecs:us-east-1:123456789012:cluster/{cluster}"
            ))
            .unwrap(),
            checked_at: Utc.with_ymd_and_hms(2026, 11, 21, 10, 5, 0).unwrap(),
            instances,
            reminder: false,
        }
    }

    #[test]
    fn subject_names_severity_kind_count_and_cluster() {
        let a = alert(
            "payments-prod",
            vec![
                instance("i-0a", AlertKind::AgentDisconnected, "running"),
                instance("i-0b", AlertKind::AgentDisconnected, "running"),
            ],
        );
        assert_eq!(
            a.subject(),
            "[HIGH] ECS agent disconnected: 2 instances in payments-prod"
        );
        let b = alert(
            "edge",
            vec![instance(
                "mi-0123456789abcdef0",
                AlertKind::NodeUnreachable,
                "ConnectionLost",
            )],
        );
        assert_eq!(
            b.subject(),
            "[CRITICAL] ECS Anywhere node unreachable: 1 instance in edge"
        );
    }

    #[test]
    fn reminders_say_so_in_subject_text_and_document() {
        let mut a = alert(
            "api",
            vec![instance("i-0a", AlertKind::AgentDisconnected, "running")],
        );
        a.reminder = true;
        assert_eq!(
            a.subject(),
            "[HIGH] Reminder - ECS agent disconnected: 1 instance in api"
        );
        assert!(a
            .text()
            .starts_with("Reminder, still down: ECS agent disconnected on 1"));
        assert_eq!(a.document().notice, "reminder");
    }

    #[test]
    fn text_lists_every_instance_with_what_was_checked_and_links() {
        let a = alert(
            "payments-prod",
            vec![
                instance("i-0a", AlertKind::AgentDisconnected, "running"),
                instance(
                    "mi-0123456789abcdef0",
                    AlertKind::NodeUnreachable,
                    "ConnectionLost",
                ),
            ],
        );
        let text = a.text();
        for expected in [
            "on 2 container instances in ECS cluster payments-prod (us-east-1, account 123456789012)",
            "1. i-0a (EC2, m7g.large, us-east-1a): AGENT DISCONNECTED",
            "2. mi-0123456789abcdef0 (ECS Anywhere, m7g.large, us-east-1a): NODE UNREACHABLE",
            "EC2 state running",
            "SSM ping status ConnectionLost",
            "agent version:      1.82.0",
            "2026-11-21 10:00:00 UTC (5 min before the check)",
            "https://console.aws.amazon.com/ecs/v2/clusters/payments-prod/infrastructure?region=us-east-1",
            "#InstanceDetails:instanceId=i-0a",
            "fleet-manager/managed-nodes/mi-0123456789abcdef0/general",
            "SSM cannot reach the server either",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
    }

    #[test]
    fn sns_message_gives_text_to_email_and_the_document_to_machines() {
        let a = alert(
            "payments-prod",
            vec![instance("i-0a", AlertKind::AgentDisconnected, "running")],
        );
        let message: serde_json::Value = serde_json::from_str(&a.sns_message().unwrap()).unwrap();
        assert!(message["email"]
            .as_str()
            .unwrap()
            .starts_with("ECS agent disconnected"));
        assert_eq!(
            message.as_object().map(|m| m.len()),
            Some(2),
            "email and default only"
        );
        let doc: serde_json::Value =
            serde_json::from_str(message["default"].as_str().unwrap()).unwrap();
        assert_eq!(doc["schemaVersion"], "1.0");
        assert_eq!(doc["type"], "agent-alert");
        assert_eq!(doc["severity"], "high");
        assert_eq!(doc["kinds"], serde_json::json!(["agent-disconnected"]));
        assert_eq!(doc["cluster"]["name"], "payments-prod");
        assert_eq!(doc["instanceCount"], 1);
        assert_eq!(doc["instances"][0]["nodeId"], "i-0a");
        assert_eq!(doc["instances"][0]["nodeType"], "ec2");
        assert_eq!(
            doc["instances"][0]["disconnectedSince"],
            "2026-11-21T10:00:00Z"
        );
        assert_eq!(doc["omittedNodeIds"], serde_json::json!([]));
    }

    #[test]
    fn a_storm_still_fits_one_message_and_names_every_node() {
        let instances: Vec<AffectedInstance> = (0..2000)
            .map(|i| {
                instance(
                    &format!("i-{i:017x}"),
                    AlertKind::AgentDisconnected,
                    "running",
                )
            })
            .collect();
        let a = alert("web", instances);
        let message = a.sns_message().unwrap();
        assert!(message.len() <= SNS_MESSAGE_MAX_BYTES, "{}", message.len());
        let message: serde_json::Value = serde_json::from_str(&message).unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(message["default"].as_str().unwrap()).unwrap();
        let listed = doc["instances"].as_array().unwrap().len();
        let omitted = doc["omittedNodeIds"].as_array().unwrap().len();
        assert!(listed > 50, "as many details as fit: {listed}");
        assert_eq!(listed + omitted, 2000);
        assert_eq!(doc["instanceCount"], 2000);
        let text = message["email"].as_str().unwrap();
        assert!(text.contains(&format!("...and {omitted} more")), "{text}");
        assert!(text.contains(&format!("i-{:017x}", 1999)));
        // Small alerts are never cut.
        let small = alert(
            "web",
            vec![instance("i-0a", AlertKind::AgentDisconnected, "running")],
        );
        assert_eq!(
            small.sns_message_within(100_000).unwrap(),
            small.sns_message().unwrap()
        );
    }

    #[test]
    fn attributes_support_filter_policies() {
        let a = alert(
            "c",
            vec![
                instance("i-0a", AlertKind::AgentDisconnected, "running"),
                instance("mi-0abc", AlertKind::NodeUnreachable, "ConnectionLost"),
            ],
        );
        let attrs = a.notification().unwrap().attributes();
        assert_eq!(attrs[0].value, "c");
        assert_eq!(attrs[1].data_type, "String.Array");
        assert_eq!(
            attrs[1].value,
            r#"["agent-disconnected","node-unreachable"]"#
        );
        assert_eq!(attrs[2].value, "critical");
        assert_eq!(
            (attrs[3].name, attrs[3].value.as_str()),
            ("monitor", "agent")
        );
        assert_eq!(
            attrs.len(),
            4,
            "no service attribute: an agent alert is about machines"
        );
    }

    #[test]
    fn unknown_partitions_get_no_links() {
        let mut a = alert(
            "c",
            vec![instance("i-0a", AlertKind::AgentDisconnected, "running")],
        );
        a.cluster_arn = ClusterArn::parse("arn:aws-iso:ecs:us-iso-east-1:1:cluster/c").unwrap();
        assert!(!a.text().contains("https://"));
        assert_eq!(a.document().cluster.console_url, None);
    }

    proptest::proptest! {
        #[test]
        fn subjects_fit_sns_limits(name in "\\PC{1,255}", n in 1usize..300) {
            let instances = (0..n)
                .map(|i| instance(&format!("i-{i:x}"), AlertKind::AgentDisconnected, "running"))
                .collect();
            let a = ClusterAlert {
                cluster_arn: ClusterArn::parse(&format!("arn:aws:ecs:us-east-1:1:cluster/{name}")).unwrap(),
                checked_at: Utc::now(),
                instances,
                reminder: false,
            };
            let subject = a.subject();
            proptest::prop_assert!(subject.len() <= SUBJECT_MAX_CHARS, "{}", subject);
            proptest::prop_assert!(subject.chars().all(|c| c.is_ascii_graphic() || c == ' '));
        }
    }
}
