//! Fleet state, pure: what the fleet recorder keeps, long after ECS forgets it.
//!
//! - [`record`]: every `aws.ecs` event the fleet tracks — container instance, task, service
//!   action, deployment — as a [`FleetRecord`]: the newest known state of one thing, keyed,
//!   with the order (ECS's `version`, or the event time where ECS gives none) that decides
//!   which of two states is newer.
//! - [`batch`]: one batch's records, newest per key, so a batch writes each key once.
//! - [`reconcile`]: what ECS lists now against what is stored, as the repairs that make
//!   them agree (missed records written, vanished ones marked gone).
//! - [`view`]: what the operator commands show: a summary per cluster, tasks chosen and
//!   ordered as asked.
//!
//! No I/O, no runtime, no AWS SDK.

pub mod batch;
pub mod reconcile;
pub mod record;
pub mod view;

pub use batch::{newest_per_key, Newest};
pub use reconcile::{reconcile, Repair, StoredSummary};
pub use record::{
    parse_fleet_event, Container, FleetRecord, InstanceRecord, Kind, Resources, ServiceEventRecord,
    TaskRecord,
};
