//! Support for the end-to-end tests: a fresh emulator per test with the stack's topic,
//! inbox and dead-letter queue, a fleet builder, and SQS records as Lambda delivers them.

pub mod runtime_api;

use agent_monitor::config::{self, Config};
use agent_monitor::EpisodeStore;
use agent_monitor::{Clients, Monitor};
use aws_lambda_events::event::sqs::SqsMessage;
use sentinel_agent::episode::Episode;
use sentinel_emulator::fleet::{Fleet, Member};
use sentinel_emulator::stack::Stack;
use sentinel_emulator::Emulator;
use serde_json::Value;
use std::collections::HashMap;

pub use sentinel_emulator::fleet;
pub use sentinel_emulator::{Fault, FaultKind};

pub struct World {
    pub emulator: Emulator,
    pub sdk: aws_config::SdkConfig,
    pub stack: Stack,
}

impl World {
    pub async fn start() -> anyhow::Result<World> {
        let emulator = Emulator::start()?;
        let sdk = emulator.sdk_config().await;
        let stack = Stack::create(&sdk, "sentinel").await?;
        Ok(World {
            emulator,
            sdk,
            stack,
        })
    }

    pub fn fleet(&self) -> Fleet<'_> {
        Fleet::new(&self.emulator, &self.sdk)
    }

    /// The configuration the template sets, pointed at this world, with extra variables.
    pub fn config(&self, extra: &[(&str, &str)]) -> anyhow::Result<Config> {
        let mut env: HashMap<String, String> = HashMap::from([
            (
                config::ALERT_TOPIC_ARN.to_owned(),
                self.stack.topic_arn.clone(),
            ),
            (
                config::DEAD_LETTER_QUEUE_URL.to_owned(),
                self.stack.dead_letter_url.clone(),
            ),
            (
                config::ALERT_TABLE_NAME.to_owned(),
                self.stack.table_name.clone(),
            ),
        ]);
        for (k, v) in extra {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        Ok(Config::from_lookup(|name| env.get(name).cloned())?)
    }

    pub fn monitor(&self, config: Config) -> anyhow::Result<Monitor> {
        Ok(Monitor::new(Clients::from_sdk_config(&self.sdk), config)?)
    }

    /// The event ECS would send now that `member`'s agent disconnected.
    pub async fn disconnect_event(&self, member: &Member) -> anyhow::Result<String> {
        Ok(self
            .fleet()
            .state_change_event(member, false, chrono::Utc::now())
            .await?
            .to_string())
    }

    /// The event ECS would send now that `member`'s agent reconnected.
    pub async fn reconnect_event(&self, member: &Member) -> anyhow::Result<String> {
        Ok(self
            .fleet()
            .state_change_event(member, true, chrono::Utc::now())
            .await?
            .to_string())
    }

    /// The stored episode of a container instance, if any.
    pub async fn episode(&self, member: &Member) -> anyhow::Result<Option<Episode>> {
        let store = EpisodeStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            &self.stack.table_name,
        );
        Ok(store
            .get_many(std::slice::from_ref(&member.container_instance_arn))
            .await?
            .episodes
            .remove(&member.container_instance_arn))
    }

    /// A cluster with `count` EC2 instances whose agents all stopped: the members and the
    /// events ECS sent about them.
    pub async fn cluster_with_stopped_agents(
        &self,
        cluster: &str,
        tags: &[(&str, &str)],
        count: usize,
    ) -> anyhow::Result<(Vec<Member>, Vec<String>)> {
        let fleet = self.fleet();
        fleet.create_cluster(cluster, tags).await?;
        let members = fleet.add_ec2_instances(cluster, count).await?;
        let mut events = Vec::with_capacity(members.len());
        for member in &members {
            fleet.stop_agent(member)?;
            events.push(self.disconnect_event(member).await?);
        }
        Ok((members, events))
    }

    /// Monitoring only clusters tagged `ecs-agent-monitoring=<value>`.
    pub fn tag_mode_config(&self, value: &str) -> anyhow::Result<Config> {
        self.config(&[
            (config::MONITOR_ALL_CLUSTERS, "false"),
            (config::MONITORING_TAG_VALUE, value),
        ])
    }

    pub fn calls(&self) -> anyhow::Result<HashMap<String, u64>> {
        Ok(self.emulator.calls()?.into_iter().collect())
    }
}

