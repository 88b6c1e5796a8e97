//! One SQS batch of `aws.ecs` events, and the scheduled reconcile.
//!
//! A batch: parse every record (unusable ones to the dead-letter queue with the reason;
//! detail-types the fleet does not keep are acknowledged), collapse to the newest record
//! per key, write each key once on the newer-only condition, and answer
//! `batchItemFailures` for exactly the records whose key's write failed.
//!
//! The reconcile (`{"reconcile": {}}`): per cluster, what ECS lists now against what is
//! stored; missed states are written (same condition), records ECS no longer knows are
//! marked gone.

use crate::config::{Config, METRICS_NAMESPACE};
use crate::ports::{EcsListing, FleetStore, Listing};
use crate::store::{FleetInventory, FleetTable, Recorded};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use sentinel_aws::sdk::OnFirstUse;
use sentinel_aws::{AwsError, DeadLetterQueue, EcsInventory};
use sentinel_core::{Clock, MetricRecord, SystemClock};
use sentinel_fleet::{newest_per_key, parse_fleet_event, reconcile, FleetRecord, Repair};
use sentinel_lambda::invocation::Invocation;
use sentinel_lambda::Rejection;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The AWS clients the recorder needs, built once per sandbox; SQS (malformed records) on
/// first use.
#[derive(Clone)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: OnFirstUse<aws_sdk_sqs::Client>,
}

impl Clients {
    pub fn from_sdk_config(sdk: &sentinel_aws::sdk::SdkConfig) -> Self {
        Clients {
            ecs: aws_sdk_ecs::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sqs: OnFirstUse::of(sdk, aws_sdk_sqs::Client::new),
        }
    }
}

/// What one batch came to.
#[derive(Debug, Default)]
pub struct RecordReport {
    pub received: usize,
    /// `aws.ecs` events of detail-types the fleet does not keep.
    pub ignored: usize,
    /// (record id, reason) of records parked in the dead-letter queue.
    pub dead_lettered: Vec<(String, String)>,
    /// Distinct keys in the batch: one write each.
    pub keys: usize,
    pub written: usize,
    /// The store already had that state or a newer one.
    pub stale: usize,
    /// Records SQS must deliver again.
    pub failed_record_ids: BTreeSet<String>,
    /// (key, error) for each failed write.
    pub errors: Vec<(String, String)>,
    pub metrics: Vec<MetricRecord>,
}

impl RecordReport {
    pub fn response(&self) -> SqsBatchResponse {
        sentinel_lambda::batch_answer(&self.failed_record_ids)
    }
}

/// The local event source mapping (demo, tests) drives the same `process` Lambda runs.
impl sentinel_lambda::BatchHandler for FleetRecorder {
    type Report = RecordReport;

    async fn handle_batch(&self, records: &[SqsMessage]) -> RecordReport {
        self.process(records).await
    }

    fn failed_record_ids(report: &RecordReport) -> &BTreeSet<String> {
        &report.failed_record_ids
    }
}

/// What one reconcile came to.
#[derive(Debug, Default)]
pub struct ReconcileReport {
    pub clusters: usize,
    /// Missed states written.
    pub written: usize,
    /// Records ECS no longer knows, marked gone.
    pub marked_gone: usize,
    /// Repairs a newer event overtook.
    pub stale: usize,
    /// Stored items that are not readable records.
    pub unreadable: usize,
    /// (cluster or "*", error).
    pub errors: Vec<(String, String)>,
    pub metrics: Vec<MetricRecord>,
}

impl ReconcileReport {
    fn summary(&self) -> Value {
        json!({
            "clusters": self.clusters,
            "written": self.written,
            "markedGone": self.marked_gone,
            "stale": self.stale,
            "unreadable": self.unreadable,
            "errors": self.errors.len(),
        })
    }
}

pub struct FleetRecorder {
    store: Arc<dyn FleetStore>,
    listing: Arc<dyn Listing>,
    dead_letters: DeadLetterQueue,
    clock: Arc<dyn Clock>,
}

impl FleetRecorder {
    pub fn new(clients: Clients, config: Config) -> Self {
        FleetRecorder::with_ports(
            Arc::new(FleetTable::new(
                clients.dynamodb,
                &config.fleet_table_name,
                config.stopped_retention,
            )),
            Arc::new(EcsListing {
                clusters: EcsInventory::new(clients.ecs.clone()),
                fleet: FleetInventory::new(clients.ecs),
            }),
            DeadLetterQueue::new(clients.sqs, &config.dead_letter_queue_url),
        )
    }

    /// Any store and listing: the tests' in-memory twins.
    pub fn with_ports(
        store: Arc<dyn FleetStore>,
        listing: Arc<dyn Listing>,
        dead_letters: DeadLetterQueue,
    ) -> Self {
        FleetRecorder {
            store,
            listing,
            dead_letters,
            clock: Arc::new(SystemClock),
        }
    }

