//! The notice engine: the one protocol every monitor's notices follow, whatever its episodes
//! are about (an agent, a service's tasks).
//!
//! A monitor decides, purely, what each episode's next state is (a [`Step`] from the
//! kernel's lifecycle); the engine carries it out in three phases, with the monitor's own
//! work between the second and the third:
//!
//! 1. [`Engine::claim`]: store every new state in one batched write (a transaction per 100).
//!    A step that owes a notice *claims* it with that write, so a notice is owed only once
//!    its claim is stored; a conflict or a failed write hands the records back to SQS.
//! 2. The monitor groups what is owed into messages and renders them (the agent monitor
//!    remediates first, so its alert can say what was done; the task monitor quotes logs).
//! 3. [`Engine::deliver`]: publish every message concurrently, then record each one sent
//!    (one batched write for every episode of every message sent; an episode whose record
//!    did not go through is retried on its own, re-read after a conflict) or, for a message
//!    that could not be sent, release its claims so the redelivery sends it at once.
//!
//! A run that dies between the phases leaves a claim that expires after its lease, and the
//! kernel's lifecycle makes whoever comes next send it ([`sentinel_core::notice::step`]).
//! Whenever an alert may have reached subscribers, a RESOLVED is owed and retried until
//! sent; duplicates happen only when an answer is lost or a run stalls past its lease. The
//! fault exploration in [`crate::testing`] proves it for every monitor wired to the engine.

use crate::Notifier;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sentinel_core::notice::{NoticeEpisode, Step};
use sentinel_core::notification::Notification;
use sentinel_core::{AwsError, Found, Written};
use std::collections::BTreeSet;

pub use sentinel_core::notice::Notice;

/// Recording that a notice went out is retried this often (each try with the SDK's own
/// retries): a lost record would mean the notice is sent again after its lease.
const MARK_SENT_TRIES: u32 = 4;

/// Where a monitor's episodes live: one item per key, every write conditional on the
/// version it read. DynamoDB in production (the monitor's stored format over
/// `sentinel_aws::VersionedTable`), memory in tests.
pub trait EpisodeRepo<E>: Send + Sync {
    /// The stored episodes of these keys, read consistently; unreadable items apart.
    fn get_many<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<Found<E>, AwsError>>;
    /// Writes `episode` if the stored item still has `episode.version()` (0: no item).
    fn put<'a>(
        &'a self,
        episode: &'a E,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Written, AwsError>>;
    /// Writes each episode as `put` would, in as few calls as the store allows (DynamoDB:
    /// one transaction per 100); one answer per episode, in order.
    fn put_all<'a>(
        &'a self,
        episodes: &'a [E],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<Written>, AwsError>>;
    /// Deletes the item if it still has `episode.version()`.
    fn delete<'a>(&'a self, episode: &'a E) -> BoxFuture<'a, Result<Written, AwsError>>;
}

/// Every monitor's DynamoDB store is the shared table read as its own format.
impl<F> EpisodeRepo<F::Item> for sentinel_aws::Table<F>
where
    F: sentinel_aws::Format + Send + Sync,
    F::Item: NoticeEpisode,
{
    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Found<F::Item>, AwsError>> {
        Box::pin(sentinel_aws::Table::get_many(self, keys))
    }

    fn put<'a>(
        &'a self,
        episode: &'a F::Item,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Written, AwsError>> {
        Box::pin(sentinel_aws::Table::put(self, episode, now))
    }

    fn put_all<'a>(
        &'a self,
        episodes: &'a [F::Item],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<Written>, AwsError>> {
        Box::pin(sentinel_aws::Table::put_all(self, episodes, now))
    }

    fn delete<'a>(&'a self, episode: &'a F::Item) -> BoxFuture<'a, Result<Written, AwsError>> {
        Box::pin(sentinel_aws::Table::delete(self, episode))
    }
}

/// One episode a run has decided about: the step the monitor's domain chose, what the run
/// read first, the SQS records that named it, and whatever the monitor needs again to
/// compose its message (`C`).
#[derive(Debug, Clone)]
pub struct Proposal<E, C> {
    pub step: Step<E>,
    /// The stored episode the step was decided from (what a `Forget` deletes).
    pub stored: Option<E>,
    /// The SQS records that named it (none for a periodic look).
    pub records: Vec<String>,
    /// What errors about it are reported against (a cluster's or a service's name).
    pub scope: String,
    pub context: C,
}

/// A notice whose claim is stored: it is the run's to send.
#[derive(Debug, Clone)]
pub struct Owed<E, C> {
    /// The episode as stored, claiming `notice` (its version is the stored one).
    pub episode: E,
    pub notice: Notice,
    pub records: Vec<String>,
    pub scope: String,
    pub context: C,
}

/// What a run owes SQS and its logs: the records to deliver again, why, and how many
/// episodes another run changed first.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub failed_record_ids: BTreeSet<String>,
    /// (scope, error)
    pub errors: Vec<(String, String)>,
    /// Episodes whose stored item changed under us, or whose notice another run holds.
    pub conflicts: usize,
}

