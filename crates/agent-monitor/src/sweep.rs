//! The reconciliation sweep, run on a schedule with the payload `{"sweep": {}}`.
//!
//! Events can be lost, and a stack can be deployed while agents are already down. The sweep
//! looks at every container instance of every monitored cluster and at every live episode,
//! and runs them through the same decision and lifecycle as events: it opens episodes for
//! agents it has seen down for longer than the grace period, closes episodes whose agent is
//! back or whose instance is gone, sends reminders, and reports per-cluster gauges of
//! connected and disconnected agents (zeros included, so alarms always have data).

use crate::decided::Decided;
use crate::lifecycle::{PublishedAlert, PublishedResolved};
use crate::observe::{Observed, Wanted};
use crate::pipeline::Monitor;
use chrono::{DateTime, Utc};
use sentinel_agent::episode::{Episode, Sighting, Source};
use sentinel_agent::metrics;
use sentinel_agent::NodeId;
use sentinel_aws::AwsError;
use sentinel_core::{ClusterArn, ClusterView, MetricRecord};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Agents of one monitored cluster right now (ACTIVE and DRAINING container instances).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterGauge {
    pub cluster: String,
    pub connected: usize,
    pub disconnected: usize,
}

#[derive(Debug, Default)]
pub struct SweepReport {
    pub gauges: Vec<ClusterGauge>,
    /// First alerts and reminders.
    pub published: Vec<PublishedAlert>,
    pub resolved: Vec<PublishedResolved>,
    /// (cluster or "*", error): what could not be looked at this time.
    pub errors: Vec<(String, String)>,
    /// Stored items that could not be read as episodes (skipped, logged).
    pub unreadable_items: usize,
    pub metrics: Vec<MetricRecord>,
}

impl Monitor {
    /// The scheduled entry point: the sweep, with its metrics printed as EMF.
    pub async fn handle_sweep(&self) -> SweepReport {
        let report = self.sweep().await;
        sentinel_lambda::emf::print(&report.metrics);
        report
    }

    /// One sweep at the monitor's clock's now (tests move the clock to see reminders fall
    /// due without waiting hours).
    pub async fn sweep(&self) -> SweepReport {
        let now = self.clock.now();
        let mut report = SweepReport::default();
        if let Some((clusters, stored)) = self.sweep_inputs(&mut report).await {
            let mut look = self.look_at(clusters, &stored).await;
            let candidates = candidates(&look, &stored, &mut report);
            let decided = self.sweep_decisions(candidates, &stored, &mut look);
            for (cluster, err) in &look.unreadable {
                tracing::error!(cluster = %cluster, error = %err, "sweep could not look at this cluster");
                report
                    .errors
                    .push((cluster.name().to_owned(), err.to_string()));
            }
            let settled = self.lifecycle.settle(decided, Source::Sweep, now).await;
            report.published = settled.alerts;
            report.resolved = settled.resolutions;
            report.errors.extend(settled.errors);
            report.gauges.sort_by(|a, b| a.cluster.cmp(&b.cluster));
        }
        report.metrics = self.sweep_metrics(&report, now);
        tracing::info!(
            clusters = report.gauges.len(),
            disconnected = report.gauges.iter().map(|g| g.disconnected).sum::<usize>(),
            alerts = report.published.len(),
            resolved = report.resolved.len(),
            errors = report.errors.len(),
            "sweep done"
        );
        report
    }

    /// The clusters ECS lists and every stored episode, read together. `None` when either
    /// read failed: the sweep cannot start (and says so).
    async fn sweep_inputs(
        &self,
        report: &mut SweepReport,
    ) -> Option<(Vec<ClusterArn>, HashMap<String, Episode>)> {
        let (clusters, episodes) =
            tokio::join!(self.observer.list_clusters(), self.lifecycle.episodes.all());
        let (clusters, episodes) = match (clusters, episodes) {
            (Ok(c), Ok(e)) => (c, e),
            (Err(err), _) | (_, Err(err)) => {
                tracing::error!(error = %err, "sweep cannot start");
                report.errors.push(("*".to_owned(), err.to_string()));
                return None;
            }
        };
        for item in &episodes.unreadable {
            // Left as it is for a person to look at; every other episode is swept.
            tracing::error!(
                item = item.key,
                reason = item.why,
                "skipping an alert-state item that is not a readable episode"
            );
        }
        report.unreadable_items = episodes.unreadable.len();
        let stored = episodes
            .episodes
            .into_iter()
            .map(|e| (e.container_instance_arn.clone(), e))
            .collect();
        Some((clusters, stored))
    }

