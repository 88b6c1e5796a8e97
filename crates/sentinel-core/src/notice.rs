//! The notice lifecycle every monitor shares: an episode is opened once, notified once,
//! reminded while it lasts, and resolved once — whatever is being watched (an agent, a
//! service's tasks).
//!
//! Every notification an episode owes is recorded on the episode *before* it is sent (the
//! pending notice, or claim), and cleared after, so a crash or a failed send is retried later
//! instead of being lost, and a redelivered event never notifies twice. A claim is its
//! claimer's for a lease; after that another run may take it over.
//!
//! [`step`] is the lifecycle as one pure function: the stored state (if any), what the
//! watched thing looks like now ([`Condition`]) and the time in, what to store and which
//! notice to send ([`Change`]) out. A monitor's domain keeps its own episode type around an
//! [`EpisodeState`] and maps its verdicts to conditions; the rules live here once.

use crate::store::Versioned;
use chrono::{DateTime, TimeDelta, Utc};

/// Where an episode is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Seen failing by a periodic look, not yet for longer than the grace period.
    Suspected,
    Open,
    Resolved,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Suspected => "suspected",
            Phase::Open => "open",
            Phase::Resolved => "resolved",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "suspected" => Some(Phase::Suspected),
            "open" => Some(Phase::Open),
            "resolved" => Some(Phase::Resolved),
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

/// The settings that shape the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// A periodic look opens an episode only for something it has seen failing this long.
    pub grace: TimeDelta,
    /// Remind about an episode still open after this long since its last notice.
    pub reminder_every: Option<TimeDelta>,
    /// How long a claimed notice is left to its claimer before another run may send it.
    pub notice_lease: TimeDelta,
}

/// Where the news came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An event: the failure is established when it arrives (the agent monitor's events
    /// come after their grace period, through the delay queue).
    Event,
    /// A periodic look (the sweep): it cannot tell how long something has been failing, so
    /// it remembers the first sighting and opens once the grace period has passed since.
    Sweep,
}

/// What the watched thing looks like now, as its monitor's decision says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition<K, R> {
    /// Failing, and worth an alert of kind `K`.
    Failing(K),
    /// Fine again, or gone: an open episode ends, for reason `R`.
    Ended(R),
    /// Neither: still failing but not alertable now (draining, alerts switched off). An open
    /// episode stays open and its owed notices are still delivered; a suspicion is dropped.
    Holding,
}

/// The lifecycle part of an episode, stored with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpisodeState {
    pub phase: Phase,
    /// When the failure was first known (event time, or a periodic look's first sighting).
    pub first_seen_at: DateTime<Utc>,
    pub opened_at: Option<DateTime<Utc>>,
    pub last_seen_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// A notice claimed but not yet known to be sent, and since when it is claimed.
    pub pending: Option<(Notice, DateTime<Utc>)>,
    pub notices_sent: u32,
    pub last_notice_at: Option<DateTime<Utc>>,
    /// Whether the opening alert went out (a silent recovery owes no RESOLVED).
    pub alert_sent: bool,
}

impl EpisodeState {
    /// A failure first seen at `now` by a periodic look.
    pub fn suspected(now: DateTime<Utc>) -> Self {
        EpisodeState {
            phase: Phase::Suspected,
            first_seen_at: now,
            opened_at: None,
            last_seen_at: now,
            resolved_at: None,
            pending: None,
            notices_sent: 0,
            last_notice_at: None,
            alert_sent: false,
        }
    }

    /// Whether the episode still needs looking after: it is not resolved yet, or it is but
    /// its RESOLVED is not confirmed sent. The one rule every path (events, sweep) uses to
    /// decide whether a stored episode is theirs to carry on.
    pub fn is_live(&self) -> bool {
        self.phase != Phase::Resolved || self.pending.is_some()
    }

    /// Whether subscribers may have heard of this episode: its alert is confirmed sent, or
    /// it was claimed and never confirmed. A claimed alert may have gone out although its
    /// sender failed to record it (the send succeeded, the write after it did not) or saw
    /// an error (a send that arrived but whose answer was lost); either way a RESOLVED is
    /// owed, because a stray RESOLVED is better than an alert never closed.
    pub fn alert_may_have_gone_out(&self) -> bool {
        self.alert_sent || matches!(self.pending, Some((Notice::Alert, _)))
    }

    /// How long the failure has lasted, as far as we know, at `now`.
    pub fn duration(&self, now: DateTime<Utc>) -> TimeDelta {
        self.resolved_at.unwrap_or(now) - self.first_seen_at
    }

