//! Events in the shapes the ECS developer guide documents ("Amazon ECS events"), written
//! here for the tests, with fields AWS adds and leaves out.

use super::*;
use crate::batch::newest_per_key;
use serde_json::{json, Value};

const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
const TASK: &str = "arn:aws:ecs:us-east-1:123456789012:task/prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn event(detail_type: &str, resources: &[&str], detail: Value) -> String {
    json!({
        "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": detail_type, "source": "aws.ecs", "account": "123456789012",
        "time": "2026-11-29T10:00:00Z", "region": "us-east-1", "resources": resources,
        "detail": detail
    })
    .to_string()
}

fn task_event(status: &str, version: u64) -> String {
    event(
        TASK_STATE_CHANGE,
        &[TASK],
        json!({
            "clusterArn": CLUSTER, "taskArn": TASK, "lastStatus": status,
            "desiredStatus": if status == "STOPPED" { "STOPPED" } else { "RUNNING" },
            "group": "service:api", "launchType": "EC2", "capacityProviderName": "spot-cp",
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/api:42",
            "containerInstanceArn": "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/5c4b3a29",
            "startedBy": "ecs-svc/1234567890123456789",
            "containers": [
                {"name": "app", "lastStatus": status, "exitCode": 137,
                 "reason": "OutOfMemoryError: Container killed due to memory usage",
                 "containerArn": "arn:aws:ecs:us-east-1:123456789012:container/x", "cpu": "0",
                 "networkInterfaces": [], "image": "api:v2"},
                {"name": "sidecar", "lastStatus": status}
            ],
            "stopCode": "EssentialContainerExited",
            "stoppedReason": "Essential container in task exited",
            "createdAt": "2026-11-29T09:58:00.000Z", "startedAt": "2026-11-29T09:58:30.000Z",
            "stoppedAt": "2026-11-29T09:59:58.123Z", "updatedAt": "2026-11-29T09:59:58.123Z",
            "version": version, "attachments": [], "overrides": {"containerOverrides": []},
            "someFieldAwsAddsLater": {"nested": true}
        }),
    )
}

fn parsed(body: &str) -> FleetRecord {
    parse_fleet_event(body)
        .expect("a usable event")
        .expect("a kept detail-type")
}

#[test]
fn a_task_state_change_keeps_what_the_operator_asks_about() {
    let FleetRecord::Task(task) = parsed(&task_event("STOPPED", 6)) else {
        panic!("not a task record");
    };
    assert_eq!(task.task_arn, TASK);
    assert_eq!(task.cluster_arn, CLUSTER);
    assert_eq!(task.last_status, "STOPPED");
    assert_eq!(task.group.as_deref(), Some("service:api"));
    assert_eq!(task.capacity_provider_name.as_deref(), Some("spot-cp"));
    assert_eq!(task.version, 6);
    assert_eq!(task.containers.len(), 2);
    assert_eq!(task.containers[0].exit_code, Some(137));
    assert_eq!(
        task.containers[1].exit_code, None,
        "a missing exit code is tolerated"
    );
    assert_eq!(task.stop_code.as_deref(), Some("EssentialContainerExited"));
}

