//! Storms and churn: 250 disconnected instances over 3 clusters in one batch cost exactly the
//! batching lower bound in AWS calls and produce one notification per cluster; through the
//! template's own event source batching, 500 disconnects become a few messages per cluster
//! and 1,000 task placements a read per batch.

use agent_monitor::BatchReport;
use integration_tests::{records, World};
use sentinel_emulator::fleet::{state_change_event, Member};
use sentinel_emulator::template::{self, Batching};
use sentinel_emulator::QueuePoller;
use std::collections::HashMap;
use std::time::Duration;

fn ceil_div(n: usize, d: usize) -> u64 {
    n.div_ceil(d) as u64
}

#[tokio::test]
async fn storm_of_250_costs_the_batching_lower_bound() -> anyhow::Result<()> {
    let world = World::start().await?;
    // 120 spans two DescribeContainerInstances pages; the others fit in one.
    let sizes = [("web", 120usize), ("workers", 80), ("batch", 50)];
    let mut events = Vec::new();
    let mut expected_nodes: HashMap<&str, Vec<String>> = HashMap::new();
    for (cluster, size) in sizes {
        let (members, cluster_events) = world
            .cluster_with_stopped_agents(cluster, &[("ecs-agent-monitoring", "enabled")], size)
            .await?;
        events.extend(cluster_events);
        expected_nodes.insert(cluster, members.into_iter().map(|m| m.node_id).collect());
    }
    assert_eq!(events.len(), 250);
    let monitor = world.monitor(world.tag_mode_config("enabled")?)?;

    world.emulator.reset_calls()?;
    let report = monitor.process(&records(&events)).await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);

    let calls = world.calls()?;
    let instances = 250;
    let clusters = sizes.len();
    let lower_bound: HashMap<String, u64> = HashMap::from([
        // tags of every cluster in the batch: ⌈clusters / 100⌉ (cold cache)
        ("ecs.DescribeClusters".to_owned(), ceil_div(clusters, 100)),
        // Σ over clusters of ⌈instances in cluster / 100⌉ = 2 + 1 + 1
        (
            "ecs.DescribeContainerInstances".to_owned(),
            sizes.iter().map(|(_, n)| ceil_div(*n, 100)).sum(),
        ),
        // ⌈EC2 nodes in the batch / 1000⌉, across clusters
        (
            "ec2.DescribeInstances".to_owned(),
            ceil_div(instances, 1000),
        ),
        // one message per cluster with alerts
        ("sns.Publish".to_owned(), clusters as u64),
        // the stored episodes of every candidate: ⌈instances / 100⌉
        ("dynamodb.BatchGetItem".to_owned(), ceil_div(instances, 100)),
        // the claims of every new alert, in transactions of 100: ⌈instances / 100⌉ = 3;
        // then every message's episodes recorded sent, all messages together (the notice
        // engine records once per batch): ⌈instances / 100⌉ = 3
        (
            "dynamodb.TransactWriteItems".to_owned(),
            2 * ceil_div(instances, 100),
        ),
    ]);
    println!("storm call counts: {calls:?}");
    assert_eq!(calls, lower_bound, "calls beyond the batching lower bound");

    let inbox = world.stack.drain_inbox().await?;
    assert_eq!(inbox.len(), 3, "exactly one notification per cluster");
    for alert in inbox {
        let cluster = alert.document["cluster"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut expected = expected_nodes.remove(cluster.as_str()).unwrap_or_default();
        expected.sort();
        assert_eq!(
            integration_tests::nodes_in(&alert.document),
            expected,
            "{cluster}"
        );
        assert_eq!(alert.document["instanceCount"], expected.len());
        assert!(alert.subject.len() <= 100);
    }
    assert!(
        expected_nodes.is_empty(),
        "clusters without a message: {expected_nodes:?}"
    );
    Ok(())
}

