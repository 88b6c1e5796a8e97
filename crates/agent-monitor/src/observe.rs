//! Looking at AWS now: which clusters are monitored, what ECS reports about container
//! instances, and how the nodes under disconnected agents are doing. Shared by the event
//! path and the sweep, so both decide from the same kind of observation.

use sentinel_agent::{
    assess_registration, ContainerInstanceView, NodeId, NodeKind, NodeView, Observation,
};
use sentinel_aws::ecs::container_instance_id;
use sentinel_aws::{AwsError, ClusterPolicy, Ec2Inventory, EcsInventory, ManagedNodes};
use sentinel_core::{ClusterArn, ClusterView, MonitoringPolicy};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// The monitor's eyes: ECS for clusters and container instances, EC2 and SSM for nodes.
pub struct Observer {
    ecs: EcsInventory,
    ec2: Ec2Inventory,
    ssm: ManagedNodes,
    policy: ClusterPolicy,
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
            policy: ClusterPolicy::new(ecs.clone(), policy, tag_cache_ttl),
            ecs,
            ec2,
            ssm,
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

    /// Monitored, not monitored or missing, per cluster ([`ClusterPolicy::views`]).
    pub(crate) async fn cluster_views(
        &self,
        clusters: &[ClusterArn],
    ) -> HashMap<ClusterArn, Result<ClusterView, AwsError>> {
        self.policy.views(clusters).await
    }
}
