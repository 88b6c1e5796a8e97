//! In-memory twins of the task monitor's ports, for the pipeline's tests: a store that keeps
//! versions like the table does (a write on a stale version is a conflict), a topic that
//! keeps every message, and scripted faults for both (fail, or take effect and then fail).

use crate::ports::{failed_container, LogTails, Notifier, TaskEpisodeRepo};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sentinel_aws::{AwsError, Found, Written};
use sentinel_core::notification::Notification;
use sentinel_tasks::episode::{FailureSample, TaskEpisode};
use sentinel_tasks::message::LogTail;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// What a scripted fault does to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The call fails and changes nothing.
    Fail,
    /// The call takes effect (written, delivered), then reports failure: a lost answer.
    FailAfterEffect,
}

#[derive(Default)]
struct State {
    items: HashMap<String, TaskEpisode>,
    delivered: Vec<Notification>,
    publish_faults: VecDeque<Option<Fault>>,
    write_faults: VecDeque<Option<Fault>>,
    reads: usize,
    writes: usize,
    publishes: usize,
    /// Log lines by container name, the same for every task.
    logs: HashMap<String, Vec<String>>,
}

#[derive(Default)]
pub struct MemoryTasks {
    state: Mutex<State>,
}

impl MemoryTasks {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next publishes meet these faults, in order (`None`: passes).
    pub fn script_publishes(&self, faults: &[Option<Fault>]) {
        self.lock().publish_faults.extend(faults.iter().copied());
    }

    /// The next write calls meet these faults, in order (`None`: passes).
    pub fn script_writes(&self, faults: &[Option<Fault>]) {
        self.lock().write_faults.extend(faults.iter().copied());
    }

    /// Every task's `container` logged these lines.
    pub fn set_log(&self, container: &str, lines: &[&str]) {
        self.lock().logs.insert(
            container.to_owned(),
            lines.iter().map(|l| (*l).to_owned()).collect(),
        );
    }

    pub fn delivered(&self) -> Vec<Notification> {
        self.lock().delivered.clone()
    }

    pub fn stored(&self, key: &str) -> Option<TaskEpisode> {
        self.lock().items.get(key).cloned()
    }

    /// (read calls, write calls, publishes) so far.
    pub fn calls(&self) -> (usize, usize, usize) {
        let state = self.lock();
        (state.reads, state.writes, state.publishes)
    }

    fn error(what: &'static str) -> AwsError {
        AwsError::new("memory", what, "scripted fault")
    }
}

impl TaskEpisodeRepo for MemoryTasks {
    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Found<TaskEpisode>, AwsError>> {
        Box::pin(async move {
            let mut state = self.lock();
            state.reads += 1;
            Ok(Found {
                episodes: keys
                    .iter()
                    .filter_map(|k| state.items.get(k).map(|e| (k.clone(), e.clone())))
                    .collect(),
                unreadable: Vec::new(),
            })
        })
    }

    fn put_all<'a>(
        &'a self,
        episodes: &'a [TaskEpisode],
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<Written>, AwsError>> {
        Box::pin(async move {
            let mut state = self.lock();
            state.writes += 1;
            let fault = state.write_faults.pop_front().flatten();
            if fault == Some(Fault::Fail) {
                return Err(Self::error("put_all"));
            }
            let mut answers = Vec::with_capacity(episodes.len());
            for e in episodes {
                let key = e.key.as_key();
                let current = state.items.get(&key).map_or(0, |s| s.version);
                if current == e.version {
                    let mut next = e.clone();
                    next.version = e.version + 1;
                    state.items.insert(key, next);
                    answers.push(Written::Stored {
                        version: e.version + 1,
                    });
                } else {
                    answers.push(Written::Conflict);
                }
            }
            match fault {
                Some(_) => Err(Self::error("put_all")),
                None => Ok(answers),
            }
        })
    }
}

impl Notifier for MemoryTasks {
    fn publish<'a>(
        &'a self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<String, AwsError>> {
        Box::pin(async move {
            let mut state = self.lock();
            state.publishes += 1;
            let fault = state.publish_faults.pop_front().flatten();
            if fault == Some(Fault::Fail) {
                return Err(Self::error("publish"));
            }
            state.delivered.push(notification.clone());
            let id = format!("msg-{}", state.delivered.len());
            match fault {
                Some(_) => Err(Self::error("publish")),
                None => Ok(id),
            }
        })
    }
}

impl LogTails for MemoryTasks {
    fn tail<'a>(
        &'a self,
        sample: &'a FailureSample,
        lines: usize,
    ) -> BoxFuture<'a, Result<Option<LogTail>, AwsError>> {
        Box::pin(async move {
            let state = self.lock();
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
            Ok(state.logs.get(container).map(|all| LogTail {
                container: container.to_owned(),
                log_group: format!("/ecs/{family}"),
                log_stream: format!("ecs/{container}/{task_id}"),
                lines: all[all.len().saturating_sub(lines)..].to_vec(),
            }))
        })
    }
}
