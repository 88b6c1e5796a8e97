//! One SQS batch, end to end: parse → dead-letter the unusable → collapse and group →
//! episodes and cluster policy → batched, concurrent lookups → decide → lifecycle →
//! notify → act → metrics → answer.
//!
//! Disconnect events arrive after the grace period (delay queue); reconnect events arrive at
//! once (recovery queue) and cost nothing beyond one episode read unless an episode is open.

use crate::actions::{ActionRegistry, NodeAction};
use crate::config::{Config, ConfigError, CUSTOM_ACTIONS};
use crate::decided::Decided;
use crate::lifecycle::{Lifecycle, PublishedAlert, PublishedResolved, Settled};
use crate::observe::{Observer, Wanted};
use crate::ports::AwsRemedies;
use crate::remediate::Remediation;
use crate::store::EpisodeStore;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use sentinel_agent::episode::{Episode, Sighting, Source};
use sentinel_agent::metrics;
use sentinel_agent::remediation::Outcome;
use sentinel_agent::{
    group_by_cluster, parse_state_change, Candidate, ClusterBatch, Observation, SkipReason, Verdict,
};
use sentinel_aws::sdk::OnFirstUse;
use sentinel_aws::{
    DeadLetterQueue, Ec2Inventory, EcsInventory, Found, ManagedNodes, Remediator, SnsNotifier,
};
use sentinel_core::MetricRecord;
use sentinel_core::Unreadable;
use sentinel_core::{Clock, ClusterArn, SystemClock};
use sentinel_lambda::Rejection;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// The AWS clients the monitor talks to, built once per process; those few batches need
/// (SSM for ECS Anywhere nodes, SQS for malformed records, Auto Scaling for remediation) on
/// first use.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub ssm: OnFirstUse<aws_sdk_ssm::Client>,
    pub sns: aws_sdk_sns::Client,
    pub sqs: OnFirstUse<aws_sdk_sqs::Client>,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub autoscaling: OnFirstUse<aws_sdk_autoscaling::Client>,
}

impl Clients {
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        Clients {
            ecs: aws_sdk_ecs::Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
            ssm: OnFirstUse::of(sdk, aws_sdk_ssm::Client::new),
            sns: aws_sdk_sns::Client::new(sdk),
            sqs: OnFirstUse::of(sdk, aws_sdk_sqs::Client::new),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            autoscaling: OnFirstUse::of(sdk, aws_sdk_autoscaling::Client::new),
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

/// Everything one batch came to: the Lambda answer, the demo's timeline and the tests'
/// assertions all read this.
#[derive(Debug, Default)]
pub struct BatchReport {
    pub received: usize,
    /// (record id, reason) of records parked in the dead-letter queue.
    pub dead_lettered: Vec<(String, String)>,
    pub skipped: Vec<Skipped>,
    /// First alerts and reminders.
    pub published: Vec<PublishedAlert>,
    pub resolved: Vec<PublishedResolved>,
    /// Reconnect or deregistration records for instances without a live episode: nothing
    /// to do, and nothing looked up.
    pub ignored_reconnects: usize,
    /// Records SQS must deliver again: an AWS error on their cluster, a failed write or
    /// notice, or parking them failed.
    pub failed_record_ids: BTreeSet<String>,
    /// (cluster, error) for each failure.
    pub errors: Vec<(String, String)>,
    pub action_failures: usize,
    pub metrics: Vec<MetricRecord>,
}

impl BatchReport {
    /// The partial-batch answer: exactly the failed records come back.
    pub fn response(&self) -> SqsBatchResponse {
        sentinel_lambda::batch_answer(&self.failed_record_ids)
    }

    /// These records come back because of `error`, reported against `cluster`.
    fn fail<'a>(
        &mut self,
        cluster: &str,
        error: String,
        records: impl IntoIterator<Item = &'a str>,
    ) {
        self.failed_record_ids
            .extend(records.into_iter().map(str::to_owned));
        self.errors.push((cluster.to_owned(), error));
    }

    /// What the lifecycle settled: the notices sent, the records to deliver again.
    fn absorb(&mut self, settled: Settled) {
        self.published = settled.alerts;
        self.resolved = settled.resolutions;
        self.failed_record_ids.extend(settled.failed_record_ids);
        self.errors.extend(settled.errors);
        self.action_failures = settled.action_failures;
    }
}

/// What to look at in one cluster of a batch: the container instances `look` keeps, and the
/// nodes their disconnect events name.
fn wanted(batch: &ClusterBatch, look: impl Fn(&String) -> bool) -> Wanted {
    let mut wanted = Wanted {
        cluster: batch.cluster_arn.clone(),
        container_instances: Vec::new(),
        nodes: Vec::new(),
    };
    for candidate in &batch.candidates {
        let change = &candidate.change;
        if look(&change.container_instance_arn) {
            wanted
                .container_instances
                .push(change.container_instance_arn.clone());
            if change.is_disconnect() {
                wanted.nodes.push(change.node_id.clone());
            }
        }
    }
    wanted
}

/// The local event source mapping (demo, tests) drives the same `process` Lambda runs.
impl sentinel_lambda::BatchHandler for Monitor {
    type Report = BatchReport;

