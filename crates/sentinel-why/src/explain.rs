//! The joins: status, cause, evidence and timeline of one subject from its observations.

use crate::alert::{Alert, Alerted};
use crate::observe::Observation;
use crate::{short, Subject, Target};
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use sentinel_fleet::{FleetRecord, InstanceRecord, ServiceEventRecord, TaskRecord};
use sentinel_tasks::classify::{classify, FailureKind, Verdict};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A task that stops this soon after its instance's agent disconnected, or the instance
/// left the cluster, is blamed on the instance: ECS stops (or loses) the tasks of an
/// instance it cannot reach within minutes.
const INSTANCE_BLAME_WINDOW: TimeDelta = TimeDelta::minutes(15);
/// Verbatim reasons quoted as evidence, at most.
const REASONS_QUOTED: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Failing now: the last failure is newer than the last sign of recovery.
    Failing,
    /// Failed in the window, recovered since.
    Recovered,
    /// Known, and nothing failed in the window.
    Healthy,
    /// Nothing is known of the subject in the window.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Failing => "failing",
            Status::Recovered => "recovered",
            Status::Healthy => "healthy",
            Status::Unknown => "unknown",
        }
    }
}

/// What the failure was: one of the task monitor's ten kinds, or an instance's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CauseKind {
    Task(FailureKind),
    AgentDisconnected,
    InstanceLost,
    /// An ECS Anywhere node that SSM cannot reach either (the agent monitor's verdict).
    NodeUnreachable,
}

impl CauseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CauseKind::Task(kind) => kind.as_str(),
            CauseKind::AgentDisconnected => "agent-disconnected",
            CauseKind::InstanceLost => "instance-lost",
            CauseKind::NodeUnreachable => "node-unreachable",
        }
    }
}

impl Serialize for CauseKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cause {
    pub kind: CauseKind,
    /// One sentence.
    pub summary: String,
    /// Verbatim stop reasons, exit codes, the revision, instance ids (and, once the CLI has
    /// read them, the failed container's last log lines).
    pub evidence: Vec<String>,
    /// The container whose last log lines would show the failure, when one can be named:
    /// the CLI reads that one stream and adds its lines to the evidence.
    #[serde(skip)]
    pub quote: Option<Quote>,
}

/// Which log stream to quote: the newest failed task's failed container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub task_arn: String,
    /// Its task definition (ARN or `family:revision`), which says where it logs.
    pub task_definition: String,
    pub container: String,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Entry {
    pub time: DateTime<Utc>,
    /// Where it was read: `event-log` or `fleet-table`.
    pub source: &'static str,
    pub text: String,
}

/// `why`'s answer (its `--json` is this, serialized).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub subject: Subject,
    pub status: Status,
    pub cause: Option<Cause>,
    pub timeline: Vec<Entry>,
}

/// The subject's answer from its cluster's observations (oldest first, see
/// [`crate::observe`]) and the monitors' alert episodes, over the window from `since`.
pub fn explain(
    subject: &Subject,
    observed: &[Observation],
    alerts: &[Alert],
    since: DateTime<Utc>,
) -> Answer {
    let window: Vec<&Observation> = observed.iter().filter(|o| o.at >= since).collect();
    let instances = Instances::from(observed);
    let in_cluster = alerts.iter().filter(|a| a.in_cluster(&subject.cluster));
    let (parts, about): (Parts, Vec<&Alert>) = match &subject.what {
        Target::Service(name) => (
            service(name, &window, &instances),
            in_cluster.filter(|a| a.service() == Some(name)).collect(),
        ),
        Target::Task(id) => (task(id, &window, &instances), Vec::new()),
        Target::Instance(id) => {
            let about: Vec<&Alert> = in_cluster
                .filter(|a| a.is_about_instance(instances.find(id), id))
                .collect();
            let arn = instances.find(id).or_else(|| {
                about.iter().find_map(|a| match &a.about {
                    Alerted::Instance {
                        container_instance_arn,
                        ..
                    } => Some(container_instance_arn.as_str()),
                    Alerted::Tasks { .. } => None,
                })
            });
            (instance(arn, &window, &instances), about)
        }
    };
    let (status, cause, timeline) = with_alerts(parts, &about, since);
    Answer {
        subject: subject.clone(),
        status,
        cause,
        timeline,
    }
}

type Parts = (Status, Option<Cause>, Vec<Entry>);

// ----------------------------------------------------------------------------- alerts

