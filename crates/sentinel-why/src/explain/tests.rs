//! Each cause `why` names, from events in the shapes ECS sends (the event log) and records as
//! the fleet table keeps them.

use super::*;
use crate::observe::observe;
use chrono::TimeZone;
use sentinel_fleet::view::Seen;
use serde_json::{json, Value};

const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
const HOST: &str = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/c0ffee01";

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap() + TimeDelta::minutes(minute)
}

fn event(detail_type: &str, minute: i64, resources: Value, detail: Value) -> Value {
    json!({"version": "0", "id": format!("e-{minute}"), "detail-type": detail_type,
           "source": "aws.ecs", "account": "123456789012", "time": at(minute).to_rfc3339(),
           "region": "us-east-1", "resources": resources, "detail": detail})
}

fn task_arn(n: u32) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{n:032x}")
}

/// Task `n` of `service` on revision `api:<revision>`, at `minute`, RUNNING or STOPPED.
fn task(
    n: u32,
    service: &str,
    revision: u32,
    minute: i64,
    stop: Option<(&str, &str, i64)>,
) -> Value {
    let time = at(minute).to_rfc3339();
    let mut detail = json!({
        "clusterArn": CLUSTER, "taskArn": task_arn(n), "group": format!("service:{service}"),
        "taskDefinitionArn": format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{service}:{revision}"),
        "containerInstanceArn": HOST, "startedBy": "ecs-svc/1111111111111111111",
        "lastStatus": "RUNNING", "desiredStatus": "RUNNING", "version": 2,
        "containers": [{"name": "app", "lastStatus": "RUNNING"}],
        "startedAt": time, "updatedAt": time,
    });
    if let Some((code, reason, exit)) = stop {
        detail["lastStatus"] = json!("STOPPED");
        detail["desiredStatus"] = json!("STOPPED");
        detail["version"] = json!(4);
        detail["stopCode"] = json!(code);
        detail["stoppedReason"] = json!(reason);
        detail["stoppedAt"] = json!(time);
        detail["containers"] = json!([{"name": "app", "lastStatus": "STOPPED", "exitCode": exit}]);
    }
    event(
        "ECS Task State Change",
        minute,
        json!([task_arn(n)]),
        detail,
    )
}

fn agent(minute: i64, connected: bool, status: &str, version: u64) -> Value {
    event(
        "ECS Container Instance State Change",
        minute,
        json!([HOST]),
        json!({"clusterArn": CLUSTER, "containerInstanceArn": HOST, "ec2InstanceId": "i-0abc",
               "status": status, "agentConnected": connected, "version": version,
               "registeredResources": [], "remainingResources": [],
               "updatedAt": at(minute).to_rfc3339()}),
    )
}

fn service_action(minute: i64, service: &str, name: &str, reason: Option<&str>) -> Value {
    let mut detail = json!({"eventType": if name.ends_with("STEADY_STATE") { "INFO" } else { "WARN" },
        "eventName": name, "clusterArn": CLUSTER, "createdAt": at(minute).to_rfc3339()});
    if let Some(reason) = reason {
        detail["reason"] = json!(reason);
    }
    event(
        "ECS Service Action",
        minute,
        json!([format!(
            "arn:aws:ecs:us-east-1:123456789012:service/prod/{service}"
        )]),
        detail,
    )
}

fn deployment(minute: i64, service: &str, name: &str, reason: &str) -> Value {
    event(
        "ECS Deployment State Change",
        minute,
        json!([format!(
            "arn:aws:ecs:us-east-1:123456789012:service/prod/{service}"
        )]),
        json!({"eventType": if name.ends_with("FAILED") { "ERROR" } else { "INFO" },
               "eventName": name, "deploymentId": "ecs-svc/2222222222222222222",
               "updatedAt": at(minute).to_rfc3339(), "reason": reason}),
    )
}

fn why(what: Target, events: &[Value], records: &[Seen]) -> Answer {
    why_alerted(what, events, records, &[])
}

fn why_alerted(what: Target, events: &[Value], records: &[Seen], alerts: &[Alert]) -> Answer {
    let subject = Subject {
        cluster: "prod".into(),
        what,
    };
    explain(
        &subject,
        &observe(Some("prod"), events, records),
        alerts,
        at(-120),
    )
}