/// What `why` joins on: the instance a task ran on, its revision, and the deployment that
/// started it (a service's deployments start tasks as `ecs-svc/<digits>`, their own id).
#[test]
fn a_task_keeps_its_instance_revision_and_deployment() {
    let FleetRecord::Task(task) = parsed(&task_event("STOPPED", 6)) else {
        panic!("not a task record");
    };
    assert_eq!(
        task.container_instance_arn.as_deref(),
        Some("arn:aws:ecs:us-east-1:123456789012:container-instance/prod/5c4b3a29")
    );
    assert_eq!(
        task.task_definition_arn.as_deref(),
        Some("arn:aws:ecs:us-east-1:123456789012:task-definition/api:42")
    );
    assert_eq!(
        task.started_by.as_deref(),
        Some("ecs-svc/1234567890123456789")
    );
    assert_eq!(
        task.deployment_id.as_deref(),
        Some("ecs-svc/1234567890123456789")
    );
    let json = FleetRecord::Task(task.clone()).to_json();
    assert_eq!(
        json["containerInstanceArn"],
        task.container_instance_arn.clone().unwrap()
    );
    assert_eq!(json["deploymentId"], "ecs-svc/1234567890123456789");

    // Started by anything else: kept as written, no deployment.
    for starter in ["my-cron", "ecs-svc/", "ecs-svc/12a4", "ecs-svcX/123"] {
        assert_eq!(deployment_of(starter), None, "{starter}");
    }
    // Records stored before these fields existed still read.
    let mut old = json.clone();
    for field in ["containerInstanceArn", "startedBy", "deploymentId"] {
        old.as_object_mut().unwrap().remove(field);
    }
    let FleetRecord::Task(read) = FleetRecord::from_json(Kind::Task, old).unwrap() else {
        panic!("not a task record");
    };
    assert_eq!(read.container_instance_arn, None);
    assert_eq!(read.deployment_id, None);
}

#[test]
fn the_task_json_has_the_stable_field_names_the_cli_prints() {
    let record = parsed(&task_event("STOPPED", 6));
    let json = record.to_json();
    for field in [
        "taskArn",
        "lastStatus",
        "desiredStatus",
        "group",
        "stopCode",
        "stoppedReason",
        "containers",
        "updatedAt",
        "version",
    ] {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
    assert_eq!(
        json["containers"][0],
        json!({"name": "app", "lastStatus": "STOPPED", "exitCode": 137,
               "reason": "OutOfMemoryError: Container killed due to memory usage"})
    );
    assert_eq!(FleetRecord::from_json(Kind::Task, json).unwrap(), record);
}

#[test]
fn a_container_instance_state_change_keeps_agent_and_resources() {
    let body = event(
        CONTAINER_INSTANCE_STATE_CHANGE,
        &["arn:aws:ecs:us-east-1:123456789012:container-instance/prod/abc"],
        json!({
            "clusterArn": CLUSTER,
            "containerInstanceArn": "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/abc",
            "ec2InstanceId": "i-0123456789abcdef0", "status": "ACTIVE", "agentConnected": false,
            "versionInfo": {"agentVersion": "1.89.2", "agentHash": "abc", "dockerVersion": "25.0"},
            "registeredResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": 7680},
                {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22"]}
            ],
            "remainingResources": [{"name": "CPU", "type": "INTEGER", "integerValue": 1024}],
            "runningTasksCount": 3, "pendingTasksCount": 0,
            "updatedAt": "2026-11-29T10:00:00.000Z", "version": 14
        }),
    );
    let record = parsed(&body);
    assert_eq!(
        record.key(),
        "instance#arn:aws:ecs:us-east-1:123456789012:container-instance/prod/abc"
    );
    let FleetRecord::Instance(instance) = record else {
        panic!("not an instance record");
    };
    assert!(!instance.agent_connected);
    assert_eq!(instance.agent_version.as_deref(), Some("1.89.2"));
    assert_eq!(
        instance.registered,
        Resources {
            cpu: Some(2048),
            memory: Some(7680)
        }
    );
    assert_eq!(
        instance.remaining,
        Resources {
            cpu: Some(1024),
            memory: None
        }
    );
    assert_eq!(instance.version, 14);
}

