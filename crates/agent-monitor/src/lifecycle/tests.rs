//! The lifecycle over in-memory ports: every failure and race between claiming a notice,
//! sending it, recording it, resolving, lease expiry and redelivery, played deterministically.
//!
//! The promise under test: whenever an alert may have reached subscribers, the recovery is
//! announced by a RESOLVED, retried until sent; a notice is sent twice only when an answer
//! was lost (a write or publish that took effect but reported failure), or when a run stalled
//! past its lease.

use super::*;
use crate::memory::{Fault, MemoryWorld, NoopRemedies, Op};
use crate::remediate::Remediation;
use chrono::{TimeDelta, TimeZone};
use sentinel_agent::episode::Phase;
use sentinel_agent::episode::Sighting;
use sentinel_agent::remediation::{RemediationAction, RemediationSettings};
use sentinel_agent::{AlertKind, NodeId, Observation, SkipReason, Verdict};
use sentinel_core::ClusterView;
use sentinel_lambda::testing::{explore_faults, Script, Told};

const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:container-instance/api/0a1b2c";

const SETTINGS: LifecycleSettings = LifecycleSettings {
    grace: TimeDelta::minutes(1),
    reminder_every: None,
    notice_lease: TimeDelta::minutes(1),
};

/// SQS hands a failed record back after its visibility timeout (6 × the function timeout in
/// the template), always longer than a notice's lease.
const REDELIVERY: TimeDelta = TimeDelta::minutes(6);

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
        + TimeDelta::minutes(minutes)
}

fn lifecycle(world: &MemoryWorld) -> Lifecycle {
    let off = RemediationSettings {
        action: RemediationAction::None,
        max_percent_per_hour: 10,
        dry_run: false,
    };
    Lifecycle::new(
        Arc::new(world.clone()),
        Arc::new(world.clone()),
        Remediation::new(
            off,
            Arc::new(world.clone()),
            Arc::new(NoopRemedies { cluster_size: 10 }),
        ),
        ActionRegistry::default(),
        SETTINGS,
    )
}

fn decided(world: &MemoryWorld, agent_down: bool, record: Option<&str>) -> Decided {
    let verdict = if agent_down {
        Verdict::Alert {
            kind: AlertKind::AgentDisconnected,
        }
    } else {
        Verdict::Skip {
            reason: SkipReason::AgentReconnected,
        }
    };
    Decided {
        sighting: Sighting {
            container_instance_arn: ARN.to_owned(),
            cluster_arn: ClusterArn::parse("arn:aws:ecs:us-east-1:123456789012:cluster/api")
                .expect("a valid cluster ARN"),
            node_id: NodeId::parse("i-0123456789abcdef0").expect("a valid instance id"),
            event_time: None,
        },
        record_ids: record.into_iter().map(str::to_owned).collect(),
        // What the run read first (the event path's BatchGetItem, the sweep's Scan).
        stored: world.episode(ARN),
        observation: Observation {
            cluster: ClusterView::Monitored,
            container_instance: None,
            node: None,
        },
        verdict,
    }
}

/// One delivery of one SQS record (or, without a record, one sweep): read, decide, settle.
/// Returns whether SQS must deliver the record again.
async fn deliver(
    lifecycle: &Lifecycle,
    world: &MemoryWorld,
    agent_down: bool,
    record: Option<&str>,
    now: DateTime<Utc>,
) -> bool {
    let source = if record.is_some() {
        Source::Event
    } else {
        Source::Sweep
    };
    let settled = lifecycle
        .settle(vec![decided(world, agent_down, record)], source, now)
        .await;
    !settled.failed_record_ids.is_empty()
}

fn told(world: &MemoryWorld, notice: Notice) -> usize {
    world.times_told(notice, ARN)
}

#[tokio::test(start_paused = true)]
async fn without_faults_one_alert_and_one_resolved() {
    let world = MemoryWorld::new();
    let lifecycle = lifecycle(&world);
    assert!(!deliver(&lifecycle, &world, true, Some("down"), t(0)).await);
    // The same event again, and a sweep: nothing new.
    assert!(!deliver(&lifecycle, &world, true, Some("down"), t(1)).await);
    assert!(!deliver(&lifecycle, &world, true, None, t(2)).await);
    assert!(!deliver(&lifecycle, &world, false, Some("up"), t(3)).await);
    assert!(!deliver(&lifecycle, &world, false, Some("up"), t(4)).await);
    assert!(!deliver(&lifecycle, &world, false, None, t(5)).await);
    assert_eq!(told(&world, Notice::Alert), 1);
    assert_eq!(told(&world, Notice::Resolved), 1);
    let e = world.episode(ARN).expect("stored episode");
    assert_eq!(
        (e.state.phase, e.state.pending, e.state.notices_sent),
        (Phase::Resolved, None, 2)
    );
}

