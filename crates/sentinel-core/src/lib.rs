//! The shared kernel of ecs-sentinel, pure and synchronous: what every monitor needs and no
//! monitor owns. No I/O, no runtime, no AWS SDK.
//!
//! - [`ids`]: identifiers shared by monitors (cluster ARNs).
//! - [`policy`]: which clusters are monitored (all, or those carrying a tag).
//! - [`clock`]: time as a run sees it, movable in tests.
//! - [`cache`]: a small time-to-live cache (cluster tags across warm invocations).
//! - [`emf`]: CloudWatch Embedded Metric Format records.
//! - [`event`]: EventBridge envelopes of `aws.ecs` events, and why a body is unusable.
//! - [`ecs_event`]: the ECS event model, once: every detail-type ECS publishes, typed.
//! - [`notice`]: the notice lifecycle every monitor's episodes follow (open once, notify
//!   once, remind, resolve once, claims with leases).
//! - [`notification`]: the message every monitor sends, its SNS attributes and size rules.
//! - [`node`], [`states`], [`views`]: the machines under container instances (EC2 or ECS
//!   Anywhere), AWS's state names as enums, and what a fresh look at them found.
//! - [`error`], [`store`]: what the ports answer (a failed call; a versioned store's writes
//!   and reads), so no port names an adapter.

pub mod cache;
pub mod chat;
pub mod clock;
pub mod ecs_event;
pub mod emf;
pub mod error;
pub mod event;
pub mod ids;
pub mod logs;
pub mod node;
pub mod notice;
pub mod notification;
pub mod policy;
pub mod severity;
pub mod states;
pub mod store;
pub mod views;

pub use clock::{Clock, ManualClock, SystemClock};
pub use emf::MetricRecord;
pub use error::AwsError;
pub use ids::ClusterArn;
pub use node::{NodeId, NodeKind};
pub use policy::{ClusterView, MonitoringPolicy, Tag};
pub use states::{Ec2State, InstanceStatus, PingStatus};
pub use store::{Found, Unreadable, Versioned, Written};
pub use views::{ContainerInstanceView, NodeView};