/// The monitors' episodes about the subject, laid over what the events say: each notice on
/// the timeline; an open alert makes a subject the window shows nothing wrong with failing
/// (the monitor still holds it so), and names its kind; an agent monitor that found the
/// node unreachable turns a disconnected agent into an unreachable node.
fn with_alerts(
    (status, cause, mut timeline): Parts,
    alerts: &[&Alert],
    since: DateTime<Utc>,
) -> Parts {
    for alert in alerts {
        timeline.extend(alert_entries(alert).into_iter().filter(|e| e.time >= since));
    }
    timeline.sort();
    let Some(open) = alerts.iter().find(|a| a.is_open()) else {
        return (status, cause, timeline);
    };
    let held = open.opened_at.map_or_else(String::new, |at| {
        format!(
            "the {}'s alert open since {}, {} notice{} sent",
            open.monitor(),
            at.to_rfc3339(),
            open.notices_sent,
            plural(open.notices_sent as usize)
        )
    });
    let unreachable = matches!(
        open.about,
        Alerted::Instance {
            node_unreachable: true,
            ..
        }
    );
    let (status, cause) = match (status, cause) {
        (Status::Failing | Status::Recovered, Some(mut cause)) => {
            if unreachable && cause.kind == CauseKind::AgentDisconnected {
                cause.kind = CauseKind::NodeUnreachable;
                cause.summary = format!(
                    "{}; SSM cannot reach {} either: the server itself is likely down or cut off",
                    cause.summary,
                    open.target()
                );
            }
            cause.evidence.push(held);
            (status, Some(cause))
        }
        _ => {
            let kind = match &open.about {
                Alerted::Instance { .. } if unreachable => CauseKind::NodeUnreachable,
                Alerted::Instance { .. } => CauseKind::AgentDisconnected,
                Alerted::Tasks { kinds, .. } => {
                    CauseKind::Task(kinds.first().map_or(FailureKind::OtherFailure, |(k, _)| *k))
                }
            };
            let summary = match kind {
                CauseKind::NodeUnreachable => format!(
                    "{} cannot be reached, by its ECS agent or by SSM: the server itself is likely down or cut off",
                    open.target()
                ),
                CauseKind::AgentDisconnected => {
                    format!("the ECS agent on {} is disconnected", open.target())
                }
                _ => format!("{}: {}", open.target(), open.counts()),
            };
            let cause = Cause {
                kind,
                summary: format!(
                    "{summary} (the {}'s alert is open; the window shows no newer sign)",
                    open.monitor()
                ),
                evidence: vec![held],
                quote: None,
            };
            (Status::Failing, Some(cause))
        }
    };
    (status, cause, timeline)
}

/// An episode's notices on the timeline: the alert, the newest reminder, the resolution.
fn alert_entries(alert: &Alert) -> Vec<Entry> {
    let entry = |time: DateTime<Utc>, text: String| Entry {
        time,
        source: "alert-table",
        text,
    };
    let mut entries = Vec::new();
    if let (Some(at), true) = (alert.opened_at, alert.alert_sent) {
        entries.push(entry(
            at,
            format!(
                "{} alerted on {}: {}",
                alert.monitor(),
                alert.target(),
                alert.counts()
            ),
        ));
    }
    match (alert.resolved_at, alert.last_notice_at) {
        (Some(at), _) => entries.push(entry(
            at,
            format!(
                "{} resolved its alert on {}",
                alert.monitor(),
                alert.target()
            ),
        )),
        (None, Some(at)) if alert.notices_sent > 1 && Some(at) != alert.opened_at => {
            entries.push(entry(
                at,
                format!(
                    "{} reminded about {} ({} notices so far)",
                    alert.monitor(),
                    alert.target(),
                    alert.notices_sent
                ),
            ))
        }
        _ => {}
    }
    entries
}

// ----------------------------------------------------------------------------- services

