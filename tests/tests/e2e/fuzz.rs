//! Seeded fuzzing of every function's **binary**: thousands of bodies mutated from the
//! documented ECS examples and the crates' own fixtures (fields dropped, emptied, made huge,
//! of the wrong type, unicode, null; bodies truncated) go through the Lambda Runtime API in
//! batches. Every record must be processed or dead-lettered: 0 panics, 0 records reported
//! failed. A record reported failed is retried until the queue's redrive dead-letters it
//! without a reason, and pages someone for a record that could never succeed.
//!
//! Deterministic: the seed is fixed (`FUZZ_SEED` picks another, to explore; a failure
//! prints the seed and the bodies that failed).

use crate::published_shapes::{documented_events, function_env, run_binary, sqs_event};
use integration_tests::runtime_api::Function;
use integration_tests::World;
use serde_json::{json, Value};

const SEED: u64 = 0x5e41_1e12;
/// Bodies per function, and per invocation (the template's batch sizes are 10 to 100).
const BODIES: usize = 2000;
const PER_BATCH: usize = 100;
/// A real queue never delivers more than 256 KiB (SQS's message limit, which the
/// dead-letter queue shares): bodies stay under it, letter and reason included.
const BODY_MAX_BYTES: usize = 200 * 1024;

/// SplitMix64: tiny, seeded, the same numbers on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Every place in `value` a mutation can reach: a path of object keys and array indexes.
fn paths(value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                path.push(json!(key));
                out.push(path.clone());
                paths(child, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(json!(i));
                out.push(path.clone());
                paths(child, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn parent_of<'a>(root: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    let mut cursor = root;
    for step in path {
        cursor = match step {
            Value::String(key) => cursor.get_mut(key.as_str())?,
            Value::Number(n) => cursor.get_mut(usize::try_from(n.as_u64()?).ok()?)?,
            _ => return None,
        };
    }
    Some(cursor)
}

/// A string of `len` bytes or so, ARN-like half the time (the shape of the keys).
fn huge(rng: &mut Rng) -> String {
    let len = match rng.below(3) {
        0 => 1000 + rng.below(2000),
        1 => 2000 + rng.below(200),
        _ => 4000 + rng.below(8_000),
    };
    if rng.below(2) == 0 {
        format!(
            "arn:aws:ecs:us-east-1:123456789012:task/prod/{}",
            "a".repeat(len)
        )
    } else {
        "x".repeat(len)
    }
}

fn replacement(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => json!(""),
        1 => json!(huge(rng)),
        2 => Value::Null,
        3 => json!(rng.next() as i64),
        4 => json!(-1),
        5 => json!(true),
        6 => json!([]),
        7 => json!({}),
        8 => json!("ünïcødé ✓ 🚀 \u{202e}ʇxǝʇ 日本語 \u{0}\u{7}"),
        9 => json!(1.5e300),
        10 => json!("arn:aws:ecs:us-east-1:123456789012:cluster/"),
        _ => json!(["arn:aws:ecs:us-east-1:123456789012:service/prod/api", 7]),
    }
}

/// One mutated body of `seed`.
fn mutate(rng: &mut Rng, seed: &Value) -> String {
    let mut body = seed.clone();
    for _ in 0..1 + rng.below(3) {
        let mut all = Vec::new();
        paths(&body, &mut Vec::new(), &mut all);
        if all.is_empty() {
            break;
        }
        let path = rng.pick(&all).clone();
        let Some((last, parents)) = path.split_last() else {
            continue;
        };
        let replacement = replacement(rng);
        let drop = rng.below(4) == 0;
        let Some(parent) = parent_of(&mut body, parents) else {
            continue;
        };
        match (parent, last) {
            (Value::Object(map), Value::String(key)) if drop => {
                map.remove(key);
            }
            (Value::Object(map), Value::String(key)) => {
                map.insert(key.clone(), replacement);
            }
            (Value::Array(items), Value::Number(i)) => {
                let i = i.as_u64().unwrap_or(0) as usize;
                if drop && i < items.len() {
                    items.remove(i);
                } else if let Some(slot) = items.get_mut(i) {
                    *slot = replacement;
                }
            }
            _ => {}
        }
    }
    let text = body.to_string();
    // Truncation: a body cut anywhere (on a character boundary, as SQS keeps UTF-8).
    if rng.below(10) == 0 && !text.is_empty() {
        let mut cut = rng.below(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        return text[..cut].to_owned();
    }
    text
}

/// The seeds of `function`: every documented example, and the crates' own fixtures.
fn seeds(function: Function, documented: &[Value]) -> Vec<Value> {
    use sentinel_tasks::event::fixtures::{service_event, stopped_task, CLUSTER};
    let mut seeds = documented.to_vec();
    seeds.push(stopped_task(json!({})));
    seeds.push(stopped_task(
        json!({"group": "family:nightly", "stopCode": "SpotInterruption"}),
    ));
    seeds.push(service_event(
        "ECS Service Action",
        json!({"eventType": "WARN", "eventName": "SERVICE_TASK_START_IMPAIRED",
               "clusterArn": CLUSTER, "reason": "unable to start"}),
    ));
    seeds.push(service_event(
        "ECS Deployment State Change",
        json!({"eventType": "ERROR", "eventName": "SERVICE_DEPLOYMENT_FAILED",
               "deploymentId": "ecs-svc/1", "updatedAt": "2026-11-29T10:05:00Z"}),
    ));
    let disconnected = json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "ECS Container Instance State Change", "source": "aws.ecs",
        "account": "123456789012", "time": "2026-11-21T10:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:ecs:us-east-1:123456789012:container-instance/prod/0f1e"],
        "detail": {"agentConnected": false, "clusterArn": CLUSTER,
                   "containerInstanceArn": "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/0f1e",
                   "ec2InstanceId": "i-0abc1234def567890", "status": "ACTIVE", "version": 42,
                   "versionInfo": {"agentVersion": "1.82.0"}}
    });
    match function {
        // The agent monitor's queue holds container instance changes only: most seeds are
        // its own, so the mutations reach its checks, not only the detail-type's.
        Function::AgentMonitor => {
            seeds.retain(|s| s["detail-type"] == "ECS Container Instance State Change");
            let mut reconnected = disconnected.clone();
            reconnected["detail"]["agentConnected"] = json!(true);
            seeds.extend([disconnected, reconnected]);
        }
        Function::TaskMonitor | Function::FleetRecorder => seeds.push(disconnected),
    }
    seeds
}

