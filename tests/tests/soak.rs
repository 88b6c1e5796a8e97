//! Soak: a thousand episodes over four clusters through the local event source (four
//! concurrent pollers, like concurrent Lambda invocations), with random throttling, HTTP
//! 500s, latency and lost answers (a write that commits but reports failure) injected on
//! AWS operations, forced failures on the alert and the RESOLVED paths, until the queues
//! drain; then one sweep, as the schedule would run it, finishes what is still owed.
//!
//! Promises checked: every agent still down got exactly one alert; every recovered or gone
//! one exactly one alert and one resolution; instances gone before the grace period got
//! nothing; and no message was lost — each was acknowledged after processing, or is in the
//! dead-letter queue with a reason.
//!
//! Replay a run: `SOAK_SEED=<seed> SOAK_EPISODES=<n> cargo nextest run -p integration-tests
//! -E 'binary(soak)' --no-capture`. The seed fixes every fault decision the emulator draws;
//! which poller meets which fault still depends on timing (four pollers race), so a replay
//! repeats the faults, not the exact interleaving.

use agent_monitor::Monitor;
use integration_tests::{Fault, FaultKind, World};
use sentinel_core::ManualClock;
use sentinel_emulator::fleet::{state_change_event, Member};
use sentinel_emulator::stack::RuleQueue;
use sentinel_emulator::template;
use sentinel_emulator::QueuePoller;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLUSTERS: usize = 4;
/// Episodes (a multiple of CLUSTERS) and seed, unless SOAK_EPISODES / SOAK_SEED say.
const DEFAULT_EPISODES: usize = 1000;
const DEFAULT_SEED: u64 = 7;
const POLLERS: usize = 4;
const CORRUPTED: usize = 10;
const FAULT_PROBABILITY: f64 = 0.04;
const LOST_ANSWERS: f64 = 0.01;
/// Failed records come back quickly in the soak; the stack uses 6 x the function timeout.
const VISIBILITY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    /// Stays down.
    Stays,
    /// Alerted, then the agent comes back.
    Recovers,
    /// Alerted, then the instance is terminated.
    Gone,
    /// Terminated before the grace period ends: never alerted.
    Quiet,
}

fn fate(index: usize) -> Fate {
    match index % 4 {
        0 => Fate::Stays,
        1 => Fate::Recovers,
        2 => Fate::Gone,
        _ => Fate::Quiet,
    }
}

#[derive(Default)]
struct Tally {
    acknowledged: HashSet<String>,
    batches: usize,
    failed_records: usize,
    delete_errors: usize,
    receive_errors: usize,
}

/// Drains a queue with concurrent pollers until it has been quiet for longer than the
/// visibility timeout (so failed records had their chance to come back).
async fn drain(
    monitor: &Monitor,
    world: &World,
    queue: &RuleQueue,
    tally: &Mutex<Tally>,
    budget: Duration,
) {
    let deadline = Instant::now() + budget;
    let loops = (0..POLLERS).map(|_| async {
        let poller = QueuePoller::new(world.stack.sqs.clone(), &queue.url, &queue.arn, "us-east-1")
            .wait_seconds(1);
        let mut quiet = 0;
        while quiet < 4 && Instant::now() < deadline {
            match poller.poll_once(monitor).await {
                Ok(Some(poll)) => {
                    quiet = 0;
                    let mut t = tally
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    t.batches += 1;
                    t.failed_records += poll.report.failed_record_ids.len();
                    t.delete_errors += usize::from(poll.delete_error.is_some());
                    t.acknowledged.extend(poll.deleted);
                }
                Ok(None) => quiet += 1,
                Err(_) => {
                    tally
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .receive_errors += 1
                }
            }
        }
    });
    futures::future::join_all(loops).await;
}

/// AWS calls and faults fired while the pipeline ran (the test's own setup excluded).
#[derive(Default)]
struct Measured {
    calls: u64,
    fired: BTreeMap<String, u64>,
    /// Failures of the deterministic rule (the first one injected).
    forced: u64,
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(raw) => raw
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={raw:?} is not a number")),
    }
}

