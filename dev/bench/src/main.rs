//! `make bench`: runs each function's release binary the way Lambda does — a fresh
//! process, the Lambda Runtime API on 127.0.0.1, the AWS emulator behind `AWS_ENDPOINT_URL` —
//! for a few batches that matter, and prints what each cost: time from spawn to answer, peak
//! memory, AWS calls by operation against the batching lower bound, and messages sent.
//!
//! Times include the emulator's own latency (moto, in Python, on this machine), not AWS's:
//! compare rows and builds with each other, not with production. Calls and messages are
//! exact and the same on every machine.
//!
//! `--latency-ms N` makes it AWS-like: the emulator answers every AWS call N ms after it
//! arrived, moto working within the hold (calls in flight together come back together), so
//! an invocation's time grows by its sequential round trips times N, and the harness counts
//! those round trips (a call is one deeper than the deepest answered before it arrived);
//! each row shows them beside their lower bound. The count is exact when moto keeps up
//! with the hold; a row whose answers came back late is marked `~`.
//!
//! Later functions add their scenarios here.

use anyhow::Context;
use aws_lambda_events::event::sqs::SqsMessage;
use clap::Parser;
use sentinel_emulator::fleet::{self, Fleet, Member};
use sentinel_emulator::runtime_api::{
    function_command, peak_rss_kib, resident_by_mapping, status_kib, Resident, RuntimeApi,
};
use sentinel_emulator::stack::Stack;
use sentinel_emulator::Emulator;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Benchmarks a function's release binary against the AWS emulator")]
struct Args {
    /// The agent monitor's binary (`make bench` builds the release one).
    #[arg(long, default_value = "target/release/bootstrap")]
    bootstrap: PathBuf,
    /// The task monitor's binary (`make bench` builds the release one).
    #[arg(long, default_value = "target/release/task-monitor")]
    task_monitor: PathBuf,
    /// The fleet recorder's binary (`make bench` builds the release one).
    #[arg(long, default_value = "target/release/fleet-recorder")]
    fleet_recorder: PathBuf,
    /// Runs per scenario, each on a fresh emulator; times are the median.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Only scenarios whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// Holds every AWS answer this long (AWS-like round trips; 20 is a region's typical).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// With --latency-ms: when moto takes a held call, after its arrival. The calls a
    /// function sends together arrive within a few ms, before moto's work (which holds the
    /// GIL) can delay them; the rest of the hold is moto's, as AWS's work is inside a
    /// region's round trip.
    #[arg(long, default_value_t = 10)]
    moto_after_ms: u64,
}

/// Records per invocation: the template's `BatchSize` on every queue.
const BATCH_SIZE: usize = 100;
/// The statuses (and ECS versions) of a task's life, one event each.
const TASK_LIFE: [(&str, u64); 5] = [
    ("PROVISIONING", 1),
    ("PENDING", 2),
    ("RUNNING", 4),
    ("STOPPING", 6),
    ("STOPPED", 8),
];
/// Tasks that start together in the fleet burst: their lives interleave.
const WAVE: usize = 50;
/// The fleet recorder's writes in flight at once (`WRITES_IN_FLIGHT` in its store).
const FLEET_WRITES_IN_FLIGHT: usize = 16;
/// How long one invocation may take before the bench gives up on it.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest mappings the memory section names for each scenario.
const MAPPINGS_SHOWN: usize = 8;

/// Which function a scenario runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Function {
    AgentMonitor,
    TaskMonitor,
    FleetRecorder,
}

