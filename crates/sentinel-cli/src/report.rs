//! Human-readable output of what a batch came to, shared by `demo` and `replay`.

use agent_monitor::BatchReport;

pub fn print_batch(report: &BatchReport, indent: &str) {
    for published in &report.published {
        let nodes: Vec<String> = published
            .alert
            .instances
            .iter()
            .map(|i| format!("{} ({})", i.node_id, i.kind.as_str()))
            .collect();
        println!(
            "{indent}alert  {}: {}",
            published.alert.cluster_name(),
            nodes.join(", ")
        );
        for instance in &published.alert.instances {
            for action in &instance.actions {
                println!(
                    "{indent}       remediation of {}: {}",
                    instance.node_id, action.outcome
                );
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
        println!(
            "{indent}resolved {}: {}",
            r.resolved.cluster_name(),
            nodes.join(", ")
        );
    }
    for skipped in &report.skipped {
        println!(
            "{indent}skip   {} ({}): {}",
            skipped.node_id, skipped.cluster, skipped.reason
        );
    }
    for (record_id, reason) in &report.dead_lettered {
        println!("{indent}parked record {record_id} in the dead-letter queue: {reason}");
    }
    for (cluster, error) in &report.errors {
        println!("{indent}retry  cluster {cluster}: {error}");
    }
    if report.action_failures > 0 {
        println!("{indent}{} custom action(s) failed", report.action_failures);
    }
}
