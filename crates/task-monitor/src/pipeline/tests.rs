//! The pipeline over the in-memory store and topic: what a batch sends, stores and asks
//! SQS to deliver again, with exact call counts, redeliveries and failed publishes.

use super::*;
use crate::memory::{Fault, MemoryTasks};
use chrono::{TimeDelta, TimeZone};
use sentinel_core::ManualClock;
use sentinel_lambda::testing::{explore_faults, Script, Told};
use serde_json::{json, Value};

const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";

fn config() -> Config {
    Config::from_lookup(|name| {
        match name {
            "ALERT_TOPIC_ARN" => Some("arn:aws:sns:us-east-1:123456789012:alerts"),
            "ALERT_TABLE_NAME" => Some("alerts"),
            "DEAD_LETTER_QUEUE_URL" => Some("http://127.0.0.1:1/dlq"),
            "REMINDER_HOURS" => Some("4"),
            _ => None,
        }
        .map(str::to_owned)
    })
    .expect("a valid test configuration")
}

fn t(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 10, 0, 0).unwrap() + TimeDelta::minutes(minute)
}

/// A monitor over in-memory ports. All clusters are monitored and every test record is
/// usable, so the AWS clients (pointed nowhere) are never called.
fn monitor(world: &Arc<MemoryTasks>, clock: &Arc<ManualClock>) -> TaskMonitor {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build();
    let config = config();
    TaskMonitor::with_ports(
        ClusterPolicy::new(
            EcsInventory::new(aws_sdk_ecs::Client::new(&sdk)),
            config.policy.clone(),
            config.tag_cache_ttl,
        ),
        Ports {
            episodes: world.clone(),
            notifier: world.clone(),
            logs: world.clone(),
        },
        DeadLetterQueue::new(
            aws_sdk_sqs::Client::new(&sdk),
            &config.dead_letter_queue_url,
        ),
        config,
    )
    .with_clock(clock.clone())
}

fn stopped(service: &str, task: u32, minute: i64, detail: Value) -> Value {
    let mut event = json!({
        "version": "0", "id": format!("e-{service}-{task}"), "detail-type": "ECS Task State Change",
        "source": "aws.ecs", "account": "123456789012", "time": t(minute).to_rfc3339(), "region": "us-east-1",
        "detail": {
            "clusterArn": CLUSTER,
            "taskArn": format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{task:032x}"),
            "taskDefinitionArn": format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{service}:3"),
            "group": format!("service:{service}"),
            "lastStatus": "STOPPED",
            "stopCode": "EssentialContainerExited",
            "stoppedReason": "Essential container in task exited",
            "version": 4,
            "containers": [{"name": "app", "exitCode": 1}]
        }
    });
    if let (Some(base), Value::Object(patch)) = (event["detail"].as_object_mut(), detail) {
        base.extend(patch);
    }
    event
}

fn service_event(detail_type: &str, service: &str, name: &str, minute: i64) -> Value {
    json!({
        "version": "0", "id": format!("s-{service}-{name}-{minute}"), "detail-type": detail_type,
        "source": "aws.ecs", "account": "123456789012", "time": t(minute).to_rfc3339(), "region": "us-east-1",
        "resources": [format!("arn:aws:ecs:us-east-1:123456789012:service/prod/{service}")],
        "detail": {"eventType": if name.contains("FAIL") { "ERROR" } else { "INFO" }, "eventName": name,
                   "clusterArn": CLUSTER, "reason": "ECS deployment circuit breaker: task failed to start."}
    })
}

fn records(events: &[Value]) -> Vec<SqsMessage> {
    events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let mut record = SqsMessage::default();
            record.message_id = Some(format!("m{i}"));
            record.body = Some(event.to_string());
            record
        })
        .collect()
}

fn crash_loop(service: &str, tasks: std::ops::Range<u32>) -> Vec<Value> {
    tasks.map(|n| stopped(service, n, 0, json!({}))).collect()
}

