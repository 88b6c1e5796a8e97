//! The three `aws.ecs` event types the task monitor reads, as the monitor sees them: task
//! state changes, service actions, deployment state changes.
//!
//! The event model is the kernel's ([`sentinel_core::ecs_event`]); this module turns it into
//! [`TaskEvent`]s, strict about what classification and grouping need (cluster, task or
//! service, stop code and reasons), tolerant of everything else: fields AWS adds are
//! ignored, missing exit codes and reasons are normal, reasons are kept verbatim however
//! long.

use chrono::{DateTime, Utc};
use sentinel_core::ecs_event::{
    parse_ecs_event, EcsDetail, EcsEvent, ServiceEvent, ServiceEventName, TaskStateChange,
    TaskStatus,
};
use sentinel_core::event::{ecs_arn, key_part, quoted, required, InvalidEvent};
use sentinel_core::ClusterArn;

pub use sentinel_core::ecs_event::{
    EventLevel as Level, StopCode, DEPLOYMENT_STATE_CHANGE, SERVICE_ACTION, TASK_STATE_CHANGE,
};
pub const DETAIL_TYPES: &[&str] = &[TASK_STATE_CHANGE, SERVICE_ACTION, DEPLOYMENT_STATE_CHANGE];

/// One event the task monitor reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskEvent {
    Task(TaskChange),
    Service(ServiceAction),
    Deployment(DeploymentChange),
}

impl TaskEvent {
    pub fn cluster(&self) -> &ClusterArn {
        match self {
            TaskEvent::Task(t) => &t.cluster,
            TaskEvent::Service(s) => &s.service.cluster,
            TaskEvent::Deployment(d) => &d.service.cluster,
        }
    }

    pub fn time(&self) -> Option<DateTime<Utc>> {
        match self {
            TaskEvent::Task(t) => t.time,
            TaskEvent::Service(s) => s.time,
            TaskEvent::Deployment(d) => d.time,
        }
    }
}

/// What a task's failures are grouped under: its service, or (standalone and scheduled
/// tasks) its task definition family.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    Service(String),
    Family(String),
}

impl Owner {
    pub fn name(&self) -> &str {
        match self {
            Owner::Service(name) | Owner::Family(name) => name,
        }
    }
}

/// A container of the task as the event reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub name: String,
    /// Absent when the container never ran (image pull, resource initialisation).
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
}

/// An "ECS Task State Change".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskChange {
    pub event_id: Option<String>,
    pub time: Option<DateTime<Utc>>,
    pub cluster: ClusterArn,
    pub task_arn: String,
    pub task_definition_arn: String,
    /// `family` of `…:task-definition/family:revision`.
    pub family: String,
    pub revision: Option<u32>,
    pub owner: Owner,
    pub started_by: Option<String>,
    /// `STOPPED` for stops; `RUNNING` for a Spot termination notice.
    pub last_status: TaskStatus,
    pub stop_code: Option<StopCode>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<ContainerState>,
    /// ECS's counter for this task: with the task ARN, it tells a redelivery from news.
    pub version: Option<u64>,
    pub stopped_at: Option<DateTime<Utc>>,
}

impl TaskChange {
    /// The stopped reason and every container reason, for matching and for people.
    pub fn reasons(&self) -> impl Iterator<Item = &str> {
        self.stopped_reason
            .as_deref()
            .into_iter()
            .chain(self.containers.iter().filter_map(|c| c.reason.as_deref()))
    }
}

/// A service, as service and deployment events name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    pub cluster: ClusterArn,
    pub name: String,
}

/// An "ECS Service Action" (steady state, placement failure, start impaired, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAction {
    pub event_id: Option<String>,
    pub time: Option<DateTime<Utc>>,
    pub service: ServiceRef,
    pub level: Level,
    /// The event's name as ECS wrote it (`SERVICE_STEADY_STATE`, …), for people.
    pub name: String,
    /// The same name, parsed: what classification matches on.
    pub event: ServiceEventName,
    pub reason: Option<String>,
}