/// What arrives at the function. Agent monitor: events about `per_cluster[c]` instances in
/// each cluster, their agents down (`disconnected`) or connected (task churn: the recovery
/// rule's traffic). Task monitor: `per_cluster[s]` stopped tasks of each service `s` of one
/// cluster, their essential container exited 1. Fleet recorder: `per_cluster[0]` tasks,
/// each living through five events, started in waves of `WAVE` whose events interleave.
struct Scenario {
    name: &'static str,
    function: Function,
    per_cluster: &'static [usize],
    disconnected: bool,
    /// Records per invocation.
    batch: usize,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "1 disconnect",
        function: Function::AgentMonitor,
        per_cluster: &[1],
        disconnected: true,
        batch: BATCH_SIZE,
    },
    Scenario {
        name: "10 disconnects, 1 cluster",
        function: Function::AgentMonitor,
        per_cluster: &[10],
        disconnected: true,
        batch: BATCH_SIZE,
    },
    Scenario {
        name: "storm: 5 clusters x 100",
        function: Function::AgentMonitor,
        per_cluster: &[100; 5],
        disconnected: true,
        batch: BATCH_SIZE,
    },
    Scenario {
        name: "task churn: 300 reconnects",
        function: Function::AgentMonitor,
        per_cluster: &[100; 3],
        disconnected: false,
        batch: BATCH_SIZE,
    },
    Scenario {
        name: "task burst: 10 services x 100",
        function: Function::TaskMonitor,
        per_cluster: &[100; 10],
        disconnected: false,
        batch: BATCH_SIZE,
    },
    Scenario {
        name: "fleet burst: 10,000 events",
        function: Function::FleetRecorder,
        per_cluster: &[2000],
        disconnected: false,
        batch: BATCH_SIZE,
    },
    // The same events in batches of 10: memory per invocation should not follow batch size.
    Scenario {
        name: "fleet burst, batches of 10",
        function: Function::FleetRecorder,
        per_cluster: &[2000],
        disconnected: false,
        batch: 10,
    },
];