/// SQS records as Lambda hands them over: message ids `m0`, `m1`, …
pub fn records(bodies: &[String]) -> Vec<SqsMessage> {
    bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut record = SqsMessage::default();
            record.message_id = Some(format!("m{i}"));
            record.receipt_handle = Some(format!("handle-{i}"));
            record.body = Some(body.clone());
            record.event_source = Some("aws:sqs".into());
            record
        })
        .collect()
}

/// The node ids an alert document lists.
pub fn nodes_in(document: &Value) -> Vec<String> {
    let mut nodes: Vec<String> = document["instances"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|i| i["nodeId"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    nodes.sort();
    nodes
}

/// An event log group as the stack's archive rule fills it: one log event per ECS event (its
/// JSON), stamped with the time given, oldest first.
pub async fn event_log(
    sdk: &aws_config::SdkConfig,
    group: &str,
    events: &[(chrono::DateTime<chrono::Utc>, Value)],
) -> anyhow::Result<()> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    logs.create_log_group().log_group_name(group).send().await?;
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name("events")
        .send()
        .await?;
    let mut stamped: Vec<_> = events.iter().collect();
    // PutLogEvents takes a batch in time order.
    stamped.sort_by_key(|(at, _)| *at);
    let input = stamped
        .into_iter()
        .map(|(at, event)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(at.timestamp_millis())
                .message(event.to_string())
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name("events")
        .set_log_events(Some(input))
        .send()
        .await?;
    Ok(())
}

/// A fleet recorder writing to a new fleet table `table` (created here), parking in the
/// stack's dead-letter queue, and the same table to read back, as the CLI reads it.
pub async fn fleet_recorder(
    world: &World,
    table: &str,
) -> anyhow::Result<(fleet_recorder::FleetRecorder, fleet_recorder::FleetTable)> {
    sentinel_emulator::stack::create_fleet_table(&world.sdk, table).await?;
    let env = [
        ("FLEET_TABLE_NAME", table.to_owned()),
        ("DEAD_LETTER_QUEUE_URL", world.stack.dead_letter_url.clone()),
    ];
    let config = fleet_recorder::Config::from_lookup(|name| {
        env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    })?;
    let recorder = fleet_recorder::FleetRecorder::new(
        fleet_recorder::Clients::from_sdk_config(&world.sdk),
        config,
    );
    let reader = fleet_recorder::FleetTable::new(
        aws_sdk_dynamodb::Client::new(&world.sdk),
        table,
        chrono::TimeDelta::days(14),
    );
    Ok((recorder, reader))
}

/// Task definition `api:1`, whose `app` container logs to CloudWatch Logs (`/ecs/api`,
/// prefix `ecs`), and what task `task` of it logged, as the awslogs driver writes it.
pub async fn container_log(world: &World, task: u32, lines: &[&str]) -> anyhow::Result<()> {
    world
        .fleet()
        .register_logging_task_definition("api", "app", "/ecs/api")
        .await?;
    log_stream(world, "/ecs/api", &format!("ecs/app/{task:032x}"), lines).await
}

/// Log group `group` (created) with stream `stream` holding `lines`, written a few seconds
/// ago, oldest first.
pub async fn log_stream(
    world: &World,
    group: &str,
    stream: &str,
    lines: &[&str],
) -> anyhow::Result<()> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&world.sdk);
    logs.create_log_group().log_group_name(group).send().await?;
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await?;
    let start = chrono::Utc::now().timestamp_millis() - 10_000;
    let mut events = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        events.push(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(start + i as i64)
                .message(*line)
                .build()?,
        );
    }
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await?;
    Ok(())
}