#[test]
fn service_events_are_ordered_by_time_and_keyed_by_service_and_facet() {
    let service = "arn:aws:ecs:us-east-1:123456789012:service/prod/api";
    let action = parsed(&event(
        SERVICE_ACTION,
        &[service],
        json!({"eventType": "WARN", "eventName": "SERVICE_TASK_PLACEMENT_FAILURE",
               "clusterArn": CLUSTER, "reason": "RESOURCE:MEMORY", "capacityProviderArns": []}),
    ));
    let deployment = parsed(&event(
        DEPLOYMENT_STATE_CHANGE,
        &[service],
        json!({"eventType": "ERROR", "eventName": "SERVICE_DEPLOYMENT_FAILED",
               "deploymentId": "ecs-svc/123", "updatedAt": "2026-11-29T09:00:00Z",
               "reason": "ECS deployment circuit breaker: task failed to start."}),
    ));
    assert_eq!(action.key(), format!("service-action#{service}"));
    assert_eq!(deployment.key(), format!("deployment#{service}"));
    // The envelope's time, in milliseconds.
    assert_eq!(action.order(), 1_795_946_400_000);
    let FleetRecord::ServiceAction(action) = action else {
        panic!("not a service action");
    };
    assert_eq!(action.service, "api");
    assert_eq!(action.event_name, "SERVICE_TASK_PLACEMENT_FAILURE");
}

#[test]
fn other_detail_types_are_acknowledged_not_rejected() {
    let body = event(
        "AWS API Call via CloudTrail",
        &[],
        json!({"eventName": "RunTask"}),
    );
    assert_eq!(parse_fleet_event(&body), Ok(None));
}

#[test]
fn unusable_bodies_say_why() {
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "not-json"),
        (
            json!({"source": "aws.ec2", "detail-type": TASK_STATE_CHANGE, "detail": {}})
                .to_string(),
            "unexpected-source",
        ),
        (
            event(
                TASK_STATE_CHANGE,
                &[],
                json!({"clusterArn": CLUSTER, "taskArn": TASK}),
            ),
            "missing-field",
        ),
        (
            event(
                TASK_STATE_CHANGE,
                &[],
                json!({"clusterArn": CLUSTER, "taskArn": TASK, "lastStatus": "RUNNING", "version": "six"}),
            ),
            "invalid-field",
        ),
        (
            event(
                SERVICE_ACTION,
                &[],
                json!({"eventName": "SERVICE_STEADY_STATE", "clusterArn": CLUSTER}),
            ),
            "missing-field",
        ),
    ];
    for (body, code) in cases {
        let err = parse_fleet_event(&body).expect_err(&body);
        assert_eq!(err.code(), code, "{body}: {err}");
    }
    let err = parse_fleet_event(&event(
        TASK_STATE_CHANGE,
        &[],
        json!({"clusterArn": CLUSTER, "taskArn": TASK}),
    ))
    .unwrap_err();
    assert_eq!(err.to_string(), "detail.lastStatus is missing");
}

/// AWS's example of a Fargate Spot notice has no `detail.version` (this test used to assert
/// it was dead-lettered as `detail.version is missing`): it is kept, ordered before every
/// versioned state of its task.
#[test]
fn a_task_event_without_a_version_is_kept_as_the_oldest_state() {
    let body = event(
        TASK_STATE_CHANGE,
        &[],
        json!({"clusterArn": CLUSTER, "taskArn": TASK, "lastStatus": "RUNNING",
               "desiredStatus": "STOPPED", "stopCode": "SpotInterruption"}),
    );
    let record = parsed(&body);
    assert_eq!(record.order(), 0);
    assert!(record.order() < parsed(&task_event("PROVISIONING", 1)).order());
}