    /// Every container instance of every monitored cluster, and the clusters of live
    /// episodes even if ECS no longer lists them, described with their nodes.
    async fn look_at(&self, clusters: Vec<ClusterArn>, stored: &HashMap<String, Episode>) -> Look {
        let mut all_clusters: BTreeSet<ClusterArn> = clusters.into_iter().collect();
        all_clusters.extend(
            stored
                .values()
                .filter(|e| e.is_live())
                .map(|e| e.cluster_arn.clone()),
        );
        let all_clusters: Vec<ClusterArn> = all_clusters.into_iter().collect();
        let views = self.observer.cluster_views(&all_clusters).await;
        let monitored: Vec<&ClusterArn> = all_clusters
            .iter()
            .filter(|c| matches!(views.get(*c), Some(Ok(ClusterView::Monitored))))
            .collect();
        let listings = futures::future::join_all(monitored.iter().map(|cluster| async move {
            (
                (*cluster).clone(),
                self.observer.list_container_instances(cluster).await,
            )
        }))
        .await;
        let mut unreadable: BTreeMap<ClusterArn, AwsError> = views
            .iter()
            .filter_map(|(c, v)| v.as_ref().err().map(|e| (c.clone(), e.clone())))
            .collect();
        let mut wanted = Vec::new();
        for (cluster, listing) in listings {
            match listing {
                Ok(arns) => wanted.push(Wanted {
                    cluster,
                    container_instances: arns,
                    nodes: Vec::new(),
                }),
                Err(err) => {
                    unreadable.insert(cluster, err);
                }
            }
        }
        let observed = self.observer.observe(views, &wanted).await;
        for (cluster, result) in &observed.instances {
            if let Err(err) = result {
                unreadable.insert(cluster.clone(), err.clone());
            }
        }
        Look {
            listed: wanted.into_iter().map(|w| w.cluster).collect(),
            observed,
            unreadable,
        }
    }

    /// The same decision as events, for each candidate. Never judge what could not be
    /// looked at: an unreadable cluster's episodes wait.
    fn sweep_decisions(
        &self,
        candidates: BTreeMap<String, Sighting>,
        stored: &HashMap<String, Episode>,
        look: &mut Look,
    ) -> Vec<Decided> {
        let mut decided = Vec::new();
        for (arn, sighting) in candidates {
            if look.unreadable.contains_key(&sighting.cluster_arn) {
                continue;
            }
            match look.observed.observation(&sighting.cluster_arn, &arn) {
                Ok(observation) => decided.push(Decided::new(
                    sighting,
                    Vec::new(),
                    stored.get(&arn).cloned(),
                    observation,
                    self.config.decision,
                )),
                Err(err) => {
                    look.unreadable.insert(sighting.cluster_arn.clone(), err);
                }
            }
        }
        decided
    }

    fn sweep_metrics(&self, report: &SweepReport, now: DateTime<Utc>) -> Vec<MetricRecord> {
        let namespace = &self.config.metrics_namespace;
        let mut records: Vec<MetricRecord> = report
            .gauges
            .iter()
            .map(|g| {
                MetricRecord::new(namespace, now)
                    .dimension(metrics::CLUSTER_DIMENSION, &g.cluster)
                    .count(metrics::DISCONNECTED_AGENTS, g.disconnected)
                    .count(metrics::CONNECTED_AGENTS, g.connected)
            })
            .collect();
        records.push(
            self.with_lifecycle_counts(
                MetricRecord::new(namespace, now),
                &report.published,
                &report.resolved,
            )
            .count(metrics::SWEEP_ERRORS, report.errors.len()),
        );
        records
    }
}

fn sighting(arn: &str, cluster: &ClusterArn, node_id: &NodeId) -> Sighting {
    Sighting {
        container_instance_arn: arn.to_owned(),
        cluster_arn: cluster.clone(),
        node_id: node_id.clone(),
        event_time: None,
    }
}

/// What one sweep saw: the monitored clusters it listed, what their instances and nodes
/// look like, and the clusters it could not read.
struct Look {
    listed: Vec<ClusterArn>,
    observed: Observed,
    unreadable: BTreeMap<ClusterArn, AwsError>,
}

/// The gauges of every listed cluster, and a candidate for every disconnected agent and
/// every live episode (so one whose instance vanished is closed).
fn candidates(
    look: &Look,
    stored: &HashMap<String, Episode>,
    report: &mut SweepReport,
) -> BTreeMap<String, Sighting> {
    let mut candidates: BTreeMap<String, Sighting> = BTreeMap::new();
    for cluster in &look.listed {
        let Some(Ok(instances)) = look.observed.instances.get(cluster) else {
            continue;
        };
        let mut gauge = ClusterGauge {
            cluster: cluster.name().to_owned(),
            connected: 0,
            disconnected: 0,
        };
        for instance in instances.values() {
            if !instance.status.is_in_service() {
                continue;
            }
            if instance.agent_connected {
                gauge.connected += 1;
                continue;
            }
            gauge.disconnected += 1;
            if let Some(node_id) = &instance.node_id {
                candidates.insert(
                    instance.arn.clone(),
                    sighting(&instance.arn, cluster, node_id),
                );
            }
        }
        report.gauges.push(gauge);
    }
    for e in stored.values().filter(|e| e.is_live()) {
        candidates
            .entry(e.container_instance_arn.clone())
            .or_insert_with(|| sighting(&e.container_instance_arn, &e.cluster_arn, &e.node_id));
    }
    candidates
}
