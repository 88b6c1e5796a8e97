//! The fleet recorder against the emulator: the fleet table (conditional writes, the
//! by-cluster index, TTL), its dead-letter queue, and the reconcile against ECS's own
//! listings, with the exact calls each costs.

use fleet_recorder::FleetTable;
use integration_tests::{records, World};
use sentinel_fleet::{FleetRecord, Kind};
use sentinel_tasks::event::fixtures::stopped_task;
use serde_json::{json, Value};
use std::collections::HashMap;

const TABLE: &str = "sentinel-fleet";
const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";

async fn recorder(world: &World) -> anyhow::Result<fleet_recorder::FleetRecorder> {
    Ok(integration_tests::fleet_recorder(world, TABLE).await?.0)
}

fn table(world: &World) -> FleetTable {
    FleetTable::new(
        aws_sdk_dynamodb::Client::new(&world.sdk),
        TABLE,
        chrono::TimeDelta::days(14),
    )
}

fn task_arn(n: u32) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{n:032x}")
}

/// Task `n` at `status` with ECS's `version`.
pub(crate) fn task_event(n: u32, status: &str, version: u64) -> String {
    let mut detail = json!({"taskArn": task_arn(n), "lastStatus": status, "version": version});
    if status != "STOPPED" {
        for field in ["stopCode", "stoppedReason", "stoppedAt"] {
            detail[field] = Value::Null;
        }
    }
    stopped_task(detail).to_string()
}

/// The stored item of `key`, as DynamoDB holds it.
async fn item(
    world: &World,
    key: &str,
) -> anyhow::Result<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    aws_sdk_dynamodb::Client::new(&world.sdk)
        .get_item()
        .table_name(TABLE)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(key.to_owned()),
        )
        .send()
        .await?
        .item
        .ok_or_else(|| anyhow::anyhow!("{key} is not stored"))
}

