//! Episodes per service: however many tasks of one service fail, one alert that counts them,
//! a reminder with the new count, one RESOLVED when the service is steady again or its
//! deployment completes. Standalone and scheduled tasks have no steady state: their failures
//! alert once per task family and batch.
//!
//! [`fold`] is the whole of it as one pure function: the stored episode, one batch's events
//! of one service (or family), and the time in; what to store and which notice to send out.
//! The claiming, sending and resolving rules are the kernel's notice lifecycle.

use crate::classify::{FailureKind, Recovery, Verdict};
use crate::event::{Owner, TaskEvent};
use chrono::{DateTime, Utc};
use sentinel_core::notice::{
    self, Change, Condition, EpisodeState, Episodic, Notice, NoticeEpisode, Phase, Source,
};
use sentinel_core::store::Versioned;
use sentinel_core::ClusterArn;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use sentinel_core::notice::Settings as LifecycleSettings;

/// The most recent failures an episode keeps for its messages.
pub const SAMPLES_KEPT: usize = 5;
/// The task events an episode remembers having counted, so a redelivery never counts twice.
pub const SEEN_KEPT: usize = 1000;

/// What an episode is about: a service, or a task family, in a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EpisodeKey {
    pub cluster: ClusterArn,
    pub owner: Owner,
}

impl EpisodeKey {
    /// The table key: distinct from the agent monitor's container instance ARNs.
    pub fn as_key(&self) -> String {
        let (what, name) = match &self.owner {
            Owner::Service(name) => ("service", name),
            Owner::Family(name) => ("family", name),
        };
        format!("tasks#{}#{what}#{name}", self.cluster)
    }
}

/// One failure as the messages show it (and the table keeps it, as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureSample {
    pub at: DateTime<Utc>,
    pub kind: FailureKind,
    pub task_arn: Option<String>,
    /// `family:revision` of the failed task.
    pub task_definition: Option<String>,
    /// The stopped reason, or the service or deployment event's reason, verbatim.
    pub reason: Option<String>,
    pub containers: Vec<ContainerExit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerExit {
    pub name: String,
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEpisode {
    pub key: EpisodeKey,
    pub state: EpisodeState,
    /// Failures counted in this episode, in all and by kind.
    pub failures: u32,
    pub by_kind: BTreeMap<FailureKind, u32>,
    /// `failures` when the last notice went out: a reminder says how many are new.
    pub failures_notified: u32,
    /// The most recent failures, newest last.
    pub samples: Vec<FailureSample>,
    /// `taskArn#version` of the task events counted (the newest [`SEEN_KEPT`]).
    pub seen: Vec<String>,
    pub resolution: Option<Recovery>,
    /// Optimistic concurrency: every write expects the version it read.
    pub version: u64,
}

impl Versioned for TaskEpisode {
    fn key(&self) -> String {
        self.key.as_key()
    }
    fn version(&self) -> u64 {
        self.version
    }
    fn set_version(&mut self, version: u64) {
        self.version = version;
    }
}

impl NoticeEpisode for TaskEpisode {
    /// A sent notice also remembers how many failures it told of: a reminder says how many
    /// are new.
    fn sent(&self, notice: Notice, now: DateTime<Utc>) -> TaskEpisode {
        TaskEpisode {
            state: self.state.sent(notice, now),
            failures_notified: self.failures,
            ..self.clone()
        }
    }
}

impl Episodic for TaskEpisode {
    fn state(&self) -> &EpisodeState {
        &self.state
    }
    fn state_mut(&mut self) -> &mut EpisodeState {
        &mut self.state
    }
}

impl TaskEpisode {
    /// The kind most failures had (ties: the more severe first, as listed).
    pub fn main_kind(&self) -> Option<FailureKind> {
        self.by_kind
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(kind, _)| *kind)
    }
}

/// What one batch does to one task episode: the kernel's [`notice::Step`] over
/// [`TaskEpisode`] (a batch never forgets: only a sweep suspects).
pub type Fold = notice::Step<TaskEpisode>;

