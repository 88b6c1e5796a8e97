//! The last lines a failed container logged, for the task monitor's alerts: where the
//! container logs comes from its task definition (the `awslogs` driver's group and stream
//! prefix), read once per revision and kept (a revision never changes); the lines from one
//! GetLogEvents call. A container that logs elsewhere, or without a stream prefix (its
//! stream name cannot be known), has no tail; that is not an error.

use crate::sdk::OnFirstUse;
use crate::{AwsError, FromSdk};
use sentinel_core::logs::LogTail;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Where one container's log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AwsLogs {
    group: String,
    stream_prefix: Option<String>,
}

/// Log settings of every container of one task definition revision, by container name.
type Revision = Arc<HashMap<String, AwsLogs>>;

/// Where one container of a task definition logs (the awslogs driver's settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogDestination {
    pub container: String,
    pub group: String,
    pub stream_prefix: Option<String>,
}

impl LogDestination {
    /// The prefix of this container's stream names: the awslogs driver names streams
    /// `prefix/container/task-id`; without a prefix they are task ids alone.
    pub fn streams(&self) -> Option<String> {
        self.stream_prefix
            .as_ref()
            .map(|prefix| format!("{prefix}/{}/", self.container))
    }
}

pub struct ContainerLogs {
    ecs: aws_sdk_ecs::Client,
    logs: OnFirstUse<aws_sdk_cloudwatchlogs::Client>,
    revisions: Mutex<HashMap<String, Revision>>,
}

impl ContainerLogs {
    pub fn new(
        ecs: aws_sdk_ecs::Client,
        logs: impl Into<OnFirstUse<aws_sdk_cloudwatchlogs::Client>>,
    ) -> Self {
        ContainerLogs {
            ecs,
            logs: logs.into(),
            revisions: Mutex::new(HashMap::new()),
        }
    }

    /// The last `lines` lines `container` of task `task_id` logged; `task_definition` is
    /// `family:revision` (or an ARN).
    pub async fn tail(
        &self,
        task_definition: &str,
        task_id: &str,
        container: &str,
        lines: usize,
    ) -> Result<Option<LogTail>, AwsError> {
        let revision = self.revision(task_definition).await?;
        let Some(AwsLogs {
            group,
            stream_prefix: Some(prefix),
        }) = revision.get(container)
        else {
            return Ok(None);
        };
        // The awslogs driver names streams prefix/container/task-id.
        let stream = format!("{prefix}/{container}/{task_id}");
        let output = self
            .logs
            .get()
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(&stream)
            .limit(i32::try_from(lines).unwrap_or(i32::MAX))
            .start_from_head(false)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("logs", "GetLogEvents", e))?;
        let lines: Vec<String> = output
            .events()
            .iter()
            .filter_map(|e| e.message())
            .map(|m| m.trim_end().to_owned())
            .collect();
        Ok((!lines.is_empty()).then(|| LogTail {
            container: container.to_owned(),
            log_group: group.clone(),
            log_stream: stream,
            lines,
        }))
    }

    /// Where each container of a task definition logs with the awslogs driver (group and
    /// stream prefix), by container name; containers that log elsewhere are left out.
    pub async fn destinations(
        &self,
        task_definition: &str,
    ) -> Result<Vec<LogDestination>, AwsError> {
        let revision = self.revision(task_definition).await?;
        let mut found: Vec<LogDestination> = revision
            .iter()
            .map(|(container, logs)| LogDestination {
                container: container.clone(),
                group: logs.group.clone(),
                stream_prefix: logs.stream_prefix.clone(),
            })
            .collect();
        found.sort_by(|a, b| a.container.cmp(&b.container));
        Ok(found)
    }

    async fn revision(&self, task_definition: &str) -> Result<Revision, AwsError> {
        let cached = self
            .revisions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(task_definition)
            .cloned();
        if let Some(revision) = cached {
            return Ok(revision);
        }
        let output = self
            .ecs
            .describe_task_definition()
            .task_definition(task_definition)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ecs", "DescribeTaskDefinition", e))?;
        let containers = output
            .task_definition()
            .map(|td| td.container_definitions())
            .unwrap_or_default();
        let revision: Revision = Arc::new(
            containers
                .iter()
                .filter_map(|c| {
                    let config = c.log_configuration()?;
                    if config.log_driver().as_str() != "awslogs" {
                        return None;
                    }
                    let options = config.options()?;
                    Some((
                        c.name()?.to_owned(),
                        AwsLogs {
                            group: options.get("awslogs-group")?.clone(),
                            stream_prefix: options.get("awslogs-stream-prefix").cloned(),
                        },
                    ))
                })
                .collect(),
        );
        self.revisions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(task_definition.to_owned(), revision.clone());
        Ok(revision)
    }
}

