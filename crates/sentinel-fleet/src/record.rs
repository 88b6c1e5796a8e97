//! `aws.ecs` events as fleet records: the newest known state of one container instance, task
//! or service, with the order that says which of two states is newer.
//!
//! The event model is the kernel's ([`sentinel_core::ecs_event`]); a record keeps what the
//! operator asks about, as ECS wrote it (the stored JSON is the CLI's stable schema).
//!
//! Tasks and container instances carry ECS's own counter (`detail.version`), which grows
//! with every change of that one resource: EventBridge may deliver events late, twice or out
//! of order, and the version still tells which state is newer. Service actions and
//! deployment changes carry no version; their order is the event's time in milliseconds.
//! Each key has one kind of order, so orders are only ever compared like with like.

use chrono::{DateTime, TimeDelta, Utc};
use sentinel_core::ecs_event::{
    parse_ecs_event, ContainerInstanceStateChange, EcsDetail, Resource, ServiceEvent,
    TaskStateChange, TaskStatus, Timestamp,
};
use sentinel_core::event::{
    ecs_arn, required, InvalidEvent, ITEM_MAX_BYTES, PARTITION_KEY_MAX_BYTES,
};
use sentinel_core::ids::service_arn_parts;
use sentinel_core::states::InstanceStatus;
use serde::{Deserialize, Serialize};

pub use sentinel_core::ecs_event::{
    CONTAINER_INSTANCE_STATE_CHANGE, DEPLOYMENT_STATE_CHANGE, SERVICE_ACTION, TASK_STATE_CHANGE,
};
/// The detail-types the fleet keeps. Every other `aws.ecs` event (API calls recorded by
/// CloudTrail, health changes, hooks, daemons) is acknowledged and left to the event archive.
pub const DETAIL_TYPES: &[&str] = &[
    CONTAINER_INSTANCE_STATE_CHANGE,
    TASK_STATE_CHANGE,
    SERVICE_ACTION,
    DEPLOYMENT_STATE_CHANGE,
];

/// What a record describes; also the first part of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Instance,
    Task,
    ServiceAction,
    Deployment,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Instance,
        Kind::Task,
        Kind::ServiceAction,
        Kind::Deployment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Instance => "instance",
            Kind::Task => "task",
            Kind::ServiceAction => "service-action",
            Kind::Deployment => "deployment",
        }
    }

    pub fn parse(raw: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// The key of the record of this kind about `arn`: `task#arn:aws:ecs:…`. The ARN
    /// carries the account and region, so keys from many accounts never collide.
    pub fn key(self, arn: &str) -> String {
        format!("{}#{arn}", self.as_str())
    }
}

/// CPU units and MiB of memory, from ECS's resource lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<i64>,
}

/// A container instance as its latest state change described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceRecord {
    pub container_instance_arn: String,
    pub cluster_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ec2_instance_id: Option<String>,
    /// ACTIVE, DRAINING, REGISTERING, DEREGISTERING, INACTIVE, …
    pub status: String,
    pub agent_connected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    pub registered: Resources,
    pub remaining: Resources,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_tasks: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    pub version: u64,
}

/// One container of a task, as the task's latest state change described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
    /// Absent while running, and when the container never ran.
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
}

/// A task as its latest state change described it. Serialized, this is also the stable JSON
/// of `ecs-sentinel tasks --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRecord {
    pub task_arn: String,
    pub cluster_arn: String,
    pub last_status: String,
    pub desired_status: Option<String>,
    /// `service:<name>` for a service's tasks, `family:<name>` for the rest.
    pub group: Option<String>,
    pub task_definition_arn: Option<String>,
    /// The container instance it was placed on (EC2 and ECS Anywhere): with the instance's
    /// own record, the EC2 instance or managed node, and whether its agent was connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    /// Who started it: `ecs-svc/<number>` for a service's deployment, else the caller's tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// The service deployment that started it (its id, `ecs-svc/<number>`, the id ECS's
    /// deployment events and DescribeServices name), when a deployment did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_provider_name: Option<String>,
    pub containers: Vec<Container>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<String>,
    pub updated_at: Option<String>,
    pub version: u64,
}

#[cfg(test)]
impl TaskRecord {
    /// The tests' starting point: task `id` of service `api` in cluster `prod`, one `app`
    /// container, version 1, nothing else known.
    pub(crate) fn example(id: &str, status: &str) -> Self {
        TaskRecord {
            task_arn: format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{id}"),
            cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/prod".into(),
            last_status: status.into(),
            desired_status: None,
            group: Some("service:api".into()),
            task_definition_arn: None,
            container_instance_arn: None,
            started_by: None,
            deployment_id: None,
            launch_type: None,
            capacity_provider_name: None,
            containers: vec![Container {
                name: "app".into(),
                last_status: None,
                exit_code: None,
                reason: None,
            }],
            stop_code: None,
            stopped_reason: None,
            created_at: None,
            started_at: None,
            stopped_at: None,
            updated_at: None,
            version: 1,
        }
    }
}

