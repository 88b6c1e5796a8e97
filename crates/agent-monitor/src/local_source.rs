//! A local stand-in for Lambda's SQS event source mapping, for the demo, replays and tests:
//! receive a batch, hand it to the same handler code the Lambda runs, delete what it
//! acknowledged and leave the failures to come back after the visibility timeout, exactly
//! as the real event source mapping with ReportBatchItemFailures does.

use crate::pipeline::{BatchReport, Monitor};
use aws_lambda_events::event::sqs::SqsMessage;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use sentinel_aws::AwsError;

/// ReceiveMessage returns at most 10 messages, the Lambda's configured batch size too.
pub const BATCH_SIZE: i32 = 10;

pub struct QueuePoller {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    region: String,
    wait_seconds: i32,
}

/// One poll: what the handler did and which messages were deleted (acknowledged).
#[derive(Debug)]
pub struct Poll {
    pub report: BatchReport,
    /// Message ids deleted from the queue.
    pub deleted: Vec<String>,
    /// Deleting failed: those messages come back after the visibility timeout and are
    /// handled again (which the alert lifecycle makes harmless).
    pub delete_error: Option<AwsError>,
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
        }
    }

    /// Long-poll wait per receive (0–20 s).
    pub fn wait_seconds(mut self, seconds: i32) -> Self {
        self.wait_seconds = seconds.clamp(0, 20);
        self
    }

    /// Receives one batch and runs it through the monitor; `None` when the queue had
    /// nothing visible.
    pub async fn poll_once(&self, monitor: &Monitor) -> Result<Option<Poll>, AwsError> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(BATCH_SIZE)
            .wait_time_seconds(self.wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sqs", "ReceiveMessage", e))?;
        let messages = received.messages();
        if messages.is_empty() {
            return Ok(None);
        }
        let records: Vec<SqsMessage> = messages.iter().map(|m| self.as_lambda_record(m)).collect();
        let report = monitor.process(&records).await;

        let acknowledged: Vec<&aws_sdk_sqs::types::Message> = messages
            .iter()
            .filter(|m| {
                m.message_id()
                    .is_some_and(|id| !report.failed_record_ids.contains(id))
            })
            .collect();
        let entries: Vec<DeleteMessageBatchRequestEntry> = acknowledged
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
        let mut poll = Poll {
            report,
            deleted: Vec::new(),
            delete_error: None,
        };
        if entries.is_empty() {
            return Ok(Some(poll));
        }
        match self
            .sqs
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(output) => {
                poll.deleted = output
                    .successful()
                    .iter()
                    .filter_map(|ok| ok.id().parse::<usize>().ok())
                    .filter_map(|i| acknowledged.get(i)?.message_id().map(str::to_owned))
                    .collect();
            }
            Err(e) => poll.delete_error = Some(AwsError::from_sdk("sqs", "DeleteMessageBatch", e)),
        }
        Ok(Some(poll))
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
