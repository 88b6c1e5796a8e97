//! The dead-letter writer: records the function cannot use are parked, with the reason,
//! in the dead-letter queue, and only then acknowledged. Nothing is silently dropped.

use crate::sdk::OnFirstUse;
use crate::{AwsError, FromSdk};
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use futures::future::join_all;

/// SendMessageBatch takes at most 10 messages per call…
pub const MESSAGES_PER_CALL: usize = 10;
/// …and at most 256 KiB of bodies and attributes together. Attributes are small; this
/// leaves them room.
pub const BYTES_PER_CALL: usize = 250 * 1024;

/// One unusable record on its way to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The SQS message id of the record in the batch.
    pub record_id: String,
    pub body: String,
    /// Human-readable: what was expected and what was found.
    pub reason: String,
    /// Stable code (not-json, missing-field, …).
    pub reason_code: String,
}

#[derive(Debug, Clone)]
pub struct DeadLetterQueue {
    client: OnFirstUse<aws_sdk_sqs::Client>,
    queue_url: String,
}

impl DeadLetterQueue {
    pub fn new(
        client: impl Into<OnFirstUse<aws_sdk_sqs::Client>>,
        queue_url: impl Into<String>,
    ) -> Self {
        DeadLetterQueue {
            client: client.into(),
            queue_url: queue_url.into(),
        }
    }

    /// Sends every letter; returns the record ids that could not be parked, with why, so the
    /// caller can leave them on the source queue for another try.
    pub async fn send(&self, letters: &[DeadLetter]) -> Vec<(String, AwsError)> {
        let calls = pack(letters)
            .into_iter()
            .map(|batch| self.send_batch(batch));
        join_all(calls).await.into_iter().flatten().collect()
    }

    async fn send_batch(&self, batch: Vec<&DeadLetter>) -> Vec<(String, AwsError)> {
        let mut entries = Vec::with_capacity(batch.len());
        for (index, letter) in batch.iter().enumerate() {
            match entry(index, letter) {
                Ok(e) => entries.push(e),
                Err(e) => {
                    return batch
                        .iter()
                        .map(|l| (l.record_id.clone(), e.clone()))
                        .collect()
                }
            }
        }
        match self
            .client
            .get()
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(output) => output
                .failed()
                .iter()
                .filter_map(|failed| {
                    let letter = failed
                        .id()
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| batch.get(i))?;
                    Some((
                        letter.record_id.clone(),
                        AwsError {
                            service: "sqs",
                            operation: "SendMessageBatch",
                            code: Some(failed.code().to_owned()),
                            message: failed.message().unwrap_or_default().to_owned(),
                        },
                    ))
                })
                .collect(),
            Err(e) => {
                let err = AwsError::from_sdk("sqs", "SendMessageBatch", e);
                batch
                    .iter()
                    .map(|l| (l.record_id.clone(), err.clone()))
                    .collect()
            }
        }
    }
}

fn entry(index: usize, letter: &DeadLetter) -> Result<SendMessageBatchRequestEntry, AwsError> {
    let text = |value: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .map_err(|e| AwsError::new("sqs", "SendMessageBatch", e.to_string()))
    };
    // SQS rejects empty bodies; an empty record still deserves to be seen.
    let body = if letter.body.is_empty() {
        "(empty body)".to_owned()
    } else {
        letter.body.clone()
    };
    SendMessageBatchRequestEntry::builder()
        .id(index.to_string())
        .message_body(body)
        .message_attributes("reason", text(&letter.reason)?)
        .message_attributes("reasonCode", text(&letter.reason_code)?)
        .message_attributes("sourceMessageId", text(&letter.record_id)?)
        .build()
        .map_err(|e| AwsError::new("sqs", "SendMessageBatch", e.to_string()))
}

/// Packs letters into as few SendMessageBatch calls as the count and size limits allow.
fn pack(letters: &[DeadLetter]) -> Vec<Vec<&DeadLetter>> {
    let mut batches: Vec<Vec<&DeadLetter>> = Vec::new();
    let mut bytes = 0;
    for letter in letters {
        let size = letter.body.len() + letter.reason.len() + letter.record_id.len() + 64;
        match batches.last_mut() {
            Some(batch) if batch.len() < MESSAGES_PER_CALL && bytes + size <= BYTES_PER_CALL => {
                batch.push(letter);
                bytes += size;
            }
            _ => {
                batches.push(vec![letter]);
                bytes = size;
            }
        }
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(body_len: usize) -> DeadLetter {
        DeadLetter {
            record_id: "m".into(),
            body: "x".repeat(body_len),
            reason: "r".into(),
            reason_code: "c".into(),
        }
    }

    #[test]
    fn packs_by_count_and_by_size() {
        let small: Vec<DeadLetter> = (0..23).map(|_| letter(10)).collect();
        let sizes: Vec<usize> = pack(&small).iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 3]);
        let big: Vec<DeadLetter> = (0..3).map(|_| letter(100 * 1024)).collect();
        let sizes: Vec<usize> = pack(&big).iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 1]);
        assert!(pack(&[]).is_empty());
    }
}
