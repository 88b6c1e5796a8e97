//! The SNS notifier: one message per cluster alert, rendered for every protocol at once.

use crate::AwsError;
use aws_sdk_sns::types::MessageAttributeValue;
use sentinel_agent::alert::Attribute;
use sentinel_agent::recovery::ClusterResolved;
use sentinel_agent::ClusterAlert;

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

    /// Publishes the alert (or reminder); returns the SNS message id.
    pub async fn publish(&self, alert: &ClusterAlert) -> Result<String, AwsError> {
        let message = alert.sns_message().map_err(render_error)?;
        self.send(alert.subject(), message, alert.attributes())
            .await
    }

    /// Publishes a RESOLVED notice; returns the SNS message id.
    pub async fn publish_resolved(&self, resolved: &ClusterResolved) -> Result<String, AwsError> {
        let message = resolved.sns_message().map_err(render_error)?;
        self.send(resolved.subject(), message, resolved.attributes())
            .await
    }

    async fn send(
        &self,
        subject: String,
        message: String,
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

fn render_error(e: serde_json::Error) -> AwsError {
    AwsError::new("sns", "Publish", format!("cannot render the message: {e}"))
}