/// A storm through the delay queue with the template's own event source settings: 500
/// disconnects in 5 clusters become ⌈500 / BatchSize⌉ invocations, and each cluster gets at
/// most one message per invocation (with the earlier BatchSize of 10 it was at least 10
/// per cluster). Every instance is alerted exactly once.
#[tokio::test]
async fn a_storm_with_the_templates_batching_is_a_few_messages_per_cluster() -> anyhow::Result<()> {
    let world = World::start().await?;
    let clusters = ["a", "b", "c", "d", "e"];
    let mut events = Vec::new();
    for cluster in clusters {
        events.extend(
            world
                .cluster_with_stopped_agents(cluster, &[], 100)
                .await?
                .1,
        );
    }
    let (batching, reports) = through_the_templates_queue(&world, Queue::Delay, &events).await?;
    assert!(reports.iter().all(|r| r.failed_record_ids.is_empty()));
    let invocations = reports.len();
    assert_eq!(invocations, events.len().div_ceil(batching.batch_size));

    let inbox = world.stack.drain_inbox().await?;
    let mut per_cluster: HashMap<String, usize> = HashMap::new();
    let mut alerted = Vec::new();
    for message in &inbox {
        let cluster = message.document["cluster"]["name"]
            .as_str()
            .unwrap_or_default();
        *per_cluster.entry(cluster.to_owned()).or_default() += 1;
        alerted.extend(integration_tests::nodes_in(&message.document));
    }
    println!(
        "storm of 500, batches of {}: messages per cluster {per_cluster:?}",
        batching.batch_size
    );
    assert_eq!(alerted.len(), 500);
    alerted.sort();
    alerted.dedup();
    assert_eq!(alerted.len(), 500, "every instance alerted exactly once");
    assert!(per_cluster.values().all(|n| *n <= invocations));
    // One BatchGetItem per invocation: the batch's episodes in one read.
    assert_eq!(
        world.calls()?.get("dynamodb.BatchGetItem"),
        Some(&(invocations as u64))
    );
    Ok(())
}

/// ECS reports agentConnected=true on every task placement, so the recovery queue carries
/// the fleet's task churn. With the template's batching, 300 such events on healthy
/// instances cost ⌈300 / BatchSize⌉ invocations of one BatchGetItem each, and nothing else
/// (docs/agent-monitor.md, "Storms and task churn", works the figure out for 1,000 task
/// starts a minute).
#[tokio::test]
async fn task_churn_on_the_recovery_queue_costs_one_read_per_batch() -> anyhow::Result<()> {
    let world = World::start().await?;
    // 300 placements on 300 healthy instances of one cluster (the instances need not exist:
    // nothing is looked up for an instance without a live episode).
    let now = chrono::Utc::now();
    let events: Vec<String> = (0..300)
        .map(|i| {
            let member = Member {
                cluster: "busy".into(),
                container_instance_arn: format!(
                    "arn:aws:ecs:us-east-1:123456789012:container-instance/busy/{i:032x}"
                ),
                node_id: format!("i-{i:017x}"),
            };
            state_change_event(&member, true, vec![], now).to_string()
        })
        .collect();
    let (batching, reports) = through_the_templates_queue(&world, Queue::Recovery, &events).await?;
    let invocations = reports.len();
    let ignored: usize = reports.iter().map(|r| r.ignored_reconnects).sum();
    assert_eq!(ignored, events.len());
    assert_eq!(invocations, events.len().div_ceil(batching.batch_size));
    let mut calls = world.calls()?;
    // The poller's own SQS traffic stands in for Lambda's, which is not billed per call.
    calls.retain(|operation, _| !operation.starts_with("sqs."));
    assert_eq!(
        calls,
        HashMap::from([("dynamodb.BatchGetItem".to_owned(), invocations as u64)])
    );
    Ok(())
}

enum Queue {
    Delay,
    Recovery,
}

/// Sends `events` to a queue fed by the template's rule patterns and drains it through the
/// monitor with the template's own event source batching. Returns that batching and one
/// report per invocation; the call counter starts at the first invocation.
async fn through_the_templates_queue(
    world: &World,
    which: Queue,
    events: &[String],
) -> anyhow::Result<(Batching, Vec<BatchReport>)> {
    let facts = template::read(&sentinel_emulator::repo_root().join("template.yaml"))?;
    let (name, patterns, batching) = match which {
        Queue::Delay => (
            "templated-delay",
            std::slice::from_ref(&facts.disconnect_pattern),
            facts.delay_batching,
        ),
        Queue::Recovery => (
            "templated-recovery",
            facts.recovery_patterns.as_slice(),
            facts.recovery_batching,
        ),
    };
    let queue = world
        .stack
        .add_rule_queue(
            name,
            patterns,
            Duration::ZERO,
            Duration::from_secs(30),
            facts.max_receive_count,
        )
        .await?;
    world.stack.send_to_queue(&queue.url, events).await?;
    let monitor = world.monitor(world.config(&[])?)?;
    let poller = QueuePoller::new(world.stack.sqs.clone(), &queue.url, &queue.arn, "us-east-1")
        .batching(
            batching.batch_size,
            Duration::from_secs(batching.window_seconds),
        );
    world.emulator.reset_calls()?;
    // A storm drains in seconds; the deadline only keeps a broken run from waiting forever.
    let polls = poller.drain(&monitor, Duration::from_secs(300)).await?;
    let reports = polls.into_iter().map(|poll| poll.report).collect();
    Ok((batching, reports))
}
