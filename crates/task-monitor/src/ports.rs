//! What the task monitor needs from the world, as small traits: where task episodes are
//! kept (conditional writes on the version read) and where messages go. The AWS adapters
//! implement them; [`crate::memory`] has in-memory twins for the pipeline's tests.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sentinel_aws::{AwsError, Found, TaskEpisodeStore, VersionedTable, Written};
use sentinel_tasks::episode::TaskEpisode;

pub use sentinel_lambda::Notifier;

pub trait TaskEpisodeRepo: Send + Sync {
    /// The stored episodes of these keys, read consistently; unreadable items apart.
    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Found<TaskEpisode>, AwsError>>;
    /// Writes each episode if its stored item still has the version it carries, in as few
    /// calls as the store allows; one answer per episode, in order.
    fn put_all<'a>(
        &'a self,
        episodes: &'a [TaskEpisode],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<Written>, AwsError>>;
}

impl TaskEpisodeRepo for TaskEpisodeStore {
    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Found<TaskEpisode>, AwsError>> {
        Box::pin(self.get_many::<TaskEpisode>(keys))
    }

    fn put_all<'a>(
        &'a self,
        episodes: &'a [TaskEpisode],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<Written>, AwsError>> {
        Box::pin(VersionedTable::put_all(self, episodes, now))
    }
}