fn service(name: &str, window: &[&Observation], instances: &Instances) -> Parts {
    let group = format!("service:{name}");
    let tasks: Vec<&Observation> = window
        .iter()
        .copied()
        .filter(|o| matches!(&o.record, FleetRecord::Task(t) if t.group.as_deref() == Some(&group)))
        .collect();
    let service_events: Vec<(&Observation, &ServiceEventRecord)> = window
        .iter()
        .filter_map(|o| match &o.record {
            FleetRecord::ServiceAction(s) | FleetRecord::Deployment(s) if s.service == name => {
                Some((*o, s))
            }
            _ => None,
        })
        .collect();
    let stops = Stops::of(&tasks, instances);
    let mut timeline = Timeline::default();
    for o in &tasks {
        timeline.task(o, instances);
    }
    for (o, s) in &service_events {
        timeline.service_event(o, s);
    }
    for arn in stops.instances_involved() {
        timeline.instance_history(arn, window, instances);
    }

    let failures: Vec<DateTime<Utc>> = stops
        .failed
        .iter()
        .map(|s| s.at)
        .chain(service_events.iter().filter_map(|(o, s)| {
            matches!(service_verdict(s), Some(Verdict::Failed { .. })).then_some(o.at)
        }))
        .collect();
    let recoveries: Vec<DateTime<Utc>> = service_events
        .iter()
        .filter(|(_, s)| matches!(service_verdict(s), Some(Verdict::Recovered(_))))
        .map(|(o, _)| o.at)
        .collect();
    let known = !tasks.is_empty() || !service_events.is_empty();
    let status = status_of(known, &failures, &recoveries);
    let cause = match status {
        Status::Failing | Status::Recovered => Some(service_cause(
            name,
            &stops,
            instances,
            &service_events,
            &tasks,
            status,
            &failures,
            &recoveries,
        )),
        Status::Healthy | Status::Unknown => None,
    };
    (status, cause, timeline.done())
}

/// Whether `recovery` came after `failure`. A recovery in the same second counts: service
/// events carry whole seconds while a task's stop has milliseconds, and ECS reports a
/// steady state only after what failed before it.
fn recovered_after(recovery: DateTime<Utc>, failure: DateTime<Utc>) -> bool {
    recovery.trunc_subsecs(0) >= failure.trunc_subsecs(0)
}

fn status_of(known: bool, failures: &[DateTime<Utc>], recoveries: &[DateTime<Utc>]) -> Status {
    match failures.iter().max() {
        None if known => Status::Healthy,
        None => Status::Unknown,
        Some(last) if recoveries.iter().any(|r| recovered_after(*r, *last)) => Status::Recovered,
        Some(_) => Status::Failing,
    }
}

/// The task monitor's verdict on a service action or deployment change.
fn service_verdict(s: &ServiceEventRecord) -> Option<Verdict> {
    let parsed = sentinel_tasks::event::parse_task_event(&as_event(s)).ok()?;
    Some(classify(&parsed))
}

#[allow(clippy::too_many_arguments)]
fn service_cause(
    name: &str,
    stops: &Stops,
    instances: &Instances,
    service_events: &[(&Observation, &ServiceEventRecord)],
    tasks: &[&Observation],
    status: Status,
    failures: &[DateTime<Utc>],
    recoveries: &[DateTime<Utc>],
) -> Cause {
    // The failures the stops themselves show: the kind most of them had, with its reasons,
    // the revision it began with, and the log worth quoting.
    let crashes = stops.dominant_kind().map(|kind| {
        let of_kind: Vec<&Stop> = stops
            .failed
            .iter()
            .filter(|s| s.kind == Some(kind))
            .collect();
        let mut evidence = quoted_reasons(&of_kind);
        let revisions: BTreeSet<&str> = of_kind.iter().filter_map(|s| s.revision()).collect();
        let mut summary = format!(
            "{} task{} of {name} stopped: {}",
            of_kind.len(),
            plural(of_kind.len()),
            what_happened(kind)
        );
        if let Some((new, before)) = new_revision(tasks, &of_kind) {
            summary = format!("{summary}; it began with revision {new} (before: {before})");
        }
        evidence.extend(revisions.iter().map(|r| format!("revision {r}")));
        Cause {
            kind: CauseKind::Task(kind),
            summary,
            evidence,
            quote: of_kind.last().and_then(|stop| stop.quote()),
        }
    });
    let mut cause = if let Some(blamed) = stops.blamed_on_instances(instances) {
        blamed
    } else if let Some(mut failed) = failed_deployment(service_events) {
        // The deployment failed because its tasks did: say how, with their evidence.
        if let Some(crashes) = crashes {
            failed.summary = format!("{}, after {}", failed.summary, crashes.summary);
            failed.evidence.extend(crashes.evidence);
            failed.quote = crashes.quote;
        }
        failed
    } else if let Some(crashes) = crashes {
        crashes
    } else {
        // Only the service's own events failed (placement, start impaired).
        service_events_cause(name, service_events)
    };
    if status == Status::Recovered {
        if let (Some(first), Some(last)) = (failures.iter().min(), failures.iter().max()) {
            if let Some(recovered) = recoveries
                .iter()
                .filter(|r| recovered_after(**r, *last))
                .min()
            {
                cause.summary = format!(
                    "{}. Recovered at {}, after {} down.",
                    cause.summary.trim_end_matches('.'),
                    recovered.to_rfc3339(),
                    duration(*recovered - *first)
                );
            }
        }
    }
    cause
}

