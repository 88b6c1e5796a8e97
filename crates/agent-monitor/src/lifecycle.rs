//! The alert lifecycle at work: run each decision through [`episode::step`], store the new
//! episode states (conditionally), send what is owed — one message per cluster and kind of
//! notice — and record that it was sent. Shared by the event path and the sweep; it talks to
//! the world only through the [`ports`](crate::ports), so its races and failures are tested
//! over the in-memory ports.
//!
//! The protocol for every notice: claim it on the episode (a conditional write), send it,
//! then record it sent — or, if sending failed, release the claim so the redelivery sends it
//! at once. A run that dies in between leaves a claim that expires after its lease.

use crate::actions::ActionRegistry;
use crate::ports::{EpisodeRepo, Notifier};
use crate::remediate::Remediation;
use chrono::{DateTime, Utc};
use sentinel_agent::episode::{self, Episode, LifecycleSettings, Notice, Sighting, Source, Step};
use sentinel_agent::recovery::ClusterResolved;
use sentinel_agent::{
    assess, AffectedInstance, ClusterAlert, DecisionSettings, Observation, Verdict,
};
use sentinel_aws::{AwsError, Written};
use sentinel_core::notification::Notification;
use sentinel_core::ClusterArn;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Recording that a notice went out is retried this often (each try with the SDK's own
/// retries): a lost record would mean the notice is sent again after its lease.
const MARK_SENT_TRIES: u32 = 4;

/// One container instance a run has decided about.
#[derive(Debug, Clone)]
pub struct Decided {
    pub sighting: Sighting,
    /// The SQS records that named it (none for the sweep).
    pub record_ids: Vec<String>,
    pub stored: Option<Episode>,
    pub observation: Observation,
    pub verdict: Verdict,
}

impl Decided {
    /// The one way a candidate becomes a decision, for events and the sweep alike: what a
    /// fresh look found, judged by [`sentinel_agent::assess`].
    pub fn new(
        sighting: Sighting,
        record_ids: Vec<String>,
        stored: Option<Episode>,
        observation: Observation,
        settings: DecisionSettings,
    ) -> Self {
        let verdict = assess(&observation, settings);
        Decided {
            sighting,
            record_ids,
            stored,
            observation,
            verdict,
        }
    }
}

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

/// What storing a step came to.
enum Effect {
    Done,
    /// Another run holds the episode's notice: look again on redelivery (or next sweep).
    Later,
    /// The stored claim of `Notice`; with `look_again`, the records are delivered again
    /// after the notice went out (an ended episode's RESOLVED while the agent is down anew).
    Owes {
        episode: Episode,
        notice: Notice,
        look_again: bool,
    },
    Failed(AwsError),
    Conflict,
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

    pub async fn settle(
        &self,
        decided: Vec<Decided>,
        source: Source,
        now: DateTime<Utc>,
    ) -> Settled {
        let settings = self.settings;
        let mut settled = Settled::default();

        // 1. Store each new state, all in one batched write (a transaction per 100); a
        //    notice is owed only once its claim is stored.
        let steps: Vec<(Decided, Step)> = decided
            .into_iter()
            .map(|d| {
                let step = episode::step(
                    d.stored.as_ref(),
                    &d.verdict,
                    &d.sighting,
                    source,
                    now,
                    &settings,
                );
                (d, step)
            })
            .collect();
        let outcomes = self.store(steps, now).await;

        // 2. Group what is owed: one message per cluster and kind of notice.
        let mut owed: BTreeMap<(ClusterArn, Notice), Vec<(Episode, Decided)>> = BTreeMap::new();
        let mut look_again_ids = BTreeSet::new();
        for (d, outcome) in outcomes {
            match outcome {
                Effect::Done => {}
                Effect::Owes {
                    episode,
                    notice,
                    look_again,
                } => {
                    if look_again {
                        look_again_ids.extend(d.record_ids.iter().cloned());
                    }
                    owed.entry((episode.cluster_arn.clone(), notice))
                        .or_default()
                        .push((episode, d))
                }
                Effect::Later | Effect::Conflict => {
                    // Redelivery (or the next sweep) re-reads the item and acts on what is
                    // there then.
                    tracing::info!(
                        container_instance = d.sighting.container_instance_arn,
                        "another run holds or just changed this episode; will look again"
                    );
                    settled.conflicts += 1;
                    settled.failed_record_ids.extend(d.record_ids);
                }
                Effect::Failed(err) => {
                    tracing::error!(container_instance = d.sighting.container_instance_arn, error = %err, "could not store the episode");
                    settled
                        .errors
                        .push((d.sighting.cluster_arn.name().to_owned(), err.to_string()));
                    settled.failed_record_ids.extend(d.record_ids);
                }
            }
        }

        // 3. Remediate new alerts (once per episode, within the hourly budget), so the alert
        //    can say what was done.
        let new_alerts: Vec<ClusterArn> = owed
            .keys()
            .filter(|(_, notice)| *notice == Notice::Alert)
            .map(|(cluster, _)| cluster.clone())
            .collect();
        let sizes = self.remediation.cluster_sizes(&new_alerts).await;
        let sizes = &sizes;

        // 4. Send, then record that it was sent (or release the claim for a retry).
        let sends = owed
            .into_iter()
            .map(|((cluster, notice), mut group)| async move {
                group.sort_by(|a, b| a.0.container_instance_arn.cmp(&b.0.container_instance_arn));
                if notice == Notice::Alert {
                    self.remediation
                        .remediate(&cluster, &mut group, sizes, self.episodes.as_ref(), now)
                        .await;
                }
                let message = match notice {
                    Notice::Alert | Notice::Reminder => Message::Alert(ClusterAlert {
                        cluster_arn: cluster.clone(),
                        checked_at: now,
                        instances: group
                            .iter()
                            .map(|(e, d)| {
                                AffectedInstance::from_episode(
                                    e,
                                    d.observation.container_instance.as_ref(),
                                    d.observation.node.as_ref(),
                                )
                            })
                            .collect(),
                        reminder: notice == Notice::Reminder,
                    }),
                    Notice::Resolved => Message::Resolved(ClusterResolved {
                        cluster_arn: cluster.clone(),
                        checked_at: now,
                        episodes: group.iter().map(|(e, _)| e.clone()).collect(),
                    }),
                };
                let result = match message.notification() {
                    Ok(notification) => self.notifier.publish(&notification).await,
                    Err(e) => Err(AwsError::new(
                        "sns",
                        "Publish",
                        format!("cannot render the message: {e}"),
                    )),
                };
                let episodes: Vec<&Episode> = group.iter().map(|(e, _)| e).collect();
                match &result {
                    Ok(_) => self.record_all_sent(&episodes, notice, now).await,
                    Err(_) => self.release_claims(&episodes, notice, now).await,
                }
                (notice, message, group, result)
            });
        for (notice, message, group, result) in futures::future::join_all(sends).await {
            match (result, message) {
                (Ok(message_id), Message::Alert(alert)) => {
                    tracing::warn!(
                        cluster = alert.cluster_name(),
                        notice = notice.as_str(),
                        instances = alert.instances.len(),
                        message_id,
                        subject = alert.subject(),
                        "alert published"
                    );
                    settled.alerts.push(PublishedAlert { alert, message_id });
                }
                (Ok(message_id), Message::Resolved(resolved)) => {
                    tracing::warn!(
                        cluster = resolved.cluster_name(),
                        instances = resolved.episodes.len(),
                        message_id,
                        subject = resolved.subject(),
                        "resolution published"
                    );
                    settled.resolutions.push(PublishedResolved {
                        resolved,
                        message_id,
                    });
                }
                (Err(err), message) => {
                    let cluster = match &message {
                        Message::Alert(a) => a.cluster_name().to_owned(),
                        Message::Resolved(r) => r.cluster_name().to_owned(),
                    };
                    tracing::error!(cluster, notice = notice.as_str(), error = %err, "could not publish; the notice stays owed");
                    settled.errors.push((cluster, err.to_string()));
                    for (_, d) in group {
                        settled.failed_record_ids.extend(d.record_ids);
                    }
                }
            }
        }

        // An ended episode's owed RESOLVED went out (or not) while its agent is down anew:
        // the redelivery opens the new episode.
        settled.failed_record_ids.extend(look_again_ids);

        // 5. Custom actions, on first alerts only.
        if !self.actions.is_empty() {
            let first_alerts = settled.alerts.iter().filter(|p| !p.alert.reminder);
            let outcomes =
                futures::future::join_all(first_alerts.map(|p| self.actions.run_all(&p.alert)))
                    .await;
            settled.action_failures = outcomes.iter().map(|o| o.failed.len()).sum();
        }
        settled
    }

    /// Stores what the steps change: every new state in one `put_all`, suspicions to forget
    /// one by one (rare). A step that claims a notice owes it only once the claim is stored.
    async fn store(
        &self,
        steps: Vec<(Decided, Step)>,
        now: DateTime<Utc>,
    ) -> Vec<(Decided, Effect)> {
        let writes: Vec<Episode> = steps
            .iter()
            .filter_map(|(_, step)| match step {
                Step::Store(e) | Step::Notify(e, _) | Step::NotifyThenLater(e, _) => {
                    Some(e.clone())
                }
                Step::Nothing | Step::Later | Step::Forget => None,
            })
            .collect();
        let mut written = if writes.is_empty() {
            Vec::new().into_iter()
        } else {
            match self.episodes.put_all(&writes, now).await {
                Ok(answers) => answers.into_iter().map(Ok).collect::<Vec<_>>().into_iter(),
                Err(err) => vec![Err(err); writes.len()].into_iter(),
            }
        };
        let mut outcomes = Vec::with_capacity(steps.len());
        for (d, step) in steps {
            let claimed = |e: Episode, notice, look_again, answer| match answer {
                Ok(Written::Stored { version }) => Effect::Owes {
                    episode: Episode { version, ..e },
                    notice,
                    look_again,
                },
                Ok(Written::Conflict) => Effect::Conflict,
                Err(err) => Effect::Failed(err),
            };
            let mut answer = || {
                written.next().unwrap_or_else(|| {
                    Err(AwsError::new(
                        "store",
                        "put_all",
                        "fewer answers than writes",
                    ))
                })
            };
            let effect = match step {
                Step::Nothing => Effect::Done,
                Step::Later => Effect::Later,
                Step::Store(_) => match answer() {
                    Ok(Written::Stored { .. }) => Effect::Done,
                    Ok(Written::Conflict) => Effect::Conflict,
                    Err(err) => Effect::Failed(err),
                },
                Step::Notify(e, notice) => claimed(e, notice, false, answer()),
                Step::NotifyThenLater(e, notice) => claimed(e, notice, true, answer()),
                Step::Forget => match d.stored.as_ref() {
                    Some(stored) => match self.episodes.delete(stored).await {
                        Ok(Written::Stored { .. }) => Effect::Done,
                        Ok(Written::Conflict) => Effect::Conflict,
                        Err(err) => Effect::Failed(err),
                    },
                    None => Effect::Done,
                },
            };
            outcomes.push((d, effect));
        }
        outcomes
    }

    async fn record_sent(&self, e: &Episode, notice: Notice, now: DateTime<Utc>) {
        let mut sent = episode::notice_sent(e, notice, now);
        for attempt in 1..=MARK_SENT_TRIES {
            match self.episodes.put(&sent, now).await {
                Ok(Written::Stored { .. }) => return,
                Ok(Written::Conflict) => {
                    // Changed since we claimed it: record the notice on what is there now,
                    // as long as it still owes this notice.
                    match self
                        .episodes
                        .get_many(std::slice::from_ref(&e.container_instance_arn))
                        .await
                    {
                        Ok(mut fresh) => match fresh.episodes.remove(&e.container_instance_arn) {
                            Some(current)
                                if current.state.pending.map(|(n, _)| n) == Some(notice) =>
                            {
                                let mut merged = current;
                                if merged.remediations.is_empty() {
                                    merged.remediations = e.remediations.clone();
                                }
                                sent = episode::notice_sent(&merged, notice, now);
                            }
                            _ => return,
                        },
                        Err(err) if attempt == MARK_SENT_TRIES => {
                            tracing::error!(container_instance = e.container_instance_arn, error = %err, "notice sent but not recorded; it may be sent again after its lease");
                        }
                        Err(_) => {}
                    }
                }
                Err(err) if attempt == MARK_SENT_TRIES => {
                    tracing::error!(container_instance = e.container_instance_arn, error = %err, "notice sent but not recorded; it may be sent again after its lease");
                }
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt)))
                        .await
                }
            }
        }
    }

    /// Records `notice` sent on every episode of its message, in one batched write; an
    /// episode whose write did not go through is recorded on its own (with re-reads and
    /// retries).
    async fn record_all_sent(&self, group: &[&Episode], notice: Notice, now: DateTime<Utc>) {
        let sent: Vec<Episode> = group
            .iter()
            .map(|e| episode::notice_sent(e, notice, now))
            .collect();
        let answers = match self.episodes.put_all(&sent, now).await {
            Ok(answers) => answers,
            Err(_) => vec![Written::Conflict; group.len()],
        };
        let stragglers = group
            .iter()
            .zip(answers)
            .filter(|(_, answer)| !matches!(answer, Written::Stored { .. }))
            .map(|(e, _)| self.record_sent(e, notice, now));
        futures::future::join_all(stragglers).await;
    }

    /// Releases the claims of a message that could not be sent, so the redelivery sends it
    /// at once. Best effort: a claim not released expires after its lease.
    async fn release_claims(&self, group: &[&Episode], notice: Notice, now: DateTime<Utc>) {
        let released: Vec<Episode> = group
            .iter()
            .map(|e| episode::notice_failed(e, notice))
            .collect();
        match self.episodes.put_all(&released, now).await {
            Ok(answers) => {
                let kept = answers
                    .iter()
                    .filter(|a| !matches!(a, Written::Stored { .. }))
                    .count();
                if kept > 0 {
                    tracing::warn!(
                        claims = kept,
                        "some notice claims were not released; they expire after their lease"
                    );
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not release the notice claims; they expire after their lease")
            }
        }
    }
}

enum Message {
    Alert(ClusterAlert),
    Resolved(ClusterResolved),
}

impl Message {
    fn notification(&self) -> Result<Notification, serde_json::Error> {
        match self {
            Message::Alert(alert) => alert.notification(),
            Message::Resolved(resolved) => resolved.notification(),
        }
    }
}

#[cfg(test)]
mod tests;