/// One run of a scenario.
struct Measured {
    invocations: usize,
    init: Duration,
    cold_answer: Duration,
    /// The emulator's own time (moto's work, not the held round trips) until the first
    /// answer: a region answers in its round trip, so this part is the emulator's, not ours.
    cold_emulator: Duration,
    /// Mean time per invocation after the first (the warm sandbox), if there was more than one.
    warm_answer: Option<Duration>,
    /// Sequential round trips of every invocation together (exact with a latency and no
    /// late answer).
    round_trips: u64,
    /// Held answers the emulator sent late (its queue outlasted the hold): the round trips
    /// are then those of uneven latencies, not the critical path.
    late_answers: u64,
    /// Spawn to the last answer.
    total: Duration,
    /// The emulator's own time over the whole run (see `cold_emulator`).
    total_emulator: Duration,
    peak_rss_kib: Option<u64>,
    /// Resident at the end: heap and stacks, and the binary's pages touched.
    anon_kib: Option<u64>,
    file_kib: Option<u64>,
    /// The same by mapping (the binary's code, data, libraries, heap), largest first.
    mappings: Vec<Resident>,
    /// CPU time the function itself used (all threads), where the system reports it.
    cpu: Option<Duration>,
    log_bytes: usize,
    calls: BTreeMap<String, u64>,
    /// Moto's work by operation over the whole run (within holds or beyond them).
    emulator_ms_by_operation: BTreeMap<String, f64>,
    messages: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.bootstrap.exists(),
        "{} does not exist: run `make bench` (it builds the release binary) or pass --bootstrap",
        args.bootstrap.display()
    );
    anyhow::ensure!(
        args.task_monitor.exists(),
        "{} does not exist: run `make bench` (it builds the release binaries) or pass --task-monitor",
        args.task_monitor.display()
    );
    anyhow::ensure!(
        args.fleet_recorder.exists(),
        "{} does not exist: run `make bench` (it builds the release binaries) or pass --fleet-recorder",
        args.fleet_recorder.display()
    );
    anyhow::ensure!(args.runs >= 1, "--runs must be at least 1");
    let size = |path: &PathBuf| -> anyhow::Result<f64> {
        Ok(std::fs::metadata(path)?.len() as f64 / 1_048_576.0)
    };
    println!(
        "agent-monitor {} ({:.1} MiB), task-monitor {} ({:.1} MiB); {} run(s) per scenario on a fresh emulator, median times",
        args.bootstrap.display(),
        size(&args.bootstrap)?,
        args.task_monitor.display(),
        size(&args.task_monitor)?,
        args.runs
    );
    println!("machine: {}", machine());
    // Moto can only start on a call within its hold.
    let moto_after_ms = args.moto_after_ms.min(args.latency_ms);
    if args.latency_ms > 0 {
        println!(
            "every AWS answer due {} ms after its call arrived (AWS-like round trips), moto at work\n\
             from {} ms into the hold; calls are exact\n",
            args.latency_ms, moto_after_ms
        );
    } else {
        println!(
            "times include the emulator's latency (moto on 127.0.0.1), not AWS's; calls are exact\n"
        );
    }

    let mut rows = Vec::new();
    for scenario in SCENARIOS {
        if let Some(only) = &args.only {
            if !scenario.name.contains(only.as_str()) {
                continue;
            }
        }
        let mut runs = Vec::new();
        for run in 0..args.runs {
            eprintln!("{}: run {} of {}", scenario.name, run + 1, args.runs);
            let binary = match scenario.function {
                Function::AgentMonitor => &args.bootstrap,
                Function::TaskMonitor => &args.task_monitor,
                Function::FleetRecorder => &args.fleet_recorder,
            };
            runs.push(
                run_once(binary, scenario, args.latency_ms, moto_after_ms)
                    .await
                    .with_context(|| format!("scenario {:?}", scenario.name))?,
            );
        }
        rows.push((scenario, runs));
    }

    println!(
        "{:<28} {:>5} {:>8} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>12} {:>10} {:>12}",
        "scenario",
        "invoc",
        "init ms",
        "cold ms",
        "net ms",
        "warm ms",
        "CPU ms",
        "RSS MiB",
        "log KiB",
        "calls/bound",
        "msgs/bound",
        "trips/bound"
    );
    let mut breakdown = Vec::new();
    let mut uneven = Vec::new();
    for (scenario, runs) in &rows {
        let last = runs.last().context("no runs")?;
        let bound = lower_bound(scenario);
        let calls: u64 = last.calls.values().sum();
        let bound_calls: u64 = bound.calls.values().sum();
        let ms = |d: Duration| format!("{:.0}", d.as_secs_f64() * 1000.0);
        let trips = if args.latency_ms > 0 {
            let late = last.late_answers;
            if late > 0 {
                uneven.push(format!(
                    "  {}: {late} of {calls} answers late",
                    scenario.name
                ));
            }
            format!(
                "{}{}/{}",
                if late > 0 { "~" } else { "" },
                last.round_trips,
                bound.round_trips
            )
        } else {
            "-".to_owned()
        };
        println!(
            "{:<28} {:>5} {:>8} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>12} {:>10} {:>12}",
            scenario.name,
            last.invocations,
            ms(median(runs.iter().map(|r| r.init))),
            ms(median(runs.iter().map(|r| r.cold_answer))),
            ms(median(
                runs.iter()
                    .map(|r| r.cold_answer.saturating_sub(r.cold_emulator))
            )),
            if runs.iter().any(|r| r.warm_answer.is_some()) {
                ms(median(runs.iter().filter_map(|r| r.warm_answer)))
            } else {
                "-".to_owned()
            },
            if runs.iter().all(|r| r.cpu.is_some()) {
                ms(median(runs.iter().filter_map(|r| r.cpu)))
            } else {
                "n/a".to_owned()
            },
            peak_mib(runs.iter().filter_map(|r| r.peak_rss_kib).max()),
            format!("{:.1}", last.log_bytes as f64 / 1024.0),
            format!("{calls}/{bound_calls}"),
            format!("{}/{}", last.messages, bound.messages),
            trips,
        );
        let differing = runs.iter().any(|r| r.calls != last.calls);
        breakdown.push(format!(
            "  {}: {}{}",
            scenario.name,
            by_operation(&last.calls, &bound.calls),
            if differing {
                "  (calls differed between runs: retries against the emulator)"
            } else {
                ""
            }
        ));
    }
    println!(
        "\ninit: spawn to the first request for work; cold: spawn to the first answer; net: cold\n\
         less the emulator's own time until then (how long answers left after they were due,\n\
         moto's work within a hold being what a region does inside its round trip), so with\n\
         --latency-ms it is the answer when every call costs exactly the hold; warm: mean time\n\
         per later invocation (same process); CPU: the function's own user+system time over the\n\
         whole run; RSS: peak resident memory; log: what it wrote to stdout (CloudWatch Logs);\n\
         bound: the batching lower bound of the cost formulas in docs/costs.md;\n\
         trips (with --latency-ms): the sequential round trips of every invocation together, as\n\
         the emulator counted them, beside the fewest the work needs"
    );
    if !uneven.is_empty() {
        println!(
            "\n~: some answers left after they were due (moto's work outlasted the hold). Calls\n\
             sent together still count as one round, but a function that sends a call as each\n\
             answer comes (the fleet recorder's writes) can chain more rounds on uneven answers\n\
             than on even ones; a longer --latency-ms lets moto keep up:"
        );
        for line in uneven {
            println!("{line}");
        }
    }
    println!("\nAWS calls by operation, measured/lower bound:");
    for line in breakdown {
        println!("{line}");
    }
    println!(
        "\nMemory resident at the end (last run): heap and stacks + the binary's pages touched:"
    );
    for (scenario, runs) in &rows {
        if let Some(last) = runs.last() {
            println!(
                "  {}: {} MiB anonymous + {} MiB file-backed",
                scenario.name,
                mib(last.anon_kib),
                mib(last.file_kib)
            );
            let rows: Vec<String> = last
                .mappings
                .iter()
                .take(MAPPINGS_SHOWN)
                .map(|r| {
                    let anonymous = if r.anonymous_kib > 0 && r.anonymous_kib < r.rss_kib {
                        format!(" ({} anonymous)", mib(Some(r.anonymous_kib)))
                    } else {
                        String::new()
                    };
                    format!("{} {}{anonymous}", r.mapping, mib(Some(r.rss_kib)))
                })
                .collect();
            println!("    by mapping, MiB: {}", rows.join(", "));
        }
    }
    println!(
        "\nMoto's work by operation (last run, ms; within a hold it costs nothing, beyond it\n\
         net leaves it out):"
    );
    for (scenario, runs) in &rows {
        if let Some(last) = runs.last() {
            let spent: Vec<String> = last
                .emulator_ms_by_operation
                .iter()
                .map(|(operation, ms)| format!("{operation} {ms:.0}"))
                .collect();
            println!("  {}: {}", scenario.name, spent.join(", "));
        }
    }
    println!("\nThroughput (records from spawn to the last answer, cold start included):");
    for (scenario, runs) in &rows {
        let records = events_of(scenario);
        let total = median(runs.iter().map(|r| r.total));
        let net = median(
            runs.iter()
                .map(|r| r.total.saturating_sub(r.total_emulator)),
        );
        println!(
            "  {}: {records} records in {:.1} s = {:.0} records/s ({:.2} s net of the emulator's own time)",
            scenario.name,
            total.as_secs_f64(),
            records as f64 / total.as_secs_f64().max(f64::EPSILON),
            net.as_secs_f64()
        );
    }
    Ok(())
}

