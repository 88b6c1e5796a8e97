//! CloudWatch metrics as Embedded Metric Format (EMF) log lines.
//!
//! Lambda ships every stdout line to CloudWatch Logs, and CloudWatch turns EMF lines into
//! metrics: no PutMetricData calls, no extra latency, no extra IAM, nothing to fail.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

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
        let line = MetricRecord::new("ECS/ECSAgentFailures", t)
            .dimension("ClusterName", "payments-prod")
            .count("ECSAgentFailuresCount", 3)
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
            .count("InvalidRecords", 2)
            .count("FailedRecords", 0)
            .to_emf();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([[]]));
        assert_eq!(v["InvalidRecords"], 2.0);
        assert_eq!(v["FailedRecords"], 0.0);
    }
}
