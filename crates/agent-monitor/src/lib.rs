//! The agent-monitor Lambda as a library: configuration, the batch pipeline, custom actions
//! and remediation. The `bootstrap` binary is a thin wrapper around
//! [`Monitor::handle`]; the demo, replays and tests call the very same code.

pub mod actions;
pub mod config;
pub mod decided;
pub mod lifecycle;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
mod observe;
pub mod pipeline;
pub mod ports;
pub mod remediate;
pub mod report;
pub mod store;
pub mod sweep;

pub use actions::{ActionRegistry, NodeAction};
pub use config::{Config, ConfigError};
pub use lifecycle::{Lifecycle, PublishedAlert, PublishedResolved};
pub use pipeline::{BatchReport, Clients, Monitor};
pub use store::{EpisodeStore, Listing};
pub use sweep::SweepReport;