/// One run on a fresh emulator: build the fleet, queue the batches, start the binary, time
/// every answer, read its peak memory, count the calls and the messages.
async fn run_once(
    bootstrap: &std::path::Path,
    scenario: &Scenario,
    latency_ms: u64,
    moto_after_ms: u64,
) -> anyhow::Result<Measured> {
    let emulator = Emulator::start()?;
    let sdk = emulator.sdk_config().await;
    let stack = Stack::create(&sdk, "bench").await?;
    let mut environment = BTreeMap::from([
        ("ALERT_TOPIC_ARN".to_owned(), stack.topic_arn.clone()),
        (
            "DEAD_LETTER_QUEUE_URL".to_owned(),
            stack.dead_letter_url.clone(),
        ),
        ("ALERT_TABLE_NAME".to_owned(), stack.table_name.clone()),
    ]);
    let batches = match scenario.function {
        Function::AgentMonitor => {
            let fleet = Fleet::new(&emulator, &sdk);
            let mut clusters: Vec<Vec<Member>> = Vec::new();
            for (c, count) in scenario.per_cluster.iter().enumerate() {
                let name = format!("bench-{c}");
                fleet.create_cluster(&name, &[]).await?;
                let members = fleet.add_ec2_instances(&name, *count).await?;
                if scenario.disconnected {
                    for member in &members {
                        fleet.stop_agent(member)?;
                    }
                }
                clusters.push(members);
            }
            sqs_batches(&interleave(&clusters), scenario.batch, |member| {
                fleet::state_change_event(
                    member,
                    !scenario.disconnected,
                    Vec::new(),
                    chrono::Utc::now(),
                )
            })
        }
        Function::TaskMonitor => {
            // The burst's tasks have no task definition in the emulator to find logs by.
            environment.insert("LOG_TAIL_LINES".to_owned(), "0".to_owned());
            let services: Vec<Vec<(usize, usize)>> = scenario
                .per_cluster
                .iter()
                .enumerate()
                .map(|(s, count)| (0..*count).map(|t| (s, t)).collect())
                .collect();
            sqs_batches(&interleave(&services), scenario.batch, |(service, task)| {
                stopped_task(*service, *task)
            })
        }
        Function::FleetRecorder => {
            let table = "bench-fleet";
            sentinel_emulator::stack::create_fleet_table(&sdk, table).await?;
            environment = BTreeMap::from([
                ("FLEET_TABLE_NAME".to_owned(), table.to_owned()),
                (
                    "DEAD_LETTER_QUEUE_URL".to_owned(),
                    stack.dead_letter_url.clone(),
                ),
            ]);
            sqs_batches(
                &fleet_order(scenario.per_cluster[0]),
                scenario.batch,
                |(task, step)| task_event(*task, *step),
            )
        }
    };

    emulator.reset_calls()?;
    if latency_ms > 0 {
        emulator.inject(
            &sentinel_emulator::Fault::new("*", "*", sentinel_emulator::FaultKind::Latency)
                .latency_ms(latency_ms)
                .moto_after_ms(moto_after_ms),
        )?;
    }
    let invocations = batches.len();
    let api = RuntimeApi::serve_all(batches)?;
    let spawned = Instant::now();
    let mut child = function_command(bootstrap, &api.address, emulator.endpoint(), &environment)
        .spawn()
        .with_context(|| format!("starting {}", bootstrap.display()))?;
    // Drain the function's output as Lambda does, so a full pipe never stalls it.
    let stdout = child.stdout.take().map(|mut out| {
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = out.read_to_end(&mut sink);
            sink.len()
        })
    });
    let stderr = child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        })
    });

    let mut answers = Vec::with_capacity(invocations);
    let mut cold_emulator = None;
    let mut failure = None;
    for n in 0..invocations {
        match api.next_post(ANSWER_TIMEOUT) {
            Some(posted) if posted.is_response_to(n) => {
                let answer: serde_json::Value = serde_json::from_str(&posted.body)?;
                if answer != serde_json::json!({"batchItemFailures": []}) {
                    failure = Some(format!("invocation {n} answered {answer}"));
                    break;
                }
                if n == 0 {
                    cold_emulator = Some(emulator.counters()?.busy());
                }
                answers.push(posted.at);
            }
            Some(posted) => {
                failure = Some(format!(
                    "invocation {n}: posted to {}: {}",
                    posted.path, posted.body
                ));
                break;
            }
            None => {
                failure = Some(format!(
                    "invocation {n}: no answer within {ANSWER_TIMEOUT:?}"
                ));
                break;
            }
        }
    }
    let peak_rss_kib = peak_rss_kib(child.id());
    let (anon_kib, file_kib) = (
        status_kib(child.id(), "RssAnon"),
        status_kib(child.id(), "RssFile"),
    );
    let mappings = resident_by_mapping(child.id()).unwrap_or_default();
    let cpu = cpu_time(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let log_bytes = stdout.and_then(|t| t.join().ok()).unwrap_or_default();
    if let Some(failure) = failure {
        let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
        anyhow::bail!("{failure}\nstderr:\n{stderr}");
    }

    let counters = emulator.counters()?;
    let first = *answers.first().context("no answers")?;
    let last = *answers.last().context("no answers")?;
    let init = api
        .first_poll()
        .context("the function never asked for work")?
        - spawned;
    Ok(Measured {
        invocations,
        init,
        cold_answer: first - spawned,
        warm_answer: (invocations > 1).then(|| (last - first) / (invocations as u32 - 1)),
        total: last - spawned,
        total_emulator: counters.busy(),
        peak_rss_kib,
        anon_kib,
        file_kib,
        mappings,
        cpu,
        log_bytes,
        cold_emulator: cold_emulator.unwrap_or_default(),
        calls: counters.calls,
        round_trips: counters.round_trips,
        late_answers: counters.late_answers,
        emulator_ms_by_operation: counters.busy_ms_by_operation,
        messages: stack.drain_inbox().await?.len(),
    })
}

