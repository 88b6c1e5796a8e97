//! The RESOLVED notice: one per cluster per batch, for every episode that ended, saying how
//! long each agent was down, why the episode ended, and what was done about it.

use crate::alert::{
    chat_context, console, describe_remediations, markdown_link, thread_id, ActionDoc, ClusterDoc,
    SCHEMA_VERSION,
};
use crate::episode::{Episode, Notice, Resolution};
use crate::node::{NodeId, NodeKind};
use crate::remediation::Outcome;
use chrono::{DateTime, Utc};
use sentinel_core::chat::{severity_badge, ChatMessage};
use sentinel_core::notification::{
    fit_sns_message, human_duration, plural, sns_message, subject_with, Monitor, Notification,
    Severity, SNS_MESSAGE_MAX_BYTES,
};
use sentinel_core::ClusterArn;
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterResolved {
    pub cluster_arn: ClusterArn,
    pub checked_at: DateTime<Utc>,
    /// Resolved episodes of this cluster.
    pub episodes: Vec<Episode>,
}

impl ClusterResolved {
    pub fn cluster_name(&self) -> &str {
        self.cluster_arn.name()
    }

    pub fn subject(&self) -> String {
        let n = self.episodes.len();
        let all_reconnected = self
            .episodes
            .iter()
            .all(|e| e.resolution == Some(Resolution::AgentReconnected));
        let what = if all_reconnected {
            "ECS agent reconnected"
        } else {
            "ECS agent episode closed"
        };
        subject_with(
            &format!("[RESOLVED] {what}: {n} instance{} in ", plural(n)),
            self.cluster_name(),
        )
    }

    pub fn text(&self) -> String {
        self.text_listing(self.episodes.len())
    }

