//! One SQS batch of task, service and deployment events, from records to answer:
//!
//! 1. parse each record (unusable ones to the dead-letter queue with their reason);
//! 2. classify each event from the event alone (no AWS call);
//! 3. group what matters (failures, recoveries) by service or task family;
//! 4. keep only monitored clusters (all, or tagged; tags cached);
//! 5. read the groups' episodes (one BatchGetItem per 100 keys) and fold each group's
//!    events into its episode;
//! 6. store every changed episode (one TransactWriteItems per 100; a notice is claimed by
//!    the same write), send one message per episode that owes one, record it sent or
//!    release the claim;
//! 7. answer `batchItemFailures` for exactly the records that must be looked at again.

use crate::config::Config;
use crate::ports::{LogTails, Notifier, TaskEpisodeRepo};
use crate::store::TaskEpisodeStore;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use sentinel_aws::sdk::OnFirstUse;
use sentinel_aws::{ClusterPolicy, ContainerLogs, DeadLetterQueue, EcsInventory, Found};
use sentinel_core::notice::Notice;
use sentinel_core::{Clock, ClusterArn, ClusterView, MetricRecord, SystemClock};
use sentinel_lambda::engine::{Engine, Outgoing, Owed, Proposal};
use sentinel_lambda::Rejection;
use sentinel_tasks::episode::{fold, EpisodeKey, Fold, TaskEpisode};
use sentinel_tasks::message::{LogTail, TaskMessage};
use sentinel_tasks::{
    classify, metrics, parse_incoming, FailureKind, Incoming, Owner, TaskEvent, Verdict,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The AWS clients the function talks to, built once per process; SQS (malformed records)
/// and CloudWatch Logs (a failed container's log) on first use.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: OnFirstUse<aws_sdk_sqs::Client>,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub logs: OnFirstUse<aws_sdk_cloudwatchlogs::Client>,
}

impl Clients {
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        Clients {
            ecs: aws_sdk_ecs::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            sqs: OnFirstUse::of(sdk, aws_sdk_sqs::Client::new),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            logs: OnFirstUse::of(sdk, aws_sdk_cloudwatchlogs::Client::new),
        }
    }
}

/// The ports a monitor works through.
pub struct Ports {
    pub episodes: Arc<dyn TaskEpisodeRepo>,
    pub notifier: Arc<dyn Notifier>,
    pub logs: Arc<dyn LogTails>,
}

/// A message that went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub key: String,
    pub notice: Notice,
    pub subject: String,
    /// The email rendering of what was sent, for the demo and logs.
    pub text: String,
    pub message_id: String,
}

/// A failure this batch classified, for metrics and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub cluster: String,
    /// Service name, or task family.
    pub owner: String,
    pub kind: FailureKind,
}

/// Everything one batch came to: the Lambda answer, the demo and the tests read this.
#[derive(Debug, Default)]
pub struct TaskBatchReport {
    pub received: usize,
    /// (record id, reason) of records parked in the dead-letter queue.
    pub dead_lettered: Vec<(String, String)>,
    /// Failures in monitored clusters (a redelivered record counts again here, never in an
    /// episode).
    pub failures: Vec<Failure>,
    pub spot_interruptions: usize,
    /// The same Spot interruptions by cluster name.
    pub spot_by_cluster: BTreeMap<String, usize>,
    /// `aws.ecs` events of detail-types this monitor does not read, acknowledged.
    pub not_for_this_monitor: usize,
    /// Stops and events that are not failures, by reason code.
    pub not_failures: BTreeMap<&'static str, usize>,
    /// Records about clusters that are not monitored.
    pub not_monitored: usize,
    pub published: Vec<Published>,
    /// Records SQS must deliver again.
    pub failed_record_ids: BTreeSet<String>,
    /// (scope, error) for each failure.
    pub errors: Vec<(String, String)>,
    pub metrics: Vec<MetricRecord>,
}

