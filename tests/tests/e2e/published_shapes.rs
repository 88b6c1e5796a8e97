//! AWS's documented example of every ECS event (`crates/sentinel-core/tests/fixtures/ecs-events`)
//! routed by the template's own rules (put on the emulator's event bus, delivered to a queue
//! per function) and answered by each function's **binary**: no record reported failed,
//! nothing dead-lettered. A shape AWS publishes is never a bad record.

use integration_tests::runtime_api::{Function, RuntimeApi};
use integration_tests::World;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const FIXTURES: &str = "crates/sentinel-core/tests/fixtures/ecs-events";
pub const FLEET_TABLE: &str = "sentinel-fleet";

/// Every documented example, by file name.
pub fn documented_events() -> anyhow::Result<BTreeMap<String, Value>> {
    let dir = sentinel_emulator::repo_root().join(FIXTURES);
    let mut events = BTreeMap::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        events.insert(
            name,
            serde_json::from_str(&std::fs::read_to_string(&path)?)?,
        );
    }
    anyhow::ensure!(events.len() >= 22, "fixtures missing in {}", dir.display());
    Ok(events)
}

/// The environment the template gives `function`, pointed at `world` (one dead-letter queue
/// for all three here; each test drains it per function).
pub async fn function_env(
    world: &World,
    function: Function,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::from([
        (
            "DEAD_LETTER_QUEUE_URL".to_owned(),
            world.stack.dead_letter_url.clone(),
        ),
        ("RUST_LOG".to_owned(), "info".to_owned()),
    ]);
    match function {
        Function::AgentMonitor | Function::TaskMonitor => {
            env.insert("ALERT_TOPIC_ARN".into(), world.stack.topic_arn.clone());
            env.insert("ALERT_TABLE_NAME".into(), world.stack.table_name.clone());
            if function == Function::TaskMonitor {
                // No log tails: the examples' task definitions are not registered.
                env.insert("LOG_TAIL_LINES".into(), "0".into());
            }
        }
        Function::FleetRecorder => {
            sentinel_emulator::stack::create_fleet_table(&world.sdk, FLEET_TABLE).await?;
            env.insert("FLEET_TABLE_NAME".into(), FLEET_TABLE.into());
        }
    }
    Ok(env)
}

/// SQS records for `bodies`, ids `m0…`, as the event source mapping delivers them.
pub fn sqs_event(bodies: &[String], offset: usize) -> String {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            json!({"messageId": format!("m{}", offset + i), "receiptHandle": format!("h{}", offset + i),
                   "body": body, "attributes": {}, "messageAttributes": {},
                   "eventSource": "aws:sqs", "awsRegion": "us-east-1"})
        })
        .collect();
    json!({ "Records": records }).to_string()
}

/// What one run of a function binary over several batches came to.
#[derive(Debug, Default)]
pub struct Answered {
    /// The record ids each batch's answer named for redelivery.
    pub failed: Vec<String>,
    /// Batches answered (an invocation error or a missing answer is not one).
    pub answered: usize,
    /// Invocations that did not end in a response (error reports, no answer).
    pub not_answered: Vec<String>,
    /// Lines of output that report a panic.
    pub panics: usize,
    /// Sums of the EMF counts named `InvalidRecords` and `FailedRecords`.
    pub invalid_records: f64,
    pub failed_records: f64,
    pub stdout: String,
}

