//! `sentinel-demo` (`make demo`): the deployed pipeline, on this machine, with no AWS account.
//! Dev-only: it links the emulator harness, which the operator CLI never does.
//!
//! Starts the AWS emulator and wires the stack's messaging the way `template.yaml` does (the
//! rules' patterns and the redrive are read from the template). Then five acts:
//!
//! 1. Disconnects: six agents stop; one reconnects inside the grace period, one instance is
//!    terminated, one cluster is not monitored, and a corrupted message slips in. After the
//!    grace period the delay queue is drained through the same handler code the Lambda runs.
//! 2. Recovery: an alerted agent comes back; its reconnect event resolves the episode.
//! 3. Sweep: an agent stops and its event is lost; the reconciliation sweep reports gauges,
//!    notices it, and alerts once the grace period has passed.
//! 4. Tasks ([`tasks`]): a service crash-loops (one page with its log tail), its deployment
//!    fails, then it settles (RESOLVED).
//! 5. Archive ([`archive`]): every event of the acts was logged and recorded as it happened;
//!    the fleet recorder's table and the event log, shown through the operator commands.

mod archive;
mod tasks;

use agent_monitor::config::{self, Config};
use agent_monitor::report::batch_lines;
use agent_monitor::{BatchReport, Clients, Monitor};
use anyhow::Context;
use clap::Parser;
use sentinel_emulator::fleet::{Fleet, Member};
use sentinel_emulator::stack::Stack;
use sentinel_emulator::QueuePoller;
use sentinel_emulator::{template, Emulator, REGION};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const TAG_KEY: &str = "ecs-agent-monitoring";
const TAG_VALUE: &str = "enabled";
/// Locally a failed record comes back after 5 s (the stack's queues use 6 x the function
/// timeout).
const VISIBILITY: Duration = Duration::from_secs(5);
const INDENT: &str = "                ";

struct Timeline(Instant);

impl Timeline {
    fn say(&self, what: &str, text: impl AsRef<str>) {
        println!(
            "[{:>5.1}s] {what:<13} {}",
            self.0.elapsed().as_secs_f64(),
            text.as_ref()
        );
    }

    fn act(&self, title: &str) {
        println!("\n── {title} ──");
    }
}

/// What the run produced, for the closing sections.
#[derive(Default)]
struct Collected {
    emails: Vec<(String, String)>,
    metrics: Vec<String>,
}

impl Collected {
    fn add(&mut self, report: &BatchReport) {
        for p in &report.published {
            self.emails.push((p.alert.subject(), p.alert.text()));
        }
        for r in &report.resolved {
            self.emails.push((r.resolved.subject(), r.resolved.text()));
        }
        self.metrics
            .extend(report.metrics.iter().map(|m| m.to_emf()));
    }
}