#[tokio::test]
async fn events_keep_the_newest_state_at_one_write_per_key() -> anyhow::Result<()> {
    let world = World::start().await?;
    let recorder = recorder(&world).await?;
    // Task 1's life, out of order; task 2 running; an API call the fleet does not keep; a
    // body that is not an event.
    let bodies = vec![
        task_event(1, "STOPPED", 8),
        task_event(1, "PROVISIONING", 1),
        task_event(2, "RUNNING", 4),
        task_event(1, "RUNNING", 4),
        json!({"source": "aws.ecs", "detail-type": "AWS API Call via CloudTrail",
               "detail": {"eventName": "RunTask"}})
        .to_string(),
        "{\"not\": \"an event\"}".to_owned(),
    ];
    world.emulator.reset_calls()?;
    let report = recorder.process(&records(&bodies)).await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert_eq!(
        (
            report.keys,
            report.written,
            report.ignored,
            report.dead_lettered.len()
        ),
        (2, 2, 1, 1)
    );
    assert_eq!(
        world.calls()?,
        HashMap::from([
            ("dynamodb.PutItem".to_owned(), 2),
            ("sqs.SendMessageBatch".to_owned(), 1),
        ]),
        "one write per distinct key, one letter for the unusable body"
    );

    let stopped = item(&world, &format!("task#{}", task_arn(1))).await?;
    assert_eq!(stopped["order"].as_n().ok().map(String::as_str), Some("8"));
    assert_eq!(
        stopped["cluster"].as_s().ok().map(String::as_str),
        Some(CLUSTER)
    );
    // Kept 14 days after it stopped (2026-11-29T09:59:58Z), far past ECS's hour.
    let stopped_at = chrono::DateTime::parse_from_rfc3339("2026-11-29T09:59:58.123Z")?;
    assert_eq!(
        stopped["ttl"].as_n().ok().map(String::as_str),
        Some(
            (stopped_at + chrono::TimeDelta::days(14))
                .timestamp()
                .to_string()
                .as_str()
        )
    );
    let running = item(&world, &format!("task#{}", task_arn(2))).await?;
    assert!(
        !running.contains_key("ttl"),
        "a running task does not expire"
    );

    // A late RUNNING and a redelivered STOPPED of task 1: one conditional write, refused.
    world.emulator.reset_calls()?;
    let late = recorder
        .process(&records(&[
            task_event(1, "RUNNING", 4),
            task_event(1, "STOPPED", 8),
        ]))
        .await;
    assert_eq!((late.keys, late.written, late.stale), (1, 0, 1));
    assert!(late.failed_record_ids.is_empty());
    assert_eq!(
        world.calls()?,
        HashMap::from([("dynamodb.PutItem".to_owned(), 1)])
    );
    let (tasks, unreadable) = table(&world).cluster(CLUSTER, Some(Kind::Task)).await?;
    assert!(unreadable.is_empty());
    let statuses: Vec<(String, String)> = tasks
        .iter()
        .filter_map(|s| match &s.record {
            FleetRecord::Task(t) => Some((t.task_arn.clone(), t.last_status.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.contains(&(task_arn(1), "STOPPED".to_owned())));

    let letters = world.stack.drain_dead_letters().await?;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].reason_code, "not-an-eventbridge-event");
    Ok(())
}

#[tokio::test]
async fn the_reconcile_writes_what_events_missed_and_keeps_what_ecs_forgot() -> anyhow::Result<()> {
    use aws_sdk_ecs::types::{ContainerDefinition, LaunchType};
    let world = World::start().await?;
    let recorder = recorder(&world).await?;
    let fleet = world.fleet();
    fleet.create_cluster("prod", &[]).await?;
    fleet.add_ec2_instances("prod", 2).await?;
    let ecs = aws_sdk_ecs::Client::new(&world.sdk);
    ecs.register_task_definition()
        .family("web")
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("public.ecr.aws/docker/library/busybox:latest")
                .memory(128)
                .build(),
        )
        .send()
        .await?;
    let started = ecs
        .run_task()
        .cluster("prod")
        .task_definition("web")
        .launch_type(LaunchType::Ec2)
        .count(2)
        .send()
        .await?;
    let running: Vec<String> = started
        .tasks()
        .iter()
        .filter_map(|t| t.task_arn().map(str::to_owned))
        .collect();
    assert_eq!(running.len(), 2);
    // Stored from events: a task ECS no longer knows (its stop was never seen), and one
    // that stopped long ago (ECS forgets stopped tasks after about an hour).
    recorder
        .process(&records(&[
            task_event(90, "RUNNING", 4),
            task_event(91, "STOPPED", 8),
        ]))
        .await;

    world.emulator.reset_calls()?;
    let report = recorder.reconcile().await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    // Missed: 2 instances and 2 tasks. Gone: task 90. Kept: task 91.
    assert_eq!(
        (report.clusters, report.written, report.marked_gone),
        (1, 4, 1)
    );
    assert_eq!(
        world.calls()?,
        HashMap::from([
            ("ecs.ListClusters".to_owned(), 1),
            ("dynamodb.Query".to_owned(), 1),
            ("ecs.ListContainerInstances".to_owned(), 1),
            ("ecs.DescribeContainerInstances".to_owned(), 1),
            // Desired RUNNING, then desired STOPPED.
            ("ecs.ListTasks".to_owned(), 2),
            ("ecs.DescribeTasks".to_owned(), 1),
            ("dynamodb.PutItem".to_owned(), 4),
            ("dynamodb.UpdateItem".to_owned(), 1),
        ]),
        "the batching lower bound for one cluster of 2 instances and 2 tasks"
    );
    let gone = item(&world, &format!("task#{}", task_arn(90))).await?;
    assert_eq!(gone.get("gone").and_then(|v| v.as_bool().ok()), Some(&true));
    assert!(gone.contains_key("ttl"), "a gone record expires");
    let kept = item(&world, &format!("task#{}", task_arn(91))).await?;
    assert!(
        !kept.contains_key("gone"),
        "a stopped task is kept, not marked gone"
    );

    // A task stops and its event is lost: the next reconcile finds it STOPPED (newer).
    ecs.stop_task()
        .cluster("prod")
        .task(&running[0])
        .reason("scaled in by hand")
        .send()
        .await?;
    let report = recorder.reconcile().await;
    assert_eq!((report.written, report.marked_gone), (1, 0), "{report:?}");
    let (tasks, _) = table(&world).cluster(CLUSTER, Some(Kind::Task)).await?;
    let stopped = tasks.iter().find_map(|s| match &s.record {
        FleetRecord::Task(t) if t.task_arn == running[0] => Some(t.clone()),
        _ => None,
    });
    assert_eq!(
        stopped.map(|t| (t.last_status, t.stopped_reason)),
        Some(("STOPPED".to_owned(), Some("scaled in by hand".to_owned())))
    );

    // Nothing left to repair.
    let quiet = recorder.reconcile().await;
    assert_eq!((quiet.written, quiet.marked_gone), (0, 0));
    Ok(())
}