/// KiB as MiB with one decimal, or "n/a" where the system does not report it.
fn mib(kib: Option<u64>) -> String {
    mib_to(kib, 1)
}

/// The peak column: two decimals, so a figure beside a goal (10 MiB) is not rounded onto it.
fn peak_mib(kib: Option<u64>) -> String {
    mib_to(kib, 2)
}

fn mib_to(kib: Option<u64>, decimals: usize) -> String {
    kib.map(|k| format!("{:.decimals$}", k as f64 / 1024.0))
        .unwrap_or_else(|| "n/a".to_owned())
}

/// Events as a storm delivers them: the clusters' (or services') members take turns, so
/// every batch holds some of each (the costly order: one message per group and batch).
fn interleave<T: Clone>(groups: &[Vec<T>]) -> Vec<T> {
    let longest = groups.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|i| groups.iter().filter_map(move |members| members.get(i)))
        .cloned()
        .collect()
}

/// The SQS events Lambda would hand over: `BATCH_SIZE` records each, the bodies made by
/// `event`.
fn sqs_batches<T>(
    members: &[T],
    batch: usize,
    event: impl Fn(&T) -> serde_json::Value,
) -> Vec<String> {
    members
        .chunks(batch)
        .map(|chunk| {
            let records: Vec<SqsMessage> = chunk
                .iter()
                .enumerate()
                .map(|(i, member)| {
                    let mut record = SqsMessage::default();
                    record.message_id = Some(format!("bench-{i}"));
                    record.receipt_handle = Some(format!("handle-{i}"));
                    record.event_source = Some("aws:sqs".into());
                    record.body = Some(event(member).to_string());
                    record
                })
                .collect();
            serde_json::json!({ "Records": records }).to_string()
        })
        .collect()
}