/// The agent monitor's episode on the instance, opened at `opened` (minutes).
fn agent_alert(opened: i64, node_unreachable: bool, resolved: Option<i64>) -> Alert {
    Alert {
        cluster_arn: CLUSTER.into(),
        about: Alerted::Instance {
            container_instance_arn: HOST.into(),
            node: "i-0abc".into(),
            node_unreachable,
        },
        opened_at: Some(at(opened)),
        alert_sent: true,
        notices_sent: if resolved.is_some() { 2 } else { 1 },
        last_notice_at: Some(at(resolved.unwrap_or(opened))),
        resolved_at: resolved.map(at),
    }
}

/// The task monitor's episode on `service`, opened at `opened`, with `notices` sent.
fn task_alert(service: &str, opened: i64, notices: u32, last: i64) -> Alert {
    Alert {
        cluster_arn: CLUSTER.into(),
        about: Alerted::Tasks {
            group: format!("service:{service}"),
            kinds: vec![
                (FailureKind::OutOfMemory, 4),
                (FailureKind::ContainerExit, 1),
            ],
        },
        opened_at: Some(at(opened)),
        alert_sent: true,
        notices_sent: notices,
        last_notice_at: Some(at(last)),
        resolved_at: None,
    }
}

fn service(name: &str) -> Target {
    Target::Service(name.into())
}

#[test]
fn a_crash_looping_new_revision_is_named() {
    let events = vec![
        task(1, "api", 6, 0, None),
        deployment(
            10,
            "api",
            "SERVICE_DEPLOYMENT_IN_PROGRESS",
            "ECS deployment ecs-svc/2222222222222222222 in progress.",
        ),
        task(
            2,
            "api",
            7,
            11,
            Some((
                "EssentialContainerExited",
                "Essential container in task exited",
                1,
            )),
        ),
        task(
            3,
            "api",
            7,
            13,
            Some((
                "EssentialContainerExited",
                "Essential container in task exited",
                1,
            )),
        ),
        task(
            4,
            "api",
            7,
            15,
            Some((
                "EssentialContainerExited",
                "Essential container in task exited",
                1,
            )),
        ),
    ];
    let answer = why(service("api"), &events, &[]);
    assert_eq!(answer.status, Status::Failing);
    let cause = answer.cause.expect("a cause");
    assert_eq!(cause.kind.as_str(), "container-exit");
    assert!(
        cause.summary.contains("3 tasks of api stopped"),
        "{}",
        cause.summary
    );
    assert!(
        cause
            .summary
            .contains("began with revision api:7 (before: api:6)"),
        "{}",
        cause.summary
    );
    assert!(
        cause
            .evidence
            .contains(&"Essential container in task exited".to_owned()),
        "{:?}",
        cause.evidence
    );
    assert!(
        cause.evidence.contains(&"app exited 1".to_owned()),
        "{:?}",
        cause.evidence
    );
    assert!(
        cause
            .evidence
            .iter()
            .any(|e| e.ends_with("task-definition/api:7")),
        "{:?}",
        cause.evidence
    );
    let texts: Vec<&str> = answer.timeline.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(
        answer.timeline.first().map(|e| e.time),
        Some(at(0)),
        "oldest first"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("SERVICE_DEPLOYMENT_IN_PROGRESS")),
        "{texts:?}"
    );
    // No event of the instance in the window: it is named by its container instance id.
    assert!(
        texts
            .iter()
            .any(|t| t.contains("stopped on c0ffee01: EssentialContainerExited")),
        "{texts:?}"
    );
}

#[test]
fn an_image_that_cannot_be_pulled_is_quoted_verbatim() {
    let reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/library/api:nope";
    let events = vec![task(1, "api", 3, 5, Some(("TaskFailedToStart", reason, 0)))];
    let answer = why(service("api"), &events, &[]);
    assert_eq!(answer.status, Status::Failing);
    let cause = answer.cause.expect("a cause");
    assert_eq!(cause.kind.as_str(), "image-pull");
    assert_eq!(cause.evidence[0], reason);
}

