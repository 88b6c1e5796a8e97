//! The one place that configures the AWS SDK: every function, the CLI and the emulator
//! harness start from [`loader`], so timeouts and retries are the same everywhere, and
//! `AWS_ENDPOINT_URL` (the SDK's own variable) points every client at another endpoint.

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};

/// The shared SDK configuration every client is built from.
pub use aws_config::SdkConfig;
use std::time::Duration;

/// Time limits for AWS calls. Without them a hung connection would hold the whole batch
/// until the function times out; with them it fails (after the SDK's retries) and costs only
/// what depended on it. Three attempts of 10 s fit well inside a 60 s function timeout.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(35))
        .build()
}

/// The shared settings, to be completed (region, endpoint, credentials) where needed.
pub fn loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts())
}

/// The configuration from the environment (Lambda's role and region, or the CLI user's
/// profile), with the shared settings.
pub async fn from_env() -> SdkConfig {
    loader().load().await
}
