//! The events of a replay file and where each one goes. Pure: no AWS here.
//!
//! - Reading: one EventBridge event, a JSON array of them, or a Lambda SQS event (its
//!   records used as they are). Each event keeps its place in the file (the line it starts
//!   on), so a skipped one can be found.
//! - Routing, by detail-type as the stack's rules do: the agent monitor takes "ECS Container
//!   Instance State Change"; the task monitor "ECS Task State Change", "ECS Service Action"
//!   and "ECS Deployment State Change"; the fleet recorder every `aws.ecs` event of those
//!   types. Anything else is skipped with its reason, never sent anywhere.

use anyhow::Context;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

/// The source of the events every monitor reads.
const ECS_SOURCE: &str = "aws.ecs";

/// Where an event is in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub file: PathBuf,
    /// The event's position, from 1.
    pub number: usize,
    /// The line it starts on (from 1), when the file is EventBridge events.
    pub line: Option<usize>,
    /// The record's message id, when the file is a Lambda SQS event.
    pub message_id: Option<String>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match (&self.message_id, self.line) {
            (Some(id), _) => write!(f, "{file} record {} (message {id})", self.number),
            (None, Some(line)) => write!(f, "{file} line {line} (event {})", self.number),
            (None, None) => write!(f, "{file} event {}", self.number),
        }
    }
}

/// One event of the file, as the SQS record a function would be handed.
#[derive(Debug, Clone)]
pub struct FileEvent {
    pub place: Place,
    pub record: SqsMessage,
}

/// Reads the events of `file`.
pub fn read(file: &Path) -> anyhow::Result<Vec<FileEvent>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    parse(file, &text).with_context(|| format!("{} holds no events", file.display()))
}

/// A Lambda SQS event is used as is; EventBridge events become one record each, with
/// message ids `replay-0`, `replay-1`, …
pub fn parse(file: &Path, text: &str) -> anyhow::Result<Vec<FileEvent>> {
    let value: Value = serde_json::from_str(text).context("not JSON")?;
    if value.get("Records").is_some() {
        let event: SqsEvent = serde_json::from_value(value).context("not a Lambda SQS event")?;
        return Ok(event
            .records
            .into_iter()
            .enumerate()
            .map(|(i, record)| FileEvent {
                place: Place {
                    file: file.to_path_buf(),
                    number: i + 1,
                    line: None,
                    message_id: Some(record.message_id.clone().unwrap_or_default()),
                },
                record,
            })
            .collect());
    }
    let events = match value {
        Value::Array(events) => events,
        event => vec![event],
    };
    anyhow::ensure!(!events.is_empty(), "the array is empty");
    // Lines are for messages only: if the scan disagrees with the parser, say no line.
    let lines = Some(start_lines(text)).filter(|lines| lines.len() == events.len());
    Ok(events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let mut record = SqsMessage::default();
            record.message_id = Some(format!("replay-{i}"));
            record.body = Some(event.to_string());
            FileEvent {
                place: Place {
                    file: file.to_path_buf(),
                    number: i + 1,
                    line: lines.as_ref().and_then(|lines| lines.get(i).copied()),
                    message_id: None,
                },
                record,
            }
        })
        .collect())
}

/// The line (from 1) each event of a JSON text starts on: each element of a top-level
/// array, or the one value. A scan of brackets and strings, not a parser: the text has
/// been parsed already, this only finds where its values begin.
pub fn start_lines(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut line = 1;
    // Depth of brackets and braces; the elements counted are those at depth 1 of an array.
    let mut depth = 0usize;
    let mut in_array = false;
    let mut in_string = false;
    let mut escaped = false;
    // The next non-blank character begins a value that counts.
    let mut expecting = true;
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        if expecting && depth == usize::from(in_array) {
            expecting = false;
            if depth == 0 && c == '[' {
                // A top-level array: its elements are the events.
                in_array = true;
                depth = 1;
                expecting = true;
                continue;
            }
            if c != ']' {
                starts.push(line);
            }
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            ',' if in_array && depth == 1 => expecting = true,
            _ => {}
        }
    }
    starts
}

/// Which monitors one event goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Destinations {
    pub agent: bool,
    pub tasks: bool,
    pub fleet: bool,
}