/// The latest service action, or the latest deployment state change, of one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEventRecord {
    pub service_arn: String,
    pub cluster_arn: String,
    /// The service's name (the last part of its ARN).
    pub service: String,
    /// `SERVICE_STEADY_STATE`, `SERVICE_TASK_PLACEMENT_FAILURE`,
    /// `SERVICE_DEPLOYMENT_COMPLETED`, …
    pub event_name: String,
    /// INFO, WARN or ERROR.
    pub event_type: Option<String>,
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// When it happened (RFC 3339).
    pub at: String,
}

/// The newest known state of one thing in the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetRecord {
    Instance(InstanceRecord),
    Task(TaskRecord),
    ServiceAction(ServiceEventRecord),
    Deployment(ServiceEventRecord),
}

impl FleetRecord {
    pub fn kind(&self) -> Kind {
        match self {
            FleetRecord::Instance(_) => Kind::Instance,
            FleetRecord::Task(_) => Kind::Task,
            FleetRecord::ServiceAction(_) => Kind::ServiceAction,
            FleetRecord::Deployment(_) => Kind::Deployment,
        }
    }

    /// The ARN the record is about.
    pub fn arn(&self) -> &str {
        match self {
            FleetRecord::Instance(i) => &i.container_instance_arn,
            FleetRecord::Task(t) => &t.task_arn,
            FleetRecord::ServiceAction(s) | FleetRecord::Deployment(s) => &s.service_arn,
        }
    }

    pub fn key(&self) -> String {
        self.kind().key(self.arn())
    }

    pub fn cluster_arn(&self) -> &str {
        match self {
            FleetRecord::Instance(i) => &i.cluster_arn,
            FleetRecord::Task(t) => &t.cluster_arn,
            FleetRecord::ServiceAction(s) | FleetRecord::Deployment(s) => &s.cluster_arn,
        }
    }

    /// Which of two records of one key is newer: ECS's version for instances and tasks,
    /// the event time in milliseconds for service events.
    pub fn order(&self) -> u64 {
        match self {
            FleetRecord::Instance(i) => i.version,
            FleetRecord::Task(t) => t.version,
            FleetRecord::ServiceAction(s) | FleetRecord::Deployment(s) => parse_time(&s.at)
                .and_then(|t| u64::try_from(t.timestamp_millis()).ok())
                .unwrap_or(0),
        }
    }

    /// When the state it describes came to be, for sorting newest first.
    pub fn updated_at(&self) -> Option<DateTime<Utc>> {
        match self {
            FleetRecord::Instance(i) => i.updated_at.as_deref().and_then(parse_time),
            FleetRecord::Task(t) => t
                .updated_at
                .as_deref()
                .or(t.stopped_at.as_deref())
                .and_then(parse_time),
            FleetRecord::ServiceAction(s) | FleetRecord::Deployment(s) => parse_time(&s.at),
        }
    }

    /// When the stored record may go: stopped tasks `stopped_retention` after they
    /// stopped, far past ECS's hour; everything else stays while it exists (a record marked
    /// gone by the reconcile expires like a stopped task).
    pub fn expires_at(
        &self,
        stopped_retention: TimeDelta,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match self {
            FleetRecord::Task(t) if TaskStatus::parse(&t.last_status) == TaskStatus::Stopped => {
                let stopped = t
                    .stopped_at
                    .as_deref()
                    .and_then(parse_time)
                    .or_else(|| self.updated_at())
                    .unwrap_or(now);
                Some(stopped + stopped_retention)
            }
            FleetRecord::Instance(i)
                if InstanceStatus::parse(&i.status) == InstanceStatus::Inactive =>
            {
                Some(self.updated_at().unwrap_or(now) + stopped_retention)
            }
            _ => None,
        }
    }

