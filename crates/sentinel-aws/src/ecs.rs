//! ECS lookups: cluster tags (DescribeClusters) and container instances
//! (DescribeContainerInstances).

use crate::{chunks, AwsError, FromSdk};
use aws_sdk_ecs::types::{ClusterField, ContainerInstance};
use futures::future::try_join_all;
use sentinel_core::{ClusterArn, Tag};
use sentinel_core::{ContainerInstanceView, InstanceStatus, NodeId};
use std::collections::HashMap;

/// DescribeClusters takes at most 100 clusters per call.
pub const CLUSTERS_PER_CALL: usize = 100;
/// ListClusters and ListContainerInstances return at most 100 items per page.
pub const LIST_PAGE_SIZE: i32 = 100;
/// DescribeContainerInstances takes at most 100 container instances per call.
pub const CONTAINER_INSTANCES_PER_CALL: usize = 100;

#[derive(Debug, Clone)]
pub struct EcsInventory {
    client: aws_sdk_ecs::Client,
}

impl EcsInventory {
    pub fn new(client: aws_sdk_ecs::Client) -> Self {
        EcsInventory { client }
    }

    /// Tags of each cluster; `None` for a cluster ECS does not know or reports INACTIVE.
    /// One call per 100 clusters, issued concurrently.
    pub async fn cluster_tags(
        &self,
        clusters: &[ClusterArn],
    ) -> Result<HashMap<ClusterArn, Option<Vec<Tag>>>, AwsError> {
        let calls = chunks(clusters, CLUSTERS_PER_CALL).map(|chunk| async move {
            self.client
                .describe_clusters()
                .set_clusters(Some(chunk.iter().map(|c| c.as_str().to_owned()).collect()))
                .include(ClusterField::Tags)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ecs", "DescribeClusters", e))
        });
        let mut found: HashMap<String, Vec<Tag>> = HashMap::new();
        for output in try_join_all(calls).await? {
            for cluster in output.clusters() {
                if cluster.status() == Some("INACTIVE") {
                    continue;
                }
                if let Some(arn) = cluster.cluster_arn() {
                    let tags = cluster
                        .tags()
                        .iter()
                        .filter_map(|t| Some(Tag::new(t.key()?, t.value().unwrap_or_default())))
                        .collect();
                    found.insert(arn.to_owned(), tags);
                }
            }
        }
        Ok(clusters
            .iter()
            .map(|c| (c.clone(), found.remove(c.as_str())))
            .collect())
    }

    /// The container instances ECS still knows, keyed by container instance id (the last
    /// segment of the ARN, which is the same in old- and new-format ARNs). A deleted cluster
    /// has no instances. One call per 100 instances, issued concurrently.
    pub async fn container_instances(
        &self,
        cluster: &ClusterArn,
        arns: &[String],
    ) -> Result<HashMap<String, ContainerInstanceView>, AwsError> {
        let views = self
            .describe_container_instances(cluster, arns, view_of)
            .await?;
        Ok(views
            .into_iter()
            .map(|view| (container_instance_id(&view.arn).to_owned(), view))
            .collect())
    }

    /// DescribeContainerInstances, one call per 100 instances issued concurrently, each
    /// instance read through `read` (which drops what it cannot use). A deleted cluster has
    /// no instances.
    pub async fn describe_container_instances<T>(
        &self,
        cluster: &ClusterArn,
        arns: &[String],
        read: impl Fn(&aws_sdk_ecs::types::ContainerInstance) -> Option<T>,
    ) -> Result<Vec<T>, AwsError> {
        let calls = chunks(arns, CONTAINER_INSTANCES_PER_CALL).map(|chunk| async move {
            self.client
                .describe_container_instances()
                .cluster(cluster.as_str())
                .set_container_instances(Some(chunk.to_vec()))
                .send()
                .await
        });
        let mut found = Vec::new();
        for result in futures::future::join_all(calls).await {
            match result {
                Ok(output) => found.extend(output.container_instances().iter().filter_map(&read)),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_cluster_not_found_exception()) =>
                {
                    tracing::info!(cluster = %cluster, "cluster no longer exists: its instances count as deregistered");
                }
                Err(e) => return Err(AwsError::from_sdk("ecs", "DescribeContainerInstances", e)),
            }
        }
        Ok(found)
    }
}

impl EcsInventory {
    /// How many container instances each cluster has registered (DescribeClusters, 100 per
    /// call): the base of the remediation limit. Unknown clusters are absent.
    pub async fn cluster_sizes(
        &self,
        clusters: &[ClusterArn],
    ) -> Result<HashMap<ClusterArn, usize>, AwsError> {
        let calls = chunks(clusters, CLUSTERS_PER_CALL).map(|chunk| async move {
            self.client
                .describe_clusters()
                .set_clusters(Some(chunk.iter().map(|c| c.as_str().to_owned()).collect()))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ecs", "DescribeClusters", e))
        });
        let mut sizes = HashMap::new();
        for output in try_join_all(calls).await? {
            for cluster in output.clusters() {
                if let Some(arn) = cluster
                    .cluster_arn()
                    .and_then(|a| ClusterArn::parse(a).ok())
                {
                    let count = usize::try_from(cluster.registered_container_instances_count())
                        .unwrap_or(0);
                    sizes.insert(arn, count);
                }
            }
        }
        Ok(sizes)
    }

    /// Every cluster ARN in the region, 100 per call.
    pub async fn list_clusters(&self) -> Result<Vec<ClusterArn>, AwsError> {
        let mut clusters = Vec::new();
        let mut pages = self
            .client
            .list_clusters()
            .max_results(LIST_PAGE_SIZE)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ecs", "ListClusters", e))?;
            clusters.extend(
                page.cluster_arns()
                    .iter()
                    .filter_map(|arn| ClusterArn::parse(arn).ok()),
            );
        }
        Ok(clusters)
    }

    /// Every container instance ARN of a cluster (all statuses but INACTIVE), 100 per call.
    /// A deleted cluster has none.
    pub async fn list_container_instances(
        &self,
        cluster: &ClusterArn,
    ) -> Result<Vec<String>, AwsError> {
        let mut arns = Vec::new();
        let mut pages = self
            .client
            .list_container_instances()
            .cluster(cluster.as_str())
            .max_results(LIST_PAGE_SIZE)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => arns.extend(page.container_instance_arns().iter().cloned()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_cluster_not_found_exception()) =>
                {
                    return Ok(Vec::new())
                }
                Err(e) => return Err(AwsError::from_sdk("ecs", "ListContainerInstances", e)),
            }
        }
        Ok(arns)
    }
}

/// The id part of a container instance ARN (`…:container-instance/[cluster/]<id>`).
pub fn container_instance_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn view_of(instance: &ContainerInstance) -> Option<ContainerInstanceView> {
    let attribute = |name: &str| {
        instance
            .attributes()
            .iter()
            .find(|a| a.name() == name)
            .and_then(|a| a.value())
            .map(str::to_owned)
    };
    Some(ContainerInstanceView {
        arn: instance.container_instance_arn()?.to_owned(),
        status: InstanceStatus::parse(instance.status().unwrap_or("UNKNOWN")),
        agent_connected: instance.agent_connected(),
        agent_version: instance
            .version_info()
            .and_then(|v| v.agent_version())
            .map(str::to_owned),
        node_id: instance
            .ec2_instance_id()
            .and_then(|id| NodeId::parse(id).ok()),
        instance_type: attribute("ecs.instance-type"),
        availability_zone: attribute("ecs.availability-zone"),
        os_type: attribute("ecs.os-type"),
    })
}