#[test]
fn tasks_lost_with_their_instance_blame_the_instance_and_show_the_disconnect() {
    let gone = "Task stopped because the container instance was unreachable";
    let events = vec![
        agent(0, true, "ACTIVE", 1),
        task(1, "api", 3, 1, None),
        task(2, "api", 3, 1, None),
        agent(20, false, "ACTIVE", 2),
        task(1, "api", 3, 26, Some(("TaskFailedToStart", gone, 0))),
        task(2, "api", 3, 27, Some(("TaskFailedToStart", gone, 0))),
    ];
    let answer = why(service("api"), &events, &[]);
    assert_eq!(answer.status, Status::Failing);
    let cause = answer.cause.expect("a cause");
    assert_eq!(cause.kind.as_str(), "agent-disconnected");
    assert!(
        cause
            .summary
            .contains("2 tasks stopped after i-0abc lost its ECS agent"),
        "{}",
        cause.summary
    );
    assert!(
        cause.evidence[0].contains("agent disconnected at 2026-12-07T01:20:00"),
        "{:?}",
        cause.evidence
    );
    let texts: Vec<&str> = answer.timeline.iter().map(|e| e.text.as_str()).collect();
    assert!(
        texts.contains(&"instance i-0abc ACTIVE: agent DISCONNECTED"),
        "{texts:?}"
    );

    // A stop long after the disconnect is the task's own.
    let late = vec![
        agent(0, false, "ACTIVE", 2),
        task(
            3,
            "api",
            3,
            40,
            Some((
                "EssentialContainerExited",
                "Essential container in task exited",
                2,
            )),
        ),
    ];
    let answer = why(service("api"), &late, &[]);
    assert_eq!(
        answer.cause.map(|c| c.kind.as_str()),
        Some("container-exit")
    );
}

#[test]
fn an_instance_that_left_the_cluster_is_instance_lost() {
    let events = vec![
        task(1, "api", 3, 1, None),
        agent(10, true, "DRAINING", 2),
        agent(12, true, "INACTIVE", 3),
        task(
            1,
            "api",
            3,
            13,
            Some((
                "EssentialContainerExited",
                "Host EC2 (instance i-0abc) terminated.",
                143,
            )),
        ),
    ];
    let answer = why(service("api"), &events, &[]);
    let cause = answer.cause.expect("a cause");
    assert_eq!(cause.kind.as_str(), "instance-lost");
}

#[test]
fn a_healthy_service_has_no_cause_and_an_unknown_one_says_so() {
    let events = vec![
        task(1, "api", 3, 1, None),
        service_action(5, "api", "SERVICE_STEADY_STATE", None),
    ];
    let answer = why(service("api"), &events, &[]);
    assert_eq!((answer.status, answer.cause), (Status::Healthy, None));
    assert_eq!(answer.timeline.len(), 2);

    let answer = why(service("web"), &events, &[]);
    assert_eq!(answer.status, Status::Unknown);
    assert!(answer.timeline.is_empty());
}

#[test]
fn a_recovered_service_says_when_and_for_how_long_it_was_down() {
    let oom = "OutOfMemoryError: Container killed due to memory usage";
    let mut events = vec![
        task(
            1,
            "api",
            3,
            10,
            Some((
                "EssentialContainerExited",
                "Essential container in task exited",
                137,
            )),
        ),
        task(
            2,
            "api",
            3,
            20,
            Some((
                "EssentialContainerExited",
                "Essential container in task exited",
                137,
            )),
        ),
        service_action(55, "api", "SERVICE_STEADY_STATE", None),
    ];
    for e in events.iter_mut().take(2) {
        e["detail"]["containers"][0]["reason"] = json!(oom);
    }
    let answer = why(service("api"), &events, &[]);
    assert_eq!(answer.status, Status::Recovered);
    let cause = answer.cause.expect("the cause of the outage");
    assert_eq!(cause.kind.as_str(), "out-of-memory");
    assert!(
        cause
            .summary
            .contains("Recovered at 2026-12-07T01:55:00+00:00, after 45 min down"),
        "{}",
        cause.summary
    );
    assert!(
        cause.evidence.contains(&format!("app exited 137: {oom}")),
        "{:?}",
        cause.evidence
    );
}