#[tokio::test]
async fn a_crash_loop_of_200_tasks_is_one_alert_at_the_batching_lower_bound() {
    let world = Arc::new(MemoryTasks::default());
    let clock = Arc::new(ManualClock::at(t(1)));
    let monitor = monitor(&world, &clock);
    let mut total = TaskBatchReport::default();
    for batch in crash_loop("api", 0..200).chunks(100) {
        let report = monitor.process(&records(batch)).await;
        assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
        total.published.extend(report.published);
    }
    let delivered = world.delivered();
    assert_eq!(delivered.len(), 1, "one alert for the whole loop");
    assert_eq!(
        delivered[0].subject,
        "[HIGH] api in prod: 100 tasks failed - container-exit"
    );
    assert_eq!(delivered[0].service.as_deref(), Some("api"));
    let stored = world
        .stored(&format!("tasks#{CLUSTER}#service#api"))
        .unwrap();
    assert_eq!(stored.failures, 200, "the second batch counted, silently");
    assert!(stored.state.alert_sent);
    // First batch: read, claim, record sent; second: read, store the new count.
    assert_eq!(world.calls(), (2, 3, 1));
}

#[tokio::test]
async fn a_burst_of_1000_stops_across_10_services_notifies_10_times() {
    let world = Arc::new(MemoryTasks::default());
    let clock = Arc::new(ManualClock::at(t(1)));
    let monitor = monitor(&world, &clock);
    // Interleaved, as a burst arrives: every batch of 100 holds all 10 services.
    let events: Vec<Value> = (0..1000u32)
        .map(|n| stopped(&format!("svc-{}", n % 10), n, 0, json!({})))
        .collect();
    for batch in events.chunks(100) {
        let report = monitor.process(&records(batch)).await;
        assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    }
    assert_eq!(world.delivered().len(), 10);
    // Per batch of 100: one read and at most two writes (claims, then records of sent).
    assert_eq!(world.calls(), (10, 2 + 9, 10));
}

#[tokio::test]
async fn a_redelivered_batch_neither_alerts_nor_counts_again() {
    let world = Arc::new(MemoryTasks::default());
    let clock = Arc::new(ManualClock::at(t(1)));
    let monitor = monitor(&world, &clock);
    let batch = records(&crash_loop("api", 0..3));
    monitor.process(&batch).await;
    let again = monitor.process(&batch).await;
    assert!(again.published.is_empty() && again.failed_record_ids.is_empty());
    assert_eq!(world.delivered().len(), 1);
    let stored = world
        .stored(&format!("tasks#{CLUSTER}#service#api"))
        .unwrap();
    assert_eq!(stored.failures, 3);
}

#[tokio::test]
async fn a_failed_publish_is_retried_by_the_redelivery_and_sent_once() {
    let world = Arc::new(MemoryTasks::default());
    world.script_publishes(&[Some(Fault::Fail)]);
    let clock = Arc::new(ManualClock::at(t(1)));
    let monitor = monitor(&world, &clock);
    let batch = records(&crash_loop("api", 0..3));
    let first = monitor.process(&batch).await;
    assert_eq!(
        first.failed_record_ids.len(),
        3,
        "the whole group comes back"
    );
    assert!(world.delivered().is_empty());
    let second = monitor.process(&batch).await;
    assert!(second.failed_record_ids.is_empty(), "{:?}", second.errors);
    assert_eq!(
        world.delivered().len(),
        1,
        "sent on the redelivery, at once"
    );
    let stored = world
        .stored(&format!("tasks#{CLUSTER}#service#api"))
        .unwrap();
    assert_eq!(
        stored.failures, 3,
        "the retried records were not counted twice"
    );
}

