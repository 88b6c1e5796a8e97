use super::*;
use serde_json::json;

fn body(detail_type: &str, resources: serde_json::Value, detail: serde_json::Value) -> String {
    json!({
        "version": "0", "id": "e1", "detail-type": detail_type, "source": "aws.ecs",
        "account": "123456789012", "time": "2026-11-29T10:00:00Z", "region": "us-east-1",
        "resources": resources, "detail": detail
    })
    .to_string()
}

#[test]
fn documented_names_round_trip_and_unknown_ones_are_kept() {
    for raw in [
        "PROVISIONING",
        "PENDING",
        "ACTIVATING",
        "RUNNING",
        "DEACTIVATING",
        "STOPPING",
        "DEPROVISIONING",
        "STOPPED",
        "DELETED",
        "SOMETHING_NEW",
    ] {
        assert_eq!(TaskStatus::parse(raw).as_str(), raw);
    }
    for raw in [
        "TaskFailedToStart",
        "EssentialContainerExited",
        "UserInitiated",
        "ServiceSchedulerInitiated",
        "SpotInterruption",
        "TerminationNotice",
        "InfrastructureHealth",
    ] {
        assert_eq!(StopCode::parse(raw).to_string(), raw);
    }
    for raw in ["INFO", "WARN", "WARNING", "ERROR", "DEBUG"] {
        assert_eq!(EventLevel::parse(raw).as_str(), raw);
    }
    for raw in [
        "SERVICE_STEADY_STATE",
        "SERVICE_TASK_PLACEMENT_FAILURE",
        "SERVICE_DEPLOYMENT_FAILED",
        "SERVICE_REVISION_SOMETHING",
    ] {
        assert_eq!(ServiceEventName::parse(raw).as_str(), raw);
    }
    for raw in ["HOOK_AWAITING_ACTION", "HOOK_TIMED_OUT", "HOOK_NEW"] {
        assert_eq!(HookEventName::parse(raw).as_str(), raw);
    }
    for raw in [
        "DAEMON_TASK_START_IMPAIRED",
        "DAEMON_DEPLOYMENT_PENDING",
        "X",
    ] {
        assert_eq!(DaemonEventName::parse(raw).as_str(), raw);
    }
    for raw in ["OK", "IMPAIRED", "INSUFFICIENT_DATA", "INITIALIZING", "?"] {
        assert_eq!(HealthStatus::parse(raw).as_str(), raw);
    }
    for raw in ["CONTAINER_RUNTIME", "AGENT_CONNECTIVITY", "DISK"] {
        assert_eq!(HealthCheckType::parse(raw).as_str(), raw);
    }
    assert_eq!(TaskStatus::parse("STOPPED"), TaskStatus::Stopped);
    assert_eq!(
        StopCode::parse("InfrastructureHealth"),
        StopCode::Other("InfrastructureHealth".into())
    );
    assert_eq!(
        ServiceEventName::parse("SERVICE_STEADY_STATE"),
        ServiceEventName::SteadyState
    );
}

#[test]
fn each_detail_type_is_typed_into_its_variant_and_others_are_kept() {
    let cases = [
        (
            CONTAINER_INSTANCE_STATE_CHANGE,
            json!({"status": "DRAINING"}),
        ),
        (TASK_STATE_CHANGE, json!({"lastStatus": "STOPPED"})),
        (SERVICE_ACTION, json!({"eventName": "SERVICE_STEADY_STATE"})),
        (
            DEPLOYMENT_STATE_CHANGE,
            json!({"eventName": "SERVICE_DEPLOYMENT_FAILED"}),
        ),
        (
            HOOK_STATE_CHANGE,
            json!({"eventName": "HOOK_AWAITING_ACTION"}),
        ),
        (
            CONTAINER_INSTANCE_HEALTH_CHANGE,
            json!({"overallStatus": "IMPAIRED"}),
        ),
        (DAEMON_SERVICE_ACTION, json!({"eventType": "WARNING"})),
        (
            DAEMON_DEPLOYMENT_STATE_CHANGE,
            json!({"eventName": "DAEMON_DEPLOYMENT_PENDING"}),
        ),
        (
            "AWS API Call via CloudTrail",
            json!({"eventName": "RunTask"}),
        ),
    ];
    let all: Vec<&str> = cases.iter().map(|(t, _)| *t).collect();
    for (detail_type, detail) in cases {
        let event = parse_ecs_event(&body(detail_type, json!([]), detail.clone()), &all)
            .unwrap_or_else(|e| panic!("{detail_type}: {e}"));
        assert_eq!(event.detail.detail_type(), detail_type);
        assert_eq!(event.id.as_deref(), Some("e1"));
        let typed = match event.detail {
            EcsDetail::ContainerInstanceStateChange(d) => {
                d.status == Some(InstanceStatus::Draining)
            }
            EcsDetail::TaskStateChange(d) => d.last_status == Some(TaskStatus::Stopped),
            EcsDetail::ServiceAction(d) => d.event_name == Some(ServiceEventName::SteadyState),
            EcsDetail::DeploymentStateChange(d) => {
                d.event_name == Some(ServiceEventName::DeploymentFailed)
            }
            EcsDetail::HookStateChange(d) => d.event_name == Some(HookEventName::AwaitingAction),
            EcsDetail::ContainerInstanceHealthChange(d) => {
                d.overall_status == Some(HealthStatus::Impaired)
            }
            EcsDetail::DaemonServiceAction(d) => d.event_type == Some(EventLevel::Warning),
            EcsDetail::DaemonDeploymentStateChange(d) => {
                d.event_name == Some(DaemonEventName::DeploymentPending)
            }
            EcsDetail::Other { detail: d, .. } => d == detail,
        };
        assert!(typed, "{detail_type}");
    }
}

