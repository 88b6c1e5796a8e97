//! The task monitor's AWS side against the emulator: the shared alert table (task episodes
//! beside the agent's), the topic with its filter attributes, the dead-letter queue, and the
//! exact calls a batch costs.

use integration_tests::{records, World};
use sentinel_core::ManualClock;
use sentinel_emulator::template;
use serde_json::json;
use std::sync::Arc;
use task_monitor::{Clients, Config, TaskMonitor};

const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";

pub(crate) fn task_monitor(world: &World) -> anyhow::Result<TaskMonitor> {
    task_monitor_with(world, &[])
}

fn task_monitor_with(world: &World, extra: &[(&str, &str)]) -> anyhow::Result<TaskMonitor> {
    let mut env = vec![
        ("ALERT_TOPIC_ARN", world.stack.topic_arn.clone()),
        ("ALERT_TABLE_NAME", world.stack.table_name.clone()),
        ("DEAD_LETTER_QUEUE_URL", world.stack.dead_letter_url.clone()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let config =
        Config::from_lookup(|name| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))?;
    Ok(TaskMonitor::new(
        Clients::from_sdk_config(&world.sdk),
        config,
    ))
}

/// A stopped task of service `api` whose app container ran out of memory.
pub(crate) fn oom_stop(task: u32) -> String {
    oom_stop_of("api", task)
}

/// A stopped task of `service` (task definition `api:1`) whose app container ran out of memory.
fn oom_stop_of(service: &str, task: u32) -> String {
    json!({
        "version": "0", "id": format!("e{task}"), "detail-type": "ECS Task State Change",
        "source": "aws.ecs", "account": "123456789012", "time": chrono::Utc::now().to_rfc3339(),
        "region": "us-east-1",
        "detail": {
            "clusterArn": CLUSTER,
            "taskArn": format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{task:032x}"),
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1",
            "group": format!("service:{service}"), "lastStatus": "STOPPED", "version": 3,
            "stopCode": "EssentialContainerExited",
            "stoppedReason": "Essential container in task exited",
            "containers": [{"name": "app", "exitCode": 137,
                            "reason": "OutOfMemoryError: Container killed due to memory usage"}]
        }
    })
    .to_string()
}

#[tokio::test]
async fn a_crash_loop_is_one_message_with_its_attributes_at_the_lower_bound() -> anyhow::Result<()>
{
    let world = World::start().await?;
    let monitor = task_monitor(&world)?;
    // The newest failed task's app container logged these (older lines first).
    integration_tests::container_log(
        &world,
        99,
        &["starting", "loading 2 GiB of fixtures", "killed"],
    )
    .await?;
    let mut bodies: Vec<String> = (0..100).map(oom_stop).collect();
    bodies.push("{\"not\": \"an event\"}".to_owned());
    world.emulator.reset_calls()?;
    let report = monitor.process(&records(&bodies)).await;
    // One read; one episode, so its claim and its record of the message sent are single
    // writes (PutItem); the log tail (the task definition, then the stream); one publish;
    // one letter to the dead-letter queue.
    let calls = world.calls()?;
    assert_eq!(
        calls,
        std::collections::HashMap::from([
            ("dynamodb.BatchGetItem".to_owned(), 1),
            ("dynamodb.PutItem".to_owned(), 2),
            ("ecs.DescribeTaskDefinition".to_owned(), 1),
            ("logs.GetLogEvents".to_owned(), 1),
            ("sns.Publish".to_owned(), 1),
            ("sqs.SendMessageBatch".to_owned(), 1),
        ])
    );
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert_eq!(report.dead_lettered.len(), 1);

    let inbox = world.stack.drain_inbox().await?;
    assert_eq!(inbox.len(), 1);
    let message = &inbox[0];
    assert_eq!(
        message.subject,
        "[HIGH] api in prod: 100 tasks failed - out-of-memory"
    );
    assert_eq!(message.attributes["monitor"]["Value"], "tasks");
    assert_eq!(message.attributes["service"]["Value"], "api");
    assert_eq!(message.attributes["kind"]["Value"], "[\"out-of-memory\"]");
    assert_eq!(message.document["failures"], 100);
    assert_eq!(
        message.document["latest"][4]["containers"][0]["reason"],
        "OutOfMemoryError: Container killed due to memory usage"
    );
    assert_eq!(
        message.document["logTail"]["lines"],
        json!(["starting", "loading 2 GiB of fixtures", "killed"])
    );
    assert_eq!(
        message.document["logTail"]["logStream"],
        format!("ecs/app/{:032x}", 99)
    );
    assert_eq!(world.stack.drain_dead_letters().await?.len(), 1);

    // SQS delivers the batch again: nothing more is sent or counted.
    let again = monitor.process(&records(&bodies[..100])).await;
    assert!(again.published.is_empty() && again.failed_record_ids.is_empty());
    assert!(world.stack.drain_inbox().await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn task_episodes_share_the_table_without_disturbing_the_agent_sweep() -> anyhow::Result<()> {
    let world = World::start().await?;
    let bodies: Vec<String> = (0..3).map(oom_stop).collect();
    let report = task_monitor(&world)?.process(&records(&bodies)).await;
    assert_eq!(report.published.len(), 1);
    let sweep = world.monitor(world.config(&[])?)?.sweep().await;
    assert_eq!(
        sweep.unreadable_items, 0,
        "a task episode is not an unreadable agent episode"
    );
    assert!(sweep.errors.is_empty(), "{:?}", sweep.errors);
    Ok(())
}

const TAG_MODE: &[(&str, &str)] = &[
    ("MONITOR_ALL_CLUSTERS", "false"),
    ("MONITORING_TAG_VALUE", "enabled"),
    ("LOG_TAIL_LINES", "0"),
];

#[tokio::test]
async fn in_tag_mode_only_tagged_clusters_are_alerted() -> anyhow::Result<()> {
    let world = World::start().await?;
    let fleet = world.fleet();
    fleet.create_cluster("prod", &[]).await?;
    let monitor = task_monitor_with(&world, TAG_MODE)?;
    let bodies: Vec<String> = (0..5).map(oom_stop).collect();
    world.emulator.reset_calls()?;
    let report = monitor.process(&records(&bodies)).await;
    assert_eq!(
        world.calls()?,
        std::collections::HashMap::from([("ecs.DescribeClusters".to_owned(), 1)]),
        "an untagged cluster costs one tag lookup and nothing else"
    );
    assert_eq!(report.not_monitored, 5);
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert!(world.stack.drain_inbox().await?.is_empty());

    // Tagged now; a new monitor (a new sandbox, so no cached tags) alerts.
    aws_sdk_ecs::Client::new(&world.sdk)
        .tag_resource()
        .resource_arn(CLUSTER)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("ecs-agent-monitoring")
                .value("enabled")
                .build(),
        )
        .send()
        .await?;
    let monitor = task_monitor_with(&world, TAG_MODE)?;
    let report = monitor.process(&records(&bodies)).await;
    assert_eq!(report.published.len(), 1, "{:?}", report.errors);
    assert_eq!(world.stack.drain_inbox().await?.len(), 1);
    Ok(())
}

/// Every event shape the task rules should and should not let through, sent to the bus: the
/// template's four patterns (read from `template.yaml`) feed one queue, the local event
/// source mapping drains it through the task monitor. What the patterns filter never costs
/// an invocation; what they pass is decided in code; the crash loop pages once, the failed
/// deployment joins its episode, and steady state resolves it.
#[tokio::test]
async fn the_templates_task_rules_feed_the_monitor_what_it_must_decide() -> anyhow::Result<()> {
    use sentinel_tasks::event::fixtures::{service_event, stopped_task};
    use sentinel_tasks::event::{DEPLOYMENT_STATE_CHANGE, SERVICE_ACTION};
    use std::time::Duration;

    let world = World::start().await?;
    let facts = template::read(&sentinel_emulator::repo_root().join("template.yaml"))?;
    let queue = world
        .stack
        .add_rule_queue(
            "sentinel-tasks",
            &facts.task_patterns,
            Duration::ZERO,
            // Well above the batching window below: a message received while a batch is
            // still gathering stays invisible until that batch is answered, however slow the
            // machine, so no message is ever received twice (the counts below are exact).
            // Nothing fails here, so nothing waits for it to come back.
            Duration::from_secs(60),
            facts.task_max_receive_count,
        )
        .await?;
    let now = chrono::Utc::now();
    let at = |mut event: serde_json::Value, seconds: i64| {
        event["time"] = json!((now - chrono::TimeDelta::seconds(60 - seconds)).to_rfc3339());
        event
    };
    let task = |n: u32| format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{n:032x}");
    let service = |event_type: &str, name: &str| {
        service_event(
            SERVICE_ACTION,
            json!({"eventType": event_type, "eventName": name, "clusterArn": CLUSTER,
                   "createdAt": now.to_rfc3339()}),
        )
    };
    let deployment = |name: &str| {
        service_event(
            DEPLOYMENT_STATE_CHANGE,
            json!({"eventType": if name.ends_with("FAILED") { "ERROR" } else { "INFO" },
                   "eventName": name, "deploymentId": "ecs-svc/1234567890",
                   "updatedAt": now.to_rfc3339(), "reason": "rollback: circuit breaker tripped"}),
        )
    };
    let mut passed = Vec::new();
    let mut filtered = Vec::new();
    // A crash loop: three tasks of `api` whose app exits 1.
    for n in 1..=3 {
        passed.push(at(stopped_task(json!({"taskArn": task(n)})), n.into()));
    }
    // Stopped by a person: through the rule, not a failure in code.
    passed.push(at(
        stopped_task(json!({"taskArn": task(4), "stopCode": "UserInitiated",
                            "stoppedReason": "Task stopped by user"})),
        4,
    ));
    // A Spot notice while still RUNNING: counted, not paged.
    passed.push(at(
        stopped_task(json!({"taskArn": task(5), "lastStatus": "RUNNING",
                            "stopCode": "SpotInterruption",
                            "stoppedReason": "Your Spot Task was interrupted."})),
        5,
    ));
    // A deployment's replacement, a task still starting, an unremarkable service event, a
    // deployment in progress: the patterns keep them away.
    filtered.push(stopped_task(
        json!({"taskArn": task(6), "stopCode": "ServiceSchedulerInitiated",
        "stoppedReason": "Scaling activity initiated by (deployment ecs-svc/1234567890)"}),
    ));
    filtered.push(stopped_task(
        json!({"taskArn": task(7), "lastStatus": "PROVISIONING",
        "stopCode": null, "stoppedReason": null}),
    ));
    filtered.push(service("INFO", "SERVICE_DESIRED_COUNT_UPDATED"));
    filtered.push(deployment("SERVICE_DEPLOYMENT_IN_PROGRESS"));
    let mut sent = passed.clone();
    sent.extend(filtered);
    world.stack.put_events(&sent).await?;

    let monitor = task_monitor_with(&world, &[("LOG_TAIL_LINES", "0")])?;
    let poller = sentinel_emulator::QueuePoller::new(
        world.stack.sqs.clone(),
        &queue.url,
        &queue.arn,
        "us-east-1",
    )
    .batching(facts.task_batching.batch_size, Duration::from_secs(1));
    let drain = || async {
        let mut reports = Vec::new();
        for poll in poller.drain(&monitor, Duration::from_secs(60)).await? {
            anyhow::ensure!(
                poll.report.failed_record_ids.is_empty(),
                "{:?}",
                poll.report.errors
            );
            reports.push(poll.report);
        }
        anyhow::Ok(reports)
    };
    let reports = drain().await?;
    let received: usize = reports.iter().map(|r| r.received).sum();
    assert_eq!(
        received,
        passed.len(),
        "the patterns let through exactly these"
    );
    assert_eq!(
        reports.iter().map(|r| r.spot_interruptions).sum::<usize>(),
        1
    );
    assert_eq!(
        reports
            .iter()
            .map(|r| r.not_failures.values().sum::<usize>())
            .sum::<usize>(),
        1
    );
    let inbox = world.stack.drain_inbox().await?;
    assert_eq!(inbox.len(), 1, "one page for the crash loop");
    assert_eq!(
        inbox[0].subject,
        "[HIGH] api in prod: 3 tasks failed - container-exit"
    );

    // The rollback fails, then the service settles: no second page, one RESOLVED.
    world
        .stack
        .put_events(&[at(deployment("SERVICE_DEPLOYMENT_FAILED"), 10)])
        .await?;
    drain().await?;
    assert!(
        world.stack.drain_inbox().await?.is_empty(),
        "the open episode already paged"
    );
    world
        .stack
        .put_events(&[at(service("INFO", "SERVICE_STEADY_STATE"), 20)])
        .await?;
    drain().await?;
    let inbox = world.stack.drain_inbox().await?;
    assert_eq!(inbox.len(), 1);
    assert!(
        inbox[0].subject.starts_with("[RESOLVED]") && inbox[0].subject.contains("api in prod"),
        "{}",
        inbox[0].subject
    );
    assert!(world.stack.drain_dead_letters().await?.is_empty());
    Ok(())
}

/// Faults the SDK's retries cannot hide, injected in the emulator: a read that keeps
/// failing fails the whole batch for redelivery and sends nothing; a publish that keeps
/// failing leaves the notice owed, and the redelivered batch sends it exactly once. A
/// throttled log read only costs the message its log tail.
#[tokio::test]
async fn faults_fail_records_for_redelivery_and_the_redelivery_pages_once() -> anyhow::Result<()> {
    use integration_tests::{Fault, FaultKind};
    let world = World::start().await?;
    let monitor = task_monitor(&world)?;
    integration_tests::container_log(&world, 2, &["about to crash"]).await?;
    let bodies: Vec<String> = (0..3).map(oom_stop).collect();

    world.emulator.inject(&Fault::new(
        "dynamodb",
        "BatchGetItem",
        FaultKind::ServerError,
    ))?;
    let report = monitor.process(&records(&bodies)).await;
    assert_eq!(report.failed_record_ids.len(), 3, "every record comes back");
    assert!(report.published.is_empty());
    world.emulator.clear_faults()?;

    world
        .emulator
        .inject(&Fault::new("sns", "Publish", FaultKind::Throttle))?;
    let report = monitor.process(&records(&bodies)).await;
    assert_eq!(report.failed_record_ids.len(), 3, "{:?}", report.errors);
    assert!(report.published.is_empty());
    assert!(world.stack.drain_inbox().await?.is_empty());
    world.emulator.clear_faults()?;

    // SQS delivers the batch again: the owed alert goes out once, with the failures
    // counted once. The log stream cannot be read now: the alert goes without its tail.
    world
        .emulator
        .inject(&Fault::new("logs", "GetLogEvents", FaultKind::Throttle))?;
    let report = monitor.process(&records(&bodies)).await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    let inbox = world.stack.drain_inbox().await?;
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        inbox[0].subject,
        "[HIGH] api in prod: 3 tasks failed - out-of-memory"
    );
    assert!(
        inbox[0]
            .document
            .get("logTail")
            .is_none_or(|tail| tail.is_null()),
        "{}",
        inbox[0].document
    );
    world.emulator.clear_faults()?;
    let again = monitor.process(&records(&bodies)).await;
    assert!(again.published.is_empty() && again.failed_record_ids.is_empty());
    assert!(world.stack.drain_inbox().await?.is_empty());
    Ok(())
}

/// With CHAT_TOPIC_ARN set, each notification is also one Publish of its chat document to
/// the chat topic, with the alert topic's attributes; a failing chat publish costs only the
/// chat message (logged), never a second email.
#[tokio::test]
async fn chat_on_publishes_one_chat_document_per_notification() -> anyhow::Result<()> {
    let world = World::start().await?;
    let chat_topic = aws_sdk_sns::Client::new(&world.sdk)
        .create_topic()
        .name("sentinel-chat")
        .send()
        .await?
        .topic_arn()
        .unwrap_or_default()
        .to_owned();
    // A queue subscribed to the chat topic, standing in for the chat channel.
    let chat = sentinel_emulator::stack::Stack::adopt(
        &world.sdk,
        "chat",
        chat_topic.clone(),
        world.stack.dead_letter_url.clone(),
        world.stack.table_name.clone(),
    )
    .await?;
    let monitor = task_monitor_with(&world, &[("CHAT_TOPIC_ARN", chat_topic.as_str())])?;
    let bodies: Vec<String> = (0..100).map(oom_stop).collect();
    world.emulator.reset_calls()?;
    let report = monitor.process(&records(&bodies)).await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert_eq!(
        world.calls()?.get("sns.Publish"),
        Some(&2),
        "one notification: the alert topic's message and one chat document"
    );
    let alerts = world.stack.drain_inbox().await?;
    let chats = chat.drain_inbox().await?;
    assert_eq!((alerts.len(), chats.len()), (1, 1));
    let doc = &chats[0].document;
    assert_eq!(sentinel_core::chat::validate(doc), Ok(()), "{doc:#}");
    assert_eq!(
        doc["content"]["title"],
        "🟠 HIGH · api in prod: 100 tasks failed - out-of-memory"
    );
    assert_eq!(doc["metadata"]["additionalContext"]["ServiceName"], "api");
    assert_eq!(
        chats[0].attributes, alerts[0].attributes,
        "the same SNS attributes"
    );
    assert_eq!(chats[0].attributes["service"]["Value"], "api");

    // The chat topic refuses every publish: the alert still goes out once, the batch
    // succeeds, and the redelivery that never comes cannot double the email.
    world.emulator.inject(
        &integration_tests::Fault::new("sns", "Publish", integration_tests::FaultKind::ServerError)
            .when_body_contains("sentinel-chat"),
    )?;
    // Another service's crash: a new episode, so a new alert.
    let web: Vec<String> = (0..3)
        .map(|n| oom_stop(1000 + n).replace("service:api", "service:web"))
        .collect();
    world.emulator.reset_calls()?;
    let report = monitor.process(&records(&web)).await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    let alerts = world.stack.drain_inbox().await?;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].attributes["service"]["Value"], "web");
    assert_eq!(
        world.calls()?.get("sns.Publish"),
        Some(&4),
        "the alert once, the chat document tried three times by the SDK"
    );
    assert!(chat.drain_inbox().await?.is_empty());
    Ok(())
}