#[tokio::test]
async fn steady_state_and_completed_deployments_resolve_once() {
    let world = Arc::new(MemoryTasks::default());
    let clock = Arc::new(ManualClock::at(t(1)));
    let monitor = monitor(&world, &clock);
    monitor.process(&records(&crash_loop("api", 0..3))).await;
    monitor
        .process(&records(&[service_event(
            "ECS Deployment State Change",
            "api",
            "SERVICE_DEPLOYMENT_FAILED",
            2,
        )]))
        .await;
    clock.set(t(10));
    let resolved = monitor
        .process(&records(&[service_event(
            "ECS Service Action",
            "api",
            "SERVICE_STEADY_STATE",
            10,
        )]))
        .await;
    assert_eq!(resolved.published.len(), 1);
    assert_eq!(resolved.published[0].notice, Notice::Resolved);
    monitor
        .process(&records(&[service_event(
            "ECS Deployment State Change",
            "api",
            "SERVICE_DEPLOYMENT_COMPLETED",
            11,
        )]))
        .await;
    let subjects: Vec<String> = world.delivered().into_iter().map(|n| n.subject).collect();
    assert_eq!(
        subjects,
        vec![
            "[HIGH] api in prod: 3 tasks failed - container-exit".to_owned(),
            "[RESOLVED] steady state after 4 failures: api in prod".to_owned(),
        ]
    );
}

#[tokio::test]
async fn reminders_carry_the_new_count() {
    let world = Arc::new(MemoryTasks::default());
    let clock = Arc::new(ManualClock::at(t(1)));
    let monitor = monitor(&world, &clock);
    monitor.process(&records(&crash_loop("api", 0..3))).await;
    clock.set(t(5 * 60));
    monitor.process(&records(&crash_loop("api", 3..5))).await;
    let delivered = world.delivered();
    assert_eq!(delivered.len(), 2);
    assert_eq!(
        delivered[1].subject,
        "[HIGH] Reminder - api in prod: 5 tasks failed (2 new) - container-exit"
    );
}

#[tokio::test]
async fn what_is_not_a_failure_is_counted_and_never_paged() {
    let world = Arc::new(MemoryTasks::default());
    let clock = Arc::new(ManualClock::at(t(1)));
    let monitor = monitor(&world, &clock);
    let report = monitor
        .process(&records(&[
            stopped(
                "api",
                1,
                0,
                json!({"stopCode": "ServiceSchedulerInitiated",
                "stoppedReason": "Scaling activity initiated by (deployment ecs-svc/1)"}),
            ),
            stopped("api", 2, 0, json!({"stopCode": "SpotInterruption"})),
            stopped(
                "nightly",
                3,
                0,
                json!({"group": "family:nightly", "containers": [{"name": "job", "exitCode": 0}]}),
            ),
            service_event("ECS Service Action", "api", "SERVICE_STEADY_STATE", 0),
        ]))
        .await;
    assert!(world.delivered().is_empty());
    assert_eq!(report.spot_interruptions, 1);
    assert_eq!(report.not_failures.get("replaced"), Some(&1));
    assert_eq!(report.not_failures.get("completed"), Some(&1));
    assert_eq!(
        world.calls(),
        (1, 0, 0),
        "the steady state looked for an episode; nothing else"
    );
    let emf: Vec<String> = report.metrics.iter().map(|m| m.to_emf()).collect();
    assert!(
        emf.iter().any(|l| l.contains("\"SpotInterruptions\":1.0")),
        "{emf:?}"
    );
}

#[tokio::test]
async fn failures_are_counted_by_service_and_by_kind() {
    let world = Arc::new(MemoryTasks::default());
    let clock = Arc::new(ManualClock::at(t(1)));
    let monitor = monitor(&world, &clock);
    let oom = json!({"containers": [{"name": "app", "exitCode": 137,
        "reason": "OutOfMemoryError: Container killed due to memory usage"}]});
    let report = monitor
        .process(&records(&[
            stopped("api", 1, 0, oom.clone()),
            stopped("api", 2, 0, oom),
            stopped("web", 3, 0, json!({})),
        ]))
        .await;
    let emf: Vec<String> = report.metrics.iter().map(|m| m.to_emf()).collect();
    let line = |needles: &[&str]| emf.iter().any(|l| needles.iter().all(|n| l.contains(n)));
    assert!(
        line(&["\"ServiceName\":\"api\"", "\"TaskFailures\":2.0"]),
        "{emf:?}"
    );
    assert!(
        line(&["\"Kind\":\"out-of-memory\"", "\"TaskFailures\":2.0"]),
        "{emf:?}"
    );
    assert!(
        line(&["\"Kind\":\"container-exit\"", "\"TaskFailures\":1.0"]),
        "{emf:?}"
    );
    assert_eq!(world.delivered().len(), 2, "one alert per service");
}

