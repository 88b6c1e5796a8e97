//! What the agent's introspection answer means: up, or down and why (pure).
//!
//! The agent answers `GET /v1/metadata` on localhost with its cluster, its container instance
//! ARN and its version. Only a registered agent knows its ARN, so "answered 200 with an ARN" is
//! the one definition of up; every other outcome is down with its own reason, because "not
//! listening", "stuck" and "not registered" send an operator to different places.

use std::fmt;
use std::time::Duration;

use sentinel_http::ProbeError;
use serde::Deserialize;

/// The facts the agent reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentMetadata {
    pub cluster: Option<String>,
    pub container_instance_arn: Option<String>,
    /// As the agent writes it: `Amazon ECS Agent - v1.89.2 (2ab4e3d8)`.
    pub version: Option<String>,
}

/// The introspection API's field names. Unknown fields are ignored, so a newer agent that
/// reports more does not read as garbage.
#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "Cluster", default)]
    cluster: Option<String>,
    #[serde(rename = "ContainerInstanceArn", default)]
    container_instance_arn: Option<String>,
    #[serde(rename = "Version", default)]
    version: Option<String>,
}

/// Reads the agent's metadata answer; `None` when the body is not the agent's metadata.
///
/// The body must be a JSON object carrying at least one of the agent's fields: some other
/// process answering `{}` or an HTML page on port 51678 is not an agent.
pub fn parse_metadata(body: &[u8]) -> Option<AgentMetadata> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    // A derived struct also accepts a JSON array of three values; the agent never sends one.
    if !value.is_object() {
        return None;
    }
    let wire: Wire = serde_json::from_value(value).ok()?;
    let metadata = AgentMetadata {
        cluster: non_empty(wire.cluster),
        container_instance_arn: non_empty(wire.container_instance_arn),
        version: non_empty(wire.version),
    };
    if metadata == AgentMetadata::default() {
        return None;
    }
    Some(metadata)
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Why the agent counts as down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownCause {
    /// Nothing listens on the introspection port: the agent is not running.
    NotListening,
    /// The connection was made (or hung) but no answer came in time: the agent is stuck.
    NoAnswer { within: Duration },
    /// The agent answered with a status other than 200.
    HttpStatus(u16),
    /// The answer was not the agent's metadata (HTML, truncated JSON, something else on the port).
    NotMetadata,
    /// The agent answered but has no container instance ARN: it has not registered.
    NotRegistered,
    /// Any other failure on the way (connection reset, name lookup of the host).
    ConnectionFailed(String),
}

impl DownCause {
    /// A stable name for the cause, for tests and log searches.
    pub fn code(&self) -> &'static str {
        match self {
            DownCause::NotListening => "not-listening",
            DownCause::NoAnswer { .. } => "no-answer",
            DownCause::HttpStatus(_) => "http-status",
            DownCause::NotMetadata => "not-metadata",
            DownCause::NotRegistered => "not-registered",
            DownCause::ConnectionFailed(_) => "connection-failed",
        }
    }
}

impl fmt::Display for DownCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DownCause::NotListening => f.write_str("agent not listening"),
            DownCause::NoAnswer { within } => {
                write!(f, "agent did not answer within {}s", within.as_secs_f64())
            }
            DownCause::HttpStatus(status) => write!(f, "agent answered HTTP {status}"),
            DownCause::NotMetadata => {
                f.write_str("agent answered something that is not its metadata")
            }
            DownCause::NotRegistered => f.write_str("agent is not registered"),
            DownCause::ConnectionFailed(detail) => write!(f, "agent connection failed: {detail}"),
        }
    }
}

/// The verdict on one look at the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentHealth {
    /// Answered 200 with metadata that names its container instance.
    Up(AgentMetadata),
    /// Down, with whatever metadata it did give (an unregistered agent still names its version).
    Down {
        cause: DownCause,
        metadata: Option<AgentMetadata>,
    },
}

impl AgentHealth {
    pub fn is_up(&self) -> bool {
        matches!(self, AgentHealth::Up(_))
    }

    pub fn metadata(&self) -> Option<&AgentMetadata> {
        match self {
            AgentHealth::Up(metadata) => Some(metadata),
            AgentHealth::Down { metadata, .. } => metadata.as_ref(),
        }
    }

    pub fn cause(&self) -> Option<&DownCause> {
        match self {
            AgentHealth::Up(_) => None,
            AgentHealth::Down { cause, .. } => Some(cause),
        }
    }
}

/// The introspection URL (or request) is unusable: that is the probe's own configuration at
/// fault, not the agent, so it must not be reported as the agent being down.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot ask the agent: {0}")]
pub struct Misconfigured(pub String);

/// What came back from asking the agent: an HTTP answer (status and body) or a failure.
pub type Answer<'a> = Result<(u16, &'a [u8]), &'a ProbeError>;