impl Outcome {
    /// Records to deliver again because of `error`, reported against `scope`.
    pub fn fail(&mut self, scope: &str, error: String, records: impl IntoIterator<Item = String>) {
        self.failed_record_ids.extend(records);
        self.errors.push((scope.to_owned(), error));
    }
}

/// What phase 1 came to: the notices this run owes, and what it owes SQS.
#[derive(Debug)]
pub struct Claimed<E, C> {
    pub owed: Vec<Owed<E, C>>,
    pub outcome: Outcome,
}

/// One message a monitor composed from owed notices of one kind: what goes out (its
/// rendering can fail, which then counts as a failed send), and the monitor's own view of it
/// (`M`) for its report.
pub struct Outgoing<E, C, M> {
    pub notice: Notice,
    pub owed: Vec<Owed<E, C>>,
    pub notification: Result<Notification, String>,
    pub message: M,
}

/// A message that went out.
#[derive(Debug, Clone)]
pub struct Sent<E, C, M> {
    pub notice: Notice,
    pub message_id: String,
    /// The notification as published (subject, body, attributes).
    pub notification: Notification,
    pub message: M,
    pub owed: Vec<Owed<E, C>>,
}

/// The engine over one monitor's episode store and the notifier.
pub struct Engine<'a, E> {
    episodes: &'a dyn EpisodeRepo<E>,
    notifier: &'a dyn Notifier,
}

/// What storing one step came to.
enum Stored<E> {
    Done,
    Owes(E, Notice),
    Failed(AwsError),
    Conflict,
}

impl<'a, E: NoticeEpisode> Engine<'a, E> {
    pub fn new(episodes: &'a dyn EpisodeRepo<E>, notifier: &'a dyn Notifier) -> Self {
        Engine { episodes, notifier }
    }

    /// Phase 1: stores what the steps change (every new state in one `put_all`, suspicions
    /// to forget one by one, which is rare) and returns the notices whose claims are stored.
    pub async fn claim<C>(
        &self,
        proposals: Vec<Proposal<E, C>>,
        now: DateTime<Utc>,
    ) -> Claimed<E, C> {
        let writes: Vec<E> = proposals
            .iter()
            .filter_map(|p| match &p.step {
                Step::Store(e) | Step::Notify(e, _) | Step::NotifyThenLater(e, _) => {
                    Some(e.clone())
                }
                Step::Nothing | Step::Later | Step::Forget => None,
            })
            .collect();
        let mut answers = if writes.is_empty() {
            Vec::new()
        } else {
            match self.episodes.put_all(&writes, now).await {
                Ok(answers) => answers.into_iter().map(Ok).collect(),
                Err(err) => vec![Err(err); writes.len()],
            }
        }
        .into_iter();
        let mut next_answer = || {
            answers.next().unwrap_or_else(|| {
                Err(AwsError::new(
                    "store",
                    "put_all",
                    "fewer answers than writes",
                ))
            })
        };

        let mut claimed = Claimed {
            owed: Vec::new(),
            outcome: Outcome::default(),
        };
        for p in proposals {
            let (stored, look_again) = match p.step {
                Step::Nothing => (Stored::Done, false),
                Step::Later => (Stored::Conflict, false),
                Step::Store(_) => (stored_or_not(next_answer(), None), false),
                Step::Notify(e, notice) => (stored_or_not(next_answer(), Some((e, notice))), false),
                Step::NotifyThenLater(e, notice) => {
                    (stored_or_not(next_answer(), Some((e, notice))), true)
                }
                Step::Forget => match &p.stored {
                    Some(stored) => (
                        stored_or_not(self.episodes.delete(stored).await, None),
                        false,
                    ),
                    None => (Stored::Done, false),
                },
            };
            match stored {
                Stored::Done => {}
                Stored::Owes(episode, notice) => {
                    if look_again {
                        // An ended episode's owed RESOLVED goes out (or not) while the thing
                        // is failing anew: the redelivery opens the new episode.
                        claimed
                            .outcome
                            .failed_record_ids
                            .extend(p.records.iter().cloned());
                    }
                    claimed.owed.push(Owed {
                        episode,
                        notice,
                        records: p.records,
                        scope: p.scope,
                        context: p.context,
                    });
                }
                Stored::Conflict => {
                    // Redelivery (or the next periodic look) re-reads the item and acts on
                    // what is there then.
                    tracing::info!(
                        scope = p.scope,
                        "another run holds or just changed this episode; will look again"
                    );
                    claimed.outcome.conflicts += 1;
                    claimed.outcome.failed_record_ids.extend(p.records);
                }
                Stored::Failed(err) => {
                    tracing::error!(scope = p.scope, error = %err, "could not store the episode");
                    claimed.outcome.fail(&p.scope, err.to_string(), p.records);
                }
            }
        }
        claimed
    }