/// How many records a scenario sends.
fn events_of(scenario: &Scenario) -> usize {
    let units: usize = scenario.per_cluster.iter().sum();
    match scenario.function {
        Function::FleetRecorder => units * TASK_LIFE.len(),
        Function::AgentMonitor | Function::TaskMonitor => units,
    }
}

/// (task, step of its life) in the order the fleet burst sends them: waves of `WAVE` tasks,
/// each wave's lives interleaved (every task's first event, then every task's second, …).
fn fleet_order(tasks: usize) -> Vec<(usize, usize)> {
    (0..tasks)
        .collect::<Vec<_>>()
        .chunks(WAVE)
        .flat_map(|wave| {
            (0..TASK_LIFE.len()).flat_map(move |step| wave.iter().map(move |task| (*task, step)))
        })
        .collect()
}

/// Step `step` of task `task`'s life in cluster `bench`.
fn task_event(task: usize, step: usize) -> serde_json::Value {
    let account = sentinel_emulator::ACCOUNT;
    let region = sentinel_emulator::REGION;
    let (status, version) = TASK_LIFE[step % TASK_LIFE.len()];
    let mut detail = serde_json::json!({
        "clusterArn": format!("arn:aws:ecs:{region}:{account}:cluster/bench"),
        "taskArn": format!("arn:aws:ecs:{region}:{account}:task/bench/{task:032x}"),
        "taskDefinitionArn": format!("arn:aws:ecs:{region}:{account}:task-definition/svc:1"),
        "group": format!("service:svc-{}", task % 20),
        "lastStatus": status, "desiredStatus": if status == "STOPPED" { "STOPPED" } else { "RUNNING" },
        "version": version, "launchType": "FARGATE",
        "updatedAt": chrono::Utc::now().to_rfc3339(),
        "containers": [{"name": "app", "lastStatus": status}]
    });
    if status == "STOPPED" {
        detail["stopCode"] = "EssentialContainerExited".into();
        detail["stoppedReason"] = "Essential container in task exited".into();
        detail["stoppedAt"] = chrono::Utc::now().to_rfc3339().into();
        detail["containers"][0]["exitCode"] = 0.into();
    }
    serde_json::json!({
        "version": "0", "id": format!("life-{task}-{step}"), "detail-type": "ECS Task State Change",
        "source": "aws.ecs", "account": account, "region": region,
        "time": chrono::Utc::now().to_rfc3339(), "detail": detail
    })
}

