//! The agent monitor's domain, pure and synchronous: no I/O, no AWS SDK, no runtime. It
//! depends only on the shared kernel, `sentinel-core`.
//!
//! The question "why was this instance alerted (or not)?" is answered by one function,
//! [`decision::assess`]; everything else here feeds it or renders its outcome:
//!
//! - [`event`]: parsing EventBridge "ECS Container Instance State Change" events.
//! - [`batch`]: collapsing duplicate events of one SQS batch and grouping them by cluster.
//! - [`observation`]: what a fresh look at ECS, EC2 and SSM found.
//! - [`decision`]: the verdict, `Alert { kind }` or `Skip { reason }`.
//! - [`episode`]: the alert lifecycle (open → resolved, reminders, owed notices).
//! - [`alert`]: the aggregated per-cluster notification (subject, email text, JSON document).
//! - [`recovery`]: the RESOLVED notice.
//! - [`remediation`]: what may be done about a down agent, and how much per hour.
//! - `node`, `states`: the kernel's machines and AWS state names, re-exported.
//! - [`metrics`]: the names of its CloudWatch metrics.

pub mod alert;
pub mod batch;
pub mod decision;
pub mod episode;
pub mod event;
pub mod metrics;
pub mod observation;
pub mod recovery;
pub mod remediation;

// The machines and their states are the kernel's (the ECS, EC2 and SSM readers fill them);
// re-exported so the domain reads as one vocabulary.
pub use sentinel_core::{node, states};

pub use alert::{AffectedInstance, ClusterAlert};
pub use batch::{group_by_cluster, Candidate, ClusterBatch};
pub use decision::{
    assess, assess_registration, AlertKind, DecisionSettings, Severity, SkipReason, Verdict,
};
pub use event::{parse_state_change, InvalidEvent, StateChange};
pub use node::{NodeId, NodeKind};
pub use observation::{ContainerInstanceView, NodeView, Observation};

pub use states::{Ec2State, InstanceStatus, PingStatus};