/// An "ECS Deployment State Change" (in progress, completed, failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentChange {
    pub event_id: Option<String>,
    pub time: Option<DateTime<Utc>>,
    pub service: ServiceRef,
    pub level: Level,
    /// The event's name as ECS wrote it (`SERVICE_DEPLOYMENT_FAILED`, …), for people.
    pub name: String,
    /// The same name, parsed: what classification matches on.
    pub event: ServiceEventName,
    pub deployment_id: Option<String>,
    pub reason: Option<String>,
}

/// What a record on the task queue turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// An event the monitor classifies (boxed: it is many times the size of the others).
    Event(Box<TaskEvent>),
    /// A Spot task's two minutes' notice that names no task definition (AWS's own example
    /// of the Fargate Spot notice has none): it cannot be grouped, only counted per cluster.
    SpotNotice(SpotNotice),
    /// An `aws.ecs` event of a detail-type the task monitor does not read (a container
    /// instance's state change, a health change, …): not a bad record, only not ours.
    NotForThisMonitor { detail_type: String },
}

/// A Spot interruption known only by its cluster and task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpotNotice {
    pub event_id: Option<String>,
    pub time: Option<DateTime<Utc>>,
    pub cluster: ClusterArn,
    pub task_arn: String,
    /// The service, when the event's `group` names one.
    pub service: Option<String>,
}

/// The longest cluster ARN accepted. An episode's key is `tasks#<cluster ARN>#service#<name>`
/// (DynamoDB: at most 2,048 bytes) and the cluster's name is a message attribute: with
/// [`NAME_MAX_BYTES`] the key always fits. ECS names are at most 255 characters, so only
/// what ECS never sends is refused.
pub const CLUSTER_ARN_MAX_BYTES: usize = 1024;
/// The longest service or family name accepted (a key part and the `service` attribute).
pub const NAME_MAX_BYTES: usize = 1000;
/// The longest task ARN accepted: an episode keeps the ARNs of up to 1,000 tasks it
/// counted in one item (400 KB). ECS's longest (a 255-character cluster name, a 32-digit
/// id, the longest partition and region) is about 350 bytes.
pub const TASK_ARN_MAX_BYTES: usize = 400;
/// The most text (reasons, container names) one event may bring: an episode keeps five
/// samples in one item. ECS's own reasons are a few hundred characters.
pub const EVENT_TEXT_MAX_BYTES: usize = 32 * 1024;

/// Parses one SQS record body into what it is for the task monitor, or says precisely why
/// it is unusable.
pub fn parse_incoming(body: &str) -> Result<Incoming, InvalidEvent> {
    let event = match parse_ecs_event(body, DETAIL_TYPES) {
        Ok(event) => event,
        // The source is checked before the detail-type, so this is an `aws.ecs` event.
        Err(InvalidEvent::UnexpectedDetailType { found, .. }) => {
            return Ok(Incoming::NotForThisMonitor { detail_type: found })
        }
        Err(other) => return Err(other),
    };
    if let EcsDetail::TaskStateChange(detail) = &event.detail {
        if detail.task_definition_arn.is_none()
            && matches!(
                detail.stop_code,
                Some(StopCode::SpotInterruption | StopCode::TerminationNotice)
            )
        {
            return spot_notice(event.id.clone(), event.time, detail).map(Incoming::SpotNotice);
        }
    }
    from_event(event).map(|e| Incoming::Event(Box::new(e)))
}

fn spot_notice(
    event_id: Option<String>,
    time: Option<DateTime<Utc>>,
    detail: &TaskStateChange,
) -> Result<SpotNotice, InvalidEvent> {
    let cluster = cluster_arn(required(detail.cluster_arn.clone(), "clusterArn")?)?;
    let task_arn = required(detail.task_arn.clone(), "taskArn")?;
    ecs_arn("taskArn", &task_arn, "task", TASK_ARN_MAX_BYTES)?;
    let service = match detail
        .group
        .as_deref()
        .and_then(|g| g.strip_prefix("service:"))
    {
        Some(service) => Some(name("group", service)?),
        None => None,
    };
    Ok(SpotNotice {
        event_id,
        time,
        cluster,
        task_arn,
        service,
    })
}