/// The newest failure the service's own events report (placement, start impaired).
fn service_events_cause(
    name: &str,
    service_events: &[(&Observation, &ServiceEventRecord)],
) -> Cause {
    let failed = service_events
        .iter()
        .rev()
        .find_map(|(o, s)| match service_verdict(s) {
            Some(Verdict::Failed { kind }) => Some((*o, *s, kind)),
            _ => None,
        });
    match failed {
        Some((o, s, kind)) => Cause {
            kind: CauseKind::Task(kind),
            summary: format!("{name}: {}", what_happened(kind)),
            evidence: [
                Some(s.event_name.clone()),
                s.reason.clone(),
                Some(format!("at {}", o.at.to_rfc3339())),
            ]
            .into_iter()
            .flatten()
            .collect(),
            quote: None,
        },
        None => Cause {
            kind: CauseKind::Task(FailureKind::OtherFailure),
            summary: format!("{name}: {}", what_happened(FailureKind::OtherFailure)),
            evidence: Vec::new(),
            quote: None,
        },
    }
}

/// The newest failed deployment: which, why, and whether it rolled back.
fn failed_deployment(service_events: &[(&Observation, &ServiceEventRecord)]) -> Option<Cause> {
    let (_, failed) = service_events
        .iter()
        .rev()
        .find(|(_, s)| s.event_name == "SERVICE_DEPLOYMENT_FAILED")?;
    let reason = failed.reason.clone().unwrap_or_default();
    let rolled_back = reason.to_ascii_lowercase().contains("rolling back")
        || reason.to_ascii_lowercase().contains("rolled back")
        || service_events
            .iter()
            .any(|(_, s)| s.event_name.starts_with("SERVICE_DEPLOYMENT_ROLLBACK"));
    let deployment = failed.deployment_id.as_deref().unwrap_or("(unnamed)");
    Some(Cause {
        kind: CauseKind::Task(FailureKind::DeploymentFailed),
        summary: format!(
            "deployment {deployment} of {} failed{}",
            failed.service,
            if rolled_back {
                " and was rolled back"
            } else {
                "; no rollback was seen"
            }
        ),
        evidence: [format!("deployment {deployment}"), reason]
            .into_iter()
            .filter(|e| !e.is_empty())
            .collect(),
        quote: None,
    })
}

/// The revision the failing tasks ran, when the tasks that ran before the first failure
/// ran another: (new, before).
fn new_revision(tasks: &[&Observation], failing: &[&Stop]) -> Option<(String, String)> {
    let first_failure = failing.iter().map(|s| s.at).min()?;
    let failing_revisions: BTreeSet<&str> = failing.iter().filter_map(|s| s.revision()).collect();
    let [new] = failing_revisions.into_iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    let before = tasks
        .iter()
        .filter(|o| o.at < first_failure)
        .filter_map(|o| match &o.record {
            FleetRecord::Task(t) => t.task_definition_arn.as_deref(),
            _ => None,
        })
        .rfind(|r| *r != new)?;
    Some((revision_name(new), revision_name(before)))
}

// ----------------------------------------------------------------------------- tasks

fn task(id: &str, window: &[&Observation], instances: &Instances) -> Parts {
    let tasks: Vec<&Observation> = window
        .iter()
        .copied()
        .filter(|o| matches!(&o.record, FleetRecord::Task(t) if t.task_arn == id || short(&t.task_arn) == id))
        .collect();
    let stops = Stops::of(&tasks, instances);
    let mut timeline = Timeline::default();
    for o in &tasks {
        timeline.task(o, instances);
    }
    for arn in stops.instances_involved() {
        timeline.instance_history(arn, window, instances);
    }
    if tasks.is_empty() {
        return (Status::Unknown, None, timeline.done());
    }
    let cause = stops.blamed_on_instances(instances).or_else(|| {
        let stop = stops.failed.last()?;
        let kind = stop.kind?;
        let mut evidence = quoted_reasons(&[stop]);
        evidence.extend(stop.revision().map(|r| format!("revision {r}")));
        Some(Cause {
            kind: CauseKind::Task(kind),
            summary: format!("task {} stopped: {}", short(id), what_happened(kind)),
            evidence,
            quote: stop.quote(),
        })
    });
    let status = if cause.is_some() {
        Status::Failing
    } else {
        Status::Healthy
    };
    (status, cause, timeline.done())
}

// ----------------------------------------------------------------------------- instances

