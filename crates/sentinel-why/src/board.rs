//! What `ecs-sentinel top` shows of the fleet at a glance, from the same observations as
//! `why`: agents down, services failing with their cause, the latest stopped tasks.

use crate::alert::Alert;
use crate::explain::{explain, Answer, Status};
use crate::observe::Observation;
use crate::{short, Subject, Target};
use chrono::{DateTime, Utc};
use sentinel_fleet::{FleetRecord, InstanceRecord};
use std::collections::{BTreeMap, BTreeSet};

/// An instance whose agent is disconnected now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDown {
    pub cluster: String,
    /// The EC2 instance or managed node id, else the container instance id.
    pub instance: String,
    /// The first look of this disconnect.
    pub since: DateTime<Utc>,
}

/// A service that failed in the window, with `why`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trouble {
    pub cluster: String,
    pub service: String,
    pub answer: Answer,
}

impl Trouble {
    /// The cause's kind, or `-`.
    pub fn kind(&self) -> &'static str {
        self.answer.cause.as_ref().map_or("-", |c| c.kind.as_str())
    }
}

/// A task that stopped in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    pub at: DateTime<Utc>,
    pub cluster: String,
    /// `service:api`, `family:job`, or `-`.
    pub group: String,
    pub task: String,
    pub reason: String,
}

/// The fleet's trouble: failing services first, then recovered ones; agents down; stopped
/// tasks newest first (at most `stopped_shown`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Board {
    pub agents_down: Vec<AgentDown>,
    pub troubles: Vec<Trouble>,
    pub stopped: Vec<Stopped>,
    /// The monitors' alerts still open, oldest first.
    pub open_alerts: Vec<Alert>,
    /// Services seen in the window, failing or not.
    pub services_seen: usize,
}

/// The board of every cluster in `observed` or `alerts`, over the window from `since`.
pub fn board(
    observed: &[Observation],
    alerts: &[Alert],
    since: DateTime<Utc>,
    stopped_shown: usize,
) -> Board {
    let mut by_cluster: BTreeMap<&str, Vec<Observation>> = BTreeMap::new();
    for o in observed {
        by_cluster
            .entry(o.record.cluster_arn())
            .or_default()
            .push(o.clone());
    }
    for alert in alerts.iter().filter(|a| a.is_open()) {
        by_cluster.entry(&alert.cluster_arn).or_default();
    }
    let mut board = Board::default();
    for (cluster, seen) in &by_cluster {
        let name = short(cluster).to_owned();
        let cluster_alerts: Vec<Alert> = alerts
            .iter()
            .filter(|a| a.cluster_arn == *cluster)
            .cloned()
            .collect();
        board.agents_down.extend(agents_down(&name, seen));
        let mut services = services_in(seen, since);
        // A service the task monitor still holds failing, though the window shows nothing.
        services.extend(
            cluster_alerts
                .iter()
                .filter(|a| a.is_open())
                .filter_map(|a| a.service().map(str::to_owned)),
        );
        board.services_seen += services.len();
        for service in services {
            let subject = Subject {
                cluster: name.clone(),
                what: Target::Service(service.clone()),
            };
            let answer = explain(&subject, seen, &cluster_alerts, since);
            if matches!(answer.status, Status::Failing | Status::Recovered) {
                board.troubles.push(Trouble {
                    cluster: name.clone(),
                    service,
                    answer,
                });
            }
        }
        board.stopped.extend(stopped_in(&name, seen, since));
    }
    board.troubles.sort_by_key(|t| {
        (
            t.answer.status != Status::Failing,
            t.cluster.clone(),
            t.service.clone(),
        )
    });
    board.stopped.sort_by_key(|s| std::cmp::Reverse(s.at));
    board.stopped.truncate(stopped_shown);
    board.open_alerts = alerts.iter().filter(|a| a.is_open()).cloned().collect();
    board.open_alerts.sort_by_key(|a| a.opened_at);
    board
}

