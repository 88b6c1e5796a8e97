//! The stack's messaging resources, created in the emulator the way `template.yaml` wires
//! them: the alert topic with an SQS "inbox" subscribed to it (standing in for the email
//! subscription, so alerts can be read back), the dead-letter queue, and optionally the
//! EventBridge rule feeding the delay queue.

use crate::fleet::FleetError;
use serde_json::{json, Value};
use std::time::Duration;

fn aws<E: std::error::Error>(operation: &'static str) -> impl Fn(E) -> FleetError {
    move |e| FleetError::Aws {
        operation,
        message: aws_sdk_sqs::error::DisplayErrorContext(&e).to_string(),
    }
}

/// One notification as a subscriber's queue received it.
#[derive(Debug, Clone)]
pub struct ReceivedAlert {
    pub subject: String,
    /// The JSON document (the `sqs` rendering of the message).
    pub document: Value,
    /// SNS message attributes, `{"name": {"Type": …, "Value": …}}`.
    pub attributes: Value,
}

/// A record parked in the dead-letter queue.
#[derive(Debug, Clone)]
pub struct ParkedRecord {
    /// The message's id in the dead-letter queue (SQS keeps it when its redrive moves a
    /// message there; the function's parked records get a new one).
    pub message_id: String,
    pub body: String,
    pub reason: String,
    pub reason_code: String,
    pub source_message_id: String,
}

pub struct Stack {
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub topic_arn: String,
    pub inbox_url: String,
    pub dead_letter_url: String,
    pub dead_letter_arn: String,
    /// The alert-state table, keyed like the template's (`pk`, with TTL on `ttl`).
    pub table_name: String,
}

/// Rules → queue: the delay queue leg, or the recovery queue leg.
pub struct RuleQueue {
    pub url: String,
    pub arn: String,
    pub rule_names: Vec<String>,
}

impl Stack {
    pub async fn create(sdk: &aws_config::SdkConfig, prefix: &str) -> Result<Self, FleetError> {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let topic_arn = aws_sdk_sns::Client::new(sdk)
            .create_topic()
            .name(format!("{prefix}-alerts"))
            .send()
            .await
            .map_err(aws("sns:CreateTopic"))?
            .topic_arn()
            .unwrap_or_default()
            .to_owned();
        let (dead_letter_url, dead_letter_arn) =
            create_queue(&sqs, &format!("{prefix}-dead-letters"), &[]).await?;
        let table_name = format!("{prefix}-alerts");
        create_alert_table(&aws_sdk_dynamodb::Client::new(sdk), &table_name).await?;
        Self::assemble(
            sdk,
            prefix,
            topic_arn,
            dead_letter_url,
            dead_letter_arn,
            table_name,
        )
        .await
    }

    /// The topic, dead-letter queue and table of a stack deployed through CloudFormation,
    /// with an inbox queue subscribed to the topic.
    pub async fn adopt(
        sdk: &aws_config::SdkConfig,
        prefix: &str,
        topic_arn: String,
        dead_letter_url: String,
        table_name: String,
    ) -> Result<Self, FleetError> {
        let dead_letter_arn = queue_arn(&aws_sdk_sqs::Client::new(sdk), &dead_letter_url).await?;
        Self::assemble(
            sdk,
            prefix,
            topic_arn,
            dead_letter_url,
            dead_letter_arn,
            table_name,
        )
        .await
    }

    async fn assemble(
        sdk: &aws_config::SdkConfig,
        prefix: &str,
        topic_arn: String,
        dead_letter_url: String,
        dead_letter_arn: String,
        table_name: String,
    ) -> Result<Self, FleetError> {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let sns = aws_sdk_sns::Client::new(sdk);
        let events = aws_sdk_eventbridge::Client::new(sdk);
        let (inbox_url, inbox_arn) = create_queue(&sqs, &format!("{prefix}-inbox"), &[]).await?;
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(&inbox_arn)
            .send()
            .await
            .map_err(aws("sns:Subscribe"))?;
        Ok(Stack {
            sqs,
            sns,
            events,
            topic_arn,
            inbox_url,
            dead_letter_url,
            dead_letter_arn,
            table_name,
        })
    }

