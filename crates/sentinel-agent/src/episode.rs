//! Alert lifecycle: one episode per disconnection of one container instance.
//!
//! An episode is opened when an alert is due, stays open while the agent stays down, and is
//! resolved when the agent comes back or the instance goes away. Every notification an
//! episode owes is recorded on the episode *before* it is sent (the "pending notice"), and
//! cleared after, so a crash or a failed publish is retried later instead of being lost, and
//! a redelivered event never notifies twice.
//!
//! [`step`] is the whole lifecycle as one pure function: given the stored episode (if any),
//! the fresh verdict and the time, it says what to store and which notice to send.

use crate::decision::{AlertKind, SkipReason, Verdict};
use crate::node::NodeId;
use crate::remediation::Outcome;
use crate::states::InstanceStatus;
use chrono::{DateTime, TimeDelta, Utc};
use sentinel_core::ClusterArn;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpisodeStatus {
    /// Seen disconnected by a sweep, not yet for longer than the grace period.
    Suspected,
    Open,
    Resolved,
}

impl EpisodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EpisodeStatus::Suspected => "suspected",
            EpisodeStatus::Open => "open",
            EpisodeStatus::Resolved => "resolved",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "suspected" => Some(EpisodeStatus::Suspected),
            "open" => Some(EpisodeStatus::Open),
            "resolved" => Some(EpisodeStatus::Resolved),
            _ => None,
        }
    }
}

/// A notification an episode owes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Notice {
    Alert,
    Reminder,
    Resolved,
}

impl Notice {
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Alert => "alert",
            Notice::Reminder => "reminder",
            Notice::Resolved => "resolved",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "alert" => Some(Notice::Alert),
            "reminder" => Some(Notice::Reminder),
            "resolved" => Some(Notice::Resolved),
            _ => None,
        }
    }
}

/// Why an episode ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    AgentReconnected,
    /// Terminated, stopped, deregistered, or its cluster deleted or no longer monitored.
    InstanceGone {
        why: String,
    },
}

impl Resolution {
    pub fn code(&self) -> &'static str {
        match self {
            Resolution::AgentReconnected => "agent-reconnected",
            Resolution::InstanceGone { .. } => "instance-gone",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Resolution::AgentReconnected => "the agent reconnected".to_owned(),
            Resolution::InstanceGone { why } => format!("the instance is gone ({why})"),
        }
    }
}

/// One remediation attempt, as recorded on the episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemediationRecord {
    /// The action's name (`restart-agent`, `drain`, …).
    pub action: String,
    pub at: DateTime<Utc>,
    pub outcome: Outcome,
    /// What happened, for people: "SSM command 1234 restarts the agent", "would reboot …".
    pub detail: String,
}

impl RemediationRecord {
    /// "succeeded: SSM command 1234 …": what alerts show (and the table stores).
    pub fn text(&self) -> String {
        format!("{}: {}", self.outcome.label(), self.detail)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    pub container_instance_arn: String,
    pub cluster_arn: ClusterArn,
    pub node_id: NodeId,
    pub kind: AlertKind,
    pub status: EpisodeStatus,
    /// When the disconnection was first known (event time, or a sweep's first sighting).
    pub first_seen_at: DateTime<Utc>,
    pub opened_at: Option<DateTime<Utc>>,
    pub last_seen_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<Resolution>,
    /// A notice recorded but not yet known to be sent, and since when it is claimed.
    pub pending: Option<(Notice, DateTime<Utc>)>,
    pub notices_sent: u32,
    pub last_notice_at: Option<DateTime<Utc>>,
    /// Whether the opening alert went out (a silent recovery owes no resolution notice).
    pub alert_sent: bool,
    /// Remediation done in this episode (at most one attempt).
    pub remediations: Vec<RemediationRecord>,
    /// Optimistic concurrency: every write expects the version it read.
    pub version: u64,
}

impl Episode {
    /// Whether the episode still needs looking after: it is not resolved yet, or it is but
    /// its RESOLVED notice is not confirmed sent. The one rule every path (events, sweep)
    /// uses to decide whether a stored episode is theirs to carry on.
    pub fn is_live(&self) -> bool {
        self.status != EpisodeStatus::Resolved || self.pending.is_some()
    }