    fn text_listing(&self, listed: usize) -> String {
        let c = &self.cluster_arn;
        let n = self.episodes.len();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Resolved: {n} ECS agent alert{} in cluster {} ({}, account {}).\n",
            plural(n),
            c.name(),
            c.region(),
            c.account()
        );
        for (i, e) in self.episodes.iter().take(listed).enumerate() {
            let node = match e.node_id.kind() {
                NodeKind::Ec2 => "EC2",
                NodeKind::Anywhere => "ECS Anywhere",
            };
            let _ = writeln!(out, "{}. {} ({node})", i + 1, e.node_id);
            let _ = writeln!(
                out,
                "   {:<19} {}",
                "resolved:",
                e.resolution
                    .as_ref()
                    .map(Resolution::describe)
                    .unwrap_or_else(|| "closed".into())
            );
            let _ = writeln!(
                out,
                "   {:<19} {} (since {})",
                "down for:",
                human_duration(e.downtime(self.checked_at)),
                e.state.first_seen_at.format("%Y-%m-%d %H:%M:%S UTC")
            );
            let done = describe_remediations(&e.remediations)
                .unwrap_or_else(|| "nothing (alert only)".into());
            let done = if auto_remediated(e) {
                format!("{done} (auto-remediated)")
            } else {
                done
            };
            let _ = writeln!(out, "   {:<19} {done}", "done about it:");
            let _ = writeln!(
                out,
                "   {:<19} {}",
                "container instance:", e.container_instance_arn
            );
        }
        let omitted: Vec<&str> = self
            .episodes
            .iter()
            .skip(listed)
            .map(|e| e.node_id.as_str())
            .collect();
        if !omitted.is_empty() {
            let _ = writeln!(out, "...and {} more: {}", omitted.len(), omitted.join(", "));
        }
        let _ = writeln!(
            out,
            "\nChecked at {} by ecs-sentinel.",
            self.checked_at.format("%Y-%m-%dT%H:%M:%SZ")
        );
        out
    }

    pub fn document(&self) -> ResolvedDocument {
        self.document_listing(self.episodes.len())
    }

    fn document_listing(&self, listed: usize) -> ResolvedDocument {
        let c = &self.cluster_arn;
        ResolvedDocument {
            schema_version: SCHEMA_VERSION,
            source: "ecs-sentinel",
            kind: "agent-resolved",
            notice: "resolved",
            account: c.account().to_owned(),
            region: c.region().to_owned(),
            cluster: ClusterDoc {
                name: c.name().to_owned(),
                arn: c.as_str().to_owned(),
                console_url: console::cluster(c),
            },
            checked_at: self.checked_at,
            instance_count: self.episodes.len(),
            omitted_node_ids: self
                .episodes
                .iter()
                .skip(listed)
                .map(|e| e.node_id.to_string())
                .collect(),
            instances: self
                .episodes
                .iter()
                .take(listed)
                .map(|e| ResolvedInstanceDoc {
                    container_instance_arn: e.container_instance_arn.clone(),
                    node_id: e.node_id.clone(),
                    node_type: e.node_id.kind(),
                    kind: e.kind.as_str(),
                    resolution: e.resolution.as_ref().map_or("closed", Resolution::code),
                    detail: e.resolution.as_ref().map(Resolution::describe),
                    down_since: e.state.first_seen_at,
                    resolved_at: e.state.resolved_at,
                    downtime_seconds: e.downtime(self.checked_at).num_seconds().max(0),
                    actions: e.remediations.iter().map(ActionDoc::from).collect(),
                    auto_remediated: auto_remediated(e),
                    console_url: console::node(c, &e.node_id),
                })
                .collect(),
        }
    }

    pub fn sns_message(&self) -> Result<String, serde_json::Error> {
        fit_sns_message(self.episodes.len(), SNS_MESSAGE_MAX_BYTES, |listed| {
            sns_message(&self.document_listing(listed), self.text_listing(listed))
        })
    }

    /// The chat rendering: in the cluster's thread, how long each agent was down and why the
    /// episode ended.
    pub fn chat(&self) -> ChatMessage {
        let c = &self.cluster_arn;
        let n = self.episodes.len();
        let mut description = format!(
            "{n} ECS agent alert{} closed in cluster {} ({}, account {}).\n",
            plural(n),
            markdown_link(c.name(), console::cluster(c).as_deref()),
            c.region(),
            c.account()
        );
        const LISTED: usize = 20;
        for e in self.episodes.iter().take(LISTED) {
            let _ = write!(
                description,
                "\n• `{}`: {} after {}{}",
                e.node_id,
                e.resolution
                    .as_ref()
                    .map(Resolution::describe)
                    .unwrap_or_else(|| "closed".into()),
                human_duration(e.downtime(self.checked_at)),
                if auto_remediated(e) {
                    " (auto-remediated)"
                } else {
                    ""
                }
            );
        }
        if n > LISTED {
            let _ = write!(description, "\n…and {} more", n - LISTED);
        }
        ChatMessage {
            title: format!(
                "{} · ECS agents back: {n} instance{} in {}",
                severity_badge(Severity::Info, true),
                plural(n),
                c.name()
            ),
            description,
            next_steps: Vec::new(),
            keywords: vec![c.name().to_owned(), "resolved".to_owned()],
            thread_id: thread_id(c),
            summary: self.subject(),
            event_type: "agent-resolved".to_owned(),
            related_resources: self
                .episodes
                .iter()
                .map(|e| e.container_instance_arn.clone())
                .collect(),
            additional_context: chat_context(c, self.episodes.iter().map(|e| &e.node_id)),
        }
    }

    /// The message to send: one per cluster, `kind` = `["resolved"]`, `severity` = `info`.
    pub fn notification(&self) -> Result<Notification, serde_json::Error> {
        Ok(Notification {
            monitor: Monitor::Agent,
            notice: Notice::Resolved,
            cluster: self.cluster_arn.clone(),
            service: None,
            kinds: vec!["resolved".to_owned()],
            severity: Severity::Info,
            about: self
                .episodes
                .iter()
                .map(|e| e.container_instance_arn.clone())
                .collect(),
            subject: self.subject(),
            message: self.sns_message()?,
            chat: self.chat(),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedDocument {
    pub schema_version: &'static str,
    pub source: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub notice: &'static str,
    pub account: String,
    pub region: String,
    /// The same shape as in alerts.
    pub cluster: ClusterDoc,
    pub checked_at: DateTime<Utc>,
    pub instance_count: usize,
    pub omitted_node_ids: Vec<String>,
    pub instances: Vec<ResolvedInstanceDoc>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedInstanceDoc {
    pub container_instance_arn: String,
    pub node_id: NodeId,
    pub node_type: NodeKind,
    /// The alert kind the episode was opened with.
    pub kind: &'static str,
    /// `agent-reconnected` or `instance-gone`.
    pub resolution: &'static str,
    pub detail: Option<String>,
    pub down_since: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub downtime_seconds: i64,
    pub actions: Vec<ActionDoc>,
    /// The agent came back after a remediation action succeeded.
    pub auto_remediated: bool,
    pub console_url: Option<String>,
}

/// The agent reconnected after a remediation action that went through (not a dry run, not
/// one refused by the hourly limit).
pub fn auto_remediated(e: &Episode) -> bool {
    e.resolution == Some(Resolution::AgentReconnected)
        && e.remediations
            .iter()
            .any(|r| r.outcome == Outcome::Succeeded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::AlertKind;
    use crate::episode::{EpisodeState, Phase, RemediationRecord};
    use chrono::{TimeDelta, TimeZone};

    fn episode(node: &str, resolution: Resolution, down_minutes: i64) -> Episode {
        let resolved_at = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
        Episode {
            container_instance_arn: format!("arn:aws:ecs:us-east-1:1:container-instance/c/{node}"),
            cluster_arn: ClusterArn::parse("arn:aws:ecs:us-east-1:1:cluster/payments").unwrap(),
            node_id: NodeId::parse(node).unwrap(),
            kind: AlertKind::AgentDisconnected,
            state: EpisodeState {
                phase: Phase::Resolved,
                first_seen_at: resolved_at - TimeDelta::minutes(down_minutes),
                opened_at: None,
                last_seen_at: resolved_at,
                resolved_at: Some(resolved_at),
                pending: None,
                notices_sent: 1,
                last_notice_at: None,
                alert_sent: true,
            },
            resolution: Some(resolution),
            remediations: vec![],
            version: 3,
        }
    }

    /// The alert, reminder and RESOLVED of one cluster's agents as chat documents: each
    /// valid against the custom notification schema, all in one thread, with the ids the
    /// "Restart agent" button reads.
    #[test]
    fn chat_renderings_are_valid_and_share_the_clusters_thread() {
        use crate::alert::{AffectedInstance, ClusterAlert};
        use sentinel_core::chat::validate;
        let cluster = ClusterArn::parse("arn:aws:ecs:us-east-1:1:cluster/payments").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
        let affected = |node: &str, kind| AffectedInstance {
            kind,
            container_instance_arn: format!("arn:aws:ecs:us-east-1:1:container-instance/c/{node}"),
            node_id: NodeId::parse(node).unwrap(),
            instance_type: Some("m7g.large".into()),
            availability_zone: Some("us-east-1a".into()),
            agent_version: Some("1.82.0".into()),
            node_state: "running".into(),
            platform: None,
            disconnected_since: Some(at - TimeDelta::minutes(7)),
            remediations: vec![],
        };
        let mut alert = ClusterAlert {
            cluster_arn: cluster.clone(),
            checked_at: at,
            instances: vec![
                affected("i-0a", AlertKind::AgentDisconnected),
                affected("mi-0123456789abcdef0", AlertKind::NodeUnreachable),
            ],
            reminder: false,
        };
        let first = alert.notification().unwrap().chat.document();
        alert.reminder = true;
        let reminder = alert.notification().unwrap().chat.document();
        let resolved = ClusterResolved {
            cluster_arn: cluster,
            checked_at: at,
            episodes: vec![episode("i-0a", Resolution::AgentReconnected, 30)],
        }
        .notification()
        .unwrap()
        .chat
        .document();
        for doc in [&first, &reminder, &resolved] {
            assert_eq!(validate(doc), Ok(()), "{doc:#}");
            assert_eq!(
                doc["metadata"]["threadId"],
                "ecs-sentinel-agent-1-us-east-1-payments"
            );
            assert_eq!(
                doc["metadata"]["additionalContext"]["ClusterName"],
                "payments"
            );
            assert_eq!(doc["metadata"]["additionalContext"]["Monitor"], "agent");
        }
        assert_eq!(
            first["content"]["title"],
            "🔴 CRITICAL · ECS agent disconnected or node unreachable: 2 instances in payments"
        );
        assert_eq!(first["metadata"]["eventType"], "agent-alert");
        assert_eq!(
            first["metadata"]["additionalContext"]["InstanceIds"],
            "i-0a,mi-0123456789abcdef0"
        );
        assert_eq!(
            first["content"]["nextSteps"].as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(
            first["content"]["keywords"],
            serde_json::json!(["payments", "agent-disconnected", "node-unreachable"])
        );
        assert!(reminder["content"]["title"]
            .as_str()
            .unwrap_or_default()
            .contains("Reminder, still down"));
        assert_eq!(reminder["metadata"]["eventType"], "agent-reminder");
        assert_eq!(
            resolved["content"]["title"],
            "✅ RESOLVED · ECS agents back: 1 instance in payments"
        );
        assert_eq!(resolved["metadata"]["eventType"], "agent-resolved");
        let description = resolved["content"]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(
            description.contains("• `i-0a`: ") && description.ends_with(" after 30 min"),
            "{description}"
        );
    }

    #[test]
    fn says_how_long_and_why_and_what_was_done() {
        let mut gone = episode(
            "i-0b",
            Resolution::InstanceGone {
                why: "EC2 instance is terminated".into(),
            },
            180,
        );
        gone.remediations.push(RemediationRecord {
            action: "reboot".into(),
            at: Utc.with_ymd_and_hms(2026, 11, 21, 9, 30, 0).unwrap(),
            outcome: Outcome::Succeeded,
            detail: "reboot requested".into(),
        });
        let r = ClusterResolved {
            cluster_arn: gone.cluster_arn.clone(),
            checked_at: Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap(),
            episodes: vec![episode("i-0a", Resolution::AgentReconnected, 12), gone],
        };
        assert_eq!(
            r.subject(),
            "[RESOLVED] ECS agent episode closed: 2 instances in payments"
        );
        let text = r.text();
        for expected in [
            "resolved:           the agent reconnected",
            "down for:           12 min",
            "the instance is gone (EC2 instance is terminated)",
            "down for:           3 h 00 min",
            "reboot at 09:30:00: succeeded",
            "nothing (alert only)",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        let message: serde_json::Value = serde_json::from_str(&r.sns_message().unwrap()).unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(message["default"].as_str().unwrap()).unwrap();
        assert_eq!(doc["type"], "agent-resolved");
        assert_eq!(doc["instances"][0]["resolution"], "agent-reconnected");
        assert_eq!(doc["instances"][0]["downtimeSeconds"], 720);
        assert_eq!(doc["instances"][1]["actions"][0]["action"], "reboot");
        let attributes = r.notification().unwrap().attributes();
        assert_eq!(attributes[1].value, r#"["resolved"]"#);
        assert_eq!(attributes[2].value, "info");
    }

    #[test]
    fn a_reconnect_after_a_successful_action_is_auto_remediated() {
        let mut e = episode("i-0a", Resolution::AgentReconnected, 5);
        assert!(!auto_remediated(&e));
        e.remediations.push(RemediationRecord {
            action: "restart-agent".into(),
            at: e.state.first_seen_at,
            outcome: Outcome::DryRun,
            detail: "would restart the ECS agent".into(),
        });
        assert!(!auto_remediated(&e), "a dry run fixes nothing");
        e.remediations.push(RemediationRecord {
            action: "restart-agent".into(),
            at: e.state.first_seen_at,
            outcome: Outcome::Succeeded,
            detail: "command 42".into(),
        });
        assert!(auto_remediated(&e));
        let r = ClusterResolved {
            cluster_arn: e.cluster_arn.clone(),
            checked_at: Utc::now(),
            episodes: vec![e],
        };
        assert!(r.text().contains("(auto-remediated)"));
        assert!(r.document().instances[0].auto_remediated);
    }

    #[test]
    fn all_reconnected_reads_as_reconnected() {
        let r = ClusterResolved {
            cluster_arn: ClusterArn::parse("arn:aws:ecs:us-east-1:1:cluster/api").unwrap(),
            checked_at: Utc::now(),
            episodes: vec![episode("i-0a", Resolution::AgentReconnected, 1)],
        };
        assert_eq!(
            r.subject(),
            "[RESOLVED] ECS agent reconnected: 1 instance in api"
        );
    }
}
