//! EventBridge envelopes of `aws.ecs` events, as they arrive in SQS bodies, for every monitor.
//!
//! Strict about what a monitor needs and tolerant of everything else: AWS adds fields to
//! events over time, so unknown fields are ignored, never rejected. What cannot be used is an
//! [`InvalidEvent`] whose text says what was expected and what was found; it travels with
//! the record to the dead-letter queue.

use chrono::{DateTime, Utc};
use serde::Deserialize;

pub const ECS_SOURCE: &str = "aws.ecs";

/// Why a record body could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEvent {
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error("body is JSON but not an EventBridge event: {0}")]
    NotAnEnvelope(String),
    #[error("expected source \"aws.ecs\", found {found:?}")]
    UnexpectedSource { found: String },
    #[error("expected detail-type {expected}, found {found:?}")]
    UnexpectedDetailType { expected: String, found: String },
    #[error("detail.{field} is missing")]
    MissingField { field: &'static str },
    #[error("detail.{field} is invalid: {problem}")]
    InvalidField {
        field: &'static str,
        problem: String,
    },
    /// What the monitor would store is over a limit of the store (DynamoDB's 400 KB item):
    /// the write could never succeed, so the record is parked rather than retried.
    #[error("{what} would be {bytes} bytes, over the {max} bytes a store accepts")]
    TooLarge {
        what: &'static str,
        bytes: usize,
        max: usize,
    },
}

impl InvalidEvent {
    /// A detail-type `found` where one of `expected` was wanted.
    pub fn unexpected_detail_type(expected: &[&str], found: impl Into<String>) -> Self {
        let expected: Vec<String> = expected.iter().map(|t| format!("{t:?}")).collect();
        InvalidEvent::UnexpectedDetailType {
            expected: expected.join(" or "),
            found: found.into(),
        }
    }

    /// A short, stable code for metrics and message attributes.
    pub fn code(&self) -> &'static str {
        match self {
            InvalidEvent::NotJson(_) => "not-json",
            InvalidEvent::NotAnEnvelope(_) => "not-an-eventbridge-event",
            InvalidEvent::UnexpectedSource { .. } => "unexpected-source",
            InvalidEvent::UnexpectedDetailType { .. } => "unexpected-detail-type",
            InvalidEvent::MissingField { .. } => "missing-field",
            InvalidEvent::InvalidField { .. } => "invalid-field",
            InvalidEvent::TooLarge { .. } => "too-large",
        }
    }
}

/// DynamoDB's limits on a key value, in UTF-8 bytes (a partition key 1 to 2,048 bytes, a
/// sort key 1 to 1,024; an index's keys alike). A value outside them is refused with a
/// ValidationException on every try, so the edge refuses it first.
pub const PARTITION_KEY_MAX_BYTES: usize = 2048;
pub const SORT_KEY_MAX_BYTES: usize = 1024;
/// DynamoDB's item limit (400 KB, binary units), names and values included.
pub const ITEM_MAX_BYTES: usize = 400 * 1024;
/// How much of a value a reason quotes: reasons travel as SQS message attributes with the
/// body (256 KiB together), so a huge field must not make its own letter unsendable.
pub const QUOTED_MAX_CHARS: usize = 120;

/// `value` for a reason: as `{:?}` prints it, cut to [`QUOTED_MAX_CHARS`] characters (on a
/// character boundary) with the full length said.
pub fn quoted(value: &str) -> String {
    let shown = format!("{value:?}");
    if shown.chars().count() <= QUOTED_MAX_CHARS {
        return shown;
    }
    let cut: String = shown.chars().take(QUOTED_MAX_CHARS).collect();
    format!("{cut}… ({} bytes)", value.len())
}

/// Free text for a reason (serde's messages quote what they found), cut like [`quoted`].
fn clipped(text: String) -> String {
    if text.chars().count() <= 4 * QUOTED_MAX_CHARS {
        return text;
    }
    let cut: String = text.chars().take(4 * QUOTED_MAX_CHARS).collect();
    format!("{cut}… ({} bytes)", text.len())
}

/// A field that becomes (part of) a key or a message attribute: SNS and DynamoDB refuse
/// empty values, DynamoDB values over `max_bytes`.
pub fn key_part(field: &'static str, value: &str, max_bytes: usize) -> Result<(), InvalidEvent> {
    if value.is_empty() {
        return Err(InvalidEvent::InvalidField {
            field,
            problem: "is empty".into(),
        });
    }
    if value.len() > max_bytes {
        return Err(InvalidEvent::InvalidField {
            field,
            problem: format!(
                "is {} bytes, over the {max_bytes} bytes a key may hold: {}",
                value.len(),
                quoted(value)
            ),
        });
    }
    Ok(())
}