    /// Whether subscribers may have heard of this episode: its alert is confirmed sent, or
    /// it was claimed and never confirmed. A claimed alert may have gone out although its
    /// sender failed to record it (the publish succeeded, the write after it did not) or
    /// saw an error (a publish that reached SNS but whose answer was lost); either way a
    /// RESOLVED is owed, because a stray RESOLVED is better than an alert never closed.
    pub fn alert_may_have_gone_out(&self) -> bool {
        self.alert_sent || matches!(self.pending, Some((Notice::Alert, _)))
    }

    /// How long the agent has been down, as far as we know, at `now`.
    pub fn downtime(&self, now: DateTime<Utc>) -> TimeDelta {
        self.resolved_at.unwrap_or(now) - self.first_seen_at
    }
}

/// The settings that shape the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifecycleSettings {
    /// A sweep opens an episode only for an agent it has seen down at least this long.
    pub grace: TimeDelta,
    /// Remind about an episode still open after this long since its last notice.
    pub reminder_every: Option<TimeDelta>,
    /// How long a claimed notice is left to its claimer before another run may send it.
    pub notice_lease: TimeDelta,
}

/// Where the verdict came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A state-change event, delivered after the grace period by the delay queue (or a
    /// reconnect event, delivered at once).
    Event,
    /// The periodic reconciliation sweep.
    Sweep,
}

/// What one candidate looks like now, besides the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    pub container_instance_arn: String,
    pub cluster_arn: ClusterArn,
    pub node_id: NodeId,
    /// The event's time, when the sighting comes from an event.
    pub event_time: Option<DateTime<Utc>>,
}

/// What to do with an episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing to store, nothing to send.
    Nothing,
    /// Store this new state (no notice).
    Store(Episode),
    /// Store this state, which claims `notice`, then send it.
    Notify(Episode, Notice),
    /// Delete the stored suspicion: the agent is fine.
    Forget,
    /// Another run holds this episode's notice (its lease is running): change nothing now
    /// and look again later, so that run's record of the notice is not overwritten.
    Later,
    /// Store this state, which claims the RESOLVED notice an ended episode still owes, send
    /// it, then look again later: the agent is down anew, and the next look opens a new
    /// episode (which the same item cannot hold until the old one is closed).
    NotifyThenLater(Episode, Notice),
}

/// The lifecycle, purely: stored episode + fresh verdict + time → what to store and send.
pub fn step(
    stored: Option<&Episode>,
    verdict: &Verdict,
    sighting: &Sighting,
    source: Source,
    now: DateTime<Utc>,
    settings: &LifecycleSettings,
) -> Step {
    if let Some(owing) = stored.filter(|e| e.status == EpisodeStatus::Resolved && e.is_live()) {
        return still_owed(owing, verdict, now, settings);
    }
    let live = stored.filter(|e| e.is_live());
    match (live, verdict) {
        // No live episode, agent down.
        (None, Verdict::Alert { kind }) => match source {
            // Written over the ended episode, if any, so the write expects its version.
            Source::Event => Step::Notify(open(stored, sighting, *kind, now), Notice::Alert),
            // A sweep cannot know how long the agent has been down: it remembers the first
            // sighting and opens once the grace period has passed since.
            Source::Sweep => Step::Store(suspect(stored, sighting, *kind, now)),
        },
        (Some(e), Verdict::Alert { kind }) => match e.status {
            EpisodeStatus::Suspected => {
                if source == Source::Event || now - e.first_seen_at >= settings.grace {
                    Step::Notify(open(Some(e), sighting, *kind, now), Notice::Alert)
                } else {
                    Step::Nothing
                }
            }
            EpisodeStatus::Open => still_open(e, source, now, settings),
            EpisodeStatus::Resolved => Step::Nothing,
        },
        (None, Verdict::Skip { .. }) => Step::Nothing,
        (Some(e), Verdict::Skip { reason }) => match e.status {
            EpisodeStatus::Suspected => Step::Forget,
            EpisodeStatus::Open => match ending(reason) {
                Some(resolution) => resolve(e, resolution, now, settings),
                // Down but not alertable right now (draining, alerts switched off, …): the
                // episode stays open, and owed notices are still delivered.
                None => still_open(e, source, now, settings),
            },
            EpisodeStatus::Resolved => Step::Nothing,
        },
    }
}