fn instance(arn: Option<&str>, window: &[&Observation], instances: &Instances) -> Parts {
    let Some(arn) = arn else {
        return (Status::Unknown, None, Vec::new());
    };
    let mut timeline = Timeline::default();
    timeline.instance_history(arn, window, instances);
    let stopped_here: Vec<&Observation> = window
        .iter()
        .copied()
        .filter(|o| {
            matches!(&o.record, FleetRecord::Task(t)
                if t.last_status == "STOPPED" && t.container_instance_arn.as_deref() == Some(arn))
        })
        .collect();
    for o in &stopped_here {
        timeline.task(o, instances);
    }
    let history: Vec<(&Observation, &InstanceRecord)> = window
        .iter()
        .filter_map(|o| match &o.record {
            FleetRecord::Instance(i) if i.container_instance_arn == arn => Some((*o, i)),
            _ => None,
        })
        .collect();
    let Some((latest_o, latest)) = history.last().copied() else {
        let status = if instances.latest(arn).is_some() {
            Status::Healthy
        } else {
            Status::Unknown
        };
        return (status, None, timeline.done());
    };
    let name = instances.name(arn);
    let lost = left_cluster(latest) || latest_o.gone;
    let down_since = history
        .iter()
        .rev()
        .take_while(|(_, i)| !i.agent_connected)
        .last()
        .map(|(o, _)| o.at);
    let stopped = stopped_here.len();
    let evidence = |since: DateTime<Utc>| {
        let mut e = vec![format!("{name} ({})", short(arn))];
        e.push(format!("since {}", since.to_rfc3339()));
        if stopped > 0 {
            e.push(format!("{stopped} task{} stopped on it", plural(stopped)));
        }
        e
    };
    let (status, cause) = if lost {
        (
            Status::Failing,
            Some(Cause {
                kind: CauseKind::InstanceLost,
                summary: format!("{name} left the cluster ({})", latest.status),
                evidence: evidence(latest_o.at),
                quote: None,
            }),
        )
    } else if let Some(since) = down_since {
        (
            Status::Failing,
            Some(Cause {
                kind: CauseKind::AgentDisconnected,
                summary: format!("the ECS agent on {name} is disconnected"),
                evidence: evidence(since),
                quote: None,
            }),
        )
    } else if let Some(((down_o, _), (up_o, _))) = last_outage(&history) {
        (
            Status::Recovered,
            Some(Cause {
                kind: CauseKind::AgentDisconnected,
                summary: format!(
                    "the ECS agent on {name} disconnected at {} and reconnected at {}, after {}",
                    down_o.at.to_rfc3339(),
                    up_o.at.to_rfc3339(),
                    duration(up_o.at - down_o.at)
                ),
                evidence: evidence(down_o.at),
                quote: None,
            }),
        )
    } else {
        (Status::Healthy, None)
    };
    (status, cause, timeline.done())
}

type Seen<'a> = (&'a Observation, &'a InstanceRecord);

/// The newest disconnect that was followed by a reconnect: (first down, first up after).
fn last_outage<'a>(history: &[Seen<'a>]) -> Option<(Seen<'a>, Seen<'a>)> {
    let up = history
        .iter()
        .enumerate()
        .rev()
        .find(|(n, (_, i))| i.agent_connected && *n > 0 && !history[n - 1].1.agent_connected)?;
    let down = history[..up.0]
        .iter()
        .rev()
        .take_while(|(_, i)| !i.agent_connected)
        .last()?;
    Some((*down, *up.1))
}

fn left_cluster(i: &InstanceRecord) -> bool {
    matches!(i.status.as_str(), "INACTIVE" | "DEREGISTERING")
}

// ----------------------------------------------------------------------------- stops

/// A task's stop, classified and joined with its instance.
struct Stop<'a> {
    at: DateTime<Utc>,
    task: &'a TaskRecord,
    /// The task monitor's verdict, when it is a failure.
    kind: Option<FailureKind>,
    /// The instance's trouble shortly before: (cause, instance ARN, when).
    instance_trouble: Option<(CauseKind, &'a str, DateTime<Utc>)>,
}

impl Stop<'_> {
    fn revision(&self) -> Option<&str> {
        self.task.task_definition_arn.as_deref()
    }

    /// The log stream worth quoting: the failed container's, when the kind of failure is
    /// one a container logs about (not an image pull, a placement or a deployment) and the
    /// task says which container failed (a non-zero exit, else a reason).
    fn quote(&self) -> Option<Quote> {
        let logged = matches!(
            self.kind?,
            FailureKind::ContainerExit
                | FailureKind::OutOfMemory
                | FailureKind::ContainerHealthCheck
                | FailureKind::ElbHealthCheck
                | FailureKind::OtherFailure
        );
        let t = self.task;
        let container = t
            .containers
            .iter()
            .find(|c| c.exit_code.is_some_and(|code| code != 0))
            .or_else(|| t.containers.iter().find(|c| c.reason.is_some()))?;
        logged
            .then(|| Quote {
                task_arn: t.task_arn.clone(),
                task_definition: t.task_definition_arn.clone().unwrap_or_default(),
                container: container.name.clone(),
            })
            .filter(|q| !q.task_definition.is_empty())
    }
}

