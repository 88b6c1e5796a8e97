//! `ecs-sentinel logs` against the emulator: log groups found from the task definition,
//! every page of the window read (throttled pages asked again), `--limit` keeping the
//! newest, an empty window, a missing group reported as an error, and restarts from ECS's
//! stopped tasks.

use integration_tests::runtime_api::cli_binary;
use integration_tests::{Fault, FaultKind, World};
use sentinel_aws::logs::Backoff;
use sentinel_cli::args::{Cli, Command};
use sentinel_cli::health::report::{HealthReport, Status};
use sentinel_cli::locate::Aws;
use sentinel_cli::logs_cmd::{self, LineCommand, LogClients, LogsOptions};
use serde_json::Value;
use std::time::Duration;

const CLUSTER: &str = "shop";
const GROUP: &str = "/ecs/shop-api";

/// The 120 lines `api` logged over the last half hour: 40 load balancer health checks,
/// 50 answered requests, 10 answered 503, 5 out-of-memory errors, 2 panics and 13 lines
/// about booking rooms (which are not out-of-memory errors).
fn api_lines() -> Vec<String> {
    let mut lines = Vec::new();
    for n in 0..120 {
        lines.push(match n % 12 {
            0..=3 => r#"10.0.0.9 - - [30/Nov/2026:08:00:00 +0000] "GET /health HTTP/1.1" 200 2 "-" "ELB-HealthChecker/2.0""#.to_owned(),
            4..=8 => format!(r#"10.0.1.{n} - - [30/Nov/2026:08:00:00 +0000] "GET /api/orders/{n} HTTP/1.1" 200 512 "-" "curl/8.5""#),
            9 => format!(r#"10.0.1.{n} - - [30/Nov/2026:08:00:00 +0000] "POST /api/orders HTTP/1.1" 503 19 "-" "curl/8.5""#),
            10 if n < 60 => "java.lang.OutOfMemoryError: Java heap space".to_owned(),
            10 if n < 100 => format!("booking room {n} for guest"),
            10 => "panic: runtime error: index out of range [3] with length 3".to_owned(),
            _ => format!("booking room {n} confirmed"),
        });
    }
    lines
}

/// Cluster `shop`: service `api` whose task definition logs to /ecs/shop-api (stream
/// prefix ecs, container app) with [`api_lines`] in it, and service `legacy` whose task
/// definition names no log group (and /ecs/legacy does not exist).
async fn shop(world: &World) -> anyhow::Result<()> {
    let fleet = world.fleet();
    fleet.create_cluster(CLUSTER, &[]).await?;
    let api = fleet
        .register_logging_task_definition("api", "app", GROUP)
        .await?;
    let ecs = aws_sdk_ecs::Client::new(&world.sdk);
    let legacy = ecs
        .register_task_definition()
        .family("legacy")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("app")
                .image("public.ecr.aws/docker/library/busybox:latest")
                .memory(128)
                .build(),
        )
        .send()
        .await?;
    let legacy = legacy
        .task_definition()
        .and_then(|d| d.task_definition_arn())
        .unwrap_or_default()
        .to_owned();
    for (name, task_definition) in [("api", api.as_str()), ("legacy", legacy.as_str())] {
        ecs.create_service()
            .cluster(CLUSTER)
            .service_name(name)
            .task_definition(task_definition)
            .desired_count(1)
            .send()
            .await?;
    }
    let logs = aws_sdk_cloudwatchlogs::Client::new(&world.sdk);
    logs.create_log_group().log_group_name(GROUP).send().await?;
    let stream = "ecs/app/0123456789abcdef";
    logs.create_log_stream()
        .log_group_name(GROUP)
        .log_stream_name(stream)
        .send()
        .await?;
    let start = chrono::Utc::now().timestamp_millis() - 30 * 60 * 1000;
    let events: Vec<_> = api_lines()
        .into_iter()
        .enumerate()
        .map(|(n, line)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(start + n as i64 * 1000)
                .message(line)
                .build()
        })
        .collect::<Result<_, _>>()?;
    logs.put_log_events()
        .log_group_name(GROUP)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await?;
    Ok(())
}