/// An ended episode whose RESOLVED is not confirmed sent: it is sent (again) once its claim
/// is free, whatever the agent does now, so that an alert is always closed. If the agent is
/// down again, the new episode waits until the old one is closed.
fn still_owed(
    e: &Episode,
    verdict: &Verdict,
    now: DateTime<Utc>,
    settings: &LifecycleSettings,
) -> Step {
    let Some((notice, claimed_at)) = e.pending else {
        return Step::Nothing;
    };
    if now - claimed_at < settings.notice_lease {
        return Step::Later;
    }
    let mut next = e.clone();
    next.pending = Some((notice, now));
    match verdict {
        Verdict::Alert { .. } => Step::NotifyThenLater(next, notice),
        Verdict::Skip { .. } => Step::Notify(next, notice),
    }
}

/// Which skip reasons end an open episode.
fn ending(reason: &SkipReason) -> Option<Resolution> {
    match reason {
        SkipReason::AgentReconnected => Some(Resolution::AgentReconnected),
        SkipReason::InstanceNotActive {
            status: InstanceStatus::Draining,
        } => None,
        SkipReason::UnreachableAlertsDisabled | SkipReason::NodeMismatch => None,
        SkipReason::ClusterNotMonitored { .. }
        | SkipReason::ClusterMissing
        | SkipReason::InstanceDeregistered
        | SkipReason::InstanceNotActive { .. }
        | SkipReason::NodeNotFound
        | SkipReason::NodeNotRunning { .. }
        | SkipReason::AnywhereNodeInactive { .. } => Some(Resolution::InstanceGone {
            why: reason.to_string(),
        }),
    }
}

fn suspect(stored: Option<&Episode>, s: &Sighting, kind: AlertKind, now: DateTime<Utc>) -> Episode {
    Episode {
        container_instance_arn: s.container_instance_arn.clone(),
        cluster_arn: s.cluster_arn.clone(),
        node_id: s.node_id.clone(),
        kind,
        status: EpisodeStatus::Suspected,
        first_seen_at: now,
        opened_at: None,
        last_seen_at: now,
        resolved_at: None,
        resolution: None,
        pending: None,
        notices_sent: 0,
        last_notice_at: None,
        alert_sent: false,
        remediations: Vec::new(),
        version: stored.map_or(0, |e| e.version),
    }
}

fn open(stored: Option<&Episode>, s: &Sighting, kind: AlertKind, now: DateTime<Utc>) -> Episode {
    // Down since the earliest we know of: a sweep's first sighting or the event's time.
    let first_seen_at = stored
        .filter(|e| e.status == EpisodeStatus::Suspected)
        .map(|e| e.first_seen_at)
        .into_iter()
        .chain(s.event_time)
        .fold(now, DateTime::min);
    Episode {
        first_seen_at,
        opened_at: Some(now),
        status: EpisodeStatus::Open,
        pending: Some((Notice::Alert, now)),
        ..suspect(stored, s, kind, now)
    }
}

fn still_open(
    e: &Episode,
    source: Source,
    now: DateTime<Utc>,
    settings: &LifecycleSettings,
) -> Step {
    let mut next = e.clone();
    next.last_seen_at = now;
    if let Some((notice, claimed_at)) = e.pending {
        // Owed but not confirmed sent: take it over once the claimer's lease ran out.
        if now - claimed_at >= settings.notice_lease {
            next.pending = Some((notice, now));
            return Step::Notify(next, notice);
        }
        return Step::Later;
    }
    if let Some(every) = settings.reminder_every {
        let last = e.last_notice_at.or(e.opened_at).unwrap_or(e.first_seen_at);
        if e.alert_sent && now - last >= every {
            next.pending = Some((Notice::Reminder, now));
            return Step::Notify(next, Notice::Reminder);
        }
    }
    match source {
        // An event is news: remember when it was last seen down.
        Source::Event => Step::Store(next),
        // A sweep seeing the same open episode again changes nothing worth a write, which
        // keeps a sweep's cost flat however many episodes are open.
        Source::Sweep => Step::Nothing,
    }
}

