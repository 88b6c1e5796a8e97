//! The critical path: how many AWS round trips a batch waits for, one after another. Every
//! call is held 150 ms by the emulator (a latency fault on every call), so calls a function
//! sends together arrive before any is answered and the harness counts them as one round
//! trip (`Emulator::round_trips`). The figures are exact; nothing here measures time.
//!
//! The lower bounds asserted: a batch of disconnects costs one round of lookups (the stored
//! episodes, the container instances and the nodes the events name, together), then the
//! claim, the publish and the record; reconnects without an open episode cost the read alone;
//! a cold tag lookup adds one round before the container instances (an unmonitored cluster
//! is never described).

use anyhow::Context;
use integration_tests::{records, Fault, FaultKind, World};

/// Longer than the client takes to send the calls it sends together, on a loaded machine.
const HELD_MS: u64 = 150;

fn hold_every_answer(world: &World) -> anyhow::Result<()> {
    world
        .emulator
        .inject(&Fault::new("*", "*", FaultKind::Latency).latency_ms(HELD_MS))?;
    Ok(())
}

#[tokio::test]
async fn ten_disconnects_wait_for_one_round_of_lookups_then_claim_publish_record(
) -> anyhow::Result<()> {
    let world = World::start().await?;
    let (_, events) = world.cluster_with_stopped_agents("web", &[], 10).await?;
    let monitor = world.monitor(world.config(&[])?)?;
    hold_every_answer(&world)?;
    world.emulator.reset_calls()?;

    let report = monitor.process(&records(&events)).await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert_eq!(report.published.len(), 1);
    assert_eq!(
        world.emulator.round_trips()?,
        4,
        "episodes, container instances and nodes together; then claim, publish, record"
    );
    // Still the batching lower bound of calls: the lookups moved, none was added.
    let calls = world.calls()?;
    for (operation, n) in [
        ("dynamodb.BatchGetItem", 1),
        ("ecs.DescribeContainerInstances", 1),
        ("ec2.DescribeInstances", 1),
        ("dynamodb.TransactWriteItems", 2),
        ("sns.Publish", 1),
    ] {
        assert_eq!(calls.get(operation), Some(&n), "{operation}: {calls:?}");
    }
    assert_eq!(calls.values().sum::<u64>(), 6, "{calls:?}");
    Ok(())
}

#[tokio::test]
async fn a_cold_tag_lookup_adds_one_round_a_warm_one_none() -> anyhow::Result<()> {
    let world = World::start().await?;
    let tags = [("ecs-agent-monitoring", "enabled")];
    let (_, events) = world
        .cluster_with_stopped_agents("tagged", &tags, 2)
        .await?;
    let monitor = world.monitor(world.tag_mode_config("enabled")?)?;
    hold_every_answer(&world)?;

    // Cold: the tags first (with the episodes), then the container instances and nodes.
    world.emulator.reset_calls()?;
    let cold = monitor.process(&records(&events[..1])).await;
    assert!(cold.failed_record_ids.is_empty(), "{:?}", cold.errors);
    assert_eq!(cold.published.len(), 1);
    assert_eq!(world.emulator.round_trips()?, 5);
    assert_eq!(world.calls()?.get("ecs.DescribeClusters"), Some(&1));

    // Warm: the tags are cached, so the lookups are one round again.
    world.emulator.reset_calls()?;
    let warm = monitor.process(&records(&events[1..])).await;
    assert!(warm.failed_record_ids.is_empty(), "{:?}", warm.errors);
    assert_eq!(warm.published.len(), 1);
    assert_eq!(world.emulator.round_trips()?, 4);
    assert_eq!(world.calls()?.get("ecs.DescribeClusters"), None);
    Ok(())
}

#[tokio::test]
async fn reconnects_without_an_open_episode_wait_for_the_read_alone() -> anyhow::Result<()> {
    let world = World::start().await?;
    let fleet = world.fleet();
    fleet.create_cluster("web", &[]).await?;
    let members = fleet.add_ec2_instances("web", 5).await?;
    let mut events = Vec::new();
    for member in &members {
        events.push(world.reconnect_event(member).await?);
    }
    let monitor = world.monitor(world.config(&[])?)?;
    hold_every_answer(&world)?;
    world.emulator.reset_calls()?;

    let report = monitor.process(&records(&events)).await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert_eq!(report.ignored_reconnects, 5);
    assert_eq!(world.emulator.round_trips()?, 1);
    assert_eq!(
        world.calls()?.into_iter().collect::<Vec<_>>(),
        [("dynamodb.BatchGetItem".to_owned(), 1)]
    );
    Ok(())
}