    /// The state after `notice` is confirmed sent.
    pub fn sent(&self, notice: Notice, now: DateTime<Utc>) -> Self {
        let mut next = self.clone();
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
    pub fn failed(&self, notice: Notice) -> Self {
        let mut next = self.clone();
        if let Some((pending, _)) = next.pending {
            if pending == notice {
                // A claim as old as time: any later run's lease check lets it through.
                next.pending = Some((pending, DateTime::UNIX_EPOCH));
            }
        }
        next
    }
}

/// A monitor's episode: its own facts around an [`EpisodeState`].
pub trait Episodic: Clone {
    fn state(&self) -> &EpisodeState;
    fn state_mut(&mut self) -> &mut EpisodeState;
}

/// An episode the notice engine can carry: kept in a versioned store under its key, its
/// notices claimed, recorded sent or released on it.
pub trait NoticeEpisode: Episodic + Versioned + Send + Sync {
    /// The episode after `notice` is confirmed sent (a monitor may note more, such as the
    /// count a reminder will compare with).
    fn sent(&self, notice: Notice, now: DateTime<Utc>) -> Self {
        let mut next = self.clone();
        *next.state_mut() = self.state().sent(notice, now);
        next
    }

    /// The episode after sending `notice` failed: the claim is released for the redelivery.
    fn released(&self, notice: Notice) -> Self {
        let mut next = self.clone();
        *next.state_mut() = self.state().failed(notice);
        next
    }

    /// Another run changed the stored episode after this run claimed `notice` on it, and
    /// this run's send is being recorded on what is stored now: keep whatever this run added
    /// to its claimed copy that the stored one lacks.
    fn carry_over(&mut self, _claimed: &Self) {}
}

/// The bare state is an episode too (what the lifecycle's own tests use).
impl Episodic for EpisodeState {
    fn state(&self) -> &EpisodeState {
        self
    }
    fn state_mut(&mut self) -> &mut EpisodeState {
        self
    }
}

/// What to do with an episode `E`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<E, K, R> {
    /// Nothing to store, nothing to send.
    Nothing,
    /// Another run holds this episode's notice (its lease is running): change nothing now
    /// and look again later, so that run's record of the notice is not overwritten.
    Later,
    /// Delete the stored suspicion: it came to nothing, nobody was told.
    Forget,
    /// A new episode (over the ended one, if any): remember the first sighting, send nothing.
    Suspect(EpisodeState, K),
    /// A new episode (over the suspicion or the ended one, if any): store it, which claims
    /// the alert, then send it.
    Open(EpisodeState, K),
    /// The same episode: store it (no notice).
    Store(E),
    /// The same episode: store it, which claims `notice`, then send it.
    Notify(E, Notice),
    /// The episode ended for reason `R`: store it, which claims the RESOLVED if one is owed
    /// (`Some`), then send it.
    Resolve(E, R, Option<Notice>),
    /// Store it, which claims the RESOLVED an ended episode still owes, send it, then look
    /// again later: the thing is failing anew, and the next look opens a new episode (which
    /// the same record cannot hold until the old one is closed).
    NotifyThenLater(E, Notice),
}

/// What the notice engine does with one episode: a monitor's [`Change`] mapped onto its own
/// episode type (a new episode built around the state, the resolution recorded), the one
/// vocabulary every monitor hands the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<E> {
    /// Nothing to store, nothing to send.
    Nothing,
    /// Store this new state (no notice).
    Store(E),
    /// Store this state, which claims `notice`, then send it.
    Notify(E, Notice),
    /// Delete the stored suspicion: it came to nothing, nobody was told.
    Forget,
    /// Another run holds this episode's notice (its lease is running): change nothing now
    /// and look again later, so that run's record of the notice is not overwritten.
    Later,
    /// Store this state, which claims the RESOLVED an ended episode still owes, send it,
    /// then look again later: the watched thing is failing anew, and the next look opens a
    /// new episode (which the same item cannot hold until the old one is closed).
    NotifyThenLater(E, Notice),
}

/// The lifecycle, purely: stored state + what the watched thing looks like now + time →
/// what to store and send.
pub fn step<E: Episodic, K, R>(
    stored: Option<&E>,
    condition: Condition<K, R>,
    source: Source,
    event_time: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    settings: &Settings,
) -> Change<E, K, R> {
    if let Some(owing) =
        stored.filter(|e| e.state().phase == Phase::Resolved && e.state().is_live())
    {
        return still_owed(owing, &condition, now, settings);
    }
    match (stored.filter(|e| e.state().is_live()), condition) {
        (None, Condition::Failing(kind)) => match source {
            Source::Event => Change::Open(opened(None, event_time, now), kind),
            Source::Sweep => Change::Suspect(EpisodeState::suspected(now), kind),
        },
        (Some(e), Condition::Failing(kind)) => match e.state().phase {
            Phase::Suspected => {
                if source == Source::Event || now - e.state().first_seen_at >= settings.grace {
                    Change::Open(opened(Some(e.state()), event_time, now), kind)
                } else {
                    Change::Nothing
                }
            }
            Phase::Open => still_open(e, source, now, settings),
            Phase::Resolved => Change::Nothing,
        },
        (None, _) => Change::Nothing,
        (Some(e), condition) => match (e.state().phase, condition) {
            (Phase::Suspected, _) => Change::Forget,
            (Phase::Open, Condition::Ended(reason)) => resolve(e, reason, now, settings),
            (Phase::Open, _) => still_open(e, source, now, settings),
            (Phase::Resolved, _) => Change::Nothing,
        },
    }
}