    /// Runs on this clock instead of the system's.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The Lambda handler: an SQS batch gets its partial-batch answer, the schedule's
    /// `{"reconcile": {}}` a summary. Metrics go to stdout as EMF.
    pub async fn handle(&self, payload: Value) -> Result<Value, String> {
        match Invocation::parse(payload, "reconcile")? {
            Invocation::Batch(event) => {
                let response = self.handle_batch(event).await;
                serde_json::to_value(response).map_err(|e| e.to_string())
            }
            Invocation::Scheduled => {
                let report = self.reconcile().await;
                sentinel_lambda::emf::print(&report.metrics);
                if let Some((_, error)) = report.errors.iter().find(|(scope, _)| scope == "*") {
                    // Nothing was looked at: fail the invocation so it shows as an error.
                    return Err(format!("reconcile could not start: {error}"));
                }
                Ok(report.summary())
            }
        }
    }

    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        let report = self.process(&event.records).await;
        sentinel_lambda::emf::print(&report.metrics);
        report.response()
    }

    pub async fn process(&self, records: &[SqsMessage]) -> RecordReport {
        let now = self.clock.now();
        let mut report = RecordReport {
            received: records.len(),
            ..RecordReport::default()
        };
        let parsed = sentinel_lambda::parse_or_park(
            records,
            |body| parse_fleet_event(body).map_err(Rejection::from),
            &self.dead_letters,
        )
        .await;
        report.dead_lettered = parsed.dead_lettered;
        report.failed_record_ids.extend(parsed.unparked);
        let kept = parsed.valid.into_iter().filter_map(|(id, record)| {
            if record.is_none() {
                // An `aws.ecs` event of a detail-type the fleet does not keep (health,
                // hooks, daemons, CloudTrail's API calls): the rule sends every ECS event
                // here, so it is no error; the archive keeps it. Counted (EventsIgnored).
                tracing::info!(
                    record_id = id.as_str(),
                    "not a detail-type the fleet keeps: acknowledged"
                );
                report.ignored += 1;
            }
            record.map(|r| (id, r))
        });
        let newest = newest_per_key(kept.collect::<Vec<_>>());
        report.keys = newest.len();
        let to_write: Vec<&FleetRecord> = newest.iter().map(|n| &n.record).collect();
        let answers = self.store.record_all(&to_write, now).await;
        for (newest, answer) in newest.iter().zip(answers) {
            match answer {
                Ok(Recorded::Written) => report.written += 1,
                Ok(Recorded::Stale) => report.stale += 1,
                Err(err) => {
                    let key = newest.record.key();
                    tracing::error!(key, error = %err, "cannot record; SQS will deliver its records again");
                    report
                        .failed_record_ids
                        .extend(newest.record_ids.iter().cloned());
                    report.errors.push((key, err.to_string()));
                }
            }
        }
        report.metrics = vec![MetricRecord::new(METRICS_NAMESPACE, now)
            .count("EventsRecorded", report.written)
            .count("EventsStale", report.stale)
            .count("EventsIgnored", report.ignored)
            .count("InvalidRecords", report.dead_lettered.len())
            .count("FailedRecords", report.failed_record_ids.len())];
        tracing::info!(
            received = report.received,
            keys = report.keys,
            written = report.written,
            stale = report.stale,
            ignored = report.ignored,
            retried = report.failed_record_ids.len(),
            "batch recorded"
        );
        report
    }

    /// Compares every cluster ECS lists with the stored records and repairs the
    /// difference. A cluster that cannot be read is reported and left alone.
    pub async fn reconcile(&self) -> ReconcileReport {
        let now = self.clock.now();
        let mut report = ReconcileReport::default();
        let clusters = match self.listing.clusters().await {
            Ok(clusters) => clusters,
            Err(err) => {
                report.errors.push(("*".into(), err.to_string()));
                return report;
            }
        };
        report.clusters = clusters.len();
        for cluster in &clusters {
            if let Err(err) = self.reconcile_cluster(cluster, now, &mut report).await {
                tracing::error!(cluster = %cluster, error = %err, "cannot reconcile the cluster; the next run tries again");
                report.errors.push((cluster.to_string(), err.to_string()));
            }
        }
        report.metrics = vec![MetricRecord::new(METRICS_NAMESPACE, now)
            .count("ReconcileWritten", report.written)
            .count("ReconcileMarkedGone", report.marked_gone)
            .count("ReconcileErrors", report.errors.len())];
        tracing::info!(
            clusters = report.clusters,
            written = report.written,
            marked_gone = report.marked_gone,
            stale = report.stale,
            errors = report.errors.len(),
            "reconcile done"
        );
        report
    }

    async fn reconcile_cluster(
        &self,
        cluster: &sentinel_core::ClusterArn,
        now: chrono::DateTime<chrono::Utc>,
        report: &mut ReconcileReport,
    ) -> Result<(), AwsError> {
        // Stored first, then listed: a task that starts in between is listed and written;
        // one that stops in between is marked gone and then overwritten by its STOPPED
        // event, whose version is newer.
        let (stored, unreadable) = self.store.cluster(cluster.as_str()).await?;
        report.unreadable += unreadable;
        let listed = self.listing.cluster_records(cluster).await?;
        let summaries: Vec<_> = stored.iter().map(|s| s.summary()).collect();
        let repairs = reconcile(&summaries, &listed);
        let writes: Vec<&FleetRecord> = repairs
            .iter()
            .filter_map(|r| match r {
                Repair::Write(record) => Some(record.as_ref()),
                Repair::MarkGone { .. } => None,
            })
            .collect();
        for answer in self.store.record_all(&writes, now).await {
            match answer? {
                Recorded::Written => report.written += 1,
                Recorded::Stale => report.stale += 1,
            }
        }
        for repair in &repairs {
            if let Repair::MarkGone { key, order, .. } = repair {
                match self.store.mark_gone(key, *order, now).await? {
                    Recorded::Written => {
                        tracing::info!(key, "ECS no longer knows it: marked gone");
                        report.marked_gone += 1;
                    }
                    Recorded::Stale => report.stale += 1,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
