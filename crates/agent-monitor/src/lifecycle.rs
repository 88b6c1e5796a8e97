//! The agent monitor wired to the notice engine ([`sentinel_lambda::engine`]): each
//! decision runs through [`episode::step`], the engine claims what is owed, this module
//! groups it into one message per cluster and kind of notice (remediating new alerts first,
//! so the alert can say what was done), and the engine sends and records them. Shared by
//! the event path and the sweep; it talks to the world only through the
//! [`ports`](crate::ports), so its wiring is tested over the in-memory ports.

use crate::actions::ActionRegistry;
pub use crate::decided::Decided;
use crate::ports::{EpisodeRepo, Notifier};
use crate::remediate::Remediation;
use chrono::{DateTime, Utc};
use sentinel_agent::episode::{self, Episode, LifecycleSettings, Notice, Source};
use sentinel_agent::recovery::ClusterResolved;
use sentinel_agent::{AffectedInstance, ClusterAlert};
use sentinel_core::notification::Notification;
use sentinel_core::ClusterArn;
use sentinel_lambda::engine::{Engine, Outgoing, Owed, Proposal};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// An alert or reminder that went out.
#[derive(Debug, Clone)]
pub struct PublishedAlert {
    pub alert: ClusterAlert,
    pub message_id: String,
}

/// A RESOLVED notice that went out.
#[derive(Debug, Clone)]
pub struct PublishedResolved {
    pub resolved: ClusterResolved,
    pub message_id: String,
}

/// What settling came to.
#[derive(Debug, Default)]
pub struct Settled {
    /// First alerts and reminders that went out.
    pub alerts: Vec<PublishedAlert>,
    pub resolutions: Vec<PublishedResolved>,
    /// Records to deliver again: their write or their notice failed.
    pub failed_record_ids: BTreeSet<String>,
    /// (cluster, error)
    pub errors: Vec<(String, String)>,
    /// Episodes whose stored item changed under us (another run got there first).
    pub conflicts: usize,
    pub action_failures: usize,
}

/// The lifecycle's collaborators: where episodes live, where notices go, what may be done
/// about a down agent, and the custom actions run on first alerts.
pub struct Lifecycle {
    pub(crate) episodes: Arc<dyn EpisodeRepo>,
    notifier: Arc<dyn Notifier>,
    remediation: Remediation,
    actions: ActionRegistry,
    settings: LifecycleSettings,
}

impl Lifecycle {
    pub fn new(
        episodes: Arc<dyn EpisodeRepo>,
        notifier: Arc<dyn Notifier>,
        remediation: Remediation,
        actions: ActionRegistry,
        settings: LifecycleSettings,
    ) -> Self {
        Lifecycle {
            episodes,
            notifier,
            remediation,
            actions,
            settings,
        }
    }

    pub(crate) fn register_action(&mut self, action: Box<dyn crate::NodeAction>) {
        self.actions.register(action);
    }

    pub fn remediation(&self) -> &Remediation {
        &self.remediation
    }

