//! Remediation against the emulator: each action reaches the right API with the right
//! arguments, once per episode; dry runs touch nothing; the hourly limit holds across
//! invocations; and every outcome is recorded on the episode and stated in the alert.

use agent_monitor::config::{
    REMEDIATION_ACTION, REMEDIATION_DRY_RUN, REMEDIATION_MAX_PERCENT_PER_HOUR,
};
use integration_tests::{records, World};
use sentinel_emulator::fleet::Member;

/// The outcome each alerted node's remediation reported in the alert document.
fn outcomes(report: &agent_monitor::BatchReport) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = report
        .published
        .iter()
        .flat_map(|p| p.alert.instances.iter())
        .map(|i| {
            (
                i.node_id.to_string(),
                i.remediations.first().map(|r| r.text()).unwrap_or_default(),
            )
        })
        .collect();
    found.sort();
    found
}

/// A cluster with one EC2 instance and one ECS Anywhere node (online in SSM), both agents
/// down, and the events ECS sent.
/// A counter of the batch's record without dimensions, as its EMF line carries it.
fn batch_counter(report: &agent_monitor::BatchReport, name: &str) -> Option<f64> {
    report
        .metrics
        .iter()
        .filter_map(|m| serde_json::from_str::<serde_json::Value>(&m.to_emf()).ok())
        .find(|line| line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == serde_json::json!([[]]))
        .and_then(|line| line[name].as_f64())
}

async fn ec2_and_anywhere_down() -> anyhow::Result<(World, Vec<Member>, Member, Vec<String>)> {
    let world = World::start().await?;
    let (ec2, mut events) = world.cluster_with_stopped_agents("edge", &[], 1).await?;
    let anywhere = world
        .fleet()
        .add_anywhere_node("edge", "mi-0123456789abcdef0", "Online")?;
    world.fleet().stop_agent(&anywhere)?;
    events.push(world.disconnect_event(&anywhere).await?);
    Ok((world, ec2, anywhere, events))
}

