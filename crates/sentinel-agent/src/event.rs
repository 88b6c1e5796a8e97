//! EventBridge "ECS Container Instance State Change" events, as they arrive in SQS bodies.
//!
//! The event model is the kernel's ([`sentinel_core::ecs_event`]); this module turns its
//! [`ContainerInstanceStateChange`] into what the decision reads: strict about what the
//! decision needs (cluster, container instance, node, connection, status) and tolerant of
//! everything else (AWS adds fields to events over time, so unknown fields are ignored,
//! never rejected).

use crate::node::NodeId;
use crate::states::InstanceStatus;
use chrono::{DateTime, Utc};
use sentinel_core::ecs_event::{parse_detail, ContainerInstanceStateChange};
use sentinel_core::event::{ecs_arn, key_part, quoted, required, PARTITION_KEY_MAX_BYTES};
use sentinel_core::ClusterArn;

pub use sentinel_core::ecs_event::CONTAINER_INSTANCE_STATE_CHANGE;
pub use sentinel_core::event::{InvalidEvent, ECS_SOURCE};

/// What one state-change event says about one container instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// EventBridge event id (absent in hand-made events).
    pub event_id: Option<String>,
    /// When EventBridge saw the change: the start of the disconnection as far as we know.
    pub time: Option<DateTime<Utc>>,
    pub cluster_arn: ClusterArn,
    pub container_instance_arn: String,
    pub node_id: NodeId,
    pub agent_connected: bool,
    pub status: InstanceStatus,
    pub agent_version: Option<String>,
    /// ECS's own counter for this container instance: a larger one is a later state.
    pub version: Option<u64>,
}

impl StateChange {
    /// An ACTIVE instance's agent disconnected: what the delay queue carries, and the one
    /// change worth a fresh look whatever the monitor remembers about the instance.
    pub fn is_disconnect(&self) -> bool {
        !self.agent_connected && self.status == InstanceStatus::Active
    }
}

/// The longest cluster ARN accepted (ECS's own are under 350 bytes).
pub const CLUSTER_ARN_MAX_BYTES: usize = 1024;
/// The longest node id accepted (`i-` or `mi-` and 17 hex digits today).
pub const NODE_ID_MAX_BYTES: usize = 64;

