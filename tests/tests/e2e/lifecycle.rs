//! Alert lifecycle against the emulator: one alert per episode however often its events
//! arrive, one RESOLVED notice when it ends, and nothing owed is ever lost.

use integration_tests::{records, Fault, FaultKind, World};
use sentinel_agent::episode::{Phase, Resolution};

#[tokio::test]
async fn one_episode_notifies_once_across_batches_and_redeliveries() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (members, events) = world.cluster_with_stopped_agents("api", &[], 1).await?;
    let monitor = world.monitor(world.config(&[])?)?;

    let first = monitor.process(&records(&events)).await;
    assert_eq!(first.published.len(), 1);
    // A later event for the same episode, then a redelivery of the first batch.
    let later = vec![world.disconnect_event(&members[0]).await?];
    for batch in [records(&later), records(&events)] {
        let report = monitor.process(&batch).await;
        assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
        assert!(report.published.is_empty(), "notified twice");
    }
    assert_eq!(world.stack.drain_inbox().await?.len(), 1);
    let episode = world.episode(&members[0]).await?.expect("stored episode");
    assert_eq!(episode.state.phase, Phase::Open);
    assert_eq!(episode.state.notices_sent, 1);
    assert!(episode.state.alert_sent);
    assert_eq!(episode.state.pending, None);
    Ok(())
}

#[tokio::test]
async fn a_reconnect_resolves_the_episode_once() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (members, events) = world.cluster_with_stopped_agents("api", &[], 1).await?;
    let monitor = world.monitor(world.config(&[])?)?;
    monitor.process(&records(&events)).await;

    world.fleet().start_agent(&members[0])?;
    let reconnect = vec![world.reconnect_event(&members[0]).await?];
    let report = monitor.process(&records(&reconnect)).await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert_eq!(report.resolved.len(), 1);
    let again = monitor.process(&records(&reconnect)).await;
    assert!(again.resolved.is_empty() && again.published.is_empty());

    let inbox = world.stack.drain_inbox().await?;
    let subjects: Vec<&str> = inbox.iter().map(|a| a.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "[HIGH] ECS agent disconnected: 1 instance in api",
            "[RESOLVED] ECS agent reconnected: 1 instance in api"
        ]
    );
    let resolved = &inbox[1].document;
    assert_eq!(resolved["type"], "agent-resolved");
    assert_eq!(resolved["instances"][0]["resolution"], "agent-reconnected");
    assert_eq!(
        resolved["instances"][0]["nodeId"],
        members[0].node_id.as_str()
    );
    assert!(resolved["instances"][0]["downtimeSeconds"]
        .as_i64()
        .is_some_and(|s| s >= 0));
    assert_eq!(inbox[1].attributes["severity"]["Value"], "info");
    let episode = world.episode(&members[0]).await?.expect("stored episode");
    assert_eq!(episode.state.phase, Phase::Resolved);
    assert_eq!(episode.resolution, Some(Resolution::AgentReconnected));
    assert_eq!(episode.state.notices_sent, 2);
    Ok(())
}

#[tokio::test]
async fn a_reconnect_without_an_episode_costs_one_read_and_no_notice() -> anyhow::Result<()> {
    let world = World::start().await?;
    let fleet = world.fleet();
    fleet.create_cluster("api", &[]).await?;
    let member = fleet.add_ec2_instances("api", 1).await?.remove(0);
    let reconnect = vec![world.reconnect_event(&member).await?];
    world.emulator.reset_calls()?;
    let report = world
        .monitor(world.config(&[])?)?
        .process(&records(&reconnect))
        .await;
    assert_eq!(report.ignored_reconnects, 1);
    let calls = world.calls()?;
    assert_eq!(
        calls,
        [("dynamodb.BatchGetItem".to_owned(), 1)]
            .into_iter()
            .collect()
    );
    Ok(())
}