#[tokio::test]
async fn restart_agent_runs_the_command_on_ec2_and_anywhere_nodes_once() -> anyhow::Result<()> {
    let (world, ec2, anywhere, events) = ec2_and_anywhere_down().await?;
    let config = world.config(&[
        (REMEDIATION_ACTION, "restart-agent"),
        (REMEDIATION_MAX_PERCENT_PER_HOUR, "100"),
    ])?;
    let monitor = world.monitor(config)?;

    let report = monitor.process(&records(&events)).await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    for (node, outcome) in outcomes(&report) {
        assert!(
            outcome.starts_with("succeeded: SSM command"),
            "{node}: {outcome}"
        );
    }
    let commands = world.emulator.requests("ssm.SendCommand")?;
    assert_eq!(commands.len(), 2);
    for node in [&ec2[0].node_id, &anywhere.node_id] {
        let sent: serde_json::Value = serde_json::from_str(
            commands
                .iter()
                .find(|c| c.contains(node.as_str()))
                .map(String::as_str)
                .unwrap_or("{}"),
        )?;
        assert_eq!(sent["DocumentName"], "AWS-RunShellScript", "{node}");
        assert_eq!(sent["InstanceIds"], serde_json::json!([node]));
        assert_eq!(
            sent["Parameters"]["commands"],
            serde_json::json!(["systemctl restart ecs"])
        );
    }
    let episode = world.episode(&anywhere).await?.expect("stored episode");
    assert_eq!(episode.remediations.len(), 1);
    assert_eq!(episode.remediations[0].action, "restart-agent");
    let inbox = world.stack.drain_inbox().await?;
    assert!(inbox[0].document["instances"][0]["actions"][0]["outcome"]
        .as_str()
        .is_some_and(|o| o.starts_with("succeeded")));

    // Once per episode: a redelivery does not act again.
    monitor.process(&records(&events)).await;
    assert_eq!(world.emulator.requests("ssm.SendCommand")?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn drain_sets_the_container_instance_draining_and_keeps_the_episode_open(
) -> anyhow::Result<()> {
    let world = World::start().await?;
    let (members, events) = world.cluster_with_stopped_agents("api", &[], 1).await?;
    let monitor = world.monitor(world.config(&[(REMEDIATION_ACTION, "drain")])?)?;
    let report = monitor.process(&records(&events)).await;
    assert_eq!(
        outcomes(&report),
        [(
            members[0].node_id.clone(),
            "succeeded: container instance set to DRAINING".to_owned()
        )]
    );
    let sweep = monitor.sweep().await;
    assert!(
        sweep.resolved.is_empty(),
        "draining with the agent down is not a recovery"
    );
    let described = world
        .fleet()
        .ecs
        .describe_container_instances()
        .cluster("api")
        .container_instances(&members[0].container_instance_arn)
        .send()
        .await?;
    assert_eq!(
        described.container_instances()[0].status(),
        Some("DRAINING")
    );
    Ok(())
}

#[tokio::test]
async fn reboot_applies_to_ec2_only() -> anyhow::Result<()> {
    let (world, ec2, anywhere, events) = ec2_and_anywhere_down().await?;
    let config = world.config(&[
        (REMEDIATION_ACTION, "reboot"),
        (REMEDIATION_MAX_PERCENT_PER_HOUR, "100"),
    ])?;
    let report = world.monitor(config)?.process(&records(&events)).await;
    let mut expected = vec![
        (
            ec2[0].node_id.clone(),
            "succeeded: reboot requested".to_owned(),
        ),
        (
            anywhere.node_id.clone(),
            "not applied: reboot applies to EC2 instances only".to_owned(),
        ),
    ];
    expected.sort();
    assert_eq!(outcomes(&report), expected);
    // The batch's metric record counts the attempts by outcome.
    for (metric, count) in [
        ("RemediationsSucceeded", 1.0),
        ("RemediationsNotApplied", 1.0),
        ("RemediationsFailed", 0.0),
        ("RemediationsDryRun", 0.0),
    ] {
        assert_eq!(batch_counter(&report, metric), Some(count), "{metric}");
    }
    let reboots = world.emulator.requests("ec2.RebootInstances")?;
    assert_eq!(reboots.len(), 1);
    assert!(
        reboots[0].contains(&format!("InstanceId.1={}", ec2[0].node_id)),
        "{}",
        reboots[0]
    );
    Ok(())
}

#[tokio::test]
async fn replace_terminates_only_through_an_auto_scaling_group() -> anyhow::Result<()> {
    let world = World::start().await?;
    let fleet = world.fleet();
    fleet.create_cluster("workers", &[]).await?;
    let in_group = fleet
        .add_auto_scaling_group("workers", "workers-asg", 1)
        .await?
        .remove(0);
    let standalone = fleet.add_ec2_instances("workers", 1).await?.remove(0);
    let mut events = Vec::new();
    for m in [&in_group, &standalone] {
        fleet.stop_agent(m)?;
        events.push(world.disconnect_event(m).await?);
    }
    let config = world.config(&[
        (REMEDIATION_ACTION, "replace"),
        (REMEDIATION_MAX_PERCENT_PER_HOUR, "100"),
    ])?;
    let report = world.monitor(config)?.process(&records(&events)).await;
    let mut expected = vec![
        (in_group.node_id.clone(), "succeeded: terminated in Auto Scaling group workers-asg, which launches a replacement".to_owned()),
        (standalone.node_id.clone(), "not applied: the instance is in no Auto Scaling group, and is never terminated outside one".to_owned()),
    ];
    expected.sort();
    assert_eq!(outcomes(&report), expected);
    let terminations = world
        .emulator
        .requests("autoscaling.TerminateInstanceInAutoScalingGroup")?;
    assert_eq!(terminations.len(), 1);
    assert!(terminations[0].contains(&format!("InstanceId={}", in_group.node_id)));
    assert!(terminations[0].contains("ShouldDecrementDesiredCapacity=false"));
    assert!(world
        .emulator
        .requests("ec2.TerminateInstances")?
        .is_empty());
    Ok(())
}

#[tokio::test]
async fn a_dry_run_reports_and_touches_nothing() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (members, events) = world.cluster_with_stopped_agents("api", &[], 1).await?;
    let config = world.config(&[
        (REMEDIATION_ACTION, "reboot"),
        (REMEDIATION_DRY_RUN, "true"),
    ])?;
    world.emulator.reset_calls()?;
    let report = world.monitor(config)?.process(&records(&events)).await;
    assert_eq!(
        outcomes(&report),
        [(
            members[0].node_id.clone(),
            "dry run: would reboot the EC2 instance".to_owned()
        )]
    );
    let calls = world.calls()?;
    for touched in [
        "ec2.RebootInstances",
        "ssm.SendCommand",
        "ecs.UpdateContainerInstancesState",
        "autoscaling.TerminateInstanceInAutoScalingGroup",
    ] {
        assert_eq!(calls.get(touched), None, "{touched}");
    }
    assert_eq!(batch_counter(&report, "RemediationsDryRun"), Some(1.0));

    // With remediation off the counters are not published at all (they would cost a
    // custom metric each for nothing).
    let (_, events) = world.cluster_with_stopped_agents("web", &[], 1).await?;
    let report = world
        .monitor(world.config(&[])?)?
        .process(&records(&events))
        .await;
    assert_eq!(report.published.len(), 1);
    assert_eq!(batch_counter(&report, "AlertsOpened"), Some(1.0));
    assert_eq!(batch_counter(&report, "RemediationsDryRun"), None);
    Ok(())
}

#[tokio::test]
async fn the_hourly_limit_holds_across_invocations() -> anyhow::Result<()> {
    let world = World::start().await?;
    // 10 instances at 10 % an hour: one action per hour.
    let fleet = world.fleet();
    fleet.create_cluster("api", &[]).await?;
    let members = fleet.add_ec2_instances("api", 10).await?;
    let config = || world.config(&[(REMEDIATION_ACTION, "reboot")]);
    let down = |m: &Member| {
        let m = m.clone();
        let world = &world;
        async move {
            world.fleet().stop_agent(&m)?;
            anyhow::Ok(vec![world.disconnect_event(&m).await?])
        }
    };

    // Two separate invocations (two Lambda containers), one disconnect each.
    let first = world
        .monitor(config()?)?
        .process(&records(&down(&members[0]).await?))
        .await;
    let second = world
        .monitor(config()?)?
        .process(&records(&down(&members[1]).await?))
        .await;
    assert_eq!(
        outcomes(&first),
        [(
            members[0].node_id.clone(),
            "succeeded: reboot requested".to_owned()
        )]
    );
    assert_eq!(
        outcomes(&second),
        [(members[1].node_id.clone(), "not applied: the limit of 1 remediation(s) per hour for this cluster is reached (alert only)".to_owned())]
    );
    assert_eq!(world.emulator.requests("ec2.RebootInstances")?.len(), 1);
    let text = second.published[0].alert.text();
    assert!(
        text.contains("per hour for this cluster is reached (alert only)"),
        "{text}"
    );
    Ok(())
}
