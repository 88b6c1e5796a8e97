//! What a batch came to, as lines for a terminal: the CLI's `replay` and the demo print them.

use crate::BatchReport;

/// One line per alert, remediation, resolution, skip, parked record, error and failed
/// custom action, each starting with `indent`.
pub fn batch_lines(report: &BatchReport, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for published in &report.published {
        let nodes: Vec<String> = published
            .alert
            .instances
            .iter()
            .map(|i| format!("{} ({})", i.node_id, i.kind.as_str()))
            .collect();
        lines.push(format!(
            "{indent}alert  {}: {}",
            published.alert.cluster_name(),
            nodes.join(", ")
        ));
        for instance in &published.alert.instances {
            for remediation in &instance.remediations {
                lines.push(format!(
                    "{indent}       remediation of {}: {}",
                    instance.node_id,
                    remediation.text()
                ));
            }
        }
    }
    for r in &report.resolved {
        let nodes: Vec<&str> = r
            .resolved
            .episodes
            .iter()
            .map(|e| e.node_id.as_str())
            .collect();
        lines.push(format!(
            "{indent}resolved {}: {}",
            r.resolved.cluster_name(),
            nodes.join(", ")
        ));
    }
    for skipped in &report.skipped {
        lines.push(format!(
            "{indent}skip   {} ({}): {}",
            skipped.node_id, skipped.cluster, skipped.reason
        ));
    }
    for (record_id, reason) in &report.dead_lettered {
        lines.push(format!(
            "{indent}parked record {record_id} in the dead-letter queue: {reason}"
        ));
    }
    for (cluster, error) in &report.errors {
        lines.push(format!("{indent}retry  cluster {cluster}: {error}"));
    }
    if report.action_failures > 0 {
        lines.push(format!(
            "{indent}{} custom action(s) failed",
            report.action_failures
        ));
    }
    lines
}