    async fn handle_batch(&self, records: &[SqsMessage]) -> BatchReport {
        self.process(records).await
    }

    fn failed_record_ids(report: &BatchReport) -> &BTreeSet<String> {
        &report.failed_record_ids
    }
}

/// The agent monitor: its eyes ([`Observer`]), its memory and voice ([`Lifecycle`]), where
/// unusable records are parked, and its settings. The event path lives here; the sweep in
/// [`crate::sweep`].
pub struct Monitor {
    pub(crate) observer: Observer,
    pub(crate) lifecycle: Lifecycle,
    dead_letters: DeadLetterQueue,
    pub(crate) config: Config,
    /// Every run reads the time here once; tests and replays move it.
    pub(crate) clock: Arc<dyn Clock>,
}

impl Monitor {
    pub fn new(clients: Clients, config: Config) -> Result<Self, ConfigError> {
        let actions = ActionRegistry::from_names(&config.custom_actions).map_err(|expected| {
            ConfigError::Invalid {
                name: CUSTOM_ACTIONS,
                value: config.custom_actions.join(","),
                expected,
            }
        })?;
        let store = Arc::new(EpisodeStore::new(
            clients.dynamodb,
            &config.alert_table_name,
        ));
        let remediation = Remediation::new(
            config.remediation,
            store.clone(),
            Arc::new(AwsRemedies {
                remediator: Remediator::new(
                    clients.ssm.clone(),
                    clients.ecs.clone(),
                    clients.ec2.clone(),
                    clients.autoscaling,
                ),
                ecs: EcsInventory::new(clients.ecs.clone()),
            }),
        );
        let lifecycle = Lifecycle::new(
            store,
            Arc::new(
                SnsNotifier::new(clients.sns, &config.alert_topic_arn)
                    .with_chat_topic(config.chat_topic_arn.clone()),
            ),
            remediation,
            actions,
            config.lifecycle_settings(),
        );
        Ok(Monitor {
            observer: Observer::new(
                EcsInventory::new(clients.ecs),
                Ec2Inventory::new(clients.ec2),
                ManagedNodes::new(clients.ssm),
                config.policy.clone(),
                config.tag_cache_ttl,
            ),
            lifecycle,
            dead_letters: DeadLetterQueue::new(clients.sqs, &config.dead_letter_queue_url),
            config,
            clock: Arc::new(SystemClock),
        })
    }

    /// Runs on this clock instead of the system's (tests move time instead of waiting).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Adds an action written in code to the configured ones.
    pub fn with_action(mut self, action: Box<dyn NodeAction>) -> Self {
        self.lifecycle.register_action(action);
        self
    }

    /// The Lambda handler: metrics go to stdout as EMF, the answer names the records to retry.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let report = self.process(&event.records).await;
        sentinel_lambda::emf::print(&report.metrics);
        report.response()
    }

    /// One batch, steps 1–7 of the flow in ARCHITECTURE.md, each a named step below.
    pub async fn process(&self, records: &[SqsMessage]) -> BatchReport {
        let now = self.clock.now();
        let mut report = BatchReport {
            received: records.len(),
            ..BatchReport::default()
        };

        // 1. Parse; the unusable go to the dead-letter queue with their reason.
        let parsed = sentinel_lambda::parse_or_park(
            records,
            |body| parse_state_change(body).map_err(Rejection::from),
            &self.dead_letters,
        )
        .await;
        report.dead_lettered = parsed.dead_lettered;
        report.failed_record_ids.extend(parsed.unparked);

        // 2. Collapse duplicates, group by cluster.
        let batches = group_by_cluster(parsed.valid);
        if !batches.is_empty() {
            // 3.–5. What is known, what to look at, what a fresh look says.
            if let Some(decided) = self.decide(&batches, &mut report).await {
                // 6. Lifecycle, notices, actions.
                let settled = self.lifecycle.settle(decided, Source::Event, now).await;
                report.absorb(settled);
            }
        }
        report.metrics = self.metric_records(&report, now);
        report
    }