fn resolve(
    e: &Episode,
    resolution: Resolution,
    now: DateTime<Utc>,
    settings: &LifecycleSettings,
) -> Step {
    if let Some((_, claimed_at)) = e.pending {
        // Whether that notice goes out decides whether a resolution is owed: wait for it.
        if now - claimed_at < settings.notice_lease {
            return Step::Later;
        }
    }
    let mut next = e.clone();
    next.status = EpisodeStatus::Resolved;
    next.resolved_at = Some(now);
    next.last_seen_at = now;
    next.resolution = Some(resolution);
    if e.alert_may_have_gone_out() {
        next.pending = Some((Notice::Resolved, now));
        Step::Notify(next, Notice::Resolved)
    } else {
        // Nobody was told it was down, so nobody needs to be told it is back.
        next.pending = None;
        Step::Store(next)
    }
}

/// The state after `notice` is confirmed sent.
pub fn notice_sent(e: &Episode, notice: Notice, now: DateTime<Utc>) -> Episode {
    let mut next = e.clone();
    next.pending = None;
    next.notices_sent += 1;
    next.last_notice_at = Some(now);
    if notice == Notice::Alert {
        next.alert_sent = true;
    }
    next
}

/// The state after sending `notice` failed: the claim is released so the next run (the
/// redelivery) may send it at once.
pub fn notice_failed(e: &Episode, notice: Notice) -> Episode {
    let mut next = e.clone();
    if let Some((pending, _)) = next.pending {
        if pending == notice {
            // A claim as old as time: any later run's lease check lets it through.
            next.pending = Some((pending, DateTime::UNIX_EPOCH));
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap() + TimeDelta::minutes(minute)
    }

    fn sighting() -> Sighting {
        Sighting {
            container_instance_arn: "arn:aws:ecs:us-east-1:1:container-instance/c/abc".into(),
            cluster_arn: ClusterArn::parse("arn:aws:ecs:us-east-1:1:cluster/c").unwrap(),
            node_id: NodeId::parse("i-0abc").unwrap(),
            event_time: Some(t(-2)),
        }
    }

    const SETTINGS: LifecycleSettings = LifecycleSettings {
        grace: TimeDelta::minutes(1),
        reminder_every: Some(TimeDelta::hours(4)),
        notice_lease: TimeDelta::minutes(1),
    };

    const DOWN: Verdict = Verdict::Alert {
        kind: AlertKind::AgentDisconnected,
    };

    fn skip(reason: SkipReason) -> Verdict {
        Verdict::Skip { reason }
    }

    fn notified(step: Step) -> (Episode, Notice) {
        match step {
            Step::Notify(e, n) => (e, n),
            other => panic!("expected a notice, got {other:?}"),
        }
    }

    fn stored(step: Step) -> Episode {
        match step {
            Step::Store(e) => e,
            other => panic!("expected a store, got {other:?}"),
        }
    }

    /// An open episode whose alert went out at minute 0.
    fn open_and_sent() -> Episode {
        let (e, n) = notified(step(
            None,
            &DOWN,
            &sighting(),
            Source::Event,
            t(0),
            &SETTINGS,
        ));
        notice_sent(&e, n, t(0))
    }

    #[test]
    fn an_event_opens_an_episode_and_claims_the_alert() {
        let (e, notice) = notified(step(
            None,
            &DOWN,
            &sighting(),
            Source::Event,
            t(0),
            &SETTINGS,
        ));
        assert_eq!(notice, Notice::Alert);
        assert_eq!(e.status, EpisodeStatus::Open);
        assert_eq!(e.first_seen_at, t(-2), "down since the event");
        assert_eq!(e.pending, Some((Notice::Alert, t(0))));
        let sent = notice_sent(&e, notice, t(0));
        assert!(sent.alert_sent);
        assert_eq!(sent.pending, None);
        assert_eq!(sent.notices_sent, 1);
    }

    #[test]
    fn a_repeated_event_for_an_open_episode_never_notifies_again() {
        let e = open_and_sent();
        let next = stored(step(
            Some(&e),
            &DOWN,
            &sighting(),
            Source::Event,
            t(5),
            &SETTINGS,
        ));
        assert_eq!(next.last_seen_at, t(5));
        assert_eq!(next.pending, None);
    }

    #[test]
    fn a_claimed_alert_is_left_to_its_claimer_until_the_lease_runs_out() {
        let (claimed, _) = notified(step(
            None,
            &DOWN,
            &sighting(),
            Source::Event,
            t(0),
            &SETTINGS,
        ));
        // Redelivered while the first run may still be publishing: hands off, look later,
        // whether the agent is still down or already back.
        assert_eq!(
            step(
                Some(&claimed),
                &DOWN,
                &sighting(),
                Source::Event,
                t(0),
                &SETTINGS
            ),
            Step::Later
        );
        assert_eq!(
            step(
                Some(&claimed),
                &skip(SkipReason::AgentReconnected),
                &sighting(),
                Source::Event,
                t(0),
                &SETTINGS
            ),
            Step::Later
        );
        // The first run died: after the lease, the alert is sent by whoever comes next.
        let (again, n) = notified(step(
            Some(&claimed),
            &DOWN,
            &sighting(),
            Source::Event,
            t(2),
            &SETTINGS,
        ));
        assert_eq!(n, Notice::Alert);
        assert_eq!(again.pending, Some((Notice::Alert, t(2))));
        // A released claim (publish failed) is taken over at once.
        let released = notice_failed(&claimed, Notice::Alert);
        assert!(matches!(
            step(
                Some(&released),
                &DOWN,
                &sighting(),
                Source::Event,
                t(0),
                &SETTINGS
            ),
            Step::Notify(_, Notice::Alert)
        ));
    }

    #[test]
    fn reconnect_resolves_once_with_a_notice_only_if_the_alert_went_out() {
        let e = open_and_sent();
        let (resolved, n) = notified(step(
            Some(&e),
            &skip(SkipReason::AgentReconnected),
            &sighting(),
            Source::Event,
            t(30),
            &SETTINGS,
        ));
        assert_eq!(n, Notice::Resolved);
        assert_eq!(resolved.status, EpisodeStatus::Resolved);
        assert_eq!(resolved.resolution, Some(Resolution::AgentReconnected));
        assert_eq!(resolved.downtime(t(99)), TimeDelta::minutes(32));
        let done = notice_sent(&resolved, n, t(30));
        // A second reconnect event finds nothing to do.
        assert_eq!(
            step(
                Some(&done),
                &skip(SkipReason::AgentReconnected),
                &sighting(),
                Source::Event,
                t(31),
                &SETTINGS
            ),
            Step::Nothing
        );

        // The claimer's lease ran out without a record of its alert: it may have gone out
        // (published, then the record failed), so the recovery is announced.
        let (claimed, _) = notified(step(
            None,
            &DOWN,
            &sighting(),
            Source::Event,
            t(0),
            &SETTINGS,
        ));
        let (closing, n) = notified(step(
            Some(&claimed),
            &skip(SkipReason::AgentReconnected),
            &sighting(),
            Source::Event,
            t(1),
            &SETTINGS,
        ));
        assert_eq!(n, Notice::Resolved);
        assert_eq!(closing.status, EpisodeStatus::Resolved);
        assert_eq!(closing.pending, Some((Notice::Resolved, t(1))));
    }

    #[test]
    fn a_suspicion_never_announced_is_forgotten_silently() {
        let suspected = stored(step(
            None,
            &DOWN,
            &sighting(),
            Source::Sweep,
            t(0),
            &SETTINGS,
        ));
        assert!(!suspected.alert_may_have_gone_out());
        assert_eq!(
            step(
                Some(&suspected),
                &skip(SkipReason::AgentReconnected),
                &sighting(),
                Source::Event,
                t(9),
                &SETTINGS
            ),
            Step::Forget
        );
    }

    #[test]
    fn instance_gone_closes_the_episode_but_draining_keeps_it_open() {
        let e = open_and_sent();
        for reason in [
            SkipReason::InstanceDeregistered,
            SkipReason::NodeNotRunning {
                state: crate::states::Ec2State::Terminated,
            },
            SkipReason::NodeNotFound,
            SkipReason::ClusterMissing,
        ] {
            let (resolved, n) = notified(step(
                Some(&e),
                &skip(reason.clone()),
                &sighting(),
                Source::Sweep,
                t(9),
                &SETTINGS,
            ));
            assert_eq!(n, Notice::Resolved);
            assert_eq!(
                resolved.resolution.as_ref().map(Resolution::code),
                Some("instance-gone"),
                "{reason:?}"
            );
        }
        let draining = skip(SkipReason::InstanceNotActive {
            status: InstanceStatus::Draining,
        });
        // An event updates when it was last seen; a sweep has nothing to write.
        let kept = stored(step(
            Some(&e),
            &draining,
            &sighting(),
            Source::Event,
            t(9),
            &SETTINGS,
        ));
        assert_eq!(kept.status, EpisodeStatus::Open);
        assert_eq!(kept.last_seen_at, t(9));
        assert_eq!(
            step(
                Some(&e),
                &draining,
                &sighting(),
                Source::Sweep,
                t(9),
                &SETTINGS
            ),
            Step::Nothing
        );
    }

    #[test]
    fn a_sweep_opens_only_after_seeing_the_agent_down_for_the_grace_period() {
        // A sweep's sighting has no event time.
        let sighting = || Sighting {
            event_time: None,
            ..super::tests::sighting()
        };
        let s = stored(step(
            None,
            &DOWN,
            &sighting(),
            Source::Sweep,
            t(0),
            &SETTINGS,
        ));
        assert_eq!(s.status, EpisodeStatus::Suspected);
        assert_eq!(s.first_seen_at, t(0));
        assert_eq!(
            step(
                Some(&s),
                &DOWN,
                &sighting(),
                Source::Sweep,
                t(0) + TimeDelta::seconds(30),
                &SETTINGS
            ),
            Step::Nothing
        );
        let (opened, n) = notified(step(
            Some(&s),
            &DOWN,
            &sighting(),
            Source::Sweep,
            t(1),
            &SETTINGS,
        ));
        assert_eq!(n, Notice::Alert);
        assert_eq!(opened.first_seen_at, t(0), "down since the first sighting");
        // The agent came back before the grace period: the suspicion is forgotten.
        assert_eq!(
            step(
                Some(&s),
                &skip(SkipReason::AgentReconnected),
                &sighting(),
                Source::Sweep,
                t(0),
                &SETTINGS
            ),
            Step::Forget
        );
    }

    #[test]
    fn reminders_come_every_n_hours_after_the_last_notice() {
        let sweep_at = |e: &Episode, minute: i64, settings: &LifecycleSettings| {
            step(
                Some(e),
                &DOWN,
                &sighting(),
                Source::Sweep,
                t(minute),
                settings,
            )
        };
        let e = open_and_sent();
        // Seen again before a reminder is due: a sweep writes nothing.
        assert_eq!(sweep_at(&e, 239, &SETTINGS), Step::Nothing);
        let (reminding, n) = notified(sweep_at(&e, 240, &SETTINGS));
        assert_eq!(n, Notice::Reminder);
        let reminded = notice_sent(&reminding, n, t(240));
        assert_eq!(sweep_at(&reminded, 479, &SETTINGS), Step::Nothing);
        assert!(matches!(
            sweep_at(&reminded, 480, &SETTINGS),
            Step::Notify(_, Notice::Reminder)
        ));
        let off = LifecycleSettings {
            reminder_every: None,
            ..SETTINGS
        };
        assert_eq!(sweep_at(&e, 10_000, &off), Step::Nothing);
    }

    #[test]
    fn a_resolved_episode_is_replaced_by_a_new_one() {
        let e = open_and_sent();
        let (resolved, n) = notified(step(
            Some(&e),
            &skip(SkipReason::AgentReconnected),
            &sighting(),
            Source::Event,
            t(5),
            &SETTINGS,
        ));
        let resolved = Episode {
            // As stored: every write bumps the version.
            version: 7,
            ..notice_sent(&resolved, n, t(5))
        };
        let (again, n) = notified(step(
            Some(&resolved),
            &DOWN,
            &sighting(),
            Source::Event,
            t(60),
            &SETTINGS,
        ));
        assert_eq!(n, Notice::Alert);
        assert_eq!(
            again.version, resolved.version,
            "the write expects the stored version"
        );
        assert_eq!(again.notices_sent, 0);
        assert!(!again.alert_sent);
    }
}