/// Judges one introspection answer; `timeout` is the time the agent was given (for the reason).
pub fn assess(answer: Answer<'_>, timeout: Duration) -> Result<AgentHealth, Misconfigured> {
    let down = |cause| AgentHealth::Down {
        cause,
        metadata: None,
    };
    let (status, body) = match answer {
        Ok(answer) => answer,
        Err(err) => {
            return match err {
                ProbeError::Refused(_) => Ok(down(DownCause::NotListening)),
                ProbeError::Timeout(_) => Ok(down(DownCause::NoAnswer { within: timeout })),
                ProbeError::InvalidUrl(_) | ProbeError::InvalidRequest(_) => {
                    Err(Misconfigured(err.to_string()))
                }
                ProbeError::Dns(_) | ProbeError::Tls(_) | ProbeError::Connection(_) => {
                    Ok(down(DownCause::ConnectionFailed(err.to_string())))
                }
            };
        }
    };
    if status != 200 {
        return Ok(down(DownCause::HttpStatus(status)));
    }
    Ok(match parse_metadata(body) {
        None => down(DownCause::NotMetadata),
        Some(metadata) if metadata.container_instance_arn.is_some() => AgentHealth::Up(metadata),
        Some(metadata) => AgentHealth::Down {
            cause: DownCause::NotRegistered,
            metadata: Some(metadata),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEALTHY: &str = r#"{"Cluster":"prod","ContainerInstanceArn":"arn:aws:ecs:us-east-1:123456789012:container-instance/prod/abc","Version":"Amazon ECS Agent - v1.89.2 (2ab4e3d8)"}"#;
    const SECOND: Duration = Duration::from_secs(3);

    #[test]
    fn registered_agent_is_up_with_its_metadata() {
        let health = assess(Ok((200, HEALTHY.as_bytes())), SECOND).unwrap();
        let AgentHealth::Up(metadata) = health else {
            panic!("expected up: {health:?}");
        };
        assert_eq!(metadata.cluster.as_deref(), Some("prod"));
        assert_eq!(
            metadata.container_instance_arn.as_deref(),
            Some("arn:aws:ecs:us-east-1:123456789012:container-instance/prod/abc")
        );
        assert_eq!(
            metadata.version.as_deref(),
            Some("Amazon ECS Agent - v1.89.2 (2ab4e3d8)")
        );
    }

    #[test]
    fn each_failure_has_its_own_reason() {
        let refused = ProbeError::Refused("127.0.0.1:51678".into());
        let timeout = ProbeError::Timeout("response".into());
        let reset = ProbeError::Connection("connection reset by peer".into());
        let cases: Vec<(Answer<'_>, &str, &str)> = vec![
            (Err(&refused), "not-listening", "agent not listening"),
            (Err(&timeout), "no-answer", "agent did not answer within 3s"),
            (
                Err(&reset),
                "connection-failed",
                "agent connection failed: connection failed: connection reset by peer",
            ),
            (Ok((500, b"oops")), "http-status", "agent answered HTTP 500"),
            (
                Ok((200, b"<html>hello</html>")),
                "not-metadata",
                "agent answered something that is not its metadata",
            ),
            (
                Ok((200, br#"{"Cluster":"prod","Version":"v1"}"#)),
                "not-registered",
                "agent is not registered",
            ),
        ];
        for (answer, code, reason) in cases {
            let health = assess(answer, SECOND).unwrap();
            let cause = health.cause().expect("down");
            assert_eq!(cause.code(), code);
            assert_eq!(cause.to_string(), reason);
        }
    }

    #[test]
    fn a_short_timeout_is_named_in_the_reason() {
        let timeout = ProbeError::Timeout("connect".into());
        let health = assess(Err(&timeout), Duration::from_millis(300)).unwrap();
        assert_eq!(
            health.cause().unwrap().to_string(),
            "agent did not answer within 0.3s"
        );
    }

    #[test]
    fn unregistered_agent_keeps_what_it_said() {
        let body = br#"{"Cluster":"prod","ContainerInstanceArn":null,"Version":"Amazon ECS Agent - v1.89.2"}"#;
        let health = assess(Ok((200, body)), SECOND).unwrap();
        assert!(!health.is_up());
        let metadata = health.metadata().unwrap();
        assert_eq!(metadata.cluster.as_deref(), Some("prod"));
        assert_eq!(metadata.container_instance_arn, None);
    }

    #[test]
    fn an_empty_arn_is_not_registered() {
        let body = br#"{"Cluster":"prod","ContainerInstanceArn":"  ","Version":"v1"}"#;
        let health = assess(Ok((200, body)), SECOND).unwrap();
        assert_eq!(health.cause(), Some(&DownCause::NotRegistered));
    }

    #[test]
    fn things_that_are_not_metadata() {
        for body in [
            &b""[..],
            b"{}",
            b"[\"prod\",\"arn\",\"v1\"]",
            b"{\"Cluster\":",
            b"{\"ContainerInstanceArn\":42}",
            b"null",
            b"{\"Status\":\"ok\"}",
        ] {
            assert_eq!(
                parse_metadata(body),
                None,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let body =
            br#"{"Cluster":"c","ContainerInstanceArn":"arn:x","Version":"v","Extra":{"a":1}}"#;
        assert!(parse_metadata(body).is_some());
    }

    #[test]
    fn a_bad_url_is_our_fault_not_the_agents() {
        let bad = ProbeError::InvalidUrl("\"nope\": missing scheme".into());
        assert!(assess(Err(&bad), SECOND).is_err());
    }
}
