//! How urgent a notification is: one scale for every monitor, every rendering (email, JSON,
//! chat badge) and the `severity` attribute subscribers filter on.

use serde::Serialize;

/// How urgent (the `severity` attribute); ordered, so a message takes its worst item's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Good news: a RESOLVED.
    Info,
    Warning,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}
