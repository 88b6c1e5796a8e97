//! The operator commands, in-process, against the emulator: a fleet recorded by the fleet
//! recorder shown as tables and JSON, the event log read back and filtered, an archive
//! replay followed to its end, and an event file replayed through the monitors its events
//! belong to.

use anyhow::Context;
use integration_tests::{records, World};
use sentinel_cli::args::{Cli, Command, StackCommand};
use sentinel_cli::locate::{Aws, MonitorSettings};
use sentinel_cli::{archive_cmd, events_cmd, fleet_cmd, replay};
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
    let (recorder, table) = integration_tests::fleet_recorder(world, TABLE).await?;
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
    Ok(table)
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
    // The same through the command as the binary runs it, in-process: flags parsed, the
    // table found by --table.
    let cli = Cli::try_from_args([
        "ecs-sentinel",
        "tasks",
        "--cluster",
        "prod",
        "--service",
        "api",
        "--stopped",
        "--since",
        "24h",
        "--table",
        TABLE,
        "--json",
    ])?;
    let Command::Stack(StackCommand::Tasks(args)) = cli.command else {
        anyhow::bail!("`tasks` parsed as another command");
    };
    let mut parsed_out = Vec::new();
    fleet_cmd::run_tasks(
        args,
        &Aws::Given(Box::new(world.sdk.clone())),
        &mut parsed_out,
    )
    .await?;
    assert_eq!(serde_json::from_slice::<Value>(&parsed_out)?, tasks);
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

/// The archive's log group as the rule fills it: one event per log event, as JSON, a
/// millisecond apart from a minute ago.
async fn event_log(world: &World, group: &str, events: &[Value]) -> anyhow::Result<()> {
    let start = chrono::Utc::now() - chrono::TimeDelta::minutes(1);
    let stamped: Vec<_> = events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            (
                start + chrono::TimeDelta::milliseconds(i as i64),
                event.clone(),
            )
        })
        .collect();
    integration_tests::event_log(&world.sdk, group, &stamped).await
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
        archive_cmd::Follow {
            poll: Duration::from_millis(100),
            deadline: Duration::from_secs(60),
        },
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
        archive_cmd::Follow {
            poll: Duration::ZERO,
            deadline: Duration::from_secs(60),
        },
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

/// A stand-in EventBridge on loopback (JSON 1.1): the archive exists, the replay starts,
/// and DescribeReplay always answers `replay_state` (with a reason when FAILED). Counts the
/// DescribeReplay calls.
async fn eventbridge_whose_replay_stays(
    replay_state: &'static str,
) -> anyhow::Result<(
    aws_sdk_eventbridge::Client,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
)> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let described = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = described.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                // Whole requests (headers, then Content-Length bytes), several per connection.
                let mut buffer = Vec::new();
                loop {
                    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buffer.len() < end + 4 + length {
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buffer.drain(..end + 4 + length);
                    let body = if head.contains("awsevents.describearchive") {
                        json!({"ArchiveArn": "arn:aws:events:us-east-1:123456789012:archive/stuck",
                               "ArchiveName": "stuck",
                               "EventSourceArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"})
                    } else if head.contains("awsevents.startreplay") {
                        json!({"ReplayArn": "arn:aws:events:us-east-1:123456789012:replay/r", "State": "STARTING"})
                    } else if head.contains("awsevents.describereplay") {
                        counter.fetch_add(1, Ordering::SeqCst);
                        json!({"State": replay_state,
                               "StateReason": "the destination rule was deleted"})
                    } else {
                        json!({})
                    }
                    .to_string();
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if socket.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let config = aws_sdk_eventbridge::Config::builder()
        .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
        .region(aws_sdk_eventbridge::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_eventbridge::config::Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        ))
        .endpoint_url(url)
        .build();
    Ok((aws_sdk_eventbridge::Client::from_conf(config), described))
}

