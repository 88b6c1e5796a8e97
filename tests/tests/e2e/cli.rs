//! The operator commands, in-process, against the emulator: a fleet recorded by the fleet
//! recorder shown as tables and JSON, the event log read back and filtered, and an archive
//! replay followed to its end.

use integration_tests::{records, World};
use sentinel_cli::{archive_cmd, events_cmd, fleet_cmd};
use sentinel_fleet::view::TaskFilter;
use sentinel_tasks::event::fixtures::stopped_task;
use serde_json::{json, Value};
use std::time::Duration;

const TABLE: &str = "cli-fleet";
const PROD: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";

fn task_arn(n: u32) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{n:032x}")
}

fn instance_event(id: &str, connected: bool) -> String {
    json!({
        "version": "0", "id": id, "source": "aws.ecs", "account": "123456789012",
        "detail-type": "ECS Container Instance State Change", "region": "us-east-1",
        "time": chrono::Utc::now().to_rfc3339(), "resources": [],
        "detail": {"clusterArn": PROD, "status": "ACTIVE", "agentConnected": connected,
                   "containerInstanceArn": format!("arn:aws:ecs:us-east-1:123456789012:container-instance/prod/{id}"),
                   "versionInfo": {"agentVersion": "1.89.2"}, "version": 3}
    })
    .to_string()
}

/// A recorded fleet: two instances (one agent down), api running once and crashed once ten
/// minutes ago, web's task replaced by a deployment.
async fn recorded_fleet(world: &World) -> anyhow::Result<fleet_recorder::FleetTable> {
    sentinel_emulator::stack::create_fleet_table(&world.sdk, TABLE).await?;
    let env = [
        ("FLEET_TABLE_NAME", TABLE.to_owned()),
        ("DEAD_LETTER_QUEUE_URL", world.stack.dead_letter_url.clone()),
    ];
    let recorder = fleet_recorder::FleetRecorder::new(
        fleet_recorder::Clients::from_sdk_config(&world.sdk),
        fleet_recorder::Config::from_lookup(|name| {
            env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
        })?,
    );
    let ten_minutes_ago = (chrono::Utc::now() - chrono::TimeDelta::minutes(10)).to_rfc3339();
    let bodies = vec![
        instance_event("a", true),
        instance_event("b", false),
        stopped_task(json!({"taskArn": task_arn(1), "lastStatus": "RUNNING", "version": 4,
                            "stopCode": null, "stoppedReason": null, "stoppedAt": null,
                            "updatedAt": ten_minutes_ago}))
        .to_string(),
        stopped_task(json!({"taskArn": task_arn(2), "version": 8, "stoppedAt": ten_minutes_ago,
                            "updatedAt": ten_minutes_ago,
                            "containers": [{"name": "app", "exitCode": 137,
                                            "reason": "OutOfMemoryError: Container killed due to memory usage"}]}))
        .to_string(),
        stopped_task(json!({"taskArn": task_arn(3), "version": 8, "group": "service:web",
                            "stopCode": "ServiceSchedulerInitiated",
                            "stoppedReason": "Scaling activity initiated by (deployment ecs-svc/1)",
                            "stoppedAt": ten_minutes_ago, "updatedAt": ten_minutes_ago}))
        .to_string(),
    ];
    let report = recorder.process(&records(&bodies)).await;
    anyhow::ensure!(report.written == 5, "{report:?}");
    Ok(fleet_recorder::FleetTable::new(
        aws_sdk_dynamodb::Client::new(&world.sdk),
        TABLE,
        chrono::TimeDelta::days(14),
    ))
}

#[tokio::test]
async fn fleet_and_tasks_show_a_recorded_fleet_as_tables_and_json() -> anyhow::Result<()> {
    let world = World::start().await?;
    let table = recorded_fleet(&world).await?;
    let now = chrono::Utc::now();

    let mut text = Vec::new();
    fleet_cmd::fleet(&table, None, false, now, &mut text).await?;
    let text = String::from_utf8(text)?;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("CLUSTER"), "{text}");
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        cells,
        ["prod", "2", "1", "1", "0", "2", "service:api", "(1)"],
        "{text}"
    );

    let mut doc = Vec::new();
    fleet_cmd::fleet(&table, Some("prod"), true, now, &mut doc).await?;
    let doc: Value = serde_json::from_slice(&doc)?;
    let prod = &doc["clusters"][0];
    assert_eq!(prod["cluster"], "prod");
    assert_eq!(prod["agentsDisconnected"], 1);
    assert_eq!(prod["tasks"]["STOPPED"], 2);
    assert_eq!(
        prod["failing"],
        json!([{"group": "service:api", "failures": 1,
                "latestReason": "Essential container in task exited"}])
    );

    let stopped_api = TaskFilter {
        cluster: Some("prod".into()),
        service: Some("api".into()),
        stopped_only: true,
        since: Some(now - chrono::TimeDelta::hours(24)),
    };
    let mut json_out = Vec::new();
    fleet_cmd::tasks(&table, &stopped_api, 100, true, &mut json_out).await?;
    let tasks: Value = serde_json::from_slice(&json_out)?;
    assert_eq!(tasks.as_array().map(Vec::len), Some(1), "{tasks}");
    let task = &tasks[0];
    assert_eq!(task["taskArn"], task_arn(2));
    assert_eq!(task["lastStatus"], "STOPPED");
    assert_eq!(task["stopCode"], "EssentialContainerExited");
    assert_eq!(task["containers"][0]["exitCode"], 137);
    assert_eq!(task["version"], 8);

    // The same by ARN, as text: the reason in full, the exit codes per container.
    let by_arn = TaskFilter {
        cluster: Some(PROD.into()),
        ..stopped_api
    };
    let mut text = Vec::new();
    fleet_cmd::tasks(&table, &by_arn, 100, false, &mut text).await?;
    let text = String::from_utf8(text)?;
    assert!(text.contains("app=137"), "{text}");
    assert!(
        text.contains("Essential container in task exited; app: OutOfMemoryError: Container killed due to memory usage"),
        "{text}"
    );
    Ok(())
}

