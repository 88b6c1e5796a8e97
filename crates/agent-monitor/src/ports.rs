//! The ports of the alert lifecycle: small traits for what it stores, sends and does, so the
//! lifecycle runs the same against AWS (the adapters of `sentinel-aws`, wired here) and
//! against the in-memory implementations of [`crate::memory`] that the unit tests use to
//! replay every race and failure deterministically.
//!
//! Futures are boxed so the ports can be held as trait objects (`Arc<dyn …>`): one
//! allocation per call is nothing next to a network round trip.

use crate::store::{self, EpisodeStore, Listing};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sentinel_agent::episode::Episode;
use sentinel_agent::NodeId;
use sentinel_aws::{AwsError, EcsInventory, Remediator};
use sentinel_core::ClusterArn;
use sentinel_lambda::engine;
use std::collections::HashMap;

/// Where episodes live: one item per container instance, every write conditional on the
/// version it read (the engine's store), and the sweep's view of all of them.
pub trait EpisodeRepo: engine::EpisodeRepo<Episode> {
    /// Every stored episode (the sweep's view). Items that cannot be read are skipped and
    /// counted, never fatal: one bad item must not stop every sweep.
    fn all(&self) -> BoxFuture<'_, Result<Listing, AwsError>>;
}

pub use sentinel_lambda::Notifier;

/// The hourly remediation budget per cluster, shared by every run.
pub trait RemediationLedger: Send + Sync {
    /// Takes a slot if fewer than `budget` actions were taken in the last hour.
    fn take_slot<'a>(
        &'a self,
        cluster: &'a ClusterArn,
        now: DateTime<Utc>,
        budget: usize,
    ) -> BoxFuture<'a, Result<bool, AwsError>>;
}

/// What remediation can do to a node, and the cluster sizes its budget is based on.
pub trait NodeRemedies: Send + Sync {
    /// Registered container instances per cluster; unknown clusters are absent.
    fn cluster_sizes<'a>(
        &'a self,
        clusters: &'a [ClusterArn],
    ) -> BoxFuture<'a, Result<HashMap<ClusterArn, usize>, AwsError>>;
    /// Returns the SSM command id.
    fn restart_agent<'a>(
        &'a self,
        node: &'a NodeId,
        windows: bool,
    ) -> BoxFuture<'a, Result<String, AwsError>>;
    fn drain<'a>(
        &'a self,
        cluster: &'a ClusterArn,
        container_instance_arn: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>>;
    fn reboot<'a>(&'a self, node: &'a NodeId) -> BoxFuture<'a, Result<(), AwsError>>;
    /// Returns the Auto Scaling group that replaces the node, or None if it is in none.
    fn replace<'a>(&'a self, node: &'a NodeId) -> BoxFuture<'a, Result<Option<String>, AwsError>>;
}

impl EpisodeRepo for EpisodeStore {
    fn all(&self) -> BoxFuture<'_, Result<Listing, AwsError>> {
        Box::pin(store::all(self))
    }
}

impl RemediationLedger for EpisodeStore {
    fn take_slot<'a>(
        &'a self,
        cluster: &'a ClusterArn,
        now: DateTime<Utc>,
        budget: usize,
    ) -> BoxFuture<'a, Result<bool, AwsError>> {
        Box::pin(store::take_remediation_slot(self, cluster, now, budget))
    }
}

/// The AWS side of remediation: the actions, and ECS for the cluster sizes.
#[derive(Debug, Clone)]
pub struct AwsRemedies {
    pub remediator: Remediator,
    pub ecs: EcsInventory,
}

impl NodeRemedies for AwsRemedies {
    fn cluster_sizes<'a>(
        &'a self,
        clusters: &'a [ClusterArn],
    ) -> BoxFuture<'a, Result<HashMap<ClusterArn, usize>, AwsError>> {
        Box::pin(self.ecs.cluster_sizes(clusters))
    }

    fn restart_agent<'a>(
        &'a self,
        node: &'a NodeId,
        windows: bool,
    ) -> BoxFuture<'a, Result<String, AwsError>> {
        Box::pin(self.remediator.restart_agent(node, windows))
    }

    fn drain<'a>(
        &'a self,
        cluster: &'a ClusterArn,
        container_instance_arn: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(self.remediator.drain(cluster, container_instance_arn))
    }

    fn reboot<'a>(&'a self, node: &'a NodeId) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(self.remediator.reboot(node))
    }

    fn replace<'a>(&'a self, node: &'a NodeId) -> BoxFuture<'a, Result<Option<String>, AwsError>> {
        Box::pin(self.remediator.replace(node))
    }
}
