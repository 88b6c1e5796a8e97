//! What a function was invoked with: an SQS batch (its event source mapping), or its
//! schedule's fixed payload (`{"sweep": {}}` for the agent monitor, `{"reconcile": {}}` for
//! the fleet recorder; `cargo lambda invoke`, the demo and tests send the same).

use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::Value;

#[derive(Debug)]
pub enum Invocation {
    Batch(SqsEvent),
    /// The schedule's payload: an object with the function's schedule key.
    Scheduled,
}

impl Invocation {
    /// Reads `payload`: an SQS event, or an object with `schedule_key`; anything else is an
    /// error that says what was found.
    pub fn parse(payload: Value, schedule_key: &str) -> Result<Self, String> {
        if payload.get(schedule_key).is_some() {
            return Ok(Invocation::Scheduled);
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
            "expected an SQS event (with Records) or {{\"{schedule_key}\": {{}}}}, found {found}"
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
            Invocation::parse(json!({"sweep": {}}), "sweep"),
            Ok(Invocation::Scheduled)
        ));
        assert!(matches!(
            Invocation::parse(json!({"Records": []}), "sweep"),
            Ok(Invocation::Batch(e)) if e.records.is_empty()
        ));
        let err = Invocation::parse(json!({"detail": 1}), "reconcile").unwrap_err();
        assert!(err.contains("keys [detail]"), "{err}");
        assert!(err.contains("{\"reconcile\": {}}"), "{err}");
        assert!(Invocation::parse(json!({"Records": "x"}), "sweep").is_err());
        assert!(
            Invocation::parse(json!({"sweep": {}}), "reconcile").is_err(),
            "another function's schedule payload"
        );
    }
}