/// Run the agent-monitor and task-monitor pipelines locally against the AWS emulator.
#[derive(Parser)]
#[command(name = "sentinel-demo", version)]
struct Args {
    /// Delay queue grace period for the demo (the stack's default is 60 s).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=900))]
    grace_seconds: u64,
    /// Show the pipeline's own logs (info level); RUST_LOG overrides.
    #[arg(short, long)]
    verbose: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    sentinel_lambda::logging::init_terminal(args.verbose);
    match run(args.grace_seconds).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(grace_seconds: u64) -> anyhow::Result<()> {
    let t = Timeline(Instant::now());
    let grace = Duration::from_secs(grace_seconds);
    println!(
        "ecs-sentinel demo: the agent-monitor and task-monitor pipelines against the AWS emulator (no AWS account)\n"
    );

    let emulator = Emulator::start().context("starting the AWS emulator")?;
    let sdk = emulator.sdk_config().await;
    t.say(
        "emulator",
        format!("moto on {} (127.0.0.1 only)", emulator.endpoint()),
    );

    let facts = template::read(&sentinel_emulator::repo_root().join("template.yaml"))?;
    let stack = Stack::create(&sdk, "ecs-sentinel").await?;
    let max_receives = facts.max_receive_count;
    let delay = stack
        .add_rule_queue(
            "ecs-sentinel-delay",
            std::slice::from_ref(&facts.disconnect_pattern),
            grace,
            VISIBILITY,
            max_receives,
        )
        .await?;
    let recovery = stack
        .add_rule_queue(
            "ecs-sentinel-recovery",
            &facts.recovery_patterns,
            Duration::ZERO,
            VISIBILITY,
            max_receives,
        )
        .await?;
    t.say(
        "stack",
        format!(
            "disconnect rule -> delay queue ({grace_seconds} s grace; the stack's default is {} s); reconnect and deregistration rules -> recovery queue; both -> handler -> alert table + topic -> inbox queue; dead-letter queue after {max_receives} receives (rule patterns from template.yaml)",
            facts.default_grace_period_seconds
        ),
    );
    let archive = archive::Archive::set_up(&t, &sdk, &stack, &facts).await?;
    let chat = chat_topic(&sdk, &stack).await?;
    t.say(
        "chat",
        "ChatNotifications=Enabled: every notification also goes to a chat topic as an Amazon Q Developer custom notification (a queue stands in for the Slack channel)",
    );

    let fleet = Fleet::new(&emulator, &sdk);
    fleet
        .create_cluster("payments-prod", &[(TAG_KEY, TAG_VALUE)])
        .await?;
    fleet
        .create_cluster("edge-sites", &[(TAG_KEY, TAG_VALUE)])
        .await?;
    fleet.create_cluster("sandbox", &[]).await?;
    let payments = fleet.add_ec2_instances("payments-prod", 4).await?;
    // moto describes a cluster only once it has had an EC2 registration.
    fleet.add_ec2_instances("edge-sites", 1).await?;
    let edge_online = fleet.add_anywhere_node("edge-sites", "mi-0a1b2c3d4e5f60718", "Online")?;
    let edge_lost =
        fleet.add_anywhere_node("edge-sites", "mi-0f9e8d7c6b5a40312", "ConnectionLost")?;
    let sandbox = fleet.add_ec2_instances("sandbox", 1).await?;
    t.say(
        "fleet",
        format!("payments-prod ({TAG_KEY}={TAG_VALUE}): 4 EC2 instances"),
    );
    t.say(
        "",
        format!("edge-sites ({TAG_KEY}={TAG_VALUE}): 1 EC2 instance, 2 ECS Anywhere nodes"),
    );
    t.say("", "sandbox (untagged, so not monitored): 1 EC2 instance");

    let [stays_down, reconnects, terminated, lost_event] = payments.as_slice() else {
        anyhow::bail!("expected 4 payments-prod instances");
    };
    let sandbox = sandbox.first().context("sandbox instance")?;
    let monitor = Monitor::new(
        Clients::from_sdk_config(&sdk),
        demo_config(&stack, &chat, grace_seconds)?,
    )?;
    let delay_poller =
        QueuePoller::new(stack.sqs.clone(), &delay.url, &delay.arn, REGION).wait_seconds(2);
    let recovery_poller =
        QueuePoller::new(stack.sqs.clone(), &recovery.url, &recovery.arn, REGION).wait_seconds(1);
    let mut collected = Collected::default();

    // ── Act 1 ──
    t.act("act 1: agents disconnect");
    let stopped: Vec<(&Member, &str)> = vec![
        (stays_down, "stays down"),
        (reconnects, "will reconnect within the grace period"),
        (terminated, "will be terminated (scale-in)"),
        (&edge_online, "SSM ping Online: the server is up"),
        (
            &edge_lost,
            "SSM ping ConnectionLost: the server is unreachable",
        ),
        (sandbox, "cluster not monitored"),
    ];
    let now = chrono::Utc::now();
    let mut events = Vec::new();
    for (member, note) in &stopped {
        fleet.stop_agent(member)?;
        events.push(fleet.state_change_event(member, false, now).await?);
        t.say(
            "agent down",
            format!("{} ({}): {note}", member.node_id, member.cluster),
        );
    }
    stack.put_events(&events).await?;
    t.say(
        "eventbridge",
        format!(
            "{} disconnect events published; the rule passes them to the delay queue",
            events.len()
        ),
    );
    stack
        .sqs
        .send_message()
        .queue_url(&delay.url)
        .message_body("{\"detail-type\": \"corrupted in transit\"")
        .send()
        .await
        .context("sending the corrupted message")?;
    t.say("sqs", "1 corrupted message lands in the delay queue too");
    tokio::time::sleep(grace.min(Duration::from_secs(3))).await;
    fleet.terminate(terminated).await?;
    t.say("terminated", terminated.node_id.clone());
    // Its reconnect event goes to the recovery queue; with no episode there is nothing to do.
    let recovery = Recovery {
        t: &t,
        fleet: &fleet,
        stack: &stack,
        poller: &recovery_poller,
        monitor: &monitor,
    };
    recovery.agent_back(reconnects, &mut collected).await?;
    t.say(
        "waiting",
        format!("for the grace period ({grace_seconds} s) to release the batch"),
    );
    emulator.reset_calls()?;
    drain(
        &t,
        &delay_poller,
        &monitor,
        stopped.len() + 1,
        "delay",
        &mut collected,
    )
    .await?;
    print_calls(&emulator)?;
    show_chat(&t, &chat).await?;

    // ── Act 2 ──
    t.act("act 2: an alerted agent comes back");
    recovery.agent_back(stays_down, &mut collected).await?;
    show_chat(&t, &chat).await?;

    // ── Act 3 ──
    t.act("act 3: an event is lost, the sweep finds it");
    fleet.stop_agent(lost_event)?;
    t.say(
        "agent down",
        format!(
            "{} (payments-prod): its event never arrives",
            lost_event.node_id
        ),
    );
    let first = monitor.sweep().await;
    t.say(
        "sweep",
        "gauges (CloudWatch metrics DisconnectedAgents / ConnectedAgents per cluster):",
    );
    for g in &first.gauges {
        println!(
            "{INDENT}{:<14} connected {:>2}   disconnected {:>2}",
            g.cluster, g.connected, g.disconnected
        );
    }
    t.say(
        "sweep",
        format!(
            "{} first seen down: suspected, alerted if still down after the grace period",
            lost_event.node_id
        ),
    );
    tokio::time::sleep(grace).await;
    let second = monitor.sweep().await;
    for p in &second.published {
        let nodes: Vec<&str> = p
            .alert
            .instances
            .iter()
            .map(|i| i.node_id.as_str())
            .collect();
        t.say(
            "sweep",
            format!("alert {}: {}", p.alert.cluster_name(), nodes.join(", ")),
        );
        collected.emails.push((p.alert.subject(), p.alert.text()));
    }
    collected
        .metrics
        .extend(second.metrics.iter().map(|m| m.to_emf()));
    show_chat(&t, &chat).await?;

    // ── Act 4 ──
    t.act("act 4: a service crash-loops, its deployment fails, it recovers (task monitor)");
    tasks::TaskAct {
        t: &t,
        sdk: &sdk,
        emulator: &emulator,
        stack: &stack,
        facts: &facts,
        visibility: VISIBILITY,
        chat_topic: &chat.topic_arn,
    }
    .run(&mut collected)
    .await?;
    show_chat(&t, &chat).await?;

    // ── Act 5 ──
    t.act("act 5: what ECS forgets in an hour, kept (event archive, fleet recorder, operator commands)");
    archive.show(&t, &sdk, &stack).await?;

    // ── What came out ──
    let inbox = stack.drain_inbox().await?;
    let parked = stack.drain_dead_letters().await?;
    println!(
        "\n──── the topic's {} messages, as an SQS subscriber received them ────",
        inbox.len()
    );
    for alert in &inbox {
        let attribute = |name: &str| {
            alert.attributes[name]["Value"]
                .as_str()
                .map(|value| format!(" {name}={value}"))
                .unwrap_or_default()
        };
        println!(
            "{}\n    attributes:{}{}{}{}{}",
            alert.subject,
            attribute("monitor"),
            attribute("cluster"),
            attribute("service"),
            attribute("kind"),
            attribute("severity"),
        );
    }
    if let Some(first) = inbox.first() {
        println!(
            "\n──── the first message's JSON document (SQS, Lambda and HTTPS subscribers) ────\n{}",
            serde_json::to_string_pretty(&first.document)?
        );
    }
    for (subject, text) in &collected.emails {
        println!("\n──── email: {subject} ────\n{text}");
    }
    for letter in &parked {
        println!(
            "\n──── dead-letter queue ────\nreason: {} ({})\nbody:   {}",
            letter.reason, letter.reason_code, letter.body
        );
    }
    println!("\n──── metrics (CloudWatch EMF lines the Lambda prints) ────");
    for line in &collected.metrics {
        println!("{line}");
    }
    println!(
        "\ndone in {:.1} s: {} messages on the topic, {} record(s) in the dead-letter queue",
        t.0.elapsed().as_secs_f64(),
        inbox.len(),
        parked.len()
    );
    Ok(())
}

/// The recovery leg: an agent comes back, ECS says so, the recovery queue is drained.
struct Recovery<'a> {
    t: &'a Timeline,
    fleet: &'a Fleet<'a>,
    stack: &'a Stack,
    poller: &'a QueuePoller,
    monitor: &'a Monitor,
}

