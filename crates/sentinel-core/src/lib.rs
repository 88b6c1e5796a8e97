//! The ecs-sentinel domain, pure and synchronous: no I/O, no AWS SDK, no runtime.
//!
//! The question "why was this instance alerted (or not)?" is answered by one function,
//! [`decision::assess`]; everything else here feeds it or renders its outcome:
//!
//! - [`event`]: parsing EventBridge "ECS Container Instance State Change" events.
//! - [`batch`]: collapsing duplicate events of one SQS batch and grouping them by cluster.
//! - [`policy`]: which clusters are monitored (all, or those carrying a tag).
//! - [`observation`]: what a fresh look at ECS, EC2 and SSM found.
//! - [`decision`]: the verdict, `Alert { kind }` or `Skip { reason }`.
//! - [`episode`]: the alert lifecycle (open → resolved, reminders, owed notices).
//! - [`alert`]: the aggregated per-cluster notification (subject, email text, JSON document).
//! - [`recovery`]: the RESOLVED notice.
//! - [`remediation`]: what may be done about a down agent, and how much per hour.
//! - [`metrics`]: CloudWatch Embedded Metric Format records.
//! - [`cache`]: a small time-to-live cache (the cluster tags of warm invocations).

pub mod alert;
pub mod batch;
pub mod cache;
pub mod decision;
pub mod episode;
pub mod event;
pub mod metrics;
pub mod node;
pub mod observation;
pub mod policy;
pub mod recovery;
pub mod remediation;

pub use alert::{AffectedInstance, ClusterAlert};
pub use batch::{group_by_cluster, Candidate, ClusterBatch};
pub use decision::{
    assess, assess_registration, AlertKind, DecisionSettings, Severity, SkipReason, Verdict,
};
pub use event::{parse_state_change, ClusterArn, InvalidEvent, StateChange};
pub use node::{NodeId, NodeKind};
pub use observation::{ClusterView, ContainerInstanceView, NodeView, Observation};
pub use policy::{MonitoringPolicy, Tag};