/// A replay EventBridge reports FAILED ends the command with an error that carries the
/// state and AWS's reason, after one look.
#[tokio::test]
async fn a_failed_replay_is_an_error_with_its_reason() -> anyhow::Result<()> {
    let (events, described) = eventbridge_whose_replay_stays("FAILED").await?;
    let now = chrono::Utc::now();
    let mut out = Vec::new();
    let follow = archive_cmd::Follow {
        poll: Duration::from_millis(50),
        deadline: Duration::from_secs(60),
    };
    let err = archive_cmd::replay(
        &events,
        "stuck",
        now - chrono::TimeDelta::hours(1),
        now,
        None,
        follow,
        &mut out,
    )
    .await
    .unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("ended FAILED: the destination rule was deleted"),
        "{err}"
    );
    assert_eq!(described.load(std::sync::atomic::Ordering::SeqCst), 1);
    let out = String::from_utf8(out)?;
    assert!(
        out.lines().last().is_some_and(|l| l.contains("FAILED")),
        "{out}"
    );
    Ok(())
}

/// A replay that never ends is followed until the deadline, then the command gives up with
/// an error naming the replay, its state and what it waited for (never a hang).
#[tokio::test]
async fn a_replay_that_never_ends_is_given_up_at_the_deadline() -> anyhow::Result<()> {
    let (events, described) = eventbridge_whose_replay_stays("RUNNING").await?;
    let now = chrono::Utc::now();
    let started = std::time::Instant::now();
    let follow = archive_cmd::Follow {
        poll: Duration::from_millis(100),
        deadline: Duration::from_millis(500),
    };
    let err = archive_cmd::replay(
        &events,
        "stuck",
        now - chrono::TimeDelta::hours(1),
        now,
        None,
        follow,
        &mut Vec::new(),
    )
    .await
    .unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("was still RUNNING after 0s, waiting for it to complete"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let looks = described.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (2..=6).contains(&looks),
        "{looks} looks in 0.5 s every 0.1 s"
    );
    Ok(())
}

/// `events --follow`: what is in the log first, then what arrives while following, each
/// printed once and in order; following ends by itself at its deadline.
#[tokio::test]
async fn events_follow_prints_what_arrives_and_ends_at_its_deadline() -> anyhow::Result<()> {
    let world = World::start().await?;
    let group = "/aws/events/cli/follow";
    event_log(
        &world,
        group,
        &[stopped_task(json!({"taskArn": task_arn(1)}))],
    )
    .await?;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&world.sdk);
    let since = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    let filter = events_cmd::EventFilter::default();
    let follow = events_cmd::Follow {
        every: Duration::from_millis(200),
        deadline: Duration::from_secs(4),
    };
    let later = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let event = stopped_task(json!({"taskArn": task_arn(2)}));
        logs.put_log_events()
            .log_group_name(group)
            .log_stream_name("events")
            .log_events(
                aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                    .timestamp(chrono::Utc::now().timestamp_millis())
                    .message(event.to_string())
                    .build()?,
            )
            .send()
            .await?;
        anyhow::Ok(())
    };
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    let (followed, logged) = tokio::join!(
        events_cmd::events_following(&logs, group, since, &filter, true, Some(follow), &mut out),
        later
    );
    followed?;
    logged?;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let found: Vec<Value> = String::from_utf8(out)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let tasks: Vec<&str> = found
        .iter()
        .filter_map(|e| e["detail"]["taskArn"].as_str())
        .collect();
    assert_eq!(tasks, [task_arn(1), task_arn(2)]);
    Ok(())
}

