//! Every example event AWS documents for Amazon ECS (`fixtures/ecs-events`, sources in its
//! README) parses into the kernel's ECS event model, each into its own detail-type.

use sentinel_core::ecs_event::*;
use sentinel_core::states::InstanceStatus;
use std::collections::BTreeSet;

type Check = fn(&EcsEvent);

macro_rules! fixture {
    ($file:literal) => {
        ($file, include_str!(concat!("fixtures/ecs-events/", $file)))
    };
}

fn task(event: &EcsEvent) -> &TaskStateChange {
    match &event.detail {
        EcsDetail::TaskStateChange(t) => t,
        other => panic!("expected a task state change, got {other:?}"),
    }
}

fn service(event: &EcsEvent) -> &ServiceEvent {
    match &event.detail {
        EcsDetail::ServiceAction(s) | EcsDetail::DeploymentStateChange(s) => s,
        other => panic!("expected a service event, got {other:?}"),
    }
}

fn health(event: &EcsEvent) -> &ContainerInstanceHealthChange {
    match &event.detail {
        EcsDetail::ContainerInstanceHealthChange(h) => h,
        other => panic!("expected a health change, got {other:?}"),
    }
}

fn spot_interruption(event: &EcsEvent, code: StopCode) {
    let t = task(event);
    assert_eq!(t.last_status, Some(TaskStatus::Running));
    assert_eq!(t.desired_status, Some(TaskStatus::Stopped));
    assert_eq!(t.stop_code, Some(code));
    assert_eq!(
        t.stopped_reason.as_deref(),
        Some("Your Spot Task was interrupted.")
    );
    // The documented notice names neither a group, a task definition nor a version.
    assert_eq!(
        (&t.group, &t.task_definition_arn, t.version),
        (&None, &None, None)
    );
    assert!(t.containers.is_empty());
    assert_eq!(event.time, None, "the snippet has no time");
}

fn health_check(event: &EcsEvent, check: HealthCheckType, status: HealthStatus) {
    let h = health(event);
    assert_eq!(h.overall_status, Some(status.clone()));
    assert_eq!(h.health_checks.len(), 1);
    assert_eq!(h.health_checks[0].check, Some(check));
    assert_eq!(h.health_checks[0].status, Some(status));
    assert_eq!(h.ec2_instance_id.as_deref(), Some("i-0abcdef1234567890"));
}

