//! The shared kernel of ecs-sentinel, pure and synchronous: what every monitor needs and no
//! monitor owns. No I/O, no runtime, no AWS SDK.
//!
//! - [`ids`]: identifiers shared by monitors (cluster ARNs).
//! - [`policy`]: which clusters are monitored (all, or those carrying a tag).
//! - [`clock`]: time as a run sees it, movable in tests.
//! - [`cache`]: a small time-to-live cache (cluster tags across warm invocations).
//! - [`emf`]: CloudWatch Embedded Metric Format records.
//! - [`event`]: EventBridge envelopes of `aws.ecs` events, and why a body is unusable.
//! - [`notice`]: the notice lifecycle every monitor's episodes follow (open once, notify
//!   once, remind, resolve once, claims with leases).
//! - [`notification`]: the message every monitor sends, its SNS attributes and size rules.

pub mod cache;
pub mod chat;
pub mod clock;
pub mod emf;
pub mod event;
pub mod ids;
pub mod notice;
pub mod notification;
pub mod policy;

pub use clock::{Clock, ManualClock, SystemClock};
pub use emf::MetricRecord;
pub use ids::ClusterArn;
pub use policy::{ClusterView, MonitoringPolicy, Tag};