#[test]
fn a_failed_deployment_says_which_and_whether_it_rolled_back() {
    let events = vec![
        deployment(5, "api", "SERVICE_DEPLOYMENT_IN_PROGRESS", "ECS deployment in progress."),
        deployment(30, "api", "SERVICE_DEPLOYMENT_FAILED", "ECS deployment circuit breaker: tasks failed to start. Rolling back to the previous deployment."),
    ];
    let answer = why(service("api"), &events, &[]);
    assert_eq!(answer.status, Status::Failing);
    let cause = answer.cause.expect("a cause");
    assert_eq!(cause.kind.as_str(), "deployment-failed");
    assert_eq!(
        cause.summary,
        "deployment ecs-svc/2222222222222222222 of api failed and was rolled back"
    );

    // Its tasks crashed on the way: the deployment stays the cause, the crashes its evidence.
    let mut crashed = events.clone();
    crashed.insert(
        1,
        task(
            9,
            "api",
            8,
            20,
            Some((
                "EssentialContainerExited",
                "Essential container in task exited",
                3,
            )),
        ),
    );
    let cause = why(service("api"), &crashed, &[]).cause.expect("a cause");
    assert_eq!(cause.kind.as_str(), "deployment-failed");
    assert_eq!(
        cause.summary,
        "deployment ecs-svc/2222222222222222222 of api failed and was rolled back, after 1 task of api stopped: an essential container exited"
    );
    assert!(
        cause.evidence.contains(&"app exited 3".to_owned()),
        "{:?}",
        cause.evidence
    );
    assert_eq!(cause.quote.map(|q| q.container), Some("app".to_owned()));
}

#[test]
fn a_placement_failure_from_the_services_own_events() {
    let events = vec![service_action(
        5,
        "api",
        "SERVICE_TASK_PLACEMENT_FAILURE",
        Some(
            "was unable to place a task because no container instance met all of its requirements",
        ),
    )];
    let answer = why(service("api"), &events, &[]);
    let cause = answer.cause.expect("a cause");
    assert_eq!(cause.kind.as_str(), "placement");
    assert!(
        cause
            .evidence
            .iter()
            .any(|e| e.contains("no container instance met")),
        "{:?}",
        cause.evidence
    );
}

#[test]
fn a_stop_in_both_the_log_and_the_table_counts_once() {
    let stop = task(
        1,
        "api",
        3,
        10,
        Some((
            "EssentialContainerExited",
            "Essential container in task exited",
            1,
        )),
    );
    let record = sentinel_fleet::parse_fleet_event(&stop.to_string())
        .unwrap()
        .unwrap();
    let answer = why(
        service("api"),
        &[stop],
        &[Seen {
            record,
            gone: false,
        }],
    );
    let cause = answer.cause.expect("a cause");
    assert!(
        cause.summary.starts_with("1 task of api stopped"),
        "{}",
        cause.summary
    );
    // On the timeline once, as the event log's; what only the table knows is the table's.
    let sources: Vec<&str> = answer.timeline.iter().map(|e| e.source).collect();
    assert_eq!(sources, ["event-log"]);
    let older = task(
        2,
        "api",
        3,
        5,
        Some((
            "EssentialContainerExited",
            "Essential container in task exited",
            1,
        )),
    );
    let record = sentinel_fleet::parse_fleet_event(&older.to_string())
        .unwrap()
        .unwrap();
    let stop = task(
        1,
        "api",
        3,
        10,
        Some((
            "EssentialContainerExited",
            "Essential container in task exited",
            1,
        )),
    );
    let answer = why(
        service("api"),
        &[stop],
        &[Seen {
            record,
            gone: false,
        }],
    );
    let sources: Vec<&str> = answer.timeline.iter().map(|e| e.source).collect();
    assert_eq!(sources, ["fleet-table", "event-log"]);
}

#[test]
fn only_the_window_counts_and_the_table_remembers_what_the_log_no_longer_has() {
    // A stop three hours ago is outside a two-hour window.
    let old = task(
        1,
        "api",
        3,
        -180,
        Some((
            "EssentialContainerExited",
            "Essential container in task exited",
            1,
        )),
    );
    assert_eq!(why(service("api"), &[old], &[]).status, Status::Unknown);
    // The table alone (the log's window is empty) still answers.
    let stop = task(
        2,
        "api",
        3,
        -30,
        Some((
            "EssentialContainerExited",
            "Essential container in task exited",
            1,
        )),
    );
    let record = sentinel_fleet::parse_fleet_event(&stop.to_string())
        .unwrap()
        .unwrap();
    let answer = why(
        service("api"),
        &[],
        &[Seen {
            record,
            gone: false,
        }],
    );
    assert_eq!(answer.status, Status::Failing);
}

