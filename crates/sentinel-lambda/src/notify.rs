//! The notifier port every function sends its messages through, and its SNS wiring.
//! Functions hold an `Arc<dyn Notifier>`, so their tests can count and fail deliveries with
//! an in-memory twin.

use futures::future::BoxFuture;
use sentinel_aws::{AwsError, SnsNotifier};
use sentinel_core::notification::Notification;

/// Where notices go (the alert topic).
pub trait Notifier: Send + Sync {
    /// Sends one message; returns its message id.
    fn publish<'a>(
        &'a self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<String, AwsError>>;
}

impl Notifier for SnsNotifier {
    fn publish<'a>(
        &'a self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<String, AwsError>> {
        Box::pin(SnsNotifier::publish(self, notification))
    }
}
