//! A DynamoDB table of versioned items, shared by every monitor's state: one item per key
//! (`pk`), each carrying a `version`. Every write is conditional on the version it read, so
//! two runs racing on one key cannot both open (and notify) the same episode; batches of
//! writes go as transactions of up to 100; every write carries a write id, so a committed
//! write whose answer was lost is recognised, not taken for a conflict.
//!
//! A monitor says how its item type is stored ([`Format`]); reading, writing and the
//! conflict rules live here once.

use crate::{AwsError, FromSdk};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use futures::future::try_join_all;
use sentinel_core::notice::{EpisodeState, Notice, Phase};
use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;

/// BatchGetItem takes at most 100 keys per call.
pub const KEYS_PER_CALL: usize = 100;
/// TransactWriteItems takes at most 100 actions per call.
pub const ITEMS_PER_TRANSACTION: usize = 100;
/// BatchGetItem may leave keys unprocessed under load; they are asked for again this often.
const UNPROCESSED_ROUNDS: usize = 5;
/// The attribute holding the id of the write that stored an item.
const WRITE_ID: &str = "write_id";

/// How a monitor keeps its item type in the table: the monitor's own stored format (its
/// crate implements this on a type of its own), over the kernel's [`Versioned`] items.
pub trait Format {
    type Item: Versioned + Clone;
    /// The item to write, carrying `item.version()`.
    fn to_item(item: &Self::Item, now: DateTime<Utc>) -> HashMap<String, AttributeValue>;
    /// Reads an item back; a malformed item is an error naming the item and the field,
    /// never a guess.
    fn from_item(raw: &HashMap<String, AttributeValue>) -> Result<Self::Item, AwsError>;
}

pub use sentinel_core::store::{Found, Unreadable, Versioned, Written};

/// The table read and written as one monitor's item type: a [`VersionedTable`] with the
/// monitor's [`Format`] fixed, so a monitor's store is this type and nothing more.
pub struct Table<F> {
    table: VersionedTable,
    format: PhantomData<fn() -> F>,
}

impl<F> Clone for Table<F> {
    fn clone(&self) -> Self {
        Table {
            table: self.table.clone(),
            format: PhantomData,
        }
    }
}

impl<F> std::fmt::Debug for Table<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("table", &self.table.table)
            .finish()
    }
}

impl<F: Format> Table<F> {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Table {
            table: VersionedTable::new(client, table),
            format: PhantomData,
        }
    }

    /// The untyped table, for what a monitor keeps beside its items (the agent monitor's
    /// remediation windows, its scan).
    pub fn versioned(&self) -> &VersionedTable {
        &self.table
    }

    /// The stored items of these keys ([`VersionedTable::get_many`]).
    pub async fn get_many(&self, keys: &[String]) -> Result<Found<F::Item>, AwsError> {
        self.table.get_many::<F>(keys).await
    }

    /// Writes `item` if the stored item still has its version (0: no item).
    pub async fn put(&self, item: &F::Item, now: DateTime<Utc>) -> Result<Written, AwsError> {
        self.table.put::<F>(item, now).await
    }

    /// Writes every item at the batching lower bound ([`VersionedTable::put_all`]).
    pub async fn put_all(
        &self,
        items: &[F::Item],
        now: DateTime<Utc>,
    ) -> Result<Vec<Written>, AwsError> {
        self.table.put_all::<F>(items, now).await
    }

    /// Deletes the item if it still has its version.
    pub async fn delete(&self, item: &F::Item) -> Result<Written, AwsError> {
        self.table.delete(item).await
    }
}

#[derive(Debug, Clone)]
pub struct VersionedTable {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
}