    /// Runs the decisions through the engine: claim, compose one message per cluster and
    /// kind of notice, send and record; then the custom actions of first alerts.
    pub async fn settle(
        &self,
        decided: Vec<Decided>,
        source: Source,
        now: DateTime<Utc>,
    ) -> Settled {
        let engine = Engine::new(self.episodes.as_ref(), self.notifier.as_ref());
        let proposals = decided
            .into_iter()
            .map(|d| Proposal {
                step: episode::step(
                    d.stored.as_ref(),
                    &d.verdict,
                    &d.sighting,
                    source,
                    now,
                    &self.settings,
                ),
                stored: d.stored.clone(),
                records: d.record_ids.clone(),
                scope: d.sighting.cluster_arn.name().to_owned(),
                context: d,
            })
            .collect();
        let claimed = engine.claim(proposals, now).await;
        let mut outcome = claimed.outcome;

        let mut by_message: BTreeMap<(ClusterArn, Notice), Vec<Owed<Episode, Decided>>> =
            BTreeMap::new();
        for owed in claimed.owed {
            by_message
                .entry((owed.episode.cluster_arn.clone(), owed.notice))
                .or_default()
                .push(owed);
        }
        let outgoing = self.compose(by_message, now).await;
        let sent = engine.deliver(outgoing, now, &mut outcome).await;

        let mut settled = Settled {
            failed_record_ids: outcome.failed_record_ids,
            errors: outcome.errors,
            conflicts: outcome.conflicts,
            ..Settled::default()
        };
        for sent in sent {
            let (message_id, subject) = (sent.message_id, sent.notification.subject);
            match sent.message {
                Message::Alert(alert) => {
                    tracing::warn!(
                        cluster = alert.cluster_name(),
                        notice = sent.notice.as_str(),
                        instances = alert.instances.len(),
                        message_id,
                        subject,
                        "alert published"
                    );
                    settled.alerts.push(PublishedAlert { alert, message_id });
                }
                Message::Resolved(resolved) => {
                    tracing::warn!(
                        cluster = resolved.cluster_name(),
                        instances = resolved.episodes.len(),
                        message_id,
                        subject,
                        "resolution published"
                    );
                    settled.resolutions.push(PublishedResolved {
                        resolved,
                        message_id,
                    });
                }
            }
        }
        // Custom actions, on first alerts only.
        if !self.actions.is_empty() {
            let first_alerts = settled.alerts.iter().filter(|p| !p.alert.reminder);
            let outcomes =
                futures::future::join_all(first_alerts.map(|p| self.actions.run_all(&p.alert)))
                    .await;
            settled.action_failures = outcomes.iter().map(|o| o.failed.len()).sum();
        }
        settled
    }

    /// One message per cluster and kind of notice, its instances in ARN order; new alerts
    /// are remediated first (once per episode, within the hourly budget).
    async fn compose(
        &self,
        by_message: BTreeMap<(ClusterArn, Notice), Vec<Owed<Episode, Decided>>>,
        now: DateTime<Utc>,
    ) -> Vec<Outgoing<Episode, Decided, Message>> {
        let new_alerts: Vec<ClusterArn> = by_message
            .keys()
            .filter(|(_, notice)| *notice == Notice::Alert)
            .map(|(cluster, _)| cluster.clone())
            .collect();
        let sizes = self.remediation.cluster_sizes(&new_alerts).await;
        let sizes = &sizes;
        let composed = by_message
            .into_iter()
            .map(|((cluster, notice), mut group)| async move {
                group.sort_by(|a, b| {
                    a.episode
                        .container_instance_arn
                        .cmp(&b.episode.container_instance_arn)
                });
                if notice == Notice::Alert {
                    self.remediation
                        .remediate(&cluster, &mut group, sizes, self.episodes.as_ref(), now)
                        .await;
                }
                let message = Message::new(cluster, notice, &group, now);
                Outgoing {
                    notice,
                    notification: message.notification().map_err(|e| e.to_string()),
                    message,
                    owed: group,
                }
            });
        futures::future::join_all(composed).await
    }
}

/// One message of the agent monitor: a cluster's alert (or reminder), or its RESOLVED.
enum Message {
    Alert(ClusterAlert),
    Resolved(ClusterResolved),
}

impl Message {
    fn new(
        cluster: ClusterArn,
        notice: Notice,
        group: &[Owed<Episode, Decided>],
        now: DateTime<Utc>,
    ) -> Self {
        match notice {
            Notice::Alert | Notice::Reminder => Message::Alert(ClusterAlert {
                cluster_arn: cluster,
                checked_at: now,
                instances: group
                    .iter()
                    .map(|o| {
                        AffectedInstance::from_episode(
                            &o.episode,
                            o.context.observation.container_instance.as_ref(),
                            o.context.observation.node.as_ref(),
                        )
                    })
                    .collect(),
                reminder: notice == Notice::Reminder,
            }),
            Notice::Resolved => Message::Resolved(ClusterResolved {
                cluster_arn: cluster,
                checked_at: now,
                episodes: group.iter().map(|o| o.episode.clone()).collect(),
            }),
        }
    }

    fn notification(&self) -> Result<Notification, serde_json::Error> {
        match self {
            Message::Alert(alert) => alert.notification(),
            Message::Resolved(resolved) => resolved.notification(),
        }
    }
}

#[cfg(test)]
mod tests;