    /// The record as stored and printed: the variant's own JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            FleetRecord::Instance(i) => serde_json::to_value(i),
            FleetRecord::Task(t) => serde_json::to_value(t),
            FleetRecord::ServiceAction(s) | FleetRecord::Deployment(s) => serde_json::to_value(s),
        };
        // Serializing plain structs of strings and numbers cannot fail.
        value.unwrap_or(serde_json::Value::Null)
    }

    /// The inverse of [`FleetRecord::to_json`], for a stored record of `kind`.
    pub fn from_json(
        kind: Kind,
        value: serde_json::Value,
    ) -> Result<FleetRecord, serde_json::Error> {
        Ok(match kind {
            Kind::Instance => FleetRecord::Instance(serde_json::from_value(value)?),
            Kind::Task => FleetRecord::Task(serde_json::from_value(value)?),
            Kind::ServiceAction => FleetRecord::ServiceAction(serde_json::from_value(value)?),
            Kind::Deployment => FleetRecord::Deployment(serde_json::from_value(value)?),
        })
    }
}

pub fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Parses one SQS record body. `Ok(None)` is an `aws.ecs` event of a detail-type the fleet
/// does not keep (acknowledged, not an error); `Err` says why the body is unusable, which
/// includes a record the fleet table could never store (see [`storable`]).
pub fn parse_fleet_event(body: &str) -> Result<Option<FleetRecord>, InvalidEvent> {
    match parse_kept(body)? {
        Some(record) => storable(record).map(Some),
        None => Ok(None),
    }
}

/// Room in an item for everything but the record's JSON and its two keys: the attribute
/// names, `kind`, `sk` (a kind and a time), `order`, `recorded_at`, `ttl`, `gone`.
const ITEM_OVERHEAD_BYTES: usize = 1024;

/// Refuses a record whose write DynamoDB would refuse on every try: its key (`<kind>#<ARN>`,
/// the table's partition key) and cluster (the `by-cluster` index's partition key) empty or
/// over 2,048 bytes, or the item over 400 KB. The parse functions check the ARNs' shapes and
/// lengths already; this checks what they compose.
pub fn storable(record: FleetRecord) -> Result<FleetRecord, InvalidEvent> {
    let key = record.key();
    if key.len() > PARTITION_KEY_MAX_BYTES {
        return Err(InvalidEvent::TooLarge {
            what: "the record's key",
            bytes: key.len(),
            max: PARTITION_KEY_MAX_BYTES,
        });
    }
    let bytes = record.to_json().to_string().len()
        + key.len()
        + record.cluster_arn().len()
        + ITEM_OVERHEAD_BYTES;
    if bytes > ITEM_MAX_BYTES {
        return Err(InvalidEvent::TooLarge {
            what: "the fleet table item",
            bytes,
            max: ITEM_MAX_BYTES,
        });
    }
    Ok(record)
}

/// The longest ARN a key of any kind can hold: the key is `<kind>#<ARN>`, and the longest
/// kind is `service-action`.
const ARN_MAX_BYTES: usize = PARTITION_KEY_MAX_BYTES - "service-action#".len();

/// A cluster ARN the `by-cluster` index can hold.
fn cluster(value: Option<String>) -> Result<String, InvalidEvent> {
    let value = required(value, "clusterArn")?;
    ecs_arn("clusterArn", &value, "cluster", PARTITION_KEY_MAX_BYTES)?;
    Ok(value)
}

fn parse_kept(body: &str) -> Result<Option<FleetRecord>, InvalidEvent> {
    let event = match parse_ecs_event(body, DETAIL_TYPES) {
        Ok(event) => event,
        Err(InvalidEvent::UnexpectedDetailType { .. }) => return Ok(None),
        Err(other) => return Err(other),
    };
    let service_arn = event.service_arn().map(str::to_owned);
    let time = event.time;
    match event.detail {
        EcsDetail::ContainerInstanceStateChange(d) => instance(time, d).map(FleetRecord::Instance),
        EcsDetail::TaskStateChange(d) => task(time, d).map(FleetRecord::Task),
        EcsDetail::ServiceAction(d) => {
            service_event(time, service_arn, d).map(FleetRecord::ServiceAction)
        }
        EcsDetail::DeploymentStateChange(d) => {
            service_event(time, service_arn, d).map(FleetRecord::Deployment)
        }
        // Not a kept detail-type (the envelope admitted none other).
        _ => return Ok(None),
    }
    .map(Some)
}

/// The event's own `updatedAt` as ECS wrote it, or else the event time.
fn updated_at(updated_at: Option<Timestamp>, time: Option<DateTime<Utc>>) -> Option<String> {
    updated_at
        .map(Timestamp::into_string)
        .or_else(|| time.map(|t| t.to_rfc3339()))
}

fn resources(list: &[Resource]) -> Resources {
    Resources {
        cpu: Resource::integer(list, "CPU"),
        memory: Resource::integer(list, "MEMORY"),
    }
}

