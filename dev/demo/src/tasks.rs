//! Act 4: the task monitor. A service's new revision crash-loops (one page, with the
//! container's last log lines), its deployment fails and rolls back (no second page), and the
//! rolled-back service settles (RESOLVED). Deployment replacements never reach the function;
//! a Spot interruption is counted, not paged.

use crate::{Collected, Timeline, INDENT, TAG_KEY, TAG_VALUE};
use anyhow::Context;
use sentinel_emulator::stack::Stack;
use sentinel_emulator::template::TemplateFacts;
use sentinel_emulator::QueuePoller;
use sentinel_emulator::{Emulator, ACCOUNT, REGION};
use sentinel_tasks::event::fixtures::{service_event, stopped_task};
use sentinel_tasks::event::{DEPLOYMENT_STATE_CHANGE, SERVICE_ACTION};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use task_monitor::{Clients, Config, TaskBatchReport, TaskMonitor};

const CLUSTER: &str = "payments-prod";
const SERVICE: &str = "checkout";
/// Crashed tasks of the new revision before the circuit breaker gives up.
const CRASHES: u32 = 5;
/// What each crashed task's app container logged before it exited.
const CRASH_LOG: &[&str] = &[
    "INFO  checkout 7.2.0 starting",
    "INFO  connected to postgres at db.internal:5432",
    "ERROR payment provider key PAYMENTS_API_KEY is not set",
    "panic: missing configuration: PAYMENTS_API_KEY",
];

pub struct TaskAct<'a> {
    pub t: &'a Timeline,
    pub sdk: &'a aws_config::SdkConfig,
    pub emulator: &'a Emulator,
    pub stack: &'a Stack,
    pub facts: &'a TemplateFacts,
    pub visibility: Duration,
    /// The chat topic (ChatNotifications=Enabled).
    pub chat_topic: &'a str,
}