/// Parses one SQS record body into a [`TaskEvent`], or says precisely why it cannot (a
/// record [`parse_incoming`] would count or acknowledge is an error here).
pub fn parse_task_event(body: &str) -> Result<TaskEvent, InvalidEvent> {
    from_event(parse_ecs_event(body, DETAIL_TYPES)?)
}

fn from_event(event: EcsEvent) -> Result<TaskEvent, InvalidEvent> {
    let service_arn = event.service_arn().map(str::to_owned);
    let EcsEvent {
        id, time, detail, ..
    } = event;
    match detail {
        EcsDetail::TaskStateChange(detail) => task_change(id, time, detail).map(TaskEvent::Task),
        EcsDetail::ServiceAction(detail) => {
            let service = service_ref(service_arn.as_deref(), &detail)?;
            let level = required(detail.event_type, "eventType")?;
            let event = required(detail.event_name, "eventName")?;
            text_within(detail.reason.iter().map(String::len).sum())?;
            Ok(TaskEvent::Service(ServiceAction {
                event_id: id,
                time,
                service,
                level,
                name: event.as_str().to_owned(),
                event,
                reason: detail.reason,
            }))
        }
        EcsDetail::DeploymentStateChange(detail) => {
            let service = service_ref(service_arn.as_deref(), &detail)?;
            let level = required(detail.event_type, "eventType")?;
            let event = required(detail.event_name, "eventName")?;
            text_within(
                detail.reason.iter().map(String::len).sum::<usize>()
                    + detail.deployment_id.iter().map(String::len).sum::<usize>(),
            )?;
            Ok(TaskEvent::Deployment(DeploymentChange {
                event_id: id,
                time,
                service,
                level,
                name: event.as_str().to_owned(),
                event,
                deployment_id: detail.deployment_id,
                reason: detail.reason,
            }))
        }
        // The envelope admitted only the three detail-types above.
        other => Err(InvalidEvent::unexpected_detail_type(
            DETAIL_TYPES,
            other.detail_type(),
        )),
    }
}

fn task_change(
    event_id: Option<String>,
    time: Option<DateTime<Utc>>,
    detail: TaskStateChange,
) -> Result<TaskChange, InvalidEvent> {
    let cluster = cluster_arn(required(detail.cluster_arn, "clusterArn")?)?;
    let task_arn = required(detail.task_arn, "taskArn")?;
    ecs_arn("taskArn", &task_arn, "task", TASK_ARN_MAX_BYTES).map_err(|_| {
        InvalidEvent::InvalidField {
            field: "taskArn",
            problem: format!(
                "expected a task ARN of at most {TASK_ARN_MAX_BYTES} bytes, found {}",
                quoted(&task_arn)
            ),
        }
    })?;
    let task_definition_arn = required(detail.task_definition_arn, "taskDefinitionArn")?;
    let (family, revision) =
        family_and_revision(&task_definition_arn).ok_or_else(|| InvalidEvent::InvalidField {
            field: "taskDefinitionArn",
            problem: format!(
                "expected …:task-definition/family:revision, found {}",
                quoted(&task_definition_arn)
            ),
        })?;
    let family = name("taskDefinitionArn", &family)?;
    // Service tasks are grouped `service:NAME`; everything else by its family (a standalone
    // task's group is `family:NAME` unless its starter chose another group name).
    let owner = match detail
        .group
        .as_deref()
        .and_then(|g| g.strip_prefix("service:"))
    {
        Some(service) if !service.is_empty() => Owner::Service(name("group", service)?),
        _ => Owner::Family(family.clone()),
    };
    text_within(
        detail.stopped_reason.iter().map(String::len).sum::<usize>()
            + task_definition_arn.len()
            + detail
                .containers
                .iter()
                .map(|c| {
                    c.name.as_deref().map_or(0, str::len) + c.reason.as_deref().map_or(0, str::len)
                })
                .sum::<usize>(),
    )?;
    Ok(TaskChange {
        event_id,
        time,
        cluster,
        task_arn,
        task_definition_arn,
        family,
        revision,
        owner,
        started_by: detail.started_by,
        last_status: required(detail.last_status, "lastStatus")?,
        stop_code: detail.stop_code,
        stopped_reason: detail.stopped_reason,
        containers: detail
            .containers
            .into_iter()
            .map(|c| ContainerState {
                name: c.name.unwrap_or_else(|| "(unnamed)".to_owned()),
                exit_code: c.exit_code,
                reason: c.reason,
            })
            .collect(),
        version: detail.version,
        stopped_at: detail.stopped_at.and_then(|t| t.time()),
    })
}

