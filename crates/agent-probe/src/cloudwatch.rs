//! Sending the datum: one PutMetricData call, retried within the run's budget.
//!
//! The SDK is configured here rather than through `sentinel_aws::sdk::loader`, the workspace's
//! one SDK configuration, on purpose: depending on sentinel-aws would link every SDK crate it
//! wraps (ECS, EC2, SSM, DynamoDB, SNS, SQS, …) into a binary installed on every container
//! instance, whose whole job is one CloudWatch call. The settings differ too: a one-shot run
//! has a total budget, not a Lambda's per-call limits.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudwatch::config::http::HttpResponse;
use aws_sdk_cloudwatch::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatch::operation::put_metric_data::builders::PutMetricDataInputBuilder;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};

use crate::datum::Datum;

/// The dimension every datum carries: one alarm per cluster sums the cluster-only datums.
pub const CLUSTER_DIMENSION: &str = "ClusterName";
/// The dimension that tells the instances of a cluster apart.
pub const INSTANCE_DIMENSION: &str = "InstanceId";

/// Attempts of the PutMetricData call (the first and two retries), within the budget.
pub const MAX_ATTEMPTS: u32 = 3;

/// Why the datum was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// CloudWatch answered with an error (access denied, invalid parameter, throttled for good).
    #[error("PutMetricData failed: {code}: {message}")]
    Rejected { code: String, message: String },
    /// No answer within the run's budget, after retries.
    #[error("PutMetricData did not complete within the budget: {0}")]
    Timeout(String),
    /// The request could not be sent or its answer not read (no credentials, no network).
    #[error("PutMetricData could not be sent: {0}")]
    Failed(String),
}

impl<E> From<SdkError<E, HttpResponse>> for ReportError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn from(err: SdkError<E, HttpResponse>) -> Self {
        match &err {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                // An answer without an error body (a proxy's 5xx, say) has no code: its HTTP
                // status is then the only useful fact.
                let code = match inner.code() {
                    Some(code) => code.to_string(),
                    None => format!("HTTP {}", service.raw().status().as_u16()),
                };
                ReportError::Rejected {
                    code,
                    message: inner.message().unwrap_or("no message").to_string(),
                }
            }
            SdkError::TimeoutError(_) => {
                ReportError::Timeout(DisplayErrorContext(&err).to_string())
            }
            _ => ReportError::Failed(DisplayErrorContext(&err).to_string()),
        }
    }
}

/// The PutMetricData input for a datum: the same `AgentDown` value twice, once per instance
/// (`ClusterName` + `InstanceId`) and once for the cluster alone (`ClusterName`), so a cluster
/// alarm can `Sum` the down instances without listing them.
pub fn datum_to_input(datum: &Datum) -> PutMetricDataInputBuilder {
    let cluster = Dimension::builder()
        .name(CLUSTER_DIMENSION)
        .value(&datum.cluster)
        .build();
    let instance = Dimension::builder()
        .name(INSTANCE_DIMENSION)
        .value(&datum.instance_id)
        .build();
    let one = |dimensions: Vec<Dimension>| {
        MetricDatum::builder()
            .metric_name(&datum.metric_name)
            .set_dimensions(Some(dimensions))
            .value(f64::from(datum.value))
            .unit(StandardUnit::Count)
            .set_timestamp(datum.observed_at.map(DateTime::from))
            .build()
    };
    PutMetricDataInputBuilder::default()
        .namespace(&datum.namespace)
        .metric_data(one(vec![cluster.clone(), instance]))
        .metric_data(one(vec![cluster]))
}

/// Sends the datum in one PutMetricData call; the client's retry and timeout settings apply.
pub async fn report(client: &aws_sdk_cloudwatch::Client, datum: &Datum) -> Result<(), ReportError> {
    let input = datum_to_input(datum);
    client
        .put_metric_data()
        .set_namespace(input.get_namespace().clone())
        .set_metric_data(input.get_metric_data().clone())
        .send()
        .await?;
    Ok(())
}

/// Time limits that fit what is left of the run's budget: the whole operation (credentials,
/// retries and their backoff included) ends by then, and one slow attempt (longer than
/// `attempt`, `--report-timeout`) cannot eat it all.
pub fn timeouts(remaining: Duration, attempt: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(remaining.min(Duration::from_secs(2)))
        .read_timeout(remaining.min(attempt))
        .operation_attempt_timeout(remaining.min(attempt))
        .operation_timeout(remaining)
        .build()
}

/// Retries with exponential backoff and jitter, short enough for a minute's cycle.
pub fn retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(300))
        .with_max_backoff(Duration::from_secs(3))
}

/// The SDK configuration for one run: the resolved region, the default credential chain
/// (instance role on EC2, the SSM-provided profile on ECS Anywhere), and `AWS_ENDPOINT_URL`
/// honoured as the SDK always does.
pub async fn sdk_config(region: &str, remaining: Duration, attempt: Duration) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .timeout_config(timeouts(remaining, attempt))
        .retry_config(retries())
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentHealth, DownCause};
    use crate::datum::Subject;
    use std::time::SystemTime;

    fn datum(value_down: bool) -> Datum {
        let health = if value_down {
            AgentHealth::Down {
                cause: DownCause::NotListening,
                metadata: None,
            }
        } else {
            AgentHealth::Up(Default::default())
        };
        Datum::new(
            "ECS/AgentProbe",
            &health,
            Subject {
                cluster: "prod".into(),
                instance_id: "i-0abc".into(),
                region: "us-east-1".into(),
            },
            None,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        )
    }

    fn dims(datum: &MetricDatum) -> Vec<(&str, &str)> {
        datum
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap_or(""), d.value().unwrap_or("")))
            .collect()
    }

    #[test]
    fn one_call_with_an_instance_datum_and_a_cluster_datum() {
        let input = datum_to_input(&datum(true));
        assert_eq!(input.get_namespace().as_deref(), Some("ECS/AgentProbe"));
        let data = input.get_metric_data().clone().unwrap_or_default();
        assert_eq!(data.len(), 2);
        assert_eq!(
            dims(&data[0]),
            vec![("ClusterName", "prod"), ("InstanceId", "i-0abc")]
        );
        assert_eq!(dims(&data[1]), vec![("ClusterName", "prod")]);
        for d in &data {
            assert_eq!(d.metric_name(), Some("AgentDown"));
            assert_eq!(d.value(), Some(1.0));
            assert_eq!(d.unit(), Some(&StandardUnit::Count));
            assert_eq!(d.timestamp().map(|t| t.secs()), Some(1_700_000_000));
            // Standard resolution: a per-minute metric needs no more.
            assert_eq!(d.storage_resolution(), None);
        }
    }

    #[test]
    fn an_up_agent_sends_zero() {
        let input = datum_to_input(&datum(false));
        let data = input.get_metric_data().clone().unwrap_or_default();
        assert!(data.iter().all(|d| d.value() == Some(0.0)));
    }

    #[test]
    fn timeouts_never_exceed_what_is_left() {
        let t = timeouts(Duration::from_secs(1), Duration::from_secs(5));
        assert_eq!(t.operation_timeout(), Some(Duration::from_secs(1)));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(1)));
        assert_eq!(t.connect_timeout(), Some(Duration::from_secs(1)));
        let t = timeouts(Duration::from_secs(17), Duration::from_secs(5));
        assert_eq!(t.operation_timeout(), Some(Duration::from_secs(17)));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(5)));
        assert_eq!(retries().max_attempts(), MAX_ATTEMPTS);
    }
}