    /// A queue fed by EventBridge rules with the given patterns, as the template wires the
    /// delay queue (with `delay` as its grace period) and the recovery queue (no delay), with
    /// the template's redrive to the dead-letter queue.
    pub async fn add_rule_queue(
        &self,
        name: &str,
        patterns: &[Value],
        delay: Duration,
        visibility_timeout: Duration,
        max_receive_count: u64,
    ) -> Result<RuleQueue, FleetError> {
        let redrive = json!({ "deadLetterTargetArn": self.dead_letter_arn, "maxReceiveCount": max_receive_count });
        let (url, arn) = create_queue(
            &self.sqs,
            name,
            &[
                ("DelaySeconds", delay.as_secs().to_string()),
                (
                    "VisibilityTimeout",
                    visibility_timeout.as_secs().to_string(),
                ),
                ("RedrivePolicy", redrive.to_string()),
            ],
        )
        .await?;
        let mut rule_names = Vec::new();
        for (i, pattern) in patterns.iter().enumerate() {
            let rule_name = format!("{name}-rule-{i}");
            self.add_rule(&rule_name, pattern, &arn).await?;
            rule_names.push(rule_name);
        }
        Ok(RuleQueue {
            url,
            arn,
            rule_names,
        })
    }

    /// A rule on the default bus with `pattern`, sending to `target_arn` (a queue, a log
    /// group), as the template wires its rules.
    pub async fn add_rule(
        &self,
        rule_name: &str,
        pattern: &Value,
        target_arn: &str,
    ) -> Result<(), FleetError> {
        self.events
            .put_rule()
            .name(rule_name)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .map_err(aws("events:PutRule"))?;
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("target")
            .arn(target_arn)
            .build()
            .map_err(aws("events:PutTargets"))?;
        self.events
            .put_targets()
            .rule(rule_name)
            .targets(target)
            .send()
            .await
            .map_err(aws("events:PutTargets"))?;
        Ok(())
    }

    /// Sends bodies straight to a queue, 10 per call; returns their message ids.
    pub async fn send_to_queue(
        &self,
        url: &str,
        bodies: &[String],
    ) -> Result<Vec<String>, FleetError> {
        let mut ids = Vec::with_capacity(bodies.len());
        for chunk in bodies.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .map_err(aws("sqs:SendMessageBatch"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .sqs
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(aws("sqs:SendMessageBatch"))?;
            if let Some(failed) = output.failed().first() {
                return Err(FleetError::Aws {
                    operation: "sqs:SendMessageBatch",
                    message: format!(
                        "{}: {}",
                        failed.code(),
                        failed.message().unwrap_or_default()
                    ),
                });
            }
            ids.extend(
                output
                    .successful()
                    .iter()
                    .map(|ok| ok.message_id().to_owned()),
            );
        }
        Ok(ids)
    }

    /// Publishes events to the default bus, as ECS does.
    pub async fn put_events(&self, events: &[Value]) -> Result<(), FleetError> {
        for chunk in events.chunks(10) {
            let entries = chunk
                .iter()
                .map(|e| {
                    aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                        .source(e["source"].as_str().unwrap_or_default())
                        .detail_type(e["detail-type"].as_str().unwrap_or_default())
                        .detail(e["detail"].to_string())
                        .set_resources(e["resources"].as_array().map(|r| {
                            r.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        }))
                        .build()
                })
                .collect();
            self.events
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(aws("events:PutEvents"))?;
        }
        Ok(())
    }

    /// Reads and deletes everything the alert topic delivered so far.
    pub async fn drain_inbox(&self) -> Result<Vec<ReceivedAlert>, FleetError> {
        let mut alerts = Vec::new();
        for message in drain(&self.sqs, &self.inbox_url).await? {
            let envelope: Value = serde_json::from_str(message.body().unwrap_or_default())
                .map_err(|e| FleetError::Aws {
                    operation: "inbox",
                    message: format!("not an SNS envelope: {e}"),
                })?;
            let document = envelope["Message"]
                .as_str()
                .and_then(|m| serde_json::from_str(m).ok())
                .unwrap_or(Value::Null);
            alerts.push(ReceivedAlert {
                subject: envelope["Subject"].as_str().unwrap_or_default().to_owned(),
                document,
                attributes: envelope["MessageAttributes"].clone(),
            });
        }
        Ok(alerts)
    }

    /// Reads and deletes everything parked in the dead-letter queue so far.
    /// Messages still on a queue, visible or in flight (received, not deleted): zero means
    /// every message was acknowledged, with no need to wait out a visibility timeout.
    pub async fn messages_left(&self, url: &str) -> Result<u64, FleetError> {
        use aws_sdk_sqs::types::QueueAttributeName as Name;
        let output = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(Name::ApproximateNumberOfMessages)
            .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(Name::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(aws("sqs:GetQueueAttributes"))?;
        Ok(output
            .attributes()
            .into_iter()
            .flat_map(|attributes| attributes.values())
            .filter_map(|count| count.parse::<u64>().ok())
            .sum())
    }

    pub async fn drain_dead_letters(&self) -> Result<Vec<ParkedRecord>, FleetError> {
        Ok(drain(&self.sqs, &self.dead_letter_url)
            .await?
            .into_iter()
            .map(|m| {
                let attribute = |name: &str| {
                    m.message_attributes()
                        .and_then(|a| a.get(name))
                        .and_then(|v| v.string_value())
                        .unwrap_or_default()
                        .to_owned()
                };
                ParkedRecord {
                    message_id: m.message_id().unwrap_or_default().to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                    reason: attribute("reason"),
                    reason_code: attribute("reasonCode"),
                    source_message_id: attribute("sourceMessageId"),
                }
            })
            .collect())
    }
}

async fn create_alert_table(
    dynamodb: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<(), FleetError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let build = |e: aws_sdk_dynamodb::error::BuildError| FleetError::Aws {
        operation: "dynamodb:CreateTable",
        message: e.to_string(),
    };
    dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build)?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .map_err(build)?,
        )
        .send()
        .await
        .map_err(aws("dynamodb:CreateTable"))?;
    expire_on_ttl(dynamodb, name).await
}

