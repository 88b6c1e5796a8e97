//! What the task monitor needs from the world, as small traits: where task episodes are
//! kept (conditional writes on the version read), where messages go, and where a failed
//! container's last log lines are. The AWS adapters
//! implement them; [`crate::memory`] has in-memory twins for the pipeline's tests.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sentinel_aws::{AwsError, ContainerLogs, Found, TaskEpisodeStore, VersionedTable, Written};
use sentinel_tasks::episode::{FailureSample, TaskEpisode};
use sentinel_tasks::message::LogTail;

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

/// The last lines a failed container logged (the alert quotes them).
pub trait LogTails: Send + Sync {
    /// The tail of the failed container of `sample`, if it can be found.
    fn tail<'a>(
        &'a self,
        sample: &'a FailureSample,
        lines: usize,
    ) -> BoxFuture<'a, Result<Option<LogTail>, AwsError>>;
}

impl LogTails for ContainerLogs {
    fn tail<'a>(
        &'a self,
        sample: &'a FailureSample,
        lines: usize,
    ) -> BoxFuture<'a, Result<Option<LogTail>, AwsError>> {
        Box::pin(async move {
            let task_id = sample
                .task_arn
                .as_deref()
                .and_then(|arn| arn.rsplit('/').next());
            let container = failed_container(sample);
            match (&sample.task_definition, task_id, container) {
                (Some(definition), Some(task_id), Some(container)) => {
                    ContainerLogs::tail(self, definition, task_id, container, lines).await
                }
                // A service or deployment event names no task: nothing to quote.
                _ => Ok(None),
            }
        })
    }
}

/// The container whose log explains the failure: the first that exited non-zero, else the
/// first with a reason, else the first.
pub fn failed_container(sample: &FailureSample) -> Option<&str> {
    let containers = &sample.containers;
    containers
        .iter()
        .find(|c| c.exit_code.is_some_and(|code| code != 0))
        .or_else(|| containers.iter().find(|c| c.reason.is_some()))
        .or_else(|| containers.first())
        .map(|c| c.name.as_str())
}
