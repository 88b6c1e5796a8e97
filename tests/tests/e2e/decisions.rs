//! One scenario per kind of outcome: what is alerted, what is skipped and why.

use agent_monitor::config::ALERT_ON_UNREACHABLE_ANYWHERE_NODES;
use agent_monitor::pipeline::alerted_nodes;
use integration_tests::{nodes_in, records, World};
use sentinel_agent::{Ec2State, InstanceStatus, SkipReason};
use sentinel_emulator::fleet::Member;

fn skip_codes(report: &agent_monitor::BatchReport) -> Vec<&'static str> {
    report.skipped.iter().map(|s| s.reason.code()).collect()
}

#[tokio::test]
async fn ec2_instance_with_its_agent_still_down_is_alerted_once_with_details() -> anyhow::Result<()>
{
    let world = World::start().await?;
    let fleet = world.fleet();
    fleet.create_cluster("payments-prod", &[]).await?;
    let members = fleet.add_ec2_instances("payments-prod", 2).await?;
    fleet.stop_agent(&members[0])?;
    let event = world.disconnect_event(&members[0]).await?;

    let monitor = world.monitor(world.config(&[])?)?;
    let report = monitor.process(&records(&[event])).await;

    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert_eq!(
        alerted_nodes(&report).into_iter().collect::<Vec<_>>(),
        [members[0].node_id.clone()]
    );
    let inbox = world.stack.drain_inbox().await?;
    assert_eq!(inbox.len(), 1);
    let alert = &inbox[0];
    assert_eq!(
        alert.subject,
        "[HIGH] ECS agent disconnected: 1 instance in payments-prod"
    );
    assert_eq!(nodes_in(&alert.document), [members[0].node_id.clone()]);
    let instance = &alert.document["instances"][0];
    assert_eq!(instance["nodeType"], "ec2");
    assert_eq!(instance["nodeState"], "running");
    assert_eq!(instance["instanceType"], "m7g.large");
    assert!(instance["availabilityZone"]
        .as_str()
        .is_some_and(|az| az.starts_with("us-east-1")));
    assert_eq!(
        instance["containerInstanceArn"],
        members[0].container_instance_arn.as_str()
    );
    assert_eq!(alert.attributes["cluster"]["Value"], "payments-prod");
    assert_eq!(alert.attributes["severity"]["Value"], "high");
    assert_eq!(alert.attributes["monitor"]["Value"], "agent");
    assert_eq!(alert.attributes["kind"]["Type"], "String.Array");
    assert!(world.stack.drain_dead_letters().await?.is_empty());

    let emf: Vec<serde_json::Value> = report
        .metrics
        .iter()
        .map(|m| serde_json::from_str(&m.to_emf()))
        .collect::<Result<_, _>>()?;
    assert!(emf
        .iter()
        .any(|m| m["ClusterName"] == "payments-prod" && m["ECSAgentFailuresCount"] == 1.0));
    Ok(())
}

/// A cluster with two ECS Anywhere nodes whose agents stopped: one online in SSM, one lost.
async fn edge_cluster() -> anyhow::Result<(World, Member, Member, Vec<String>)> {
    let world = World::start().await?;
    let fleet = world.fleet();
    fleet.create_cluster("edge", &[]).await?;
    // moto needs one EC2 registration before a cluster can be described.
    fleet.add_ec2_instances("edge", 1).await?;
    let online = fleet.add_anywhere_node("edge", "mi-0123456789abcdef0", "Online")?;
    let lost = fleet.add_anywhere_node("edge", "mi-0fedcba9876543210", "ConnectionLost")?;
    for m in [&online, &lost] {
        fleet.stop_agent(m)?;
    }
    let events = vec![
        world.disconnect_event(&online).await?,
        world.disconnect_event(&lost).await?,
    ];
    Ok((world, online, lost, events))
}

#[tokio::test]
async fn anywhere_nodes_online_and_lost_get_their_own_kinds_in_one_message() -> anyhow::Result<()> {
    let (world, online, lost, events) = edge_cluster().await?;

    let report = world
        .monitor(world.config(&[])?)?
        .process(&records(&events))
        .await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    let inbox = world.stack.drain_inbox().await?;
    assert_eq!(inbox.len(), 1, "one message per cluster");
    let doc = &inbox[0].document;
    assert_eq!(doc["severity"], "critical");
    assert_eq!(
        doc["kinds"],
        serde_json::json!(["agent-disconnected", "node-unreachable"])
    );
    let kind_of = |node: &str| {
        doc["instances"].as_array().and_then(|list| {
            list.iter().find(|i| i["nodeId"] == node).map(|i| {
                (
                    i["kind"].clone(),
                    i["nodeType"].clone(),
                    i["nodeState"].clone(),
                )
            })
        })
    };
    assert_eq!(
        kind_of(&online.node_id),
        Some((
            "agent-disconnected".into(),
            "anywhere".into(),
            "Online".into()
        ))
    );
    assert_eq!(
        kind_of(&lost.node_id),
        Some((
            "node-unreachable".into(),
            "anywhere".into(),
            "ConnectionLost".into()
        ))
    );
    assert_eq!(
        world.calls()?.get("ssm.DescribeInstanceInformation"),
        Some(&1)
    );
    assert_eq!(
        world.calls()?.get("ec2.DescribeInstances"),
        None,
        "no EC2 node to look up"
    );

    Ok(())
}