/// An ECS ARN of `resource` type (`task`, `container-instance`, `service`, …):
/// `arn:<partition>:ecs:<region>:<account>:<resource>/<id>` with every part present, and
/// within `max_bytes` (see [`key_part`]).
pub fn ecs_arn(
    field: &'static str,
    value: &str,
    resource: &str,
    max_bytes: usize,
) -> Result<(), InvalidEvent> {
    key_part(field, value, max_bytes)?;
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let shaped = match parts.as_slice() {
        ["arn", partition, "ecs", region, account, rest] => {
            !partition.is_empty()
                && !region.is_empty()
                && !account.is_empty()
                && rest
                    .strip_prefix(resource)
                    .and_then(|r| r.strip_prefix('/'))
                    .is_some_and(|id| !id.is_empty())
        }
        _ => false,
    };
    if shaped {
        Ok(())
    } else {
        Err(InvalidEvent::InvalidField {
            field,
            problem: format!(
                "expected arn:<partition>:ecs:<region>:<account>:{resource}/<id>, found {}",
                quoted(value)
            ),
        })
    }
}

/// An `aws.ecs` event of one of the detail-types a monitor reads, its `detail` still JSON;
/// [`crate::ecs_event`] types it.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// EventBridge event id (absent in hand-made events).
    pub id: Option<String>,
    /// When EventBridge saw the change. A malformed timestamp only costs this field.
    pub time: Option<DateTime<Utc>>,
    pub detail_type: String,
    pub resources: Vec<String>,
    /// A JSON object.
    pub detail: serde_json::Value,
}

#[derive(Deserialize)]
struct RawEnvelope {
    source: Option<String>,
    #[serde(rename = "detail-type")]
    detail_type: Option<String>,
    id: Option<String>,
    time: Option<String>,
    #[serde(default)]
    resources: Vec<serde_json::Value>,
    detail: Option<serde_json::Value>,
}

/// Parses one SQS record body into an [`Envelope`] of one of `detail_types`, or says
/// precisely why it cannot.
pub fn parse_envelope(body: &str, detail_types: &[&str]) -> Result<Envelope, InvalidEvent> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| InvalidEvent::NotJson(clipped(e.to_string())))?;
    if !value.is_object() {
        return Err(InvalidEvent::NotAnEnvelope(format!(
            "expected a JSON object, found {}",
            json_kind(&value)
        )));
    }
    let raw: RawEnvelope = serde_json::from_value(value)
        .map_err(|e| InvalidEvent::NotAnEnvelope(clipped(e.to_string())))?;
    let (source, detail_type, detail) = match (raw.source, raw.detail_type, raw.detail) {
        (Some(s), Some(t), Some(d)) => (s, t, d),
        _ => {
            return Err(InvalidEvent::NotAnEnvelope(
                "expected the fields source, detail-type and detail".into(),
            ))
        }
    };
    if source != ECS_SOURCE {
        return Err(InvalidEvent::UnexpectedSource {
            found: clipped(source),
        });
    }
    if !detail_types.contains(&detail_type.as_str()) {
        return Err(InvalidEvent::unexpected_detail_type(
            detail_types,
            clipped(detail_type),
        ));
    }
    if !detail.is_object() {
        return Err(InvalidEvent::NotAnEnvelope(format!(
            "expected detail to be an object, found {}",
            json_kind(&detail)
        )));
    }
    Ok(Envelope {
        id: raw.id,
        time: raw
            .time
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc)),
        detail_type,
        resources: raw
            .resources
            .into_iter()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect(),
        detail,
    })
}

/// Reads `detail` into a monitor's typed view; a field of the wrong type is named.
pub fn typed_detail<T: serde::de::DeserializeOwned>(
    detail: serde_json::Value,
) -> Result<T, InvalidEvent> {
    serde_json::from_value(detail).map_err(|e| InvalidEvent::InvalidField {
        field: "*",
        problem: clipped(e.to_string()),
    })
}

