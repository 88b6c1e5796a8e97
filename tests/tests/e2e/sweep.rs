//! The reconciliation sweep against the emulator: it finds what events missed, closes what
//! recovered silently, reminds, reports exact gauges, and costs the batching lower bound.

use agent_monitor::config::{GRACE_PERIOD_SECONDS, REMINDER_HOURS};
use integration_tests::{records, World};
use sentinel_agent::episode::Resolution;
use sentinel_core::ManualClock;
use std::collections::HashMap;
use std::sync::Arc;

fn gauges(report: &agent_monitor::SweepReport) -> Vec<(String, usize, usize)> {
    report
        .gauges
        .iter()
        .map(|g| (g.cluster.clone(), g.connected, g.disconnected))
        .collect()
}

#[tokio::test]
async fn the_sweep_alerts_an_agent_that_never_produced_an_event_and_reports_gauges(
) -> anyhow::Result<()> {
    let world = World::start().await?;
    let fleet = world.fleet();
    fleet.create_cluster("api", &[]).await?;
    fleet.create_cluster("idle", &[]).await?;
    let api = fleet.add_ec2_instances("api", 3).await?;
    fleet.add_ec2_instances("idle", 2).await?;
    fleet.stop_agent(&api[0])?; // no event: it was lost
    let monitor = world.monitor(world.config(&[(GRACE_PERIOD_SECONDS, "0")])?)?;

    let first = monitor.sweep().await;
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_eq!(
        gauges(&first),
        [("api".to_owned(), 2, 1), ("idle".to_owned(), 2, 0)]
    );
    assert!(
        first.published.is_empty(),
        "first sighting: suspected, not yet alerted"
    );
    let emf: Vec<serde_json::Value> = first
        .metrics
        .iter()
        .map(|m| serde_json::from_str(&m.to_emf()))
        .collect::<Result<_, _>>()?;
    assert!(emf.iter().any(|m| m["ClusterName"] == "idle"
        && m["DisconnectedAgents"] == 0.0
        && m["ConnectedAgents"] == 2.0));
    assert!(emf
        .iter()
        .any(|m| m["ClusterName"] == "api" && m["DisconnectedAgents"] == 1.0));

    let second = monitor.sweep().await;
    assert_eq!(second.published.len(), 1);
    let alert = &second.published[0].alert;
    assert_eq!(alert.cluster_name(), "api");
    assert_eq!(alert.instances.len(), 1);
    assert_eq!(alert.instances[0].node_id.as_str(), api[0].node_id);
    let third = monitor.sweep().await;
    assert!(third.published.is_empty() && third.resolved.is_empty());
    assert_eq!(world.stack.drain_inbox().await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn the_sweep_closes_episodes_whose_events_were_lost() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (members, events) = world.cluster_with_stopped_agents("api", &[], 3).await?;
    let monitor = world.monitor(world.config(&[])?)?;
    assert_eq!(monitor.process(&records(&events)).await.published.len(), 1);

    world.fleet().start_agent(&members[0])?; // reconnect event lost
    world.fleet().deregister(&members[1]).await?; // deregistration event lost
    let report = monitor.sweep().await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.resolved.len(), 1);
    let mut resolutions: Vec<(String, &'static str)> = report.resolved[0]
        .resolved
        .episodes
        .iter()
        .map(|e| {
            (
                e.node_id.to_string(),
                e.resolution.as_ref().map_or("", Resolution::code),
            )
        })
        .collect();
    resolutions.sort();
    let mut expected = vec![
        (members[0].node_id.clone(), "agent-reconnected"),
        (members[1].node_id.clone(), "instance-gone"),
    ];
    expected.sort();
    assert_eq!(resolutions, expected);
    let again = monitor.sweep().await;
    assert!(again.resolved.is_empty() && again.published.is_empty());
    assert_eq!(world.stack.drain_inbox().await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn reminders_repeat_for_episodes_still_open() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (_, events) = world.cluster_with_stopped_agents("api", &[], 1).await?;
    let start = chrono::Utc::now();
    let clock = Arc::new(ManualClock::at(start));
    let monitor = world
        .monitor(world.config(&[(REMINDER_HOURS, "4")])?)?
        .with_clock(clock.clone());
    monitor.process(&records(&events)).await;
    let at = |h: i64| {
        clock.set(start + chrono::TimeDelta::hours(h));
        monitor.sweep()
    };

    assert!(at(3).await.published.is_empty(), "not yet due");
    let report = at(4).await;
    assert_eq!(report.published.len(), 1);
    assert!(report.published[0].alert.reminder);
    assert!(
        at(5).await.published.is_empty(),
        "the next one is due 4 hours after the last notice"
    );
    assert_eq!(at(8).await.published.len(), 1);
    let subjects: Vec<String> = world
        .stack
        .drain_inbox()
        .await?
        .into_iter()
        .map(|a| a.subject)
        .collect();
    assert_eq!(
        subjects,
        [
            "[HIGH] ECS agent disconnected: 1 instance in api",
            "[HIGH] Reminder - ECS agent disconnected: 1 instance in api",
            "[HIGH] Reminder - ECS agent disconnected: 1 instance in api"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn a_quiet_sweep_costs_the_batching_lower_bound() -> anyhow::Result<()> {
    let world = World::start().await?;
    let sizes = [("web", 100usize), ("workers", 90), ("batch", 60)];
    let mut events = Vec::new();
    for (cluster, size) in sizes {
        world.fleet().create_cluster(cluster, &[]).await?;
        let members = world.fleet().add_ec2_instances(cluster, size).await?;
        // A few agents are down, with open episodes.
        for m in &members[..3] {
            world.fleet().stop_agent(m)?;
            events.push(world.disconnect_event(m).await?);
        }
    }
    let monitor = world.monitor(world.config(&[])?)?;
    assert_eq!(monitor.process(&records(&events)).await.published.len(), 3);

    world.emulator.reset_calls()?;
    let report = monitor.sweep().await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.published.is_empty() && report.resolved.is_empty());
    let per_cluster: u64 = sizes.iter().map(|(_, n)| n.div_ceil(100) as u64).sum();
    let expected: HashMap<String, u64> = HashMap::from([
        ("ecs.ListClusters".to_owned(), 1),
        ("ecs.ListContainerInstances".to_owned(), per_cluster),
        ("ecs.DescribeContainerInstances".to_owned(), per_cluster),
        // the 9 disconnected nodes, across clusters
        ("ec2.DescribeInstances".to_owned(), 1),
        // every stored episode, one page
        ("dynamodb.Scan".to_owned(), 1),
    ]);
    assert_eq!(
        world.calls()?,
        expected,
        "a sweep with nothing new writes and sends nothing"
    );
    Ok(())
}

/// One item in the table that is not a readable episode (hand-edited, or written by a future
/// version) is skipped and counted; every other episode is swept as usual.
#[tokio::test]
async fn a_malformed_table_item_does_not_stop_the_sweep() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (members, events) = world.cluster_with_stopped_agents("api", &[], 1).await?;
    let monitor = world.monitor(world.config(&[])?)?;
    monitor.process(&records(&events)).await;
    use aws_sdk_dynamodb::types::AttributeValue;
    aws_sdk_dynamodb::Client::new(&world.sdk)
        .put_item()
        .table_name(&world.stack.table_name)
        .item(
            "pk",
            AttributeValue::S(
                "arn:aws:ecs:us-east-1:123456789012:container-instance/api/garbled".into(),
            ),
        )
        .item("status", AttributeValue::S("sideways".into()))
        .send()
        .await?;

    world.fleet().start_agent(&members[0])?;
    let report = monitor.sweep().await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.unreadable_items, 1);
    assert_eq!(report.resolved.len(), 1, "the readable episode was swept");
    Ok(())
}
