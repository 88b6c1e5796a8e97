//! The episode store's batched conditional writes against the emulator's DynamoDB: one
//! transaction per 100 episodes, conflicts named and left out, the rest written, and a
//! committed transaction whose answer was lost recognised as its own.

use agent_monitor::EpisodeStore;
use integration_tests::{records, Fault, FaultKind, World};
use sentinel_agent::episode::{Episode, Phase};
use sentinel_aws::Written;

fn store(world: &World) -> EpisodeStore {
    EpisodeStore::new(
        aws_sdk_dynamodb::Client::new(&world.sdk),
        &world.stack.table_name,
    )
}

/// Three open, notified episodes as the monitor stored them.
async fn three_episodes(world: &World) -> anyhow::Result<Vec<Episode>> {
    let (members, events) = world.cluster_with_stopped_agents("api", &[], 3).await?;
    let monitor = world.monitor(world.config(&[])?)?;
    assert_eq!(monitor.process(&records(&events)).await.published.len(), 1);
    let mut episodes = Vec::new();
    for member in &members {
        episodes.push(world.episode(member).await?.expect("stored episode"));
    }
    Ok(episodes)
}

#[tokio::test]
async fn a_conflict_inside_a_transaction_costs_only_its_own_item() -> anyhow::Result<()> {
    let world = World::start().await?;
    let mut episodes = three_episodes(&world).await?;
    let now = chrono::Utc::now();
    // The middle one was read before another run changed it: its version is stale.
    episodes[1].version -= 1;
    for e in &mut episodes {
        e.state.notices_sent += 10;
    }
    world.emulator.reset_calls()?;
    let answers = store(&world).put_all(&episodes, now).await?;
    let versions: Vec<u64> = episodes.iter().map(|e| e.version + 1).collect();
    assert_eq!(
        answers,
        [
            Written::Stored {
                version: versions[0]
            },
            Written::Conflict,
            Written::Stored {
                version: versions[2]
            },
        ]
    );
    // Cancelled once (naming the stale item), checked for a lost answer, written without it.
    let calls = world.calls()?;
    assert_eq!(calls.get("dynamodb.TransactWriteItems"), Some(&2));
    assert_eq!(calls.get("dynamodb.BatchGetItem"), Some(&1));
    let stored = store(&world)
        .get_many(
            &episodes
                .iter()
                .map(|e| e.container_instance_arn.clone())
                .collect::<Vec<_>>(),
        )
        .await?
        .episodes;
    let notices = |i: usize| {
        stored[&episodes[i].container_instance_arn]
            .state
            .notices_sent
    };
    assert_eq!((notices(0), notices(1), notices(2)), (11, 1, 11));
    Ok(())
}

#[tokio::test]
async fn a_transaction_whose_answer_was_lost_counts_as_written() -> anyhow::Result<()> {
    let world = World::start().await?;
    let episodes = three_episodes(&world).await?;
    world
        .emulator
        .inject(&Fault::new("dynamodb", "TransactWriteItems", FaultKind::LostAnswer).times(1))?;
    world.emulator.reset_calls()?;
    let resolved: Vec<Episode> = episodes
        .iter()
        .map(|e| {
            let mut resolved = e.clone();
            resolved.state.phase = Phase::Resolved;
            resolved
        })
        .collect();
    let answers = store(&world).put_all(&resolved, chrono::Utc::now()).await?;
    assert!(
        answers.iter().all(|a| matches!(a, Written::Stored { .. })),
        "{answers:?}"
    );
    // The committed attempt, the SDK's retry (cancelled: every condition met its own write),
    // and one read of the write ids.
    let calls = world.calls()?;
    assert_eq!(calls.get("dynamodb.TransactWriteItems"), Some(&2));
    assert_eq!(calls.get("dynamodb.BatchGetItem"), Some(&1));
    Ok(())
}

/// moto restores a whole table when a transaction is cancelled; without the harness running
/// DynamoDB requests one at a time, writes made meanwhile by other requests were lost. Here
/// a cancelled transaction and a plain write race 100 times: every plain write must survive.
#[tokio::test]
async fn concurrent_writes_survive_a_cancelled_transaction() -> anyhow::Result<()> {
    let world = World::start().await?;
    let episodes = three_episodes(&world).await?;
    let store = store(&world);
    let now = chrono::Utc::now();
    let fresh = |name: String| Episode {
        container_instance_arn: format!(
            "arn:aws:ecs:us-east-1:123456789012:container-instance/api/{name}"
        ),
        version: 0,
        ..episodes[0].clone()
    };
    // Always cancelled once: the first episode's version is stale.
    let stale = Episode {
        version: 0,
        ..episodes[0].clone()
    };
    let mut written = Vec::new();
    for i in 0..100 {
        let racer = fresh(format!("racer-{i}"));
        let batch = [stale.clone(), fresh(format!("batch-{i}"))];
        let (cancelled, plain) = tokio::join!(store.put_all(&batch, now), store.put(&racer, now));
        assert_eq!(cancelled?[0], Written::Conflict);
        assert_eq!(plain?, Written::Stored { version: 1 });
        written.push(racer.container_instance_arn);
    }
    let found = store.get_many(&written).await?.episodes;
    let lost: Vec<&String> = written
        .iter()
        .filter(|arn| !found.contains_key(*arn))
        .collect();
    assert!(
        lost.is_empty(),
        "{} writes were undone: {lost:?}",
        lost.len()
    );
    Ok(())
}