/// The archive's log group as the rule fills it: one event per log event, as JSON.
async fn event_log(world: &World, group: &str, events: &[Value]) -> anyhow::Result<()> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&world.sdk);
    logs.create_log_group().log_group_name(group).send().await?;
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name("events")
        .send()
        .await?;
    let start = chrono::Utc::now().timestamp_millis() - 60_000;
    let mut input = Vec::new();
    for (i, event) in events.iter().enumerate() {
        input.push(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(start + i as i64)
                .message(event.to_string())
                .build()?,
        );
    }
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name("events")
        .set_log_events(Some(input))
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
async fn events_reads_the_window_and_filters_in_code() -> anyhow::Result<()> {
    let world = World::start().await?;
    let group = "/aws/events/cli/ecs";
    let mut events: Vec<Value> = (0..120u32)
        .map(|n| stopped_task(json!({"taskArn": task_arn(n), "group": if n % 2 == 0 { "service:api" } else { "service:web" }})))
        .collect();
    events.push(json!({"detail-type": "ECS Deployment State Change", "source": "aws.ecs",
                       "time": "2026-11-30T10:01:00Z",
                       "resources": ["arn:aws:ecs:us-east-1:123456789012:service/prod/api"],
                       "detail": {"eventName": "SERVICE_DEPLOYMENT_FAILED", "reason": "circuit breaker"}}));
    event_log(&world, group, &events).await?;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&world.sdk);
    let since = chrono::Utc::now() - chrono::TimeDelta::hours(1);

    let api = events_cmd::EventFilter {
        service: Some("api".into()),
        ..Default::default()
    };
    let mut lines = Vec::new();
    events_cmd::events(&logs, group, since, &api, true, false, &mut lines).await?;
    let found: Vec<Value> = String::from_utf8(lines)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(found.len(), 61, "60 of api's stops and its deployment");

    let deployments = events_cmd::EventFilter {
        cluster: Some("prod".into()),
        kind: Some("deployment".into()),
        ..Default::default()
    };
    let mut text = Vec::new();
    events_cmd::events(&logs, group, since, &deployments, false, false, &mut text).await?;
    let text = String::from_utf8(text)?;
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.contains("SERVICE_DEPLOYMENT_FAILED") && text.contains("circuit breaker"),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn replay_follows_an_archive_replay_to_its_end() -> anyhow::Result<()> {
    let world = World::start().await?;
    let events = aws_sdk_eventbridge::Client::new(&world.sdk);
    let bus = "arn:aws:events:us-east-1:123456789012:event-bus/default";
    events
        .create_archive()
        .archive_name("cli-archive")
        .event_source_arn(bus)
        .event_pattern(json!({"source": ["aws.ecs"]}).to_string())
        .send()
        .await?;
    world.stack.put_events(&[stopped_task(json!({}))]).await?;
    let now = chrono::Utc::now();
    let mut out = Vec::new();
    archive_cmd::replay(
        &events,
        "cli-archive",
        now - chrono::TimeDelta::hours(1),
        now + chrono::TimeDelta::minutes(1),
        None,
        Duration::from_millis(100),
        &mut out,
    )
    .await?;
    let out = String::from_utf8(out)?;
    assert!(out.contains("from cli-archive"), "{out}");
    assert!(
        out.lines().last().is_some_and(|l| l.contains("COMPLETED")),
        "{out}"
    );

    let err = archive_cmd::replay(
        &events,
        "no-such-archive",
        now - chrono::TimeDelta::hours(1),
        now,
        None,
        Duration::ZERO,
        &mut Vec::new(),
    )
    .await
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("cannot find the event archive \"no-such-archive\""),
        "{err:#}"
    );
    Ok(())
}