/// Task `task` of service `svc-<service>` in cluster `bench`: its essential container exited 1.
fn stopped_task(service: usize, task: usize) -> serde_json::Value {
    let account = sentinel_emulator::ACCOUNT;
    let region = sentinel_emulator::REGION;
    serde_json::json!({
        "version": "0", "id": format!("stop-{service}-{task}"), "detail-type": "ECS Task State Change",
        "source": "aws.ecs", "account": account, "region": region,
        "time": chrono::Utc::now().to_rfc3339(),
        "detail": {
            "clusterArn": format!("arn:aws:ecs:{region}:{account}:cluster/bench"),
            "taskArn": format!("arn:aws:ecs:{region}:{account}:task/bench/{service:04x}{task:028x}"),
            "taskDefinitionArn": format!("arn:aws:ecs:{region}:{account}:task-definition/svc-{service}:1"),
            "group": format!("service:svc-{service}"),
            "lastStatus": "STOPPED", "version": 2,
            "stopCode": "EssentialContainerExited",
            "stoppedReason": "Essential container in task exited",
            "containers": [{"name": "app", "exitCode": 1}]
        }
    })
}

struct Bound {
    calls: BTreeMap<String, u64>,
    messages: usize,
    /// Sequential round trips of every invocation together, at best: in each, the lookups
    /// that do not depend on each other in one round, then each write and publish that must
    /// wait for the one before.
    round_trips: usize,
}

/// The batching lower bound of a scenario, by the formula in docs/costs.md ("Cost per batch in
/// AWS calls") for EC2 instances in all-clusters mode: per batch one read per 100 instances;
/// for disconnects one DescribeContainerInstances per cluster and 100, one DescribeInstances
/// per 1000, the claims in one write per 100, one message per cluster, and the record of
/// every message sent in one write per 100 (a lone write is a PutItem). Reconnects with
/// no open episode cost the read only.
fn lower_bound(scenario: &Scenario) -> Bound {
    match scenario.function {
        Function::TaskMonitor => return task_lower_bound(scenario),
        Function::FleetRecorder => return fleet_lower_bound(scenario),
        Function::AgentMonitor => {}
    }
    let mut calls = BTreeMap::new();
    let mut add = |operation: &str, n: usize| {
        if n > 0 {
            *calls.entry(operation.to_owned()).or_insert(0) += n as u64;
        }
    };
    let mut messages = 0;
    // Which cluster each event of the interleaved order belongs to.
    let longest = scenario.per_cluster.iter().copied().max().unwrap_or(0);
    let order: Vec<usize> = (0..longest)
        .flat_map(|i| (0..scenario.per_cluster.len()).filter(move |c| i < scenario.per_cluster[*c]))
        .collect();
    let writes = |n: usize| {
        (
            n.div_ceil(100),
            if n == 1 {
                "dynamodb.PutItem"
            } else {
                "dynamodb.TransactWriteItems"
            },
        )
    };
    for batch in order.chunks(BATCH_SIZE) {
        add("dynamodb.BatchGetItem", batch.len().div_ceil(100));
        if !scenario.disconnected {
            continue;
        }
        let mut per_cluster: BTreeMap<usize, usize> = BTreeMap::new();
        for c in batch {
            *per_cluster.entry(*c).or_insert(0) += 1;
        }
        for n in per_cluster.values() {
            add("ecs.DescribeContainerInstances", n.div_ceil(100));
        }
        add("ec2.DescribeInstances", batch.len().div_ceil(1000));
        let (claims, operation) = writes(batch.len());
        add(operation, claims);
        // Every message's episodes recorded sent, all messages of the batch in one go.
        let (records, operation) = writes(batch.len());
        add(operation, records);
        add("sns.Publish", per_cluster.len());
        messages += per_cluster.len();
    }
    // Disconnects: one round of lookups (episodes, container instances, EC2 by the id the
    // event carries), the claim, the publish, the record. Reconnects of instances without an
    // episode: the episode read alone.
    let per_batch = if scenario.disconnected { 4 } else { 1 };
    let round_trips = per_batch * order.len().div_ceil(BATCH_SIZE);
    Bound {
        calls,
        messages,
        round_trips,
    }
}

