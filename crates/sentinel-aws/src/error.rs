//! One error type for every AWS call that failed after the SDK's own retries.

use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata};

/// An AWS call that failed after the SDK retried what it could. The caller decides what it
/// costs: the pipeline fails (and SQS redelivers) only the records that depended on it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{service}:{operation} failed{}: {message}", code.as_deref().map(|c| format!(" with {c}")).unwrap_or_default())]
pub struct AwsError {
    pub service: &'static str,
    pub operation: &'static str,
    /// The AWS error code, when the service sent one (ThrottlingException, AccessDenied, …).
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub fn new(service: &'static str, operation: &'static str, message: impl Into<String>) -> Self {
        AwsError {
            service,
            operation,
            code: None,
            message: message.into(),
        }
    }

    pub fn from_sdk<E>(service: &'static str, operation: &'static str, err: E) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error,
    {
        AwsError {
            service,
            operation,
            code: err.code().map(str::to_owned),
            message: DisplayErrorContext(&err).to_string(),
        }
    }
}
