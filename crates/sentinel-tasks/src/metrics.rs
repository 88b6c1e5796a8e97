//! The task monitor's metric names (CloudWatch, written as EMF records).

/// Failed tasks (and failing service or deployment events), by cluster and service, and by
/// cluster and kind.
pub const TASK_FAILURES: &str = "TaskFailures";
/// Spot tasks told to stop: counted, never paged. Once per batch without dimensions, and
/// by cluster (the notices AWS documents for Fargate Spot name no service).
pub const SPOT_INTERRUPTIONS: &str = "SpotInterruptions";
/// `aws.ecs` events of a detail-type the task monitor does not read (a container instance
/// event on the task queue): acknowledged and logged, never dead-lettered.
pub const EVENTS_NOT_FOR_THIS_MONITOR: &str = "EventsNotForThisMonitor";
/// Stops that are not failures (scale-in, replacements, finished jobs, stopped by people).
pub const NOT_FAILURES: &str = "StopsNotFailures";
pub const INVALID_RECORDS: &str = "InvalidRecords";
pub const FAILED_RECORDS: &str = "FailedRecords";
pub const ALERTS_OPENED: &str = "TaskAlertsOpened";
pub const REMINDERS_SENT: &str = "TaskRemindersSent";
pub const ALERTS_RESOLVED: &str = "TaskAlertsResolved";
pub const CLUSTER_DIMENSION: &str = "ClusterName";
pub const SERVICE_DIMENSION: &str = "ServiceName";
pub const KIND_DIMENSION: &str = "Kind";