#[test]
fn an_instance_by_ec2_id_disconnected_reconnected_or_unknown() {
    let down = vec![agent(0, true, "ACTIVE", 1), agent(10, false, "ACTIVE", 2)];
    let answer = why(Target::Instance("i-0abc".into()), &down, &[]);
    assert_eq!(answer.status, Status::Failing);
    let cause = answer.cause.expect("a cause");
    assert_eq!(cause.kind.as_str(), "agent-disconnected");
    assert!(
        cause
            .evidence
            .contains(&"since 2026-12-07T01:10:00+00:00".to_owned()),
        "{:?}",
        cause.evidence
    );

    let mut flapped = down.clone();
    flapped.push(agent(14, true, "ACTIVE", 3));
    let answer = why(Target::Instance("c0ffee01".into()), &flapped, &[]);
    assert_eq!(answer.status, Status::Recovered);
    assert!(answer
        .cause
        .expect("a cause")
        .summary
        .contains("after 4 min"));

    let answer = why(Target::Instance("i-0nothere".into()), &flapped, &[]);
    assert_eq!(answer.status, Status::Unknown);
}

#[test]
fn a_task_by_id_with_its_own_cause() {
    let events = vec![
        task(7, "api", 3, 1, None),
        task(
            7,
            "api",
            3,
            9,
            Some((
                "EssentialContainerExited",
                "Essential container in task exited",
                3,
            )),
        ),
    ];
    let answer = why(Target::Task(format!("{:032x}", 7)), &events, &[]);
    assert_eq!(answer.status, Status::Failing);
    assert_eq!(
        answer.cause.map(|c| c.kind.as_str()),
        Some("container-exit")
    );
    assert_eq!(answer.timeline.len(), 2);

    let answer = why(Target::Task(format!("{:032x}", 8)), &events, &[]);
    assert_eq!(answer.status, Status::Unknown);
}

#[test]
fn the_json_has_the_documented_field_names() {
    let events = vec![task(
        1,
        "api",
        3,
        5,
        Some(("TaskFailedToStart", "CannotPullContainerError: nope", 0)),
    )];
    let doc = serde_json::to_value(why(service("api"), &events, &[])).unwrap();
    assert_eq!(doc["subject"], json!({"cluster": "prod", "service": "api"}));
    assert_eq!(doc["status"], "failing");
    assert_eq!(doc["cause"]["kind"], "image-pull");
    assert!(doc["cause"]["summary"].is_string() && doc["cause"]["evidence"].is_array());
    let entry = &doc["timeline"][0];
    assert_eq!(entry["source"], "event-log");
    assert!(
        entry["time"].is_string() && entry["text"].is_string(),
        "{entry}"
    );
}

