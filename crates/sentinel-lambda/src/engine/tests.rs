//! The engine over in-memory ports, with the smallest monitor there is: one probe that fails
//! and recovers. Every script of faults (the exploration every monitor also passes through
//! its own wiring), the batched record of several messages, and the straggler re-read.

use super::*;
use crate::testing::{explore_faults, Fault, MemoryWorld, Op, Script, Told};
use chrono::{TimeDelta, TimeZone};
use sentinel_core::chat::ChatMessage;
use sentinel_core::notice::{self, Change, Condition, EpisodeState, Episodic, Settings, Source};
use sentinel_core::notification::{Monitor, Severity};
use sentinel_core::{ClusterArn, Versioned};

const SETTINGS: Settings = Settings {
    grace: TimeDelta::minutes(1),
    reminder_every: None,
    notice_lease: TimeDelta::minutes(1),
};

/// SQS hands a failed record back after its visibility timeout, longer than a lease.
const REDELIVERY: TimeDelta = TimeDelta::minutes(6);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Probe {
    key: String,
    state: EpisodeState,
    version: u64,
}

impl Episodic for Probe {
    fn state(&self) -> &EpisodeState {
        &self.state
    }
    fn state_mut(&mut self) -> &mut EpisodeState {
        &mut self.state
    }
}

impl Versioned for Probe {
    fn key(&self) -> String {
        self.key.clone()
    }
    fn version(&self) -> u64 {
        self.version
    }
    fn set_version(&mut self, version: u64) {
        self.version = version;
    }
}

impl NoticeEpisode for Probe {}

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
        + TimeDelta::minutes(minutes)
}

/// The probe's whole domain: failing or not, through the kernel's lifecycle.
fn decide(key: &str, stored: Option<&Probe>, failing: bool, now: DateTime<Utc>) -> Step<Probe> {
    let condition = if failing {
        Condition::Failing(())
    } else {
        Condition::Ended(())
    };
    let new = |state| Probe {
        key: key.to_owned(),
        state,
        version: stored.map_or(0, |e| e.version),
    };
    match notice::step(stored, condition, Source::Event, None, now, &SETTINGS) {
        Change::Nothing => Step::Nothing,
        Change::Later => Step::Later,
        Change::Forget => Step::Forget,
        Change::Suspect(state, ()) => Step::Store(new(state)),
        Change::Open(state, ()) => Step::Notify(new(state), Notice::Alert),
        Change::Store(e) => Step::Store(e),
        Change::Notify(e, n) => Step::Notify(e, n),
        Change::Resolve(e, (), Some(n)) => Step::Notify(e, n),
        Change::Resolve(e, (), None) => Step::Store(e),
        Change::NotifyThenLater(e, n) => Step::NotifyThenLater(e, n),
    }
}

fn notification(keys: Vec<String>, notice: Notice) -> Notification {
    Notification {
        monitor: Monitor::Agent,
        notice,
        cluster: ClusterArn::parse("arn:aws:ecs:us-east-1:123456789012:cluster/probe")
            .unwrap_or_else(|_| unreachable!("a valid cluster ARN")),
        service: None,
        kinds: vec!["probe".to_owned()],
        severity: Severity::Warning,
        about: keys,
        subject: format!("probe {}", notice.as_str()),
        message: String::new(),
        chat: ChatMessage::default(),
    }
}

/// One run over some probes (each with its record): decide, claim, one message per probe,
/// deliver. Returns the records SQS must deliver again.
async fn run(
    world: &MemoryWorld<Probe>,
    probes: &[(&str, bool)],
    now: DateTime<Utc>,
) -> BTreeSet<String> {
    let proposals = probes
        .iter()
        .map(|(key, failing)| {
            let stored = world.episode(key);
            Proposal {
                step: decide(key, stored.as_ref(), *failing, now),
                stored,
                records: vec![format!("{key}-{failing}")],
                scope: (*key).to_owned(),
                context: (),
            }
        })
        .collect();
    let engine = Engine::new(world, world);
    let claimed = engine.claim(proposals, now).await;
    let mut outcome = claimed.outcome;
    let outgoing = claimed
        .owed
        .into_iter()
        .map(|o| Outgoing {
            notice: o.notice,
            notification: Ok(notification(vec![o.episode.key.clone()], o.notice)),
            message: (),
            owed: vec![o],
        })
        .collect();
    engine.deliver(outgoing, now, &mut outcome).await;
    outcome.failed_record_ids
}