impl TaskAct<'_> {
    pub async fn run(&self, collected: &mut Collected) -> anyhow::Result<()> {
        let t = self.t;
        let queue = self
            .stack
            .add_rule_queue(
                "ecs-sentinel-tasks",
                &self.facts.task_patterns,
                Duration::ZERO,
                self.visibility,
                self.facts.task_max_receive_count,
            )
            .await?;
        t.say(
            "stack",
            "task, Spot, service-action and deployment rules -> task queue (no delay) -> task monitor (rule patterns from template.yaml)",
        );
        let task_definition = self.register_revision().await?;
        let monitor = TaskMonitor::new(Clients::from_sdk_config(self.sdk), self.config()?);
        let poller = QueuePoller::new(self.stack.sqs.clone(), &queue.url, &queue.arn, REGION)
            .wait_seconds(1);
        let cluster_arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}");

        // The new revision crash-loops; the deployment also replaces old tasks as usual.
        let mut events = Vec::new();
        let now = chrono::Utc::now();
        for n in 1..=CRASHES {
            let task_id = format!("{:032x}", 0xc0ffee00_u64 + u64::from(n));
            self.write_crash_log(&task_id).await?;
            // One crash every 25 s, the last one just now.
            let stopped_at = now - chrono::TimeDelta::seconds(25 * i64::from(CRASHES - n));
            events.push(self.stop(
                &cluster_arn,
                &task_id,
                &task_definition,
                json!({"stoppedAt": stopped_at.to_rfc3339(), "updatedAt": stopped_at.to_rfc3339(),
                       "containers": [{"name": "app", "exitCode": 1}]}),
            ));
        }
        for n in 1..=3u64 {
            events.push(self.stop(
                &cluster_arn,
                &format!("{:032x}", 0xa11ce00_u64 + n),
                &task_definition,
                json!({"stoppedAt": now.to_rfc3339(), "updatedAt": now.to_rfc3339(), "stopCode": "ServiceSchedulerInitiated",
                       "stoppedReason": "Scaling activity initiated by (deployment ecs-svc/7)",
                       "containers": [{"name": "app", "exitCode": 0}]}),
            ));
        }
        events.push(self.stop(
            &cluster_arn,
            &format!("{:032x}", 0x5907_u64),
            &task_definition,
            json!({"stoppedAt": null, "lastStatus": "RUNNING", "stopCode": "SpotInterruption",
                   "stoppedReason": "Your Spot Task was interrupted."}),
        ));
        self.stack.put_events(&events).await?;
        t.say(
            "tasks",
            format!("{SERVICE} ({CLUSTER}) revision {task_definition} crash-loops: {CRASHES} tasks exit 1; the deployment replaces 3 old tasks (the rule's pattern drops those stops); 1 Spot task is interrupted"),
        );
        self.emulator.reset_calls()?;
        drain(t, &poller, &monitor, CRASHES as usize + 1, collected).await?;
        crate::print_calls(self.emulator)?;

        // The circuit breaker gives up and rolls back.
        self.stack
            .put_events(&[self.service_event(
                DEPLOYMENT_STATE_CHANGE,
                &cluster_arn,
                "ERROR",
                "SERVICE_DEPLOYMENT_FAILED",
                "ECS deployment circuit breaker: tasks failed to start. Rolling back to the previous deployment.",
            )])
            .await?;
        t.say(
            "deployment",
            "SERVICE_DEPLOYMENT_FAILED: the circuit breaker rolls back to the previous deployment",
        );
        drain(t, &poller, &monitor, 1, collected).await?;

        // The rolled-back service settles.
        self.stack
            .put_events(&[self.service_event(
                SERVICE_ACTION,
                &cluster_arn,
                "INFO",
                "SERVICE_STEADY_STATE",
                "service checkout has reached a steady state.",
            )])
            .await?;
        t.say(
            "service",
            "SERVICE_STEADY_STATE: the previous revision runs again",
        );
        drain(t, &poller, &monitor, 1, collected).await
    }

    /// Tag mode like the agent monitor's demo; 20 log lines, the stack's default.
    fn config(&self) -> anyhow::Result<Config> {
        use task_monitor::config::*;
        let env: HashMap<&str, String> = HashMap::from([
            (ALERT_TOPIC_ARN, self.stack.topic_arn.clone()),
            (CHAT_TOPIC_ARN, self.chat_topic.to_owned()),
            (ALERT_TABLE_NAME, self.stack.table_name.clone()),
            (DEAD_LETTER_QUEUE_URL, self.stack.dead_letter_url.clone()),
            (MONITOR_ALL_CLUSTERS, "false".to_owned()),
            (MONITORING_TAG_KEY, TAG_KEY.to_owned()),
            (MONITORING_TAG_VALUE, TAG_VALUE.to_owned()),
        ]);
        Ok(Config::from_lookup(|name| env.get(name).cloned())?)
    }

    /// The service's task definition, whose app container logs through awslogs to
    /// `/ecs/checkout` with the stream prefix `ecs`. Returns `family:revision`.
    async fn register_revision(&self) -> anyhow::Result<String> {
        let revision = sentinel_emulator::fleet::Fleet::new(self.emulator, self.sdk)
            .register_logging_task_definition(SERVICE, "app", &format!("/ecs/{SERVICE}"))
            .await?;
        aws_sdk_cloudwatchlogs::Client::new(self.sdk)
            .create_log_group()
            .log_group_name(format!("/ecs/{SERVICE}"))
            .send()
            .await
            .context("creating the demo log group")?;
        Ok(revision)
    }

    async fn write_crash_log(&self, task_id: &str) -> anyhow::Result<()> {
        let logs = aws_sdk_cloudwatchlogs::Client::new(self.sdk);
        let group = format!("/ecs/{SERVICE}");
        let stream = format!("ecs/app/{task_id}");
        logs.create_log_stream()
            .log_group_name(&group)
            .log_stream_name(&stream)
            .send()
            .await
            .context("creating a demo log stream")?;
        let start = chrono::Utc::now().timestamp_millis() - 5_000;
        let events = CRASH_LOG
            .iter()
            .zip(start..)
            .map(|(line, at)| {
                aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                    .timestamp(at)
                    .message(*line)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        logs.put_log_events()
            .log_group_name(&group)
            .log_stream_name(&stream)
            .set_log_events(Some(events))
            .send()
            .await
            .context("writing a demo log stream")?;
        Ok(())
    }

    fn stop(
        &self,
        cluster_arn: &str,
        task_id: &str,
        task_definition: &str,
        detail: Value,
    ) -> Value {
        let mut base = json!({
            "clusterArn": cluster_arn,
            "taskArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/{CLUSTER}/{task_id}"),
            "taskDefinitionArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{task_definition}"),
            "group": format!("service:{SERVICE}"),
        });
        if let (Some(base), Value::Object(more)) = (base.as_object_mut(), detail) {
            base.extend(more);
        }
        stopped_task(base)
    }

    fn service_event(
        &self,
        detail_type: &str,
        cluster_arn: &str,
        level: &str,
        name: &str,
        reason: &str,
    ) -> Value {
        // Stamped when sent, as ECS stamps them, so they fall after the crashes they follow.
        let now = chrono::Utc::now().to_rfc3339();
        let mut event = service_event(
            detail_type,
            json!({"eventType": level, "eventName": name, "clusterArn": cluster_arn,
                   "reason": reason, "createdAt": now, "updatedAt": now}),
        );
        if detail_type == DEPLOYMENT_STATE_CHANGE {
            event["detail"]["deploymentId"] = json!("ecs-svc/7");
        }
        event["time"] = json!(now);
        event["resources"] = json!([format!(
            "arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/{SERVICE}"
        )]);
        event
    }
}

/// Runs the local event source until `expected` records were handled (deleted).
async fn drain(
    t: &Timeline,
    poller: &QueuePoller,
    monitor: &TaskMonitor,
    expected: usize,
    collected: &mut Collected,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut handled = 0;
    while handled < expected {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {handled} of {expected} records of the task queue were handled in time"
        );
        let Some(poll) = poller.poll_once(monitor).await? else {
            continue;
        };
        handled += poll.deleted.len();
        say_batch(t, &poll.report);
        for p in &poll.report.published {
            collected.emails.push((p.subject.clone(), p.text.clone()));
        }
        collected
            .metrics
            .extend(poll.report.metrics.iter().map(|m| m.to_emf()));
    }
    Ok(())
}

fn say_batch(t: &Timeline, report: &TaskBatchReport) {
    let not_failures: usize = report.not_failures.values().sum();
    t.say(
        "task batch",
        format!(
            "{} records: {} failure(s), {} message(s), {} Spot interruption(s) counted, {} not failures, {} to retry",
            report.received,
            report.failures.len(),
            report.published.len(),
            report.spot_interruptions,
            not_failures,
            report.failed_record_ids.len(),
        ),
    );
    for p in &report.published {
        println!("{INDENT}{}: {}", p.notice.as_str(), p.subject);
    }
    if report.published.is_empty() && !report.failures.is_empty() {
        println!("{INDENT}no message: the service's episode already paged (its count grows)");
    }
}