/// The `n`th task's ARN as it appears in a DynamoDB request body (JSON: verbatim).
fn in_body(n: u32) -> String {
    task_arn(n)
}

/// PutItem under the emulator's faults: a throttle and a lost answer are absorbed (the
/// retry of a committed write meets itself and is stale, never a failure); a key whose
/// write keeps failing hands back exactly its records, and their redelivery writes it.
#[tokio::test]
async fn puts_under_faults_hand_back_exactly_the_keys_that_failed() -> anyhow::Result<()> {
    use integration_tests::{Fault, FaultKind};
    let world = World::start().await?;
    let recorder = recorder(&world).await?;
    world.emulator.inject(
        &Fault::new("dynamodb", "PutItem", FaultKind::Throttle)
            .when_body_contains(&in_body(1))
            .times(1),
    )?;
    world.emulator.inject(
        &Fault::new("dynamodb", "PutItem", FaultKind::LostAnswer)
            .when_body_contains(&in_body(2))
            .times(1),
    )?;
    world.emulator.inject(
        &Fault::new("dynamodb", "PutItem", FaultKind::ServerError).when_body_contains(&in_body(3)),
    )?;
    let bodies = vec![
        task_event(1, "RUNNING", 4),
        task_event(2, "RUNNING", 4),
        task_event(3, "RUNNING", 4),
        task_event(3, "STOPPED", 8),
    ];
    world.emulator.reset_calls()?;
    let report = recorder.process(&records(&bodies)).await;
    let failed: Vec<&str> = report
        .failed_record_ids
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(
        failed,
        ["m2", "m3"],
        "task 3's records: {:?}",
        report.errors
    );
    assert_eq!(report.keys, 3);
    assert_eq!(report.written + report.stale, 2, "{report:?}");
    assert_eq!(
        world.calls()?,
        HashMap::from([(
            "dynamodb.PutItem".to_owned(),
            // Task 1: throttled, then written. Task 2: written with its answer lost, then
            // the retry refused by its own write. Task 3: three attempts, all failing.
            2 + 2 + 3
        )])
    );
    for n in [1, 2] {
        let stored = item(&world, &format!("task#{}", task_arn(n))).await?;
        assert_eq!(stored["order"].as_n().ok().map(String::as_str), Some("4"));
    }
    assert!(item(&world, &format!("task#{}", task_arn(3)))
        .await
        .is_err());

    world.emulator.clear_faults()?;
    let again = recorder.process(&records(&bodies[2..])).await;
    assert!(again.failed_record_ids.is_empty(), "{:?}", again.errors);
    let stored = item(&world, &format!("task#{}", task_arn(3))).await?;
    assert_eq!(stored["order"].as_n().ok().map(String::as_str), Some("8"));
    assert!(world.stack.drain_dead_letters().await?.is_empty());
    Ok(())
}

