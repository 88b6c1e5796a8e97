//! A storm: 250 disconnected instances over 3 clusters in one batch costs exactly the
//! batching lower bound in AWS calls, and produces exactly one notification per cluster.

use integration_tests::{records, World};
use std::collections::HashMap;

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
        // per new episode, one conditional write claiming its alert and one recording it sent
        ("dynamodb.PutItem".to_owned(), 2 * instances as u64),
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
