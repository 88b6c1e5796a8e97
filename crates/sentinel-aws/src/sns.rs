//! The SNS notifier: sends a monitor's [`Notification`], rendered for every protocol at once.

use crate::{AwsError, FromSdk};
use aws_sdk_sns::types::MessageAttributeValue;
use sentinel_core::notification::{Attribute, Notification};

/// What one Publish carries.
enum Body<'a> {
    /// The alert topic's message: a subject and one body per protocol (email text, JSON for
    /// the rest), sent with `MessageStructure=json`.
    PerProtocol { subject: &'a str, message: &'a str },
    /// The chat document as is: chat channels render the raw JSON.
    Raw(&'a str),
}

#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    /// The chat topic (Amazon Q Developer in chat applications), when chat is on.
    chat_topic_arn: Option<String>,
}

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        SnsNotifier {
            client,
            topic_arn: topic_arn.into(),
            chat_topic_arn: None,
        }
    }

    /// Also publishes every notification's chat rendering to `chat_topic_arn`.
    pub fn with_chat_topic(mut self, chat_topic_arn: Option<String>) -> Self {
        self.chat_topic_arn = chat_topic_arn;
        self
    }

    /// Publishes one message (subject, per-protocol body, filter attributes) to the alert
    /// topic and, with chat on, its chat document to the chat topic (same attributes);
    /// returns the alert topic's message id.
    ///
    /// The alert topic's message is the notice of record: once it is sent, a failed chat
    /// publish is logged, not returned, so a redelivery never sends the email twice.
    pub async fn publish(&self, notification: &Notification) -> Result<String, AwsError> {
        let id = self
            .send(
                &self.topic_arn,
                Body::PerProtocol {
                    subject: &notification.subject,
                    message: &notification.message,
                },
                notification.attributes(),
            )
            .await?;
        if let Some(chat_topic) = &self.chat_topic_arn {
            let document = notification.chat.document().to_string();
            if let Err(error) = self
                .send(chat_topic, Body::Raw(&document), notification.attributes())
                .await
            {
                tracing::error!(
                    chat_topic = %chat_topic,
                    notice = ?notification.notice,
                    cluster = notification.cluster.name(),
                    %error,
                    "chat publish failed; the alert topic's message went out"
                );
            }
        }
        Ok(id)
    }

    /// Publishes a message that is no monitor's notice (the CLI's health alerts) to the
    /// alert topic, as the notices are published: a subject, one body per protocol
    /// (`sentinel_core::notification::sns_message`), filter attributes. Never to chat.
    pub async fn publish_message(
        &self,
        subject: &str,
        message: &str,
        attributes: Vec<Attribute>,
    ) -> Result<String, AwsError> {
        self.send(
            &self.topic_arn,
            Body::PerProtocol { subject, message },
            attributes,
        )
        .await
    }

    async fn send(
        &self,
        topic_arn: &str,
        body: Body<'_>,
        attributes: Vec<Attribute>,
    ) -> Result<String, AwsError> {
        let request = self.client.publish().topic_arn(topic_arn);
        let mut request = match body {
            Body::PerProtocol { subject, message } => request
                .subject(subject)
                .message_structure("json")
                .message(message),
            Body::Raw(message) => request.message(message),
        };
        for attribute in attributes {
            let value = MessageAttributeValue::builder()
                .data_type(attribute.data_type)
                .string_value(attribute.value)
                .build()
                .map_err(|e| AwsError::new("sns", "Publish", e.to_string()))?;
            request = request.message_attributes(attribute.name, value);
        }
        let output = request
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sns", "Publish", e))?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }
}