#[tokio::test]
async fn an_alert_quotes_the_failed_containers_last_log_lines() {
    let world = Arc::new(MemoryTasks::default());
    world.set_log(
        "app",
        &["starting", "connecting to db", "panic: no route to host"],
    );
    let clock = Arc::new(ManualClock::at(t(1)));
    let monitor = monitor(&world, &clock);
    monitor.process(&records(&crash_loop("api", 0..2))).await;
    let delivered = world.delivered();
    let body: Value = serde_json::from_str(&delivered[0].message).unwrap();
    let email = body["email"].as_str().unwrap();
    assert!(email.contains("Last 3 lines of app's log"), "{email}");
    assert!(email.contains("  panic: no route to host"), "{email}");
}

/// One failure of each kind, in the shapes ECS publishes, as the README shows them: the
/// subject of each, and the whole email of one. The README quotes what the code sends.
#[tokio::test]
async fn the_readme_shows_each_kind_as_it_is_sent() {
    let stop = |detail: Value| vec![stopped("api", 7, 0, detail)];
    let action = |level: &str, name: &str, reason: &str| {
        let mut event = service_event("ECS Service Action", "api", name, 0);
        event["detail"]["eventType"] = json!(level);
        event["detail"]["reason"] = json!(reason);
        vec![event]
    };
    let examples: Vec<(&str, Vec<Value>)> = vec![
        (
            "image-pull",
            stop(json!({"stopCode": "TaskFailedToStart",
            "stoppedReason": "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v2: not found",
            "containers": [{"name": "app", "reason": "CannotPullContainerError: pull image manifest has been retried 5 time(s)"}]})),
        ),
        (
            "resource-init",
            stop(json!({"stopCode": "TaskFailedToStart",
            "stoppedReason": "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: AccessDeniedException",
            "containers": [{"name": "app"}]})),
        ),
        (
            "out-of-memory",
            stop(json!({"containers": [{"name": "app", "exitCode": 137,
            "reason": "OutOfMemoryError: Container killed due to memory usage"}]})),
        ),
        ("container-exit", stop(json!({}))),
        (
            "elb-health-check",
            stop(json!({"stopCode": "ServiceSchedulerInitiated",
            "stoppedReason": "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123456789abcdef)",
            "containers": [{"name": "app", "exitCode": 143}]})),
        ),
        (
            "container-health-check",
            stop(json!({"stopCode": "ServiceSchedulerInitiated",
            "stoppedReason": "Task failed container health checks",
            "containers": [{"name": "app", "exitCode": 143}]})),
        ),
        (
            "placement",
            action("WARN", "SERVICE_TASK_PLACEMENT_FAILURE", "RESOURCE:MEMORY"),
        ),
        (
            "start-impaired",
            action("WARN", "SERVICE_TASK_START_IMPAIRED", ""),
        ),
        (
            "deployment-failed",
            vec![service_event(
                "ECS Deployment State Change",
                "api",
                "SERVICE_DEPLOYMENT_FAILED",
                0,
            )],
        ),
        (
            "other-failure",
            action(
                "ERROR",
                "SERVICE_TASK_CONFIGURATION_FAILURE",
                "AccessDeniedException: the service role may not call ecs:TagResource",
            ),
        ),
    ];
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/task-monitor.md"
    ))
    .expect("docs/task-monitor.md in the workspace");
    let mut missing = Vec::new();
    for (kind, events) in examples {
        let world = Arc::new(MemoryTasks::default());
        world.set_log(
            "app",
            &["listening on :8080", "panic: connection refused: db:5432"],
        );
        let clock = Arc::new(ManualClock::at(t(1)));
        let report = monitor(&world, &clock).process(&records(&events)).await;
        assert!(
            report.failed_record_ids.is_empty(),
            "{kind}: {:?}",
            report.errors
        );
        let delivered = world.delivered();
        assert_eq!(delivered.len(), 1, "{kind}");
        assert_eq!(delivered[0].kinds, [kind]);
        let row = format!("| `{kind}` | `{}` |", delivered[0].subject);
        if !readme.contains(&row) {
            missing.push(row);
        }
        if kind == "out-of-memory" {
            let message: Value = serde_json::from_str(&delivered[0].message).unwrap();
            let email = message["email"].as_str().unwrap();
            if !readme.contains(email) {
                missing.push(format!("the email:\n{email}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/task-monitor.md lacks:\n{}",
        missing.join("\n")
    );
}

/// SQS hands a failed record back after its visibility timeout, longer than a notice's lease.
const REDELIVERY: TimeDelta = TimeDelta::minutes(6);

/// The engine's fault exploration through the task monitor's wiring: every script of faults
/// on the first three writes and the first two publishes (576), with a service's task
/// failing, then the service steady again; SQS hands back what was not acknowledged.
#[tokio::test(start_paused = true)]
async fn every_fault_script_closes_what_it_alerted() {
    let found = explore_faults(play).await;
    assert_eq!(found.scripts, 576);
    assert!(found.closed_without_alert > 0 && found.closed_without_alert < found.scripts);
    assert!(found.duplicates < found.scripts);
}

/// Plays one script: a task of `api` stops, delivered alone; then the steady state; then
/// every outstanding record delivered again (together, as one batch) until acknowledged.
async fn play(script: Script) -> Told {
    let world = Arc::new(MemoryTasks::default());
    script.install::<TaskEpisode>(&world);
    let clock = Arc::new(ManualClock::at(t(1)));
    let monitor = monitor(&world, &clock);
    let record = |id: &str, event: Value| {
        let mut record = SqsMessage::default();
        record.message_id = Some(id.to_owned());
        record.body = Some(event.to_string());
        record
    };
    let down = record("down", stopped("api", 0, 0, json!({})));
    let up = record(
        "up",
        service_event("ECS Service Action", "api", "SERVICE_STEADY_STATE", 1),
    );
    let mut outstanding = Vec::new();
    if !monitor
        .process(std::slice::from_ref(&down))
        .await
        .failed_record_ids
        .is_empty()
    {
        outstanding.push(down);
    }
    outstanding.push(up);
    clock.advance(TimeDelta::minutes(1));
    for _ in 0..12 {
        let report = monitor.process(&outstanding).await;
        outstanding.retain(|r| {
            r.message_id
                .as_ref()
                .is_some_and(|id| report.failed_record_ids.contains(id))
        });
        if outstanding.is_empty() {
            break;
        }
        clock.advance(REDELIVERY);
    }
    assert!(outstanding.is_empty(), "{script:?}: never acknowledged");
    let stored = world.stored(&format!("tasks#{CLUSTER}#service#api"));
    if let Some(e) = stored {
        assert_eq!(e.state.pending, None, "{script:?}: {e:?}");
    }
    Told {
        alerts: world.notices(Notice::Alert),
        resolveds: world.notices(Notice::Resolved),
    }
}

const API: &str = "tasks#arn:aws:ecs:us-east-1:123456789012:cluster/prod#service#api";

/// The claim (the first write) fails: nothing is sent, the whole group comes back, and the
/// redelivery alerts once with the count of the first delivery.
#[tokio::test]
async fn a_failing_episode_write_sends_nothing_and_the_redelivery_alerts_once() {
    let world = Arc::new(MemoryTasks::default());
    world.script_writes(&[Some(Fault::Fail)]);
    let clock = Arc::new(ManualClock::at(t(1)));
    let monitor = monitor(&world, &clock);
    let batch = records(&crash_loop("api", 0..3));
    let first = monitor.process(&batch).await;
    assert_eq!(first.failed_record_ids.len(), 3, "{:?}", first.errors);
    assert!(first.published.is_empty() && world.delivered().is_empty());
    assert!(world.stored(API).is_none(), "a failed claim stores nothing");
    assert_eq!(world.calls(), (1, 1, 0));

    let second = monitor.process(&batch).await;
    assert!(second.failed_record_ids.is_empty(), "{:?}", second.errors);
    assert_eq!(world.delivered().len(), 1);
    assert_eq!(world.stored(API).map(|e| e.failures), Some(3));
    assert!(world.stored(API).is_some_and(|e| e.state.alert_sent));
    // Second run: read, claim, record sent, publish.
    assert_eq!(world.calls(), (2, 3, 1));
}

/// The claim commits but its answer says conflict (an SDK retry of a committed write): the
/// run sends nothing it did not claim; the redelivery, once the claim's lease has passed,
/// alerts exactly once and counts each task once.
#[tokio::test]
async fn a_conflicting_episode_write_never_sends_twice() {
    let world = Arc::new(MemoryTasks::default());
    world.script_writes(&[Some(Fault::ConflictAfterEffect)]);
    let clock = Arc::new(ManualClock::at(t(1)));
    let monitor = monitor(&world, &clock);
    let batch = records(&crash_loop("api", 0..3));
    let first = monitor.process(&batch).await;
    let sent_first = world.delivered().len();
    assert!(sent_first <= 1);
    clock.set(t(5));
    let second = monitor.process(&batch).await;
    assert!(second.failed_record_ids.is_empty(), "{:?}", second.errors);
    clock.set(t(10));
    monitor.process(&batch).await;
    assert_eq!(
        world.delivered().len(),
        1,
        "one alert whatever the first run believed: {:?} / {:?}",
        first.errors,
        second.errors
    );
    assert_eq!(world.stored(API).map(|e| e.failures), Some(3));
    assert!(world.stored(API).is_some_and(|e| e.state.alert_sent));
}

/// The alert goes out and its first two "sent" records fail: the engine's own retries
/// record it, the records are settled, nothing is sent again.
#[tokio::test]
async fn a_failing_sent_record_is_recorded_by_the_retries() {
    let world = Arc::new(MemoryTasks::default());
    // The claim passes; the batched record fails, then its first retry alone.
    world.script_writes(&[None, Some(Fault::Fail), Some(Fault::Fail)]);
    let clock = Arc::new(ManualClock::at(t(1)));
    let monitor = monitor(&world, &clock);
    let batch = records(&crash_loop("api", 0..3));
    let first = monitor.process(&batch).await;
    assert!(first.failed_record_ids.is_empty(), "{:?}", first.errors);
    assert_eq!(world.delivered().len(), 1);
    assert!(world.stored(API).is_some_and(|e| e.state.alert_sent));
    // Read, claim, the batched record, two records alone.
    assert_eq!(world.calls(), (1, 4, 1));
    clock.set(t(5));
    monitor.process(&records(&crash_loop("api", 3..4))).await;
    assert_eq!(
        world.delivered().len(),
        1,
        "the new failure is counted, silently"
    );
    assert_eq!(world.stored(API).map(|e| e.failures), Some(4));
}

/// The alert goes out and every try to record it fails: the records are acknowledged (the
/// alert did go out); the claim holds for its lease, so a failure meanwhile sends nothing;
/// after the lease the episode, never confirmed, is alerted again once — the one duplicate
/// the engine documents ("sent but not recorded; it may be sent again after its lease") —
/// and that one is recorded.
#[tokio::test]
async fn a_sent_record_failing_every_try_is_sent_again_only_after_the_lease() {
    let world = Arc::new(MemoryTasks::default());
    // The claim passes; the batched record and its four tries alone fail.
    world.script_writes(&[
        None,
        Some(Fault::Fail),
        Some(Fault::Fail),
        Some(Fault::Fail),
        Some(Fault::Fail),
        Some(Fault::Fail),
    ]);
    let clock = Arc::new(ManualClock::at(t(1)));
    let monitor = monitor(&world, &clock);
    let first = monitor.process(&records(&crash_loop("api", 0..3))).await;
    assert!(first.failed_record_ids.is_empty(), "{:?}", first.errors);
    assert_eq!(world.delivered().len(), 1);
    assert!(world.stored(API).is_some_and(|e| !e.state.alert_sent));
    assert_eq!(world.calls(), (1, 6, 1));

    clock.set(t(1) + TimeDelta::seconds(30));
    let within = monitor.process(&records(&crash_loop("api", 3..4))).await;
    assert_eq!(
        world.delivered().len(),
        1,
        "the claim still holds: {:?}",
        within.errors
    );

    clock.set(t(5));
    let after = monitor.process(&records(&crash_loop("api", 4..5))).await;
    assert!(after.failed_record_ids.is_empty(), "{:?}", after.errors);
    let delivered = world.delivered();
    assert_eq!(
        delivered.len(),
        2,
        "{:?}",
        delivered.iter().map(|d| &d.subject).collect::<Vec<_>>()
    );
    assert!(!delivered[1].subject.starts_with("[RESOLVED]"));
    assert!(world.stored(API).is_some_and(|e| e.state.alert_sent));
    clock.set(t(9));
    monitor.process(&records(&crash_loop("api", 5..6))).await;
    assert_eq!(world.delivered().len(), 2, "recorded now: no third");
}

/// A stored task episode that cannot be read costs only its own service's records (left
/// for redelivery and, in the end, the dead-letter queue); the other service alerts.
#[tokio::test]
async fn an_unreadable_task_episode_costs_only_its_own_records() {
    let world = Arc::new(MemoryTasks::default());
    world.insert_unreadable(API, "failures is not a number");
    let clock = Arc::new(ManualClock::at(t(1)));
    let monitor = monitor(&world, &clock);
    let mut events = crash_loop("api", 0..3);
    events.extend(crash_loop("web", 10..12));
    let report = monitor.process(&records(&events)).await;
    let failed: Vec<&str> = report
        .failed_record_ids
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(failed, ["m0", "m1", "m2"], "exactly api's records");
    assert!(
        report
            .errors
            .iter()
            .any(|(_, e)| e.contains("unreadable task episode")
                && e.contains("failures is not a number")),
        "{:?}",
        report.errors
    );
    let delivered = world.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].subject,
        "[HIGH] web in prod: 2 tasks failed - container-exit"
    );
    assert!(report.dead_lettered.is_empty());
}

/// An unusable body whose dead-letter send fails is handed back to SQS (never dropped),
/// and costs the usable records of its batch nothing.
#[tokio::test]
async fn an_unusable_record_is_handed_back_when_the_dead_letter_send_fails() {
    let world = Arc::new(MemoryTasks::default());
    let clock = Arc::new(ManualClock::at(t(1)));
    let monitor = monitor(&world, &clock);
    let mut batch = records(&crash_loop("api", 0..2));
    let mut poison = SqsMessage::default();
    poison.message_id = Some("poison".into());
    poison.body = Some("{not json".into());
    batch.push(poison);
    // The dead-letter queue's client points at a closed port.
    let report = monitor.process(&batch).await;
    assert_eq!(
        report
            .failed_record_ids
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["poison"],
        "{:?}",
        report.errors
    );
    assert!(report.dead_lettered.is_empty());
    assert_eq!(world.delivered().len(), 1, "the usable records still alert");
}