#[test]
fn an_open_alert_keeps_a_service_failing_when_the_window_shows_nothing_new() {
    // The failures are older than the window; the task monitor still holds the service
    // failing and reminded about it inside the window.
    let alert = task_alert("api", -300, 3, -30);
    let answer = why_alerted(service("api"), &[], &[], std::slice::from_ref(&alert));
    assert_eq!(answer.status, Status::Failing);
    let cause = answer.cause.expect("a cause");
    assert_eq!(
        cause.kind.as_str(),
        "out-of-memory",
        "the kind with most failures"
    );
    assert!(
        cause.summary.contains("4 out-of-memory, 1 container-exit"),
        "{}",
        cause.summary
    );
    assert_eq!(
        cause.evidence,
        ["the task monitor's alert open since 2026-12-06T20:00:00+00:00, 3 notices sent"],
    );
    let texts: Vec<(&str, &str)> = answer
        .timeline
        .iter()
        .map(|e| (e.source, e.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        [(
            "alert-table",
            "task monitor reminded about api (3 notices so far)"
        )],
        "the alert itself is older than the window"
    );
    // Another service's alert, or another cluster's, says nothing about this one.
    let elsewhere = Alert {
        cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/edge".into(),
        ..alert.clone()
    };
    assert_eq!(
        why_alerted(
            service("api"),
            &[],
            &[],
            &[elsewhere, task_alert("web", -10, 1, -10)]
        )
        .status,
        Status::Unknown
    );
}

#[test]
fn a_failing_service_lists_its_alert_in_the_evidence_and_the_timeline() {
    let events = vec![task(
        1,
        "api",
        3,
        5,
        Some((
            "EssentialContainerExited",
            "Essential container in task exited",
            1,
        )),
    )];
    let answer = why_alerted(service("api"), &events, &[], &[task_alert("api", 6, 1, 6)]);
    assert_eq!(answer.status, Status::Failing);
    let cause = answer.cause.expect("a cause");
    assert_eq!(
        cause.kind.as_str(),
        "container-exit",
        "the events' own cause stays"
    );
    assert!(
        cause
            .evidence
            .iter()
            .any(|e| e.starts_with("the task monitor's alert open since")),
        "{:?}",
        cause.evidence
    );
    let last = answer.timeline.last().expect("entries");
    assert_eq!(
        (last.time, last.source, last.text.as_str()),
        (
            at(6),
            "alert-table",
            "task monitor alerted on api: 4 out-of-memory, 1 container-exit"
        )
    );
}

#[test]
fn an_unreachable_node_is_named_and_a_resolved_alert_only_tells_the_timeline() {
    let down = vec![agent(0, true, "ACTIVE", 1), agent(10, false, "ACTIVE", 2)];
    let answer = why_alerted(
        Target::Instance("i-0abc".into()),
        &down,
        &[],
        &[agent_alert(13, true, None)],
    );
    assert_eq!(answer.status, Status::Failing);
    let cause = answer.cause.expect("a cause");
    assert_eq!(cause.kind.as_str(), "node-unreachable");
    assert!(
        cause.summary.contains("SSM cannot reach i-0abc either"),
        "{}",
        cause.summary
    );

    // Nothing in the window, but the agent monitor holds the node unreachable: found by
    // its node id through the alert alone.
    let answer = why_alerted(
        Target::Instance("i-0abc".into()),
        &[],
        &[],
        &[agent_alert(-500, true, None)],
    );
    assert_eq!(answer.status, Status::Failing);
    assert_eq!(
        answer.cause.map(|c| c.kind.as_str()),
        Some("node-unreachable")
    );

    let mut flapped = down.clone();
    flapped.push(agent(20, true, "ACTIVE", 3));
    let answer = why_alerted(
        Target::Instance("c0ffee01".into()),
        &flapped,
        &[],
        &[agent_alert(13, false, Some(21))],
    );
    assert_eq!(answer.status, Status::Recovered);
    assert_eq!(
        answer.cause.map(|c| c.kind.as_str()),
        Some("agent-disconnected")
    );
    let alert_texts: Vec<&str> = answer
        .timeline
        .iter()
        .filter(|e| e.source == "alert-table")
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(
        alert_texts,
        [
            "agent monitor alerted on i-0abc: agent-disconnected",
            "agent monitor resolved its alert on i-0abc"
        ]
    );
}

#[test]
fn the_failed_containers_log_is_named_for_quoting_only_when_it_would_show_the_failure() {
    let crashed = vec![task(
        1,
        "api",
        3,
        5,
        Some((
            "EssentialContainerExited",
            "Essential container in task exited",
            1,
        )),
    )];
    let quote = why(service("api"), &crashed, &[])
        .cause
        .and_then(|c| c.quote);
    assert_eq!(
        quote,
        Some(Quote {
            task_arn: task_arn(1),
            task_definition: "arn:aws:ecs:us-east-1:123456789012:task-definition/api:3".into(),
            container: "app".into(),
        })
    );
    let task_quote = why(Target::Task(format!("{:032x}", 1)), &crashed, &[])
        .cause
        .and_then(|c| c.quote);
    assert_eq!(task_quote, quote, "a task's own why quotes the same stream");

    let pulled = vec![task(
        1,
        "api",
        3,
        5,
        Some(("TaskFailedToStart", "CannotPullContainerError: nope", 0)),
    )];
    let cause = why(service("api"), &pulled, &[]).cause.expect("a cause");
    assert_eq!(cause.kind.as_str(), "image-pull");
    assert_eq!(
        cause.quote, None,
        "a container that never started logged nothing"
    );
}

#[test]
fn a_steady_state_in_the_same_second_as_the_last_failure_is_a_recovery() {
    let events = vec![
        task(
            1,
            "api",
            3,
            10,
            Some((
                "EssentialContainerExited",
                "Essential container in task exited",
                1,
            )),
        ),
        service_action(10, "api", "SERVICE_STEADY_STATE", None),
    ];
    assert_eq!(why(service("api"), &events, &[]).status, Status::Recovered);
    // The stop has milliseconds, the service event whole seconds: the same second still.
    let mut precise = events.clone();
    let stopped = (at(10) + TimeDelta::milliseconds(400)).to_rfc3339();
    precise[0]["detail"]["stoppedAt"] = json!(stopped);
    assert_eq!(why(service("api"), &precise, &[]).status, Status::Recovered);
    let later = vec![
        service_action(9, "api", "SERVICE_STEADY_STATE", None),
        events[0].clone(),
    ];
    assert_eq!(why(service("api"), &later, &[]).status, Status::Failing);
}