/// TTL on the `ttl` attribute, as the template's tables have it.
async fn expire_on_ttl(dynamodb: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), FleetError> {
    let specification = aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
        .attribute_name("ttl")
        .enabled(true)
        .build()
        .map_err(|e| FleetError::Aws {
            operation: "dynamodb:UpdateTimeToLive",
            message: e.to_string(),
        })?;
    dynamodb
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(specification)
        .send()
        .await
        .map_err(aws("dynamodb:UpdateTimeToLive"))?;
    Ok(())
}

/// The fleet state table as `template.yaml` declares `FleetTable`: key `pk`, the
/// `by-cluster` index (`cluster`, `sk`), TTL on `ttl`.
pub async fn create_fleet_table(sdk: &aws_config::SdkConfig, name: &str) -> Result<(), FleetError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let build = |e: aws_sdk_dynamodb::error::BuildError| FleetError::Aws {
        operation: "dynamodb:CreateTable",
        message: e.to_string(),
    };
    let text = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(build)
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(build)
    };
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(text("pk")?)
        .attribute_definitions(text("cluster")?)
        .attribute_definitions(text("sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by-cluster")
                .key_schema(key("cluster", KeyType::Hash)?)
                .key_schema(key("sk", KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(build)?,
        )
        .send()
        .await
        .map_err(aws("dynamodb:CreateTable"))?;
    expire_on_ttl(&dynamodb, name).await
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(&str, String)],
) -> Result<(String, String), FleetError> {
    let mut request = sqs.create_queue().queue_name(name);
    for (key, value) in attributes {
        request = request.attributes(aws_sdk_sqs::types::QueueAttributeName::from(*key), value);
    }
    let url = request
        .send()
        .await
        .map_err(aws("sqs:CreateQueue"))?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let arn = queue_arn(sqs, &url).await?;
    Ok((url, arn))
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, FleetError> {
    Ok(sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(aws("sqs:GetQueueAttributes"))?
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default())
}

/// Receives until the queue answers empty, deleting as it goes.
async fn drain(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> Result<Vec<aws_sdk_sqs::types::Message>, FleetError> {
    let mut all = Vec::new();
    loop {
        let output = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(aws("sqs:ReceiveMessage"))?;
        let messages = output.messages().to_vec();
        if messages.is_empty() {
            return Ok(all);
        }
        for m in &messages {
            if let Some(handle) = m.receipt_handle() {
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(aws("sqs:DeleteMessage"))?;
            }
        }
        all.extend(messages);
    }
}
