//! The one error every port returns: a call to AWS (or to an in-memory twin standing in for
//! it) that failed after the SDK retried what it could. The adapters in `sentinel-aws` build
//! it from SDK errors; the domain and the engine only read it.

/// A call that failed. The caller decides what it costs: a pipeline fails (and SQS
/// redelivers) only the records that depended on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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

    /// The same error with the service's error code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
}
