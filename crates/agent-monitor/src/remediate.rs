//! Remediation, applied once per episode right after its alert is claimed and before it is
//! published, so the alert can say what was done. The action and its outcome are recorded on
//! the episode at once; a redelivery or a later run finds the record and never acts again.

use crate::decided::Decided;
use crate::ports::{EpisodeRepo, NodeRemedies, RemediationLedger};
use chrono::{DateTime, Utc};
use sentinel_agent::episode::{Episode, RemediationRecord};
use sentinel_agent::remediation::{hourly_budget, Outcome, RemediationAction, RemediationSettings};
use sentinel_agent::NodeView;
use sentinel_aws::Written;
use sentinel_core::ClusterArn;
use sentinel_lambda::engine::Owed;
use std::collections::HashMap;
use std::sync::Arc;

/// What may be done about a down agent: the configured action, its hourly budget per
/// cluster, and the hands that do it.
pub struct Remediation {
    settings: RemediationSettings,
    ledger: Arc<dyn RemediationLedger>,
    remedies: Arc<dyn NodeRemedies>,
}

impl Remediation {
    pub fn new(
        settings: RemediationSettings,
        ledger: Arc<dyn RemediationLedger>,
        remedies: Arc<dyn NodeRemedies>,
    ) -> Self {
        Remediation {
            settings,
            ledger,
            remedies,
        }
    }

    pub fn settings(&self) -> RemediationSettings {
        self.settings
    }

    /// Registered instances per cluster with a new alert, when remediation is on (the base
    /// of its hourly limit). Unknown sizes count as zero, which still allows one action.
    pub(crate) async fn cluster_sizes(
        &self,
        clusters: &[ClusterArn],
    ) -> HashMap<ClusterArn, usize> {
        if !self.settings.enabled() || self.settings.dry_run || clusters.is_empty() {
            return HashMap::new();
        }
        self.remedies
            .cluster_sizes(clusters)
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "cluster sizes unknown; remediation allows one action per cluster and hour");
                HashMap::new()
            })
    }

    /// Remediates the episodes of one cluster's alert, in order, within the hourly budget,
    /// and records each outcome on its episode.
    pub(crate) async fn remediate(
        &self,
        cluster: &ClusterArn,
        group: &mut [Owed<Episode, Decided>],
        sizes: &HashMap<ClusterArn, usize>,
        episodes: &dyn EpisodeRepo,
        now: DateTime<Utc>,
    ) {
        let settings = self.settings;
        if !settings.enabled() {
            return;
        }
        let budget = hourly_budget(
            sizes.get(cluster).copied().unwrap_or(0),
            settings.max_percent_per_hour,
        );
        for Owed {
            episode,
            context: decided,
            ..
        } in group.iter_mut()
        {
            if !episode.remediations.is_empty() {
                continue; // once per episode
            }
            let (outcome, detail) = self.act(cluster, episode, decided, budget, now).await;
            let record = RemediationRecord {
                action: settings.action.as_str().to_owned(),
                at: now,
                outcome,
                detail,
            };
            tracing::warn!(cluster = %cluster, node = %episode.node_id, action = record.action, outcome = record.text(), "remediation");
            episode.remediations.push(record);
            match episodes.put(episode, now).await {
                Ok(Written::Stored { version }) => episode.version = version,
                // The notice's own write (sent or released) still records the action.
                Ok(Written::Conflict) | Err(_) => {
                    tracing::warn!(node = %episode.node_id, "could not record the remediation yet")
                }
            }
        }
    }

    /// Does the configured action to one node, if it may: the outcome and what happened.
    async fn act(
        &self,
        cluster: &ClusterArn,
        episode: &Episode,
        decided: &Decided,
        budget: usize,
        now: DateTime<Utc>,
    ) -> (Outcome, String) {
        let settings = self.settings;
        let action = settings.action;
        if let Err(why) = action.applies_to(episode.node_id.kind(), episode.kind) {
            return (Outcome::NotApplied, why.to_owned());
        }
        if settings.dry_run {
            return (Outcome::DryRun, format!("would {}", action.describe()));
        }
        match self.ledger.take_slot(cluster, now, budget).await {
            Ok(true) => {}
            Ok(false) => {
                return (
                    Outcome::NotApplied,
                    format!("the limit of {budget} remediation(s) per hour for this cluster is reached (alert only)"),
                )
            }
            Err(err) => {
                return (
                    Outcome::NotApplied,
                    format!("could not check the hourly limit ({err})"),
                )
            }
        }
        let node = &episode.node_id;
        let succeeded = |detail: String| (Outcome::Succeeded, detail);
        let result =
            match action {
                RemediationAction::None => Ok((Outcome::NotApplied, "nothing to do".to_owned())),
                RemediationAction::RestartAgent => self
                    .remedies
                    .restart_agent(node, is_windows(decided))
                    .await
                    .map(|id| succeeded(format!("SSM command {id} restarts the agent"))),
                RemediationAction::Drain => self
                    .remedies
                    .drain(cluster, &episode.container_instance_arn)
                    .await
                    .map(|()| succeeded("container instance set to DRAINING".to_owned())),
                RemediationAction::Reboot => self
                    .remedies
                    .reboot(node)
                    .await
                    .map(|()| succeeded("reboot requested".to_owned())),
                RemediationAction::Replace => self.remedies.replace(node).await.map(|group| {
                    match group {
                Some(group) => succeeded(format!(
                    "terminated in Auto Scaling group {group}, which launches a replacement"
                )),
                None => (
                    Outcome::NotApplied,
                    "the instance is in no Auto Scaling group, and is never terminated outside one"
                        .to_owned(),
                ),
            }
                }),
            };
        result.unwrap_or_else(|err| (Outcome::Failed, err.to_string()))
    }
}

/// Windows nodes restart the agent with PowerShell; the platform comes from ECS (`ecs.os-type`)
/// or, for ECS Anywhere, from SSM.
fn is_windows(decided: &Decided) -> bool {
    let from_ecs = decided
        .observation
        .container_instance
        .as_ref()
        .and_then(|i| i.os_type.as_deref());
    let from_ssm = match &decided.observation.node {
        Some(NodeView::Anywhere { platform_type, .. }) => platform_type.as_deref(),
        _ => None,
    };
    from_ecs
        .or(from_ssm)
        .is_some_and(|p| p.eq_ignore_ascii_case("windows"))
}