fn options(services: &[&str]) -> LogsOptions {
    LogsOptions {
        cluster: CLUSTER.into(),
        services: services.iter().map(|s| s.to_string()).collect(),
        minutes: 60,
        limit: None,
        json: true,
        verbose: false,
        pattern: logs_cmd::DEFAULT_LOG_PATTERN.into(),
        // Three pages for 120 lines, to show every page is read.
        page_size: Some(50),
        backoff: Backoff {
            first: Duration::from_millis(10),
            retries: 5,
        },
    }
}

/// Runs one logs command in-process; its output and outcome.
async fn run(
    world: &World,
    command: LineCommand,
    options: &LogsOptions,
) -> anyhow::Result<(String, logs_cmd::Outcome)> {
    let clients = LogClients::new(&world.sdk);
    let readers = clients.readers();
    let mut out = Vec::new();
    let outcome = logs_cmd::lines(
        command,
        &readers,
        options,
        None,
        chrono::Utc::now(),
        &mut out,
    )
    .await?;
    Ok((String::from_utf8(out)?, outcome))
}

#[tokio::test]
async fn diagnose_reads_every_page_and_counts_what_the_lines_mean() -> anyhow::Result<()> {
    let world = World::start().await?;
    shop(&world).await?;
    world.emulator.reset_calls()?;
    let (text, outcome) = run(&world, LineCommand::Diagnose, &options(&["api"])).await?;
    assert_eq!(outcome.unreadable(), 0);
    let calls = world.calls()?;
    assert_eq!(
        calls.get("logs.FilterLogEvents"),
        Some(&3),
        "120 lines, pages of 50: {calls:?}"
    );
    assert_eq!(calls.get("ecs.DescribeServices"), Some(&1));
    assert_eq!(calls.get("ecs.DescribeTaskDefinition"), Some(&1));
    assert_eq!(calls.values().sum::<u64>(), 5, "nothing else: {calls:?}");

    let doc: Value = serde_json::from_str(&text)?;
    let api = &doc["services"][0];
    assert_eq!(api["service"], "api");
    assert_eq!(api["logGroup"], GROUP, "from the task definition");
    assert_eq!(api["events"], 120);
    assert_eq!(api["healthChecks"], 40);
    assert_eq!(
        api["categories"],
        serde_json::json!({"http_5xx": 10, "oom": 5, "panic": 2}),
        "the booking rooms are not out-of-memory errors"
    );
    assert_eq!(
        api["httpStatus"],
        serde_json::json!({"200": 50, "503": 10}),
        "health checks left out"
    );
    assert_eq!(
        api["samples"]["oom"].as_array().map(Vec::len),
        Some(3),
        "three samples at most"
    );
    Ok(())
}