#[test]
fn the_documented_detail_types_are_all_typed() {
    for detail_type in DETAIL_TYPES {
        let detail = EcsDetail::from_envelope_detail((*detail_type).to_owned(), json!({}))
            .unwrap_or_else(|e| panic!("{detail_type}: {e}"));
        assert!(
            !matches!(detail, EcsDetail::Other { .. }),
            "{detail_type} is documented, so it is typed"
        );
        assert_eq!(detail.detail_type(), *detail_type);
    }
}

#[test]
fn unknown_fields_and_nulls_are_tolerated_and_wrong_types_are_not() {
    let event = parse_detail::<TaskStateChange>(&body(
        TASK_STATE_CHANGE,
        json!([]),
        json!({"lastStatus": "RUNNING", "group": null, "brandNew": {"nested": [1]},
               "containers": [{"name": "app", "exitCode": null, "somethingElse": true}]}),
    ))
    .unwrap();
    assert_eq!(event.detail.group, None);
    assert_eq!(event.detail.version, None);
    assert_eq!(event.detail.containers[0].exit_code, None);

    for (field, value) in [
        ("version", json!("six")),
        ("containers", json!("none")),
        ("lastStatus", json!(5)),
        ("stoppedAt", json!(1_700_000_000)),
    ] {
        let err = parse_detail::<TaskStateChange>(&body(
            TASK_STATE_CHANGE,
            json!([]),
            json!({ field: value }),
        ))
        .unwrap_err();
        assert_eq!(err.code(), "invalid-field", "{field}");
        assert!(err.to_string().starts_with("detail.* is invalid"), "{err}");
    }
}

#[test]
fn the_envelope_is_checked_before_the_detail() {
    // A detail-type the caller does not read is unexpected, whatever its detail holds.
    let err = parse_detail::<ContainerInstanceStateChange>(&body(
        TASK_STATE_CHANGE,
        json!([]),
        json!({"version": "not a number"}),
    ))
    .unwrap_err();
    assert_eq!(err.code(), "unexpected-detail-type");
    assert_eq!(
        err.to_string(),
        "expected detail-type \"ECS Container Instance State Change\", found \"ECS Task State Change\""
    );
    let err = parse_ecs_event(
        &body(SERVICE_ACTION, json!([]), json!({})),
        &[TASK_STATE_CHANGE],
    )
    .unwrap_err();
    assert_eq!(err.code(), "unexpected-detail-type");
}

#[test]
fn times_are_kept_verbatim_and_read_on_demand() {
    let event = parse_detail::<TaskStateChange>(&body(
        TASK_STATE_CHANGE,
        json!([]),
        json!({"stoppedAt": "2026-11-29T09:59:58.123Z", "updatedAt": "yesterday"}),
    ))
    .unwrap();
    let stopped = event.detail.stopped_at.unwrap();
    assert_eq!(stopped.as_str(), "2026-11-29T09:59:58.123Z");
    assert_eq!(
        stopped.time().map(|t| t.to_rfc3339()),
        Some("2026-11-29T09:59:58.123+00:00".to_owned())
    );
    let updated = event.detail.updated_at.unwrap();
    assert_eq!((updated.as_str(), updated.time()), ("yesterday", None));
}

#[test]
fn the_service_is_found_among_the_resources() {
    let event = parse_ecs_event(
        &body(
            DEPLOYMENT_STATE_CHANGE,
            json!([
                "arn:aws:ecs:us-east-1:1:cluster/prod",
                "arn:aws:ecs:us-east-1:1:service/prod/api"
            ]),
            json!({}),
        ),
        DETAIL_TYPES,
    )
    .unwrap();
    assert_eq!(
        event.service_arn(),
        Some("arn:aws:ecs:us-east-1:1:service/prod/api")
    );
    let none = parse_ecs_event(&body(SERVICE_ACTION, json!([]), json!({})), DETAIL_TYPES).unwrap();
    assert_eq!(none.service_arn(), None);
}

#[test]
fn instance_details_read_agent_version_and_integer_resources() {
    let event = parse_detail::<ContainerInstanceStateChange>(&body(
        CONTAINER_INSTANCE_STATE_CHANGE,
        json!([]),
        json!({"status": "REGISTRATION_FAILED", "versionInfo": {"agentVersion": "1.89.2"},
               "registeredResources": [
                   {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
                   {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22"]}]}),
    ))
    .unwrap();
    let d = event.detail;
    assert_eq!(d.status, Some(InstanceStatus::RegistrationFailed));
    assert_eq!(d.agent_version(), Some("1.89.2"));
    assert_eq!(
        Resource::integer(&d.registered_resources, "CPU"),
        Some(2048)
    );
    assert_eq!(Resource::integer(&d.registered_resources, "PORTS"), None);
    assert_eq!(Resource::integer(&d.remaining_resources, "CPU"), None);
}

#[test]
fn odd_values_anywhere_are_answered_never_panicked_on() {
    // The domain crates' property tests throw arbitrary bodies at this parser through their
    // own parse functions; here, every documented detail-type meets values of every JSON type.
    let values = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5),
        json!("x"),
        json!([]),
        json!({}),
    ];
    let keys = [
        "clusterArn",
        "status",
        "containers",
        "version",
        "eventName",
        "healthChecks",
        "x",
    ];
    for detail_type in DETAIL_TYPES {
        for key in keys {
            for value in &values {
                let _ = parse_ecs_event(
                    &body(detail_type, json!([]), json!({ key: value.clone() })),
                    DETAIL_TYPES,
                );
            }
        }
    }
}
