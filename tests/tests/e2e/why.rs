//! `ecs-sentinel why` against the emulator: a cluster's history written to an event log as
//! the archive rule writes it, and recorded by the fleet recorder into its table; each cause
//! `why` names, in-process and through the binary, and what one answer costs in calls.

use integration_tests::runtime_api::cli_binary;
use integration_tests::{records, World};
use sentinel_cli::why_cmd::{self, Located};
use sentinel_why::{Status, Subject, Target};
use serde_json::{json, Value};

const SHOP: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/shop";
const GROUP: &str = "/aws/events/why/ecs";
const TABLE: &str = "why-fleet";
const HOST_A: &str = "arn:aws:ecs:us-east-1:123456789012:container-instance/shop/aaaa0001";
const HOST_B: &str = "arn:aws:ecs:us-east-1:123456789012:container-instance/shop/bbbb0002";

type Stamped = (chrono::DateTime<chrono::Utc>, Value);

fn ago(minutes: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() - chrono::TimeDelta::minutes(minutes)
}

fn event(detail_type: &str, minutes_ago: i64, resources: Value, detail: Value) -> Stamped {
    let at = ago(minutes_ago);
    let event = json!({"version": "0", "id": format!("{detail_type}-{minutes_ago}"),
        "detail-type": detail_type, "source": "aws.ecs", "account": "123456789012",
        "time": at.to_rfc3339(), "region": "us-east-1", "resources": resources,
        "detail": detail});
    (at, event)
}

/// Task `n` of `service` (revision `service:revision`) on `host`, running, or stopped with
/// (stop code, reason, the app container's exit code).
fn task(
    n: u32,
    service: &str,
    revision: u32,
    minutes_ago: i64,
    host: &str,
    stop: Option<(&str, &str, Option<i64>)>,
) -> Stamped {
    let arn = format!("arn:aws:ecs:us-east-1:123456789012:task/shop/{n:032x}");
    let time = ago(minutes_ago).to_rfc3339();
    let mut detail = json!({"clusterArn": SHOP, "taskArn": arn, "group": format!("service:{service}"),
        "taskDefinitionArn": format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{service}:{revision}"),
        "containerInstanceArn": host, "startedBy": "ecs-svc/4444444444444444444",
        "lastStatus": "RUNNING", "desiredStatus": "RUNNING", "version": 2,
        "containers": [{"name": "app", "lastStatus": "RUNNING"}],
        "startedAt": time, "updatedAt": time});
    if let Some((code, reason, exit)) = stop {
        detail["lastStatus"] = json!("STOPPED");
        detail["desiredStatus"] = json!("STOPPED");
        detail["version"] = json!(4);
        detail["stopCode"] = json!(code);
        detail["stoppedReason"] = json!(reason);
        detail["stoppedAt"] = json!(time);
        detail["containers"] = json!([{"name": "app", "lastStatus": "STOPPED", "exitCode": exit}]);
    }
    event("ECS Task State Change", minutes_ago, json!([arn]), detail)
}

fn agent(host: &str, ec2: &str, minutes_ago: i64, connected: bool, version: u64) -> Stamped {
    event(
        "ECS Container Instance State Change",
        minutes_ago,
        json!([host]),
        json!({"clusterArn": SHOP, "containerInstanceArn": host, "ec2InstanceId": ec2,
               "status": "ACTIVE", "agentConnected": connected, "version": version,
               "registeredResources": [], "remainingResources": [],
               "updatedAt": ago(minutes_ago).to_rfc3339()}),
    )
}

fn service_event(detail_type: &str, minutes_ago: i64, service: &str, detail: Value) -> Stamped {
    let mut detail = detail;
    detail["clusterArn"] = json!(SHOP);
    detail["createdAt"] = json!(ago(minutes_ago).to_rfc3339());
    detail["updatedAt"] = json!(ago(minutes_ago).to_rfc3339());
    event(
        detail_type,
        minutes_ago,
        json!([format!(
            "arn:aws:ecs:us-east-1:123456789012:service/shop/{service}"
        )]),
        detail,
    )
}

