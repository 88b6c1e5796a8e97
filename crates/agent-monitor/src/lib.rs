//! The agent-monitor Lambda as a library: configuration, the batch pipeline, custom actions,
//! and a local event-source loop. The `bootstrap` binary is a thin wrapper around
//! [`Monitor::handle`]; the demo, replays and tests call the very same code.

pub mod actions;
pub mod config;
pub mod invocation;
pub mod lifecycle;
pub mod local_source;
pub mod memory;
mod observe;
pub mod pipeline;
pub mod ports;
pub mod remediate;
pub mod report;
pub mod sweep;

pub use actions::{ActionRegistry, NodeAction};
pub use config::{Config, ConfigError};
pub use lifecycle::{Lifecycle, PublishedAlert, PublishedResolved};
pub use local_source::QueuePoller;
pub use pipeline::{BatchReport, Clients, Monitor};
pub use sweep::SweepReport;