/// The local event source mapping (demo, tests) drives the same `process` Lambda runs.
impl sentinel_lambda::BatchHandler for TaskMonitor {
    type Report = TaskBatchReport;

    async fn handle_batch(&self, records: &[SqsMessage]) -> TaskBatchReport {
        self.process(records).await
    }

    fn failed_record_ids(report: &TaskBatchReport) -> &BTreeSet<String> {
        &report.failed_record_ids
    }
}

impl TaskBatchReport {
    pub fn response(&self) -> SqsBatchResponse {
        sentinel_lambda::batch_answer(&self.failed_record_ids)
    }

    fn count_spot(&mut self, cluster: &str) {
        self.spot_interruptions += 1;
        *self.spot_by_cluster.entry(cluster.to_owned()).or_default() += 1;
    }

    fn fail(&mut self, scope: &str, error: String, records: impl IntoIterator<Item = String>) {
        self.failed_record_ids.extend(records);
        self.errors.push((scope.to_owned(), error));
    }
}

/// One group: an episode's events in this batch.
struct Group {
    records: Vec<String>,
    events: Vec<(TaskEvent, Verdict)>,
}

pub struct TaskMonitor {
    policy: ClusterPolicy,
    episodes: Arc<dyn TaskEpisodeRepo>,
    notifier: Arc<dyn Notifier>,
    logs: Arc<dyn LogTails>,
    dead_letters: DeadLetterQueue,
    config: Config,
    clock: Arc<dyn Clock>,
}

impl TaskMonitor {
    pub fn new(clients: Clients, config: Config) -> Self {
        TaskMonitor::with_ports(
            ClusterPolicy::new(
                EcsInventory::new(clients.ecs.clone()),
                config.policy.clone(),
                config.tag_cache_ttl,
            ),
            Ports {
                episodes: Arc::new(TaskEpisodeStore::new(
                    clients.dynamodb,
                    &config.alert_table_name,
                )),
                notifier: Arc::new(
                    sentinel_aws::SnsNotifier::new(clients.sns, &config.alert_topic_arn)
                        .with_chat_topic(config.chat_topic_arn.clone()),
                ),
                logs: Arc::new(ContainerLogs::new(clients.ecs, clients.logs)),
            },
            DeadLetterQueue::new(clients.sqs, &config.dead_letter_queue_url),
            config,
        )
    }

    /// Any store, notifier and logs: the tests' in-memory twins.
    pub fn with_ports(
        policy: ClusterPolicy,
        ports: Ports,
        dead_letters: DeadLetterQueue,
        config: Config,
    ) -> Self {
        TaskMonitor {
            policy,
            episodes: ports.episodes,
            notifier: ports.notifier,
            logs: ports.logs,
            dead_letters,
            config,
            clock: Arc::new(SystemClock),
        }
    }

