//! One SQS batch, end to end: parse → dead-letter the unusable → collapse and group →
//! cluster policy → batched, concurrent lookups → decide → notify → act → metrics → answer.

use crate::actions::{ActionRegistry, NodeAction};
use crate::config::{Config, ConfigError, CUSTOM_ACTIONS};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, SubsecRound, Utc};
use futures::future::join_all;
use sentinel_aws::ecs::container_instance_id;
use sentinel_aws::{
    AwsError, DeadLetter, DeadLetterQueue, Ec2Inventory, EcsInventory, ManagedNodes, SnsNotifier,
};
use sentinel_core::cache::TtlCache;
use sentinel_core::metrics::{self, MetricRecord};
use sentinel_core::{
    assess, assess_registration, group_by_cluster, parse_state_change, AffectedInstance,
    ClusterAlert, ClusterArn, ClusterBatch, ClusterView, ContainerInstanceView, NodeId, NodeKind,
    Observation, SkipReason, Tag, Verdict,
};
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Instant;

/// Time limits for AWS calls. Without them a hung connection would hold the whole batch
/// until the function times out; with them it fails (after the SDK's retries) and costs only
/// its cluster's records. Three attempts of 10 s fit well inside the 60 s function timeout.
pub fn aws_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .operation_attempt_timeout(std::time::Duration::from_secs(10))
        .operation_timeout(std::time::Duration::from_secs(35))
        .build()
}

/// The AWS clients the monitor talks to, built once per process.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Clients {
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        Clients {
            ecs: aws_sdk_ecs::Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
            ssm: aws_sdk_ssm::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
        }
    }
}

/// A record that was not alerted, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub cluster: String,
    pub container_instance_arn: String,
    pub node_id: String,
    pub reason: SkipReason,
}

/// A notification that went out.
#[derive(Debug, Clone)]
pub struct PublishedAlert {
    pub alert: ClusterAlert,
    pub message_id: String,
}

/// Everything one batch came to: the Lambda answer, the demo's timeline and the tests'
/// assertions all read this.
#[derive(Debug, Default)]
pub struct BatchReport {
    pub received: usize,
    /// (record id, reason) of records parked in the dead-letter queue.
    pub dead_lettered: Vec<(String, String)>,
    pub skipped: Vec<Skipped>,
    pub published: Vec<PublishedAlert>,
    /// Records SQS must deliver again: their cluster hit an AWS error, or parking them failed.
    pub failed_record_ids: BTreeSet<String>,
    /// (cluster, error) for each cluster whose records failed.
    pub errors: Vec<(String, String)>,
    pub action_failures: usize,
    pub metrics: Vec<MetricRecord>,
}

impl BatchReport {
    pub fn response(&self) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = self
            .failed_record_ids
            .iter()
            .map(|id| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id.clone();
                failure
            })
            .collect();
        response
    }
}

pub struct Monitor {
    ecs: EcsInventory,
    ec2: Ec2Inventory,
    ssm: ManagedNodes,
    notifier: SnsNotifier,
    dead_letters: DeadLetterQueue,
    config: Config,
    actions: ActionRegistry,
    /// Cluster tags survive across warm invocations: they change rarely and
    /// DescribeClusters is the only call a quiet batch would otherwise repeat.
    tag_cache: Mutex<TtlCache<ClusterArn, Option<Vec<Tag>>>>,
}

/// What the ECS describes of one cluster came to.
type InstanceLookup = Result<HashMap<String, ContainerInstanceView>, AwsError>;

impl Monitor {
    pub fn new(clients: Clients, config: Config) -> Result<Self, ConfigError> {
        let actions = ActionRegistry::from_names(&config.custom_actions).map_err(|expected| {
            ConfigError::Invalid {
                name: CUSTOM_ACTIONS,
                value: config.custom_actions.join(","),
                expected,
            }
        })?;
        Ok(Monitor {
            ecs: EcsInventory::new(clients.ecs),
            ec2: Ec2Inventory::new(clients.ec2),
            ssm: ManagedNodes::new(clients.ssm),
            notifier: SnsNotifier::new(clients.sns, &config.alert_topic_arn),
            dead_letters: DeadLetterQueue::new(clients.sqs, &config.dead_letter_queue_url),
            tag_cache: Mutex::new(TtlCache::new(config.tag_cache_ttl)),
            config,
            actions,
        })
    }

