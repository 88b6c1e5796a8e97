//! The last lines a failed container logged, for the task monitor's alerts: where the
//! container logs comes from its task definition (the `awslogs` driver's group and stream
//! prefix), read once per revision and kept (a revision never changes); the lines from one
//! GetLogEvents call. A container that logs elsewhere, or without a stream prefix (its
//! stream name cannot be known), has no tail; that is not an error.

use crate::AwsError;
use sentinel_tasks::message::LogTail;
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

pub struct ContainerLogs {
    ecs: aws_sdk_ecs::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    revisions: Mutex<HashMap<String, Revision>>,
}

impl ContainerLogs {
    pub fn new(ecs: aws_sdk_ecs::Client, logs: aws_sdk_cloudwatchlogs::Client) -> Self {
        ContainerLogs {
            ecs,
            logs,
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
