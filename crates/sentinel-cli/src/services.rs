//! ECS services as the health and logs commands read them: ListServices (every page) or the
//! named services, DescribeServices in chunks of 10 (the API's limit), and the target health
//! of each service's *own* target groups (from its load balancer configuration), one
//! DescribeTargetHealth per distinct target group. Chunks and target groups are read
//! concurrently, at most [`CONCURRENCY`] at a time.

use crate::health::report::{Deployment, ServiceFacts, Target};
use futures::stream::{self, StreamExt, TryStreamExt};
use sentinel_aws::{AwsError, FromSdk};
use std::collections::BTreeMap;

/// DescribeServices takes at most 10 services per call.
pub const DESCRIBE_CHUNK: usize = 10;
/// ListServices' largest page: one call per 100 services.
pub const LIST_PAGE_SIZE: i32 = 100;
/// Requests in flight at once: quick for a few dozen services, gentle on API rate limits.
pub const CONCURRENCY: usize = 8;

/// One service as DescribeServices answered, with what the other checks need of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub facts: ServiceFacts,
    /// Its load balancers' target groups, in the service's order.
    pub target_groups: Vec<String>,
    /// The task definition its primary deployment runs (ARN), when ECS said.
    pub task_definition: Option<String>,
}

pub struct ServiceReader {
    ecs: aws_sdk_ecs::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
}

impl ServiceReader {
    pub fn new(sdk: &sentinel_aws::sdk::SdkConfig) -> Self {
        ServiceReader {
            ecs: aws_sdk_ecs::Client::new(sdk),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(sdk),
        }
    }

    pub fn ecs(&self) -> &aws_sdk_ecs::Client {
        &self.ecs
    }

    /// Every service of the cluster, by name (ListServices, every page).
    pub async fn service_names(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        let arns: Vec<String> = self
            .ecs
            .list_services()
            .cluster(cluster)
            .max_results(LIST_PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::from_sdk("ecs", "ListServices", e))?;
        Ok(arns
            .iter()
            .map(|arn| arn.rsplit('/').next().unwrap_or(arn).to_owned())
            .collect())
    }

    /// The services named, or every service of the cluster when none is.
    pub async fn named_or_all(
        &self,
        cluster: &str,
        named: &[String],
    ) -> anyhow::Result<Vec<String>> {
        if !named.is_empty() {
            return Ok(named.to_vec());
        }
        self.service_names(cluster)
            .await
            .map_err(|e| anyhow::anyhow!("cannot list the services of cluster {cluster}: {e}"))
    }

    /// The named services, in the order given; a name ECS does not know comes back with
    /// status `MISSING` (an operator asked for it, so its absence is news, not an error).
    pub async fn describe(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<Vec<Described>, AwsError> {
        let chunks: Vec<Vec<Described>> = stream::iter(names.chunks(DESCRIBE_CHUNK))
            .map(|chunk| self.describe_chunk(cluster, chunk))
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        Ok(chunks.into_iter().flatten().collect())
    }

    async fn describe_chunk(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<Vec<Described>, AwsError> {
        let output = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(names.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ecs", "DescribeServices", e))?;
        let mut found: BTreeMap<String, Described> = output
            .services()
            .iter()
            .filter_map(|s| Some((s.service_name()?.to_owned(), described(s))))
            .collect();
        Ok(names
            .iter()
            .map(|name| {
                found.remove(name).unwrap_or_else(|| Described {
                    facts: ServiceFacts {
                        name: name.clone(),
                        status: "MISSING".into(),
                        ..ServiceFacts::default()
                    },
                    target_groups: Vec::new(),
                    task_definition: None,
                })
            })
            .collect())
    }

    /// Every registered target of one target group with its health.
    pub async fn target_health(&self, target_group: &str) -> Result<Vec<Target>, AwsError> {
        let output = self
            .elb
            .describe_target_health()
            .target_group_arn(target_group)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("elasticloadbalancing", "DescribeTargetHealth", e))?;
        Ok(output
            .target_health_descriptions()
            .iter()
            .map(|d| {
                let target = d.target();
                let health = d.target_health();
                Target {
                    target_group: target_group.to_owned(),
                    target: format!(
                        "{}:{}",
                        target.and_then(|t| t.id()).unwrap_or("?"),
                        target
                            .and_then(|t| t.port())
                            .map(|p| p.to_string())
                            .unwrap_or_else(|| "?".into())
                    ),
                    state: health
                        .and_then(|h| h.state())
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_else(|| "unknown".into()),
                    reason: health
                        .and_then(|h| h.reason())
                        .map(|r| r.as_str().to_owned()),
                    description: health.and_then(|h| h.description()).map(str::to_owned),
                }
            })
            .collect())
    }

    /// The services' facts with their targets filled in: each distinct target group read
    /// once, even when several services share it.
    pub async fn with_targets(
        &self,
        mut services: Vec<Described>,
    ) -> Result<Vec<Described>, AwsError> {
        let mut groups: Vec<&str> = services
            .iter()
            .flat_map(|s| s.target_groups.iter().map(String::as_str))
            .collect();
        groups.sort_unstable();
        groups.dedup();
        let health: BTreeMap<String, Vec<Target>> = stream::iter(groups)
            .map(|group| async move {
                self.target_health(group)
                    .await
                    .map(|targets| (group.to_owned(), targets))
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        for service in &mut services {
            service.facts.targets = service
                .target_groups
                .iter()
                .flat_map(|group| health.get(group).cloned().unwrap_or_default())
                .collect();
        }
        Ok(services)
    }
}

fn described(service: &aws_sdk_ecs::types::Service) -> Described {
    let deployments: Vec<Deployment> = service
        .deployments()
        .iter()
        .map(|d| Deployment {
            id: d.id().unwrap_or_default().to_owned(),
            status: d.status().unwrap_or_default().to_owned(),
            rollout_state: d.rollout_state().map(|s| s.as_str().to_owned()),
            rollout_reason: d.rollout_state_reason().map(str::to_owned),
            task_definition: d.task_definition().unwrap_or_default().to_owned(),
            desired: d.desired_count(),
            running: d.running_count(),
            pending: d.pending_count(),
            failed_tasks: d.failed_tasks(),
        })
        .collect();
    let task_definition = deployments
        .iter()
        .find(|d| d.status == "PRIMARY")
        .map(|d| d.task_definition.clone())
        .filter(|td| !td.is_empty())
        .or_else(|| service.task_definition().map(str::to_owned));
    let mut target_groups: Vec<String> = service
        .load_balancers()
        .iter()
        .filter_map(|lb| lb.target_group_arn().map(str::to_owned))
        .collect();
    target_groups.dedup();
    Described {
        facts: ServiceFacts {
            name: service.service_name().unwrap_or_default().to_owned(),
            status: service.status().unwrap_or("UNKNOWN").to_owned(),
            desired: service.desired_count(),
            running: service.running_count(),
            pending: service.pending_count(),
            deployments,
            targets: Vec::new(),
            events: service
                .events()
                .iter()
                .filter_map(|e| e.message().map(str::to_owned))
                .collect(),
        },
        target_groups,
        task_definition,
    }
}
