//! The deployed shape, locally: the template's EventBridge rule feeds a delay queue, and the
//! event-source loop drains it through the handler, deleting what it acknowledges and
//! leaving failures for redelivery.

use integration_tests::{Fault, FaultKind, World};
use sentinel_emulator::template;
use sentinel_emulator::QueuePoller;
use std::time::{Duration, Instant};

#[tokio::test]
async fn rule_delay_queue_and_poller_alert_once_after_a_redelivery() -> anyhow::Result<()> {
    let world = World::start().await?;
    let facts = template::read(&sentinel_emulator::repo_root().join("template.yaml"))?;
    let delay = world
        .stack
        .add_rule_queue(
            "sentinel-delay",
            std::slice::from_ref(&facts.disconnect_pattern),
            Duration::from_secs(1),
            Duration::from_secs(1),
            facts.max_receive_count,
        )
        .await?;
    let recovery = world
        .stack
        .add_rule_queue(
            "sentinel-recovery",
            &facts.recovery_patterns,
            Duration::ZERO,
            Duration::from_secs(1),
            facts.max_receive_count,
        )
        .await?;
    let fleet = world.fleet();
    fleet.create_cluster("alpha", &[]).await?;
    let members = fleet.add_ec2_instances("alpha", 2).await?;
    fleet.stop_agent(&members[0])?;
    let now = chrono::Utc::now();
    let down = fleet.state_change_event(&members[0], false, now).await?;
    // A connected instance's event goes to the recovery queue, never the delay queue.
    let up = fleet.state_change_event(&members[1], true, now).await?;
    world.stack.put_events(&[down, up]).await?;

    // The first look-up is throttled past the SDK's retries: the record must come back.
    world
        .emulator
        .inject(&Fault::new("ecs", "DescribeContainerInstances", FaultKind::Throttle).times(3))?;
    let monitor = world.monitor(world.config(&[])?)?;
    let poller = QueuePoller::new(world.stack.sqs.clone(), &delay.url, &delay.arn, "us-east-1")
        .wait_seconds(1);

    let mut outcomes = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30)
        && outcomes.iter().all(|(_, _, published)| *published == 0)
    {
        if let Some(poll) = poller.poll_once(&monitor).await? {
            outcomes.push((
                poll.report.received,
                poll.report.failed_record_ids.len(),
                poll.report.published.len(),
            ));
        }
    }
    assert_eq!(
        outcomes,
        [(1, 1, 0), (1, 0, 1)],
        "first delivery fails and stays queued, the redelivery alerts"
    );
    assert_eq!(world.stack.drain_inbox().await?.len(), 1);
    // Acknowledged: deleted, so nothing is left on the queue, visible or in flight.
    assert_eq!(world.stack.messages_left(&delay.url).await?, 0);

    // The recovery queue: the other instance's event costs nothing; the agent coming back
    // resolves the episode at once (no delay).
    fleet.start_agent(&members[0])?;
    let back = fleet
        .state_change_event(&members[0], true, chrono::Utc::now())
        .await?;
    world.stack.put_events(&[back]).await?;
    let recovery_poller = QueuePoller::new(
        world.stack.sqs.clone(),
        &recovery.url,
        &recovery.arn,
        "us-east-1",
    )
    .wait_seconds(1);
    let (mut ignored, mut resolved) = (0, 0);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) && ignored + resolved < 2 {
        if let Some(poll) = recovery_poller.poll_once(&monitor).await? {
            ignored += poll.report.ignored_reconnects;
            resolved += poll.report.resolved.len();
        }
    }
    assert_eq!((ignored, resolved), (1, 1));
    let inbox = world.stack.drain_inbox().await?;
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].document["type"], "agent-resolved");
    Ok(())
}
