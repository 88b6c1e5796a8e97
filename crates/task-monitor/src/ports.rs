//! What the task monitor needs from the world, as small traits: where task episodes are
//! kept (conditional writes on the version read), where messages go, and where a failed
//! container's last log lines are. The AWS adapters
//! implement them; [`crate::memory`] has in-memory twins for the pipeline's tests.

use futures::future::BoxFuture;
use sentinel_aws::{AwsError, ContainerLogs};
use sentinel_lambda::engine;
use sentinel_tasks::episode::{FailureSample, TaskEpisode};
use sentinel_tasks::message::LogTail;

pub use sentinel_lambda::Notifier;

/// Where task episodes live: the engine's versioned store over [`TaskEpisode`]s.
pub trait TaskEpisodeRepo: engine::EpisodeRepo<TaskEpisode> {}

impl<T: engine::EpisodeRepo<TaskEpisode>> TaskEpisodeRepo for T {}

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