/// The service of a service or deployment event. The service is the event's resource
/// (`…:service/cluster/name`), or failing that `serviceName` or `service`; the cluster comes
/// from `detail.clusterArn` or, for deployment events that carry none, from that ARN.
fn service_ref(
    service_arn: Option<&str>,
    detail: &ServiceEvent,
) -> Result<ServiceRef, InvalidEvent> {
    let from_arn = service_arn.and_then(sentinel_core::ids::service_arn_parts);
    let name = from_arn
        .as_ref()
        .map(|(_, name)| name.clone())
        .or_else(|| detail.service_name.clone())
        .or_else(|| detail.service.clone())
        .ok_or(InvalidEvent::MissingField {
            field: "resources (the service ARN)",
        })?;
    let name = self::name("resources (the service ARN)", &name)?;
    let cluster = match (
        &detail.cluster_arn,
        from_arn.and_then(|(cluster, _)| cluster),
    ) {
        (Some(arn), _) => cluster_arn(arn.clone())?,
        (None, Some(cluster)) => cluster,
        (None, None) => {
            return Err(InvalidEvent::MissingField {
                field: "clusterArn (and the service ARN names no cluster)",
            })
        }
    };
    Ok(ServiceRef { cluster, name })
}

fn family_and_revision(task_definition_arn: &str) -> Option<(String, Option<u32>)> {
    let (_, rest) = task_definition_arn.split_once(":task-definition/")?;
    let (family, revision) = match rest.rsplit_once(':') {
        Some((family, revision)) => (family, revision.parse().ok()),
        None => (rest, None),
    };
    (!family.is_empty()).then(|| (family.to_owned(), revision))
}

fn cluster_arn(raw: String) -> Result<ClusterArn, InvalidEvent> {
    key_part("clusterArn", &raw, CLUSTER_ARN_MAX_BYTES)?;
    ClusterArn::parse(&raw).map_err(|_| InvalidEvent::InvalidField {
        field: "clusterArn",
        problem: format!(
            "expected arn:<partition>:ecs:<region>:<account>:cluster/<name>, found {}",
            quoted(&raw)
        ),
    })
}

/// A service or family name: part of the episode's key and (a service) a message
/// attribute, so neither empty nor longer than [`NAME_MAX_BYTES`].
fn name(field: &'static str, raw: &str) -> Result<String, InvalidEvent> {
    key_part(field, raw, NAME_MAX_BYTES)?;
    Ok(raw.to_owned())
}

fn text_within(bytes: usize) -> Result<(), InvalidEvent> {
    if bytes > EVENT_TEXT_MAX_BYTES {
        return Err(InvalidEvent::TooLarge {
            what: "the event's reasons and container names",
            bytes,
            max: EVENT_TEXT_MAX_BYTES,
        });
    }
    Ok(())
}

