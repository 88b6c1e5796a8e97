//! SQS records in, and the partial-batch answer out.
//!
//! A record whose body cannot be used is parked in the function's dead-letter queue with
//! its reason, then acknowledged: never retried forever, never dropped silently. A record
//! that could not even be parked stays on its queue (it is named in the answer) for another
//! try. Everything else is the function's own business.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};
use sentinel_aws::{DeadLetter, DeadLetterQueue};
use sentinel_core::event::InvalidEvent;
use std::collections::{BTreeSet, HashMap};

/// Why a body is unusable: human text (what was expected, what was found) and a short,
/// stable code for metrics and message attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: String,
    pub code: &'static str,
}

impl From<InvalidEvent> for Rejection {
    fn from(invalid: InvalidEvent) -> Self {
        Rejection {
            reason: invalid.to_string(),
            code: invalid.code(),
        }
    }
}

/// A batch after parsing.
#[derive(Debug)]
pub struct Parsed<T> {
    /// (record id, parsed body), in batch order.
    pub valid: Vec<(String, T)>,
    /// (record id, reason) of records parked in the dead-letter queue.
    pub dead_lettered: Vec<(String, String)>,
    /// Records that were unusable and could not be parked: SQS must deliver them again.
    pub unparked: BTreeSet<String>,
}

/// Parses every record's body with `parse`; parks the unusable ones (one SendMessageBatch
/// per 10 letters, none when all are usable).
pub async fn parse_or_park<T>(
    records: &[SqsMessage],
    parse: impl Fn(&str) -> Result<T, Rejection>,
    dead_letters: &DeadLetterQueue,
) -> Parsed<T> {
    let mut valid = Vec::new();
    let mut letters = Vec::new();
    for record in records {
        let record_id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or_default();
        match parse(body) {
            Ok(parsed) => valid.push((record_id, parsed)),
            Err(rejection) => {
                tracing::warn!(
                    record_id,
                    reason = rejection.reason,
                    code = rejection.code,
                    "unusable record: parking it in the dead-letter queue"
                );
                letters.push(DeadLetter {
                    record_id,
                    body: body.to_owned(),
                    reason: rejection.reason,
                    reason_code: rejection.code.to_owned(),
                });
            }
        }
    }
    let mut parsed = Parsed {
        valid,
        dead_lettered: Vec::new(),
        unparked: BTreeSet::new(),
    };
    if letters.is_empty() {
        return parsed;
    }
    let unparked: HashMap<String, _> = dead_letters.send(&letters).await.into_iter().collect();
    for letter in letters {
        match unparked.get(&letter.record_id) {
            Some(err) => {
                tracing::error!(record_id = letter.record_id, error = %err, "could not park the record; SQS will deliver it again");
                parsed.unparked.insert(letter.record_id);
            }
            None => parsed.dead_lettered.push((letter.record_id, letter.reason)),
        }
    }
    parsed
}

/// The answer for an SQS event source mapping with ReportBatchItemFailures: exactly these
/// records are delivered again; every other record of the batch is acknowledged.
pub fn batch_answer<'a>(failed: impl IntoIterator<Item = &'a String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id.clone();
            failure
        })
        .collect();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_names_exactly_the_failed_records() {
        let failed: BTreeSet<String> = ["m2", "m3"].map(str::to_owned).into();
        let answer = batch_answer(&failed);
        let ids: Vec<&str> = answer
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(ids, ["m2", "m3"]);
        assert!(batch_answer(&BTreeSet::new())
            .batch_item_failures
            .is_empty());
    }
}