/// Each instance whose newest state says its agent is disconnected (and it is still in the
/// cluster), since the first look of that disconnect.
fn agents_down(cluster: &str, seen: &[Observation]) -> Vec<AgentDown> {
    let mut history: BTreeMap<&str, Vec<(&Observation, &InstanceRecord)>> = BTreeMap::new();
    for o in seen {
        if let FleetRecord::Instance(i) = &o.record {
            history
                .entry(&i.container_instance_arn)
                .or_default()
                .push((o, i));
        }
    }
    history
        .into_iter()
        .filter_map(|(arn, looks)| {
            let (last_o, last) = looks.last()?;
            if last.agent_connected || last.status != "ACTIVE" || last_o.gone {
                return None;
            }
            let since = looks
                .iter()
                .rev()
                .take_while(|(_, i)| !i.agent_connected)
                .last()
                .map_or(last_o.at, |(o, _)| o.at);
            let instance = looks
                .iter()
                .rev()
                .find_map(|(_, i)| i.ec2_instance_id.clone())
                .unwrap_or_else(|| short(arn).to_owned());
            Some(AgentDown {
                cluster: cluster.to_owned(),
                instance,
                since,
            })
        })
        .collect()
}

/// The services with a task or an event in the window.
fn services_in(seen: &[Observation], since: DateTime<Utc>) -> BTreeSet<String> {
    seen.iter()
        .filter(|o| o.at >= since)
        .filter_map(|o| match &o.record {
            FleetRecord::Task(t) => t
                .group
                .as_deref()?
                .strip_prefix("service:")
                .map(str::to_owned),
            FleetRecord::ServiceAction(s) | FleetRecord::Deployment(s) => Some(s.service.clone()),
            FleetRecord::Instance(_) => None,
        })
        .collect()
}