#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures {
    //! Events in the shapes AWS documents (ECS developer guide, "Amazon ECS events"), made
    //! here for the tests: a stopped task, a service action, a deployment state change. The
    //! unit tests here use them, and (feature `fixtures`) the emulator tests and the demo,
    //! so every test speaks the same event shapes.
    use serde_json::{json, Value};

    pub const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";

    /// A service task of `api` that stopped, with `detail` fields merged over the defaults.
    pub fn stopped_task(detail: Value) -> Value {
        let mut base = json!({
            "version": "0",
            "id": "0d8a5a0e-2a1c-4c7e-9a51-3b0f8f1e0a11",
            "detail-type": "ECS Task State Change",
            "source": "aws.ecs",
            "account": "123456789012",
            "time": "2026-11-29T10:00:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:ecs:us-east-1:123456789012:task/prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0"],
            "detail": {
                "clusterArn": CLUSTER,
                "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/api:42",
                "group": "service:api",
                "startedBy": "ecs-svc/9223370526043414679",
                "launchType": "FARGATE",
                "lastStatus": "STOPPED",
                "desiredStatus": "STOPPED",
                "stopCode": "EssentialContainerExited",
                "stoppedReason": "Essential container in task exited",
                "stoppedAt": "2026-11-29T09:59:58.123Z",
                "version": 5,
                "containers": [
                    {"name": "app", "exitCode": 1, "lastStatus": "STOPPED",
                     "containerArn": "arn:aws:ecs:us-east-1:123456789012:container/prod/0f1e/aa"},
                    {"name": "log-router", "exitCode": 0, "lastStatus": "STOPPED"}
                ],
                "attachments": [{"id": "x", "type": "eni", "status": "DELETED", "details": []}]
            }
        });
        merge(&mut base["detail"], detail);
        base
    }

    pub fn service_event(detail_type: &str, detail: Value) -> Value {
        json!({
            "version": "0",
            "id": "af3c496d-f4a8-65d1-70f4-a69d52e9b584",
            "detail-type": detail_type,
            "source": "aws.ecs",
            "account": "123456789012",
            "time": "2026-11-29T10:05:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:ecs:us-east-1:123456789012:service/prod/api"],
            "detail": detail
        })
    }

    fn merge(base: &mut Value, patch: Value) {
        if let (Some(base), Value::Object(patch)) = (base.as_object_mut(), patch) {
            for (key, value) in patch {
                if value.is_null() {
                    base.remove(&key);
                } else {
                    base.insert(key, value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use serde_json::json;

    fn task(detail: serde_json::Value) -> Result<TaskChange, InvalidEvent> {
        match parse_task_event(&stopped_task(detail).to_string())? {
            TaskEvent::Task(t) => Ok(t),
            other => panic!("expected a task event, got {other:?}"),
        }
    }

    #[test]
    fn a_stopped_service_task_is_read_whole() {
        let t = task(json!({})).unwrap();
        assert_eq!(t.cluster.name(), "prod");
        assert_eq!(t.owner, Owner::Service("api".into()));
        assert_eq!((t.family.as_str(), t.revision), ("api", Some(42)));
        assert_eq!(t.stop_code, Some(StopCode::EssentialContainerExited));
        assert_eq!(t.version, Some(5));
        assert_eq!(t.containers[0].exit_code, Some(1));
        assert_eq!(t.containers[1].name, "log-router");
        assert_eq!(
            t.reasons().collect::<Vec<_>>(),
            vec!["Essential container in task exited"]
        );
        assert!(t.stopped_at.is_some());
    }

    #[test]
    fn standalone_tasks_are_grouped_by_family_whatever_their_group() {
        let t = task(json!({"group": "family:nightly-report",
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/nightly-report:7"}))
        .unwrap();
        assert_eq!(t.owner, Owner::Family("nightly-report".into()));
        let custom = task(json!({"group": "batch-jobs",
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/etl:3"}))
        .unwrap();
        assert_eq!(custom.owner, Owner::Family("etl".into()));
        let no_group = task(json!({"group": null})).unwrap();
        assert_eq!(no_group.owner, Owner::Family("api".into()));
    }

    #[test]
    fn what_aws_leaves_out_is_tolerated() {
        let t = task(
            json!({"stopCode": null, "stoppedReason": null, "version": null,
            "stoppedAt": "not a time", "containers": [{"name": "app"}], "brandNewField": [1, 2]}),
        )
        .unwrap();
        assert_eq!(t.stop_code, None);
        assert_eq!(t.containers[0].exit_code, None);
        assert_eq!((t.version, t.stopped_at), (None, None));
        let unknown = task(json!({"stopCode": "InfrastructureHealth"})).unwrap();
        assert_eq!(
            unknown.stop_code,
            Some(StopCode::Other("InfrastructureHealth".into()))
        );
        let long = "x".repeat(5000);
        assert_eq!(
            task(json!({"stoppedReason": long.clone()}))
                .unwrap()
                .stopped_reason,
            Some(long),
            "reasons are kept verbatim, never truncated"
        );
    }

    #[test]
    fn unusable_task_events_name_the_field() {
        let cases = [
            (json!({"clusterArn": null}), "detail.clusterArn is missing"),
            (json!({"taskArn": "abc"}), "detail.taskArn is invalid"),
            (
                json!({"taskDefinitionArn": "api:4"}),
                "detail.taskDefinitionArn is invalid",
            ),
            (json!({"lastStatus": null}), "detail.lastStatus is missing"),
            (json!({"containers": "none"}), "detail.* is invalid"),
        ];
        for (patch, text) in cases {
            let err = task(patch.clone()).unwrap_err();
            assert!(err.to_string().contains(text), "{patch}: {err}");
        }
    }

    #[test]
    fn service_events_find_their_service_and_cluster() {
        let steady = parse_task_event(
            &service_event(
                SERVICE_ACTION,
                json!({"eventType": "INFO", "eventName": "SERVICE_STEADY_STATE",
                       "clusterArn": CLUSTER, "createdAt": "2026-11-29T10:05:00.695Z"}),
            )
            .to_string(),
        )
        .unwrap();
        let TaskEvent::Service(s) = steady else {
            panic!("expected a service action")
        };
        assert_eq!(
            (s.service.cluster.name(), s.service.name.as_str()),
            ("prod", "api")
        );
        assert_eq!(
            (s.level, s.name.as_str()),
            (Level::Info, "SERVICE_STEADY_STATE")
        );

        // Deployment events carry no clusterArn: the long service ARN names the cluster.
        let failed = parse_task_event(
            &service_event(
                DEPLOYMENT_STATE_CHANGE,
                json!({"eventType": "ERROR", "eventName": "SERVICE_DEPLOYMENT_FAILED",
                       "deploymentId": "ecs-svc/123", "updatedAt": "2026-11-29T10:05:00Z",
                       "reason": "ECS deployment circuit breaker: task failed to start."}),
            )
            .to_string(),
        )
        .unwrap();
        let TaskEvent::Deployment(d) = failed else {
            panic!("expected a deployment change")
        };
        assert_eq!(d.service.cluster.as_str(), CLUSTER);
        assert_eq!(d.deployment_id.as_deref(), Some("ecs-svc/123"));

        // An old-format service ARN with no clusterArn cannot be placed.
        let mut old = service_event(
            DEPLOYMENT_STATE_CHANGE,
            json!({"eventType": "INFO", "eventName": "SERVICE_DEPLOYMENT_COMPLETED"}),
        );
        old["resources"] = json!(["arn:aws:ecs:us-east-1:123456789012:service/api"]);
        let err = parse_task_event(&old.to_string()).unwrap_err();
        assert_eq!(err.code(), "missing-field");
        assert!(err.to_string().contains("names no cluster"), "{err}");
    }

    macro_rules! documented {
        ($file:literal) => {
            (
                $file,
                include_str!(concat!(
                    "../../sentinel-core/tests/fixtures/ecs-events/",
                    $file
                )),
            )
        };
    }

    /// AWS's examples of the task events: each is an event, a counted Spot notice (the
    /// Fargate Spot examples name no task definition; they used to be dead-lettered as
    /// `missing-field`), or acknowledged as not ours. None is unusable.
    #[test]
    fn every_documented_shape_is_read_or_acknowledged() {
        use super::Incoming::*;
        let cases = [
            (documented!("task-state-change-fargate.json"), "event"),
            (documented!("task-state-change-ec2.json"), "event"),
            (
                documented!("task-state-change-fargate-spot-interruption.json"),
                "spot",
            ),
            (
                documented!("task-state-change-fargate-spot-termination-notice.json"),
                "spot",
            ),
            (documented!("service-action-steady-state.json"), "event"),
            (
                documented!("service-action-task-placement-failure.json"),
                "event",
            ),
            (
                documented!("service-action-task-start-impaired.json"),
                "event",
            ),
            (
                documented!("service-action-capacity-provider-steady-state.json"),
                "event",
            ),
            (
                documented!("deployment-state-change-completed.json"),
                "event",
            ),
            (documented!("deployment-state-change-failed.json"), "event"),
            (
                documented!("deployment-state-change-in-progress.json"),
                "event",
            ),
            (
                documented!("deployment-state-change-rollback-in-progress.json"),
                "event",
            ),
            (
                documented!("container-instance-state-change.json"),
                "not ours",
            ),
            (documented!("hook-state-change-pause-hook.json"), "not ours"),
        ];
        for ((file, body), expected) in cases {
            let got = match parse_incoming(body) {
                Ok(Event(_)) => "event",
                Ok(SpotNotice(notice)) => {
                    assert_eq!(notice.cluster.name(), "default", "{file}");
                    "spot"
                }
                Ok(NotForThisMonitor { .. }) => "not ours",
                Err(err) => panic!("{file}: {err}"),
            };
            assert_eq!(got, expected, "{file}");
        }
    }

    #[test]
    fn keys_and_attributes_that_could_never_be_written_are_refused() {
        let long = |n: usize| "a".repeat(n);
        let cases = [
            json!({"clusterArn": ""}),
            json!({"clusterArn": format!("arn:aws:ecs:us-east-1:1:cluster/{}", long(2000))}),
            json!({"taskArn": format!("arn:aws:ecs:us-east-1:1:task/prod/{}", long(2000))}),
            json!({"taskArn": "arn:aws:ecs:us-east-1:1:task/"}),
            json!({"group": format!("service:{}", long(1500))}),
            json!({"taskDefinitionArn": format!("arn:aws:ecs:us-east-1:1:task-definition/{}:1", long(1500))}),
            json!({"stoppedReason": long(40_000)}),
        ];
        for patch in cases {
            let err = parse_task_event(&stopped_task(patch.clone()).to_string()).unwrap_err();
            assert!(
                matches!(err.code(), "invalid-field" | "too-large"),
                "{patch}: {err}"
            );
            assert!(err.to_string().len() < 500, "{err}");
        }
        let mut nameless = service_event(
            SERVICE_ACTION,
            json!({"eventType": "WARN", "eventName": "SERVICE_TASK_START_IMPAIRED",
                   "clusterArn": CLUSTER, "serviceName": ""}),
        );
        nameless["resources"] = json!([]);
        let err = parse_task_event(&nameless.to_string()).unwrap_err();
        assert_eq!(err.code(), "invalid-field", "{err}");
    }

    proptest::proptest! {
        /// Whatever arrives, parsing answers with a value or a reason: it never panics.
        #[test]
        fn never_panics_on_arbitrary_bodies(body in ".{0,400}") {
            let _ = parse_task_event(&body);
        }

        #[test]
        fn never_panics_on_arbitrary_field_values(value in proptest::arbitrary::any::<i64>(), key in "[a-zA-Z]{1,20}") {
            let body = stopped_task(json!({ key: value })).to_string();
            let _ = parse_task_event(&body);
        }
    }
}
