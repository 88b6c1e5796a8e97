//! `ecs-sentinel replay FILE`: run events through the handler once and show the outcome.

use agent_monitor::report::batch_lines;
use agent_monitor::{Clients, Config, Monitor};
use anyhow::Context;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use serde_json::Value;
use std::path::Path;

pub async fn run(file: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let records =
        records_from(&text).with_context(|| format!("{} holds no events", file.display()))?;
    let config = Config::from_env().context("configuration from the environment")?;
    let sdk = sentinel_aws::sdk::from_env().await;
    let monitor = Monitor::new(Clients::from_sdk_config(&sdk), config)?;
    let report = monitor.process(&records).await;
    println!("{} record(s):", report.received);
    for line in batch_lines(&report, "  ") {
        println!("{line}");
    }
    println!("{}", serde_json::to_string_pretty(&report.response())?);
    Ok(())
}

/// A Lambda SQS event is used as is; EventBridge events become one record each.
fn records_from(text: &str) -> anyhow::Result<Vec<SqsMessage>> {
    let value: Value = serde_json::from_str(text).context("not JSON")?;
    if value.get("Records").is_some() {
        let event: SqsEvent = serde_json::from_value(value).context("not a Lambda SQS event")?;
        return Ok(event.records);
    }
    let events = match value {
        Value::Array(events) => events,
        event => vec![event],
    };
    anyhow::ensure!(!events.is_empty(), "the array is empty");
    Ok(events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let mut record = SqsMessage::default();
            record.message_id = Some(format!("replay-{i}"));
            record.body = Some(event.to_string());
            record
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_shapes() {
        let sample = |name: &str| {
            std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../events")
                    .join(name),
            )
            .expect("sample event")
        };
        assert_eq!(
            records_from(&sample("agent-disconnected-ec2.json"))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            records_from(&sample("sqs-batch-agent-disconnected.json"))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(records_from("[{\"a\":1},{\"b\":2}]").unwrap().len(), 2);
        assert!(records_from("[]").is_err());
        assert!(records_from("nope").is_err());
    }
}