/// The reconcile under faults: ListClusters failing ends it with one error and no write;
/// one cluster failing costs only that cluster, the others are reconciled.
#[tokio::test]
async fn the_reconcile_survives_listclusters_failing_and_one_cluster_failing() -> anyhow::Result<()>
{
    use integration_tests::{Fault, FaultKind};
    let world = World::start().await?;
    let recorder = recorder(&world).await?;
    let fleet = world.fleet();
    for cluster in ["prod", "staging"] {
        fleet.create_cluster(cluster, &[]).await?;
        fleet.add_ec2_instances(cluster, 2).await?;
    }

    world
        .emulator
        .inject(&Fault::new("ecs", "ListClusters", FaultKind::ServerError))?;
    world.emulator.reset_calls()?;
    let report = recorder.reconcile().await;
    assert_eq!(
        (report.clusters, report.written, report.marked_gone),
        (0, 0, 0)
    );
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(
        world.calls()?,
        HashMap::from([("ecs.ListClusters".to_owned(), 3)]),
        "three attempts, then nothing else"
    );

    world.emulator.clear_faults()?;
    world.emulator.inject(
        &Fault::new("ecs", "ListContainerInstances", FaultKind::ServerError)
            .when_body_contains("staging"),
    )?;
    let report = recorder.reconcile().await;
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert!(
        report.errors[0].0.contains("staging"),
        "the error names its cluster: {:?}",
        report.errors
    );
    assert_eq!(report.written, 2, "prod's two instances: {report:?}");
    let prod = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
    let staging = "arn:aws:ecs:us-east-1:123456789012:cluster/staging";
    assert_eq!(
        table(&world)
            .cluster(prod, Some(Kind::Instance))
            .await?
            .0
            .len(),
        2
    );
    assert!(table(&world).cluster(staging, None).await?.0.is_empty());

    // The fault gone, the next reconcile repairs staging and nothing else.
    world.emulator.clear_faults()?;
    let report = recorder.reconcile().await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!((report.written, report.marked_gone), (2, 0));
    Ok(())
}

/// A gone-mark overtaken by a newer event: the reconcile decided "gone" from the state it
/// read, a newer state was recorded before its mark reached the table, and the conditional
/// mark is refused (stale), so the newer state stays.
#[tokio::test]
async fn a_stale_gone_mark_never_overwrites_a_newer_state() -> anyhow::Result<()> {
    use integration_tests::{Fault, FaultKind};
    let world = World::start().await?;
    let recorder = recorder(&world).await?;
    world.fleet().create_cluster("prod", &[]).await?;
    // Running as far as the table knows; ECS does not know it.
    let first = recorder
        .process(&records(&[task_event(90, "RUNNING", 4)]))
        .await;
    assert!(first.failed_record_ids.is_empty(), "{:?}", first.errors);
    // The mark is held 5 s at the emulator's door (counted on arrival, before the wait);
    // once it has arrived, the task's STOPPED is recorded.
    world.emulator.inject(
        &Fault::new("dynamodb", "UpdateItem", FaultKind::Latency)
            .latency_ms(5000)
            .times(1),
    )?;
    world.emulator.reset_calls()?;
    let newer = async {
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !world.calls()?.contains_key("dynamodb.UpdateItem") {
            anyhow::ensure!(
                std::time::Instant::now() < give_up,
                "waited 60 s for the reconcile's gone-mark (dynamodb.UpdateItem) to arrive"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Ok(recorder
            .process(&records(&[task_event(90, "STOPPED", 8)]))
            .await)
    };
    let (reconciled, newer) = tokio::join!(recorder.reconcile(), newer);
    let newer = newer?;
    assert!(
        newer.failed_record_ids.is_empty() && newer.written == 1,
        "{newer:?}"
    );
    assert!(reconciled.errors.is_empty(), "{:?}", reconciled.errors);
    assert_eq!(
        (reconciled.marked_gone, reconciled.stale),
        (0, 1),
        "{reconciled:?}"
    );
    let stored = item(&world, &format!("task#{}", task_arn(90))).await?;
    assert_eq!(stored["order"].as_n().ok().map(String::as_str), Some("8"));
    assert!(!stored.contains_key("gone"), "{stored:?}");
    Ok(())
}