/// Where an event goes by its source and detail-type, or why it goes nowhere.
pub fn destinations(body: &str) -> Result<Destinations, String> {
    let event: Value =
        serde_json::from_str(body).map_err(|e| format!("is not JSON ({e}); skipped"))?;
    let Some(detail_type) = event.get("detail-type") else {
        return Err("has no detail-type: not an EventBridge event; skipped".to_owned());
    };
    let Some(detail_type) = detail_type.as_str() else {
        return Err(format!(
            "has detail-type {detail_type}, expected a string; skipped"
        ));
    };
    let agent = detail_type == sentinel_agent::event::CONTAINER_INSTANCE_STATE_CHANGE;
    let tasks = sentinel_tasks::event::DETAIL_TYPES.contains(&detail_type);
    if !agent && !tasks {
        return Err(format!(
            "has detail-type {detail_type:?}, which no monitor reads (the agent monitor reads {:?}; the task monitor {}); skipped",
            sentinel_agent::event::CONTAINER_INSTANCE_STATE_CHANGE,
            sentinel_tasks::event::DETAIL_TYPES
                .iter()
                .map(|t| format!("{t:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    // The fleet's rule takes every aws.ecs event; the monitors' own parsers judge (and
    // park) one from another source, as their functions would.
    let fleet = event.get("source").and_then(Value::as_str) == Some(ECS_SOURCE);
    Ok(Destinations {
        agent,
        tasks,
        fleet,
    })
}

/// An event that went to no monitor, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub place: Place,
    pub why: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.place, self.why)
    }
}

/// The records each monitor gets, in file order, and the events skipped.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    pub agent: Vec<SqsMessage>,
    pub tasks: Vec<SqsMessage>,
    pub fleet: Vec<SqsMessage>,
    pub skipped: Vec<Skipped>,
}

/// Sends each event where it belongs.
pub fn route(events: Vec<FileEvent>) -> Routes {
    let mut routes = Routes::default();
    for FileEvent { place, record } in events {
        let body = record.body.as_deref().unwrap_or_default();
        match destinations(body) {
            Ok(to) => {
                if to.fleet {
                    routes.fleet.push(record.clone());
                }
                if to.tasks {
                    routes.tasks.push(record.clone());
                }
                if to.agent {
                    routes.agent.push(record);
                }
            }
            Err(why) => routes.skipped.push(Skipped { place, why }),
        }
    }
    routes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(name: &str) -> String {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../events")
                .join(name),
        )
        .expect("sample event")
    }

    fn parsed(text: &str) -> anyhow::Result<Vec<FileEvent>> {
        parse(Path::new("events.json"), text)
    }

    #[test]
    fn accepts_the_three_shapes() {
        assert_eq!(
            parsed(&sample("agent-disconnected-ec2.json"))
                .unwrap()
                .len(),
            1
        );
        let sqs = parsed(&sample("sqs-batch-agent-disconnected.json")).unwrap();
        assert_eq!(sqs.len(), 1);
        assert!(sqs[0]
            .place
            .to_string()
            .starts_with("events.json record 1 (message "));
        assert_eq!(parsed("[{\"a\":1},{\"b\":2}]").unwrap().len(), 2);
        assert!(parsed("[]").is_err());
        assert!(parsed("nope").is_err());
    }

    #[test]
    fn each_event_knows_the_line_it_starts_on() {
        let text =
            "[\n  {\"a\": \"x, [y]\"},\n\n  {\"b\": [1,\n 2]}, {\"c\": \"\\\"}\"},\n  3\n]\n";
        assert_eq!(start_lines(text), [2, 4, 5, 6]);
        let events = parsed(text).unwrap();
        assert_eq!(events[1].place.to_string(), "events.json line 4 (event 2)");
        assert_eq!(start_lines("\n\n{\"a\": [1, 2]}"), [3]);
        assert_eq!(start_lines("[]"), Vec::<usize>::new());
        assert_eq!(start_lines("[[1, 2], [3]]"), [1, 1]);
    }

    fn event(source: &str, detail_type: &str) -> String {
        json!({"source": source, "detail-type": detail_type, "detail": {}}).to_string()
    }

    #[test]
    fn each_detail_type_goes_to_its_monitor_and_the_fleet() {
        let to = |source, detail_type| destinations(&event(source, detail_type));
        let all = [
            ("ECS Container Instance State Change", true, false),
            ("ECS Task State Change", false, true),
            ("ECS Service Action", false, true),
            ("ECS Deployment State Change", false, true),
        ];
        for (detail_type, agent, tasks) in all {
            assert_eq!(
                to("aws.ecs", detail_type),
                Ok(Destinations {
                    agent,
                    tasks,
                    fleet: true
                }),
                "{detail_type}"
            );
        }
        // Not from ECS: the monitor's parser parks it, as its function would; the fleet's
        // rule never sees it.
        assert_eq!(
            to("aws.ec2", "ECS Task State Change"),
            Ok(Destinations {
                agent: false,
                tasks: true,
                fleet: false
            })
        );
        let unknown = to("aws.ecs", "ECS Capacity Provider Change").unwrap_err();
        assert!(
            unknown.starts_with(
                "has detail-type \"ECS Capacity Provider Change\", which no monitor reads"
            ),
            "{unknown}"
        );
        assert!(destinations("{\"source\": \"aws.ecs\"}")
            .unwrap_err()
            .contains("no detail-type"));
        assert!(destinations("{\"detail-type\": 7}")
            .unwrap_err()
            .contains("expected a string"));
        assert!(destinations("nope").unwrap_err().contains("is not JSON"));
    }

    #[test]
    fn routes_keep_file_order_and_report_what_is_skipped() {
        let text = serde_json::to_string_pretty(&json!([
            {"source": "aws.ecs", "detail-type": "ECS Container Instance State Change", "detail": {}},
            {"source": "aws.ecs", "detail-type": "ECS Task State Change", "detail": {}},
            {"source": "aws.ecs", "detail-type": "Mystery", "detail": {}},
        ]))
        .unwrap();
        let routes = route(parsed(&text).unwrap());
        let ids = |records: &[SqsMessage]| -> Vec<String> {
            records
                .iter()
                .filter_map(|r| r.message_id.clone())
                .collect()
        };
        assert_eq!(ids(&routes.agent), ["replay-0"]);
        assert_eq!(ids(&routes.tasks), ["replay-1"]);
        assert_eq!(ids(&routes.fleet), ["replay-0", "replay-1"]);
        assert_eq!(routes.skipped.len(), 1);
        let skipped = routes.skipped[0].to_string();
        assert!(
            skipped.starts_with("events.json line 12 (event 3) has detail-type \"Mystery\""),
            "{skipped}"
        );
    }
}
