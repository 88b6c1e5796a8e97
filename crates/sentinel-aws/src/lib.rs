//! AWS adapters for ecs-sentinel: thin, batched, concurrent calls that turn AWS responses
//! into the plain views of the domain crates (`sentinel-agent`, `sentinel-tasks`,
//! `sentinel-fleet`), and their decisions into AWS calls.
//!
//! Every lookup issues the fewest requests the API allows (the batch sizes are named
//! constants next to each call), because the number of calls per batch is a design figure
//! that the integration tests assert.

pub mod ec2;
pub mod ecs;
pub mod episodes;
pub mod error;
pub mod fleet;
pub mod logs;
pub mod policy;
pub mod remediation;
pub mod sdk;
pub mod sns;
pub mod sqs;
pub mod ssm;
pub mod table;
pub mod task_episodes;

pub use ec2::Ec2Inventory;
pub use ecs::EcsInventory;
pub use episodes::{EpisodeStore, Listing};
pub use error::AwsError;
pub use fleet::{FleetInventory, FleetTable, Recorded, StoredRecord};
pub use logs::ContainerLogs;
pub use policy::ClusterPolicy;
pub use remediation::Remediator;
pub use sns::SnsNotifier;
pub use sqs::{DeadLetter, DeadLetterQueue};
pub use ssm::ManagedNodes;
pub use table::{Found, Stored, Unreadable, VersionedTable, Written};
pub use task_episodes::TaskEpisodeStore;

/// Splits `items` into request-sized chunks.
pub(crate) fn chunks<T>(items: &[T], size: usize) -> impl Iterator<Item = &[T]> {
    items.chunks(size.max(1))
}