/// One batch's events of one service (or family) through the lifecycle. `events` are the
/// batch's events with their verdicts, any order; those already counted are skipped.
///
/// The batch is read as one look: if its newest news is a recovery, the episode ends (and a
/// burst that healed before anyone looked pages nobody); otherwise its failures are counted
/// and the episode is opened, kept, or reminded.
pub fn fold(
    key: &EpisodeKey,
    stored: Option<&TaskEpisode>,
    events: &[(&TaskEvent, &Verdict)],
    now: DateTime<Utc>,
    settings: &LifecycleSettings,
) -> Fold {
    let mut ordered: Vec<&(&TaskEvent, &Verdict)> = events.iter().collect();
    ordered.sort_by_key(|(event, _)| event.time().unwrap_or(now));
    let seen_before = |id: &str| stored.is_some_and(|e| e.seen.iter().any(|s| s == id));
    let mut new_failures = Vec::new();
    let mut seen_now: Vec<String> = Vec::new();
    let mut latest: Option<Latest> = None;
    for (event, verdict) in ordered {
        let id = seen_id(event);
        if id
            .as_deref()
            .is_some_and(|id| seen_before(id) || seen_now.iter().any(|s| s == id))
        {
            continue;
        }
        match verdict {
            Verdict::Failed { kind } => {
                new_failures.push(sample(event, *kind, now));
                latest = Some(Latest::Failure(*kind));
                seen_now.extend(id);
            }
            Verdict::Recovered(recovery) => latest = Some(Latest::Recovery(*recovery)),
            Verdict::SpotInterruption | Verdict::NotAFailure(_) => {}
        }
    }
    let condition = match (latest, stored.filter(|e| e.state.pending.is_some())) {
        (Some(Latest::Failure(kind)), _) => Condition::Failing(kind),
        (Some(Latest::Recovery(recovery)), _) => Condition::Ended(recovery),
        // Nothing new (a redelivery), but a notice is owed: its sender failed and released
        // the claim, or died. The episode's own state says what it is; the lifecycle sends
        // the notice once its claim is free.
        (None, Some(e)) if e.state.phase == Phase::Resolved => {
            Condition::Ended(e.resolution.unwrap_or(Recovery::SteadyState))
        }
        (None, Some(e)) => Condition::Failing(e.main_kind().unwrap_or(FailureKind::OtherFailure)),
        (None, None) => return Fold::Nothing,
    };
    // A family's episode ends with its alert: the next batch's failures are news again.
    let lifecycle_stored = stored.filter(|e| match &key.owner {
        Owner::Service(_) => true,
        Owner::Family(_) => !(e.state.alert_sent && e.state.pending.is_none()),
    });
    let first_failure = new_failures.first().map(|s| s.at);
    let counted = |mut e: TaskEpisode| {
        count(&mut e, &new_failures, &seen_now);
        e
    };
    match notice::step(
        lifecycle_stored,
        condition,
        Source::Event,
        first_failure,
        now,
        settings,
    ) {
        Change::Open(state, _) => {
            let fresh = TaskEpisode {
                key: key.clone(),
                state,
                failures: 0,
                by_kind: BTreeMap::new(),
                failures_notified: 0,
                samples: Vec::new(),
                seen: stored.map(|e| e.seen.clone()).unwrap_or_default(),
                resolution: None,
                version: stored.map_or(0, |e| e.version),
            };
            Fold::Notify(counted(fresh), Notice::Alert)
        }
        Change::Store(e) => Fold::Store(counted(e)),
        Change::Notify(e, notice) => Fold::Notify(counted(e), notice),
        Change::Resolve(e, recovery, owed) => {
            // Failures of the batch before its recovery still count in the RESOLVED's total.
            let mut e = counted(e);
            e.resolution = Some(recovery);
            match owed {
                Some(notice) => Fold::Notify(e, notice),
                None => Fold::Store(e),
            }
        }
        Change::Later => Fold::Later,
        Change::NotifyThenLater(e, notice) => Fold::NotifyThenLater(e, notice),
        // Only a sweep suspects, and only a suspicion is forgotten: neither happens here.
        Change::Nothing | Change::Suspect(..) | Change::Forget => {
            if new_failures.is_empty() {
                Fold::Nothing
            } else {
                stored
                    .cloned()
                    .map_or(Fold::Nothing, |e| Fold::Store(counted(e)))
            }
        }
    }
}