/// One logged line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub timestamp_ms: i64,
    pub stream: String,
    pub message: String,
}

/// Which lines to read: a group (and stream prefix) over a time window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogWindow {
    pub group: String,
    pub stream_prefix: Option<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Keep only the newest this many lines (the rest are still read and counted).
    pub keep: Option<usize>,
    /// Events per FilterLogEvents page; `None` is the service's default (up to 10,000).
    pub page_size: Option<i32>,
}

/// What a window held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowRead {
    /// The kept lines, oldest first.
    pub lines: Vec<LogLine>,
    /// Every line the window held, kept or not.
    pub seen: u64,
    pub pages: u32,
    /// Pages asked again after the service throttled them.
    pub throttled: u32,
}

/// How long to wait before asking a throttled page again: `first`, doubling, `retries`
/// times. On top of the SDK's own retries, so a long pull rides out a busy account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: std::time::Duration,
    pub retries: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: std::time::Duration::from_millis(250),
            retries: 5,
        }
    }
}

/// A line in the newest-N heap: the oldest (then the first read) on top, to be dropped.
struct Newest(i64, u64, LogLine);

impl PartialEq for Newest {
    fn eq(&self, other: &Self) -> bool {
        (self.0, self.1) == (other.0, other.1)
    }
}
impl Eq for Newest {}
impl PartialOrd for Newest {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Newest {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Reversed: BinaryHeap is a max-heap and the oldest line must be on top.
        (other.0, other.1).cmp(&(self.0, self.1))
    }
}

fn is_throttling(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ThrottlingException"
                | "Throttling"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
        )
    )
}

/// Reads the window to its end with FilterLogEvents, every page; throttled pages are
/// asked again after a backoff, other errors are errors (never "no lines"). `progress`
/// hears the running count of lines seen after each page.
pub async fn read_window(
    logs: &aws_sdk_cloudwatchlogs::Client,
    window: &LogWindow,
    backoff: Backoff,
    mut progress: impl FnMut(u64),
) -> Result<WindowRead, AwsError> {
    let mut read = WindowRead::default();
    let mut kept = std::collections::BinaryHeap::new();
    let mut next_token: Option<String> = None;
    let mut sequence = 0u64;
    loop {
        let mut attempt = 0;
        let page = loop {
            let answer = logs
                .filter_log_events()
                .log_group_name(&window.group)
                .set_log_stream_name_prefix(window.stream_prefix.clone())
                .start_time(window.start_ms)
                .end_time(window.end_ms)
                .set_limit(window.page_size)
                .set_next_token(next_token.clone())
                .send()
                .await;
            match answer {
                Ok(page) => break page,
                Err(e) => {
                    let error = AwsError::from_sdk("logs", "FilterLogEvents", e);
                    if attempt >= backoff.retries || !is_throttling(error.code.as_deref()) {
                        return Err(error);
                    }
                    tokio::time::sleep(backoff.first * 2u32.saturating_pow(attempt)).await;
                    attempt += 1;
                    read.throttled += 1;
                }
            }
        };
        read.pages += 1;
        for event in page.events() {
            read.seen += 1;
            sequence += 1;
            let line = LogLine {
                timestamp_ms: event.timestamp().unwrap_or_default(),
                stream: event.log_stream_name().unwrap_or_default().to_owned(),
                message: event.message().unwrap_or_default().trim_end().to_owned(),
            };
            kept.push(Newest(line.timestamp_ms, sequence, line));
            if window.keep.is_some_and(|keep| kept.len() > keep) {
                kept.pop();
            }
        }
        progress(read.seen);
        // The same token twice would loop forever; the service ends with no token.
        match page.next_token() {
            Some(token) if next_token.as_deref() != Some(token) => {
                next_token = Some(token.to_owned())
            }
            _ => break,
        }
    }
    let mut lines: Vec<Newest> = kept.into_vec();
    lines.sort_by(|a, b| b.cmp(a));
    read.lines = lines.into_iter().map(|Newest(_, _, line)| line).collect();
    Ok(read)
}
