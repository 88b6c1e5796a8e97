//! The agent monitor's episodes in the alert-state table (DynamoDB): one item per container
//! instance, holding its latest disconnection episode, written through the shared
//! [`VersionedTable`] (conditional on the version read, batched in transactions).

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};
use sentinel_agent::episode::{Episode, Phase, RemediationRecord, Resolution};
use sentinel_agent::remediation::Outcome;
use sentinel_agent::{AlertKind, NodeId};
use sentinel_aws::table::{
    item_key, number, text, time, write_state, Fields, Format, Table, Unreadable, Written,
};
use sentinel_aws::{AwsError, FromSdk};
use sentinel_core::ClusterArn;
use std::collections::HashMap;

/// Resolved episodes are deleted by DynamoDB's TTL this long after their last write.
pub const RETENTION: TimeDelta = TimeDelta::days(30);
/// A suspicion the sweep never confirmed or dropped (its cluster went away) expires sooner.
pub const SUSPICION_RETENTION: TimeDelta = TimeDelta::days(1);

/// Every readable episode, and the stored items that were not.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub episodes: Vec<Episode>,
    pub unreadable: Vec<Unreadable>,
}

/// The agent monitor's episodes in the alert table: one item per container instance, keyed
/// by its ARN, holding its latest disconnection episode; beside them, the remediation
/// windows ([`take_remediation_slot`]) and the sweep's scan ([`all`]).
pub type EpisodeStore = Table<EpisodeFormat>;

/// How an agent episode is kept in the alert table.
pub struct EpisodeFormat;

impl Format for EpisodeFormat {
    type Item = Episode;
    fn to_item(episode: &Episode, now: DateTime<Utc>) -> HashMap<String, AttributeValue> {
        to_item(episode, now)
    }
    fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Episode, AwsError> {
        from_item(item)
    }
}

/// Every stored episode, for the sweep, page by page. Resolved ones are included: a
/// new episode on the same instance must be written against their version. The table
/// holds one item per instance seen down in the last 30 days, so this stays small.
/// Items that cannot be read as episodes are returned apart as (key, why), so one bad
/// item costs only itself.
pub async fn all(store: &EpisodeStore) -> Result<Listing, AwsError> {
    let mut listing = Listing::default();
    let mut pages = store
        .versioned()
        .client
        .scan()
        .table_name(&store.versioned().table)
        .consistent_read(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("dynamodb", "Scan", e))?;
        // Only agent episodes: not remediation windows, not other monitors' episodes.
        for item in page.items().iter().filter(|i| is_episode(i)) {
            match from_item(item) {
                Ok(episode) => listing.episodes.push(episode),
                Err(err) => listing.unreadable.push(Unreadable {
                    key: item_key(item),
                    why: err.message,
                }),
            }
        }
    }
    Ok(listing)
}

