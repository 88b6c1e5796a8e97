//! Alert lifecycle: one episode per disconnection of one container instance.
//!
//! An episode is opened when an alert is due, stays open while the agent stays down, and is
//! resolved when the agent comes back or the instance goes away. The rules of claiming,
//! sending, reminding and resolving are the shared notice lifecycle
//! ([`sentinel_core::notice`]); this module says what an agent episode is and which
//! verdicts fail, end or hold one.
//!
//! [`step`] is the whole lifecycle of an agent episode as one pure function: given the
//! stored episode (if any), the fresh verdict and the time, it says what to store and which
//! notice to send.

use crate::decision::{AlertKind, SkipReason, Verdict};
use crate::node::NodeId;
use crate::remediation::Outcome;
use crate::states::InstanceStatus;
use chrono::{DateTime, TimeDelta, Utc};
use sentinel_core::notice::{self, Change, Condition, Episodic, NoticeEpisode};
use sentinel_core::store::Versioned;
use sentinel_core::ClusterArn;

pub use sentinel_core::notice::{
    EpisodeState, Notice, Phase, Settings as LifecycleSettings, Source,
};

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
    /// Where the episode is in the notice lifecycle: phase, times, the claimed notice.
    pub state: EpisodeState,
    pub resolution: Option<Resolution>,
    /// Remediation done in this episode (at most one attempt).
    pub remediations: Vec<RemediationRecord>,
    /// Optimistic concurrency: every write expects the version it read.
    pub version: u64,
}

impl Versioned for Episode {
    fn key(&self) -> String {
        self.container_instance_arn.clone()
    }
    fn version(&self) -> u64 {
        self.version
    }
    fn set_version(&mut self, version: u64) {
        self.version = version;
    }
}

impl Episodic for Episode {
    fn state(&self) -> &EpisodeState {
        &self.state
    }
    fn state_mut(&mut self) -> &mut EpisodeState {
        &mut self.state
    }
}

impl Episode {
    /// Whether the episode is still ours to carry on ([`EpisodeState::is_live`]).
    pub fn is_live(&self) -> bool {
        self.state.is_live()
    }

    /// Whether subscribers may have heard of it ([`EpisodeState::alert_may_have_gone_out`]).
    pub fn alert_may_have_gone_out(&self) -> bool {
        self.state.alert_may_have_gone_out()
    }

    /// How long the agent has been down, as far as we know, at `now`.
    pub fn downtime(&self, now: DateTime<Utc>) -> TimeDelta {
        self.state.duration(now)
    }
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

/// What the lifecycle does with one agent episode: the kernel's [`notice::Step`] over
/// [`Episode`].
pub type Step = notice::Step<Episode>;

/// The lifecycle, purely: stored episode + fresh verdict + time → what to store and send.
/// An alert verdict is a failure; a skip ends an open episode or holds it ([`ending`]).
pub fn step(
    stored: Option<&Episode>,
    verdict: &Verdict,
    sighting: &Sighting,
    source: Source,
    now: DateTime<Utc>,
    settings: &LifecycleSettings,
) -> Step {
    let condition = match verdict {
        Verdict::Alert { kind } => Condition::Failing(*kind),
        Verdict::Skip { reason } => ending(reason).map_or(Condition::Holding, Condition::Ended),
    };
    let new = |state: EpisodeState, kind: AlertKind| Episode {
        container_instance_arn: sighting.container_instance_arn.clone(),
        cluster_arn: sighting.cluster_arn.clone(),
        node_id: sighting.node_id.clone(),
        kind,
        state,
        resolution: None,
        remediations: Vec::new(),
        // Written over the suspicion or the ended episode, if any: the write expects its version.
        version: stored.map_or(0, |e| e.version),
    };
    match notice::step(
        stored,
        condition,
        source,
        sighting.event_time,
        now,
        settings,
    ) {
        Change::Nothing => Step::Nothing,
        Change::Later => Step::Later,
        Change::Forget => Step::Forget,
        Change::Suspect(state, kind) => Step::Store(new(state, kind)),
        Change::Open(state, kind) => Step::Notify(new(state, kind), Notice::Alert),
        Change::Store(e) => Step::Store(e),
        Change::Notify(e, notice) => Step::Notify(e, notice),
        Change::Resolve(mut e, resolution, owed) => {
            e.resolution = Some(resolution);
            match owed {
                Some(notice) => Step::Notify(e, notice),
                None => Step::Store(e),
            }
        }
        Change::NotifyThenLater(e, notice) => Step::NotifyThenLater(e, notice),
    }
}

/// Which skip reasons end an open episode (the rest hold it open: down, but not alertable
/// right now — draining, alerts switched off — and owed notices are still delivered).
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

impl NoticeEpisode for Episode {
    /// A remediation recorded on the claimed copy (the alert says what was done) is kept
    /// when the notice is recorded on a newer stored episode.
    fn carry_over(&mut self, claimed: &Self) {
        if self.remediations.is_empty() {
            self.remediations = claimed.remediations.clone();
        }
    }
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
        e.sent(n, t(0))
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
        assert_eq!(e.state.phase, Phase::Open);
        assert_eq!(e.state.first_seen_at, t(-2), "down since the event");
        assert_eq!(e.state.pending, Some((Notice::Alert, t(0))));
        let sent = e.sent(notice, t(0));
        assert!(sent.state.alert_sent);
        assert_eq!(sent.state.pending, None);
        assert_eq!(sent.state.notices_sent, 1);
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
        assert_eq!(next.state.last_seen_at, t(5));
        assert_eq!(next.state.pending, None);
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
        assert_eq!(again.state.pending, Some((Notice::Alert, t(2))));
        // A released claim (publish failed) is taken over at once.
        let released = claimed.released(Notice::Alert);
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
        assert_eq!(resolved.state.phase, Phase::Resolved);
        assert_eq!(resolved.resolution, Some(Resolution::AgentReconnected));
        assert_eq!(resolved.downtime(t(99)), TimeDelta::minutes(32));
        let done = resolved.sent(n, t(30));
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
        assert_eq!(closing.state.phase, Phase::Resolved);
        assert_eq!(closing.state.pending, Some((Notice::Resolved, t(1))));
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
        assert_eq!(kept.state.phase, Phase::Open);
        assert_eq!(kept.state.last_seen_at, t(9));
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
        assert_eq!(s.state.phase, Phase::Suspected);
        assert_eq!(s.state.first_seen_at, t(0));
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
        assert_eq!(
            opened.state.first_seen_at,
            t(0),
            "down since the first sighting"
        );
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
        let reminded = reminding.sent(n, t(240));
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
            ..resolved.sent(n, t(5))
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
        assert_eq!(again.state.notices_sent, 0);
        assert!(!again.state.alert_sent);
    }
}