#[tokio::test]
async fn disconnects_whose_agents_all_reconnected_cost_the_node_lookup_made_alongside(
) -> anyhow::Result<()> {
    // The price of the one round of lookups: nodes are asked about before ECS says whether
    // their agents are still down, so a batch whose agents all came back in the grace period
    // costs one DescribeInstances that answered nothing needed (before, the read and
    // DescribeContainerInstances alone; docs/costs.md says so).
    let world = World::start().await?;
    let (members, events) = world.cluster_with_stopped_agents("web", &[], 3).await?;
    for member in &members {
        world.fleet().start_agent(member)?;
    }
    let monitor = world.monitor(world.config(&[])?)?;
    world.emulator.reset_calls()?;

    let report = monitor.process(&records(&events)).await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert!(report.published.is_empty());
    assert_eq!(report.skipped.len(), 3);
    let mut calls: Vec<(String, u64)> = world.calls()?.into_iter().collect();
    calls.sort();
    assert_eq!(
        calls,
        [
            ("dynamodb.BatchGetItem".to_owned(), 1),
            ("ec2.DescribeInstances".to_owned(), 1),
            ("ecs.DescribeContainerInstances".to_owned(), 1),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn a_crash_loop_reads_its_log_while_the_claim_is_stored() -> anyhow::Result<()> {
    let world = World::start().await?;
    let monitor = crate::task_monitor::task_monitor(&world)?;
    integration_tests::container_log(&world, 9, &["starting", "killed"]).await?;
    let bodies: Vec<String> = (0..10).map(crate::task_monitor::oom_stop).collect();
    hold_every_answer(&world)?;
    world.emulator.reset_calls()?;

    let report = monitor.process(&records(&bodies)).await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert_eq!(report.published.len(), 1);
    assert!(
        report.published[0].text.contains("killed"),
        "{}",
        report.published[0].text
    );
    // The read; the claim beside the task definition then the log stream (two in a row);
    // the publish; the record.
    assert_eq!(world.emulator.round_trips()?, 5);
    Ok(())
}

#[tokio::test]
async fn the_fleet_recorder_writes_forty_keys_in_three_rounds_of_sixteen() -> anyhow::Result<()> {
    // The recorder keeps 16 conditional writes in flight and sends the next as each answers:
    // on even round trips, 40 keys are 16, 16 and 8 writes, three rounds. Moto takes each
    // call as it arrives and every answer leaves a second after its call did, so answers
    // are even however moto queues the writes (on uneven ones a slot that answers early
    // can chain more rounds: the bench's fleet burst at short holds).
    let world = World::start().await?;
    let (recorder, _) = integration_tests::fleet_recorder(&world, "round-trips-fleet").await?;
    let bodies: Vec<String> = (0..40)
        .map(|n| crate::fleet::task_event(n, "RUNNING", 2))
        .collect();
    let refused = world.emulator.inject(
        &Fault::new("*", "*", FaultKind::Latency)
            .latency_ms(100)
            .moto_after_ms(200),
    );
    assert!(
        format!(
            "{:#}",
            refused
                .err()
                .context("a start after the hold was accepted")?
        )
        .contains("moto_after_ms"),
        "moto can only start within the hold"
    );
    world.emulator.inject(
        &Fault::new("*", "*", FaultKind::Latency)
            .latency_ms(1_000)
            .moto_after_ms(0),
    )?;
    world.emulator.reset_calls()?;

    let report = recorder.process(&records(&bodies)).await;
    assert!(report.failed_record_ids.is_empty(), "{report:?}");
    let counters = world.emulator.counters()?;
    assert_eq!(counters.calls.get("dynamodb.PutItem"), Some(&40));
    assert_eq!(
        counters.round_trips, 3,
        "{} answers were late",
        counters.late_answers
    );
    Ok(())
}