/// Runs `function`'s binary once, warm, over every event in `events` (one per invocation),
/// as Lambda would run one sandbox.
pub fn run_binary(
    world: &World,
    function: Function,
    env: &BTreeMap<String, String>,
    events: Vec<String>,
) -> anyhow::Result<Answered> {
    let invocations = events.len();
    let api = RuntimeApi::serve_all(events)?;
    let mut child = sentinel_emulator::runtime_api::function_command(
        &integration_tests::runtime_api::function_binary(function)?,
        &api.address,
        world.emulator.endpoint(),
        env,
    )
    .spawn()?;
    // Read the output while the function runs: a full pipe (64 KiB) would block its logging,
    // and with it the function.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            text
        })
    };
    let stdout_reader = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let stderr_reader = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let mut answered = Answered::default();
    let deadline = Instant::now() + Duration::from_secs(180);
    for n in 0..invocations {
        let left = deadline.saturating_duration_since(Instant::now());
        match api.next_post(left.max(Duration::from_millis(1))) {
            Some(posted) if posted.is_response_to(n) => {
                answered.answered += 1;
                let body: Value = serde_json::from_str(&posted.body).unwrap_or(Value::Null);
                for failure in body["batchItemFailures"].as_array().into_iter().flatten() {
                    answered
                        .failed
                        .push(failure["itemIdentifier"].as_str().unwrap_or("?").to_owned());
                }
            }
            Some(posted) => {
                answered
                    .not_answered
                    .push(format!("{}: {}", posted.path, posted.body));
                break;
            }
            None => {
                answered
                    .not_answered
                    .push(format!("invocation {n}: no answer"));
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait()?;
    let stdout = stdout_reader.join().unwrap_or_default();
    let stderr = stderr_reader.join().unwrap_or_default();
    answered.panics = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| l.contains("panicked"))
        .count();
    for line in stdout.lines() {
        if let Ok(value) = serde_json::from_str::<Value>(line) {
            if value["_aws"]["CloudWatchMetrics"].is_array() {
                answered.invalid_records += value["InvalidRecords"].as_f64().unwrap_or(0.0);
                answered.failed_records += value["FailedRecords"].as_f64().unwrap_or(0.0);
            }
        }
    }
    answered.stdout = stdout;
    Ok(answered)
}

/// Receives (and deletes) every message `url` holds, waiting until the queue is empty.
async fn receive_all(world: &World, url: &str, expected: usize) -> anyhow::Result<Vec<String>> {
    let sqs = &world.stack.sqs;
    let mut bodies = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while bodies.len() < expected && Instant::now() < deadline {
        let received = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await?;
        for message in received.messages() {
            bodies.push(message.body().unwrap_or_default().to_owned());
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .send()
                    .await?;
            }
        }
    }
    Ok(bodies)
}