/// Two hours of cluster shop: api crash-looping since revision api:7, img's image missing,
/// web's tasks lost with host B's agent, ok healthy, back recovered; and another cluster's
/// stop the filter must leave out.
fn history() -> Vec<Stamped> {
    let exited = Some((
        "EssentialContainerExited",
        "Essential container in task exited",
        Some(1),
    ));
    let oom = Some((
        "EssentialContainerExited",
        "OutOfMemoryError: Container killed due to memory usage",
        Some(137),
    ));
    let lost = Some((
        "TaskFailedToStart",
        "Task stopped because the container instance was unreachable",
        None,
    ));
    let mut events = vec![
        agent(HOST_A, "i-0aaaa", 110, true, 1),
        agent(HOST_B, "i-0bbbb", 110, true, 1),
        task(1, "api", 6, 100, HOST_A, None),
        service_event(
            "ECS Deployment State Change",
            30,
            "api",
            json!({"eventType": "INFO", "eventName": "SERVICE_DEPLOYMENT_IN_PROGRESS",
                   "deploymentId": "ecs-svc/4444444444444444444",
                   "reason": "ECS deployment ecs-svc/4444444444444444444 in progress."}),
        ),
        task(2, "api", 7, 28, HOST_A, exited),
        task(3, "api", 7, 20, HOST_A, exited),
        task(4, "api", 7, 12, HOST_A, exited),
        task(
            10,
            "img",
            1,
            15,
            HOST_A,
            Some((
                "TaskFailedToStart",
                "CannotPullContainerError: pull image manifest has been retried 5 time(s): not found",
                None,
            )),
        ),
        task(20, "web", 2, 90, HOST_B, None),
        task(21, "web", 2, 90, HOST_B, None),
        agent(HOST_B, "i-0bbbb", 25, false, 2),
        task(20, "web", 2, 22, HOST_B, lost),
        task(21, "web", 2, 21, HOST_B, lost),
        task(30, "ok", 1, 60, HOST_A, None),
        service_event(
            "ECS Service Action",
            50,
            "ok",
            json!({"eventType": "INFO", "eventName": "SERVICE_STEADY_STATE"}),
        ),
        task(40, "back", 3, 80, HOST_A, oom),
        task(41, "back", 3, 70, HOST_A, oom),
        service_event(
            "ECS Service Action",
            40,
            "back",
            json!({"eventType": "INFO", "eventName": "SERVICE_STEADY_STATE"}),
        ),
    ];
    let (at, mut elsewhere) = task(50, "api", 7, 5, HOST_A, exited);
    elsewhere["detail"]["clusterArn"] = json!("arn:aws:ecs:us-east-1:123456789012:cluster/other");
    events.push((at, elsewhere));
    events
}

/// The history in the event log and, recorded by the fleet recorder, in the fleet table.
async fn recorded(world: &World) -> anyhow::Result<fleet_recorder::FleetTable> {
    let events = history();
    integration_tests::event_log(&world.sdk, GROUP, &events).await?;
    let (recorder, table) = integration_tests::fleet_recorder(world, TABLE).await?;
    let bodies: Vec<String> = events.iter().map(|(_, e)| e.to_string()).collect();
    let report = recorder.process(&records(&bodies)).await;
    anyhow::ensure!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    Ok(table)
}

fn service(name: &str) -> Subject {
    Subject {
        cluster: "shop".into(),
        what: Target::Service(name.into()),
    }
}

