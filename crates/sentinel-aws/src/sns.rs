//! The SNS notifier: sends a monitor's [`Notification`], rendered for every protocol at once.

use crate::AwsError;
use aws_sdk_sns::types::MessageAttributeValue;
use sentinel_core::notification::{Attribute, Notification};

#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        SnsNotifier {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    /// Publishes one message (subject, per-protocol body, filter attributes); returns the
    /// SNS message id.
    pub async fn publish(&self, notification: &Notification) -> Result<String, AwsError> {
        self.send(
            &notification.subject,
            &notification.message,
            notification.attributes(),
        )
        .await
    }

    async fn send(
        &self,
        subject: &str,
        message: &str,
        attributes: Vec<Attribute>,
    ) -> Result<String, AwsError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message_structure("json")
            .message(message);
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