#[tokio::test]
async fn terminated_and_deregistered_instances_close_their_episodes_once() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (members, events) = world.cluster_with_stopped_agents("batch", &[], 3).await?;
    let monitor = world.monitor(world.config(&[])?)?;
    assert_eq!(monitor.process(&records(&events)).await.published.len(), 1);

    let fleet = world.fleet();
    fleet.terminate(&members[0]).await?;
    fleet.deregister(&members[1]).await?;
    // What ECS sends: the terminated instance's agent is still reported down; the
    // deregistered one announces its new status (the recovery rule's match).
    let mut deregistered: serde_json::Value =
        serde_json::from_str(&world.disconnect_event(&members[1]).await?)?;
    deregistered["detail"]["status"] = "INACTIVE".into();
    let closing = vec![
        world.disconnect_event(&members[0]).await?,
        deregistered.to_string(),
    ];
    let report = monitor.process(&records(&closing)).await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert_eq!(
        report.resolved.len(),
        1,
        "one RESOLVED message for the cluster"
    );
    let episodes = &report.resolved[0].resolved.episodes;
    assert_eq!(episodes.len(), 2);
    assert!(episodes
        .iter()
        .all(|e| e.resolution.as_ref().map(Resolution::code) == Some("instance-gone")));

    let again = monitor.process(&records(&closing)).await;
    assert!(again.resolved.is_empty() && again.published.is_empty());
    // The third instance is still down and still open.
    let open = world.episode(&members[2]).await?.expect("stored episode");
    assert_eq!(open.state.phase, Phase::Open);
    assert_eq!(world.stack.drain_inbox().await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn an_alert_that_failed_to_publish_is_sent_once_on_redelivery() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (_, events) = world.cluster_with_stopped_agents("api", &[], 2).await?;
    let monitor = world.monitor(world.config(&[])?)?;
    // Three failures exhaust the SDK's attempts for the first publish.
    world
        .emulator
        .inject(&Fault::new("sns", "Publish", FaultKind::ServerError).times(3))?;
    let failed = monitor.process(&records(&events)).await;
    assert_eq!(failed.failed_record_ids.len(), 2, "both records come back");
    assert!(world.stack.drain_inbox().await?.is_empty());

    let redelivered = monitor.process(&records(&events)).await;
    assert!(
        redelivered.failed_record_ids.is_empty(),
        "{:?}",
        redelivered.errors
    );
    assert_eq!(redelivered.published.len(), 1);
    assert_eq!(redelivered.published[0].alert.instances.len(), 2);
    let once_more = monitor.process(&records(&events)).await;
    assert!(once_more.published.is_empty());
    assert_eq!(world.stack.drain_inbox().await?.len(), 1);
    Ok(())
}

/// The lost-RESOLVED hole: the RESOLVED claim is stored with the resolution; its publish
/// fails (all three SDK attempts), and the redelivered reconnect must still send it.
#[tokio::test]
async fn a_resolved_that_failed_to_publish_is_sent_once_on_redelivery() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (members, events) = world.cluster_with_stopped_agents("api", &[], 1).await?;
    let monitor = world.monitor(world.config(&[])?)?;
    assert_eq!(monitor.process(&records(&events)).await.published.len(), 1);

    world.fleet().start_agent(&members[0])?;
    let reconnect = records(&[world.reconnect_event(&members[0]).await?]);
    world
        .emulator
        .inject(&Fault::new("sns", "Publish", FaultKind::ServerError).times(3))?;
    let failed = monitor.process(&reconnect).await;
    assert_eq!(
        failed.failed_record_ids.len(),
        1,
        "the reconnect comes back"
    );
    assert!(failed.resolved.is_empty());
    let owing = world.episode(&members[0]).await?.expect("stored episode");
    assert_eq!(owing.state.phase, Phase::Resolved);
    assert!(owing.is_live(), "it still owes its RESOLVED");

    let redelivered = monitor.process(&reconnect).await;
    assert!(
        redelivered.failed_record_ids.is_empty(),
        "{:?}",
        redelivered.errors
    );
    assert_eq!(redelivered.resolved.len(), 1);
    assert_eq!(redelivered.ignored_reconnects, 0);
    let once_more = monitor.process(&reconnect).await;
    assert!(once_more.resolved.is_empty() && once_more.published.is_empty());

    let subjects: Vec<String> = world
        .stack
        .drain_inbox()
        .await?
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(
        subjects,
        [
            "[HIGH] ECS agent disconnected: 1 instance in api",
            "[RESOLVED] ECS agent reconnected: 1 instance in api"
        ]
    );
    let done = world.episode(&members[0]).await?.expect("stored episode");
    assert_eq!((done.state.pending, done.state.notices_sent), (None, 2));
    Ok(())
}