/// Runs `work` with random faults on every operation of every service, reproducibly seeded,
/// and adds up the calls made and the faults fired meanwhile.
async fn under_faults(
    world: &World,
    seed: u64,
    forced: Option<Fault>,
    measured: &mut Measured,
    work: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    world.emulator.reset_calls()?;
    world.emulator.seed_faults(seed)?;
    // Tried first, so it fires whenever it matches (until its count is used up).
    if let Some(fault) = &forced {
        world.emulator.inject(fault)?;
    }
    for fault in [
        Fault::new("*", "*", FaultKind::Throttle).probability(FAULT_PROBABILITY),
        Fault::new("*", "*", FaultKind::ServerError).probability(FAULT_PROBABILITY),
        Fault::new("*", "*", FaultKind::Latency)
            .probability(FAULT_PROBABILITY)
            .latency_ms(25),
        // Writes that commit while their answer is lost: the SDK's retry sees a conflict
        // with itself. Publishes are spared: a lost publish answer is a duplicate message
        // by nature (SNS has no deduplication), which the exact counts below would flag.
        // Both kinds of state write: lone ones, and the transactions of claims and records.
        Fault::new("dynamodb", "PutItem", FaultKind::LostAnswer).probability(LOST_ANSWERS),
        Fault::new("dynamodb", "TransactWriteItems", FaultKind::LostAnswer)
            .probability(LOST_ANSWERS),
    ] {
        world.emulator.inject(&fault)?;
    }
    work.await;
    measured.calls += world.emulator.calls()?.values().sum::<u64>();
    let fired = world.emulator.fired_faults()?;
    if forced.is_some() {
        measured.forced += fired.first().map_or(0, |(_, n)| *n);
    }
    for (kind, fired) in fired {
        *measured.fired.entry(kind).or_default() += fired;
    }
    world.emulator.clear_faults()?;
    Ok(())
}

