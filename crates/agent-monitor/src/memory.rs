//! In-memory implementations of the agent monitor's [`ports`](crate::ports), for fast tests
//! of its wiring: the engine's [`MemoryWorld`](sentinel_lambda::testing::MemoryWorld) of
//! agent episodes (versioned writes, scripted faults, gates, every delivered message) plus
//! what only this monitor has: the sweep's scan and the remediation budget. Compiled only
//! for tests (feature `testing`).

use crate::ports::{EpisodeRepo, NodeRemedies, Notifier, RemediationLedger};
use crate::store::Listing;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sentinel_agent::episode::Episode;
use sentinel_agent::NodeId;
use sentinel_core::notification::Notification;
use sentinel_core::{AwsError, ClusterArn, Found, Written};
use sentinel_lambda::engine;
use sentinel_lambda::testing;
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub use sentinel_lambda::testing::{Delivered, Fault, Gate, Op};

/// Agent episodes, notices and the remediation budget in memory, shared by every run of a
/// test. Everything the engine's world offers (faults, gates, calls, deliveries) is reached
/// through it.
#[derive(Clone, Default)]
pub struct MemoryWorld {
    world: testing::MemoryWorld<Episode>,
    slots_taken: Arc<AtomicUsize>,
}

impl MemoryWorld {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn slots_taken(&self) -> usize {
        self.slots_taken.load(Ordering::SeqCst)
    }
}

impl Deref for MemoryWorld {
    type Target = testing::MemoryWorld<Episode>;
    fn deref(&self) -> &Self::Target {
        &self.world
    }
}

impl engine::EpisodeRepo<Episode> for MemoryWorld {
    fn get_many<'a>(
        &'a self,
        arns: &'a [String],
    ) -> BoxFuture<'a, Result<Found<Episode>, AwsError>> {
        self.world.get_many(arns)
    }

    fn put<'a>(
        &'a self,
        episode: &'a Episode,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Written, AwsError>> {
        self.world.put(episode, now)
    }

    fn put_all<'a>(
        &'a self,
        episodes: &'a [Episode],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<Written>, AwsError>> {
        self.world.put_all(episodes, now)
    }

    fn delete<'a>(&'a self, episode: &'a Episode) -> BoxFuture<'a, Result<Written, AwsError>> {
        self.world.delete(episode)
    }
}

impl EpisodeRepo for MemoryWorld {
    fn all(&self) -> BoxFuture<'_, Result<Listing, AwsError>> {
        Box::pin(async move {
            if let Some(fault) = self.world.enter(Op::Scan).await {
                return Err(testing::MemoryWorld::<Episode>::error(Op::Scan, fault));
            }
            Ok(Listing {
                episodes: self.world.episodes(),
                unreadable: self.world.unreadable(),
            })
        })
    }
}

impl Notifier for MemoryWorld {
    fn publish<'a>(
        &'a self,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<String, AwsError>> {
        self.world.publish(notification)
    }
}

impl RemediationLedger for MemoryWorld {
    fn take_slot<'a>(
        &'a self,
        _cluster: &'a ClusterArn,
        _now: DateTime<Utc>,
        budget: usize,
    ) -> BoxFuture<'a, Result<bool, AwsError>> {
        let taken = self
            .slots_taken
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < budget).then_some(n + 1)
            })
            .is_ok();
        Box::pin(async move { Ok(taken) })
    }
}

/// Remedies that succeed without touching anything; the cluster size is fixed.
pub struct NoopRemedies {
    pub cluster_size: usize,
}

impl NodeRemedies for NoopRemedies {
    fn cluster_sizes<'a>(
        &'a self,
        clusters: &'a [ClusterArn],
    ) -> BoxFuture<'a, Result<HashMap<ClusterArn, usize>, AwsError>> {
        let sizes = clusters
            .iter()
            .map(|c| (c.clone(), self.cluster_size))
            .collect();
        Box::pin(async move { Ok(sizes) })
    }

    fn restart_agent<'a>(
        &'a self,
        node: &'a NodeId,
        _windows: bool,
    ) -> BoxFuture<'a, Result<String, AwsError>> {
        Box::pin(async move { Ok(format!("command-for-{node}")) })
    }

    fn drain<'a>(
        &'a self,
        _cluster: &'a ClusterArn,
        _container_instance_arn: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async { Ok(()) })
    }

    fn reboot<'a>(&'a self, _node: &'a NodeId) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async { Ok(()) })
    }

    fn replace<'a>(&'a self, _node: &'a NodeId) -> BoxFuture<'a, Result<Option<String>, AwsError>> {
        Box::pin(async { Ok(None) })
    }
}
