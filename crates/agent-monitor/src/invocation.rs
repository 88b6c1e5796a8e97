//! What the function was invoked with: an SQS batch (event source mapping), or the sweep
//! (the schedule sends `{"sweep": {}}`; so can `cargo lambda invoke`, the demo and tests).

use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::Value;

#[derive(Debug)]
pub enum Invocation {
    Batch(SqsEvent),
    Sweep,
}

impl Invocation {
    pub fn parse(payload: Value) -> Result<Self, String> {
        if payload.get("sweep").is_some() {
            return Ok(Invocation::Sweep);
        }
        if payload.get("Records").is_some() {
            return serde_json::from_value(payload)
                .map(Invocation::Batch)
                .map_err(|e| format!("the payload has Records but is not an SQS event: {e}"));
        }
        let found = match &payload {
            Value::Object(map) => format!(
                "an object with keys [{}]",
                map.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            other => format!("{other}"),
        };
        Err(format!(
            "expected an SQS event (with Records) or {{\"sweep\": {{}}}}, found {found}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recognises_both_payloads_and_names_anything_else() {
        assert!(matches!(
            Invocation::parse(json!({"sweep": {}})),
            Ok(Invocation::Sweep)
        ));
        assert!(matches!(
            Invocation::parse(json!({"Records": []})),
            Ok(Invocation::Batch(e)) if e.records.is_empty()
        ));
        let err = Invocation::parse(json!({"detail": 1})).unwrap_err();
        assert!(err.contains("keys [detail]"), "{err}");
        assert!(Invocation::parse(json!({"Records": "x"})).is_err());
    }
}