#[tokio::test]
async fn why_names_each_cause_from_the_event_log_and_the_fleet_table() -> anyhow::Result<()> {
    let world = World::start().await?;
    recorded(&world).await?;
    let both = Located::new(
        &world.sdk,
        Some(GROUP.to_owned()),
        Some(TABLE.to_owned()),
        None,
    );
    let since = ago(120);

    world.emulator.reset_calls()?;
    let api = why_cmd::why(&service("api"), &both, since).await?;
    // One window of the event log, the table's ARN for the cluster's name, one query; and
    // the failed container's task definition, to find its log (api:7 is not registered
    // here, so that is where it ends, and the answer stands without the lines).
    assert_eq!(
        world.calls()?,
        std::collections::HashMap::from([
            ("logs.FilterLogEvents".to_owned(), 1),
            ("dynamodb.DescribeTable".to_owned(), 1),
            ("dynamodb.Query".to_owned(), 1),
            ("ecs.DescribeTaskDefinition".to_owned(), 1),
        ])
    );
    assert!(
        api.sources
            .left_out
            .iter()
            .any(|n| n.starts_with("app's log: ")),
        "{:?}",
        api.sources
    );
    let sent = world.emulator.requests("logs.FilterLogEvents")?;
    assert!(
        sent.last()
            .is_some_and(|body| body.contains(r#""filterPattern":"\"/shop\"""#)),
        "CloudWatch is asked for the cluster's events only: {sent:?}"
    );
    assert_eq!(api.answer.status, Status::Failing);
    let cause = api.answer.cause.clone().expect("a cause");
    assert_eq!(cause.kind.as_str(), "container-exit");
    assert!(
        cause
            .summary
            .contains("began with revision api:7 (before: api:6)"),
        "{}",
        cause.summary
    );
    let history_of_shop = history().len() - 1;
    let read = api.sources.event_log.as_ref().map(|r| r.read);
    assert_eq!(
        read,
        Some(history_of_shop),
        "every event of shop, none of other"
    );
    assert!(api.sources.fleet_table.as_ref().is_some_and(|r| r.read > 0));

    let expect = [
        ("img", Status::Failing, Some("image-pull")),
        ("web", Status::Failing, Some("agent-disconnected")),
        ("ok", Status::Healthy, None),
        ("back", Status::Recovered, Some("out-of-memory")),
        ("nothing", Status::Unknown, None),
    ];
    for (name, status, kind) in expect {
        let answer = why_cmd::why(&service(name), &both, since).await?.answer;
        assert_eq!(
            (
                answer.status,
                answer.cause.as_ref().map(|c| c.kind.as_str())
            ),
            (status, kind),
            "{name}: {answer:?}"
        );
    }
    let web = why_cmd::why(&service("web"), &both, since).await?;
    let web = web.answer;
    let cause = web.cause.expect("a cause");
    assert!(cause.summary.contains("i-0bbbb"), "{}", cause.summary);
    assert!(
        web.timeline
            .iter()
            .any(|e| e.text == "instance i-0bbbb ACTIVE: agent DISCONNECTED"),
        "{:?}",
        web.timeline
    );

    // The fleet table alone still answers (the log's window can be gone); the event log
    // alone too, and the instance by its EC2 id.
    let table_only = Located::new(&world.sdk, None, Some(TABLE.to_owned()), None);
    let table_only = why_cmd::why(&service("api"), &table_only, since).await?;
    assert_eq!(table_only.answer.status, Status::Failing);
    assert!(table_only.sources.event_log.is_none());
    let host_b = Subject {
        cluster: SHOP.into(),
        what: Target::Instance("i-0bbbb".into()),
    };
    let log_only = Located::new(&world.sdk, Some(GROUP.to_owned()), None, None);
    let log_only = why_cmd::why(&host_b, &log_only, since).await?;
    assert_eq!(log_only.answer.status, Status::Failing);
    assert_eq!(
        log_only.answer.cause.map(|c| c.kind.as_str()),
        Some("agent-disconnected")
    );
    Ok(())
}

/// The binary's `subcommand` (`why`, `top`) against the emulator, configured only by the
/// environment a user would have.
fn cli_command(world: &World, subcommand: &str) -> anyhow::Result<std::process::Command> {
    let mut command = std::process::Command::new(cli_binary()?);
    command
        .arg(subcommand)
        .env_clear()
        .env("AWS_ENDPOINT_URL", world.emulator.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1");
    Ok(command)
}

/// `why` with ECS_CLUSTER=shop.
fn why_command(world: &World) -> anyhow::Result<std::process::Command> {
    let mut command = cli_command(world, "why")?;
    command.env("ECS_CLUSTER", "shop");
    Ok(command)
}

#[tokio::test]
async fn the_binary_prints_the_cause_and_exits_by_status() -> anyhow::Result<()> {
    let world = World::start().await?;
    recorded(&world).await?;

    let failing = why_command(&world)?
        .args(["--service", "api", "--table", TABLE, "--log-group", GROUP])
        .output()?;
    let text = String::from_utf8(failing.stdout)?;
    println!("{text}");
    assert_eq!(failing.status.code(), Some(1), "{text}");
    assert!(text.starts_with("service api in shop: FAILING\n"), "{text}");
    assert!(
        text.contains("cause: container-exit — 3 tasks of api stopped"),
        "{text}"
    );
    assert!(
        text.contains("  - Essential container in task exited"),
        "{text}"
    );
    assert!(text.contains("SERVICE_DEPLOYMENT_IN_PROGRESS"), "{text}");
    assert!(
        text.contains(&format!("read: event log {GROUP} (")),
        "{text}"
    );

    let healthy = why_command(&world)?
        .args(["--service", "ok", "--table", TABLE, "--json"])
        .output()?;
    assert_eq!(healthy.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&healthy.stdout)?;
    assert_eq!(doc["status"], "healthy");
    assert_eq!(doc["cause"], Value::Null);
    assert_eq!(doc["subject"], json!({"cluster": "shop", "service": "ok"}));
    assert_eq!(
        doc["sources"]["eventLog"],
        Value::Null,
        "left out, and said so"
    );
    assert_eq!(doc["sources"]["fleetTable"]["name"], TABLE);

    let nowhere = why_command(&world)?.args(["--service", "api"]).output()?;
    assert_eq!(nowhere.status.code(), Some(2));
    assert!(String::from_utf8(nowhere.stderr)?.contains("say where the state is"));

    let missing_group = why_command(&world)?
        .args(["--service", "api", "--log-group", "/no/such/group"])
        .output()?;
    assert_eq!(missing_group.status.code(), Some(2), "could not read is 2");

    let no_subject = why_command(&world)?.args(["--table", TABLE]).output()?;
    assert_eq!(
        no_subject.status.code(),
        Some(2),
        "clap: one of --service, --task, --instance"
    );
    Ok(())
}

/// `top --once` through the binary: one frame of every cluster's trouble as plain text (what
/// a script or a pipe gets), then one cluster's.
#[tokio::test]
async fn top_once_prints_one_frame_of_the_fleets_trouble() -> anyhow::Result<()> {
    let world = World::start().await?;
    recorded(&world).await?;
    let top = |extra: &[&str]| -> anyhow::Result<std::process::Output> {
        Ok(cli_command(&world, "top")?
            .args([
                "--once",
                "--since",
                "2h",
                "--table",
                TABLE,
                "--log-group",
                GROUP,
            ])
            .args(extra)
            .output()?)
    };
    let every = top(&[])?;
    let text = String::from_utf8(every.stdout)?;
    println!("{text}");
    assert_eq!(every.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with("ecs-sentinel top: every cluster, last 2h"),
        "{text}"
    );
    assert!(
        text.contains("Agents down (1)") && text.contains("i-0bbbb"),
        "{text}"
    );
    let row = |service: &str| {
        text.lines()
            .filter(|l| l.contains(&format!(" {service} ")) && l.contains("shop"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    for (service, status, kind) in [
        ("api", "FAILING", "container-exit"),
        ("img", "FAILING", "image-pull"),
        ("web", "FAILING", "agent-disconnected"),
        ("back", "RECOVERED", "out-of-memory"),
    ] {
        let rows = row(service);
        assert!(
            rows.iter().any(|r| r.contains(status) && r.contains(kind)),
            "{service}: {rows:?}\n{text}"
        );
    }
    assert!(row("ok").iter().all(|r| !r.contains("FAILING")), "{text}");
    assert!(
        text.contains("Services in trouble (5 of 6 seen)"),
        "other's api too: {text}"
    );

    let shop = top(&["--cluster", "shop"])?;
    let text = String::from_utf8(shop.stdout)?;
    assert!(text.contains("Services in trouble (4 of 5 seen)"), "{text}");
    assert!(!text.contains(" other "), "{text}");
    Ok(())
}

/// The joins with the monitors' state: the task monitor alerts on a crash (its episode in
/// the alert table), the agent monitor's episode says a node is unreachable; `why` shows
/// both, quotes the failed container's last log lines, and costs one read of each source
/// plus the one log stream it quotes.
#[tokio::test]
async fn why_quotes_the_failed_containers_log_and_the_monitors_alerts() -> anyhow::Result<()> {
    const PROD: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
    let world = World::start().await?;
    integration_tests::container_log(
        &world,
        5,
        &["starting api", "panic: connection pool exhausted"],
    )
    .await?;
    let task_arn = format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{:032x}", 5);
    let (at, mut stop) = task(5, "api", 1, 3, HOST_A, None);
    stop["detail"] = json!({"clusterArn": PROD, "taskArn": task_arn, "group": "service:api",
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1",
        "lastStatus": "STOPPED", "desiredStatus": "STOPPED", "version": 3,
        "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited",
        "containers": [{"name": "app", "exitCode": 2}],
        "stoppedAt": at.to_rfc3339(), "updatedAt": at.to_rfc3339()});
    integration_tests::event_log(&world.sdk, GROUP, &[(at, stop.clone())]).await?;
    let report = crate::task_monitor::task_monitor(&world)?
        .process(&records(&[stop.to_string()]))
        .await;
    anyhow::ensure!(report.failed_record_ids.is_empty(), "{:?}", report.errors);

    let located = Located::new(
        &world.sdk,
        Some(GROUP.to_owned()),
        None,
        Some(world.stack.table_name.clone()),
    );
    let api = Subject {
        cluster: "prod".into(),
        what: Target::Service("api".into()),
    };
    world.emulator.reset_calls()?;
    let report = why_cmd::why(&api, &located, ago(60)).await?;
    assert_eq!(
        world.calls()?,
        std::collections::HashMap::from([
            ("logs.FilterLogEvents".to_owned(), 1),
            ("dynamodb.Scan".to_owned(), 1),
            ("ecs.DescribeTaskDefinition".to_owned(), 1),
            ("logs.GetLogEvents".to_owned(), 1),
        ])
    );
    let answer = &report.answer;
    assert_eq!(answer.status, Status::Failing);
    let cause = answer.cause.as_ref().expect("a cause");
    assert_eq!(cause.kind.as_str(), "container-exit");
    let stream = format!("/ecs/api ecs/app/{:032x}", 5);
    let quoted = cause
        .evidence
        .iter()
        .position(|e| *e == format!("app logged last ({stream}):"))
        .unwrap_or_else(|| panic!("no log quoted: {:?}", cause.evidence));
    assert_eq!(
        cause.evidence[quoted + 1..quoted + 3],
        ["| starting api", "| panic: connection pool exhausted"]
    );
    assert!(
        cause
            .evidence
            .iter()
            .any(|e| e.starts_with("the task monitor's alert open since")),
        "{:?}",
        cause.evidence
    );
    assert!(
        answer.timeline.iter().any(|e| e.source == "alert-table"
            && e.text == "task monitor alerted on api: 1 container-exit"),
        "{:?}",
        answer.timeline
    );
    assert_eq!(
        report
            .sources
            .container_log
            .as_ref()
            .map(|r| (r.name.as_str(), r.read)),
        Some((stream.as_str(), 2))
    );
    assert_eq!(report.sources.alert_table.as_ref().map(|r| r.read), Some(1));

    // The agent monitor's episode on an ECS Anywhere node that SSM cannot reach either:
    // written by its own store, read back as the cause.
    let store = agent_monitor::EpisodeStore::new(
        aws_sdk_dynamodb::Client::new(&world.sdk),
        &world.stack.table_name,
    );
    let mut state = sentinel_core::notice::EpisodeState::suspected(ago(30));
    state.phase = sentinel_core::notice::Phase::Open;
    state.opened_at = Some(ago(25));
    state = state.sent(sentinel_core::notice::Notice::Alert, ago(25));
    let episode = sentinel_agent::episode::Episode {
        container_instance_arn:
            "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/dddd0004".into(),
        cluster_arn: sentinel_core::ClusterArn::parse(PROD).map_err(anyhow::Error::msg)?,
        node_id: sentinel_agent::NodeId::parse("mi-0123456789abcdef0")
            .map_err(anyhow::Error::msg)?,
        kind: sentinel_agent::AlertKind::NodeUnreachable,
        state,
        resolution: None,
        remediations: Vec::new(),
        version: 0,
    };
    store.put(&episode, chrono::Utc::now()).await?;
    let node = Subject {
        cluster: PROD.into(),
        what: Target::Instance("mi-0123456789abcdef0".into()),
    };
    let answer = why_cmd::why(&node, &located, ago(60)).await?.answer;
    assert_eq!(answer.status, Status::Failing);
    assert_eq!(
        answer.cause.map(|c| c.kind.as_str()),
        Some("node-unreachable")
    );
    Ok(())
}
