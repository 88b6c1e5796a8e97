//! The ways a probe can fail, each distinct so a report can say which step broke.

use serde::Serialize;

/// Why a request or probe produced no HTTP answer.
///
/// Each variant carries a human-readable detail; [`ProbeError::Timeout`] carries the step that
/// ran out of time instead (`"dns"`, `"connect"`, `"tls"`, `"response"`, `"body"`), because
/// "which step was slow" is the one fact an operator needs from a timeout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum ProbeError {
    /// The URL could not be parsed, or is not `http://` / `https://` with a host.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The method or a header was not valid HTTP.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The host name could not be resolved.
    #[error("DNS lookup failed: {0}")]
    Dns(String),
    /// The host answered but nothing listens on the port.
    #[error("connection refused: {0}")]
    Refused(String),
    /// The deadline passed during the named step.
    #[error("timed out {}", timeout_phrase(.0))]
    Timeout(String),
    /// The TLS handshake failed (certificate not trusted, expired, wrong name, protocol error).
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    /// Any other socket or HTTP-level failure (reset, closed early, malformed response).
    #[error("connection failed: {0}")]
    Connection(String),
}

impl ProbeError {
    /// A stable, machine-readable name for the failure, for JSON reports and alarm keys.
    pub fn kind(&self) -> &'static str {
        match self {
            ProbeError::InvalidUrl(_) => "invalid-url",
            ProbeError::InvalidRequest(_) => "invalid-request",
            ProbeError::Dns(_) => "dns",
            ProbeError::Refused(_) => "refused",
            ProbeError::Timeout(_) => "timeout",
            ProbeError::Tls(_) => "tls",
            ProbeError::Connection(_) => "connection",
        }
    }

    /// For a timeout, the step that ran out of time; `None` for every other failure.
    pub fn timeout_step(&self) -> Option<&str> {
        match self {
            ProbeError::Timeout(step) => Some(step),
            _ => None,
        }
    }
}

fn timeout_phrase(step: &str) -> String {
    match step {
        "dns" => "during the DNS lookup".to_string(),
        "connect" => "connecting".to_string(),
        "tls" => "during the TLS handshake".to_string(),
        "response" => "waiting for the response".to_string(),
        "body" => "reading the response body".to_string(),
        other => format!("during {other}"),
    }
}

/// An error and its chain of sources on one line: hyper and io errors often put the useful
/// part ("connection reset by peer") in a source rather than the top-level message.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let part = inner.to_string();
        // Some wrappers repeat their source's message; don't print it twice.
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_stable() {
        let cases = [
            (ProbeError::InvalidUrl("x".into()), "invalid-url"),
            (ProbeError::InvalidRequest("x".into()), "invalid-request"),
            (ProbeError::Dns("x".into()), "dns"),
            (ProbeError::Refused("x".into()), "refused"),
            (ProbeError::Timeout("tls".into()), "timeout"),
            (ProbeError::Tls("x".into()), "tls"),
            (ProbeError::Connection("x".into()), "connection"),
        ];
        for (err, kind) in cases {
            assert_eq!(err.kind(), kind);
        }
    }

    #[test]
    fn timeout_messages_name_the_step() {
        assert_eq!(
            ProbeError::Timeout("tls".into()).to_string(),
            "timed out during the TLS handshake"
        );
        assert_eq!(
            ProbeError::Timeout("response".into()).to_string(),
            "timed out waiting for the response"
        );
        assert_eq!(
            ProbeError::Timeout("dns".into()).timeout_step(),
            Some("dns")
        );
        assert_eq!(ProbeError::Dns("x".into()).timeout_step(), None);
    }

    #[test]
    fn serializes_with_kind_and_detail() {
        let json = serde_json::to_string(&ProbeError::Timeout("connect".into())).unwrap();
        assert_eq!(json, r#"{"kind":"timeout","detail":"connect"}"#);
    }
}