impl Recovery<'_> {
    async fn agent_back(&self, member: &Member, collected: &mut Collected) -> anyhow::Result<()> {
        self.fleet.start_agent(member)?;
        let back = self
            .fleet
            .state_change_event(member, true, chrono::Utc::now())
            .await?;
        self.stack.put_events(&[back]).await?;
        self.t.say(
            "agent up",
            format!(
                "{} reconnected; its event goes to the recovery queue (no delay)",
                member.node_id
            ),
        );
        drain(self.t, self.poller, self.monitor, 1, "recovery", collected).await
    }
}

/// Runs the local event source until `expected` records were handled (deleted).
async fn drain(
    t: &Timeline,
    poller: &QueuePoller,
    monitor: &Monitor,
    expected: usize,
    queue: &str,
    collected: &mut Collected,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut handled = 0;
    while handled < expected {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {handled} of {expected} records of the {queue} queue were handled in time"
        );
        let Some(poll) = poller.poll_once(monitor).await? else {
            continue;
        };
        handled += poll.deleted.len();
        let report = &poll.report;
        t.say(
            &format!("{queue} batch"),
            format!(
                "{} records: {} alert(s), {} resolved, {} skipped, {} ignored reconnects, {} parked, {} to retry",
                report.received,
                report.published.len(),
                report.resolved.len(),
                report.skipped.len(),
                report.ignored_reconnects,
                report.dead_lettered.len(),
                report.failed_record_ids.len(),
            ),
        );
        for line in batch_lines(report, INDENT) {
            println!("{line}");
        }
        collected.add(report);
    }
    Ok(())
}

