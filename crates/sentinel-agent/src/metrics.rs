//! The agent monitor's metric names (CloudWatch, written as EMF records by
//! `sentinel_core::emf`).

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
