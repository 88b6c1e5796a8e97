//! Generic AWS infrastructure for ecs-sentinel: the one SDK configuration, thin, batched,
//! concurrent readers (ECS, EC2, SSM, CloudWatch Logs) that answer in the kernel's views,
//! the versioned table every monitor keeps its state in, the SNS notifier and the
//! dead-letter writer. It knows no monitor's domain: each monitor's stored format lives
//! with that monitor (a [`Format`] over [`VersionedTable`]).
//!
//! Every lookup issues the fewest requests the API allows (the batch sizes are named
//! constants next to each call), because the number of calls per batch is a design figure
//! that the integration tests assert.

pub mod ec2;
pub mod ecs;
pub mod error;
pub mod logs;
pub mod policy;
pub mod remediation;
pub mod sdk;
pub mod sns;
pub mod sqs;
pub mod ssm;
pub mod table;

pub use ec2::Ec2Inventory;
pub use ecs::EcsInventory;
pub use error::{AwsError, FromSdk};
pub use logs::ContainerLogs;
pub use policy::ClusterPolicy;
pub use remediation::Remediator;
pub use sns::SnsNotifier;
pub use sqs::{DeadLetter, DeadLetterQueue};
pub use ssm::ManagedNodes;
pub use table::{Format, Found, Table, Unreadable, Versioned, VersionedTable, Written};

/// Splits `items` into request-sized chunks.
pub fn chunks<T>(items: &[T], size: usize) -> impl Iterator<Item = &[T]> {
    items.chunks(size.max(1))
}