#[tokio::test]
async fn a_thousand_episodes_under_random_faults_notify_exactly_as_promised() -> anyhow::Result<()>
{
    let started = Instant::now();
    let seed: u64 = setting("SOAK_SEED", DEFAULT_SEED)?;
    let episodes_wanted: usize = setting("SOAK_EPISODES", DEFAULT_EPISODES)?;
    let per_cluster = episodes_wanted / CLUSTERS;
    anyhow::ensure!(
        per_cluster >= 4 && episodes_wanted % CLUSTERS == 0,
        "SOAK_EPISODES={episodes_wanted}: use a multiple of {CLUSTERS} of at least {} (every fate in every cluster)",
        4 * CLUSTERS
    );
    println!("soak: seed {seed}, {episodes_wanted} episodes (SOAK_SEED, SOAK_EPISODES)");
    // A bound on each phase, so a stuck soak ends by itself: generous for a loaded 2-core
    // machine (a 1,000-episode phase drains in about a minute there).
    let drain_budget = Duration::from_secs(240 * (episodes_wanted as u64).div_ceil(1000));
    let world = World::start().await?;
    let facts = template::read(&sentinel_emulator::repo_root().join("template.yaml"))?;
    let delay = world
        .stack
        .add_rule_queue(
            "soak-delay",
            std::slice::from_ref(&facts.disconnect_pattern),
            Duration::ZERO,
            VISIBILITY,
            facts.max_receive_count,
        )
        .await?;
    let recovery = world
        .stack
        .add_rule_queue(
            "soak-recovery",
            &facts.recovery_patterns,
            Duration::ZERO,
            VISIBILITY,
            facts.max_receive_count,
        )
        .await?;

    // The fleet: every agent down, each instance with its fate.
    let fleet = world.fleet();
    let mut members: Vec<(Member, Fate)> = Vec::new();
    for c in 0..CLUSTERS {
        let cluster = format!("soak-{c}");
        fleet.create_cluster(&cluster, &[]).await?;
        for (i, m) in fleet
            .add_ec2_instances(&cluster, per_cluster)
            .await?
            .into_iter()
            .enumerate()
        {
            fleet.stop_agent(&m)?;
            members.push((m, fate(i)));
        }
    }
    let episodes = members.len();
    let now = chrono::Utc::now();
    let disconnects: Vec<String> = members
        .iter()
        .map(|(m, _)| state_change_event(m, false, vec![], now).to_string())
        .collect();
    let mut sent: HashSet<String> = world
        .stack
        .send_to_queue(&delay.url, &disconnects)
        .await?
        .into_iter()
        .collect();
    // A few corrupted messages among them: parking them can fail under faults too.
    let corrupted: Vec<String> = (0..CORRUPTED)
        .map(|i| format!("{{\"corrupted\": {i}"))
        .collect();
    let corrupted_ids: HashSet<String> = world
        .stack
        .send_to_queue(&delay.url, &corrupted)
        .await?
        .into_iter()
        .collect();
    sent.extend(corrupted_ids.iter().cloned());
    let quiet: Vec<String> = members
        .iter()
        .filter(|(_, f)| *f == Fate::Quiet)
        .map(|(m, _)| m.node_id.clone())
        .collect();
    fleet
        .ec2
        .terminate_instances()
        .set_instance_ids(Some(quiet))
        .send()
        .await?;

    let monitor = world.monitor(world.config(&[])?)?;
    let tally = Mutex::new(Tally::default());
    let mut measured = Measured::default();

    println!(
        "soak: fleet and events ready after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Phase 1: the disconnects, after the grace period.
    // Random faults alone may, by chance, never outlast the SDK's three attempts at a call
    // (one run in several ended with nothing handed back, proving nothing). So the first 9
    // looks at one cluster's container instances fail too: at most 4 such calls are in
    // flight (one per poller) and none can succeed meanwhile, so one of them meets 3
    // failures and its records come back, before any episode is touched. Not more: a record
    // handed back 5 times goes to the dead-letter queue.
    let forced = Fault::new("ecs", "DescribeContainerInstances", FaultKind::ServerError)
        .when_body_contains("cluster/soak-0")
        .times(9);
    under_faults(
        &world,
        seed,
        Some(forced),
        &mut measured,
        drain(&monitor, &world, &delay, &tally, drain_budget),
    )
    .await?;

    println!(
        "soak: disconnects drained after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Phase 2: recoveries and terminations, through the recovery queue.
    let mut closing = Vec::new();
    let gone: Vec<String> = members
        .iter()
        .filter(|(_, f)| *f == Fate::Gone)
        .map(|(m, _)| m.node_id.clone())
        .collect();
    fleet
        .ec2
        .terminate_instances()
        .set_instance_ids(Some(gone))
        .send()
        .await?;
    for (m, f) in &members {
        match f {
            Fate::Recovers => {
                fleet.start_agent(m)?;
                closing.push(state_change_event(m, true, vec![], chrono::Utc::now()).to_string());
            }
            Fate::Gone => {
                closing.push(state_change_event(m, false, vec![], chrono::Utc::now()).to_string())
            }
            _ => {}
        }
    }
    sent.extend(world.stack.send_to_queue(&recovery.url, &closing).await?);
    // The RESOLVED path meets forced failures too: the first 9 publishes of this phase fail
    // (at most 4 in flight), so at least one RESOLVED publish exhausts its SDK attempts and
    // its records come back to a resolved episode that still owes its notice.
    let forced_resolved = Fault::new("sns", "Publish", FaultKind::ServerError).times(9);
    let forced_before = measured.forced;
    under_faults(
        &world,
        seed + 4,
        Some(forced_resolved),
        &mut measured,
        drain(&monitor, &world, &recovery, &tally, drain_budget),
    )
    .await?;
    let forced_on_resolved = measured.forced - forced_before;

    // The schedule's sweep, after every lease has run out: whatever a record parked by the
    // redrive (or a claim left by a lost answer) still owes is sent now. Counted apart so
    // the note can say what the sweep had to finish.
    let clock = Arc::new(ManualClock::at(
        chrono::Utc::now() + chrono::TimeDelta::minutes(10),
    ));
    let sweeper = world.monitor(world.config(&[])?)?.with_clock(clock);
    let swept = sweeper.sweep().await;
    anyhow::ensure!(
        swept.errors.is_empty(),
        "the final sweep failed: {:?}",
        swept.errors
    );
    let finished_by_sweep: usize = swept
        .published
        .iter()
        .map(|p| p.alert.instances.len())
        .chain(swept.resolved.iter().map(|r| r.resolved.episodes.len()))
        .sum();

    // What came out.
    let inbox = world.stack.drain_inbox().await?;
    let parked = world.stack.drain_dead_letters().await?;
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for message in &inbox {
        let doc = &message.document;
        let resolved = doc["type"] == "agent-resolved";
        anyhow::ensure!(
            resolved || doc["notice"] == "alert",
            "unexpected message {doc}"
        );
        for instance in doc["instances"].as_array().into_iter().flatten() {
            let node = instance["nodeId"].as_str().unwrap_or_default().to_owned();
            let entry = counts.entry(node).or_default();
            if resolved {
                entry.1 += 1;
            } else {
                entry.0 += 1;
            }
        }
    }
    let tally = tally
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut wrong = Vec::new();
    for (m, f) in &members {
        let got = counts.get(&m.node_id).copied().unwrap_or((0, 0));
        let expected = match f {
            Fate::Stays => (1, 0),
            Fate::Recovers | Fate::Gone => (1, 1),
            Fate::Quiet => (0, 0),
        };
        if got != expected {
            wrong.push(format!(
                "{} {f:?}: (alerts, resolutions) {got:?}, expected {expected:?}",
                m.node_id
            ));
        }
    }
    let in_dead_letters: HashSet<&str> = parked
        .iter()
        .map(|p| {
            if p.source_message_id.is_empty() {
                p.message_id.as_str()
            } else {
                p.source_message_id.as_str()
            }
        })
        .collect();
    let lost: Vec<&String> = sent
        .iter()
        .filter(|id| !tally.acknowledged.contains(*id) && !in_dead_letters.contains(id.as_str()))
        .collect();

    println!(
        "soak: seed {seed}: {episodes} episodes in {CLUSTERS} clusters, {} notices finished by the final sweep, {} messages sent, {} acknowledged, {} in the dead-letter queue; \
         {} batches, {} records handed back for redelivery, {} failed deletes, {} failed receives; \
         {} AWS calls while draining, faults fired: {} throttles, {} HTTP 500s, {} delays, {} lost answers; {} notification messages; {:.1} s",
        finished_by_sweep,
        sent.len(),
        tally.acknowledged.len(),
        parked.len(),
        tally.batches,
        tally.failed_records,
        tally.delete_errors,
        tally.receive_errors,
        measured.calls,
        measured.fired.get("throttle").copied().unwrap_or(0),
        measured.fired.get("server_error").copied().unwrap_or(0),
        measured.fired.get("latency").copied().unwrap_or(0),
        measured.fired.get("lost_answer").copied().unwrap_or(0),
        inbox.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        wrong.is_empty(),
        "{} of {episodes} episodes notified wrongly:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(
        lost.is_empty(),
        "{} messages neither acknowledged nor dead-lettered",
        lost.len()
    );
    // Parked by the function: with its reason. Moved by the queue's redrive (failed
    // maxReceiveCount times): the reason is the redrive itself, and it keeps its id.
    let (with_reason, redriven): (Vec<_>, Vec<_>) =
        parked.iter().partition(|p| !p.reason.is_empty());
    for p in &redriven {
        assert!(
            sent.contains(&p.message_id),
            "an unknown message in the dead-letter queue: {}",
            p.body
        );
    }
    let parked_sources: HashSet<&str> = with_reason
        .iter()
        .map(|p| p.source_message_id.as_str())
        .collect();
    for id in &corrupted_ids {
        assert!(
            parked_sources.contains(id.as_str()),
            "corrupted message {id} was not parked with its reason"
        );
    }
    println!(
        "soak: dead letters: {} parked with a reason, {} moved by the redrive",
        with_reason.len(),
        redriven.len()
    );
    assert!(
        measured.forced - forced_on_resolved >= 9,
        "the deterministic DescribeContainerInstances failures fired {} times, not 9",
        measured.forced - forced_on_resolved
    );
    assert!(
        forced_on_resolved >= 9,
        "the deterministic Publish failures of the RESOLVED phase fired {forced_on_resolved} times, not 9"
    );
    assert!(
        tally.failed_records > 0,
        "the faults never made a record come back: the soak proved nothing"
    );
    Ok(())
}