    /// Runs on this clock instead of the system's (tests move time instead of waiting).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The Lambda handler: metrics go to stdout as EMF, the answer names the records to retry.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let report = self.process(&event.records).await;
        sentinel_lambda::emf::print(&report.metrics);
        report.response()
    }

    pub async fn process(&self, records: &[SqsMessage]) -> TaskBatchReport {
        let now = self.clock.now();
        let mut report = TaskBatchReport {
            received: records.len(),
            ..TaskBatchReport::default()
        };
        let parsed = sentinel_lambda::parse_or_park(
            records,
            |body| parse_incoming(body).map_err(Rejection::from),
            &self.dead_letters,
        )
        .await;
        report.dead_lettered = parsed.dead_lettered;
        report.failed_record_ids.extend(parsed.unparked);
        let mut events = Vec::with_capacity(parsed.valid.len());
        for (record_id, incoming) in parsed.valid {
            match incoming {
                Incoming::Event(event) => events.push((record_id, *event)),
                Incoming::SpotNotice(notice) => {
                    tracing::info!(
                        record_id,
                        cluster = notice.cluster.name(),
                        task = notice.task_arn,
                        "Spot interruption: counted, not paged"
                    );
                    report.count_spot(notice.cluster.name());
                }
                Incoming::NotForThisMonitor { detail_type } => {
                    // The rules route only the three detail-types read here; anything else
                    // was sent by hand or by a rule changed outside the template. Not a bad
                    // record: acknowledged, logged and counted.
                    tracing::info!(
                        record_id,
                        detail_type,
                        "not an event the task monitor reads: acknowledged"
                    );
                    report.not_for_this_monitor += 1;
                }
            }
        }

        let groups = self.monitored_groups(events, &mut report).await;
        if !groups.is_empty() {
            self.settle(groups, now, &mut report).await;
        }
        report.metrics = self.metric_records(&report, now);
        // One line per service and kind: the saved query "task failures by service and
        // kind" sums them.
        let mut counted: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
        for f in &report.failures {
            *counted
                .entry((&f.cluster, &f.owner, f.kind.as_str()))
                .or_default() += 1;
        }
        for ((cluster, owner, kind), count) in counted {
            tracing::info!(cluster, owner, kind, count, "task failures");
        }
        tracing::info!(
            received = report.received,
            failures = report.failures.len(),
            published = report.published.len(),
            retried = report.failed_record_ids.len(),
            "batch done"
        );
        report
    }

    /// Steps 2–4: classify, group what matters by episode, keep monitored clusters.
    async fn monitored_groups(
        &self,
        events: Vec<(String, TaskEvent)>,
        report: &mut TaskBatchReport,
    ) -> BTreeMap<EpisodeKey, Group> {
        let mut groups: BTreeMap<EpisodeKey, Group> = BTreeMap::new();
        for (record_id, event) in events {
            let verdict = classify(&event);
            match &verdict {
                Verdict::NotAFailure(reason) => {
                    tracing::debug!(record_id, reason = reason.code(), "not a failure");
                    *report.not_failures.entry(reason.code()).or_default() += 1;
                    continue;
                }
                Verdict::SpotInterruption => {
                    tracing::info!(record_id, "Spot interruption: counted, not paged");
                    report.count_spot(event.cluster().name());
                    continue;
                }
                Verdict::Failed { .. } | Verdict::Recovered(_) => {}
            }
            let group = groups.entry(episode_key(&event)).or_insert_with(|| Group {
                records: Vec::new(),
                events: Vec::new(),
            });
            group.records.push(record_id);
            group.events.push((event, verdict));
        }
        if groups.is_empty() {
            return groups;
        }
        let clusters: Vec<ClusterArn> = groups
            .keys()
            .map(|k| k.cluster.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let views = self.policy.views(&clusters).await;
        groups.retain(|key, group| match views.get(&key.cluster) {
            Some(Ok(ClusterView::Monitored)) => true,
            Some(Err(err)) => {
                tracing::error!(cluster = key.cluster.name(), error = %err, "cannot tell whether the cluster is monitored; SQS will deliver its records again");
                report.fail(key.cluster.name(), err.to_string(), group.records.clone());
                false
            }
            _ => {
                report.not_monitored += group.records.len();
                false
            }
        });
        for (key, group) in &groups {
            for (_, verdict) in &group.events {
                if let Verdict::Failed { kind } = verdict {
                    report.failures.push(Failure {
                        cluster: key.cluster.name().to_owned(),
                        owner: key.owner.name().to_owned(),
                        kind: *kind,
                    });
                }
            }
        }
        groups
    }

    /// Steps 5–6: read, fold each group into its episode, then the notice engine: claim,
    /// compose one message per episode that owes one, send, record or release.
    async fn settle(
        &self,
        groups: BTreeMap<EpisodeKey, Group>,
        now: DateTime<Utc>,
        report: &mut TaskBatchReport,
    ) {
        let keys: Vec<String> = groups.keys().map(EpisodeKey::as_key).collect();
        let found = match self.episodes.get_many(&keys).await {
            Ok(found) => found,
            Err(err) => {
                tracing::error!(error = %err, "cannot read task episodes; SQS will deliver the batch again");
                let records = groups.values().flat_map(|g| g.records.clone());
                report.fail("*", err.to_string(), records);
                return;
            }
        };
        let proposals = self.fold_groups(groups, found, now, report);
        if proposals.is_empty() {
            return;
        }
        let engine = Engine::new(self.episodes.as_ref(), self.notifier.as_ref());
        // The failed container's log is read while the claims are stored, not after: a claim
        // that conflicts only wastes its read, and the message waits one round trip less.
        let tails_wanted: Vec<(String, TaskEpisode, Notice)> = proposals
            .iter()
            .filter_map(|p| match &p.step {
                Fold::Notify(episode, notice) | Fold::NotifyThenLater(episode, notice) => {
                    Some((episode.key.as_key(), episode.clone(), *notice))
                }
                _ => None,
            })
            .collect();
        let tails = futures::future::join_all(tails_wanted.into_iter().map(
            |(key, episode, notice)| async move { (key, self.log_tail(&episode, notice).await) },
        ));
        let (claimed, tails) = tokio::join!(engine.claim(proposals, now), tails);
        let mut tails: BTreeMap<String, LogTail> = tails
            .into_iter()
            .filter_map(|(key, tail)| tail.map(|tail| (key, tail)))
            .collect();
        let mut outcome = claimed.outcome;
        let outgoing: Vec<_> = claimed
            .owed
            .into_iter()
            .map(|owed| {
                let tail = tails.remove(&owed.episode.key.as_key());
                self.compose(owed, now, tail)
            })
            .collect();
        for sent in engine.deliver(outgoing, now, &mut outcome).await {
            let key = sent.message.episode.key.as_key();
            tracing::warn!(
                key,
                notice = sent.notice.as_str(),
                message_id = sent.message_id,
                subject = sent.notification.subject,
                "task notice published"
            );
            report.published.push(Published {
                key,
                notice: sent.notice,
                subject: sent.notification.subject,
                text: sent.message.text(),
                message_id: sent.message_id,
            });
        }
        report.failed_record_ids.extend(outcome.failed_record_ids);
        report.errors.extend(outcome.errors);
    }

    /// Each group's events folded into its episode: what the engine is to do with it. An
    /// unreadable stored episode fails only its own records.
    fn fold_groups(
        &self,
        groups: BTreeMap<EpisodeKey, Group>,
        found: Found<TaskEpisode>,
        now: DateTime<Utc>,
        report: &mut TaskBatchReport,
    ) -> Vec<Proposal<TaskEpisode, ()>> {
        let unreadable: BTreeMap<String, String> = found
            .unreadable
            .into_iter()
            .map(|u| (u.key, u.why))
            .collect();
        let settings = self.config.lifecycle_settings();
        let mut proposals = Vec::new();
        for (key, group) in groups {
            let k = key.as_key();
            if let Some(why) = unreadable.get(&k) {
                tracing::error!(key = k, reason = why, "the stored task episode is unreadable; its records are left for redelivery and the dead-letter queue");
                report.fail(
                    &k,
                    format!("unreadable task episode {k}: {why}"),
                    group.records,
                );
                continue;
            }
            let stored = found.episodes.get(&k);
            let events: Vec<(&TaskEvent, &Verdict)> =
                group.events.iter().map(|(e, v)| (e, v)).collect();
            let step = fold(&key, stored, &events, now, &settings);
            if step == Fold::Later {
                tracing::info!(
                    key = k,
                    "another run holds this episode's notice; looking again later"
                );
            }
            proposals.push(Proposal {
                step,
                stored: stored.cloned(),
                records: group.records,
                scope: k,
                context: (),
            });
        }
        proposals
    }

    /// One message about one episode, with the failed container's last log lines.
    fn compose(
        &self,
        owed: Owed<TaskEpisode, ()>,
        now: DateTime<Utc>,
        log_tail: Option<LogTail>,
    ) -> Outgoing<TaskEpisode, (), TaskMessage> {
        let message = TaskMessage {
            log_tail,
            episode: owed.episode.clone(),
            notice: owed.notice,
            checked_at: now,
        };
        Outgoing {
            notice: owed.notice,
            notification: message.notification().map_err(|e| e.to_string()),
            message,
            owed: vec![owed],
        }
    }

    /// The failed container's last log lines for an alert or reminder, when configured and
    /// found. Never holds a message back: a lookup that fails is logged and left out.
    async fn log_tail(&self, episode: &TaskEpisode, notice: Notice) -> Option<LogTail> {
        let lines = self.config.log_tail_lines;
        if lines == 0 || notice == Notice::Resolved {
            return None;
        }
        let sample = episode
            .samples
            .iter()
            .rev()
            .find(|s| s.task_arn.is_some())?;
        match self.logs.tail(sample, lines).await {
            Ok(tail) => tail,
            Err(err) => {
                tracing::warn!(key = episode.key.as_key(), error = %err, "could not read the failed container's log; the message goes without it");
                None
            }
        }
    }

    fn metric_records(&self, report: &TaskBatchReport, now: DateTime<Utc>) -> Vec<MetricRecord> {
        let namespace = &self.config.metrics_namespace;
        let mut by_service: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        let mut by_kind: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for f in &report.failures {
            *by_service.entry((&f.cluster, &f.owner)).or_default() += 1;
            *by_kind.entry((&f.cluster, f.kind.as_str())).or_default() += 1;
        }
        let mut records: Vec<MetricRecord> = by_service
            .into_iter()
            .map(|((cluster, service), n)| {
                MetricRecord::new(namespace, now)
                    .dimension(metrics::CLUSTER_DIMENSION, cluster)
                    .dimension(metrics::SERVICE_DIMENSION, service)
                    .count(metrics::TASK_FAILURES, n)
            })
            .collect();
        records.extend(by_kind.into_iter().map(|((cluster, kind), n)| {
            MetricRecord::new(namespace, now)
                .dimension(metrics::CLUSTER_DIMENSION, cluster)
                .dimension(metrics::KIND_DIMENSION, kind)
                .count(metrics::TASK_FAILURES, n)
        }));
        records.extend(report.spot_by_cluster.iter().map(|(cluster, n)| {
            MetricRecord::new(namespace, now)
                .dimension(metrics::CLUSTER_DIMENSION, cluster)
                .count(metrics::SPOT_INTERRUPTIONS, *n)
        }));
        let sent = |notice: Notice| {
            report
                .published
                .iter()
                .filter(|p| p.notice == notice)
                .count()
        };
        records.push(
            MetricRecord::new(namespace, now)
                .count(metrics::SPOT_INTERRUPTIONS, report.spot_interruptions)
                .count(metrics::NOT_FAILURES, report.not_failures.values().sum())
                .count(
                    metrics::EVENTS_NOT_FOR_THIS_MONITOR,
                    report.not_for_this_monitor,
                )
                .count(metrics::INVALID_RECORDS, report.dead_lettered.len())
                .count(metrics::FAILED_RECORDS, report.failed_record_ids.len())
                .count(metrics::ALERTS_OPENED, sent(Notice::Alert))
                .count(metrics::REMINDERS_SENT, sent(Notice::Reminder))
                .count(metrics::ALERTS_RESOLVED, sent(Notice::Resolved)),
        );
        records
    }
}

/// Which episode an event belongs to.
fn episode_key(event: &TaskEvent) -> EpisodeKey {
    match event {
        TaskEvent::Task(task) => EpisodeKey {
            cluster: task.cluster.clone(),
            owner: task.owner.clone(),
        },
        TaskEvent::Service(action) => EpisodeKey {
            cluster: action.service.cluster.clone(),
            owner: Owner::Service(action.service.name.clone()),
        },
        TaskEvent::Deployment(change) => EpisodeKey {
            cluster: change.service.cluster.clone(),
            owner: Owner::Service(change.service.name.clone()),
        },
    }
}

#[cfg(test)]
mod tests;
