//! Container logs as the monitors quote them.

use serde::Serialize;

/// The last lines a failed container logged, as the runner found them (awslogs driver).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogTail {
    pub container: String,
    pub log_group: String,
    pub log_stream: String,
    pub lines: Vec<String>,
}
