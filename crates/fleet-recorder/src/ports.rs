//! What the fleet recorder needs from the world, as small traits: where fleet state is kept
//! (newer-only writes, marking gone, a cluster's records) and what ECS lists now. The AWS
//! adapters implement them; [`crate::memory`] has in-memory twins for the pipeline's tests.

use crate::store::{FleetInventory, FleetTable, Recorded, StoredRecord};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sentinel_aws::{AwsError, EcsInventory};
use sentinel_core::ClusterArn;
use sentinel_fleet::FleetRecord;

pub trait FleetStore: Send + Sync {
    /// Writes each record unless the store holds the same state or a newer one; one answer
    /// per record, in order.
    fn record_all<'a>(
        &'a self,
        records: &'a [&'a FleetRecord],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<Result<Recorded, AwsError>>>;
    /// Marks a record gone if its stored order is still `order`.
    fn mark_gone<'a>(
        &'a self,
        key: &'a str,
        order: u64,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Recorded, AwsError>>;
    /// One cluster's stored records; unreadable items are counted.
    fn cluster<'a>(
        &'a self,
        cluster: &'a str,
    ) -> BoxFuture<'a, Result<(Vec<StoredRecord>, usize), AwsError>>;
}

impl FleetStore for FleetTable {
    fn record_all<'a>(
        &'a self,
        records: &'a [&'a FleetRecord],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<Result<Recorded, AwsError>>> {
        Box::pin(FleetTable::record_all(self, records, now))
    }

    fn mark_gone<'a>(
        &'a self,
        key: &'a str,
        order: u64,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Recorded, AwsError>> {
        Box::pin(FleetTable::mark_gone(self, key, order, now))
    }

    fn cluster<'a>(
        &'a self,
        cluster: &'a str,
    ) -> BoxFuture<'a, Result<(Vec<StoredRecord>, usize), AwsError>> {
        Box::pin(async move {
            let (records, unreadable) = FleetTable::cluster(self, cluster, None).await?;
            for item in &unreadable {
                tracing::warn!(
                    key = item.key,
                    why = item.why,
                    "skipping a fleet item that is not a readable record"
                );
            }
            Ok((records, unreadable.len()))
        })
    }
}

/// What ECS lists now.
pub trait Listing: Send + Sync {
    fn clusters(&self) -> BoxFuture<'_, Result<Vec<ClusterArn>, AwsError>>;
    /// The cluster's instances and tasks as ECS describes them now.
    fn cluster_records<'a>(
        &'a self,
        cluster: &'a ClusterArn,
    ) -> BoxFuture<'a, Result<Vec<FleetRecord>, AwsError>>;
}

/// ECS through the SDK: ListClusters, and per cluster the instances and tasks.
pub struct EcsListing {
    pub clusters: EcsInventory,
    pub fleet: FleetInventory,
}

impl Listing for EcsListing {
    fn clusters(&self) -> BoxFuture<'_, Result<Vec<ClusterArn>, AwsError>> {
        Box::pin(self.clusters.list_clusters())
    }

    fn cluster_records<'a>(
        &'a self,
        cluster: &'a ClusterArn,
    ) -> BoxFuture<'a, Result<Vec<FleetRecord>, AwsError>> {
        Box::pin(async move {
            let (instances, tasks) =
                futures::try_join!(self.fleet.instances(cluster), self.fleet.tasks(cluster))?;
            Ok(instances
                .into_iter()
                .map(FleetRecord::Instance)
                .chain(tasks.into_iter().map(FleetRecord::Task))
                .collect())
        })
    }
}