/// An instance that disconnects again after a resolved episode is alerted again by the event
/// path (the new episode is written over the ended one's version).
#[tokio::test]
async fn a_second_disconnection_opens_a_new_episode_from_its_event() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (members, events) = world.cluster_with_stopped_agents("api", &[], 1).await?;
    let monitor = world.monitor(world.config(&[])?)?;
    monitor.process(&records(&events)).await;
    world.fleet().start_agent(&members[0])?;
    let reconnect = records(&[world.reconnect_event(&members[0]).await?]);
    assert_eq!(monitor.process(&reconnect).await.resolved.len(), 1);

    world.fleet().stop_agent(&members[0])?;
    let again = monitor
        .process(&records(&[world.disconnect_event(&members[0]).await?]))
        .await;
    assert!(again.failed_record_ids.is_empty(), "{:?}", again.errors);
    assert_eq!(again.published.len(), 1);
    let episode = world.episode(&members[0]).await?.expect("stored episode");
    assert_eq!(episode.state.phase, Phase::Open);
    assert_eq!(world.stack.drain_inbox().await?.len(), 3);
    Ok(())
}

/// A claim that committed while its answer was lost: the SDK retries it, and the retry meets
/// the claim itself as a conflict. The store reads the item back, finds its own write id on
/// it, and counts the write as stored: the alert goes out in the same run, once.
#[tokio::test]
async fn a_committed_claim_whose_answer_was_lost_still_alerts_once() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (members, events) = world.cluster_with_stopped_agents("api", &[], 1).await?;
    let monitor = world.monitor(world.config(&[])?)?;
    world
        .emulator
        .inject(&Fault::new("dynamodb", "PutItem", FaultKind::LostAnswer).times(1))?;
    world.emulator.reset_calls()?;
    let report = monitor.process(&records(&events)).await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert_eq!(report.published.len(), 1);
    assert_eq!(world.stack.drain_inbox().await?.len(), 1);
    let calls = world.calls()?;
    // Claim (lost answer) + its retry (conflict with itself) + mark sent; one read back.
    assert_eq!(calls.get("dynamodb.PutItem"), Some(&3));
    assert_eq!(calls.get("dynamodb.GetItem"), Some(&1));
    let sent = world.episode(&members[0]).await?.expect("stored episode");
    assert!(sent.state.alert_sent && sent.state.pending.is_none());
    assert_eq!(sent.state.notices_sent, 1);

    // The same event again finds the episode open and notified: nothing is sent twice.
    let stale = monitor.process(&records(&events)).await;
    assert!(stale.published.is_empty());
    assert_eq!(world.stack.drain_inbox().await?.len(), 0);
    Ok(())
}

/// A publish that reached SNS while its answer was lost is retried by the SDK and delivered
/// twice: SNS standard topics have no deduplication, so "at least once" is the promise. The
/// episode records one notice, and the recovery sends one RESOLVED.
#[tokio::test]
async fn a_publish_whose_answer_was_lost_is_delivered_twice_and_recorded_once() -> anyhow::Result<()>
{
    let world = World::start().await?;
    let (members, events) = world.cluster_with_stopped_agents("api", &[], 1).await?;
    let monitor = world.monitor(world.config(&[])?)?;
    world
        .emulator
        .inject(&Fault::new("sns", "Publish", FaultKind::LostAnswer).times(1))?;
    let report = monitor.process(&records(&events)).await;
    assert!(report.failed_record_ids.is_empty(), "{:?}", report.errors);
    assert_eq!(world.calls()?.get("sns.Publish"), Some(&2));
    assert_eq!(world.stack.drain_inbox().await?.len(), 2, "delivered twice");
    let episode = world.episode(&members[0]).await?.expect("stored episode");
    assert_eq!(
        (episode.state.notices_sent, episode.state.alert_sent),
        (1, true)
    );

    world.fleet().start_agent(&members[0])?;
    let back = monitor
        .process(&records(&[world.reconnect_event(&members[0]).await?]))
        .await;
    assert_eq!(back.resolved.len(), 1);
    assert_eq!(world.stack.drain_inbox().await?.len(), 1);
    Ok(())
}