/// Hole (a): the RESOLVED claim was stored with the resolution, its publish failed, and every
/// later run took the resolved episode for finished. The redelivery must send it.
#[tokio::test(start_paused = true)]
async fn a_failed_resolved_publish_is_sent_on_redelivery() {
    let world = MemoryWorld::new();
    let lifecycle = lifecycle(&world);
    assert!(!deliver(&lifecycle, &world, true, Some("down"), t(0)).await);
    // The reconnect's publish fails three times (the SDK's attempts are one call here).
    world.fail_next(Op::Publish, &[Fault::Fail, Fault::Fail, Fault::Fail]);
    let mut now = t(1);
    let mut deliveries = 0;
    while deliver(&lifecycle, &world, false, Some("up"), now).await {
        deliveries += 1;
        assert!(deliveries < 10, "the RESOLVED is never sent");
        now += REDELIVERY;
    }
    assert_eq!(
        deliveries, 3,
        "three failed publishes, then the fourth delivery sends"
    );
    assert_eq!(told(&world, Notice::Resolved), 1);
    // And the sweep, which would have looked after it had the record gone, stays quiet.
    assert!(!deliver(&lifecycle, &world, false, None, now).await);
    assert_eq!(told(&world, Notice::Resolved), 1);
}

/// The same, found by the sweep: the reconnect record is gone (acknowledged by an older
/// version, or parked), the episode still owes its RESOLVED.
#[tokio::test(start_paused = true)]
async fn the_sweep_sends_an_owed_resolved() {
    let world = MemoryWorld::new();
    let lifecycle = lifecycle(&world);
    deliver(&lifecycle, &world, true, Some("down"), t(0)).await;
    world.fail_next(Op::Publish, &[Fault::Fail]);
    assert!(deliver(&lifecycle, &world, false, Some("up"), t(1)).await);
    let owed = world.episode(ARN).expect("stored episode");
    assert_eq!(owed.state.phase, Phase::Resolved);
    assert!(
        owed.is_live(),
        "an ended episode that owes its RESOLVED is still live"
    );
    deliver(&lifecycle, &world, false, None, t(2)).await;
    assert_eq!(told(&world, Notice::Resolved), 1);
    assert_eq!(world.episode(ARN).and_then(|e| e.state.pending), None);
}

/// Hole (b): the alert went out but recording it failed every time; a recovery after the lease
/// must still announce itself.
#[tokio::test(start_paused = true)]
async fn an_alert_sent_but_not_recorded_still_gets_its_resolved() {
    let world = MemoryWorld::new();
    let lifecycle = lifecycle(&world);
    // Write 1 claims the alert; write 2 records the message's notices sent, and writes 3-6
    // are the four tries to record this one on its own.
    world.fail_next(
        Op::Put,
        &[
            Fault::Pass,
            Fault::Fail,
            Fault::Fail,
            Fault::Fail,
            Fault::Fail,
            Fault::Fail,
        ],
    );
    assert!(!deliver(&lifecycle, &world, true, Some("down"), t(0)).await);
    assert_eq!(told(&world, Notice::Alert), 1);
    let unrecorded = world.episode(ARN).expect("stored episode");
    assert!(!unrecorded.state.alert_sent && unrecorded.alert_may_have_gone_out());
    // Within the lease the reconnect waits for the claimer; after it, it resolves loudly.
    assert!(deliver(&lifecycle, &world, false, Some("up"), t(0)).await);
    assert!(!deliver(&lifecycle, &world, false, Some("up"), t(0) + REDELIVERY).await);
    assert_eq!(told(&world, Notice::Resolved), 1);
}