/// `replay FILE` with an agent event, a task event and one no monitor reads: the agent
/// monitor alerts about the instance, the task monitor about the service, the fleet
/// recorder records both, and the third is reported with its line and skipped.
#[tokio::test]
async fn replay_sends_each_event_of_a_file_to_its_monitor() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (members, agent_events) = world.cluster_with_stopped_agents("alpha", &[], 1).await?;
    let agent_event: Value = serde_json::from_str(&agent_events[0])?;
    let task_event = stopped_task(json!({
        "taskArn": task_arn(7), "version": 3,
        "containers": [{"name": "app", "exitCode": 137,
                        "reason": "OutOfMemoryError: Container killed due to memory usage"}]
    }));
    let unknown = json!({"version": "0", "id": "u1", "source": "aws.ecs", "account": "123456789012",
                         "detail-type": "ECS Capacity Provider Change", "region": "us-east-1",
                         "time": chrono::Utc::now().to_rfc3339(), "resources": [], "detail": {}});
    let text = serde_json::to_string_pretty(&json!([agent_event, task_event, unknown]))?;
    let dir = std::env::temp_dir().join(format!("sentinel-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("events.json");
    std::fs::write(&file, &text)?;
    sentinel_emulator::stack::create_fleet_table(&world.sdk, "replay-fleet").await?;

    // The functions' settings as the template sets them; no log tail (no task definition).
    let env: std::collections::HashMap<String, String> = [
        ("ALERT_TOPIC_ARN", world.stack.topic_arn.clone()),
        ("ALERT_TABLE_NAME", world.stack.table_name.clone()),
        ("DEAD_LETTER_QUEUE_URL", world.stack.dead_letter_url.clone()),
        ("FLEET_TABLE_NAME", "replay-fleet".to_owned()),
        ("LOG_TAIL_LINES", "0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = MonitorSettings::new(Box::new(move |name| env.get(name).cloned()), None);
    let (mut out, mut warnings) = (Vec::new(), Vec::new());
    let replayed = replay::replay(
        replay::events::read(&file)?,
        replay::Wiring {
            sdk: &world.sdk,
            settings: &settings,
        },
        &mut out,
        &mut warnings,
    )
    .await?;

    let agent = replayed.agent.as_ref().context("the agent monitor ran")?;
    assert_eq!(agent.received, 1);
    assert_eq!(agent.published.len(), 1, "{agent:?}");
    assert!(
        world.episode(&members[0]).await?.is_some(),
        "the agent monitor stored its episode"
    );
    let tasks = replayed.tasks.as_ref().context("the task monitor ran")?;
    assert_eq!(tasks.received, 1);
    assert_eq!(tasks.failures.len(), 1, "{tasks:?}");
    assert_eq!(tasks.published.len(), 1, "{tasks:?}");
    let subject = &tasks.published[0].subject;
    assert!(
        subject.ends_with("api in prod: 1 task failed - out-of-memory"),
        "{subject}"
    );
    let fleet = replayed.fleet.as_ref().context("the fleet recorder ran")?;
    assert_eq!((fleet.received, fleet.written), (2, 2), "{fleet:?}");
    assert!(agent.dead_lettered.is_empty() && tasks.dead_lettered.is_empty());

    // One message from each monitor on the topic.
    let mut monitors: Vec<String> = world
        .stack
        .drain_inbox()
        .await?
        .iter()
        .filter_map(|m| m.attributes["monitor"]["Value"].as_str().map(str::to_owned))
        .collect();
    monitors.sort();
    assert_eq!(monitors, ["agent", "tasks"]);

    // The third event: reported with its file and line, sent nowhere.
    assert_eq!(replayed.skipped.len(), 1);
    let lines: Vec<&str> = text.lines().collect();
    let line = lines
        .iter()
        .rposition(|l| *l == "  {")
        .map(|i| i + 1)
        .unwrap_or_default();
    assert_eq!(replayed.skipped[0].place.line, Some(line));
    let warnings = String::from_utf8(warnings)?;
    assert!(
        warnings.contains(&format!(
            "warning: {} line {line} (event 3) has detail-type \"ECS Capacity Provider Change\", which no monitor reads",
            file.display()
        )),
        "{warnings}"
    );
    let out = String::from_utf8(out)?;
    for section in [
        "agent monitor: 1 record(s):",
        "task monitor: 1 record(s):",
        "fleet recorder: 2 record(s):",
    ] {
        assert!(out.contains(section), "{section}: {out}");
    }
    assert!(out.contains(&format!("  alert  {subject}")), "{out}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