impl VersionedTable {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        VersionedTable {
            client,
            table: table.into(),
        }
    }

    /// The stored items of these keys. One call per 100 keys (plus one per round of keys
    /// DynamoDB left unprocessed). An item that cannot be read is returned apart, so it
    /// fails only its own key.
    pub async fn get_many<F: Format>(&self, arns: &[String]) -> Result<Found<F::Item>, AwsError> {
        let mut unique: Vec<&String> = arns.iter().collect();
        unique.sort();
        unique.dedup();
        let calls = unique
            .chunks(KEYS_PER_CALL)
            .map(|chunk| self.get_chunk(chunk));
        let mut found = Found::default();
        for items in try_join_all(calls).await? {
            for item in items {
                match F::from_item(&item) {
                    Ok(episode) => {
                        found.episodes.insert(episode.key(), episode);
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

    /// Writes `stored` if the stored item still has `stored.version()` (0: no item).
    pub async fn put<F: Format>(
        &self,
        stored: &F::Item,
        now: DateTime<Utc>,
    ) -> Result<Written, AwsError> {
        let mut next = stored.clone();
        next.set_version(stored.version() + 1);
        self.put_versioned(F::to_item(&next, now), stored.version())
            .await
    }

    /// Writes every episode, each if its stored item still has the version it carries, in
    /// as few calls as DynamoDB allows: one TransactWriteItems per 100 episodes (a single
    /// episode takes a PutItem, half the cost). Returns one answer per episode, in order.
    ///
    /// A transaction is all or nothing: when some items' conditions fail, DynamoDB cancels it
    /// and names them; those are conflicts (unless the item carries this call's write id: a
    /// committed attempt whose answer was lost), and the rest go again without them.
    pub async fn put_all<F: Format>(
        &self,
        episodes: &[F::Item],
        now: DateTime<Utc>,
    ) -> Result<Vec<Written>, AwsError> {
        let mut answers = Vec::with_capacity(episodes.len());
        for chunk in episodes.chunks(ITEMS_PER_TRANSACTION) {
            answers.extend(self.put_chunk::<F>(chunk, now).await?);
        }
        Ok(answers)
    }

    async fn put_chunk<F: Format>(
        &self,
        chunk: &[F::Item],
        now: DateTime<Utc>,
    ) -> Result<Vec<Written>, AwsError> {
        let mut answers: Vec<Option<Written>> = vec![None; chunk.len()];
        // Each round settles at least one item, so this ends.
        for _ in 0..=chunk.len() {
            let pending: Vec<usize> = (0..chunk.len()).filter(|i| answers[*i].is_none()).collect();
            match pending.as_slice() {
                [] => break,
                [only] => {
                    answers[*only] = Some(self.put::<F>(&chunk[*only], now).await?);
                    break;
                }
                _ => {}
            }
            let write_id = fastrand::u64(..);
            let mut items = Vec::with_capacity(pending.len());
            for i in &pending {
                let episode = &chunk[*i];
                let mut next = episode.clone();
                next.set_version(episode.version() + 1);
                let mut item = F::to_item(&next, now);
                item.insert(WRITE_ID.to_owned(), number(write_id));
                let (condition, values) = expecting(episode.version());
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
                            version: chunk[*i].version() + 1,
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
            let keys: Vec<String> = failed.iter().map(|i| chunk[*i].key()).collect();
            if !self.written_by(&keys, write_id).await?.is_empty() {
                // An earlier attempt of this very transaction committed (its answer was
                // lost, the SDK retried): a transaction is all or nothing, so every pending
                // item is stored.
                for i in &pending {
                    answers[*i] = Some(Written::Stored {
                        version: chunk[*i].version() + 1,
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
    pub async fn put_versioned(
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

    /// Deletes the item if it still has `stored.version()`.
    pub async fn delete<T: Versioned>(&self, stored: &T) -> Result<Written, AwsError> {
        let episode = stored;
        let (condition, values) = expecting(episode.version());
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(episode.key()))
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Written::Stored {
                version: episode.version(),
            }),
            Err(e) if is_conflict(e.as_service_error()) => Ok(Written::Conflict),
            Err(e) => Err(AwsError::from_sdk("dynamodb", "DeleteItem", e)),
        }
    }
}

/// The condition of every versioned write: the item is still at `version` (0: no item yet).
/// Returns the condition expression and its values, for any of DynamoDB's write requests.
pub fn expecting(version: u64) -> (&'static str, Option<HashMap<String, AttributeValue>>) {
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

pub fn number(n: impl ToString) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

pub fn text(s: impl Into<String>) -> AttributeValue {
    AttributeValue::S(s.into())
}

pub fn time(t: DateTime<Utc>) -> AttributeValue {
    number(t.timestamp())
}

/// The `pk` of an item, or "" for an item without one.
pub fn item_key(item: &HashMap<String, AttributeValue>) -> String {
    item.get("pk")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// Reads the fields of one item; a missing or malformed field is an error naming the item
/// and the field, never a guess.
pub struct Fields<'a> {
    item: &'a HashMap<String, AttributeValue>,
    pk: String,
}

impl<'a> Fields<'a> {
    pub fn new(item: &'a HashMap<String, AttributeValue>) -> Self {
        Fields {
            item,
            pk: item_key(item),
        }
    }

    pub fn bad(&self, field: &str) -> AwsError {
        AwsError::new(
            "dynamodb",
            "read",
            format!(
                "alert-state item {:?} has a missing or invalid {field:?}",
                self.pk
            ),
        )
    }

    pub fn get(&self, field: &str) -> Option<&'a AttributeValue> {
        self.item.get(field)
    }

    pub fn s(&self, field: &str) -> Option<&'a String> {
        self.item.get(field).and_then(|v| v.as_s().ok())
    }

    pub fn n(&self, field: &str) -> Option<i64> {
        self.item
            .get(field)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
    }

    pub fn t(&self, field: &str) -> Option<DateTime<Utc>> {
        self.n(field)
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
    }

    pub fn required_s(&self, field: &str) -> Result<&'a String, AwsError> {
        self.s(field).ok_or_else(|| self.bad(field))
    }

    pub fn required_t(&self, field: &str) -> Result<DateTime<Utc>, AwsError> {
        self.t(field).ok_or_else(|| self.bad(field))
    }

    pub fn required_u64(&self, field: &str) -> Result<u64, AwsError> {
        self.n(field)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| self.bad(field))
    }

    /// The notice lifecycle's part of an episode (the same attributes for every monitor).
    pub fn state(&self) -> Result<EpisodeState, AwsError> {
        let pending = match (self.s("pending"), self.t("pending_since")) {
            (None, _) => None,
            (Some(notice), Some(since)) => Some((
                Notice::parse(notice).ok_or_else(|| self.bad("pending"))?,
                since,
            )),
            (Some(_), None) => return Err(self.bad("pending_since")),
        };
        Ok(EpisodeState {
            phase: self
                .s("status")
                .and_then(|v| Phase::parse(v))
                .ok_or_else(|| self.bad("status"))?,
            first_seen_at: self.required_t("first_seen")?,
            opened_at: self.t("opened_at"),
            last_seen_at: self.required_t("last_seen")?,
            resolved_at: self.t("resolved_at"),
            pending,
            notices_sent: self
                .n("notices")
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| self.bad("notices"))?,
            last_notice_at: self.t("last_notice_at"),
            alert_sent: self
                .item
                .get("alert_sent")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
        })
    }
}

/// Writes the notice lifecycle's part of an episode into `item`.
pub fn write_state(item: &mut HashMap<String, AttributeValue>, state: &EpisodeState) {
    item.insert("status".to_owned(), text(state.phase.as_str()));
    item.insert("first_seen".to_owned(), time(state.first_seen_at));
    item.insert("last_seen".to_owned(), time(state.last_seen_at));
    item.insert("notices".to_owned(), number(state.notices_sent));
    item.insert(
        "alert_sent".to_owned(),
        AttributeValue::Bool(state.alert_sent),
    );
    let optional = [
        ("opened_at", state.opened_at.map(time)),
        ("resolved_at", state.resolved_at.map(time)),
        ("last_notice_at", state.last_notice_at.map(time)),
        ("pending", state.pending.map(|(n, _)| text(n.as_str()))),
        ("pending_since", state.pending.map(|(_, t)| time(t))),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            item.insert(name.to_owned(), value);
        }
    }
}
