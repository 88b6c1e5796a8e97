//! `ecs-sentinel demo`: the deployed pipeline, on this machine, with no AWS account.
//!
//! Starts the AWS emulator, wires the stack's messaging the way `template.yaml` does (the
//! rule's pattern and the redrive are read from the template), builds three clusters, stops
//! some agents, lets normal fleet life happen inside the grace period, then drains the delay
//! queue through the same handler code the Lambda runs and prints what came out.

use crate::report::print_batch;
use agent_monitor::config::{self, Config};
use agent_monitor::{Clients, Monitor, QueuePoller};
use anyhow::Context;
use sentinel_emulator::fleet::{Fleet, Member};
use sentinel_emulator::stack::Stack;
use sentinel_emulator::{template, Emulator, REGION};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const TAG_KEY: &str = "ecs-agent-monitoring";
const TAG_VALUE: &str = "enabled";

struct Timeline(Instant);

impl Timeline {
    fn say(&self, what: &str, text: impl AsRef<str>) {
        println!(
            "[{:>5.1}s] {what:<13} {}",
            self.0.elapsed().as_secs_f64(),
            text.as_ref()
        );
    }
}

pub async fn run(grace_seconds: u64) -> anyhow::Result<()> {
    let t = Timeline(Instant::now());
    println!(
        "ecs-sentinel demo: the agent-monitor pipeline against the AWS emulator (no AWS account)\n"
    );

    let emulator = Emulator::start().context("starting the AWS emulator")?;
    let sdk = emulator.sdk_config().await;
    t.say(
        "emulator",
        format!("moto on {} (127.0.0.1 only)", emulator.endpoint()),
    );

    let root = sentinel_emulator::repo_root();
    let facts = template::read(&root.join("template.yaml"))?;
    let stack = Stack::create(&sdk, "ecs-sentinel").await?;
    // As in the template: the Lambda's visibility timeout is 6 x its timeout; locally a short
    // one lets a failed record come back quickly.
    let delay = stack
        .add_delay_queue(
            "ecs-sentinel",
            &facts.disconnect_pattern,
            Duration::from_secs(grace_seconds),
            Duration::from_secs(5),
            facts.max_receive_count,
        )
        .await?;
    t.say(
        "stack",
        format!(
            "rule {} (pattern from template.yaml) -> delay queue ({grace_seconds} s grace; the stack's default is {} s) -> handler -> topic -> inbox queue; dead-letter queue after {} receives",
            delay.rule_name, facts.default_grace_period_seconds, facts.max_receive_count
        ),
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

    let [stays_down, reconnects, terminated, _healthy] = payments.as_slice() else {
        anyhow::bail!("expected 4 payments-prod instances");
    };
    let sandbox = sandbox.first().context("sandbox instance")?;
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
    // A reconnect event is published too: the rule must not let it through.
    let healthy_event = fleet.state_change_event(&payments[3], true, now).await?;
    events.push(healthy_event);
    stack.put_events(&events).await?;
    t.say(
        "eventbridge",
        format!(
            "{} events published; the rule passes the {} disconnects to the delay queue",
            events.len(),
            stopped.len()
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
    t.say(
        "sqs",
        "1 corrupted message lands in the delay queue as well",
    );

    tokio::time::sleep(Duration::from_secs(grace_seconds.min(3))).await;
    fleet.start_agent(reconnects)?;
    t.say("agent up", format!("{} reconnected", reconnects.node_id));
    fleet.terminate(terminated).await?;
    t.say("terminated", terminated.node_id.clone());

    let monitor = Monitor::new(Clients::from_sdk_config(&sdk), demo_config(&stack)?)?;
    let poller =
        QueuePoller::new(stack.sqs.clone(), &delay.url, &delay.arn, REGION).wait_seconds(2);
    t.say(
        "waiting",
        format!("for the grace period ({grace_seconds} s) to release the batch"),
    );
    // From here on the counter sees only what the handler (and the local event source) call.
    emulator.reset_calls()?;
    let expected = stopped.len() + 1;
    let mut handled = 0;
    let mut batch = 0;
    let deadline = Instant::now() + Duration::from_secs(grace_seconds + 60);
    let mut metrics = Vec::new();
    let mut email_texts = Vec::new();
    while handled < expected && Instant::now() < deadline {
        let Some(poll) = poller.poll_once(&monitor).await? else {
            continue;
        };
        batch += 1;
        handled += poll.deleted;
        let report = &poll.report;
        t.say(
            &format!("batch {batch}"),
            format!(
                "{} records: {} alert message(s), {} skipped, {} parked, {} to retry; {} deleted from the queue",
                report.received,
                report.published.len(),
                report.skipped.len(),
                report.dead_lettered.len(),
                report.failed_record_ids.len(),
                poll.deleted
            ),
        );
        print_batch(report, "                ");
        metrics.extend(report.metrics.iter().map(|m| m.to_emf()));
        email_texts.extend(report.published.iter().map(|p| p.alert.text()));
    }
    anyhow::ensure!(
        handled == expected,
        "only {handled} of {expected} records were handled before the deadline"
    );

    let inbox = stack.drain_inbox().await?;
    let parked = stack.drain_dead_letters().await?;
    t.say(
        "done",
        format!(
            "{} alert message(s) on the topic, {} record(s) in the dead-letter queue",
            inbox.len(),
            parked.len()
        ),
    );
    let calls: HashMap<String, u64> = emulator.calls()?.into_iter().collect();
    let lookups: Vec<String> = [
        "ecs.DescribeClusters",
        "ecs.DescribeContainerInstances",
        "ec2.DescribeInstances",
        "ssm.DescribeInstanceInformation",
        "sns.Publish",
        "sqs.SendMessageBatch",
    ]
    .iter()
    .map(|op| format!("{op}={}", calls.get(*op).copied().unwrap_or(0)))
    .collect();
    println!(
        "\nAWS calls by the handler, counted by the emulator: {}",
        lookups.join(" ")
    );

    println!("\n──── the topic's messages, as an SQS subscriber received them ────");
    for alert in &inbox {
        println!(
            "Subject: {}\n  attributes: cluster={} kind={} severity={}",
            alert.subject,
            alert.attributes["cluster"]["Value"]
                .as_str()
                .unwrap_or_default(),
            alert.attributes["kind"]["Value"]
                .as_str()
                .unwrap_or_default(),
            alert.attributes["severity"]["Value"]
                .as_str()
                .unwrap_or_default()
        );
    }
    if let Some(first) = inbox.first() {
        println!(
            "\n──── JSON document of the first (SQS, Lambda and HTTPS subscribers) ────\n{}",
            serde_json::to_string_pretty(&first.document)?
        );
    }
    for text in &email_texts {
        println!("\n──── email ────\n{text}");
    }
    for letter in &parked {
        println!(
            "\n──── dead-letter queue ────\nreason: {} ({})\nbody:   {}",
            letter.reason, letter.reason_code, letter.body
        );
    }
    println!("\n──── metrics (CloudWatch EMF lines the Lambda prints) ────");
    for line in metrics {
        println!("{line}");
    }
    Ok(())
}

/// The demo monitors tagged clusters only, so the untagged sandbox shows a skip.
fn demo_config(stack: &Stack) -> anyhow::Result<Config> {
    let env: HashMap<&str, String> = HashMap::from([
        (config::ALERT_TOPIC_ARN, stack.topic_arn.clone()),
        (config::DEAD_LETTER_QUEUE_URL, stack.dead_letter_url.clone()),
        (config::ALERT_TABLE_NAME, stack.table_name.clone()),
        (config::MONITOR_ALL_CLUSTERS, "false".to_owned()),
        (config::MONITORING_TAG_VALUE, TAG_VALUE.to_owned()),
        (config::CUSTOM_ACTIONS, "log-nodes".to_owned()),
    ]);
    Ok(Config::from_lookup(|name| env.get(name).cloned())?)
}