    /// Reads the stored episodes and the clusters' policy together, looks at what matters and
    /// decides each instance looked at. `None` when the episodes could not be read: the
    /// whole batch comes back.
    async fn decide(
        &self,
        batches: &[ClusterBatch],
        report: &mut BatchReport,
    ) -> Option<Vec<Decided>> {
        let arns: Vec<String> = batches
            .iter()
            .flat_map(|b| {
                b.candidates
                    .iter()
                    .map(|c| c.change.container_instance_arn.clone())
            })
            .collect();
        let clusters: Vec<ClusterArn> = batches.iter().map(|b| b.cluster_arn.clone()).collect();
        // A disconnect is looked at whatever is stored, so a cluster whose records are all
        // disconnects (every batch of the delay queue) is looked at, nodes included, while
        // the episodes are read: one round of lookups. Other changes are looked at only for
        // a live episode, so their clusters wait for the read.
        let (disconnects_only, others): (Vec<&ClusterBatch>, Vec<&ClusterBatch>) = batches
            .iter()
            .partition(|b| b.candidates.iter().all(|c| c.change.is_disconnect()));
        let early: Vec<Wanted> = disconnects_only
            .iter()
            .map(|b| wanted(b, |_| true))
            .collect();
        let (stored, mut observed) = tokio::join!(self.lifecycle.episodes.get_many(&arns), async {
            let views = self.observer.cluster_views(&clusters).await;
            self.observer.observe(views, &early).await
        });
        let known = match stored {
            Ok(found) => found,
            Err(err) => {
                tracing::error!(error = %err, "cannot read alert state; SQS will deliver the batch again");
                for batch in batches {
                    report.fail(
                        batch.cluster_arn.name(),
                        err.to_string(),
                        batch.record_ids(),
                    );
                }
                return None;
            }
        };
        let Found {
            episodes: mut stored,
            unreadable,
        } = known;
        let looked_at = self.worth_a_look(batches, &stored, unreadable, report);
        let later: Vec<Wanted> = others
            .iter()
            .map(|b| wanted(b, |arn| looked_at.contains(arn)))
            .filter(|w| !w.container_instances.is_empty())
            .collect();
        self.observer.look(&mut observed, &later).await;

        // A cluster whose lookups failed is left for redelivery as a whole.
        let mut decided = Vec::new();
        let mut failed_clusters = BTreeSet::new();
        for batch in batches {
            for candidate in &batch.candidates {
                let arn = &candidate.change.container_instance_arn;
                if !looked_at.contains(arn) || failed_clusters.contains(&batch.cluster_arn) {
                    continue;
                }
                match observed.observation(&batch.cluster_arn, arn) {
                    Ok(observation) => decided.push(self.decision(
                        batch,
                        candidate,
                        stored.remove(arn),
                        observation,
                        report,
                    )),
                    Err(err) => {
                        failed_clusters.insert(batch.cluster_arn.clone());
                        tracing::error!(cluster = %batch.cluster_arn, error = %err, "lookup failed after retries; SQS will deliver these records again");
                        report.fail(
                            batch.cluster_arn.name(),
                            err.to_string(),
                            batch.record_ids(),
                        );
                    }
                }
            }
        }
        decided.retain(|d| !failed_clusters.contains(&d.sighting.cluster_arn));
        Some(decided)
    }

    /// Which instances are worth a fresh look: disconnects of ACTIVE instances, and any other
    /// change (reconnect, deregistration) only for instances with a live episode. An item
    /// that is not a readable episode fails only its own records: redelivered, then parked
    /// in the dead-letter queue by the queue's redrive, for a person to read.
    fn worth_a_look(
        &self,
        batches: &[ClusterBatch],
        stored: &HashMap<String, Episode>,
        unreadable: Vec<Unreadable>,
        report: &mut BatchReport,
    ) -> BTreeSet<String> {
        let unreadable: BTreeMap<String, String> = unreadable
            .into_iter()
            .map(|item| (item.key, item.why))
            .collect();
        let mut looked_at = BTreeSet::new();
        for batch in batches {
            for candidate in &batch.candidates {
                let change = &candidate.change;
                let arn = &change.container_instance_arn;
                if let Some(why) = unreadable.get(arn) {
                    tracing::error!(
                        container_instance = arn,
                        reason = why,
                        "the stored alert state of this instance is unreadable; its records are left for redelivery and the dead-letter queue"
                    );
                    report.fail(
                        batch.cluster_arn.name(),
                        format!("unreadable alert state {arn}: {why}"),
                        candidate.record_ids.iter().map(String::as_str),
                    );
                    continue;
                }
                let live = stored.get(arn).is_some_and(Episode::is_live);
                if change.is_disconnect() || live {
                    looked_at.insert(arn.clone());
                } else {
                    report.ignored_reconnects += candidate.record_ids.len();
                }
            }
        }
        looked_at
    }