/// The scenario the exploration plays: down once, then up, every outstanding record
/// redelivered until acknowledged.
async fn play(script: Script) -> Told {
    let world = MemoryWorld::new();
    script.install(&world);
    let mut now = t(0);
    // Records SQS still holds: the disconnect if its run failed, and the recovery.
    let mut outstanding = usize::from(!run(&world, &[("p", true)], now).await.is_empty()) + 1;
    now += TimeDelta::minutes(1);
    for _ in 0..12 {
        // Whatever a record said, the probe is up now: a redelivered "down" record finds it
        // recovered, as a monitor's fresh look would.
        let mut again = 0;
        for _ in 0..outstanding {
            if !run(&world, &[("p", false)], now).await.is_empty() {
                again += 1;
            }
        }
        outstanding = again;
        if outstanding == 0 {
            break;
        }
        now += REDELIVERY;
    }
    assert_eq!(outstanding, 0, "{script:?}: never acknowledged");
    if let Some(e) = world.episode("p") {
        assert_eq!(e.state.pending, None, "{script:?}: {e:?}");
    }
    Told {
        alerts: world.times_told(Notice::Alert, "p"),
        resolveds: world.times_told(Notice::Resolved, "p"),
    }
}

#[tokio::test(start_paused = true)]
async fn every_fault_script_closes_what_it_alerted() {
    let found = explore_faults(play).await;
    assert_eq!(found.scripts, 576);
    assert!(found.closed_without_alert > 0 && found.closed_without_alert < found.scripts);
    assert!(found.duplicates > 0 && found.duplicates < found.scripts);
}

#[tokio::test(start_paused = true)]
async fn several_messages_are_recorded_sent_in_one_write() {
    let world = MemoryWorld::new();
    let failed = run(&world, &[("a", true), ("b", true), ("c", true)], t(0)).await;
    assert!(failed.is_empty(), "{failed:?}");
    // One write claims the three alerts, three publishes, one write records them sent.
    assert_eq!((world.calls(Op::Put), world.calls(Op::Publish)), (2, 3));
    for key in ["a", "b", "c"] {
        let e = world
            .episode(key)
            .unwrap_or_else(|| unreachable!("stored {key}"));
        assert!(e.state.alert_sent && e.state.pending.is_none(), "{e:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_publish_releases_only_its_own_claim() {
    let world = MemoryWorld::new();
    world.fail_next(Op::Publish, &[Fault::Pass, Fault::Fail]);
    let failed = run(&world, &[("a", true), ("b", true)], t(0)).await;
    assert_eq!(failed, BTreeSet::from(["b-true".to_owned()]));
    let b = world
        .episode("b")
        .unwrap_or_else(|| unreachable!("stored b"));
    assert_eq!(
        b.state.pending,
        Some((Notice::Alert, DateTime::UNIX_EPOCH)),
        "released"
    );
    // The redelivery sends it at once, lease or not.
    assert!(run(&world, &[("b", true)], t(0)).await.is_empty());
    assert_eq!(world.times_told(Notice::Alert, "b"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_record_that_conflicts_is_made_on_what_is_stored_now() {
    let world = MemoryWorld::new();
    // The claim passes; the batched record meets a conflict after taking effect (an SDK
    // retry of a committed write); the straggler re-reads and finds it recorded.
    world.fail_next(Op::Put, &[Fault::Pass, Fault::ConflictAfterEffect]);
    assert!(run(&world, &[("a", true)], t(0)).await.is_empty());
    let a = world
        .episode("a")
        .unwrap_or_else(|| unreachable!("stored a"));
    assert!(a.state.alert_sent && a.state.pending.is_none(), "{a:?}");
    assert_eq!(a.state.notices_sent, 1, "recorded once");
    assert_eq!(world.calls(Op::Get), 1, "one re-read");
}

#[tokio::test(start_paused = true)]
async fn a_message_that_cannot_be_rendered_counts_as_a_failed_send() {
    let world: MemoryWorld<Probe> = MemoryWorld::new();
    let engine = Engine::new(&world, &world);
    let stored = None;
    let claimed = engine
        .claim(
            vec![Proposal {
                step: decide("a", stored.as_ref(), true, t(0)),
                stored,
                records: vec!["r".to_owned()],
                scope: "a".to_owned(),
                context: (),
            }],
            t(0),
        )
        .await;
    let mut outcome = claimed.outcome;
    let outgoing: Vec<Outgoing<Probe, (), ()>> = claimed
        .owed
        .into_iter()
        .map(|o| Outgoing {
            notice: o.notice,
            notification: Err("too large".to_owned()),
            message: (),
            owed: vec![o],
        })
        .collect();
    let sent = engine.deliver(outgoing, t(0), &mut outcome).await;
    assert!(sent.is_empty());
    assert_eq!(outcome.failed_record_ids, BTreeSet::from(["r".to_owned()]));
    assert!(outcome.errors[0]
        .1
        .contains("cannot render the message: too large"));
    assert_eq!(world.calls(Op::Publish), 0);
}