    /// Phase 3: publishes every message concurrently, then records each sent (one batched
    /// write for all of them) or releases the claims of those that could not be sent.
    /// Returns the messages that went out; failed ones hand their records back in `outcome`.
    pub async fn deliver<C, M>(
        &self,
        outgoing: Vec<Outgoing<E, C, M>>,
        now: DateTime<Utc>,
        outcome: &mut Outcome,
    ) -> Vec<Sent<E, C, M>> {
        let publishes = outgoing.into_iter().map(|out| async move {
            let result = match &out.notification {
                Ok(notification) => self.notifier.publish(notification).await,
                Err(why) => Err(AwsError::new(
                    "sns",
                    "Publish",
                    format!("cannot render the message: {why}"),
                )),
            };
            (out, result)
        });
        let mut sent = Vec::new();
        let mut to_record = Vec::new();
        let mut to_release = Vec::new();
        for (out, result) in futures::future::join_all(publishes).await {
            let scope = out
                .owed
                .first()
                .map(|o| o.scope.clone())
                .unwrap_or_default();
            match (result, out.notification) {
                (Ok(message_id), Ok(notification)) => {
                    // Each monitor logs what it published in its own words (the saved
                    // queries read those lines).
                    tracing::debug!(
                        scope,
                        notice = out.notice.as_str(),
                        episodes = out.owed.len(),
                        message_id,
                        "notice published"
                    );
                    to_record.extend(out.owed.iter().map(|o| (o.episode.clone(), out.notice)));
                    sent.push(Sent {
                        notice: out.notice,
                        message_id,
                        notification,
                        message: out.message,
                        owed: out.owed,
                    });
                }
                (result, _) => {
                    let err = result.err().map(|e| e.to_string()).unwrap_or_default();
                    tracing::error!(scope, notice = out.notice.as_str(), error = %err, "could not publish; the notice stays owed");
                    to_release.extend(out.owed.iter().map(|o| o.episode.released(out.notice)));
                    outcome.fail(&scope, err, out.owed.into_iter().flat_map(|o| o.records));
                }
            }
        }
        futures::future::join(
            self.record_all_sent(&to_record, now),
            self.release_claims(&to_release, now),
        )
        .await;
        sent
    }

    /// Records each notice sent, in one batched write; an episode whose write did not go
    /// through is recorded on its own (with re-reads and retries).
    async fn record_all_sent(&self, claimed: &[(E, Notice)], now: DateTime<Utc>) {
        if claimed.is_empty() {
            return;
        }
        let sent: Vec<E> = claimed
            .iter()
            .map(|(e, notice)| e.sent(*notice, now))
            .collect();
        let answers = match self.episodes.put_all(&sent, now).await {
            Ok(answers) => answers,
            Err(_) => vec![Written::Conflict; claimed.len()],
        };
        let stragglers = claimed
            .iter()
            .zip(answers)
            .filter(|(_, answer)| !matches!(answer, Written::Stored { .. }))
            .map(|((e, notice), _)| self.record_sent(e, *notice, now));
        futures::future::join_all(stragglers).await;
    }

    /// Records one notice sent, retrying; after a conflict it records the notice on what is
    /// stored now, as long as that still owes this notice (else another run took it over).
    async fn record_sent(&self, claimed: &E, notice: Notice, now: DateTime<Utc>) {
        let key = claimed.key();
        let mut sent = claimed.sent(notice, now);
        for attempt in 1..=MARK_SENT_TRIES {
            let failure = match self.episodes.put(&sent, now).await {
                Ok(Written::Stored { .. }) => return,
                Ok(Written::Conflict) => {
                    match self.episodes.get_many(std::slice::from_ref(&key)).await {
                        Ok(mut fresh) => match fresh.episodes.remove(&key) {
                            Some(mut current)
                                if current.state().pending.map(|(n, _)| n) == Some(notice) =>
                            {
                                current.carry_over(claimed);
                                sent = current.sent(notice, now);
                                continue;
                            }
                            _ => return,
                        },
                        Err(err) => err,
                    }
                }
                Err(err) => err,
            };
            if attempt == MARK_SENT_TRIES {
                tracing::error!(key, error = %failure, "notice sent but not recorded; it may be sent again after its lease");
            } else {
                tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt))).await;
            }
        }
    }

    /// Releases the claims of messages that could not be sent, so the redelivery sends them
    /// at once. Best effort: a claim not released expires after its lease.
    async fn release_claims(&self, released: &[E], now: DateTime<Utc>) {
        if released.is_empty() {
            return;
        }
        match self.episodes.put_all(released, now).await {
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

/// What a write's answer means for a step that stores `claims` (if it claims a notice).
fn stored_or_not<E: NoticeEpisode>(
    answer: Result<Written, AwsError>,
    claims: Option<(E, Notice)>,
) -> Stored<E> {
    match (answer, claims) {
        (Ok(Written::Stored { version }), Some((mut e, notice))) => {
            e.set_version(version);
            Stored::Owes(e, notice)
        }
        (Ok(Written::Stored { .. }), None) => Stored::Done,
        (Ok(Written::Conflict), _) => Stored::Conflict,
        (Err(err), _) => Stored::Failed(err),
    }
}

#[cfg(test)]
mod tests;