/// A field the monitor cannot do without.
pub fn required<T>(value: Option<T>, field: &'static str) -> Result<T, InvalidEvent> {
    value.ok_or(InvalidEvent::MissingField { field })
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPES: &[&str] = &["ECS Task State Change", "ECS Service Action"];

    #[test]
    fn an_envelope_keeps_what_monitors_need_and_ignores_the_rest() {
        let e = parse_envelope(
            r#"{"version":"0","id":"e1","detail-type":"ECS Service Action","source":"aws.ecs",
                "time":"2026-11-21T10:00:00Z","resources":["arn:x",7],"new":{"field":1},
                "detail":{"eventName":"SERVICE_STEADY_STATE"}}"#,
            TYPES,
        )
        .unwrap();
        assert_eq!(e.id.as_deref(), Some("e1"));
        assert_eq!(e.detail_type, "ECS Service Action");
        assert_eq!(e.resources, vec!["arn:x"]);
        assert_eq!(e.time.unwrap().to_rfc3339(), "2026-11-21T10:00:00+00:00");
        assert_eq!(e.detail["eventName"], "SERVICE_STEADY_STATE");
    }

    #[test]
    fn every_unusable_body_says_why_with_a_stable_code() {
        let cases = [
            ("not json", "not-json", "body is not JSON"),
            ("[1]", "not-an-eventbridge-event", "found an array"),
            (
                r#"{"source":"aws.ecs"}"#,
                "not-an-eventbridge-event",
                "source, detail-type and detail",
            ),
            (
                r#"{"source":"aws.ec2","detail-type":"ECS Service Action","detail":{}}"#,
                "unexpected-source",
                "\"aws.ec2\"",
            ),
            (
                r#"{"source":"aws.ecs","detail-type":"ECS Deployment State Change","detail":{}}"#,
                "unexpected-detail-type",
                "expected detail-type \"ECS Task State Change\" or \"ECS Service Action\"",
            ),
            (
                r#"{"source":"aws.ecs","detail-type":"ECS Service Action","detail":"x"}"#,
                "not-an-eventbridge-event",
                "detail to be an object, found a string",
            ),
        ];
        for (body, code, text) in cases {
            let err = parse_envelope(body, TYPES).unwrap_err();
            assert_eq!(err.code(), code, "{body}");
            assert!(err.to_string().contains(text), "{body}: {err}");
        }
    }

    #[test]
    fn key_parts_are_non_empty_and_within_dynamodbs_limits() {
        assert!(key_part("clusterArn", "x", PARTITION_KEY_MAX_BYTES).is_ok());
        let empty = key_part("clusterArn", "", PARTITION_KEY_MAX_BYTES).unwrap_err();
        assert_eq!(empty.code(), "invalid-field");
        assert_eq!(empty.to_string(), "detail.clusterArn is invalid: is empty");
        let huge = "é".repeat(1025);
        let err = key_part("taskArn", &huge, PARTITION_KEY_MAX_BYTES).unwrap_err();
        assert!(err.to_string().contains("2050 bytes"), "{err}");
        assert!(
            err.to_string().len() < 400,
            "the reason quotes a part: {err}"
        );
    }

    #[test]
    fn ecs_arns_have_every_part() {
        let ok = "arn:aws:ecs:us-east-1:111122223333:task/b99d40b3";
        assert!(ecs_arn("taskArn", ok, "task", 2000).is_ok());
        assert!(ecs_arn(
            "taskArn",
            "arn:aws:ecs:us-east-1:1:task/prod/abc",
            "task",
            2000
        )
        .is_ok());
        for bad in [
            "",
            "task/abc",
            "arn:aws:ecs:us-east-1:1:task/",
            "arn:aws:ecs::1:task/abc",
            "arn:aws:ec2:us-east-1:1:task/abc",
            "arn:aws:ecs:us-east-1:1:container-instance/abc",
            "arn:aws:ecs:us-east-1:1:taskset/abc",
        ] {
            let err = ecs_arn("taskArn", bad, "task", 2000).unwrap_err();
            assert_eq!(err.code(), "invalid-field", "{bad}");
        }
    }

    #[test]
    fn a_huge_value_is_quoted_in_part() {
        let body = format!("{{\"source\":\"{}\"", "x".repeat(100_000));
        let err = parse_envelope(&body, TYPES).unwrap_err();
        assert!(err.to_string().len() < 1000, "{}", err.to_string().len());
        let body = format!(
            r#"{{"source":"{}","detail-type":"ECS Service Action","detail":{{}}}}"#,
            "y".repeat(100_000)
        );
        let err = parse_envelope(&body, TYPES).unwrap_err();
        assert_eq!(err.code(), "unexpected-source");
        assert!(err.to_string().len() < 1000);
    }

    #[test]
    fn a_malformed_time_costs_only_the_time() {
        let e = parse_envelope(
            r#"{"source":"aws.ecs","detail-type":"ECS Service Action","time":"yesterday","detail":{}}"#,
            TYPES,
        )
        .unwrap();
        assert_eq!(e.time, None);
    }
}