#[tokio::test]
async fn throttled_pages_are_asked_again_and_limit_keeps_the_newest() -> anyhow::Result<()> {
    let world = World::start().await?;
    shop(&world).await?;
    // Four throttles: the SDK's three attempts all fail, our backoff asks once more, and
    // the SDK's second try of that succeeds.
    world
        .emulator
        .inject(&Fault::new("logs", "FilterLogEvents", FaultKind::Throttle).times(4))?;
    world.emulator.reset_calls()?;
    let mut limited = options(&["api"]);
    limited.limit = Some(5);
    let (text, outcome) = run(&world, LineCommand::Pull, &limited).await?;
    assert_eq!(outcome.unreadable(), 0);
    let calls = world.calls()?;
    assert_eq!(
        calls.get("logs.FilterLogEvents"),
        Some(&7),
        "3 pages + 4 throttled: {calls:?}"
    );
    let lines: Vec<Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let expected: Vec<String> = api_lines().into_iter().skip(115).collect();
    let got: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    assert_eq!(got, expected, "the newest five, oldest first");
    assert!(lines
        .iter()
        .all(|l| l["stream"] == "ecs/app/0123456789abcdef"));
    let categories: Vec<&str> = lines
        .iter()
        .map(|l| l["category"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        categories,
        ["-", "-", "http_5xx", "panic", "-"],
        "pull marks the errors it shows"
    );
    Ok(())
}

#[tokio::test]
async fn an_empty_window_is_zero_and_a_missing_group_is_an_error() -> anyhow::Result<()> {
    let world = World::start().await?;
    shop(&world).await?;
    // The window starts after the last line: nothing in it, and that is not an error.
    let mut recent = options(&["api", "legacy"]);
    recent.minutes = 1;
    let (text, outcome) = run(&world, LineCommand::Diagnose, &recent).await?;
    let doc: Value = serde_json::from_str(&text)?;
    assert_eq!(doc["services"][0]["events"], 0);
    assert_eq!(doc["services"][0]["categories"], serde_json::json!({}));
    // legacy's task definition names no group; its fallback /ecs/legacy does not exist.
    assert_eq!(
        outcome.unreadable(),
        1,
        "an unreadable group is never \"no errors\""
    );
    // Returned, not printed: the caller prints one line per service and exits 2.
    assert_eq!(outcome.errors[0].service, "legacy");
    assert_eq!(outcome.exit_code(), 2);
    let mut stderr = Vec::new();
    outcome.print_errors(&mut stderr)?;
    let stderr = String::from_utf8(stderr)?;
    assert!(
        stderr.starts_with("error: legacy: cannot read log group /ecs/legacy"),
        "{stderr}"
    );
    // The command as the binary runs it, in-process: the same error on stderr, exit 2.
    let cli = Cli::try_from_args([
        "ecs-sentinel",
        "logs",
        "diagnose",
        "--cluster",
        CLUSTER,
        "--service",
        "api,legacy",
        "--minutes",
        "1",
        "--json",
    ])?;
    let Command::Logs { action } = cli.command else {
        anyhow::bail!("`logs diagnose` parsed as another command");
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let aws = Aws::Given(Box::new(world.sdk.clone()));
    let code = logs_cmd::run(action, false, &aws, &mut out, &mut err).await?;
    assert_eq!(code, 2);
    // The AWS error carries its request id, so compare up to it.
    let printed = String::from_utf8(err)?;
    assert!(
        printed.starts_with("error: legacy: cannot read log group /ecs/legacy: logs:FilterLogEvents failed with ResourceNotFoundException"),
        "{printed}"
    );
    assert_eq!(printed.lines().count(), 1, "{printed}");
    let printed_doc: Value = serde_json::from_slice(&out)?;
    assert_eq!(printed_doc["services"][0], doc["services"][0]);
    // The shell-script monitor's command line: the services positional, nothing else new.
    let positional = Cli::try_from_args([
        "ecs-sentinel",
        "logs",
        "diagnose",
        "api,legacy",
        "--cluster",
        CLUSTER,
        "--minutes",
        "1",
        "--json",
    ])?;
    let Command::Logs { action } = positional.command else {
        anyhow::bail!("`logs diagnose api,legacy` parsed as another command");
    };
    let (mut again, mut again_err) = (Vec::new(), Vec::new());
    let code = logs_cmd::run(action, false, &aws, &mut again, &mut again_err).await?;
    assert_eq!(code, 2, "legacy still cannot be read");
    let again: Value = serde_json::from_slice(&again)?;
    assert_eq!(again["services"][0], doc["services"][0]);
    assert_eq!(again["services"][1]["logGroup"], "/ecs/legacy");
    assert_eq!(printed_doc["services"][1]["logGroup"], "/ecs/legacy");
    let legacy = &doc["services"][1];
    assert_eq!(legacy["logGroup"], "/ecs/legacy");
    let error = legacy["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("cannot read log group /ecs/legacy"),
        "{error}"
    );
    assert!(error.contains("ResourceNotFoundException"), "{error}");
    assert!(
        error.contains("ECS_LOG_PATTERN"),
        "says what to do: {error}"
    );

    // Any other AWS error is reported too, never read as an empty log.
    world.emulator.inject(&Fault::new(
        "logs",
        "FilterLogEvents",
        FaultKind::ServerError,
    ))?;
    let (text, outcome) = run(&world, LineCommand::Summary, &options(&["api"])).await?;
    assert_eq!(outcome.unreadable(), 1);
    let doc: Value = serde_json::from_str(&text)?;
    assert!(
        doc["services"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("FilterLogEvents")),
        "{doc}"
    );
    Ok(())
}

#[tokio::test]
async fn restarts_come_from_ecs_stopped_tasks_of_the_service_only() -> anyhow::Result<()> {
    let world = World::start().await?;
    shop(&world).await?;
    world.fleet().add_ec2_instances(CLUSTER, 1).await?;
    let ecs = aws_sdk_ecs::Client::new(&world.sdk);
    let mut stopped = Vec::new();
    for (group, reason) in [
        ("service:api", "Task failed container health checks"),
        ("service:api", "Essential container in task exited"),
        (
            "service:legacy",
            "Scaling activity initiated by (deployment ecs-svc/1)",
        ),
        (
            "service:api",
            "Scaling activity initiated by (deployment ecs-svc/2)",
        ),
    ] {
        let run = ecs
            .run_task()
            .cluster(CLUSTER)
            .task_definition("api")
            .group(group)
            .send()
            .await?;
        let arn = run.tasks()[0].task_arn().unwrap_or_default().to_owned();
        ecs.stop_task()
            .cluster(CLUSTER)
            .task(&arn)
            .reason(reason)
            .send()
            .await?;
        stopped.push(arn);
    }
    let clients = LogClients::new(&world.sdk);
    let readers = clients.readers();
    let mut out = Vec::new();
    let outcome = logs_cmd::restarts(
        &readers,
        &options(&["api"]),
        None,
        chrono::Utc::now(),
        &mut out,
    )
    .await?;
    assert_eq!(outcome.unreadable(), 0);
    let tasks: Vec<Value> = serde_json::from_slice(&out)?;
    let mut arns: Vec<&str> = tasks.iter().filter_map(|t| t["taskArn"].as_str()).collect();
    arns.sort_unstable();
    let mut expected = vec![
        stopped[0].as_str(),
        stopped[1].as_str(),
        stopped[3].as_str(),
    ];
    expected.sort_unstable();
    assert_eq!(arns, expected, "api's three stopped tasks, not legacy's");
    assert!(tasks
        .iter()
        .any(|t| t["stoppedReason"] == "Task failed container health checks"));
    // Two restarts; the deployment's replacement is shown, marked as no restart.
    let restart = |arn: &str| {
        tasks
            .iter()
            .find(|t| t["taskArn"] == arn)
            .map(|t| t["restart"].clone())
    };
    assert_eq!(restart(&stopped[0]), Some(Value::Bool(true)));
    assert_eq!(restart(&stopped[1]), Some(Value::Bool(true)));
    assert_eq!(restart(&stopped[3]), Some(Value::Bool(false)));

    // As text: the restarts, then the rest apart.
    let mut text = Vec::new();
    let mut as_text = options(&["api"]);
    as_text.json = false;
    logs_cmd::restarts(&readers, &as_text, None, chrono::Utc::now(), &mut text).await?;
    let text = String::from_utf8(text)?;
    assert!(
        text.starts_with("restarts (tasks that failed): 2\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "not restarts (replaced by a deployment, scaled in, or stopped by someone): 1"
        ),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn auto_diagnose_reads_the_health_state_and_diagnoses_the_bad_services() -> anyhow::Result<()>
{
    let world = World::start().await?;
    shop(&world).await?;
    let dir = std::env::temp_dir().join(format!("sentinel-auto-diagnose-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Where `health` writes by default, as the shell-script monitor did: ./data/ecs-health.json.
    let state = dir.join("data").join("ecs-health.json");
    // What `health` wrote: api degraded, legacy healthy.
    let service = |name: &str, status: Status| {
        sentinel_cli::health::report::judge_service(sentinel_cli::health::report::ServiceFacts {
            name: name.into(),
            status: "ACTIVE".into(),
            desired: 2,
            running: if status == Status::Healthy { 2 } else { 1 },
            ..Default::default()
        })
    };
    let report = HealthReport::new(
        CLUSTER.into(),
        chrono::Utc::now(),
        vec![
            service("api", Status::Degraded),
            service("legacy", Status::Healthy),
        ],
        vec![],
        None,
    );
    sentinel_cli::state::write(&state, &report)?;

    // No path and no region anywhere: ./data/ and us-east-1, the script's defaults.
    let run = std::process::Command::new(cli_binary()?)
        .args(["logs", "auto-diagnose", "--json"])
        .current_dir(&dir)
        .env_clear()
        .env("AWS_ENDPOINT_URL", world.emulator.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", dir.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-credentials"))
        .output()?;
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let doc: Value = serde_json::from_slice(&run.stdout)?;
    let services = doc["services"].as_array().cloned().unwrap_or_default();
    assert_eq!(services.len(), 1, "only the degraded service: {doc}");
    assert_eq!(services[0]["service"], "api");
    assert_eq!(services[0]["events"], 120);

    // No state file: exit 2 and what to do.
    let missing = std::process::Command::new(cli_binary()?)
        .args(["logs", "auto-diagnose", "--state"])
        .arg(dir.join("none.json"))
        .env_clear()
        .env("AWS_REGION", "us-east-1")
        .output()?;
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("run `ecs-sentinel health`"));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// `logs restarts` with the fleet table: what ECS forgot comes from the table, a task both
/// know is shown once with ECS's (fresher) state, another service's and an older stop are
/// left out; `logs summary` counts the same merged restarts.
#[tokio::test]
async fn restarts_merge_the_fleet_table_with_ecs_by_task_arn() -> anyhow::Result<()> {
    use sentinel_tasks::event::fixtures::stopped_task;
    let world = World::start().await?;
    shop(&world).await?;
    world.fleet().add_ec2_instances(CLUSTER, 1).await?;
    let ecs = aws_sdk_ecs::Client::new(&world.sdk);
    // A task ECS still remembers, stopped a minute ago.
    let run = ecs
        .run_task()
        .cluster(CLUSTER)
        .task_definition("api")
        .group("service:api")
        .send()
        .await?;
    let both = run.tasks()[0].task_arn().unwrap_or_default().to_owned();
    ecs.stop_task()
        .cluster(CLUSTER)
        .task(&both)
        .reason("Essential container in task exited")
        .send()
        .await?;

    // The fleet table, filled by the recorder: the same task (an older, different story),
    // one ECS forgot (3 h ago), web's, and one of api's older than the window (5 h).
    let (recorder, fleet) = integration_tests::fleet_recorder(&world, "logs-fleet").await?;
    let cluster_arn = format!("arn:aws:ecs:us-east-1:123456789012:cluster/{CLUSTER}");
    let arn = |n: u32| format!("arn:aws:ecs:us-east-1:123456789012:task/{CLUSTER}/{n:032x}");
    let ago = |hours: i64| (chrono::Utc::now() - chrono::TimeDelta::hours(hours)).to_rfc3339();
    let stop = |task: &str, group: &str, hours: i64, reason: &str| {
        stopped_task(serde_json::json!({
            "clusterArn": cluster_arn, "taskArn": task, "group": group,
            "stoppedAt": ago(hours), "updatedAt": ago(hours), "stoppedReason": reason,
            "version": 3}))
        .to_string()
    };
    let bodies = vec![
        stop(&both, "service:api", 0, "the table's copy"),
        stop(
            &arn(1),
            "service:api",
            3,
            "OutOfMemoryError: Container killed",
        ),
        stop(&arn(2), "service:web", 1, "web's"),
        stop(&arn(3), "service:api", 5, "too old"),
    ];
    let recorded = recorder.process(&integration_tests::records(&bodies)).await;
    assert!(
        recorded.failed_record_ids.is_empty(),
        "{:?}",
        recorded.errors
    );

    let clients = LogClients::new(&world.sdk);
    let readers = clients.readers();
    let mut options = options(&["api"]);
    options.minutes = 4 * 60;
    let mut out = Vec::new();
    let outcome = logs_cmd::restarts(
        &readers,
        &options,
        Some(&fleet),
        chrono::Utc::now(),
        &mut out,
    )
    .await?;
    assert_eq!(outcome.unreadable(), 0);
    let tasks: Vec<Value> = serde_json::from_slice(&out)?;
    let mut shown: Vec<(&str, &str)> = tasks
        .iter()
        .filter_map(|t| Some((t["taskArn"].as_str()?, t["stoppedReason"].as_str()?)))
        .collect();
    assert_eq!(shown.len(), tasks.len(), "{tasks:?}");
    shown.sort_unstable();
    let forgotten = arn(1);
    let mut expected = vec![
        (both.as_str(), "Essential container in task exited"),
        (forgotten.as_str(), "OutOfMemoryError: Container killed"),
    ];
    expected.sort_unstable();
    assert_eq!(
        shown, expected,
        "once each, ECS's state for the task both know"
    );

    // `summary` counts the same two restarts in api's row: the table's copy of the task both
    // know is not a third, web's stop and the one before the window are not api's.
    let mut out = Vec::new();
    logs_cmd::lines(
        LineCommand::Summary,
        &readers,
        &options,
        Some(&fleet),
        chrono::Utc::now(),
        &mut out,
    )
    .await?;
    let summary: Value = serde_json::from_slice(&out)?;
    let restarts: Vec<(&str, Option<u64>)> = summary["services"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s["service"].as_str()?, s["restarts"].as_u64())))
        .collect();
    assert_eq!(restarts, vec![("api", Some(2))], "{summary}");
    Ok(())
}