#[tokio::test]
async fn unreachable_node_alerts_can_be_switched_off() -> anyhow::Result<()> {
    let (world, online, _lost, events) = edge_cluster().await?;
    let config = world.config(&[(ALERT_ON_UNREACHABLE_ANYWHERE_NODES, "false")])?;
    let report = world.monitor(config)?.process(&records(&events)).await;
    assert_eq!(
        alerted_nodes(&report).into_iter().collect::<Vec<_>>(),
        [online.node_id]
    );
    assert_eq!(skip_codes(&report), ["unreachable-alerts-disabled"]);
    Ok(())
}

#[tokio::test]
async fn normal_fleet_life_never_alerts_and_each_skip_has_its_reason() -> anyhow::Result<()> {
    let world = World::start().await?;
    let fleet = world.fleet();
    fleet.create_cluster("batch", &[]).await?;
    let m = fleet.add_ec2_instances("batch", 5).await?;
    for member in &m {
        fleet.stop_agent(member)?;
    }
    let mut events = Vec::new();
    for member in &m {
        events.push(world.disconnect_event(member).await?);
    }
    fleet.start_agent(&m[0])?; // reconnected within the grace period
    fleet.terminate(&m[1]).await?; // scale-in
    fleet.deregister(&m[2]).await?; // deregistered
    fleet.drain(&m[3]).await?; // draining
                               // m[4] stays down: the only alert.

    world.emulator.reset_calls()?;
    let report = world
        .monitor(world.config(&[])?)?
        .process(&records(&events))
        .await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert_eq!(
        alerted_nodes(&report).into_iter().collect::<Vec<_>>(),
        [m[4].node_id.clone()]
    );
    let reason_of = |member: &sentinel_emulator::fleet::Member| {
        report
            .skipped
            .iter()
            .find(|s| s.node_id == member.node_id)
            .map(|s| s.reason.clone())
    };
    assert_eq!(reason_of(&m[0]), Some(SkipReason::AgentReconnected));
    assert_eq!(
        reason_of(&m[1]),
        Some(SkipReason::NodeNotRunning {
            state: Ec2State::Terminated
        })
    );
    assert_eq!(reason_of(&m[2]), Some(SkipReason::InstanceDeregistered));
    assert_eq!(
        reason_of(&m[3]),
        Some(SkipReason::InstanceNotActive {
            status: InstanceStatus::Draining
        })
    );
    let inbox = world.stack.drain_inbox().await?;
    assert_eq!(inbox.len(), 1);
    assert_eq!(nodes_in(&inbox[0].document), [m[4].node_id.clone()]);

    // Only nodes whose agents are still down are looked up: one EC2 call for two ids.
    let calls = world.calls()?;
    assert_eq!(calls.get("ecs.DescribeContainerInstances"), Some(&1));
    assert_eq!(calls.get("ec2.DescribeInstances"), Some(&1));
    assert_eq!(calls.get("sns.Publish"), Some(&1));
    Ok(())
}

#[tokio::test]
async fn tag_mode_monitors_only_matching_clusters_and_caches_tags() -> anyhow::Result<()> {
    let world = World::start().await?;
    let mut events = Vec::new();
    let mut members = Vec::new();
    for (cluster, tags) in [
        (
            "tagged",
            vec![("ecs-agent-monitoring", "enabled"), ("team", "payments")],
        ),
        ("other-value", vec![("ecs-agent-monitoring", "disabled")]),
        ("untagged", vec![]),
    ] {
        let (m, e) = world.cluster_with_stopped_agents(cluster, &tags, 1).await?;
        members.extend(m);
        events.extend(e);
    }
    let monitor = world.monitor(world.tag_mode_config("enabled")?)?;

    world.emulator.reset_calls()?;
    let report = monitor.process(&records(&events)).await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert_eq!(
        alerted_nodes(&report).into_iter().collect::<Vec<_>>(),
        [members[0].node_id.clone()]
    );
    let mut skipped: Vec<(String, SkipReason)> = report
        .skipped
        .iter()
        .map(|s| (s.cluster.clone(), s.reason.clone()))
        .collect();
    skipped.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        skipped,
        [
            (
                "other-value".into(),
                SkipReason::ClusterNotMonitored {
                    tag_value: Some("disabled".into())
                }
            ),
            (
                "untagged".into(),
                SkipReason::ClusterNotMonitored { tag_value: None }
            ),
        ]
    );
    let calls = world.calls()?;
    assert_eq!(
        calls.get("ecs.DescribeClusters"),
        Some(&1),
        "one call for three clusters"
    );
    assert_eq!(
        calls.get("ecs.DescribeContainerInstances"),
        Some(&1),
        "unmonitored clusters cost nothing more"
    );

    // A warm invocation reuses the cached tags (and, the episode being open, sends nothing).
    world.emulator.reset_calls()?;
    let again = monitor.process(&records(&events)).await;
    assert!(again.failed_record_ids.is_empty(), "{:?}", again.errors);
    assert_eq!(world.calls()?.get("ecs.DescribeClusters"), None);
    assert_eq!(world.stack.drain_inbox().await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn duplicate_events_collapse_into_one_entry() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (_, mut events) = world.cluster_with_stopped_agents("api", &[], 1).await?;
    let event = events.remove(0);
    world.emulator.reset_calls()?;
    let report = world
        .monitor(world.config(&[])?)?
        .process(&records(&[event.clone(), event.clone(), event]))
        .await;
    assert!(report.failed_record_ids.is_empty());
    let inbox = world.stack.drain_inbox().await?;
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].document["instanceCount"], 1);
    assert_eq!(
        world.calls()?.get("ecs.DescribeContainerInstances"),
        Some(&1)
    );
    Ok(())
}