    /// Adds an action written in code to the configured ones.
    pub fn with_action(mut self, action: Box<dyn NodeAction>) -> Self {
        self.actions.register(action);
        self
    }

    /// The Lambda handler: metrics go to stdout as EMF, the answer names the records to retry.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let report = self.process(&event.records).await;
        for record in &report.metrics {
            println!("{}", record.to_emf());
        }
        report.response()
    }

    pub async fn process(&self, records: &[SqsMessage]) -> BatchReport {
        // Whole seconds: alerts show it to humans and nothing needs more precision.
        let now = Utc::now().trunc_subsecs(0);
        let mut report = BatchReport {
            received: records.len(),
            ..BatchReport::default()
        };

        // 1. Parse; the unusable go to the dead-letter queue with their reason.
        let mut valid = Vec::new();
        let mut letters = Vec::new();
        for record in records {
            let record_id = record.message_id.clone().unwrap_or_default();
            let body = record.body.as_deref().unwrap_or_default();
            match parse_state_change(body) {
                Ok(change) => valid.push((record_id, change)),
                Err(invalid) => {
                    tracing::warn!(record_id, reason = %invalid, code = invalid.code(), "unusable record: parking it in the dead-letter queue");
                    letters.push(DeadLetter {
                        record_id,
                        body: body.to_owned(),
                        reason: invalid.to_string(),
                        reason_code: invalid.code().to_owned(),
                    });
                }
            }
        }
        if !letters.is_empty() {
            let unparked: HashMap<String, AwsError> =
                self.dead_letters.send(&letters).await.into_iter().collect();
            for letter in letters {
                match unparked.get(&letter.record_id) {
                    Some(err) => {
                        tracing::error!(record_id = letter.record_id, error = %err, "could not park the record; SQS will deliver it again");
                        report.failed_record_ids.insert(letter.record_id);
                    }
                    None => report.dead_lettered.push((letter.record_id, letter.reason)),
                }
            }
        }

        // 2. Collapse duplicates, group by cluster.
        let batches = group_by_cluster(valid);

        // 3. Which clusters are monitored.
        let views = self.cluster_views(&batches).await;

        // 4. Observe: container instances per monitored cluster, concurrently…
        let instance_lookups: Vec<Option<InstanceLookup>> =
            join_all(batches.iter().map(|batch| async {
                match views.get(&batch.cluster_arn) {
                    Some(Ok(ClusterView::Monitored)) => {
                        let arns: Vec<String> = batch
                            .candidates
                            .iter()
                            .map(|c| c.change.container_instance_arn.clone())
                            .collect();
                        Some(
                            self.ecs
                                .container_instances(&batch.cluster_arn, &arns)
                                .await,
                        )
                    }
                    _ => None,
                }
            }))
            .await;

        // …then only the nodes whose agents are still down, EC2 and SSM concurrently.
        let mut ec2_ids = BTreeSet::new();
        let mut anywhere_ids = BTreeSet::new();
        for (batch, lookup) in batches.iter().zip(&instance_lookups) {
            let (Some(Ok(ClusterView::Monitored)), Some(Ok(instances))) =
                (views.get(&batch.cluster_arn), lookup)
            else {
                continue;
            };
            for candidate in &batch.candidates {
                let instance = instances.get(container_instance_id(
                    &candidate.change.container_instance_arn,
                ));
                if let Ok(node) = assess_registration(&ClusterView::Monitored, instance) {
                    match node.kind() {
                        NodeKind::Ec2 => ec2_ids.insert(node.clone()),
                        NodeKind::Anywhere => anywhere_ids.insert(node.clone()),
                    };
                }
            }
        }
        let ec2_ids: Vec<NodeId> = ec2_ids.into_iter().collect();
        let anywhere_ids: Vec<NodeId> = anywhere_ids.into_iter().collect();
        let (ec2_nodes, anywhere_nodes) = tokio::join!(
            async {
                if ec2_ids.is_empty() {
                    Ok(HashMap::new())
                } else {
                    self.ec2.instances(&ec2_ids).await
                }
            },
            async {
                if anywhere_ids.is_empty() {
                    Ok(HashMap::new())
                } else {
                    self.ssm.nodes(&anywhere_ids).await
                }
            }
        );

        // 5. Decide, per cluster. A cluster whose lookups failed fails as a whole, so a
        //    redelivery produces one complete notification rather than two halves.
        let mut alerts = Vec::new();
        for (batch, lookup) in batches.iter().zip(instance_lookups) {
            let cluster_name = batch.cluster_arn.name().to_owned();
            let view = match views.get(&batch.cluster_arn) {
                Some(Ok(view)) => view.clone(),
                Some(Err(err)) => {
                    self.fail_cluster(&mut report, batch, err);
                    continue;
                }
                None => ClusterView::Missing,
            };
            let instances = match lookup {
                Some(Ok(instances)) => instances,
                Some(Err(err)) => {
                    self.fail_cluster(&mut report, batch, &err);
                    continue;
                }
                None => HashMap::new(),
            };
            let mut affected = Vec::new();
            let mut node_error = None;
            let mut skipped = Vec::new();
            for candidate in &batch.candidates {
                let change = &candidate.change;
                let instance = instances.get(container_instance_id(&change.container_instance_arn));
                let node = match assess_registration(&view, instance) {
                    Ok(node_id) => {
                        let nodes = match node_id.kind() {
                            NodeKind::Ec2 => &ec2_nodes,
                            NodeKind::Anywhere => &anywhere_nodes,
                        };
                        match nodes {
                            Ok(nodes) => nodes.get(node_id).cloned(),
                            Err(err) => {
                                node_error = Some(err);
                                break;
                            }
                        }
                    }
                    Err(_) => None,
                };
                let observation = Observation {
                    cluster: view.clone(),
                    container_instance: instance.cloned(),
                    node,
                };
                match assess(&observation, self.config.decision) {
                    Verdict::Alert { kind } => {
                        // An alert implies both views exist; the match keeps that honest.
                        if let (Some(instance), Some(node)) =
                            (&observation.container_instance, &observation.node)
                        {
                            if let Some(node_id) = instance.node_id.clone() {
                                affected.push(AffectedInstance::new(
                                    kind,
                                    node_id,
                                    instance,
                                    node,
                                    change.time,
                                ));
                            }
                        }
                    }
                    Verdict::Skip { reason } => skipped.push(Skipped {
                        cluster: cluster_name.clone(),
                        container_instance_arn: change.container_instance_arn.clone(),
                        node_id: change.node_id.to_string(),
                        reason,
                    }),
                }
            }
            if let Some(err) = node_error {
                self.fail_cluster(&mut report, batch, err);
                continue;
            }
            for s in &skipped {
                tracing::info!(cluster = s.cluster, container_instance = s.container_instance_arn, node = s.node_id, code = s.reason.code(), reason = %s.reason, "no alert");
            }
            report.skipped.extend(skipped);
            if !affected.is_empty() {
                alerts.push((
                    batch,
                    ClusterAlert {
                        cluster_arn: batch.cluster_arn.clone(),
                        checked_at: now,
                        instances: affected,
                        reminder: false,
                    },
                ));
            }
        }

        // 6. Act: one message per cluster, then the custom actions on what went out.
        let published = join_all(alerts.into_iter().map(|(batch, alert)| async move {
            let result = self.notifier.publish(&alert).await;
            (batch, alert, result)
        }))
        .await;
        for (batch, alert, result) in published {
            match result {
                Ok(message_id) => {
                    tracing::warn!(
                        cluster = alert.cluster_name(),
                        instances = alert.instances.len(),
                        message_id,
                        subject = alert.subject(),
                        "alert published"
                    );
                    report.published.push(PublishedAlert { alert, message_id });
                }
                Err(err) => self.fail_cluster(&mut report, batch, &err),
            }
        }
        if !self.actions.is_empty() {
            let outcomes = join_all(
                report
                    .published
                    .iter()
                    .map(|p| self.actions.run_all(&p.alert)),
            )
            .await;
            report.action_failures = outcomes.iter().map(|o| o.failed.len()).sum();
        }

        report.metrics = self.metric_records(&report, now);
        report
    }

    fn fail_cluster(&self, report: &mut BatchReport, batch: &ClusterBatch, err: &AwsError) {
        tracing::error!(cluster = %batch.cluster_arn, error = %err, records = batch.record_ids().count(), "lookup failed after retries; SQS will deliver these records again");
        report
            .failed_record_ids
            .extend(batch.record_ids().map(str::to_owned));
        report
            .errors
            .push((batch.cluster_arn.name().to_owned(), err.to_string()));
    }

    /// Monitored, not monitored or missing, per cluster. In tag mode, tags come from the
    /// warm cache or one DescribeClusters call per 100 uncached clusters.
    async fn cluster_views(
        &self,
        batches: &[ClusterBatch],
    ) -> HashMap<ClusterArn, Result<ClusterView, AwsError>> {
        let policy = &self.config.policy;
        if !policy.needs_tags() {
            return batches
                .iter()
                .map(|b| (b.cluster_arn.clone(), Ok(ClusterView::Monitored)))
                .collect();
        }
        let mut views = HashMap::new();
        let mut uncached = Vec::new();
        {
            let now = Instant::now();
            let mut cache = self.lock_cache();
            cache.evict_expired(now);
            for batch in batches {
                match cache.get(&batch.cluster_arn, now) {
                    Some(tags) => {
                        views.insert(batch.cluster_arn.clone(), Ok(policy.view(tags.as_deref())));
                    }
                    None => uncached.push(batch.cluster_arn.clone()),
                }
            }
        }
        if uncached.is_empty() {
            return views;
        }
        match self.ecs.cluster_tags(&uncached).await {
            Ok(found) => {
                let now = Instant::now();
                let mut cache = self.lock_cache();
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

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, TtlCache<ClusterArn, Option<Vec<Tag>>>> {
        // A panic while holding the lock cannot leave the cache inconsistent (each call is
        // one insert or lookup), so a poisoned lock is still safe to use.
        self.tag_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn metric_records(&self, report: &BatchReport, now: DateTime<Utc>) -> Vec<MetricRecord> {
        let namespace = &self.config.metrics_namespace;
        let mut records: Vec<MetricRecord> = report
            .published
            .iter()
            .map(|p| {
                MetricRecord::new(namespace, now)
                    .dimension(metrics::CLUSTER_DIMENSION, p.alert.cluster_name())
                    .count(metrics::AGENT_FAILURES, p.alert.instances.len())
            })
            .collect();
        records.push(
            MetricRecord::new(namespace, now)
                .count(metrics::SKIPPED_RECORDS, report.skipped.len())
                .count(metrics::INVALID_RECORDS, report.dead_lettered.len())
                .count(metrics::FAILED_RECORDS, report.failed_record_ids.len())
                .count(metrics::ACTION_FAILURES, report.action_failures),
        );
        records
    }
}

/// Used by tests and the demo to see which nodes an alert names.
pub fn alerted_nodes(report: &BatchReport) -> BTreeSet<String> {
    report
        .published
        .iter()
        .flat_map(|p| p.alert.instances.iter().map(|i| i.node_id.to_string()))
        .collect()
}