/// Every operation the task monitor calls, under every fault the emulator injects, kept up
/// for a whole batch: SQS then redelivers only the records handed back, with no fault, until
/// none is. Each case is a batch of its own services (two, so state writes are transactions;
/// one for the single-item PutItem), their stops, and one corrupt body for the dead-letter
/// queue.
///
/// Promises, per case: no record lost (every one acknowledged within three redeliveries);
/// exactly one alert per service, more only when Publish answers were lost (SNS keeps no
/// deduplication); the corrupt body parked once (more only when SendMessageBatch answers
/// were lost); a fault on the log tail's reads costs only the tail, never a redelivery; a
/// fault that outlasts the SDK's retries elsewhere hands records back; and the batch
/// delivered once more sends nothing.
#[tokio::test]
async fn every_operation_under_every_fault_alerts_once_and_loses_nothing() -> anyhow::Result<()> {
    use integration_tests::{Fault, FaultKind};
    use std::collections::{BTreeMap, BTreeSet};
    let world = World::start().await?;
    // SQS redelivers a record handed back after its visibility timeout; here each round of
    // redelivery comes a lease later, so a claim whose answer was lost (its holder unknown
    // to the next run) has expired by then and is taken over, as in AWS.
    let clock = Arc::new(ManualClock::at(chrono::Utc::now()));
    integration_tests::container_log(&world, 2, &["about to crash"]).await?;
    let operations = [
        ("dynamodb", "BatchGetItem"),
        ("dynamodb", "TransactWriteItems"),
        ("dynamodb", "PutItem"),
        ("ecs", "DescribeTaskDefinition"),
        ("logs", "GetLogEvents"),
        ("sns", "Publish"),
        ("sqs", "SendMessageBatch"),
    ];
    let kinds = [
        FaultKind::Throttle,
        FaultKind::ServerError,
        FaultKind::Reset,
        FaultKind::LostAnswer,
    ];
    let mut wrong = Vec::new();
    for (case, ((service, operation), kind)) in operations
        .iter()
        .flat_map(|op| kinds.iter().map(move |kind| (*op, *kind)))
        .enumerate()
    {
        let label = format!("{service}.{operation} {kind:?}");
        let owners: Vec<String> = (0..if operation == "PutItem" { 1 } else { 2 })
            .map(|n| format!("case{case:02}-{n}"))
            .collect();
        let mut bodies: Vec<String> = owners
            .iter()
            .flat_map(|owner| (0..3).map(move |task| oom_stop_of(owner, task)))
            .collect();
        bodies.push(format!("{{\"corrupt\": {case}"));
        let batch = records(&bodies);
        // A monitor of its own, as a new Lambda sandbox: its task definition cache is cold,
        // so DescribeTaskDefinition is called in every case.
        let monitor = task_monitor(&world)?.with_clock(clock.clone());

        world
            .emulator
            .inject(&Fault::new(service, operation, kind))?;
        let first = monitor.process(&batch).await;
        let fired: u64 = world.emulator.fired_faults()?.iter().map(|(_, n)| n).sum();
        world.emulator.clear_faults()?;
        if fired == 0 {
            wrong.push(format!(
                "{label}: the fault never fired (the case proved nothing)"
            ));
        }
        let log_tail_only = matches!(operation, "DescribeTaskDefinition" | "GetLogEvents");
        if log_tail_only && !first.failed_record_ids.is_empty() {
            wrong.push(format!(
                "{label}: a log tail fault handed records back: {:?}",
                first.errors
            ));
        }
        if !log_tail_only && kind != FaultKind::LostAnswer && first.failed_record_ids.is_empty() {
            wrong.push(format!(
                "{label}: the fault outlasted the retries, yet no record came back"
            ));
        }
        let mut pending: BTreeSet<String> = first.failed_record_ids;
        for _ in 0..3 {
            if pending.is_empty() {
                break;
            }
            let again: Vec<_> = batch
                .iter()
                .filter(|r| r.message_id.as_ref().is_some_and(|id| pending.contains(id)))
                .cloned()
                .collect();
            clock.advance(chrono::TimeDelta::seconds(61)); // past the 60 s notice lease
            pending = monitor.process(&again).await.failed_record_ids;
        }
        if !pending.is_empty() {
            wrong.push(format!(
                "{label}: {} records never acknowledged",
                pending.len()
            ));
        }
        // The stops once more (the corrupt body would only be parked again).
        let replay = monitor.process(&batch[..batch.len() - 1]).await;
        if !replay.published.is_empty() || !replay.failed_record_ids.is_empty() {
            wrong.push(format!(
                "{label}: the batch once more sent {} and handed back {}",
                replay.published.len(),
                replay.failed_record_ids.len()
            ));
        }

        let mut alerts: BTreeMap<String, usize> = BTreeMap::new();
        for message in world.stack.drain_inbox().await? {
            let owner = owners
                .iter()
                .find(|o| message.subject.contains(o.as_str()))
                .cloned()
                .unwrap_or_else(|| format!("another case: {}", message.subject));
            *alerts.entry(owner).or_default() += 1;
        }
        // Each of the SDK's three attempts at a send whose answer is lost delivers (SNS and
        // SQS keep no deduplication), and what could not be confirmed is sent once more on
        // redelivery: at most four copies, only then.
        let most_when_lost = |sender: &str| {
            if (operation, kind) == (sender, FaultKind::LostAnswer) {
                4
            } else {
                1
            }
        };
        let most = most_when_lost("Publish");
        for owner in &owners {
            let got = alerts.remove(owner).unwrap_or(0);
            if !(1..=most).contains(&got) {
                wrong.push(format!("{label}: {owner} alerted {got} times"));
            }
        }
        wrong.extend(
            alerts
                .keys()
                .map(|other| format!("{label}: unexpected message about {other}")),
        );
        let parked = world.stack.drain_dead_letters().await?.len();
        let most = most_when_lost("SendMessageBatch");
        if !(1..=most).contains(&parked) {
            wrong.push(format!("{label}: the corrupt body parked {parked} times"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    Ok(())
}

/// DynamoDB answers part of a BatchGetItem under load (at least one key; none at all is a
/// throttling error) and hands the rest back in `UnprocessedKeys`: the monitor asks again
/// for exactly those, so a batch about episodes already alerted finds them all and sends
/// nothing new. Keys still unprocessed after five rounds fail the batch for redelivery rather
/// than be taken for new episodes.
#[tokio::test]
async fn keys_left_unprocessed_are_asked_again_and_never_taken_for_new_episodes(
) -> anyhow::Result<()> {
    use integration_tests::{Fault, FaultKind};
    let world = World::start().await?;
    let monitor = task_monitor_with(&world, &[("LOG_TAIL_LINES", "0")])?;
    let owners = [
        "orders", "billing", "search", "cart", "users", "stock", "mail",
    ];
    // Two stops of each of the first `services` services, task ids from `first_task`.
    let batch = |services: usize, first_task: u32| {
        let bodies: Vec<String> = owners[..services]
            .iter()
            .flat_map(|owner| (first_task..first_task + 2).map(move |t| oom_stop_of(owner, t)))
            .collect();
        records(&bodies)
    };
    let opened = monitor.process(&batch(3, 0)).await;
    assert!(opened.failed_record_ids.is_empty(), "{:?}", opened.errors);
    assert_eq!(world.stack.drain_inbox().await?.len(), 3);
    let unprocessed = Fault::new("dynamodb", "BatchGetItem", FaultKind::Unprocessed);

    // One partial round: the first key is read, the other two asked for again.
    world.emulator.inject(&unprocessed.clone().times(1))?;
    world.emulator.reset_calls()?;
    let more = monitor.process(&batch(3, 10)).await;
    assert!(more.failed_record_ids.is_empty(), "{:?}", more.errors);
    assert!(more.published.is_empty(), "{:?}", more.published);
    assert_eq!(world.calls()?.get("dynamodb.BatchGetItem"), Some(&2));
    let asked = world.emulator.requests("dynamodb.BatchGetItem")?;
    let second = asked.last().map(String::as_str).unwrap_or_default();
    assert_eq!(
        second.matches("\"pk\"").count(),
        2,
        "the second round asks for the two keys left: {second}"
    );
    world.emulator.clear_faults()?;

    // Every round partial: one key a round, three rounds for three.
    world.emulator.inject(&unprocessed)?;
    world.emulator.reset_calls()?;
    let slow = monitor.process(&batch(3, 20)).await;
    assert!(slow.failed_record_ids.is_empty(), "{:?}", slow.errors);
    assert!(slow.published.is_empty(), "{:?}", slow.published);
    assert_eq!(world.calls()?.get("dynamodb.BatchGetItem"), Some(&3));
    assert!(world.stack.drain_inbox().await?.is_empty());

    // Seven keys at one a round: two are left after five rounds, and every record goes back
    // to SQS with nothing written.
    world.emulator.reset_calls()?;
    let throttled = monitor.process(&batch(7, 30)).await;
    assert_eq!(
        throttled.failed_record_ids.len(),
        14,
        "{:?}",
        throttled.errors
    );
    assert!(throttled.published.is_empty());
    assert_eq!(
        world.calls()?,
        std::collections::HashMap::from([("dynamodb.BatchGetItem".to_owned(), 5)]),
        "five rounds, and nothing written on a partial read"
    );
    assert!(world.stack.drain_inbox().await?.is_empty());
    Ok(())
}
