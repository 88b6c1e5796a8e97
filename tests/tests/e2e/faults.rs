//! AWS trouble fails only what depends on it; custom actions never hold back an alert.

use agent_monitor::pipeline::alerted_nodes;
use agent_monitor::NodeAction;
use futures::future::BoxFuture;
use integration_tests::{records, Fault, FaultKind, World};
use sentinel_agent::ClusterAlert;

#[tokio::test]
async fn a_cluster_throttled_past_retries_fails_only_its_own_records() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (alpha_members, mut events) = world.cluster_with_stopped_agents("alpha", &[], 2).await?;
    events.extend(world.cluster_with_stopped_agents("bravo", &[], 2).await?.1);
    world.emulator.inject(
        &Fault::new("ecs", "DescribeContainerInstances", FaultKind::Throttle)
            .when_body_contains("bravo"),
    )?;
    world.emulator.reset_calls()?;

    let batch = records(&events);
    let report = world.monitor(world.config(&[])?)?.process(&batch).await;

    // Records m2 and m3 are bravo's: SQS delivers exactly those again.
    let failed: Vec<&str> = report
        .failed_record_ids
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(failed, ["m2", "m3"]);
    let response = serde_json::to_value(report.response())?;
    assert_eq!(
        response,
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]})
    );
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].0, "bravo");
    assert!(
        report.errors[0].1.contains("ThrottlingException"),
        "{}",
        report.errors[0].1
    );
    let alerted: Vec<String> = alerted_nodes(&report).into_iter().collect();
    let mut alpha: Vec<String> = alpha_members.iter().map(|m| m.node_id.clone()).collect();
    alpha.sort();
    assert_eq!(alerted, alpha);
    assert_eq!(world.stack.drain_inbox().await?.len(), 1);

    // alpha: one call; bravo: the SDK's standard three attempts, all throttled.
    let calls = world.calls()?;
    assert_eq!(calls.get("ecs.DescribeContainerInstances"), Some(&4));
    assert_eq!(calls.get("sns.Publish"), Some(&1));
    Ok(())
}

#[tokio::test]
async fn a_failing_publish_fails_that_clusters_records_for_redelivery() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (_, events) = world.cluster_with_stopped_agents("alpha", &[], 1).await?;
    world
        .emulator
        .inject(&Fault::new("sns", "Publish", FaultKind::ServerError))?;
    let report = world
        .monitor(world.config(&[])?)?
        .process(&records(&events))
        .await;
    assert_eq!(report.failed_record_ids.iter().collect::<Vec<_>>(), ["m0"]);
    assert!(report.published.is_empty());
    Ok(())
}

#[tokio::test]
async fn transient_errors_within_the_sdk_retries_cost_nothing() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (_, events) = world.cluster_with_stopped_agents("alpha", &[], 1).await?;
    for (service, operation, kind) in [
        ("ecs", "DescribeContainerInstances", FaultKind::ServerError),
        ("ec2", "DescribeInstances", FaultKind::Throttle),
        ("sns", "Publish", FaultKind::Reset),
    ] {
        world
            .emulator
            .inject(&Fault::new(service, operation, kind).times(1))?;
    }
    let report = world
        .monitor(world.config(&[])?)?
        .process(&records(&events))
        .await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert_eq!(world.stack.drain_inbox().await?.len(), 1);
    Ok(())
}

struct FailingAction;

impl NodeAction for FailingAction {
    fn name(&self) -> &str {
        "always-fails"
    }

    fn run<'a>(&'a self, _alert: &'a ClusterAlert) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Err("ticket system unavailable".to_owned()) })
    }
}

#[tokio::test]
async fn a_failing_action_is_counted_and_never_blocks_the_notification() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (_, events) = world.cluster_with_stopped_agents("alpha", &[], 1).await?;
    let config = world.config(&[(agent_monitor::config::CUSTOM_ACTIONS, "noop,log-nodes")])?;
    let monitor = world.monitor(config)?.with_action(Box::new(FailingAction));
    let report = monitor.process(&records(&events)).await;
    assert!(report.failed_record_ids.is_empty());
    assert_eq!(report.action_failures, 1);
    assert_eq!(world.stack.drain_inbox().await?.len(), 1);
    let summary = report
        .metrics
        .last()
        .map(|m| m.to_emf())
        .unwrap_or_default();
    let summary: serde_json::Value = serde_json::from_str(&summary)?;
    assert_eq!(summary["ActionFailures"], 1.0);
    assert_eq!(summary["FailedRecords"], 0.0);
    Ok(())
}

#[tokio::test]
async fn a_cluster_whose_lookups_hang_times_out_and_fails_alone() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (_, mut events) = world.cluster_with_stopped_agents("alpha", &[], 1).await?;
    events.extend(world.cluster_with_stopped_agents("bravo", &[], 1).await?.1);
    // bravo's lookups hang far longer than any limit; alpha's answer in milliseconds. The
    // limit sits between the two with seconds to spare either way, so a loaded machine
    // cannot change the outcome.
    world.emulator.inject(
        &Fault::new("ecs", "DescribeContainerInstances", FaultKind::Latency)
            .when_body_contains("bravo")
            .latency_ms(60_000),
    )?;
    // Production limits are 10 s per attempt and 35 s per operation; the test's operation
    // limit of 3 s keeps it quick.
    let sdk = world
        .sdk
        .to_builder()
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(std::time::Duration::from_secs(3))
                .build(),
        )
        .build();
    let monitor = agent_monitor::Monitor::new(
        agent_monitor::Clients::from_sdk_config(&sdk),
        world.config(&[])?,
    )?;
    let report = monitor.process(&records(&events)).await;
    assert_eq!(report.failed_record_ids.iter().collect::<Vec<_>>(), ["m1"]);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].0, "bravo");
    assert_eq!(report.published.len(), 1);
    assert_eq!(report.published[0].alert.cluster_name(), "alpha");
    Ok(())
}