fn fuzz_bodies(function: Function, documented: &[Value], seed: u64) -> Vec<String> {
    let seeds = seeds(function, documented);
    let mut rng = Rng(seed ^ function as u64);
    let mut bodies = Vec::with_capacity(BODIES);
    while bodies.len() < BODIES {
        let seed = rng.pick(&seeds);
        let body = mutate(&mut rng, seed);
        if body.len() <= BODY_MAX_BYTES {
            bodies.push(body);
        }
    }
    bodies
}

async fn fuzz(function: Function) -> anyhow::Result<()> {
    let seed = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    let world = World::start().await?;
    let documented: Vec<Value> = documented_events()?.into_values().collect();
    let mut bodies = fuzz_bodies(function, &documented, seed);
    // FUZZ_BODIES: fewer bodies, to look at one function quickly.
    if let Some(n) = std::env::var("FUZZ_BODIES")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        bodies.truncate(n);
    }
    let events: Vec<String> = bodies
        .chunks(PER_BATCH)
        .enumerate()
        .map(|(n, batch)| sqs_event(batch, n * PER_BATCH))
        .collect();
    let env = function_env(&world, function).await?;
    let started = std::time::Instant::now();
    let answered = run_binary(&world, function, &env, events)?;
    if let Ok(path) = std::env::var("FUZZ_DUMP") {
        std::fs::write(path, &answered.stdout)?;
    }
    let failed_bodies: Vec<String> = answered
        .failed
        .iter()
        .filter_map(|id| id.trim_start_matches('m').parse::<usize>().ok())
        .filter_map(|i| bodies.get(i))
        .map(|b| b.chars().take(600).collect())
        .collect();
    println!(
        "fuzz {function:?} seed {seed:#x}: {} of {} batches answered",
        answered.answered,
        bodies.len().div_ceil(PER_BATCH)
    );
    println!(
        "fuzz {function:?} seed {seed:#x}: {} bodies in {} batches, {:.1} s: {} panics, {} reported failed, {} dead-lettered, {} processed",
        bodies.len(),
        bodies.len().div_ceil(PER_BATCH),
        started.elapsed().as_secs_f64(),
        answered.panics,
        answered.failed.len(),
        answered.invalid_records,
        bodies.len() as f64 - answered.invalid_records - answered.failed.len() as f64,
    );
    assert!(
        answered.not_answered.is_empty(),
        "seed {seed:#x}: {function:?} stopped answering after {} batches: {:?}\n{}",
        answered.answered,
        answered.not_answered,
        tail(&answered.stdout)
    );
    assert_eq!(
        answered.panics,
        0,
        "seed {seed:#x}: {function:?} panicked:\n{}",
        tail(&answered.stdout)
    );
    assert!(
        answered.failed.is_empty(),
        "seed {seed:#x}: {function:?} reported {} records failed; bodies:\n{}\n{}",
        answered.failed.len(),
        failed_bodies.join("\n"),
        tail(&answered.stdout)
    );
    assert_eq!(answered.failed_records, 0.0);
    Ok(())
}

fn tail(stdout: &str) -> String {
    let lines: Vec<&str> = stdout.lines().collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("\"ERROR\"") || l.contains("panicked"))
        .take(20)
        .collect();
    errors
        .iter()
        .map(|l| l.chars().take(800).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn fuzzed_bodies_through_the_agent_monitor_are_processed_or_parked() -> anyhow::Result<()> {
    fuzz(Function::AgentMonitor).await
}

#[tokio::test]
async fn fuzzed_bodies_through_the_task_monitor_are_processed_or_parked() -> anyhow::Result<()> {
    fuzz(Function::TaskMonitor).await
}

#[tokio::test]
async fn fuzzed_bodies_through_the_fleet_recorder_are_processed_or_parked() -> anyhow::Result<()> {
    fuzz(Function::FleetRecorder).await
}

#[test]
fn the_mutations_are_deterministic() {
    let documented = vec![json!({"source": "aws.ecs", "detail": {"a": [1, 2], "b": "c"}})];
    let a = fuzz_bodies(Function::TaskMonitor, &documented, 7);
    let b = fuzz_bodies(Function::TaskMonitor, &documented, 7);
    assert_eq!(a, b);
    assert_ne!(a, fuzz_bodies(Function::TaskMonitor, &documented, 8));
}
