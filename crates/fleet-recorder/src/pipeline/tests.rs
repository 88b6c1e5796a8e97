//! The recorder over the in-memory store and listing: one write per key per batch, late and
//! duplicated events harmless, failures handed back per key, and the reconcile's repairs.

use super::*;
use crate::memory::MemoryFleet;
use chrono::TimeZone;
use sentinel_core::{ClusterArn, ManualClock};
use sentinel_fleet::record::TaskRecord;
use sentinel_tasks::event::fixtures::stopped_task;

const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";

fn task_arn(n: u32) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{n:032x}")
}

/// Task `n` at `status` with ECS's `version`.
fn task_event(n: u32, status: &str, version: u64) -> Value {
    let mut detail = json!({"taskArn": task_arn(n), "lastStatus": status, "version": version});
    if status != "STOPPED" {
        detail["stopCode"] = Value::Null;
        detail["stoppedReason"] = Value::Null;
        detail["stoppedAt"] = Value::Null;
    }
    stopped_task(detail)
}

fn instance_event(version: u64) -> Value {
    json!({
        "version": "0", "id": format!("i-{version}"), "source": "aws.ecs",
        "detail-type": "ECS Container Instance State Change", "account": "123456789012",
        "time": "2026-11-29T10:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:ecs:us-east-1:123456789012:container-instance/prod/abc"],
        "detail": {
            "clusterArn": CLUSTER,
            "containerInstanceArn": "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/abc",
            "ec2InstanceId": "i-0123456789abcdef0", "status": "ACTIVE", "agentConnected": true,
            "versionInfo": {"agentVersion": "1.89.2"}, "registeredResources": [],
            "remainingResources": [], "version": version
        }
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

/// A recorder over in-memory ports; the dead-letter queue points nowhere, so a record that
/// must be parked is handed back to SQS instead.
fn recorder(fleet: &Arc<MemoryFleet>) -> FleetRecorder {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:1")
        .build();
    FleetRecorder::with_ports(
        fleet.clone(),
        fleet.clone(),
        DeadLetterQueue::new(aws_sdk_sqs::Client::new(&sdk), "http://127.0.0.1:1/dlq"),
    )
    .with_clock(Arc::new(ManualClock::at(
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 29, 11, 0, 0)
            .unwrap(),
    )))
}

fn stored_task(fleet: &MemoryFleet, n: u32) -> TaskRecord {
    match fleet
        .stored(&format!("task#{}", task_arn(n)))
        .map(|s| s.record)
    {
        Some(FleetRecord::Task(task)) => task,
        other => panic!("task {n} is stored as {other:?}"),
    }
}

#[tokio::test]
async fn a_tasks_whole_life_in_one_batch_is_one_write() {
    let fleet = Arc::new(MemoryFleet::default());
    let mut events: Vec<Value> = [
        ("PROVISIONING", 1),
        ("PENDING", 2),
        ("RUNNING", 3),
        ("STOPPING", 4),
        ("STOPPED", 5),
    ]
    .into_iter()
    .map(|(status, version)| task_event(1, status, version))
    .collect();
    events.reverse(); // EventBridge promises no order.
    events.push(instance_event(7));
    events.push(
        json!({"source": "aws.ecs", "detail-type": "AWS API Call via CloudTrail",
                       "detail": {"eventName": "RunTask"}}),
    );
    let report = recorder(&fleet).process(&records(&events)).await;
    assert_eq!((report.received, report.keys, report.ignored), (7, 2, 1));
    assert_eq!((report.written, report.stale), (2, 0));
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert_eq!(fleet.calls().writes, 2, "one write per distinct key");
    let task = stored_task(&fleet, 1);
    assert_eq!((task.last_status.as_str(), task.version), ("STOPPED", 5));
}

#[tokio::test]
async fn late_and_duplicated_events_never_overwrite_newer_state() {
    let fleet = Arc::new(MemoryFleet::default());
    let recorder = recorder(&fleet);
    recorder
        .process(&records(&[task_event(1, "STOPPED", 6)]))
        .await;
    // A late RUNNING (an older version) and a redelivery of the STOPPED, in a later batch.
    let report = recorder
        .process(&records(&[
            task_event(1, "RUNNING", 3),
            task_event(1, "STOPPED", 6),
        ]))
        .await;
    assert_eq!((report.keys, report.written, report.stale), (1, 0, 1));
    assert!(report.failed_record_ids.is_empty());
    assert_eq!(stored_task(&fleet, 1).version, 6);
    // The late one alone.
    let report = recorder
        .process(&records(&[task_event(1, "PENDING", 2)]))
        .await;
    assert_eq!(report.stale, 1);
    assert_eq!(stored_task(&fleet, 1).last_status, "STOPPED");
}

#[tokio::test]
async fn a_failed_write_hands_back_exactly_the_records_of_its_key() {
    let fleet = Arc::new(MemoryFleet::default());
    // Keys are written in key order: task 1's write fails, task 2's succeeds.
    fleet.script_writes(&[true, false]);
    let events = [
        task_event(1, "RUNNING", 3),
        task_event(2, "RUNNING", 3),
        task_event(1, "STOPPED", 5),
    ];
    let report = recorder(&fleet).process(&records(&events)).await;
    assert_eq!(
        report.failed_record_ids.iter().collect::<Vec<_>>(),
        ["m0", "m2"]
    );
    assert_eq!(report.errors.len(), 1);
    assert!(fleet.stored(&format!("task#{}", task_arn(1))).is_none());
    assert_eq!(stored_task(&fleet, 2).version, 3);
    // SQS delivers task 1's records again.
    let again = recorder(&fleet)
        .process(&records(&[events[0].clone(), events[2].clone()]))
        .await;
    assert!(again.failed_record_ids.is_empty());
    assert_eq!(stored_task(&fleet, 1).version, 5);
}

#[tokio::test]
async fn an_unusable_record_is_handed_back_when_it_cannot_be_parked() {
    let fleet = Arc::new(MemoryFleet::default());
    let mut bodies = records(&[task_event(1, "RUNNING", 3)]);
    let mut broken = SqsMessage::default();
    broken.message_id = Some("broken".into());
    broken.body = Some("{\"detail-type\": \"ECS Task State Change\"".into());
    bodies.push(broken);
    let report = recorder(&fleet).process(&bodies).await;
    // The dead-letter queue is unreachable: nothing is lost, SQS delivers it again.
    assert_eq!(
        report.failed_record_ids.iter().collect::<Vec<_>>(),
        ["broken"]
    );
    assert_eq!(report.written, 1);
}

#[tokio::test]
async fn the_reconcile_writes_what_events_missed_and_marks_what_ecs_forgot() {
    let fleet = Arc::new(MemoryFleet::default());
    let recorder = recorder(&fleet);
    // Stored by events: task 1 running, task 2 stopped long ago.
    recorder
        .process(&records(&[
            task_event(1, "RUNNING", 3),
            task_event(2, "STOPPED", 6),
        ]))
        .await;
    // ECS lists task 3 (its events were missed) and no longer knows tasks 1 and 2.
    let cluster = ClusterArn::parse(CLUSTER).unwrap();
    let missed = sentinel_fleet::parse_fleet_event(&task_event(3, "RUNNING", 2).to_string())
        .unwrap()
        .unwrap();
    fleet.list(&cluster, vec![missed]);
    let report = recorder.reconcile().await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        (report.clusters, report.written, report.marked_gone),
        (1, 1, 1)
    );
    assert_eq!(stored_task(&fleet, 3).version, 2);
    let vanished = fleet.stored(&format!("task#{}", task_arn(1))).unwrap();
    assert!(vanished.gone, "a running task ECS forgot is marked gone");
    let stopped = fleet.stored(&format!("task#{}", task_arn(2))).unwrap();
    assert!(!stopped.gone, "a stopped task is kept, not marked gone");
    let calls = fleet.calls();
    assert_eq!(
        (calls.reads, calls.listings),
        (1, 1),
        "one read and one listing per cluster"
    );

    // Nothing left to repair.
    let again = recorder.reconcile().await;
    assert_eq!((again.written, again.marked_gone), (0, 0));

    // The task's STOPPED event arrives after all: newer, so it replaces the gone mark.
    recorder
        .process(&records(&[task_event(1, "STOPPED", 5)]))
        .await;
    let stopped = fleet.stored(&format!("task#{}", task_arn(1))).unwrap();
    assert!(!stopped.gone);
    assert_eq!(stored_task(&fleet, 1).last_status, "STOPPED");
}

#[tokio::test]
async fn the_handler_takes_batches_and_the_reconcile_payload_and_names_anything_else() {
    let fleet = Arc::new(MemoryFleet::default());
    let recorder = recorder(&fleet);
    let summary = recorder.handle(json!({"reconcile": {}})).await.unwrap();
    assert_eq!(summary["clusters"], 0);
    let batch = json!({"Records": [{"messageId": "m1",
                                    "body": task_event(1, "RUNNING", 3).to_string()}]});
    let answer = recorder.handle(batch).await.unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let err = recorder.handle(json!({"sweep": {}})).await.unwrap_err();
    assert!(err.contains("{\"reconcile\": {}}"), "{err}");
}