/// Takes a remediation slot for `cluster` if fewer than `budget` actions were taken in
/// the last hour; returns whether one was taken. The window is one item per cluster,
/// written on the version read, so concurrent runs cannot both take the last slot.
pub async fn take_remediation_slot(
    store: &EpisodeStore,
    cluster: &ClusterArn,
    now: DateTime<Utc>,
    budget: usize,
) -> Result<bool, AwsError> {
    let key = format!("{WINDOW_PREFIX}{}", cluster.as_str());
    for _ in 0..WINDOW_TRIES {
        let output = store
            .versioned()
            .client
            .get_item()
            .table_name(&store.versioned().table)
            .key("pk", text(&key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("dynamodb", "GetItem", e))?;
        let item = output.item();
        let version = item
            .and_then(|i| i.get("version"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let recent: Vec<DateTime<Utc>> = item
            .and_then(|i| i.get("times"))
            .and_then(|v| v.as_l().ok())
            .map(|times| {
                times
                    .iter()
                    .filter_map(|t| t.as_n().ok()?.parse::<i64>().ok())
                    .filter_map(|secs| DateTime::from_timestamp(secs, 0))
                    .collect()
            })
            .unwrap_or_default();
        let (allowed, window) = sentinel_agent::remediation::take_slot(&recent, now, budget);
        if !allowed {
            return Ok(false);
        }
        let item = HashMap::from([
            ("pk".to_owned(), text(&key)),
            (
                "times".to_owned(),
                AttributeValue::L(window.into_iter().map(time).collect()),
            ),
            ("version".to_owned(), number(version + 1)),
            ("ttl".to_owned(), time(now + TimeDelta::hours(2))),
        ]);
        match store.versioned().put_versioned(item, version).await? {
            Written::Stored { .. } => return Ok(true),
            Written::Conflict => continue,
        }
    }
    Err(AwsError::new(
        "dynamodb",
        "PutItem",
        format!("the remediation window of {cluster} kept changing under concurrent runs"),
    ))
}

const WINDOW_PREFIX: &str = "remediation#";
const WINDOW_TRIES: usize = 5;

/// Agent episodes are keyed by their container instance ARN; the table also holds the
/// remediation windows (`remediation#…`) and other monitors' episodes (`tasks#…`).
/// An agent episode's item (keyed by a container instance ARN), not a remediation window
/// or another monitor's episode.
pub fn is_episode(item: &HashMap<String, AttributeValue>) -> bool {
    item.get("pk")
        .and_then(|v| v.as_s().ok())
        .is_some_and(|pk| pk.starts_with("arn:") && pk.contains(":container-instance/"))
}

fn to_item(e: &Episode, now: DateTime<Utc>) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("pk".to_owned(), text(&e.container_instance_arn)),
        ("cluster".to_owned(), text(e.cluster_arn.as_str())),
        ("node".to_owned(), text(e.node_id.as_str())),
        ("kind".to_owned(), text(e.kind.as_str())),
        ("version".to_owned(), number(e.version)),
        (
            // Stored under the attribute name earlier versions wrote.
            "actions".to_owned(),
            AttributeValue::L(
                e.remediations
                    .iter()
                    .map(|r| {
                        AttributeValue::M(HashMap::from([
                            ("action".to_owned(), text(&r.action)),
                            ("at".to_owned(), time(r.at)),
                            ("outcome".to_owned(), text(r.text())),
                        ]))
                    })
                    .collect(),
            ),
        ),
    ]);
    write_state(&mut item, &e.state);
    let mut optional = |name: &str, value: Option<AttributeValue>| {
        if let Some(value) = value {
            item.insert(name.to_owned(), value);
        }
    };
    // Open episodes never expire: an agent down for months must not be alerted afresh
    // because its episode was cleaned up.
    optional(
        "ttl",
        match e.state.phase {
            Phase::Open => None,
            Phase::Suspected => Some(time(now + SUSPICION_RETENTION)),
            Phase::Resolved => Some(time(now + RETENTION)),
        },
    );
    optional("resolution", e.resolution.as_ref().map(|r| text(r.code())));
    optional(
        "resolution_detail",
        match &e.resolution {
            Some(Resolution::InstanceGone { why }) => Some(text(why)),
            _ => None,
        },
    );
    item
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Episode, AwsError> {
    let f = Fields::new(item);
    let kind = match f.s("kind").map(String::as_str) {
        Some("agent-disconnected") => AlertKind::AgentDisconnected,
        Some("node-unreachable") => AlertKind::NodeUnreachable,
        _ => return Err(f.bad("kind")),
    };
    let resolution = match f.s("resolution").map(String::as_str) {
        None => None,
        Some("agent-reconnected") => Some(Resolution::AgentReconnected),
        Some("instance-gone") => Some(Resolution::InstanceGone {
            why: f.s("resolution_detail").cloned().unwrap_or_default(),
        }),
        Some(_) => return Err(f.bad("resolution")),
    };
    let remediations = match f.get("actions") {
        None => Vec::new(),
        Some(list) => list
            .as_l()
            .map_err(|_| f.bad("actions"))?
            .iter()
            .map(|a| {
                let m = a.as_m().map_err(|_| f.bad("actions"))?;
                let (outcome, detail) = m
                    .get("outcome")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|text| Outcome::parse_text(text))
                    .ok_or_else(|| f.bad("actions.outcome"))?;
                Ok(RemediationRecord {
                    action: m
                        .get("action")
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .ok_or_else(|| f.bad("actions.action"))?,
                    at: m
                        .get("at")
                        .and_then(|v| v.as_n().ok())
                        .and_then(|v| v.parse::<i64>().ok())
                        .and_then(|secs| DateTime::from_timestamp(secs, 0))
                        .ok_or_else(|| f.bad("actions.at"))?,
                    outcome,
                    detail,
                })
            })
            .collect::<Result<_, AwsError>>()?,
    };
    Ok(Episode {
        container_instance_arn: f.required_s("pk")?.clone(),
        cluster_arn: f
            .s("cluster")
            .and_then(|c| ClusterArn::parse(c).ok())
            .ok_or_else(|| f.bad("cluster"))?,
        node_id: f
            .s("node")
            .and_then(|c| NodeId::parse(c).ok())
            .ok_or_else(|| f.bad("node"))?,
        kind,
        state: f.state()?,
        resolution,
        remediations,
        version: f.required_u64("version")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use sentinel_agent::episode::{EpisodeState, Notice};

    fn episode() -> Episode {
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        Episode {
            container_instance_arn: "arn:aws:ecs:us-east-1:1:container-instance/c/abc".into(),
            cluster_arn: ClusterArn::parse("arn:aws:ecs:us-east-1:1:cluster/c").unwrap(),
            node_id: NodeId::parse("mi-0abc").unwrap(),
            kind: AlertKind::NodeUnreachable,
            state: EpisodeState {
                phase: Phase::Resolved,
                first_seen_at: t,
                opened_at: Some(t),
                last_seen_at: t,
                resolved_at: Some(t),
                pending: Some((Notice::Resolved, t)),
                notices_sent: 2,
                last_notice_at: Some(t),
                alert_sent: true,
            },
            resolution: Some(Resolution::InstanceGone {
                why: "deregistered".into(),
            }),
            remediations: vec![RemediationRecord {
                action: "restart-agent".into(),
                at: t,
                outcome: Outcome::Succeeded,
                detail: "SSM command 42 restarts the agent".into(),
            }],
            version: 7,
        }
    }

    #[test]
    fn items_round_trip() {
        let e = episode();
        assert_eq!(from_item(&to_item(&e, Utc::now())).unwrap(), e);
        let mut minimal = episode();
        minimal.state.opened_at = None;
        minimal.state.resolved_at = None;
        minimal.resolution = None;
        minimal.state.pending = None;
        minimal.state.last_notice_at = None;
        minimal.remediations.clear();
        assert_eq!(from_item(&to_item(&minimal, Utc::now())).unwrap(), minimal);
    }

    #[test]
    fn only_closed_or_suspected_episodes_expire() {
        let now = Utc::now();
        let mut e = episode();
        let ttl = |e: &Episode| to_item(e, now).get("ttl").cloned();
        assert_eq!(ttl(&e), Some(time(now + RETENTION)));
        e.state.phase = Phase::Suspected;
        assert_eq!(ttl(&e), Some(time(now + SUSPICION_RETENTION)));
        e.state.phase = Phase::Open;
        assert_eq!(ttl(&e), None);
    }

    #[test]
    fn malformed_items_are_named_errors() {
        let mut item = to_item(&episode(), Utc::now());
        item.insert("status".into(), text("maybe"));
        let err = from_item(&item).unwrap_err();
        assert!(err.message.contains("\"status\""), "{err}");
        assert!(err.message.contains("container-instance/c/abc"), "{err}");
        item.remove("version");
        item.insert("status".into(), text("open"));
        assert!(from_item(&item).unwrap_err().message.contains("version"));
    }

    #[test]
    fn only_agent_episodes_are_episodes() {
        let keyed = |pk: &str| HashMap::from([("pk".to_owned(), text(pk))]);
        assert!(is_episode(&keyed(
            "arn:aws:ecs:us-east-1:1:container-instance/c/abc"
        )));
        assert!(!is_episode(&keyed(
            "remediation#arn:aws:ecs:us-east-1:1:cluster/c"
        )));
        assert!(!is_episode(&keyed(
            "tasks#arn:aws:ecs:us-east-1:1:cluster/c#service#api"
        )));
        assert!(!is_episode(&HashMap::new()));
    }
}