fn instance(
    time: Option<DateTime<Utc>>,
    d: ContainerInstanceStateChange,
) -> Result<InstanceRecord, InvalidEvent> {
    let container_instance_arn = required(d.container_instance_arn, "containerInstanceArn")?;
    ecs_arn(
        "containerInstanceArn",
        &container_instance_arn,
        "container-instance",
        ARN_MAX_BYTES,
    )?;
    Ok(InstanceRecord {
        container_instance_arn,
        cluster_arn: cluster(d.cluster_arn)?,
        ec2_instance_id: d.ec2_instance_id,
        status: required(d.status, "status")?.as_str().to_owned(),
        agent_connected: required(d.agent_connected, "agentConnected")?,
        agent_version: d.version_info.and_then(|v| v.agent_version),
        registered: resources(&d.registered_resources),
        remaining: resources(&d.remaining_resources),
        running_tasks: d.running_tasks_count,
        updated_at: updated_at(d.updated_at, time),
        version: required(d.version, "version")?,
    })
}

/// The deployment id in a task's `startedBy`: a service's deployments start their tasks as
/// `ecs-svc/<digits>`, which is also the deployment's id.
pub fn deployment_of(started_by: &str) -> Option<String> {
    let digits = started_by.strip_prefix("ecs-svc/")?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| started_by.to_owned())
}

fn task(time: Option<DateTime<Utc>>, d: TaskStateChange) -> Result<TaskRecord, InvalidEvent> {
    let task_arn = required(d.task_arn, "taskArn")?;
    ecs_arn("taskArn", &task_arn, "task", ARN_MAX_BYTES)?;
    Ok(TaskRecord {
        task_arn,
        cluster_arn: cluster(d.cluster_arn)?,
        last_status: required(d.last_status, "lastStatus")?.as_str().to_owned(),
        desired_status: d.desired_status.map(|s| s.as_str().to_owned()),
        group: d.group,
        task_definition_arn: d.task_definition_arn,
        container_instance_arn: d.container_instance_arn,
        deployment_id: d.started_by.as_deref().and_then(deployment_of),
        started_by: d.started_by,
        launch_type: d.launch_type,
        capacity_provider_name: d.capacity_provider_name,
        containers: d
            .containers
            .into_iter()
            .map(|c| Container {
                // A container without a name is still worth its exit code.
                name: c.name.unwrap_or_else(|| "(unnamed)".to_owned()),
                last_status: c.last_status.map(|s| s.as_str().to_owned()),
                exit_code: c.exit_code,
                reason: c.reason,
            })
            .collect(),
        stop_code: d.stop_code.map(|c| c.as_str().to_owned()),
        stopped_reason: d.stopped_reason,
        created_at: d.created_at.map(Timestamp::into_string),
        started_at: d.started_at.map(Timestamp::into_string),
        stopped_at: d.stopped_at.map(Timestamp::into_string),
        updated_at: updated_at(d.updated_at, time),
        // AWS's own example of a Fargate Spot notice carries no version. Such a state
        // cannot be ordered against the task's others, so it counts as older than all of
        // them (0; ECS's versions start at 1): it is kept only while nothing else is known
        // of the task, and any versioned event replaces it.
        version: d.version.unwrap_or(0),
    })
}

fn service_event(
    time: Option<DateTime<Utc>>,
    service_arn: Option<String>,
    d: ServiceEvent,
) -> Result<ServiceEventRecord, InvalidEvent> {
    let service_arn = required(service_arn, "resources[] (the service ARN)")?;
    let (arn_cluster, service) = required(
        service_arn_parts(&service_arn),
        "resources[] (the service ARN)",
    )?;
    ecs_arn(
        "resources[] (the service ARN)",
        &service_arn,
        "service",
        ARN_MAX_BYTES,
    )?;
    // Deployment events name their cluster only through the service ARN.
    let cluster_arn = match (d.cluster_arn, arn_cluster) {
        (Some(arn), _) => cluster(Some(arn))?,
        (None, Some(cluster)) => cluster.as_str().to_owned(),
        (None, None) => {
            return Err(InvalidEvent::MissingField {
                field: "clusterArn (and the service ARN names no cluster)",
            })
        }
    };
    let at = time
        .or_else(|| d.updated_at.as_ref().and_then(Timestamp::time))
        .or_else(|| d.created_at.as_ref().and_then(Timestamp::time));
    Ok(ServiceEventRecord {
        cluster_arn,
        service,
        event_name: required(d.event_name, "eventName")?.as_str().to_owned(),
        event_type: d.event_type.map(|l| l.as_str().to_owned()),
        reason: d.reason,
        deployment_id: d.deployment_id,
        at: required(at, "updatedAt")?.to_rfc3339(),
        service_arn,
    })
}

#[cfg(test)]
mod tests;
