//! One error type for every AWS call that failed after the SDK's own retries: the kernel's
//! [`AwsError`], built here from the SDK's errors (their code and full context).

use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata};
pub use sentinel_core::AwsError;

/// Builds an [`AwsError`] from any SDK operation error: `AwsError::from_sdk(service,
/// operation, err)` with this trait in scope.
pub trait FromSdk {
    fn from_sdk<E>(service: &'static str, operation: &'static str, err: E) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error;
}

impl FromSdk for AwsError {
    fn from_sdk<E>(service: &'static str, operation: &'static str, err: E) -> Self
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