fn print_calls(emulator: &Emulator) -> anyhow::Result<()> {
    let calls: HashMap<String, u64> = emulator.calls()?.into_iter().collect();
    let mut counted: Vec<String> = calls
        .iter()
        .filter(|(op, _)| {
            !op.starts_with("sqs.ReceiveMessage") && !op.starts_with("sqs.DeleteMessage")
        })
        .map(|(op, n)| format!("{op}={n}"))
        .collect();
    counted.sort();
    println!(
        "{INDENT}AWS calls by the handler for that batch (emulator counter): {}",
        counted.join(" ")
    );
    Ok(())
}

/// A chat topic with a queue subscribed, standing in for a Slack channel.
async fn chat_topic(sdk: &aws_config::SdkConfig, stack: &Stack) -> anyhow::Result<Stack> {
    let topic = aws_sdk_sns::Client::new(sdk)
        .create_topic()
        .name("ecs-sentinel-chat")
        .send()
        .await
        .context("creating the chat topic")?
        .topic_arn()
        .unwrap_or_default()
        .to_owned();
    Ok(Stack::adopt(
        sdk,
        "ecs-sentinel-chat",
        topic,
        stack.dead_letter_url.clone(),
        stack.table_name.clone(),
    )
    .await?)
}

/// The act's chat messages: how many, and the first one as a chat channel renders it.
async fn show_chat(t: &Timeline, chat: &Stack) -> anyhow::Result<()> {
    let messages = chat.drain_inbox().await?;
    let Some(first) = messages.first() else {
        t.say("chat", "no chat message in this act");
        return Ok(());
    };
    let doc = &first.document;
    sentinel_core::chat::validate(doc).map_err(anyhow::Error::msg)?;
    t.say(
        "chat",
        format!(
            "{} chat message{} (custom notifications); the first, as the channel shows it:",
            messages.len(),
            if messages.len() == 1 { "" } else { "s" }
        ),
    );
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    println!("{INDENT}┃ {}", text(&doc["content"]["title"]));
    for line in text(&doc["content"]["description"]).lines() {
        println!("{INDENT}┃ {line}");
    }
    for step in doc["content"]["nextSteps"].as_array().into_iter().flatten() {
        println!("{INDENT}┃ → {}", text(step));
    }
    let keywords: Vec<String> = doc["content"]["keywords"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    println!(
        "{INDENT}┃ [{}]  thread {}",
        keywords.join("] ["),
        text(&doc["metadata"]["threadId"])
    );
    Ok(())
}

/// The demo monitors tagged clusters only, so the untagged sandbox shows a skip, and runs
/// remediation (restart-agent) as a dry run.
fn demo_config(stack: &Stack, chat: &Stack, grace_seconds: u64) -> anyhow::Result<Config> {
    let env: HashMap<&str, String> = HashMap::from([
        (config::ALERT_TOPIC_ARN, stack.topic_arn.clone()),
        (config::CHAT_TOPIC_ARN, chat.topic_arn.clone()),
        (config::DEAD_LETTER_QUEUE_URL, stack.dead_letter_url.clone()),
        (config::ALERT_TABLE_NAME, stack.table_name.clone()),
        (config::GRACE_PERIOD_SECONDS, grace_seconds.to_string()),
        (config::MONITOR_ALL_CLUSTERS, "false".to_owned()),
        (config::MONITORING_TAG_VALUE, TAG_VALUE.to_owned()),
        (config::CUSTOM_ACTIONS, "log-nodes".to_owned()),
        // Shows what remediation would do, without doing it.
        (config::REMEDIATION_ACTION, "restart-agent".to_owned()),
        (config::REMEDIATION_DRY_RUN, "true".to_owned()),
    ]);
    Ok(Config::from_lookup(|name| env.get(name).cloned())?)
}
