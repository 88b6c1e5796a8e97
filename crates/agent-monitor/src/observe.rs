//! Looking at AWS now: which clusters are monitored, what ECS reports about container
//! instances, and how the nodes under disconnected agents are doing. Shared by the event
//! path and the sweep, so both decide from the same kind of observation.

use sentinel_agent::{
    assess_registration, ContainerInstanceView, NodeId, NodeKind, NodeView, Observation,
};
use sentinel_aws::ecs::container_instance_id;
use sentinel_aws::{AwsError, Ec2Inventory, EcsInventory, ManagedNodes};
use sentinel_core::cache::TtlCache;
use sentinel_core::{ClusterArn, ClusterView, MonitoringPolicy, Tag};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The monitor's eyes: ECS for clusters and container instances, EC2 and SSM for nodes.
pub struct Observer {
    ecs: EcsInventory,
    ec2: Ec2Inventory,
    ssm: ManagedNodes,
    policy: MonitoringPolicy,
    /// Cluster tags survive across warm invocations: they change rarely and
    /// DescribeClusters is the only call a quiet batch would otherwise repeat.
    tag_cache: Mutex<TtlCache<ClusterArn, Option<Vec<Tag>>>>,
}

/// What one round of lookups found.
#[derive(Debug, Default)]
pub(crate) struct Observed {
    pub views: HashMap<ClusterArn, Result<ClusterView, AwsError>>,
    /// Container instances by id, for each monitored cluster that was described.
    pub instances: HashMap<ClusterArn, Result<HashMap<String, ContainerInstanceView>, AwsError>>,
    pub ec2: Option<Result<HashMap<NodeId, NodeView>, AwsError>>,
    pub anywhere: Option<Result<HashMap<NodeId, NodeView>, AwsError>>,
}

impl Observed {
    /// The observation of one container instance, or the lookup error it depends on.
    pub fn observation(
        &self,
        cluster: &ClusterArn,
        container_instance_arn: &str,
    ) -> Result<Observation, AwsError> {
        let view = match self.views.get(cluster) {
            Some(Ok(view)) => view.clone(),
            Some(Err(err)) => return Err(err.clone()),
            None => ClusterView::Missing,
        };
        let instance = match self.instances.get(cluster) {
            Some(Ok(instances)) => instances
                .get(container_instance_id(container_instance_arn))
                .cloned(),
            Some(Err(err)) => return Err(err.clone()),
            None => None,
        };
        let node = match assess_registration(&view, instance.as_ref()) {
            Ok(node_id) => {
                let nodes = match node_id.kind() {
                    NodeKind::Ec2 => &self.ec2,
                    NodeKind::Anywhere => &self.anywhere,
                };
                match nodes {
                    Some(Ok(nodes)) => nodes.get(node_id).cloned(),
                    Some(Err(err)) => return Err(err.clone()),
                    None => None,
                }
            }
            Err(_) => None,
        };
        Ok(Observation {
            cluster: view,
            container_instance: instance,
            node,
        })
    }
}

impl Observer {
    pub fn new(
        ecs: EcsInventory,
        ec2: Ec2Inventory,
        ssm: ManagedNodes,
        policy: MonitoringPolicy,
        tag_cache_ttl: Duration,
    ) -> Self {
        Observer {
            ecs,
            ec2,
            ssm,
            policy,
            tag_cache: Mutex::new(TtlCache::new(tag_cache_ttl)),
        }
    }

    /// Every cluster in the region.
    pub(crate) async fn list_clusters(&self) -> Result<Vec<ClusterArn>, AwsError> {
        self.ecs.list_clusters().await
    }

    /// Every container instance ARN of one cluster.
    pub(crate) async fn list_container_instances(
        &self,
        cluster: &ClusterArn,
    ) -> Result<Vec<String>, AwsError> {
        self.ecs.list_container_instances(cluster).await
    }

    fn lock_tag_cache(&self) -> MutexGuard<'_, TtlCache<ClusterArn, Option<Vec<Tag>>>> {
        // A panic while holding the lock cannot leave the cache inconsistent (each use is
        // one insert or lookup), so a poisoned lock is still safe to use.
        self.tag_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Describes the given container instances of every monitored cluster (concurrently,
    /// 100 per call), then the nodes of those whose agents are still down (EC2 and SSM
    /// concurrently, across clusters).
    pub(crate) async fn observe(
        &self,
        views: HashMap<ClusterArn, Result<ClusterView, AwsError>>,
        wanted: &[(ClusterArn, Vec<String>)],
    ) -> Observed {
        let describes = wanted
            .iter()
            .filter(|(cluster, _)| matches!(views.get(cluster), Some(Ok(ClusterView::Monitored))))
            .map(|(cluster, arns)| async move {
                (
                    cluster.clone(),
                    self.ecs.container_instances(cluster, arns).await,
                )
            });
        let instances: HashMap<_, _> = futures::future::join_all(describes)
            .await
            .into_iter()
            .collect();

        let mut ec2_ids = BTreeSet::new();
        let mut anywhere_ids = BTreeSet::new();
        for found in instances.values().flatten() {
            for instance in found.values() {
                if let Ok(node) = assess_registration(&ClusterView::Monitored, Some(instance)) {
                    match node.kind() {
                        NodeKind::Ec2 => ec2_ids.insert(node.clone()),
                        NodeKind::Anywhere => anywhere_ids.insert(node.clone()),
                    };
                }
            }
        }
        let ec2_ids: Vec<NodeId> = ec2_ids.into_iter().collect();
        let anywhere_ids: Vec<NodeId> = anywhere_ids.into_iter().collect();
        let (ec2, anywhere) = tokio::join!(
            async {
                if ec2_ids.is_empty() {
                    None
                } else {
                    Some(self.ec2.instances(&ec2_ids).await)
                }
            },
            async {
                if anywhere_ids.is_empty() {
                    None
                } else {
                    Some(self.ssm.nodes(&anywhere_ids).await)
                }
            }
        );
        Observed {
            views,
            instances,
            ec2,
            anywhere,
        }
    }

    /// Monitored, not monitored or missing, per cluster. In tag mode, tags come from the
    /// warm cache or one DescribeClusters call per 100 uncached clusters.
    pub(crate) async fn cluster_views(
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
