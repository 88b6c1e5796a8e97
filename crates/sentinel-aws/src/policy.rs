//! Which clusters are monitored, looked up: every cluster, or those tagged
//! `ecs-agent-monitoring=<value>`. Tags come from a cache that survives warm invocations
//! (they change rarely, and DescribeClusters is the only call a quiet batch would otherwise
//! repeat), else from one DescribeClusters per 100 uncached clusters. Every monitor decides
//! the same way, so every monitor uses this.

use crate::{AwsError, EcsInventory};
use sentinel_core::cache::TtlCache;
use sentinel_core::{ClusterArn, ClusterView, MonitoringPolicy, Tag};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub struct ClusterPolicy {
    ecs: EcsInventory,
    policy: MonitoringPolicy,
    tag_cache: Mutex<TtlCache<ClusterArn, Option<Vec<Tag>>>>,
}

impl ClusterPolicy {
    pub fn new(ecs: EcsInventory, policy: MonitoringPolicy, tag_cache_ttl: Duration) -> Self {
        ClusterPolicy {
            ecs,
            policy,
            tag_cache: Mutex::new(TtlCache::new(tag_cache_ttl)),
        }
    }

    fn lock_tag_cache(&self) -> MutexGuard<'_, TtlCache<ClusterArn, Option<Vec<Tag>>>> {
        // A panic while holding the lock cannot leave the cache inconsistent (each use is
        // one insert or lookup), so a poisoned lock is still safe to use.
        self.tag_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Monitored, not monitored or missing, per cluster; a lookup error per cluster whose
    /// tags could not be read.
    pub async fn views(
        &self,
        clusters: &[ClusterArn],
    ) -> HashMap<ClusterArn, Result<ClusterView, AwsError>> {
        let policy = &self.policy;
        if !policy.needs_tags() {
            return clusters
                .iter()
                .map(|c| (c.clone(), Ok(ClusterView::Monitored)))
                .collect();
        }
        let mut views = HashMap::new();
        let mut uncached = Vec::new();
        {
            let now = Instant::now();
            let mut cache = self.lock_tag_cache();
            cache.evict_expired(now);
            for cluster in clusters {
                match cache.get(cluster, now) {
                    Some(tags) => {
                        views.insert(cluster.clone(), Ok(policy.view(tags.as_deref())));
                    }
                    None => uncached.push(cluster.clone()),
                }
            }
        }
        if uncached.is_empty() {
            return views;
        }
        match self.ecs.cluster_tags(&uncached).await {
            Ok(found) => {
                let now = Instant::now();
                let mut cache = self.lock_tag_cache();
                for (arn, tags) in found {
                    views.insert(arn.clone(), Ok(policy.view(tags.as_deref())));
                    cache.insert(arn, tags, now);
                }
            }
            Err(err) => {
                for arn in uncached {
                    views.insert(arn, Err(err.clone()));
                }
            }
        }
        views
    }
}