struct Stops<'a> {
    /// Stops that failed, or that followed their instance's trouble, oldest first.
    failed: Vec<Stop<'a>>,
}

impl<'a> Stops<'a> {
    fn of(tasks: &[&'a Observation], instances: &Instances<'a>) -> Self {
        let mut seen = BTreeSet::new();
        let mut failed = Vec::new();
        for o in tasks {
            let FleetRecord::Task(t) = &o.record else {
                continue;
            };
            // The same stop read from the log and from the table counts once.
            if t.last_status != "STOPPED" || !seen.insert(t.task_arn.as_str()) {
                continue;
            }
            let kind =
                match sentinel_tasks::event::parse_task_event(&as_event(t)).map(|e| classify(&e)) {
                    Ok(Verdict::Failed { kind }) => Some(kind),
                    _ => None,
                };
            let instance_trouble = t
                .container_instance_arn
                .as_deref()
                .and_then(|arn| instances.trouble_before(arn, o.at));
            if kind.is_some() || instance_trouble.is_some() {
                failed.push(Stop {
                    at: o.at,
                    task: t,
                    kind,
                    instance_trouble,
                });
            }
        }
        Stops { failed }
    }

    fn instances_involved(&self) -> BTreeSet<&'a str> {
        self.failed
            .iter()
            .filter_map(|s| s.task.container_instance_arn.as_deref())
            .collect()
    }

    /// When most failed stops followed their instance's trouble: the instance is the cause.
    fn blamed_on_instances(&self, instances: &Instances) -> Option<Cause> {
        let blamed: Vec<&Stop> = self
            .failed
            .iter()
            .filter(|s| s.instance_trouble.is_some())
            .collect();
        if blamed.is_empty() || blamed.len() * 2 < self.failed.len() {
            return None;
        }
        let mut by_instance: BTreeMap<&str, (CauseKind, DateTime<Utc>, usize)> = BTreeMap::new();
        for stop in &blamed {
            if let Some((kind, arn, at)) = stop.instance_trouble {
                by_instance.entry(arn).or_insert((kind, at, 0)).2 += 1;
            }
        }
        let kind = if by_instance
            .values()
            .any(|(k, _, _)| *k == CauseKind::InstanceLost)
        {
            CauseKind::InstanceLost
        } else {
            CauseKind::AgentDisconnected
        };
        let what = match kind {
            CauseKind::InstanceLost => "left the cluster",
            _ => "lost its ECS agent",
        };
        let names: Vec<String> = by_instance.keys().map(|arn| instances.name(arn)).collect();
        let mut evidence: Vec<String> = by_instance
            .iter()
            .map(|(arn, (k, at, n))| {
                format!(
                    "{}: {} at {}, {n} task{} stopped after",
                    instances.name(arn),
                    match k {
                        CauseKind::InstanceLost => "left the cluster",
                        _ => "agent disconnected",
                    },
                    at.to_rfc3339(),
                    plural(*n)
                )
            })
            .collect();
        evidence.extend(quoted_reasons(&blamed));
        Some(Cause {
            kind,
            summary: format!(
                "{} task{} stopped after {} {what} shortly before",
                blamed.len(),
                plural(blamed.len()),
                names.join(", ")
            ),
            evidence,
            quote: None,
        })
    }

    /// The kind most failed stops had (the newest one on a tie).
    fn dominant_kind(&self) -> Option<FailureKind> {
        let mut counts: BTreeMap<&'static str, (usize, DateTime<Utc>, FailureKind)> =
            BTreeMap::new();
        for stop in &self.failed {
            if let Some(kind) = stop.kind {
                let entry = counts.entry(kind.as_str()).or_insert((0, stop.at, kind));
                entry.0 += 1;
                entry.1 = entry.1.max(stop.at);
            }
        }
        counts
            .into_values()
            .max_by_key(|(n, newest, _)| (*n, *newest))
            .map(|(_, _, kind)| kind)
    }
}