/// Parses one SQS record body into a [`StateChange`], or says precisely why it cannot.
pub fn parse_state_change(body: &str) -> Result<StateChange, InvalidEvent> {
    let event = parse_detail::<ContainerInstanceStateChange>(body)?;
    let detail = event.detail;

    let cluster_arn = required(detail.cluster_arn, "clusterArn")?;
    // The cluster's name is a message attribute and part of the remediation budget's key:
    // never empty, and (ECS names are at most 255 characters) never near a key's limit.
    key_part("clusterArn", &cluster_arn, CLUSTER_ARN_MAX_BYTES)?;
    let cluster_arn = ClusterArn::parse(&cluster_arn).map_err(|_| InvalidEvent::InvalidField {
        field: "clusterArn",
        problem: format!(
            "expected arn:<partition>:ecs:<region>:<account>:cluster/<name>, found {}",
            quoted(&cluster_arn)
        ),
    })?;
    let container_instance_arn = required(detail.container_instance_arn, "containerInstanceArn")?;
    // The episode's key in the alert table (DynamoDB: 1 to 2,048 bytes).
    ecs_arn(
        "containerInstanceArn",
        &container_instance_arn,
        "container-instance",
        PARTITION_KEY_MAX_BYTES,
    )
    .map_err(|_| InvalidEvent::InvalidField {
        field: "containerInstanceArn",
        problem: format!(
            "expected a container-instance ARN of at most {PARTITION_KEY_MAX_BYTES} bytes, found {}",
            quoted(&container_instance_arn)
        ),
    })?;
    let node_id = required(detail.ec2_instance_id, "ec2InstanceId")?;
    // EC2 and SSM ids are 10 to 20 characters; a longer one is refused by every call
    // that names it, so it is refused here, and quoted only in part.
    if node_id.len() > NODE_ID_MAX_BYTES {
        return Err(InvalidEvent::InvalidField {
            field: "ec2InstanceId",
            problem: format!(
                "expected an EC2 instance id (i-…) or an SSM managed node id (mi-…), found {}",
                quoted(&node_id)
            ),
        });
    }
    let node_id = NodeId::parse(&node_id).map_err(|problem| InvalidEvent::InvalidField {
        field: "ec2InstanceId",
        problem,
    })?;
    let agent_connected = required(detail.agent_connected, "agentConnected")?;
    let status = required(detail.status, "status")?;

    Ok(StateChange {
        event_id: event.id,
        // A malformed timestamp costs us only the "down since" line, so it is not fatal.
        time: event.time,
        cluster_arn,
        container_instance_arn,
        node_id,
        agent_connected,
        status,
        agent_version: detail.version_info.and_then(|v| v.agent_version),
        version: detail.version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> serde_json::Value {
        json!({
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "ECS Container Instance State Change",
            "source": "aws.ecs",
            "account": "123456789012",
            "time": "2026-11-21T10:00:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:ecs:us-east-1:123456789012:container-instance/payments-prod/0f1e"],
            "detail": {
                "agentConnected": false,
                "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/payments-prod",
                "containerInstanceArn": "arn:aws:ecs:us-east-1:123456789012:container-instance/payments-prod/0f1e",
                "ec2InstanceId": "i-0abc1234def567890",
                "status": "ACTIVE",
                "version": 42,
                "versionInfo": {"agentVersion": "1.82.0", "agentHash": "abc"},
                "somethingAwsAddsLater": {"nested": true}
            }
        })
    }

    fn with(path: &[&str], value: Option<serde_json::Value>) -> String {
        let mut e = event();
        let mut cursor = &mut e;
        for key in &path[..path.len() - 1] {
            cursor = &mut cursor[*key];
        }
        let last = path[path.len() - 1];
        let obj = cursor.as_object_mut().expect("test event objects");
        match value {
            Some(v) => {
                obj.insert(last.to_owned(), v);
            }
            None => {
                obj.remove(last);
            }
        }
        e.to_string()
    }

    #[test]
    fn parses_a_real_shaped_event_and_ignores_unknown_fields() {
        let change = parse_state_change(&event().to_string()).expect("valid event");
        assert_eq!(change.cluster_arn.name(), "payments-prod");
        assert_eq!(change.cluster_arn.region(), "us-east-1");
        assert_eq!(change.cluster_arn.account(), "123456789012");
        assert_eq!(change.cluster_arn.partition(), "aws");
        assert_eq!(change.node_id.as_str(), "i-0abc1234def567890");
        assert!(!change.agent_connected);
        assert_eq!(change.status, InstanceStatus::Active);
        assert_eq!(change.agent_version.as_deref(), Some("1.82.0"));
        assert_eq!(change.version, Some(42));
        assert_eq!(
            change.time.map(|t| t.to_rfc3339()),
            Some("2026-11-21T10:00:00+00:00".to_owned())
        );
    }

    #[test]
    fn every_kind_of_bad_body_has_its_own_reason() {
        let cases: Vec<(String, &str)> = vec![
            ("not json at all".into(), "not-json"),
            ("".into(), "not-json"),
            ("[1,2]".into(), "not-an-eventbridge-event"),
            ("{\"hello\":1}".into(), "not-an-eventbridge-event"),
            (
                with(&["source"], Some(json!("aws.ec2"))),
                "unexpected-source",
            ),
            (
                with(&["detail-type"], Some(json!("ECS Task State Change"))),
                "unexpected-detail-type",
            ),
            (
                with(&["detail"], Some(json!("text"))),
                "not-an-eventbridge-event",
            ),
            (with(&["detail", "clusterArn"], None), "missing-field"),
            (
                with(&["detail", "containerInstanceArn"], None),
                "missing-field",
            ),
            (with(&["detail", "ec2InstanceId"], None), "missing-field"),
            (with(&["detail", "agentConnected"], None), "missing-field"),
            (with(&["detail", "status"], None), "missing-field"),
            (
                with(&["detail", "clusterArn"], Some(json!("payments"))),
                "invalid-field",
            ),
            (
                with(&["detail", "ec2InstanceId"], Some(json!("host-1"))),
                "invalid-field",
            ),
            (
                with(&["detail", "agentConnected"], Some(json!("no"))),
                "invalid-field",
            ),
            (
                with(&["detail", "containerInstanceArn"], Some(json!("abc"))),
                "invalid-field",
            ),
        ];
        for (body, code) in cases {
            let err = parse_state_change(&body).expect_err(&body);
            assert_eq!(err.code(), code, "{body} gave {err}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn reasons_name_what_was_found() {
        let err = parse_state_change(&with(&["source"], Some(json!("my.app")))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected source \"aws.ecs\", found \"my.app\""
        );
        let err = parse_state_change(&with(&["detail", "status"], None)).unwrap_err();
        assert_eq!(err.to_string(), "detail.status is missing");
    }

    #[test]
    fn a_bad_timestamp_is_tolerated() {
        let change = parse_state_change(&with(&["time"], Some(json!("yesterday")))).unwrap();
        assert_eq!(change.time, None);
    }

    proptest::proptest! {
        /// Whatever arrives, parsing answers with a value or a reason: it never panics.
        #[test]
        fn never_panics_on_arbitrary_bodies(body in ".{0,400}") {
            let _ = parse_state_change(&body);
        }

        #[test]
        fn never_panics_on_arbitrary_detail_values(value in proptest::arbitrary::any::<i64>(), key in "[a-zA-Z]{1,20}") {
            let body = with(&["detail", "clusterArn"], Some(json!({ key: value })));
            proptest::prop_assert!(parse_state_change(&body).is_err());
        }
    }
}
