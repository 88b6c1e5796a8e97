//! Soaks, one per function (each test below says what it promises and prints its figures).
//!
//! The agent monitor: a thousand episodes over four clusters through the local event source (four
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
/// The agent soak's queues, and its notice lease, compressed together. In the stack a record
/// comes back for maxReceiveCount x the visibility timeout (5 x 6 function timeouts) before
/// the redrive parks it, far longer than the 60 s lease: a claim left by a run whose publish
/// and release both failed expires while its records still come back, and the redelivery
/// sends the notice. A 60 s lease would outlive the soak's records (parked after about
/// 15 s), as it never does in the stack; 10 s keeps the stack's order, and is still far
/// longer than any batch takes (the longest is printed), so no run takes over a claim
/// another is still working on.
const AGENT_VISIBILITY: Duration = Duration::from_secs(3);
const NOTICE_LEASE: Duration = Duration::from_secs(10);

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
    /// The longest one batch took, receive to delete: a batch slower than the notice lease
    /// (`NOTICE_LEASE`) lets another run take its claims over, and sends twice.
    longest_batch: Duration,
}

/// Drains a queue with concurrent pollers until it has been quiet for longer than the
/// visibility timeout (so failed records had their chance to come back); `Err` when the
/// budget ran out first, so a phase cut short fails as that, not as wrong notices.
async fn drain<H: sentinel_lambda::BatchHandler>(
    monitor: &H,
    world: &World,
    queue: &RuleQueue,
    tally: &Mutex<Tally>,
    budget: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + budget;
    let loops = (0..POLLERS).map(|_| async {
        let poller = QueuePoller::new(world.stack.sqs.clone(), &queue.url, &queue.arn, "us-east-1")
            .wait_seconds(1);
        let mut quiet = 0;
        while quiet < 4 && Instant::now() < deadline {
            let began = Instant::now();
            match poller.poll_once(monitor).await {
                Ok(Some(poll)) => {
                    quiet = 0;
                    let mut t = tally
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    t.batches += 1;
                    t.longest_batch = t.longest_batch.max(began.elapsed());
                    t.failed_records += H::failed_record_ids(&poll.report).len();
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
    anyhow::ensure!(
        Instant::now() < deadline,
        "the queue was still busy when its budget of {} s ran out: the pipeline or the \
         emulator is too slow on this machine for the phase to be judged",
        budget.as_secs()
    );
    Ok(())
}

/// AWS calls and faults fired while the pipeline ran (the test's own setup excluded).
#[derive(Default)]
struct Measured {
    calls: u64,
    /// The same calls by operation (`dynamodb.TransactWriteItems`: …), printed with the
    /// summary, so a slow run says where its time could have gone.
    by_operation: BTreeMap<String, u64>,
    fired: BTreeMap<String, u64>,
    /// Failures of the deterministic rule (the first one injected).
    forced: u64,
}

impl Measured {
    fn by_operation_line(&self) -> String {
        let calls: Vec<String> = self
            .by_operation
            .iter()
            .map(|(operation, n)| format!("{operation} {n}"))
            .collect();
        calls.join(", ")
    }
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
    work: impl std::future::Future<Output = anyhow::Result<()>>,
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
    let drained = work.await;
    for (operation, calls) in world.emulator.calls()? {
        measured.calls += calls;
        *measured.by_operation.entry(operation).or_default() += calls;
    }
    let fired = world.emulator.fired_faults()?;
    if forced.is_some() {
        measured.forced += fired.first().map_or(0, |(_, n)| *n);
    }
    for (kind, fired) in fired {
        *measured.fired.entry(kind).or_default() += fired;
    }
    world.emulator.clear_faults()?;
    drained
}

#[tokio::test]
async fn a_thousand_episodes_under_random_faults_notify_exactly_as_promised() -> anyhow::Result<()>
{
    let started = Instant::now();
    let seed: u64 = setting("SOAK_SEED", DEFAULT_SEED)?;
    let episodes_wanted: usize = setting("SOAK_EPISODES", DEFAULT_EPISODES)?;
    let per_cluster = episodes_wanted / CLUSTERS;
    anyhow::ensure!(
        per_cluster >= 4 && episodes_wanted.is_multiple_of(CLUSTERS),
        "SOAK_EPISODES={episodes_wanted}: use a multiple of {CLUSTERS} of at least {} (every fate in every cluster)",
        4 * CLUSTERS
    );
    println!("soak: seed {seed}, {episodes_wanted} episodes (SOAK_SEED, SOAK_EPISODES)");
    // The pipeline's errors (more with RUST_LOG) go with the test's output, which nextest
    // shows when the test fails: a failing run explains itself.
    sentinel_lambda::logging::init_terminal(false);
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
            AGENT_VISIBILITY,
            facts.max_receive_count,
        )
        .await?;
    let recovery = world
        .stack
        .add_rule_queue(
            "soak-recovery",
            &facts.recovery_patterns,
            Duration::ZERO,
            AGENT_VISIBILITY,
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

    let mut config = world.config(&[])?;
    config.notice_lease = NOTICE_LEASE;
    let monitor = world.monitor(config)?;
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
            // What the monitor remembers of it says which step lost track of it.
            let stored = match world.episode(m).await {
                Ok(Some(episode)) => format!("{:?}", episode.state),
                Ok(None) => "no stored episode".to_owned(),
                Err(err) => format!("stored episode unreadable: {err}"),
            };
            wrong.push(format!(
                "{} {f:?}: (alerts, resolutions) {got:?}, expected {expected:?}; stored: {stored}",
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

    println!("soak: calls by operation: {}", measured.by_operation_line());
    println!(
        "soak: seed {seed}: {episodes} episodes in {CLUSTERS} clusters, {} notices finished by the final sweep, {} messages sent, {} acknowledged, {} in the dead-letter queue; \
         {} batches, {} records handed back for redelivery, {} failed deletes, {} failed receives; \
         {} AWS calls while draining, faults fired: {} throttles, {} HTTP 500s, {} delays, {} lost answers; {} notification messages; longest batch {:.1} s; {:.1} s",
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
        tally.longest_batch.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        wrong.is_empty(),
        "{} of {episodes} episodes notified wrongly (longest batch {:.1} s):\n{}\n\
         moved to the dead-letter queue by the redrive: {}",
        wrong.len(),
        tally.longest_batch.as_secs_f64(),
        wrong.join("\n"),
        redriven_events(&parked, &members).join(", ")
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

/// The events the queue's redrive moved to the dead-letter queue (received too often), as
/// "node fate connected|disconnected": what a failing soak needs to say which episodes it
/// lost track of.
fn redriven_events(
    parked: &[sentinel_emulator::stack::ParkedRecord],
    members: &[(Member, Fate)],
) -> Vec<String> {
    parked
        .iter()
        .filter(|p| p.reason.is_empty())
        .map(|p| {
            let event: serde_json::Value = serde_json::from_str(&p.body).unwrap_or_default();
            let node = event["detail"]["ec2InstanceId"].as_str().unwrap_or("?");
            let fate = members
                .iter()
                .find(|(m, _)| m.node_id == node)
                .map_or("unknown".to_owned(), |(_, f)| format!("{f:?}"));
            let connected = match event["detail"]["agentConnected"].as_bool() {
                Some(true) => "connected",
                Some(false) => "disconnected",
                None => "unreadable",
            };
            format!("{node} {fate} {connected}")
        })
        .collect()
}

/// A small seeded generator (SplitMix64), so a soak's events, their order and their
/// duplicates are the same for the same seed.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// Adds seeded duplicates (`per_hundred` of them), then shuffles everything.
fn duplicated_and_shuffled(
    rng: &mut Seeded,
    mut bodies: Vec<String>,
    per_hundred: usize,
) -> Vec<String> {
    let extra: Vec<String> = (0..bodies.len() * per_hundred / 100)
        .map(|_| bodies[rng.below(bodies.len())].clone())
        .collect();
    bodies.extend(extra);
    rng.shuffle(&mut bodies);
    bodies
}

/// Messages neither acknowledged nor in the dead-letter queue (by their id, or the id of the
/// message they were parked for).
fn lost<'a>(
    sent: &'a HashSet<String>,
    acknowledged: &HashSet<String>,
    parked: &[sentinel_emulator::stack::ParkedRecord],
) -> Vec<&'a String> {
    let in_dead_letters: HashSet<&str> = parked
        .iter()
        .flat_map(|p| [p.message_id.as_str(), p.source_message_id.as_str()])
        .collect();
    sent.iter()
        .filter(|id| !acknowledged.contains(*id) && !in_dead_letters.contains(id.as_str()))
        .collect()
}

const TASK_CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";

/// The task monitor's soak: two thousand failing tasks (SOAK_TASKS) over 25 services, each stop sent once plus 10 % seeded duplicates, shuffled, drained by
/// four concurrent pollers under random throttling, HTTP 500s, latency and lost write
/// answers; then half the services reach steady state, drained under the same faults.
///
/// Promises: every service got exactly one alert (0 lost, 0 duplicates), every recovered
/// service exactly one RESOLVED and the others none; no message lost (acknowledged, or in
/// the dead-letter queue). Replay: `SOAK_SEED=<seed> SOAK_TASKS=<n> cargo nextest run -p
/// integration-tests -E 'test(task_monitor_soak)' --no-capture`.
#[tokio::test]
async fn task_monitor_soak_thousands_of_failures_alert_once_and_resolve_once() -> anyhow::Result<()>
{
    const SERVICES: usize = 25;
    let started = Instant::now();
    let seed: u64 = setting("SOAK_SEED", DEFAULT_SEED)?;
    let tasks: usize = setting("SOAK_TASKS", 2000)?;
    anyhow::ensure!(tasks >= SERVICES, "SOAK_TASKS={tasks}: at least {SERVICES}");
    println!("task soak: seed {seed}, {tasks} failing tasks over {SERVICES} services");
    let budget = Duration::from_secs(240 * (tasks as u64).div_ceil(1000));
    let mut rng = Seeded(seed);
    let world = World::start().await?;
    let facts = template::read(&sentinel_emulator::repo_root().join("template.yaml"))?;
    let queue = world
        .stack
        .add_rule_queue(
            "soak-tasks",
            &facts.task_patterns,
            Duration::ZERO,
            VISIBILITY,
            facts.task_max_receive_count,
        )
        .await?;
    let service = |n: usize| format!("svc-{n:02}");
    let base = chrono::Utc::now() - chrono::TimeDelta::minutes(30);
    let stops: Vec<String> = (0..tasks)
        .map(|n| {
            let at = base + chrono::TimeDelta::milliseconds(n as i64);
            let mut event = sentinel_tasks::event::fixtures::stopped_task(serde_json::json!({
                "clusterArn": TASK_CLUSTER,
                "taskArn": format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{n:032x}"),
                "group": format!("service:{}", service(n % SERVICES)),
                "taskDefinitionArn": format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{}:1", service(n % SERVICES)),
                "version": 3 + (n % 3), "stoppedAt": at.to_rfc3339(), "updatedAt": at.to_rfc3339(),
            }));
            event["time"] = serde_json::json!(at.to_rfc3339());
            event.to_string()
        })
        .collect();
    let bodies = duplicated_and_shuffled(&mut rng, stops, 10);
    let mut sent: HashSet<String> = world
        .stack
        .send_to_queue(&queue.url, &bodies)
        .await?
        .into_iter()
        .collect();
    let monitor = {
        let env = [
            ("ALERT_TOPIC_ARN", world.stack.topic_arn.clone()),
            ("ALERT_TABLE_NAME", world.stack.table_name.clone()),
            ("DEAD_LETTER_QUEUE_URL", world.stack.dead_letter_url.clone()),
            ("LOG_TAIL_LINES", "0".to_owned()),
        ];
        task_monitor::TaskMonitor::new(
            task_monitor::Clients::from_sdk_config(&world.sdk),
            task_monitor::Config::from_lookup(|name| {
                env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
            })?,
        )
    };
    let tally = Mutex::new(Tally::default());
    let mut measured = Measured::default();
    println!(
        "task soak: {} messages queued after {:.1} s",
        bodies.len(),
        started.elapsed().as_secs_f64()
    );
    under_faults(
        &world,
        seed,
        None,
        &mut measured,
        drain(&monitor, &world, &queue, &tally, budget),
    )
    .await?;
    let failures_drained = started.elapsed();

    // Half the services settle.
    let recovered: Vec<usize> = (0..SERVICES).filter(|n| n % 2 == 0).collect();
    let steady: Vec<String> = recovered
        .iter()
        .map(|n| {
            let mut event = sentinel_tasks::event::fixtures::service_event(
                sentinel_tasks::event::SERVICE_ACTION,
                serde_json::json!({"eventType": "INFO", "eventName": "SERVICE_STEADY_STATE",
                                   "clusterArn": TASK_CLUSTER,
                                   "createdAt": chrono::Utc::now().to_rfc3339()}),
            );
            event["time"] = serde_json::json!(chrono::Utc::now().to_rfc3339());
            event["resources"] = serde_json::json!([format!(
                "arn:aws:ecs:us-east-1:123456789012:service/prod/{}",
                service(*n)
            )]);
            event.to_string()
        })
        .collect();
    sent.extend(world.stack.send_to_queue(&queue.url, &steady).await?);
    under_faults(
        &world,
        seed + 1,
        None,
        &mut measured,
        drain(&monitor, &world, &queue, &tally, budget),
    )
    .await?;

    let inbox = world.stack.drain_inbox().await?;
    let parked = world.stack.drain_dead_letters().await?;
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for message in &inbox {
        let resolved = message.subject.starts_with("[RESOLVED]");
        // The service is named in both subjects ("[HIGH] svc-07 in prod: …", "[RESOLVED] …
        // svc-07 …"), the only word of the form svc-NN.
        let name = message
            .subject
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .find(|word| word.starts_with("svc-"))
            .map(str::to_owned)
            .unwrap_or_else(|| message.subject.clone());
        let entry = counts.entry(name).or_default();
        if resolved {
            entry.1 += 1;
        } else {
            entry.0 += 1;
        }
    }
    let mut wrong = Vec::new();
    for n in 0..SERVICES {
        let expected = (1, usize::from(n % 2 == 0));
        let got = counts.remove(&service(n)).unwrap_or((0, 0));
        if got != expected {
            wrong.push(format!(
                "{}: (alerts, resolutions) {got:?}, expected {expected:?}",
                service(n)
            ));
        }
    }
    wrong.extend(
        counts
            .iter()
            .map(|(name, got)| format!("unexpected messages about {name}: {got:?}")),
    );
    let tally = tally
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let lost = lost(&sent, &tally.acknowledged, &parked);
    println!(
        "task soak: calls by operation: {}",
        measured.by_operation_line()
    );
    println!(
        "task soak: seed {seed}: {tasks} failing tasks over {SERVICES} services, {} recovered; {} messages sent ({} duplicates), {} acknowledged, {} in the dead-letter queue, {} lost; \
         {} batches, {} records handed back for redelivery, {} failed deletes, {} failed receives; {} AWS calls while draining, faults fired: {} throttles, {} HTTP 500s, {} delays, {} lost answers; \
         {} notification messages ({} wrong); failures drained after {:.1} s, {:.1} s in all",
        recovered.len(),
        sent.len(),
        bodies.len() - tasks,
        tally.acknowledged.len(),
        parked.len(),
        lost.len(),
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
        wrong.len(),
        failures_drained.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        wrong.is_empty(),
        "{} services notified wrongly (longest batch {:.1} s):\n{}",
        wrong.len(),
        tally.longest_batch.as_secs_f64(),
        wrong.join("\n")
    );
    assert!(
        lost.is_empty(),
        "{} messages neither acknowledged nor dead-lettered",
        lost.len()
    );
    assert!(
        parked.iter().all(|p| p.reason.is_empty()),
        "a usable stop was parked with a reason: {:?}",
        parked
            .iter()
            .find(|p| !p.reason.is_empty())
            .map(|p| &p.reason)
    );
    Ok(())
}

/// The fleet recorder's soak: 600 tasks (SOAK_KEYS) each through up to 5 versions, every
/// version sent, 20 % seeded duplicates, shuffled, drained by four concurrent pollers
/// under random throttling, HTTP 500s, latency and lost PutItem answers; failed records
/// come back as SQS redelivers them.
///
/// Promise: the table ends at the newest version of every key, and no message is lost.
/// Replay: `SOAK_SEED=<seed> SOAK_KEYS=<n> cargo nextest run -p integration-tests -E
/// 'test(fleet_recorder_soak)' --no-capture`.
#[tokio::test]
async fn fleet_recorder_soak_ends_at_the_newest_version_of_every_key() -> anyhow::Result<()> {
    let started = Instant::now();
    let seed: u64 = setting("SOAK_SEED", DEFAULT_SEED)?;
    let keys: usize = setting("SOAK_KEYS", 600)?;
    println!("fleet soak: seed {seed}, {keys} tasks");
    let budget = Duration::from_secs(240 * (keys as u64).div_ceil(150));
    let mut rng = Seeded(seed.wrapping_mul(31));
    let world = World::start().await?;
    let (recorder, stored_table) = integration_tests::fleet_recorder(&world, "soak-fleet").await?;
    let queue = world
        .stack
        .add_rule_queue(
            "soak-fleet",
            &[serde_json::json!({"source": ["aws.ecs"]})],
            Duration::ZERO,
            VISIBILITY,
            5,
        )
        .await?;
    let arn = |n: usize| format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{n:032x}");
    let mut newest: BTreeMap<String, u64> = BTreeMap::new();
    let mut versions = Vec::new();
    for n in 0..keys {
        let last = 1 + rng.below(5) as u64;
        newest.insert(arn(n), last);
        for version in 1..=last {
            let status = if version == 5 { "STOPPED" } else { "RUNNING" };
            let mut detail = serde_json::json!({"clusterArn": TASK_CLUSTER, "taskArn": arn(n),
                                                "lastStatus": status, "version": version});
            if status != "STOPPED" {
                for field in ["stopCode", "stoppedReason", "stoppedAt"] {
                    detail[field] = serde_json::Value::Null;
                }
            }
            versions.push(sentinel_tasks::event::fixtures::stopped_task(detail).to_string());
        }
    }
    let distinct = versions.len();
    let bodies = duplicated_and_shuffled(&mut rng, versions, 20);
    let sent: HashSet<String> = world
        .stack
        .send_to_queue(&queue.url, &bodies)
        .await?
        .into_iter()
        .collect();
    let tally = Mutex::new(Tally::default());
    let mut measured = Measured::default();
    println!(
        "fleet soak: {} messages queued after {:.1} s",
        bodies.len(),
        started.elapsed().as_secs_f64()
    );
    under_faults(
        &world,
        seed,
        None,
        &mut measured,
        drain(&recorder, &world, &queue, &tally, budget),
    )
    .await?;

    let (stored, unreadable) = stored_table
        .cluster(TASK_CLUSTER, Some(sentinel_fleet::Kind::Task))
        .await?;
    let found: BTreeMap<String, u64> = stored
        .iter()
        .filter_map(|s| match &s.record {
            sentinel_fleet::FleetRecord::Task(t) => Some((t.task_arn.clone(), s.record.order())),
            _ => None,
        })
        .collect();
    let wrong: Vec<String> = newest
        .iter()
        .filter(|(k, v)| found.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}: stored {:?}, newest {v}", found.get(k)))
        .collect();
    let parked = world.stack.drain_dead_letters().await?;
    let tally = tally
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let lost = lost(&sent, &tally.acknowledged, &parked);
    println!(
        "fleet soak: calls by operation: {}",
        measured.by_operation_line()
    );
    println!(
        "fleet soak: seed {seed}: {keys} keys, {distinct} versions, {} messages sent ({} duplicates), {} acknowledged, {} in the dead-letter queue, {} lost; \
         {} batches, {} records handed back for redelivery, {} failed deletes, {} failed receives; {} AWS calls while draining, faults fired: {} throttles, {} HTTP 500s, {} delays, {} lost answers; \
         {} keys stored, {} wrong, {} unreadable; {:.1} s",
        sent.len(),
        bodies.len() - distinct,
        tally.acknowledged.len(),
        parked.len(),
        lost.len(),
        tally.batches,
        tally.failed_records,
        tally.delete_errors,
        tally.receive_errors,
        measured.calls,
        measured.fired.get("throttle").copied().unwrap_or(0),
        measured.fired.get("server_error").copied().unwrap_or(0),
        measured.fired.get("latency").copied().unwrap_or(0),
        measured.fired.get("lost_answer").copied().unwrap_or(0),
        found.len(),
        wrong.len(),
        unreadable.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        wrong.is_empty(),
        "{} keys not at their newest version:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(found.len(), keys);
    assert!(unreadable.is_empty());
    assert!(
        lost.is_empty(),
        "{} messages neither acknowledged nor dead-lettered",
        lost.len()
    );
    assert!(
        parked.is_empty(),
        "nothing here is unusable, and no key fails 5 times: {parked:?}"
    );
    Ok(())
}