/// Distinct verbatim reasons (the stop's, then its containers' with their exit codes), the
/// newest stops first.
fn quoted_reasons(stops: &[&Stop]) -> Vec<String> {
    let mut quoted: Vec<String> = Vec::new();
    for stop in stops.iter().rev() {
        let t = stop.task;
        let lines =
            t.stopped_reason
                .iter()
                .cloned()
                .chain(t.containers.iter().filter_map(|c| {
                    match (c.exit_code, c.reason.as_deref()) {
                        (Some(code), Some(reason)) => {
                            Some(format!("{} exited {code}: {reason}", c.name))
                        }
                        (Some(code), None) if code != 0 => {
                            Some(format!("{} exited {code}", c.name))
                        }
                        (None, Some(reason)) => Some(format!("{}: {reason}", c.name)),
                        _ => None,
                    }
                }));
        for line in lines {
            if !quoted.contains(&line) && quoted.len() < REASONS_QUOTED {
                quoted.push(line);
            }
        }
    }
    quoted
}

// ----------------------------------------------------------------------------- instances

/// Every container instance's observed history, by ARN, oldest first.
struct Instances<'a> {
    history: BTreeMap<&'a str, Vec<(&'a Observation, &'a InstanceRecord)>>,
}

impl<'a> From<&'a [Observation]> for Instances<'a> {
    fn from(observed: &'a [Observation]) -> Self {
        let mut history: BTreeMap<&str, Vec<_>> = BTreeMap::new();
        for o in observed {
            if let FleetRecord::Instance(i) = &o.record {
                history
                    .entry(i.container_instance_arn.as_str())
                    .or_default()
                    .push((o, i));
            }
        }
        Instances { history }
    }
}

impl<'a> Instances<'a> {
    fn latest(&self, arn: &str) -> Option<&'a InstanceRecord> {
        self.history.get(arn)?.last().map(|(_, i)| *i)
    }

    /// The ARN of the instance `id` names: its EC2 or managed node id, container instance
    /// id or ARN.
    fn find(&self, id: &str) -> Option<&'a str> {
        self.history.iter().find_map(|(arn, seen)| {
            let named = *arn == id
                || short(arn) == id
                || seen
                    .iter()
                    .any(|(_, i)| i.ec2_instance_id.as_deref() == Some(id));
            named.then_some(*arn)
        })
    }

    /// What people call it: the EC2 instance or managed node id, else the container
    /// instance id.
    fn name(&self, arn: &str) -> String {
        self.history
            .get(arn)
            .and_then(|seen| {
                seen.iter()
                    .rev()
                    .find_map(|(_, i)| i.ec2_instance_id.clone())
            })
            .unwrap_or_else(|| short(arn).to_owned())
    }

    /// The instance's trouble within the blame window before `at`: it left the cluster, or
    /// its agent disconnected (and had not reconnected by `at`).
    fn trouble_before(
        &self,
        arn: &'a str,
        at: DateTime<Utc>,
    ) -> Option<(CauseKind, &'a str, DateTime<Utc>)> {
        let seen = self.history.get(arn)?;
        let before: Vec<_> = seen.iter().filter(|(o, _)| o.at <= at).collect();
        let (latest_o, latest) = before.last()?;
        if left_cluster(latest) && at - latest_o.at <= INSTANCE_BLAME_WINDOW {
            return Some((CauseKind::InstanceLost, arn, latest_o.at));
        }
        if latest.agent_connected {
            return None;
        }
        // The first look of this disconnect.
        let down = before
            .iter()
            .rev()
            .take_while(|(_, i)| !i.agent_connected)
            .last()?;
        (at - down.0.at <= INSTANCE_BLAME_WINDOW).then_some((
            CauseKind::AgentDisconnected,
            arn,
            down.0.at,
        ))
    }
}

// ----------------------------------------------------------------------------- timeline

#[derive(Default)]
struct Timeline {
    entries: BTreeSet<Entry>,
}

impl Timeline {
    fn add(&mut self, o: &Observation, text: String) {
        self.entries.insert(Entry {
            time: o.at,
            source: o.origin.as_str(),
            text,
        });
    }

    fn task(&mut self, o: &Observation, instances: &Instances) {
        let FleetRecord::Task(t) = &o.record else {
            return;
        };
        let on = t
            .container_instance_arn
            .as_deref()
            .map(|arn| format!(" on {}", instances.name(arn)))
            .unwrap_or_default();
        let revision = t
            .task_definition_arn
            .as_deref()
            .map(|r| format!(" ({})", revision_name(r)))
            .unwrap_or_default();
        let id = short(&t.task_arn);
        match t.last_status.as_str() {
            "RUNNING" => self.add(o, format!("task {id}{revision} running{on}")),
            "STOPPED" => {
                let mut text = format!("task {id}{revision} stopped{on}");
                if let Some(code) = &t.stop_code {
                    text.push_str(&format!(": {code}"));
                }
                if let Some(reason) = &t.stopped_reason {
                    text.push_str(&format!(": {reason}"));
                }
                for c in &t.containers {
                    if let Some(code) = c.exit_code.filter(|code| *code != 0) {
                        text.push_str(&format!("; {} exited {code}", c.name));
                    }
                }
                self.add(o, text);
            }
            // Provisioning, pending, stopping: the start and the stop tell the story.
            _ => {}
        }
    }