/// The task monitor's lower bound (docs/task-monitor.md, issue 10): per batch one read per
/// 100 episode keys and one write for every episode it changes (claims in the first batch,
/// then the new counts); one message per service, and one write recording them sent. A lone
/// write is a PutItem.
fn task_lower_bound(scenario: &Scenario) -> Bound {
    let services = scenario.per_cluster.len();
    let batches = scenario
        .per_cluster
        .iter()
        .sum::<usize>()
        .div_ceil(BATCH_SIZE);
    let mut calls = BTreeMap::new();
    let write = |n: usize| {
        if n == 1 {
            "dynamodb.PutItem"
        } else {
            "dynamodb.TransactWriteItems"
        }
    };
    calls.insert(
        "dynamodb.BatchGetItem".to_owned(),
        (batches * services.div_ceil(100)) as u64,
    );
    // Every batch holds every service (interleaved): each batch writes once per 100 services;
    // the first also records its messages sent.
    *calls.entry(write(services).to_owned()).or_insert(0) +=
        ((batches + 1) * services.div_ceil(100)) as u64;
    calls.insert("sns.Publish".to_owned(), services as u64);
    Bound {
        calls,
        messages: services,
        // The first batch: the episodes' read, the claim, the publish, the record; each
        // later one (new counts, no reminder due yet): the read and the write.
        round_trips: 4 + 2 * batches.saturating_sub(1),
    }
}

/// The fleet recorder's bound (docs/fleet.md): one conditional write per distinct key
/// per batch, nothing else.
fn fleet_lower_bound(scenario: &Scenario) -> Bound {
    let keys: Vec<usize> = fleet_order(scenario.per_cluster[0])
        .chunks(scenario.batch)
        .map(|batch| {
            batch
                .iter()
                .map(|(task, _)| *task)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        })
        .collect();
    Bound {
        calls: BTreeMap::from([(
            "dynamodb.PutItem".to_owned(),
            keys.iter().sum::<usize>() as u64,
        )]),
        messages: 0,
        // Every key's conditional write at once, in rounds of the writes the recorder keeps
        // in flight (`WRITES_IN_FLIGHT` in crates/fleet-recorder/src/store.rs).
        round_trips: keys
            .iter()
            .map(|k| k.div_ceil(FLEET_WRITES_IN_FLIGHT))
            .sum(),
    }
}

fn by_operation(measured: &BTreeMap<String, u64>, bound: &BTreeMap<String, u64>) -> String {
    let mut operations: Vec<&String> = measured.keys().chain(bound.keys()).collect();
    operations.sort();
    operations.dedup();
    operations
        .into_iter()
        .map(|op| {
            format!(
                "{op} {}/{}",
                measured.get(op).copied().unwrap_or(0),
                bound.get(op).copied().unwrap_or(0)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// User + system CPU time of a running process and all its threads, from `/proc/<pid>/stat`
/// (in clock ticks of 1/100 s, Linux's USER_HZ on every architecture Lambda runs).
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after its ')' are fixed.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    // utime and stime are fields 14 and 15 of the line; field 3 is the first after the name.
    Some(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

fn median(values: impl Iterator<Item = Duration>) -> Duration {
    let mut values: Vec<Duration> = values.collect();
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Cores and CPU model, for the numbers' context.
fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{cores} cores, {model}, {}", std::env::consts::ARCH)
}