enum Latest {
    Failure(FailureKind),
    Recovery(Recovery),
}

/// Adds the batch's failures to the episode: counts, samples, and what was counted.
fn count(e: &mut TaskEpisode, failures: &[FailureSample], seen: &[String]) {
    for failure in failures {
        e.failures += 1;
        *e.by_kind.entry(failure.kind).or_insert(0) += 1;
        e.samples.push(failure.clone());
    }
    let drop = e.samples.len().saturating_sub(SAMPLES_KEPT);
    e.samples.drain(..drop);
    e.seen.extend(seen.iter().cloned());
    let drop = e.seen.len().saturating_sub(SEEN_KEPT);
    e.seen.drain(..drop);
}

/// What makes a task event unique: ECS sends the same state change more than once, with the
/// same task ARN and version. Service and deployment events carry no such counter.
fn seen_id(event: &TaskEvent) -> Option<String> {
    match event {
        TaskEvent::Task(task) => Some(format!(
            "{}#{}",
            task.task_arn,
            task.version
                .map_or_else(|| "-".to_owned(), |v| v.to_string())
        )),
        _ => None,
    }
}

fn sample(event: &TaskEvent, kind: FailureKind, now: DateTime<Utc>) -> FailureSample {
    match event {
        TaskEvent::Task(task) => FailureSample {
            at: task.stopped_at.or(task.time).unwrap_or(now),
            kind,
            task_arn: Some(task.task_arn.clone()),
            task_definition: Some(match task.revision {
                Some(revision) => format!("{}:{revision}", task.family),
                None => task.family.clone(),
            }),
            reason: task.stopped_reason.clone(),
            containers: task
                .containers
                .iter()
                .map(|c| ContainerExit {
                    name: c.name.clone(),
                    exit_code: c.exit_code,
                    reason: c.reason.clone(),
                })
                .collect(),
        },
        TaskEvent::Service(action) => FailureSample {
            at: action.time.unwrap_or(now),
            kind,
            task_arn: None,
            task_definition: None,
            reason: Some(match &action.reason {
                Some(reason) => format!("{}: {reason}", action.name),
                None => action.name.clone(),
            }),
            containers: Vec::new(),
        },
        TaskEvent::Deployment(change) => FailureSample {
            at: change.time.unwrap_or(now),
            kind,
            task_arn: None,
            task_definition: None,
            reason: change.reason.clone().or_else(|| Some(change.name.clone())),
            containers: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::classify;
    use crate::event::fixtures::{service_event, stopped_task, CLUSTER};
    use crate::event::{parse_task_event, SERVICE_ACTION};
    use chrono::{TimeDelta, TimeZone};
    use serde_json::json;

    const SETTINGS: LifecycleSettings = LifecycleSettings {
        grace: TimeDelta::zero(),
        reminder_every: Some(TimeDelta::hours(4)),
        notice_lease: TimeDelta::minutes(1),
    };

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 29, 10, 0, 0).unwrap() + TimeDelta::minutes(minute)
    }

    fn key(owner: Owner) -> EpisodeKey {
        EpisodeKey {
            cluster: ClusterArn::parse(CLUSTER).unwrap(),
            owner,
        }
    }

    fn api() -> EpisodeKey {
        key(Owner::Service("api".into()))
    }

    /// The stop of task `n` of `api` at minute `minute`, with these detail fields.
    fn stop(n: u32, minute: i64, detail: serde_json::Value) -> (TaskEvent, Verdict) {
        let mut event = stopped_task(detail);
        event["detail"]["taskArn"] = json!(format!(
            "arn:aws:ecs:us-east-1:123456789012:task/prod/{n:032x}"
        ));
        event["time"] = json!(t(minute).to_rfc3339());
        let event = parse_task_event(&event.to_string()).unwrap();
        let verdict = classify(&event);
        (event, verdict)
    }

    fn steady(minute: i64) -> (TaskEvent, Verdict) {
        let mut event = service_event(
            SERVICE_ACTION,
            json!({"eventType": "INFO", "eventName": "SERVICE_STEADY_STATE", "clusterArn": CLUSTER}),
        );
        event["time"] = json!(t(minute).to_rfc3339());
        let event = parse_task_event(&event.to_string()).unwrap();
        let verdict = classify(&event);
        (event, verdict)
    }

    fn run(
        key: &EpisodeKey,
        stored: Option<&TaskEpisode>,
        events: &[(TaskEvent, Verdict)],
        now: i64,
    ) -> Fold {
        let refs: Vec<(&TaskEvent, &Verdict)> = events.iter().map(|(e, v)| (e, v)).collect();
        fold(key, stored, &refs, t(now), &SETTINGS)
    }

    fn notified(fold: Fold) -> (TaskEpisode, Notice) {
        match fold {
            Fold::Notify(e, n) => (e, n),
            other => panic!("expected a notice, got {other:?}"),
        }
    }

    fn crash_loop(tasks: u32, from: u32) -> Vec<(TaskEvent, Verdict)> {
        (from..from + tasks)
            .map(|n| stop(n, 0, json!({})))
            .collect()
    }

    #[test]
    fn a_crash_loop_of_200_tasks_is_one_alert_that_counts_them() {
        let (e, notice) = notified(run(&api(), None, &crash_loop(200, 0), 1));
        assert_eq!(notice, Notice::Alert);
        assert_eq!(e.failures, 200);
        assert_eq!(e.by_kind[&FailureKind::ContainerExit], 200);
        assert_eq!(e.samples.len(), SAMPLES_KEPT);
        assert_eq!(e.seen.len(), 200);
        assert_eq!(e.state.phase, Phase::Open);
        assert_eq!(e.key.as_key(), format!("tasks#{CLUSTER}#service#api"));
        let sample = &e.samples[0];
        assert_eq!(sample.task_definition.as_deref(), Some("api:42"));
        assert_eq!(sample.containers[0].exit_code, Some(1));
        assert_eq!(
            sample.reason.as_deref(),
            Some("Essential container in task exited")
        );
    }

    #[test]
    fn more_failures_are_counted_without_a_new_alert_and_redeliveries_never_count() {
        let (open, _) = notified(run(&api(), None, &crash_loop(3, 0), 1));
        let open = open.sent(Notice::Alert, t(1));
        // Two new tasks and a redelivery of an old one.
        let mut batch = crash_loop(2, 3);
        batch.push(stop(0, 0, json!({})));
        let Fold::Store(more) = run(&api(), Some(&open), &batch, 5) else {
            panic!("expected a store")
        };
        assert_eq!(more.failures, 5);
        // The same batch again (SQS redelivered it): nothing changes.
        assert_eq!(run(&api(), Some(&more), &batch, 6), Fold::Nothing);
    }

    #[test]
    fn a_reminder_says_how_many_are_new_since_the_last_notice() {
        let (open, _) = notified(run(&api(), None, &crash_loop(3, 0), 1));
        let open = open.sent(Notice::Alert, t(1));
        assert_eq!(open.failures_notified, 3);
        let (reminded, notice) = notified(run(&api(), Some(&open), &crash_loop(4, 3), 245));
        assert_eq!(notice, Notice::Reminder);
        assert_eq!((reminded.failures, reminded.failures_notified), (7, 3));
        assert_eq!(reminded.sent(Notice::Reminder, t(245)).failures_notified, 7);
    }

    #[test]
    fn steady_state_resolves_once_and_only_what_was_alerted() {
        let (open, _) = notified(run(&api(), None, &crash_loop(3, 0), 1));
        let open = open.sent(Notice::Alert, t(1));
        let (resolved, notice) = notified(run(&api(), Some(&open), &[steady(10)], 10));
        assert_eq!(notice, Notice::Resolved);
        assert_eq!(resolved.resolution, Some(Recovery::SteadyState));
        let closed = resolved.sent(Notice::Resolved, t(10));
        assert_eq!(run(&api(), Some(&closed), &[steady(20)], 20), Fold::Nothing);
        // Steady state with no episode (the usual periodic report) is nothing.
        assert_eq!(run(&api(), None, &[steady(20)], 20), Fold::Nothing);
    }

    #[test]
    fn a_burst_that_healed_within_the_batch_pages_nobody() {
        let mut batch = crash_loop(3, 0);
        batch.push(steady(2));
        assert_eq!(run(&api(), None, &batch, 3), Fold::Nothing);
        // Failures after the steady state do page.
        let mut batch = vec![steady(0)];
        batch.extend((0..2).map(|n| stop(n, 1, json!({}))));
        assert!(matches!(
            run(&api(), None, &batch, 3),
            Fold::Notify(_, Notice::Alert)
        ));
    }

    #[test]
    fn not_failures_and_spot_interruptions_change_nothing() {
        let batch = vec![
            stop(
                1,
                0,
                json!({"stopCode": "ServiceSchedulerInitiated",
                "stoppedReason": "Scaling activity initiated by (deployment ecs-svc/1)"}),
            ),
            stop(2, 0, json!({"stopCode": "SpotInterruption"})),
            stop(3, 0, json!({"stopCode": "UserInitiated"})),
        ];
        assert_eq!(run(&api(), None, &batch, 1), Fold::Nothing);
    }

    #[test]
    fn a_family_alerts_once_per_batch_of_failures() {
        let nightly = key(Owner::Family("nightly-report".into()));
        let job = |n: u32| {
            stop(
                n,
                0,
                json!({"group": "family:nightly-report",
                       "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/nightly-report:7",
                       "containers": [{"name": "job", "exitCode": 2}]}),
            )
        };
        let (first, _) = notified(run(&nightly, None, &[job(1), job(2)], 1));
        let first = first.sent(Notice::Alert, t(1));
        let (second, notice) = notified(run(&nightly, Some(&first), &[job(3)], 60));
        assert_eq!(
            notice,
            Notice::Alert,
            "the next night's failure is news again"
        );
        assert_eq!(second.failures, 1, "counted afresh");
        assert_eq!(second.version, first.version, "written over the old one");
        assert_eq!(
            run(
                &nightly,
                Some(&second.sent(Notice::Alert, t(60))),
                &[job(3)],
                61
            ),
            Fold::Nothing
        );
    }

    #[test]
    fn an_owed_notice_goes_out_on_a_redelivery_that_brings_no_news() {
        let batch = crash_loop(3, 0);
        let (claimed, _) = notified(run(&api(), None, &batch, 1));
        // The publish failed and the claim was released: the same batch comes back.
        let released = claimed.released(Notice::Alert);
        let (again, notice) = notified(run(&api(), Some(&released), &batch, 2));
        assert_eq!(notice, Notice::Alert);
        assert_eq!(again.failures, 3, "not counted twice");
        // The same for a RESOLVED whose send failed.
        let (resolving, _) = notified(run(
            &api(),
            Some(&claimed.sent(Notice::Alert, t(1))),
            &[steady(5)],
            5,
        ));
        let released = resolving.released(Notice::Resolved);
        assert!(matches!(
            run(&api(), Some(&released), &[steady(5)], 6),
            Fold::Notify(_, Notice::Resolved)
        ));
        // A claim still held by its sender is left alone.
        assert_eq!(run(&api(), Some(&claimed), &batch, 1), Fold::Later);
    }

    #[test]
    fn a_claimed_alert_holds_the_batch_for_later() {
        let (claimed, _) = notified(run(&api(), None, &crash_loop(1, 0), 1));
        assert_eq!(
            run(&api(), Some(&claimed), &crash_loop(1, 5), 1),
            Fold::Later
        );
    }

    #[test]
    fn the_main_kind_is_the_most_frequent() {
        let mut batch = crash_loop(2, 0);
        batch.push(stop(
            9,
            0,
            json!({"containers": [{"name": "app", "exitCode": 137,
            "reason": "OutOfMemoryError: Container killed due to memory usage"}]}),
        ));
        batch.push(stop(
            10,
            0,
            json!({"containers": [{"name": "app", "exitCode": 137,
            "reason": "OutOfMemoryError: Container killed due to memory usage"}]}),
        ));
        batch.push(stop(
            11,
            0,
            json!({"containers": [{"name": "app", "exitCode": 137,
            "reason": "OutOfMemoryError: Container killed due to memory usage"}]}),
        ));
        let (e, _) = notified(run(&api(), None, &batch, 1));
        assert_eq!(e.main_kind(), Some(FailureKind::OutOfMemory));
    }
}