/// When the RESOLVED is owed while the agent is down anew, the old episode is closed first
/// and the redelivery opens the new one: two alerts, one RESOLVED between them.
#[tokio::test(start_paused = true)]
async fn an_owed_resolved_goes_out_before_a_new_episode_opens() {
    let world = MemoryWorld::new();
    let lifecycle = lifecycle(&world);
    deliver(&lifecycle, &world, true, Some("down-1"), t(0)).await;
    world.fail_next(Op::Publish, &[Fault::Fail]);
    assert!(deliver(&lifecycle, &world, false, Some("up"), t(1)).await);
    // Down again before "up" comes back.
    assert!(
        deliver(&lifecycle, &world, true, Some("down-2"), t(8)).await,
        "the record is handed back to open the new episode"
    );
    assert_eq!(told(&world, Notice::Resolved), 1);
    assert!(!deliver(&lifecycle, &world, true, Some("down-2"), t(14)).await);
    assert!(!deliver(&lifecycle, &world, true, Some("up"), t(15)).await);
    let kinds: Vec<Notice> = world.delivered().iter().map(|d| d.notice).collect();
    assert_eq!(kinds, [Notice::Alert, Notice::Resolved, Notice::Alert]);
    let e = world.episode(ARN).expect("stored episode");
    assert_eq!((e.state.phase, e.state.alert_sent), (Phase::Open, true));
}

/// The engine's fault exploration through the agent monitor's wiring: every script of faults
/// on the first three writes and the first two publishes (576), with the agent down, then
/// back; SQS redelivers until every record is acknowledged.
#[tokio::test(start_paused = true)]
async fn every_fault_script_closes_what_it_alerted() {
    let found = explore_faults(play).await;
    assert_eq!(found.scripts, 576);
    // A RESOLVED without a delivered alert happens when the alert's publish failed cleanly
    // and the agent came back before the retry: the monitor cannot tell a clean failure from
    // a lost answer, so it closes what it may have opened. Counted so a change shows.
    assert!(found.closed_without_alert > 0 && found.closed_without_alert < found.scripts);
    assert!(found.duplicates < found.scripts);
}

/// Plays one script: the disconnect delivered once while the agent is down, the agent back,
/// then every outstanding record redelivered until acknowledged. Returns what subscribers
/// heard.
async fn play(script: Script) -> Told {
    let world = MemoryWorld::new();
    script.install(&world);
    let lifecycle = lifecycle(&world);
    let mut now = t(0);
    let mut outstanding = Vec::new();
    if deliver(&lifecycle, &world, true, Some("down"), now).await {
        outstanding.push("down");
    }
    outstanding.push("up");
    now += TimeDelta::minutes(1);
    for _ in 0..12 {
        let mut again = Vec::new();
        for record in outstanding {
            if deliver(&lifecycle, &world, false, Some(record), now).await {
                again.push(record);
            }
        }
        outstanding = again;
        if outstanding.is_empty() {
            break;
        }
        now += REDELIVERY;
    }
    assert!(
        outstanding.is_empty(),
        "{script:?}: {outstanding:?} never acknowledged"
    );
    if let Some(e) = world.episode(ARN) {
        assert_eq!(e.state.pending, None, "{script:?}: {e:?}");
        assert_eq!(e.state.phase, Phase::Resolved, "{script:?}");
    }
    Told {
        alerts: told(&world, Notice::Alert),
        resolveds: told(&world, Notice::Resolved),
    }
}

/// A redelivery arriving while the first run is publishing leaves the episode alone.
#[tokio::test(start_paused = true)]
async fn a_redelivery_during_the_publish_waits_for_the_claimer() {
    let world = MemoryWorld::new();
    let lifecycle = lifecycle(&world);
    let gate = world.gate(Op::Publish, 0);
    let first = deliver(&lifecycle, &world, true, Some("down"), t(0));
    let second = async {
        gate.reached.await.ok();
        let handed_back = deliver(&lifecycle, &world, true, Some("down"), t(0)).await;
        gate.release.send(()).ok();
        handed_back
    };
    let (first_failed, second_failed) = futures::join!(first, second);
    assert!(!first_failed);
    assert!(second_failed, "the redelivery looks again later");
    assert_eq!(told(&world, Notice::Alert), 1);
    assert!(!deliver(&lifecycle, &world, true, Some("down"), t(6)).await);
    assert_eq!(told(&world, Notice::Alert), 1);
}

