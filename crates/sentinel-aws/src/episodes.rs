//! The alert-state table (DynamoDB): one item per container instance, holding its latest
//! disconnection episode. Every write is conditional on the version it read, so two runs
//! racing on one instance cannot both open (and notify) the same episode.

use crate::AwsError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem};
use chrono::{DateTime, TimeDelta, Utc};
use futures::future::try_join_all;
use sentinel_agent::episode::{
    Episode, EpisodeState, Notice, Phase, RemediationRecord, Resolution,
};
use sentinel_agent::remediation::Outcome;
use sentinel_agent::{AlertKind, NodeId};
use sentinel_core::ClusterArn;
use std::collections::{HashMap, HashSet};

/// BatchGetItem takes at most 100 keys per call.
pub const KEYS_PER_CALL: usize = 100;
/// TransactWriteItems takes at most 100 actions per call.
pub const ITEMS_PER_TRANSACTION: usize = 100;
/// Resolved episodes are deleted by DynamoDB's TTL this long after their last write.
pub const RETENTION: TimeDelta = TimeDelta::days(30);
/// A suspicion the sweep never confirmed or dropped (its cluster went away) expires sooner.
pub const SUSPICION_RETENTION: TimeDelta = TimeDelta::days(1);
/// BatchGetItem may leave keys unprocessed under load; they are asked for again this often.
const UNPROCESSED_ROUNDS: usize = 5;

/// The outcome of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Stored; the item now has this version.
    Stored { version: u64 },
    /// Someone else changed the item since it was read: nothing was written.
    Conflict,
}

/// A stored item that is not a readable episode: its key, and why. It costs only itself:
/// the sweep skips it, the event path leaves its records to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub key: String,
    pub why: String,
}

/// The episodes of some container instances, by ARN, and the items that were unreadable.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub episodes: HashMap<String, Episode>,
    pub unreadable: Vec<Unreadable>,
}

/// Every readable episode, and the stored items that were not.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub episodes: Vec<Episode>,
    pub unreadable: Vec<Unreadable>,
}