    /// One instance's decision from what a fresh look found; a skip without a live episode
    /// is reported with its reason (with a live episode a skip is the lifecycle's business:
    /// it may resolve it).
    fn decision(
        &self,
        batch: &ClusterBatch,
        candidate: &Candidate,
        stored: Option<Episode>,
        observation: Observation,
        report: &mut BatchReport,
    ) -> Decided {
        let change = &candidate.change;
        let live = stored.as_ref().is_some_and(Episode::is_live);
        let decision = Decided::new(
            Sighting {
                container_instance_arn: change.container_instance_arn.clone(),
                cluster_arn: batch.cluster_arn.clone(),
                node_id: change.node_id.clone(),
                event_time: change.time,
            },
            candidate.record_ids.clone(),
            stored,
            observation,
            self.config.decision,
        );
        if let (Verdict::Skip { reason }, false) = (&decision.verdict, live) {
            let cluster = batch.cluster_arn.name();
            tracing::info!(cluster, container_instance = change.container_instance_arn, node = %change.node_id, code = reason.code(), reason = %reason, "no alert");
            report.skipped.push(Skipped {
                cluster: cluster.to_owned(),
                container_instance_arn: change.container_instance_arn.clone(),
                node_id: change.node_id.to_string(),
                reason: reason.clone(),
            });
        }
        decision
    }

    /// Adds the lifecycle counters of a run (event batch or sweep) to a metric record: instances
    /// named by first alerts, by reminders, and by RESOLVED messages, and the remediation
    /// outcomes the first alerts announce (remediation runs just before an episode's first
    /// alert, so each attempt is counted once, when its alert goes out) when remediation is on.
    pub(crate) fn with_lifecycle_counts(
        &self,
        record: MetricRecord,
        published: &[PublishedAlert],
        resolved: &[PublishedResolved],
    ) -> MetricRecord {
        let named = |reminders: bool| -> usize {
            published
                .iter()
                .filter(|p| p.alert.reminder == reminders)
                .map(|p| p.alert.instances.len())
                .sum()
        };
        let mut record = record
            .count(metrics::ALERTS_OPENED, named(false))
            .count(metrics::REMINDERS_SENT, named(true))
            .count(
                metrics::ALERTS_RESOLVED,
                resolved.iter().map(|r| r.resolved.episodes.len()).sum(),
            );
        if !self.lifecycle.remediation().settings().enabled() {
            return record;
        }
        let outcomes: Vec<Outcome> = published
            .iter()
            .filter(|p| !p.alert.reminder)
            .flat_map(|p| &p.alert.instances)
            .flat_map(|i| &i.remediations)
            .map(|r| r.outcome)
            .collect();
        for kind in Outcome::ALL {
            record = record.count(
                kind.metric(),
                outcomes.iter().filter(|o| **o == kind).count(),
            );
        }
        record
    }

    fn metric_records(&self, report: &BatchReport, now: DateTime<Utc>) -> Vec<MetricRecord> {
        let namespace = &self.config.metrics_namespace;
        let mut records: Vec<MetricRecord> = report
            .published
            .iter()
            .filter(|p| !p.alert.reminder)
            .map(|p| {
                MetricRecord::new(namespace, now)
                    .dimension(metrics::CLUSTER_DIMENSION, p.alert.cluster_name())
                    .count(metrics::AGENT_FAILURES, p.alert.instances.len())
            })
            .collect();
        records.push(
            self.with_lifecycle_counts(
                MetricRecord::new(namespace, now),
                &report.published,
                &report.resolved,
            )
            .count(metrics::SKIPPED_RECORDS, report.skipped.len())
            .count(metrics::INVALID_RECORDS, report.dead_lettered.len())
            .count(metrics::FAILED_RECORDS, report.failed_record_ids.len())
            .count(metrics::ACTION_FAILURES, report.action_failures),
        );
        records
    }
}

/// Used by tests and the demo to see which nodes the first alerts name.
pub fn alerted_nodes(report: &BatchReport) -> BTreeSet<String> {
    report
        .published
        .iter()
        .filter(|p| !p.alert.reminder)
        .flat_map(|p| p.alert.instances.iter().map(|i| i.node_id.to_string()))
        .collect()
}
