//! A local stand-in for Lambda's SQS event source mapping, for the demo and tests (dev-only):
//! receive a batch, hand it to the same handler code the Lambda runs, delete what it
//! acknowledged and leave the failures to come back after the visibility timeout, exactly
//! as the real event source mapping with ReportBatchItemFailures does.

use aws_lambda_events::event::sqs::SqsMessage;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use sentinel_aws::{AwsError, FromSdk};
use sentinel_lambda::BatchHandler;
use std::time::{Duration, Instant};

/// ReceiveMessage returns at most 10 messages per call.
pub const RECEIVE_LIMIT: usize = 10;

pub struct QueuePoller {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    region: String,
    wait_seconds: i32,
    /// Records per invocation, and how long to gather them (the event source mapping's
    /// BatchSize and MaximumBatchingWindowInSeconds).
    batch_size: usize,
    window: Duration,
}

/// One poll: what the handler did and which messages were deleted (acknowledged).
#[derive(Debug)]
pub struct Poll<R> {
    pub report: R,
    /// Message ids deleted from the queue.
    pub deleted: Vec<String>,
    /// Deleting failed: those messages come back after the visibility timeout and are
    /// handled again (which the alert lifecycle makes harmless).
    pub delete_error: Option<AwsError>,
}

/// Why [`QueuePoller::drain`] stopped before the queue was empty.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error("polling the queue: {0}")]
    Aws(#[from] AwsError),
    #[error("the queue {queue} still delivered messages after {deadline:?} ({batches} batches): waited for it to drain")]
    Deadline {
        queue: String,
        deadline: Duration,
        batches: usize,
    },
}

impl QueuePoller {
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        queue_url: impl Into<String>,
        queue_arn: impl Into<String>,
        region: impl Into<String>,
    ) -> Self {
        QueuePoller {
            sqs,
            queue_url: queue_url.into(),
            queue_arn: queue_arn.into(),
            region: region.into(),
            wait_seconds: 1,
            batch_size: RECEIVE_LIMIT,
            window: Duration::ZERO,
        }
    }

    /// Batches like an event source mapping with this BatchSize and batching window: one
    /// invocation gets up to `batch_size` records, gathered (10 per ReceiveMessage) until
    /// the batch is full or `window` has passed since the first record arrived.
    pub fn batching(mut self, batch_size: usize, window: Duration) -> Self {
        self.batch_size = batch_size.max(1);
        self.window = window;
        self
    }

    /// Long-poll wait per receive (0–20 s).
    pub fn wait_seconds(mut self, seconds: i32) -> Self {
        self.wait_seconds = seconds.clamp(0, 20);
        self
    }

    /// Receives one batch and runs it through the handler; `None` when the queue had
    /// nothing visible.
    pub async fn poll_once<H: BatchHandler>(
        &self,
        handler: &H,
    ) -> Result<Option<Poll<H::Report>>, AwsError> {
        let mut messages = self.receive(self.wait_seconds, self.batch_size).await?;
        if messages.is_empty() {
            return Ok(None);
        }
        let first_arrived = Instant::now();
        while messages.len() < self.batch_size {
            let left = self.window.saturating_sub(first_arrived.elapsed());
            if left.is_zero() {
                break;
            }
            // Long-poll for the rest of the window, in whole seconds as SQS takes them.
            let wait = i32::try_from(left.as_secs()).unwrap_or(20).min(20);
            let more = self.receive(wait, self.batch_size - messages.len()).await?;
            if more.is_empty() && wait == 0 {
                tokio::time::sleep(left.min(Duration::from_millis(100))).await;
            }
            messages.extend(more);
        }
        let messages = messages.as_slice();
        let records: Vec<SqsMessage> = messages.iter().map(|m| self.as_lambda_record(m)).collect();
        let report = handler.handle_batch(&records).await;
        let failed = H::failed_record_ids(&report);

        let acknowledged: Vec<&aws_sdk_sqs::types::Message> = messages
            .iter()
            .filter(|m| m.message_id().is_some_and(|id| !failed.contains(id)))
            .collect();
        let mut poll = Poll {
            report,
            deleted: Vec::new(),
            delete_error: None,
        };
        // DeleteMessageBatch takes 10 entries per call.
        for chunk in acknowledged.chunks(RECEIVE_LIMIT) {
            let entries: Vec<DeleteMessageBatchRequestEntry> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .set_receipt_handle(m.receipt_handle().map(str::to_owned))
                        .build()
                        .ok()
                })
                .collect();
            if entries.is_empty() {
                continue;
            }
            match self
                .sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(output) => poll.deleted.extend(
                    output
                        .successful()
                        .iter()
                        .filter_map(|ok| ok.id().parse::<usize>().ok())
                        .filter_map(|i| chunk.get(i)?.message_id().map(str::to_owned)),
                ),
                Err(e) => {
                    poll.delete_error = Some(AwsError::from_sdk("sqs", "DeleteMessageBatch", e))
                }
            }
        }
        Ok(Some(poll))
    }

    /// Polls until the queue has nothing visible, and returns every poll; an error naming the
    /// queue and what it still delivered if it is not empty after `deadline`, so a test that
    /// waits for a queue to drain cannot wait forever (a record failing on every delivery
    /// comes back after each visibility timeout until the redrive policy moves it).
    pub async fn drain<H: BatchHandler>(
        &self,
        handler: &H,
        deadline: Duration,
    ) -> Result<Vec<Poll<H::Report>>, DrainError> {
        let give_up = Instant::now() + deadline;
        let mut polls = Vec::new();
        while let Some(poll) = self.poll_once(handler).await? {
            polls.push(poll);
            if Instant::now() >= give_up {
                return Err(DrainError::Deadline {
                    queue: self.queue_url.clone(),
                    deadline,
                    batches: polls.len(),
                });
            }
        }
        Ok(polls)
    }

    /// One ReceiveMessage of at most 10 messages, never more than the batch still takes.
    async fn receive(&self, wait_seconds: i32, room: usize) -> Result<Vec<Message>, AwsError> {
        let want = i32::try_from(RECEIVE_LIMIT.min(room)).unwrap_or(10);
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(want)
            .wait_time_seconds(wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sqs", "ReceiveMessage", e))?;
        Ok(received.messages().to_vec())
    }

    /// The record as Lambda would hand it to the function.
    fn as_lambda_record(&self, message: &aws_sdk_sqs::types::Message) -> SqsMessage {
        let mut record = SqsMessage::default();
        record.message_id = message.message_id().map(str::to_owned);
        record.receipt_handle = message.receipt_handle().map(str::to_owned);
        record.body = message.body().map(str::to_owned);
        record.md5_of_body = message.md5_of_body().map(str::to_owned);
        record.attributes = message
            .attributes()
            .map(|attrs| {
                attrs
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        record.event_source = Some("aws:sqs".into());
        record.event_source_arn = Some(self.queue_arn.clone());
        record.aws_region = Some(self.region.clone());
        record
    }
}