#[derive(Debug, Clone)]
pub struct EpisodeStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl EpisodeStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        EpisodeStore {
            client,
            table: table.into(),
        }
    }

    /// The stored episodes of these container instances, by ARN. One call per 100 keys
    /// (plus one per round of keys DynamoDB left unprocessed). An item that cannot be read
    /// as an episode is returned apart, so it fails only its own instance.
    pub async fn get_many(&self, arns: &[String]) -> Result<Found, AwsError> {
        let mut unique: Vec<&String> = arns.iter().collect();
        unique.sort();
        unique.dedup();
        let calls = unique
            .chunks(KEYS_PER_CALL)
            .map(|chunk| self.get_chunk(chunk));
        let mut found = Found::default();
        for items in try_join_all(calls).await? {
            for item in items {
                match from_item(&item) {
                    Ok(episode) => {
                        found
                            .episodes
                            .insert(episode.container_instance_arn.clone(), episode);
                    }
                    Err(err) => found.unreadable.push(Unreadable {
                        key: item_key(&item),
                        why: err.message,
                    }),
                }
            }
        }
        Ok(found)
    }

    async fn get_chunk(
        &self,
        arns: &[&String],
    ) -> Result<Vec<HashMap<String, AttributeValue>>, AwsError> {
        let keys = arns
            .iter()
            .map(|arn| HashMap::from([("pk".to_owned(), AttributeValue::S((*arn).clone()))]))
            .collect();
        let mut request = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| AwsError::new("dynamodb", "BatchGetItem", e.to_string()))?,
        );
        let mut found = Vec::new();
        for _ in 0..UNPROCESSED_ROUNDS {
            let Some(keys) = request.take() else { break };
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, keys)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("dynamodb", "BatchGetItem", e))?;
            if let Some(items) = output.responses().and_then(|r| r.get(&self.table)) {
                found.extend(items.iter().cloned());
            }
            request = output
                .unprocessed_keys()
                .and_then(|u| u.get(&self.table))
                .filter(|k| !k.keys().is_empty())
                .cloned();
        }
        if request.is_some() {
            return Err(AwsError::new(
                "dynamodb",
                "BatchGetItem",
                "keys stayed unprocessed after several rounds (table throttled)",
            ));
        }
        Ok(found)
    }

    /// Writes `episode` if the stored item still has `episode.version` (0: no item).
    pub async fn put(&self, episode: &Episode, now: DateTime<Utc>) -> Result<Written, AwsError> {
        let mut next = episode.clone();
        next.version = episode.version + 1;
        self.put_versioned(to_item(&next, now), episode.version)
            .await
    }

    /// Writes every episode, each if its stored item still has the version it carries, in
    /// as few calls as DynamoDB allows: one TransactWriteItems per 100 episodes (a single
    /// episode takes a PutItem, half the cost). Returns one answer per episode, in order.
    ///
    /// A transaction is all or nothing: when some items' conditions fail, DynamoDB cancels it
    /// and names them; those are conflicts (unless the item carries this call's write id: a
    /// committed attempt whose answer was lost), and the rest go again without them.
    pub async fn put_all(
        &self,
        episodes: &[Episode],
        now: DateTime<Utc>,
    ) -> Result<Vec<Written>, AwsError> {
        let mut answers = Vec::with_capacity(episodes.len());
        for chunk in episodes.chunks(ITEMS_PER_TRANSACTION) {
            answers.extend(self.put_chunk(chunk, now).await?);
        }
        Ok(answers)
    }

    async fn put_chunk(
        &self,
        chunk: &[Episode],
        now: DateTime<Utc>,
    ) -> Result<Vec<Written>, AwsError> {
        let mut answers: Vec<Option<Written>> = vec![None; chunk.len()];
        // Each round settles at least one item, so this ends.
        for _ in 0..=chunk.len() {
            let pending: Vec<usize> = (0..chunk.len()).filter(|i| answers[*i].is_none()).collect();
            match pending.as_slice() {
                [] => break,
                [only] => {
                    answers[*only] = Some(self.put(&chunk[*only], now).await?);
                    break;
                }
                _ => {}
            }
            let write_id = fastrand::u64(..);
            let mut items = Vec::with_capacity(pending.len());
            for i in &pending {
                let episode = &chunk[*i];
                let mut next = episode.clone();
                next.version = episode.version + 1;
                let mut item = to_item(&next, now);
                item.insert(WRITE_ID.to_owned(), number(write_id));
                let (condition, values) = expecting(episode.version);
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression(condition)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(|e| AwsError::new("dynamodb", "TransactWriteItems", e.to_string()))?;
                items.push(TransactWriteItem::builder().put(put).build());
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let reasons = match result {
                Ok(_) => {
                    for i in &pending {
                        answers[*i] = Some(Written::Stored {
                            version: chunk[*i].version + 1,
                        });
                    }
                    break;
                }
                Err(e) => match e.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                        cancelled
                            .cancellation_reasons()
                            .iter()
                            .map(|r| r.code().unwrap_or("None").to_owned())
                            .collect::<Vec<_>>()
                    }
                    _ => return Err(AwsError::from_sdk("dynamodb", "TransactWriteItems", e)),
                },
            };
            let failed: Vec<usize> = pending
                .iter()
                .zip(&reasons)
                .filter(|(_, code)| {
                    matches!(
                        code.as_str(),
                        "ConditionalCheckFailed" | "TransactionConflict"
                    )
                })
                .map(|(i, _)| *i)
                .collect();
            if failed.is_empty() {
                return Err(AwsError::new(
                    "dynamodb",
                    "TransactWriteItems",
                    format!("transaction cancelled for reasons that name no conflict: {reasons:?}"),
                ));
            }
            let keys: Vec<String> = failed
                .iter()
                .map(|i| chunk[*i].container_instance_arn.clone())
                .collect();
            if !self.written_by(&keys, write_id).await?.is_empty() {
                // An earlier attempt of this very transaction committed (its answer was
                // lost, the SDK retried): a transaction is all or nothing, so every pending
                // item is stored.
                for i in &pending {
                    answers[*i] = Some(Written::Stored {
                        version: chunk[*i].version + 1,
                    });
                }
                break;
            }
            // Real conflicts: settled as such; the rest go again without them.
            for i in failed {
                answers[i] = Some(Written::Conflict);
            }
        }
        answers
            .into_iter()
            .map(|a| {
                a.ok_or_else(|| {
                    AwsError::new("dynamodb", "TransactWriteItems", "items left unsettled")
                })
            })
            .collect()
    }

    /// Which of these items carry `write_id` (one BatchGetItem per 100 keys).
    async fn written_by(
        &self,
        keys: &[String],
        write_id: u64,
    ) -> Result<HashSet<String>, AwsError> {
        let mut ours = HashSet::new();
        for chunk in keys.chunks(KEYS_PER_CALL) {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(
                    chunk
                        .iter()
                        .map(|k| HashMap::from([("pk".to_owned(), text(k))]))
                        .collect(),
                ))
                .projection_expression("pk, #w")
                .expression_attribute_names("#w", WRITE_ID)
                .consistent_read(true)
                .build()
                .map_err(|e| AwsError::new("dynamodb", "BatchGetItem", e.to_string()))?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("dynamodb", "BatchGetItem", e))?;
            for item in output
                .responses()
                .and_then(|r| r.get(&self.table))
                .into_iter()
                .flatten()
            {
                if item.get(WRITE_ID) == Some(&number(write_id)) {
                    ours.insert(item_key(item));
                }
            }
        }
        Ok(ours)
    }

    /// The one versioned conditional write: stores `item` (which carries `version` =
    /// `expected` + 1) if the stored item still has version `expected` (0: no item).
    ///
    /// Every write carries a fresh write id. A write that commits but whose answer is lost is
    /// retried by the SDK, and the retry meets the write itself as a conflict; so on a
    /// conflict the item is read back, and if it carries this write's id, the write is ours
    /// and stored. A real conflict costs that one extra read.
    async fn put_versioned(
        &self,
        mut item: HashMap<String, AttributeValue>,
        expected: u64,
    ) -> Result<Written, AwsError> {
        let key = item.get("pk").cloned().unwrap_or_else(|| text(""));
        let write_id = fastrand::u64(..);
        item.insert(WRITE_ID.to_owned(), number(write_id));
        let (condition, values) = expecting(expected);
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(values);
        match request.send().await {
            Ok(_) => Ok(Written::Stored {
                version: expected + 1,
            }),
            Err(e) if is_conflict(e.as_service_error()) => {
                let stored = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .key("pk", key)
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("dynamodb", "GetItem", e))?;
                let ours = stored
                    .item()
                    .and_then(|i| i.get(WRITE_ID))
                    .is_some_and(|id| *id == number(write_id));
                if ours {
                    tracing::info!(
                        "a write whose answer was lost had committed; it counts as stored"
                    );
                    Ok(Written::Stored {
                        version: expected + 1,
                    })
                } else {
                    Ok(Written::Conflict)
                }
            }
            Err(e) => Err(AwsError::from_sdk("dynamodb", "PutItem", e)),
        }
    }

    /// Deletes the item if it still has `episode.version`.
    pub async fn delete(&self, episode: &Episode) -> Result<Written, AwsError> {
        let (condition, values) = expecting(episode.version);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(
                "pk",
                AttributeValue::S(episode.container_instance_arn.clone()),
            )
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Written::Stored {
                version: episode.version,
            }),
            Err(e) if is_conflict(e.as_service_error()) => Ok(Written::Conflict),
            Err(e) => Err(AwsError::from_sdk("dynamodb", "DeleteItem", e)),
        }
    }

    /// Every stored episode, for the sweep, page by page. Resolved ones are included: a
    /// new episode on the same instance must be written against their version. The table
    /// holds one item per instance seen down in the last 30 days, so this stays small.
    /// Items that cannot be read as episodes are returned apart as (key, why), so one bad
    /// item costs only itself.
    pub async fn all(&self) -> Result<Listing, AwsError> {
        let mut listing = Listing::default();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
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
        &self,
        cluster: &ClusterArn,
        now: DateTime<Utc>,
        budget: usize,
    ) -> Result<bool, AwsError> {
        let key = format!("{WINDOW_PREFIX}{}", cluster.as_str());
        for _ in 0..WINDOW_TRIES {
            let output = self
                .client
                .get_item()
                .table_name(&self.table)
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
            match self.put_versioned(item, version).await? {
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
}

const WINDOW_PREFIX: &str = "remediation#";
/// The attribute holding the id of the write that stored an item.
const WRITE_ID: &str = "write_id";
const WINDOW_TRIES: usize = 5;

/// Agent episodes are keyed by their container instance ARN; the table also holds the
/// remediation windows (`remediation#…`) and other monitors' episodes (`tasks#…`).
fn is_episode(item: &HashMap<String, AttributeValue>) -> bool {
    item.get("pk")
        .and_then(|v| v.as_s().ok())
        .is_some_and(|pk| pk.starts_with("arn:") && pk.contains(":container-instance/"))
}

/// The condition of every versioned write: the item is still at `version` (0: no item yet).
/// Returns the condition expression and its values, for any of DynamoDB's write requests.
fn expecting(version: u64) -> (&'static str, Option<HashMap<String, AttributeValue>>) {
    if version == 0 {
        ("attribute_not_exists(pk)", None)
    } else {
        (
            "version = :expected",
            Some(HashMap::from([(":expected".to_owned(), number(version))])),
        )
    }
}

fn is_conflict(error: Option<&impl aws_sdk_dynamodb::error::ProvideErrorMetadata>) -> bool {
    error.and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

fn number(n: impl ToString) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn text(s: impl Into<String>) -> AttributeValue {
    AttributeValue::S(s.into())
}

fn time(t: DateTime<Utc>) -> AttributeValue {
    number(t.timestamp())
}

fn to_item(e: &Episode, now: DateTime<Utc>) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("pk".to_owned(), text(&e.container_instance_arn)),
        ("cluster".to_owned(), text(e.cluster_arn.as_str())),
        ("node".to_owned(), text(e.node_id.as_str())),
        ("kind".to_owned(), text(e.kind.as_str())),
        ("status".to_owned(), text(e.state.phase.as_str())),
        ("first_seen".to_owned(), time(e.state.first_seen_at)),
        ("last_seen".to_owned(), time(e.state.last_seen_at)),
        ("notices".to_owned(), number(e.state.notices_sent)),
        (
            "alert_sent".to_owned(),
            AttributeValue::Bool(e.state.alert_sent),
        ),
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
    optional("opened_at", e.state.opened_at.map(time));
    optional("resolved_at", e.state.resolved_at.map(time));
    optional("last_notice_at", e.state.last_notice_at.map(time));
    optional("resolution", e.resolution.as_ref().map(|r| text(r.code())));
    optional(
        "resolution_detail",
        match &e.resolution {
            Some(Resolution::InstanceGone { why }) => Some(text(why)),
            _ => None,
        },
    );
    optional("pending", e.state.pending.map(|(n, _)| text(n.as_str())));
    optional("pending_since", e.state.pending.map(|(_, t)| time(t)));
    item
}

/// Reads an item back; a malformed item is an error naming the item and the field, never
/// a guess.
fn item_key(item: &HashMap<String, AttributeValue>) -> String {
    item.get("pk")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Episode, AwsError> {
    let pk = item_key(item);
    let bad = |field: &str| {
        AwsError::new(
            "dynamodb",
            "read",
            format!("alert-state item {pk:?} has a missing or invalid {field:?}"),
        )
    };
    let s = |field: &str| item.get(field).and_then(|v| v.as_s().ok());
    let n = |field: &str| {
        item.get(field)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };
    let t = |field: &str| n(field).and_then(|secs| DateTime::from_timestamp(secs, 0));
    let required_time = |field: &str| t(field).ok_or_else(|| bad(field));

    let kind = match s("kind").map(String::as_str) {
        Some("agent-disconnected") => AlertKind::AgentDisconnected,
        Some("node-unreachable") => AlertKind::NodeUnreachable,
        _ => return Err(bad("kind")),
    };
    let resolution = match s("resolution").map(String::as_str) {
        None => None,
        Some("agent-reconnected") => Some(Resolution::AgentReconnected),
        Some("instance-gone") => Some(Resolution::InstanceGone {
            why: s("resolution_detail").cloned().unwrap_or_default(),
        }),
        Some(_) => return Err(bad("resolution")),
    };
    let pending = match (s("pending"), t("pending_since")) {
        (None, _) => None,
        (Some(notice), Some(since)) => {
            Some((Notice::parse(notice).ok_or_else(|| bad("pending"))?, since))
        }
        (Some(_), None) => return Err(bad("pending_since")),
    };
    let remediations = match item.get("actions") {
        None => Vec::new(),
        Some(list) => list
            .as_l()
            .map_err(|_| bad("actions"))?
            .iter()
            .map(|a| {
                let m = a.as_m().map_err(|_| bad("actions"))?;
                let (outcome, detail) = m
                    .get("outcome")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|text| Outcome::parse_text(text))
                    .ok_or_else(|| bad("actions.outcome"))?;
                Ok(RemediationRecord {
                    action: m
                        .get("action")
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .ok_or_else(|| bad("actions.action"))?,
                    at: m
                        .get("at")
                        .and_then(|v| v.as_n().ok())
                        .and_then(|v| v.parse::<i64>().ok())
                        .and_then(|secs| DateTime::from_timestamp(secs, 0))
                        .ok_or_else(|| bad("actions.at"))?,
                    outcome,
                    detail,
                })
            })
            .collect::<Result<_, AwsError>>()?,
    };
    Ok(Episode {
        container_instance_arn: s("pk").cloned().ok_or_else(|| bad("pk"))?,
        cluster_arn: s("cluster")
            .and_then(|c| ClusterArn::parse(c).ok())
            .ok_or_else(|| bad("cluster"))?,
        node_id: s("node")
            .and_then(|c| NodeId::parse(c).ok())
            .ok_or_else(|| bad("node"))?,
        kind,
        state: EpisodeState {
            phase: s("status")
                .and_then(|v| Phase::parse(v))
                .ok_or_else(|| bad("status"))?,
            first_seen_at: required_time("first_seen")?,
            opened_at: t("opened_at"),
            last_seen_at: required_time("last_seen")?,
            resolved_at: t("resolved_at"),
            pending,
            notices_sent: n("notices")
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| bad("notices"))?,
            last_notice_at: t("last_notice_at"),
            alert_sent: item
                .get("alert_sent")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
        },
        resolution,
        remediations,
        version: n("version")
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| bad("version"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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
