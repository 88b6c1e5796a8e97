//! The task-monitor function: SQS batches of ECS task, service and deployment events in;
//! one alert per failing service (or task family) with the reason, reminders, one RESOLVED
//! when it is steady again, EMF metrics, and the partial-batch answer out.
//!
//! - [`pipeline`] (`TaskMonitor`): one batch, from records to answer.
//! - [`ports`]: the task episode store, the notifier and log tails, as traits; [`memory`] their
//!   in-memory twins with scripted faults, for the pipeline's tests.
//! - [`store`]: how a task episode is kept in the alert table.
//! - [`config`]: environment → [`Config`].

pub mod config;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod pipeline;
pub mod ports;
pub mod store;

pub use config::Config;
pub use pipeline::{Clients, Ports, TaskBatchReport, TaskMonitor};
pub use store::TaskEpisodeStore;