/// A reconnect arriving between the alert's publish and its record waits, then resolves once.
#[tokio::test(start_paused = true)]
async fn a_reconnect_between_publish_and_record_resolves_once() {
    let world = MemoryWorld::new();
    let lifecycle = lifecycle(&world);
    // Put 0 is the claim; put 1 records the alert sent.
    let gate = world.gate(Op::Put, 1);
    let down = deliver(&lifecycle, &world, true, Some("down"), t(0));
    let up = async {
        gate.reached.await.ok();
        let handed_back = deliver(&lifecycle, &world, false, Some("up"), t(0)).await;
        gate.release.send(()).ok();
        handed_back
    };
    let (down_failed, up_failed) = futures::join!(down, up);
    assert!(!down_failed);
    assert!(up_failed);
    assert!(!deliver(&lifecycle, &world, false, Some("up"), t(6)).await);
    assert_eq!(
        (told(&world, Notice::Alert), told(&world, Notice::Resolved)),
        (1, 1)
    );
}

/// A sweep meeting a RESOLVED in flight leaves it to its sender.
#[tokio::test(start_paused = true)]
async fn a_sweep_during_the_resolved_publish_sends_nothing() {
    let world = MemoryWorld::new();
    let lifecycle = lifecycle(&world);
    deliver(&lifecycle, &world, true, Some("down"), t(0)).await;
    let gate = world.gate(Op::Publish, 0);
    let up = deliver(&lifecycle, &world, false, Some("up"), t(1));
    let sweep = async {
        gate.reached.await.ok();
        deliver(&lifecycle, &world, false, None, t(1)).await;
        gate.release.send(()).ok();
    };
    let (up_failed, ()) = futures::join!(up, sweep);
    assert!(!up_failed);
    assert_eq!(told(&world, Notice::Resolved), 1);
    deliver(&lifecycle, &world, false, None, t(9)).await;
    assert_eq!(told(&world, Notice::Resolved), 1);
}

/// A run that stalls past its lease loses its claim: the next run sends the alert, and the
/// stalled one's late publish is the one duplicate the lease allows. Its record of the notice
/// finds the episode moved on and leaves it as the newer run wrote it.
#[tokio::test(start_paused = true)]
async fn a_run_stalled_past_its_lease_is_taken_over() {
    let world = MemoryWorld::new();
    let lifecycle = lifecycle(&world);
    let gate = world.gate(Op::Publish, 0);
    let stalled = deliver(&lifecycle, &world, true, Some("down"), t(0));
    let takeover = async {
        gate.reached.await.ok();
        let handed_back = deliver(&lifecycle, &world, true, Some("down"), t(2)).await;
        gate.release.send(()).ok();
        handed_back
    };
    let (stalled_failed, takeover_failed) = futures::join!(stalled, takeover);
    assert!(!stalled_failed && !takeover_failed);
    assert_eq!(told(&world, Notice::Alert), 2);
    let e = world.episode(ARN).expect("stored episode");
    assert!(e.state.alert_sent && e.state.pending.is_none());
    assert_eq!(e.state.notices_sent, 1, "recorded once");
    assert!(!deliver(&lifecycle, &world, false, Some("up"), t(3)).await);
    assert_eq!(told(&world, Notice::Resolved), 1);
}

/// A claim that committed although the write reported a conflict (an SDK retry of a
/// committed conditional write) delays the alert by one redelivery, never loses it.
#[tokio::test(start_paused = true)]
async fn a_committed_claim_reported_as_a_conflict_is_sent_on_redelivery() {
    let world = MemoryWorld::new();
    let lifecycle = lifecycle(&world);
    world.fail_next(Op::Put, &[Fault::ConflictAfterEffect]);
    assert!(deliver(&lifecycle, &world, true, Some("down"), t(0)).await);
    assert_eq!(told(&world, Notice::Alert), 0);
    assert!(!deliver(&lifecycle, &world, true, Some("down"), t(6)).await);
    assert_eq!(told(&world, Notice::Alert), 1);
}

/// A publish that reached subscribers but reported failure is sent again: at least once.
#[tokio::test(start_paused = true)]
async fn a_publish_whose_answer_was_lost_is_sent_again() {
    let world = MemoryWorld::new();
    let lifecycle = lifecycle(&world);
    world.fail_next(Op::Publish, &[Fault::FailAfterEffect]);
    assert!(deliver(&lifecycle, &world, true, Some("down"), t(0)).await);
    assert!(!deliver(&lifecycle, &world, true, Some("down"), t(6)).await);
    assert_eq!(told(&world, Notice::Alert), 2);
    assert_eq!(world.calls(Op::Publish), 2);
}
