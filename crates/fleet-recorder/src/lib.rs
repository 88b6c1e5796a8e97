//! The fleet-recorder Lambda as a library: configuration, the batch pipeline and the
//! scheduled reconcile. The `fleet-recorder` binary is a thin wrapper around
//! [`FleetRecorder::handle`]; the demo and the tests call the very same code.
//!
//! Every `aws.ecs` event becomes the newest known state of its container instance, task or
//! service (`sentinel_fleet`), written only when newer than the stored state, one write per
//! key per batch. Nothing here alerts: replays from the event archive rebuild state and
//! nothing else.

pub mod config;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod pipeline;
pub mod ports;
pub mod store;

pub use config::Config;
pub use pipeline::{Clients, FleetRecorder, ReconcileReport, RecordReport};
pub use store::{FleetInventory, FleetTable, Recorded, StoredRecord};
