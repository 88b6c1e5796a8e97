//! CloudWatch metrics as Embedded Metric Format (EMF) log lines.
//!
//! Lambda ships every stdout line to CloudWatch Logs, and CloudWatch turns EMF lines into
//! metrics: no PutMetricData calls, no extra latency, no extra IAM, nothing to fail.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

pub const DEFAULT_NAMESPACE: &str = "ECS/ECSAgentFailures";
/// Alerted instances per cluster; the name and dimension match the widely used AWS sample,
/// so existing alarms and dashboards keep working.
pub const AGENT_FAILURES: &str = "ECSAgentFailuresCount";
pub const SKIPPED_RECORDS: &str = "SkippedRecords";
pub const INVALID_RECORDS: &str = "InvalidRecords";
pub const FAILED_RECORDS: &str = "FailedRecords";
pub const ACTION_FAILURES: &str = "ActionFailures";
/// Episodes opened (first alerts) and resolved.
pub const ALERTS_OPENED: &str = "AlertsOpened";
pub const ALERTS_RESOLVED: &str = "AlertsResolved";
pub const REMINDERS_SENT: &str = "RemindersSent";
/// Remediation attempts announced by opening alerts, by outcome.
pub const REMEDIATIONS_SUCCEEDED: &str = "RemediationsSucceeded";
pub const REMEDIATIONS_FAILED: &str = "RemediationsFailed";
pub const REMEDIATIONS_NOT_APPLIED: &str = "RemediationsNotApplied";
pub const REMEDIATIONS_DRY_RUN: &str = "RemediationsDryRun";
/// Per-cluster gauges from the sweep: how many agents are down or up right now.
pub const DISCONNECTED_AGENTS: &str = "DisconnectedAgents";
pub const CONNECTED_AGENTS: &str = "ConnectedAgents";
/// Clusters (or the whole sweep) the sweep could not look at.
pub const SWEEP_ERRORS: &str = "SweepErrors";
pub const CLUSTER_DIMENSION: &str = "ClusterName";

/// One EMF record: a set of count metrics sharing one set of dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRecord {
    namespace: String,
    timestamp: DateTime<Utc>,
    dimensions: Vec<(String, String)>,
    counts: Vec<(String, f64)>,
}

impl MetricRecord {
    pub fn new(namespace: &str, timestamp: DateTime<Utc>) -> Self {
        MetricRecord {
            namespace: namespace.to_owned(),
            timestamp,
            dimensions: Vec::new(),
            counts: Vec::new(),
        }
    }

    pub fn dimension(mut self, name: &str, value: &str) -> Self {
        self.dimensions.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn count(mut self, name: &str, value: usize) -> Self {
        // Counts in a batch are far below 2^53, so the conversion is exact.
        self.counts.push((name.to_owned(), value as f64));
        self
    }

    /// The record as one JSON line, ready to print to stdout.
    pub fn to_emf(&self) -> String {
        let dimension_names: Vec<&str> = self.dimensions.iter().map(|(n, _)| n.as_str()).collect();
        let metrics: Vec<Value> = self
            .counts
            .iter()
            .map(|(name, _)| json!({ "Name": name, "Unit": "Count" }))
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": self.timestamp.timestamp_millis(),
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [dimension_names],
                    "Metrics": metrics,
                }],
            }),
        );
        for (name, value) in &self.dimensions {
            root.insert(name.clone(), Value::from(value.as_str()));
        }
        for (name, value) in &self.counts {
            root.insert(name.clone(), json!(value));
        }
        Value::Object(root).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn renders_valid_emf_with_dimensions() {
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        let line = MetricRecord::new(DEFAULT_NAMESPACE, t)
            .dimension(CLUSTER_DIMENSION, "payments-prod")
            .count(AGENT_FAILURES, 3)
            .to_emf();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], t.timestamp_millis());
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "ECS/ECSAgentFailures");
        assert_eq!(directive["Dimensions"], json!([["ClusterName"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "ECSAgentFailuresCount", "Unit": "Count"}])
        );
        assert_eq!(v["ClusterName"], "payments-prod");
        assert_eq!(v["ECSAgentFailuresCount"], 3.0);
        assert!(!line.contains('\n'), "one record, one line");
    }

    #[test]
    fn dimensionless_records_use_an_empty_dimension_set() {
        let line = MetricRecord::new("ns", Utc::now())
            .count(INVALID_RECORDS, 2)
            .count(FAILED_RECORDS, 0)
            .to_emf();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([[]]));
        assert_eq!(v["InvalidRecords"], 2.0);
        assert_eq!(v["FailedRecords"], 0.0);
    }
}