#[test]
fn keys_the_table_would_refuse_are_refused_at_the_edge() {
    let long_task = format!(
        "arn:aws:ecs:us-east-1:123456789012:task/prod/{}",
        "a".repeat(2000)
    );
    let cases = [
        json!({"clusterArn": "", "taskArn": TASK, "lastStatus": "RUNNING", "version": 1}),
        json!({"clusterArn": "prod", "taskArn": TASK, "lastStatus": "RUNNING", "version": 1}),
        json!({"clusterArn": CLUSTER, "taskArn": "", "lastStatus": "RUNNING", "version": 1}),
        json!({"clusterArn": CLUSTER, "taskArn": "task-1", "lastStatus": "RUNNING", "version": 1}),
        json!({"clusterArn": CLUSTER, "taskArn": long_task, "lastStatus": "RUNNING", "version": 1}),
    ];
    for detail in cases {
        let body = event(TASK_STATE_CHANGE, &[], detail);
        let err = parse_fleet_event(&body).expect_err(&body);
        assert_eq!(err.code(), "invalid-field", "{err}");
        assert!(err.to_string().len() < 500, "{err}");
    }
    let huge = json!({"clusterArn": CLUSTER, "taskArn": TASK, "lastStatus": "STOPPED",
                      "version": 1, "stoppedReason": "x".repeat(500 * 1024)});
    let err = parse_fleet_event(&event(TASK_STATE_CHANGE, &[], huge)).unwrap_err();
    assert_eq!(err.code(), "too-large");
}

#[test]
fn stopped_tasks_expire_after_the_retention_and_running_ones_never() {
    let now = parse_time("2026-11-30T00:00:00Z").unwrap();
    let fourteen_days = TimeDelta::days(14);
    let stopped = parsed(&task_event("STOPPED", 6));
    assert_eq!(
        stopped.expires_at(fourteen_days, now),
        Some(parse_time("2026-12-13T09:59:58.123Z").unwrap())
    );
    let running = parsed(&task_event("RUNNING", 3));
    assert_eq!(running.expires_at(fourteen_days, now), None);
}

#[test]
fn a_batch_writes_each_key_once_with_its_newest_state() {
    // A task's life in one batch, out of order and with a redelivery.
    let records = [
        ("m1", task_event("RUNNING", 3)),
        ("m2", task_event("STOPPED", 6)),
        ("m3", task_event("PENDING", 2)),
        ("m4", task_event("STOPPED", 6)),
    ]
    .into_iter()
    .map(|(id, body)| (id.to_owned(), parsed(&body)));
    let newest = newest_per_key(records);
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].record.order(), 6);
    assert_eq!(newest[0].record_ids, ["m1", "m2", "m3", "m4"]);
}

macro_rules! documented {
    ($file:literal) => {
        (
            $file,
            include_str!(concat!(
                "../../../sentinel-core/tests/fixtures/ecs-events/",
                $file
            )),
        )
    };
}

/// Every example AWS documents is kept or acknowledged, never unusable (the Fargate Spot
/// notices, which carry no version, used to be dead-lettered).
#[test]
fn every_documented_shape_is_kept_or_acknowledged() {
    let cases = [
        documented!("container-instance-state-change.json"),
        documented!("container-instance-health-change-accelerated-compute.json"),
        documented!("container-instance-health-change-agent-connectivity.json"),
        documented!("container-instance-health-change-container-runtime.json"),
        documented!("container-instance-health-change-daemon.json"),
        documented!("daemon-deployment-state-change-pending.json"),
        documented!("daemon-service-action-task-creation-failed.json"),
        documented!("daemon-service-action-task-failed-to-run.json"),
        documented!("deployment-state-change-completed.json"),
        documented!("deployment-state-change-failed.json"),
        documented!("deployment-state-change-in-progress.json"),
        documented!("deployment-state-change-rollback-in-progress.json"),
        documented!("hook-state-change-awaiting-action.json"),
        documented!("hook-state-change-pause-hook.json"),
        documented!("service-action-capacity-provider-steady-state.json"),
        documented!("service-action-steady-state.json"),
        documented!("service-action-task-placement-failure.json"),
        documented!("service-action-task-start-impaired.json"),
        documented!("task-state-change-ec2.json"),
        documented!("task-state-change-fargate-spot-interruption.json"),
        documented!("task-state-change-fargate-spot-termination-notice.json"),
        documented!("task-state-change-fargate.json"),
    ];
    for (file, body) in cases {
        if let Err(err) = parse_fleet_event(body) {
            panic!("{file}: {err}");
        }
    }
}
