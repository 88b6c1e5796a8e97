//! In-memory twins of the task monitor's ports, for the pipeline's tests: the engine's
//! [`MemoryWorld`](sentinel_lambda::testing::MemoryWorld) of task episodes (versioned writes,
//! scripted faults, every delivered message) plus the containers' logs. Compiled only for
//! tests (feature `testing`).

use crate::ports::{failed_container, LogTails, Notifier};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sentinel_core::notification::Notification;
use sentinel_core::{AwsError, Found, Written};
use sentinel_lambda::engine;
use sentinel_lambda::testing::{MemoryWorld, Op};
use sentinel_tasks::episode::{FailureSample, TaskEpisode};
use sentinel_tasks::message::LogTail;
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub use sentinel_lambda::testing::Fault;

/// Task episodes, delivered messages and container logs in memory.
#[derive(Clone, Default)]
pub struct MemoryTasks {
    world: MemoryWorld<TaskEpisode>,
    /// Log lines by container name, the same for every task.
    logs: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl Deref for MemoryTasks {
    type Target = MemoryWorld<TaskEpisode>;
    fn deref(&self) -> &Self::Target {
        &self.world
    }
}

impl MemoryTasks {
    fn logs(&self) -> MutexGuard<'_, HashMap<String, Vec<String>>> {
        self.logs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next publishes meet these faults, in order (`None`: passes).
    pub fn script_publishes(&self, faults: &[Option<Fault>]) {
        let faults: Vec<Fault> = faults.iter().map(|f| f.unwrap_or(Fault::Pass)).collect();
        self.world.fail_next(Op::Publish, &faults);
    }

    /// The next write calls meet these faults, in order (`None`: passes).
    pub fn script_writes(&self, faults: &[Option<Fault>]) {
        let faults: Vec<Fault> = faults.iter().map(|f| f.unwrap_or(Fault::Pass)).collect();
        self.world.fail_next(Op::Put, &faults);
    }

    /// Every task's `container` logged these lines.
    pub fn set_log(&self, container: &str, lines: &[&str]) {
        self.logs().insert(
            container.to_owned(),
            lines.iter().map(|l| (*l).to_owned()).collect(),
        );
    }

    /// Every notification that reached subscribers, in order.
    pub fn delivered(&self) -> Vec<Notification> {
        self.world
            .delivered()
            .into_iter()
            .map(|d| d.notification)
            .collect()
    }

    pub fn stored(&self, key: &str) -> Option<TaskEpisode> {
        self.world.episode(key)
    }

    /// (read calls, write calls, publishes) so far.
    pub fn calls(&self) -> (usize, usize, usize) {
        (
            self.world.calls(Op::Get),
            self.world.calls(Op::Put),
            self.world.calls(Op::Publish),
        )
    }
}

impl engine::EpisodeRepo<TaskEpisode> for MemoryTasks {
    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Found<TaskEpisode>, AwsError>> {
        self.world.get_many(keys)
    }

    fn put<'a>(
        &'a self,
        episode: &'a TaskEpisode,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Written, AwsError>> {
        self.world.put(episode, now)
    }

    fn put_all<'a>(
        &'a self,
        episodes: &'a [TaskEpisode],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<Written>, AwsError>> {
        self.world.put_all(episodes, now)
    }

    fn delete<'a>(&'a self, episode: &'a TaskEpisode) -> BoxFuture<'a, Result<Written, AwsError>> {
        self.world.delete(episode)
    }
}

impl Notifier for MemoryTasks {
    fn publish<'a>(
        &'a self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<String, AwsError>> {
        self.world.publish(notification)
    }
}

impl LogTails for MemoryTasks {
    fn tail<'a>(
        &'a self,
        sample: &'a FailureSample,
        lines: usize,
    ) -> BoxFuture<'a, Result<Option<LogTail>, AwsError>> {
        Box::pin(async move {
            let logs = self.logs();
            let Some(container) = failed_container(sample) else {
                return Ok(None);
            };
            // Named as the usual awslogs set-up would name them: group `/ecs/<family>`,
            // prefix `ecs`, then the container and the task id.
            let family = sample
                .task_definition
                .as_deref()
                .and_then(|d| d.split(':').next())
                .unwrap_or("task");
            let task_id = sample
                .task_arn
                .as_deref()
                .and_then(|arn| arn.rsplit('/').next())
                .unwrap_or("task");
            Ok(logs.get(container).map(|all| LogTail {
                container: container.to_owned(),
                log_group: format!("/ecs/{family}"),
                log_stream: format!("ecs/{container}/{task_id}"),
                lines: all[all.len().saturating_sub(lines)..].to_vec(),
            }))
        })
    }
}