#[test]
fn every_documented_ecs_event_parses_into_its_detail_type() {
    let rows: Vec<((&str, &str), &str, Check)> = vec![
        (
            fixture!("container-instance-state-change.json"),
            CONTAINER_INSTANCE_STATE_CHANGE,
            |e| {
                let EcsDetail::ContainerInstanceStateChange(i) = &e.detail else {
                    panic!("{e:?}")
                };
                assert_eq!(i.status, Some(InstanceStatus::Active));
                assert_eq!(i.agent_connected, Some(true));
                assert_eq!(i.agent_version(), Some("1.13.0"));
                assert_eq!(i.version, Some(14801));
                assert_eq!(
                    Resource::integer(&i.registered_resources, "MEMORY"),
                    Some(3767)
                );
                assert_eq!(Resource::integer(&i.remaining_resources, "CPU"), Some(1988));
                assert_eq!(
                    i.updated_at.as_ref().map(Timestamp::as_str),
                    Some("2016-12-06T16:41:06.991Z")
                );
            },
        ),
        (
            fixture!("task-state-change-fargate.json"),
            TASK_STATE_CHANGE,
            |e| {
                let t = task(e);
                assert_eq!(t.last_status, Some(TaskStatus::Running));
                assert_eq!(t.group.as_deref(), Some("family:webserver"));
                assert_eq!(t.version, Some(3));
                assert_eq!(t.containers.len(), 3);
                assert_eq!(t.containers[0].name.as_deref(), Some("web"));
                assert_eq!(t.containers[0].last_status, Some(TaskStatus::Running));
                assert_eq!(t.capacity_provider_name.as_deref(), Some("FARGATE"));
                assert!(t.started_at.as_ref().and_then(Timestamp::time).is_some());
            },
        ),
        (
            fixture!("task-state-change-ec2.json"),
            TASK_STATE_CHANGE,
            |e| {
                let t = task(e);
                assert_eq!(t.launch_type.as_deref(), Some("EC2"));
                assert_eq!(
                    t.task_definition_arn.as_deref(),
                    Some("arn:aws:ecs:us-east-1:123456789012:task-definition/webserver"),
                    "a task definition ARN without its revision, as documented"
                );
                assert_eq!(
                    t.container_instance_arn.as_deref(),
                    Some("arn:aws:ecs:us-east-1:123456789012:container-instance/example/d1d84798400f49f3b21cb61610c1e")
                );
                assert_eq!(t.version, Some(4));
            },
        ),
        (
            fixture!("task-state-change-fargate-spot-interruption.json"),
            TASK_STATE_CHANGE,
            |e| spot_interruption(e, StopCode::SpotInterruption),
        ),
        (
            fixture!("task-state-change-fargate-spot-termination-notice.json"),
            TASK_STATE_CHANGE,
            |e| spot_interruption(e, StopCode::TerminationNotice),
        ),
        (
            fixture!("service-action-steady-state.json"),
            SERVICE_ACTION,
            |e| {
                let s = service(e);
                assert_eq!(s.event_type, Some(EventLevel::Info));
                assert_eq!(s.event_name, Some(ServiceEventName::SteadyState));
                assert_eq!(
                    e.service_arn(),
                    Some("arn:aws:ecs:us-west-2:111122223333:service/default/servicetest")
                );
            },
        ),
        (
            fixture!("service-action-capacity-provider-steady-state.json"),
            SERVICE_ACTION,
            |e| {
                assert_eq!(
                    service(e).event_name,
                    Some(ServiceEventName::CapacityProviderSteadyState)
                )
            },
        ),
        (
            fixture!("service-action-task-start-impaired.json"),
            SERVICE_ACTION,
            |e| {
                let s = service(e);
                assert_eq!(s.event_type, Some(EventLevel::Warn));
                assert_eq!(s.event_name, Some(ServiceEventName::TaskStartImpaired));
            },
        ),
        (
            fixture!("service-action-task-placement-failure.json"),
            SERVICE_ACTION,
            |e| {
                let s = service(e);
                assert_eq!(s.event_type, Some(EventLevel::Error));
                assert_eq!(s.event_name, Some(ServiceEventName::TaskPlacementFailure));
                assert_eq!(s.reason.as_deref(), Some("RESOURCE:FARGATE"));
            },
        ),
        (
            fixture!("deployment-state-change-in-progress.json"),
            DEPLOYMENT_STATE_CHANGE,
            |e| {
                let s = service(e);
                assert_eq!(s.event_name, Some(ServiceEventName::DeploymentInProgress));
                assert_eq!(s.cluster_arn, None, "deployment events name no cluster");
                assert_eq!(s.deployment_id.as_deref(), Some("ecs-svc/123"));
            },
        ),
        (
            fixture!("deployment-state-change-rollback-in-progress.json"),
            DEPLOYMENT_STATE_CHANGE,
            |e| {
                let s = service(e);
                assert_eq!(s.event_name, Some(ServiceEventName::DeploymentInProgress));
                assert!(s
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.contains("rolling back")));
            },
        ),
        (
            fixture!("deployment-state-change-completed.json"),
            DEPLOYMENT_STATE_CHANGE,
            |e| {
                assert_eq!(
                    service(e).event_name,
                    Some(ServiceEventName::DeploymentCompleted)
                )
            },
        ),
        (
            fixture!("deployment-state-change-failed.json"),
            DEPLOYMENT_STATE_CHANGE,
            |e| {
                let s = service(e);
                assert_eq!(s.event_type, Some(EventLevel::Error));
                assert_eq!(s.event_name, Some(ServiceEventName::DeploymentFailed));
                assert!(s.updated_at.as_ref().and_then(Timestamp::time).is_some());
            },
        ),
        (
            fixture!("hook-state-change-awaiting-action.json"),
            HOOK_STATE_CHANGE,
            |e| {
                let EcsDetail::HookStateChange(h) = &e.detail else {
                    panic!("{e:?}")
                };
                assert_eq!(h.event_name, Some(HookEventName::AwaitingAction));
                assert_eq!(h.hook_type.as_deref(), Some("PAUSE"));
                assert!(h.expires_at.as_ref().and_then(Timestamp::time).is_some());
                assert!(h.updated_at.as_ref().and_then(Timestamp::time).is_some());
            },
        ),
        (
            fixture!("hook-state-change-pause-hook.json"),
            HOOK_STATE_CHANGE,
            |e| {
                let EcsDetail::HookStateChange(h) = &e.detail else {
                    panic!("{e:?}")
                };
                assert_eq!(
                    h.lifecycle_stage.as_deref(),
                    Some("POST_TEST_TRAFFIC_SHIFT")
                );
                assert!(e.resources.is_empty(), "this example has no resources");
            },
        ),
        (
            fixture!("container-instance-health-change-container-runtime.json"),
            CONTAINER_INSTANCE_HEALTH_CHANGE,
            |e| {
                health_check(e, HealthCheckType::ContainerRuntime, HealthStatus::Ok);
                assert_eq!(health(e).capacity_provider_name, None);
            },
        ),
        (
            fixture!("container-instance-health-change-accelerated-compute.json"),
            CONTAINER_INSTANCE_HEALTH_CHANGE,
            |e| {
                health_check(
                    e,
                    HealthCheckType::AcceleratedCompute,
                    HealthStatus::Impaired,
                )
            },
        ),
        (
            fixture!("container-instance-health-change-daemon.json"),
            CONTAINER_INSTANCE_HEALTH_CHANGE,
            |e| health_check(e, HealthCheckType::Daemon, HealthStatus::Impaired),
        ),
        (
            fixture!("container-instance-health-change-agent-connectivity.json"),
            CONTAINER_INSTANCE_HEALTH_CHANGE,
            |e| {
                health_check(
                    e,
                    HealthCheckType::AgentConnectivity,
                    HealthStatus::Impaired,
                )
            },
        ),
        (
            fixture!("daemon-service-action-task-failed-to-run.json"),
            DAEMON_SERVICE_ACTION,
            |e| {
                let EcsDetail::DaemonServiceAction(d) = &e.detail else {
                    panic!("{e:?}")
                };
                assert_eq!(d.event_type, Some(EventLevel::Warning));
                assert_eq!(d.event_name, Some(DaemonEventName::TaskStartImpaired));
                assert_eq!(d.failure_type.as_deref(), Some("TASK_FAILED_TO_RUN"));
                assert!(d.task_arn.is_some());
            },
        ),
        (
            fixture!("daemon-service-action-task-creation-failed.json"),
            DAEMON_SERVICE_ACTION,
            |e| {
                let EcsDetail::DaemonServiceAction(d) = &e.detail else {
                    panic!("{e:?}")
                };
                assert_eq!(d.failure_type.as_deref(), Some("TASK_CREATION_FAILED"));
                assert_eq!(d.task_arn, None, "no task was created");
            },
        ),
        (
            fixture!("daemon-deployment-state-change-pending.json"),
            DAEMON_DEPLOYMENT_STATE_CHANGE,
            |e| {
                let EcsDetail::DaemonDeploymentStateChange(d) = &e.detail else {
                    panic!("{e:?}")
                };
                assert_eq!(d.event_name, Some(DaemonEventName::DeploymentPending));
                assert!(d.updated_at.as_ref().and_then(Timestamp::time).is_some());
            },
        ),
    ];

    let mut covered = BTreeSet::new();
    for ((file, body), detail_type, check) in rows {
        let event = parse_ecs_event(body, DETAIL_TYPES)
            .unwrap_or_else(|e| panic!("{file}: {e} ({})", e.code()));
        assert_eq!(event.detail.detail_type(), detail_type, "{file}");
        assert!(event.id.is_some(), "{file}");
        check(&event);
        covered.insert(detail_type);
        // Also through the one-detail-type parser, for the detail-types that have one.
        let single = match detail_type {
            CONTAINER_INSTANCE_STATE_CHANGE => {
                parse_detail::<ContainerInstanceStateChange>(body).map(|_| ())
            }
            TASK_STATE_CHANGE => parse_detail::<TaskStateChange>(body).map(|_| ()),
            HOOK_STATE_CHANGE => parse_detail::<HookStateChange>(body).map(|_| ()),
            CONTAINER_INSTANCE_HEALTH_CHANGE => {
                parse_detail::<ContainerInstanceHealthChange>(body).map(|_| ())
            }
            DAEMON_SERVICE_ACTION => parse_detail::<DaemonServiceAction>(body).map(|_| ()),
            DAEMON_DEPLOYMENT_STATE_CHANGE => {
                parse_detail::<DaemonDeploymentStateChange>(body).map(|_| ())
            }
            _ => Ok(()),
        };
        assert_eq!(single, Ok(()), "{file}");
    }
    let every: BTreeSet<&str> = DETAIL_TYPES.iter().copied().collect();
    assert_eq!(
        covered, every,
        "every documented detail-type has an example"
    );
}

#[test]
fn every_fixture_file_is_in_the_table() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ecs-events");
    let source = include_str!("documented_events.rs");
    let mut files = 0;
    for entry in std::fs::read_dir(dir).expect("the fixtures directory") {
        let name = entry.expect("a directory entry").file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".json") {
            files += 1;
            assert!(
                source.contains(&format!("fixture!(\"{name}\")")),
                "{name} is not parsed by the table"
            );
        }
    }
    assert_eq!(files, 22);
}
