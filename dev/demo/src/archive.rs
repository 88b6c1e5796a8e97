//! The event archive and the fleet recorder: set up before the first act, so every event the
//! acts send is logged and recorded as the stack would; shown after the last act through
//! the operator commands (`ecs-sentinel fleet`, `tasks --stopped`, `events`).

use crate::{Timeline, VISIBILITY};
use anyhow::Context;
use sentinel_emulator::stack::{create_fleet_table, RuleQueue, Stack};
use sentinel_emulator::template::TemplateFacts;
use sentinel_emulator::QueuePoller;
use sentinel_emulator::{ACCOUNT, REGION};
use sentinel_fleet::view::TaskFilter;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const FLEET_TABLE: &str = "ecs-sentinel-fleet";
const EVENT_LOG: &str = "/aws/events/ecs-sentinel/ecs";

/// What the archive half of the stack holds while the acts run.
pub struct Archive {
    queue: RuleQueue,
    recorder: fleet_recorder::FleetRecorder,
    table: fleet_recorder::FleetTable,
}

impl Archive {
    /// The event log group with its rule, and the fleet table, queue, rule and recorder;
    /// patterns and redrive from the template.
    pub async fn set_up(
        t: &Timeline,
        sdk: &aws_config::SdkConfig,
        stack: &Stack,
        facts: &TemplateFacts,
    ) -> anyhow::Result<Self> {
        aws_sdk_cloudwatchlogs::Client::new(sdk)
            .create_log_group()
            .log_group_name(EVENT_LOG)
            .send()
            .await
            .context("creating the event log group")?;
        stack
            .add_rule(
                "ecs-sentinel-event-log",
                &facts.archive_pattern,
                &format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{EVENT_LOG}"),
            )
            .await?;
        create_fleet_table(sdk, FLEET_TABLE).await?;
        let queue = stack
            .add_rule_queue(
                "ecs-sentinel-fleet",
                std::slice::from_ref(&facts.fleet_pattern),
                Duration::ZERO,
                VISIBILITY,
                facts.fleet_max_receive_count,
            )
            .await?;
        let env: HashMap<&str, String> = HashMap::from([
            (
                fleet_recorder::config::FLEET_TABLE_NAME,
                FLEET_TABLE.to_owned(),
            ),
            (
                fleet_recorder::config::DEAD_LETTER_QUEUE_URL,
                stack.dead_letter_url.clone(),
            ),
        ]);
        let config = fleet_recorder::Config::from_lookup(|name| env.get(name).cloned())?;
        let retention = config.stopped_retention;
        let recorder = fleet_recorder::FleetRecorder::new(
            fleet_recorder::Clients::from_sdk_config(sdk),
            config,
        );
        t.say(
            "stack",
            format!("every ECS event -> event log {EVENT_LOG}; every ECS event -> fleet queue -> fleet recorder -> fleet table"),
        );
        Ok(Archive {
            queue,
            recorder,
            table: fleet_recorder::FleetTable::new(
                aws_sdk_dynamodb::Client::new(sdk),
                FLEET_TABLE,
                retention,
            ),
        })
    }

    /// Act 5: the fleet recorder drains what the acts sent, the reconcile adds what ECS
    /// lists, and the operator commands show the result.
    pub async fn show(
        &self,
        t: &Timeline,
        sdk: &aws_config::SdkConfig,
        stack: &Stack,
    ) -> anyhow::Result<()> {
        let poller = QueuePoller::new(stack.sqs.clone(), &self.queue.url, &self.queue.arn, REGION)
            .batching(100, Duration::from_secs(1))
            .wait_seconds(1);
        let deadline = Instant::now() + Duration::from_secs(60);
        let (mut received, mut written, mut keys) = (0, 0, 0);
        while let Some(poll) = poller.poll_once(&self.recorder).await? {
            received += poll.report.received;
            written += poll.report.written;
            keys += poll.report.keys;
            anyhow::ensure!(
                Instant::now() < deadline,
                "the fleet queue did not drain in time"
            );
        }
        t.say(
            "fleet",
            format!("{received} events recorded as {keys} keys ({written} written; a task's whole life in one batch is one write)"),
        );
        let reconciled = self.recorder.reconcile().await;
        t.say(
            "reconcile",
            format!(
                "{} clusters compared with what ECS lists: {} missed states written, {} records marked gone",
                reconciled.clusters, reconciled.written, reconciled.marked_gone
            ),
        );
        let mut out = std::io::stdout().lock();
        println!("\n$ ecs-sentinel fleet --table {FLEET_TABLE}");
        sentinel_cli::fleet_cmd::fleet(&self.table, None, false, chrono::Utc::now(), &mut out)
            .await?;
        println!("\n$ ecs-sentinel tasks --table {FLEET_TABLE} --cluster payments-prod --stopped");
        let stopped = TaskFilter {
            cluster: Some("payments-prod".into()),
            stopped_only: true,
            ..TaskFilter::default()
        };
        sentinel_cli::fleet_cmd::tasks(&self.table, &stopped, 10, false, &mut out).await?;
        println!("\n$ ecs-sentinel events --log-group {EVENT_LOG} --since 1h --service checkout --type deployment");
        let filter = sentinel_cli::events_cmd::EventFilter {
            service: Some("checkout".into()),
            kind: Some("deployment".into()),
            ..Default::default()
        };
        let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
        let since = chrono::Utc::now() - chrono::TimeDelta::hours(1);
        sentinel_cli::events_cmd::events(&logs, EVENT_LOG, since, &filter, false, false, &mut out)
            .await?;

        // The join: the event log, the fleet table and the monitors' alert table, read as
        // `why` and `top` read a deployed stack's outputs.
        let located = sentinel_cli::why_cmd::Located::new(
            sdk,
            Some(EVENT_LOG.to_owned()),
            Some(FLEET_TABLE.to_owned()),
            Some(stack.table_name.clone()),
        );
        println!(
            "\n$ ecs-sentinel why --cluster payments-prod --service checkout --since 1h --log-group {EVENT_LOG} --table {FLEET_TABLE} --alert-table {}",
            stack.table_name
        );
        let checkout = sentinel_why::Subject {
            cluster: "payments-prod".into(),
            what: sentinel_why::Target::Service("checkout".into()),
        };
        let report = sentinel_cli::why_cmd::why(&checkout, &located, since).await?;
        sentinel_cli::why_cmd::print(&report, since, &mut out)?;
        println!(
            "\n$ ecs-sentinel top --once --since 1h --log-group {EVENT_LOG} --table {FLEET_TABLE} --alert-table {}",
            stack.table_name
        );
        let frame =
            sentinel_cli::top_cmd::once(&located, None, chrono::TimeDelta::hours(1)).await?;
        print!("{frame}");
        Ok(())
    }
}