/// Which examples each function's rules route to it (template.yaml), stated so that a
/// change of a rule shows here: the agent monitor gets container instance state changes
/// (this example is a connected agent: AgentReconnectedRule); the task monitor stopped
/// tasks (the examples are RUNNING), Spot notices, WARN/ERROR service actions and steady
/// state, failed and completed deployments; the fleet recorder every `aws.ecs` event.
fn routed_to(function: Function, all: &BTreeMap<String, Value>) -> BTreeSet<String> {
    let names: &[&str] = match function {
        Function::AgentMonitor => &["container-instance-state-change.json"],
        Function::TaskMonitor => &[
            "task-state-change-fargate-spot-interruption.json",
            "task-state-change-fargate-spot-termination-notice.json",
            "service-action-steady-state.json",
            "service-action-task-placement-failure.json",
            "service-action-task-start-impaired.json",
            "deployment-state-change-completed.json",
            "deployment-state-change-failed.json",
        ],
        Function::FleetRecorder => return all.keys().cloned().collect(),
    };
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[tokio::test]
async fn every_documented_event_is_answered_by_every_function_its_rules_route_it_to(
) -> anyhow::Result<()> {
    let world = World::start().await?;
    let facts =
        sentinel_emulator::template::read(&sentinel_emulator::repo_root().join("template.yaml"))?;
    let events = documented_events()?;
    let mut agent_patterns = vec![facts.disconnect_pattern.clone()];
    agent_patterns.extend(facts.recovery_patterns.iter().cloned());
    let routes = [
        (Function::AgentMonitor, "shapes-agent", agent_patterns),
        (
            Function::TaskMonitor,
            "shapes-tasks",
            facts.task_patterns.clone(),
        ),
        (
            Function::FleetRecorder,
            "shapes-fleet",
            vec![facts.fleet_pattern.clone()],
        ),
    ];
    let mut queues = Vec::new();
    for (function, name, patterns) in &routes {
        let queue = world
            .stack
            .add_rule_queue(name, patterns, Duration::ZERO, Duration::from_secs(60), 5)
            .await?;
        queues.push((*function, queue.url));
    }
    // Each example carries a marker (its file name) in a field no monitor reads, so what a
    // queue received can be told apart after EventBridge re-wraps it.
    let marked: Vec<Value> = events
        .iter()
        .map(|(name, event)| {
            let mut event = event.clone();
            event["detail"]["sentinelFixture"] = json!(name);
            event
        })
        .collect();
    world.stack.put_events(&marked).await?;

    for (function, url) in &queues {
        let expected = routed_to(*function, &events);
        let bodies = receive_all(&world, url, expected.len()).await?;
        let got: BTreeSet<String> = bodies
            .iter()
            .filter_map(|b| serde_json::from_str::<Value>(b).ok())
            .filter_map(|b| b["detail"]["sentinelFixture"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(got, expected, "{function:?}'s rules routed other examples");

        let env = function_env(&world, *function).await?;
        let answered = run_binary(&world, *function, &env, vec![sqs_event(&bodies, 0)])?;
        let parked = world.stack.drain_dead_letters().await?;
        assert!(
            answered.not_answered.is_empty() && answered.answered == 1,
            "{function:?}: {:?}\n{}",
            answered.not_answered,
            answered.stdout
        );
        assert_eq!(answered.panics, 0, "{function:?}:\n{}", answered.stdout);
        assert!(
            answered.failed.is_empty(),
            "{function:?} reported {:?} failed:\n{}",
            answered.failed,
            answered.stdout
        );
        assert!(
            parked.is_empty(),
            "{function:?} dead-lettered {:?}",
            parked
                .iter()
                .map(|p| (&p.reason_code, &p.reason))
                .collect::<Vec<_>>()
        );
        if *function == Function::TaskMonitor {
            // AWS's Spot notices name no service: counted by cluster.
            assert!(
                answered
                    .stdout
                    .lines()
                    .any(|l| l.contains("\"SpotInterruptions\":2.0")
                        && l.contains("\"ClusterName\":\"default\"")),
                "no Spot count for the cluster in:\n{}",
                answered.stdout
            );
        }
    }
    let _ = world.stack.drain_inbox().await?;
    Ok(())
}

/// Whatever else reaches the task queue (a rule edited outside the template, a message sent
/// by hand), an `aws.ecs` event AWS documents is acknowledged: what the monitor does not
/// read is logged and counted, not dead-lettered.
#[tokio::test]
async fn the_task_monitor_acknowledges_every_documented_event_even_those_not_for_it(
) -> anyhow::Result<()> {
    let world = World::start().await?;
    let events = documented_events()?;
    let bodies: Vec<String> = events.values().map(Value::to_string).collect();
    let env = function_env(&world, Function::TaskMonitor).await?;
    let answered = run_binary(
        &world,
        Function::TaskMonitor,
        &env,
        vec![sqs_event(&bodies, 0)],
    )?;
    let parked = world.stack.drain_dead_letters().await?;
    assert_eq!(answered.answered, 1, "{:?}", answered.not_answered);
    assert!(answered.failed.is_empty(), "{:?}", answered.failed);
    assert!(
        parked.is_empty(),
        "{:?}",
        parked.iter().map(|p| &p.reason).collect::<Vec<_>>()
    );
    // Container instance (1) and health (4) changes, hooks (2), daemon events (3).
    assert!(
        answered
            .stdout
            .lines()
            .any(|l| l.contains("\"EventsNotForThisMonitor\":10.0")),
        "{}",
        answered.stdout
    );
    assert!(
        answered
            .stdout
            .contains("not an event the task monitor reads: acknowledged"),
        "{}",
        answered.stdout
    );
    let _ = world.stack.drain_inbox().await?;
    Ok(())
}