/// The tasks that stopped in the window, once each (the log and the table may both know a
/// stop).
fn stopped_in(cluster: &str, seen: &[Observation], since: DateTime<Utc>) -> Vec<Stopped> {
    let mut once = BTreeSet::new();
    seen.iter()
        .filter(|o| o.at >= since)
        .filter_map(|o| match &o.record {
            FleetRecord::Task(t) if t.last_status == "STOPPED" && once.insert(&t.task_arn) => {
                let exits: Vec<String> = t
                    .containers
                    .iter()
                    .filter_map(|c| {
                        c.exit_code
                            .filter(|code| *code != 0)
                            .map(|code| format!("{} exited {code}", c.name))
                    })
                    .collect();
                let reason = t
                    .stopped_reason
                    .iter()
                    .cloned()
                    .chain(exits)
                    .collect::<Vec<_>>()
                    .join("; ");
                Some(Stopped {
                    at: o.at,
                    cluster: cluster.to_owned(),
                    group: t.group.clone().unwrap_or_else(|| "-".to_owned()),
                    task: short(&t.task_arn).to_owned(),
                    reason,
                })
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::observe;
    use chrono::TimeDelta;
    use serde_json::{json, Value};

    const PROD: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
    const EDGE: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/edge";

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T01:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
            + TimeDelta::minutes(minute)
    }

    fn stop(cluster: &str, n: u32, service: &str, minute: i64, reason: &str, exit: i64) -> Value {
        let time = at(minute).to_rfc3339();
        json!({"version": "0", "id": format!("s{n}"), "detail-type": "ECS Task State Change",
            "source": "aws.ecs", "account": "123456789012", "time": time, "region": "us-east-1",
            "resources": [], "detail": {"clusterArn": cluster,
            "taskArn": format!("arn:aws:ecs:us-east-1:123456789012:task/x/{n:032x}"),
            "group": format!("service:{service}"),
            "taskDefinitionArn": format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{service}:1"),
            "lastStatus": "STOPPED", "stopCode": "EssentialContainerExited", "stoppedReason": reason,
            "containers": [{"name": "app", "exitCode": exit}], "stoppedAt": time, "updatedAt": time,
            "version": 3}})
    }

    fn agent(cluster: &str, id: &str, minute: i64, connected: bool, version: u64) -> Value {
        json!({"version": "0", "id": format!("a{minute}"), "detail-type": "ECS Container Instance State Change",
            "source": "aws.ecs", "account": "123456789012", "time": at(minute).to_rfc3339(),
            "region": "us-east-1", "resources": [], "detail": {"clusterArn": cluster,
            "containerInstanceArn": format!("arn:aws:ecs:us-east-1:123456789012:container-instance/x/{id}"),
            "ec2InstanceId": format!("i-{id}"), "status": "ACTIVE", "agentConnected": connected,
            "version": version, "updatedAt": at(minute).to_rfc3339()}})
    }

    #[test]
    fn the_board_shows_every_clusters_trouble_newest_first() {
        let events = vec![
            agent(PROD, "0a", 0, true, 1),
            agent(PROD, "0a", 10, false, 2),
            agent(PROD, "0a", 12, false, 3),
            agent(EDGE, "0b", 5, false, 1),
            agent(EDGE, "0b", 9, true, 2),
            stop(PROD, 1, "api", 20, "Essential container in task exited", 1),
            stop(
                EDGE,
                2,
                "web",
                30,
                "OutOfMemoryError: Container killed",
                137,
            ),
        ];
        let board = board(&observe(None, &events, &[]), &[], at(-60), 10);
        assert_eq!(
            board.agents_down,
            vec![AgentDown {
                cluster: "prod".into(),
                instance: "i-0a".into(),
                since: at(10)
            }],
            "edge's agent reconnected"
        );
        let troubles: Vec<(&str, &str, &str)> = board
            .troubles
            .iter()
            .map(|t| (t.cluster.as_str(), t.service.as_str(), t.kind()))
            .collect();
        assert_eq!(
            troubles,
            [
                ("edge", "web", "out-of-memory"),
                ("prod", "api", "container-exit")
            ]
        );
        assert_eq!(board.services_seen, 2);
        let stopped: Vec<(&str, &str)> = board
            .stopped
            .iter()
            .map(|s| (s.cluster.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            stopped,
            [
                ("edge", "OutOfMemoryError: Container killed; app exited 137"),
                ("prod", "Essential container in task exited; app exited 1")
            ]
        );
        let one = board_of_one(&events);
        assert_eq!(one.stopped.len(), 1, "at most as many stops as asked");
    }

    fn board_of_one(events: &[Value]) -> Board {
        board(&observe(None, events, &[]), &[], at(-60), 1)
    }

    #[test]
    fn an_open_alert_puts_its_service_on_the_board_though_the_window_is_quiet() {
        use crate::alert::{Alert, Alerted};
        use sentinel_tasks::classify::FailureKind;
        let open = Alert {
            cluster_arn: EDGE.into(),
            about: Alerted::Tasks {
                group: "service:billing".into(),
                kinds: vec![(FailureKind::ImagePull, 2)],
            },
            opened_at: Some(at(-500)),
            alert_sent: true,
            notices_sent: 1,
            last_notice_at: Some(at(-500)),
            resolved_at: None,
        };
        let resolved = Alert {
            resolved_at: Some(at(-400)),
            about: Alerted::Tasks {
                group: "service:old".into(),
                kinds: vec![(FailureKind::ImagePull, 1)],
            },
            ..open.clone()
        };
        let events = vec![agent(PROD, "0a", 0, true, 1)];
        let board = board(
            &observe(None, &events, &[]),
            &[resolved, open.clone()],
            at(-60),
            10,
        );
        assert_eq!(board.open_alerts, vec![open], "only the open one");
        let troubles: Vec<(&str, &str, &str)> = board
            .troubles
            .iter()
            .map(|t| (t.cluster.as_str(), t.service.as_str(), t.kind()))
            .collect();
        assert_eq!(troubles, [("edge", "billing", "image-pull")]);
    }
}