    fn service_event(&mut self, o: &Observation, s: &ServiceEventRecord) {
        let mut text = match &s.deployment_id {
            Some(id) => format!("{} {}: deployment {id}", s.service, s.event_name),
            None => format!("{} {}", s.service, s.event_name),
        };
        if let Some(reason) = &s.reason {
            text.push_str(&format!(": {reason}"));
        }
        self.add(o, text);
    }

    /// The instance's agent flips and status changes in the window.
    fn instance_history(&mut self, arn: &str, window: &[&Observation], instances: &Instances) {
        let name = instances.name(arn);
        let mut previous: Option<&InstanceRecord> = None;
        for o in window {
            let FleetRecord::Instance(i) = &o.record else {
                continue;
            };
            if i.container_instance_arn != arn {
                continue;
            }
            let changed = previous
                .is_none_or(|p| p.agent_connected != i.agent_connected || p.status != i.status);
            if changed {
                let agent = if i.agent_connected {
                    "agent connected"
                } else {
                    "agent DISCONNECTED"
                };
                self.add(o, format!("instance {name} {}: {agent}", i.status));
            }
            previous = Some(i);
        }
    }

    /// Oldest first; what both sources say is shown once, as the event log's (which sorts
    /// before the table's at the same moment).
    fn done(self) -> Vec<Entry> {
        let mut lines: Vec<Entry> = Vec::with_capacity(self.entries.len());
        for entry in self.entries {
            let repeated = lines
                .iter()
                .rev()
                .take_while(|kept| kept.time == entry.time)
                .any(|kept| kept.text == entry.text);
            if !repeated {
                lines.push(entry);
            }
        }
        lines
    }
}

// ----------------------------------------------------------------------------- words

/// The record as an ECS event, so the task monitor's own parser and classifier read it:
/// the fleet's JSON keeps the event's field names.
fn as_event<T: Serialize>(detail: &T) -> String {
    let detail = serde_json::to_value(detail).unwrap_or_default();
    let detail_type = if detail.get("taskArn").is_some() {
        sentinel_fleet::record::TASK_STATE_CHANGE
    } else if detail.get("deploymentId").is_some()
        && detail.get("eventName").is_some_and(|n| {
            n.as_str()
                .is_some_and(|n| n.starts_with("SERVICE_DEPLOYMENT"))
        })
    {
        sentinel_fleet::record::DEPLOYMENT_STATE_CHANGE
    } else {
        sentinel_fleet::record::SERVICE_ACTION
    };
    let resources = detail
        .get("serviceArn")
        .cloned()
        .map(|arn| vec![arn])
        .unwrap_or_default();
    serde_json::json!({
        "version": "0", "id": "why", "detail-type": detail_type, "source": "aws.ecs",
        "account": "000000000000", "time": detail.get("at").cloned()
            .or_else(|| detail.get("updatedAt").cloned())
            .unwrap_or(serde_json::Value::Null),
        "region": "us-east-1", "resources": resources, "detail": detail,
    })
    .to_string()
}

/// `api:7` from `arn:aws:ecs:…:task-definition/api:7`.
fn revision_name(arn: &str) -> String {
    short(arn).to_owned()
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn duration(d: TimeDelta) -> String {
    let minutes = d.num_minutes();
    match minutes {
        m if m < 1 => format!("{} s", d.num_seconds().max(0)),
        m if m < 120 => format!("{m} min"),
        m => format!("{} h {} min", m / 60, m % 60),
    }
}

/// What a kind of failure means, in words.
fn what_happened(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::ImagePull => "the image could not be pulled",
        FailureKind::ResourceInit => "what the task needs before it starts could not be set up",
        FailureKind::OutOfMemory => "a container ran out of memory",
        FailureKind::ContainerExit => "an essential container exited",
        FailureKind::ElbHealthCheck => "the load balancer's health checks failed",
        FailureKind::ContainerHealthCheck => "the container's own health check failed",
        FailureKind::Placement => "no capacity could place its tasks",
        FailureKind::StartImpaired => "ECS could not start its tasks consistently",
        FailureKind::DeploymentFailed => "its deployment failed",
        FailureKind::OtherFailure => "it failed for a reason ECS gave (see the evidence)",
    }
}

#[cfg(test)]
mod tests;
