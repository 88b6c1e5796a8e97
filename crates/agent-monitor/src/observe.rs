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

/// What to look at in one monitored cluster: these container instances, and the nodes
/// under them that the events already name (a disconnect event carries its instance's EC2 or
/// SSM id, so its node is looked up alongside the container instance, not after it).
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    pub cluster: ClusterArn,
    pub container_instances: Vec<String>,
    pub nodes: Vec<NodeId>,
}

/// Nodes found by kind: `None` when none of that kind was looked up.
type NodeLookup = Option<Result<HashMap<NodeId, NodeView>, AwsError>>;

/// What the lookups found.
#[derive(Debug, Default)]
pub(crate) struct Observed {
    pub views: HashMap<ClusterArn, Result<ClusterView, AwsError>>,
    /// Container instances by id, for each monitored cluster that was described.
    pub instances: HashMap<ClusterArn, Result<HashMap<String, ContainerInstanceView>, AwsError>>,
    pub ec2: NodeLookup,
    pub anywhere: NodeLookup,
    /// Every node id asked about (found or not), so none is asked about twice.
    asked: BTreeSet<NodeId>,
}

impl Observed {
    /// Adds what one node lookup found; a failed lookup fails every observation that needs
    /// a node of its kind.
    fn add_nodes(&mut self, asked: BTreeSet<NodeId>, (ec2, anywhere): (NodeLookup, NodeLookup)) {
        self.asked.extend(asked);
        self.ec2 = merge(self.ec2.take(), ec2);
        self.anywhere = merge(self.anywhere.take(), anywhere);
    }

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

    /// Looks at the given container instances of every monitored cluster (concurrently, 100
    /// per call) and, in the same round, at the nodes the looks name; then at the nodes of
    /// agents still down that no look named (the sweep names none). EC2 and SSM concurrently,
    /// across clusters.
    pub(crate) async fn observe(
        &self,
        views: HashMap<ClusterArn, Result<ClusterView, AwsError>>,
        wanted: &[Wanted],
    ) -> Observed {
        let mut observed = Observed {
            views,
            ..Observed::default()
        };
        self.look(&mut observed, wanted).await;
        observed
    }

    /// [`Observer::observe`] for more clusters, with the cluster views already known.
    pub(crate) async fn look(&self, observed: &mut Observed, wanted: &[Wanted]) {
        let looks: Vec<&Wanted> = wanted
            .iter()
            .filter(|look| {
                matches!(
                    observed.views.get(&look.cluster),
                    Some(Ok(ClusterView::Monitored))
                )
            })
            .collect();
        if looks.is_empty() {
            return;
        }
        let named: BTreeSet<NodeId> = looks
            .iter()
            .flat_map(|look| look.nodes.iter().cloned())
            .filter(|node| !observed.asked.contains(node))
            .collect();
        let describes = looks.iter().map(|look| async move {
            (
                look.cluster.clone(),
                self.ecs
                    .container_instances(&look.cluster, &look.container_instances)
                    .await,
            )
        });
        let (instances, nodes) =
            tokio::join!(futures::future::join_all(describes), self.nodes(&named));
        observed.add_nodes(named, nodes);

        // Agents still down whose nodes no look named, nor an earlier round asked about.
        let mut unnamed = BTreeSet::new();
        for (_, found) in &instances {
            for instance in found.iter().flat_map(HashMap::values) {
                if let Ok(node) = assess_registration(&ClusterView::Monitored, Some(instance)) {
                    if !observed.asked.contains(node) {
                        unnamed.insert(node.clone());
                    }
                }
            }
        }
        observed.instances.extend(instances);
        if !unnamed.is_empty() {
            let nodes = self.nodes(&unnamed).await;
            observed.add_nodes(unnamed, nodes);
        }
    }

    /// EC2 instances and managed (Anywhere) nodes, concurrently; a kind with no id is not
    /// asked about.
    async fn nodes(&self, ids: &BTreeSet<NodeId>) -> (NodeLookup, NodeLookup) {
        let of_kind = |kind: NodeKind| -> Vec<NodeId> {
            ids.iter().filter(|id| id.kind() == kind).cloned().collect()
        };
        let (ec2_ids, anywhere_ids) = (of_kind(NodeKind::Ec2), of_kind(NodeKind::Anywhere));
        tokio::join!(
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
        )
    }

    /// Monitored, not monitored or missing, per cluster ([`ClusterPolicy::views`]).
    pub(crate) async fn cluster_views(
        &self,
        clusters: &[ClusterArn],
    ) -> HashMap<ClusterArn, Result<ClusterView, AwsError>> {
        self.policy.views(clusters).await
    }
}

/// Two lookups of one kind of node as one: what both found, or the first failure.
fn merge(a: NodeLookup, b: NodeLookup) -> NodeLookup {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(Err(err)), _) | (_, Some(Err(err))) => Some(Err(err)),
        (Some(Ok(mut a)), Some(Ok(b))) => {
            a.extend(b);
            Some(Ok(a))
        }
    }
}