/// An ended episode whose RESOLVED is not confirmed sent: it is sent (again) once its claim
/// is free, whatever the watched thing does now, so that an alert is always closed. If it is
/// failing again, the new episode waits until the old one is closed.
fn still_owed<E: Episodic, K, R>(
    e: &E,
    condition: &Condition<K, R>,
    now: DateTime<Utc>,
    settings: &Settings,
) -> Change<E, K, R> {
    let Some((notice, claimed_at)) = e.state().pending else {
        return Change::Nothing;
    };
    if now - claimed_at < settings.notice_lease {
        return Change::Later;
    }
    let mut next = e.clone();
    next.state_mut().pending = Some((notice, now));
    match condition {
        Condition::Failing(_) => Change::NotifyThenLater(next, notice),
        _ => Change::Notify(next, notice),
    }
}

/// A new open episode, its alert claimed; failing since the earliest we know of: a
/// suspicion's first sighting or the event's time.
fn opened(
    suspected: Option<&EpisodeState>,
    event_time: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> EpisodeState {
    let first_seen_at = suspected
        .map(|e| e.first_seen_at)
        .into_iter()
        .chain(event_time)
        .fold(now, DateTime::min);
    EpisodeState {
        phase: Phase::Open,
        first_seen_at,
        opened_at: Some(now),
        pending: Some((Notice::Alert, now)),
        ..EpisodeState::suspected(now)
    }
}

fn still_open<E: Episodic, K, R>(
    e: &E,
    source: Source,
    now: DateTime<Utc>,
    settings: &Settings,
) -> Change<E, K, R> {
    let state = e.state();
    let mut next = e.clone();
    next.state_mut().last_seen_at = now;
    if let Some((notice, claimed_at)) = state.pending {
        // Owed but not confirmed sent: take it over once the claimer's lease ran out.
        if now - claimed_at >= settings.notice_lease {
            next.state_mut().pending = Some((notice, now));
            return Change::Notify(next, notice);
        }
        return Change::Later;
    }
    if let Some(every) = settings.reminder_every {
        let last = state
            .last_notice_at
            .or(state.opened_at)
            .unwrap_or(state.first_seen_at);
        if state.alert_sent && now - last >= every {
            next.state_mut().pending = Some((Notice::Reminder, now));
            return Change::Notify(next, Notice::Reminder);
        }
    }
    match source {
        // An event is news: remember when it was last seen failing.
        Source::Event => Change::Store(next),
        // A periodic look seeing the same open episode again changes nothing worth a
        // write, which keeps its cost flat however many episodes are open.
        Source::Sweep => Change::Nothing,
    }
}

fn resolve<E: Episodic, K, R>(
    e: &E,
    reason: R,
    now: DateTime<Utc>,
    settings: &Settings,
) -> Change<E, K, R> {
    if let Some((_, claimed_at)) = e.state().pending {
        // Whether that notice goes out decides whether a RESOLVED is owed: wait for it.
        if now - claimed_at < settings.notice_lease {
            return Change::Later;
        }
    }
    let owed = e.state().alert_may_have_gone_out();
    let mut next = e.clone();
    let state = next.state_mut();
    state.phase = Phase::Resolved;
    state.resolved_at = Some(now);
    state.last_seen_at = now;
    if owed {
        state.pending = Some((Notice::Resolved, now));
        Change::Resolve(next, reason, Some(Notice::Resolved))
    } else {
        // Nobody was told it was failing, so nobody needs to be told it is fine.
        state.pending = None;
        Change::Resolve(next, reason, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    type C = Condition<&'static str, &'static str>;

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap() + TimeDelta::minutes(minute)
    }

    const SETTINGS: Settings = Settings {
        grace: TimeDelta::minutes(1),
        reminder_every: Some(TimeDelta::hours(4)),
        notice_lease: TimeDelta::minutes(1),
    };

    fn run(
        stored: Option<&EpisodeState>,
        c: C,
        source: Source,
        at: i64,
    ) -> Change<EpisodeState, &'static str, &'static str> {
        step(stored, c, source, Some(t(-2)), t(at), &SETTINGS)
    }

    fn open_and_sent() -> EpisodeState {
        match run(None, Condition::Failing("oom"), Source::Event, 0) {
            Change::Open(state, "oom") => state.sent(Notice::Alert, t(0)),
            other => panic!("expected an opening, got {other:?}"),
        }
    }

    #[test]
    fn an_event_opens_with_the_alert_claimed_and_failing_since_the_event() {
        let Change::Open(state, kind) = run(None, Condition::Failing("oom"), Source::Event, 0)
        else {
            panic!("expected an opening")
        };
        assert_eq!(kind, "oom");
        assert_eq!(state.phase, Phase::Open);
        assert_eq!(state.first_seen_at, t(-2));
        assert_eq!(state.pending, Some((Notice::Alert, t(0))));
        let sent = state.sent(Notice::Alert, t(0));
        assert!(sent.alert_sent && sent.pending.is_none() && sent.notices_sent == 1);
    }

    #[test]
    fn a_sweep_suspects_first_and_opens_after_the_grace_period() {
        let Change::Suspect(suspicion, _) = run(None, Condition::Failing("oom"), Source::Sweep, 0)
        else {
            panic!("expected a suspicion")
        };
        assert_eq!(
            step::<_, _, ()>(
                Some(&suspicion),
                Condition::Failing("oom"),
                Source::Sweep,
                None,
                t(0) + TimeDelta::seconds(30),
                &SETTINGS
            ),
            Change::Nothing
        );
        let Change::Open(open, _) = step::<_, _, ()>(
            Some(&suspicion),
            Condition::Failing("oom"),
            Source::Sweep,
            None,
            t(1),
            &SETTINGS,
        ) else {
            panic!("expected an opening")
        };
        assert_eq!(open.first_seen_at, t(0), "failing since the first sighting");
        assert_eq!(
            run(Some(&suspicion), Condition::Holding, Source::Sweep, 0),
            Change::Forget
        );
    }

    #[test]
    fn ending_owes_a_resolved_exactly_when_the_alert_may_have_gone_out() {
        let sent = open_and_sent();
        let Change::Resolve(resolved, "fine", Some(Notice::Resolved)) =
            run(Some(&sent), Condition::Ended("fine"), Source::Event, 5)
        else {
            panic!("expected a RESOLVED")
        };
        assert!(resolved.is_live(), "live until the RESOLVED is confirmed");
        assert!(!resolved.sent(Notice::Resolved, t(5)).is_live());

        // Claimed, never confirmed, lease over: it may have gone out, so RESOLVED is owed.
        let Change::Open(claimed, _) = run(None, Condition::Failing("oom"), Source::Event, 0)
        else {
            panic!("expected an opening")
        };
        assert!(matches!(
            run(Some(&claimed), Condition::Ended("fine"), Source::Event, 0),
            Change::Later
        ));
        assert!(matches!(
            run(Some(&claimed), Condition::Ended("fine"), Source::Event, 2),
            Change::Resolve(_, _, Some(Notice::Resolved))
        ));

        // Never claimed (nothing to tell): resolved silently.
        let mut silent = claimed.clone();
        silent.pending = None;
        assert!(matches!(
            run(Some(&silent), Condition::Ended("fine"), Source::Event, 2),
            Change::Resolve(_, _, None)
        ));
    }

    #[test]
    fn an_owed_resolved_is_sent_whatever_happens_next() {
        let Change::Resolve(owing, _, _) = run(
            Some(&open_and_sent()),
            Condition::Ended("fine"),
            Source::Event,
            5,
        ) else {
            panic!("expected a RESOLVED")
        };
        let released = owing.failed(Notice::Resolved);
        assert!(matches!(
            run(Some(&released), Condition::Ended("fine"), Source::Sweep, 6),
            Change::Notify(_, Notice::Resolved)
        ));
        assert!(matches!(
            run(Some(&released), Condition::Failing("oom"), Source::Event, 6),
            Change::NotifyThenLater(_, Notice::Resolved)
        ));
        assert_eq!(
            run(Some(&owing), Condition::Holding, Source::Event, 5),
            Change::Later
        );
    }

    #[test]
    fn holding_keeps_an_episode_open_and_reminders_follow_the_last_notice() {
        let sent = open_and_sent();
        assert!(matches!(
            run(Some(&sent), Condition::Holding, Source::Event, 10),
            Change::Store(ref s) if s.phase == Phase::Open && s.last_seen_at == t(10)
        ));
        assert_eq!(
            run(Some(&sent), Condition::Holding, Source::Sweep, 10),
            Change::Nothing
        );
        assert!(matches!(
            run(Some(&sent), Condition::Failing("oom"), Source::Sweep, 240),
            Change::Notify(_, Notice::Reminder)
        ));
    }
}
