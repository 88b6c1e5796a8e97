//! The ECS event model, once: every detail-type Amazon ECS publishes to EventBridge
//! (`source: aws.ecs`), typed with serde, for every monitor.
//!
//! The envelope is [`crate::event`]'s; this module types the `detail` of each detail-type
//! AWS documents ("Amazon ECS events" in the ECS developer guide) into [`EcsDetail`], and
//! keeps any other detail-type (CloudTrail's "AWS API Call via CloudTrail", one AWS adds
//! later) as [`EcsDetail::Other`].
//!
//! The rules every reader of ECS events shares:
//! - **Tolerant of what AWS adds.** Unknown fields are ignored, never rejected (no
//!   `deny_unknown_fields`); only the fields some monitor reads are typed at all.
//! - **Nothing is required here.** Every field is an `Option` (a list, empty when absent):
//!   which fields an event cannot do without is the monitor's call, made with
//!   [`crate::event::required`] in the monitor's order, so its [`InvalidEvent`] names the
//!   field. A typed field of the wrong JSON type makes the body unusable
//!   ([`InvalidEvent::InvalidField`] on `detail.*`, code `invalid-field`).
//! - **AWS's names become enums at the edge** ([`TaskStatus`], [`StopCode`],
//!   [`EventLevel`], [`ServiceEventName`], [`crate::states::InstanceStatus`], …), so the
//!   domain matches on variants; a name this version does not know is kept as it came
//!   (`Other`), and `as_str` gives back exactly what AWS sent.
//! - **Times are kept as ECS wrote them** ([`Timestamp`]): records store and print the
//!   text; [`Timestamp::time`] reads it, and one that does not parse costs only itself.

use crate::event::{parse_envelope, typed_detail, Envelope, InvalidEvent};
use crate::states::InstanceStatus;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use std::fmt;

pub use crate::event::ECS_SOURCE;

pub const CONTAINER_INSTANCE_STATE_CHANGE: &str = "ECS Container Instance State Change";
pub const TASK_STATE_CHANGE: &str = "ECS Task State Change";
pub const SERVICE_ACTION: &str = "ECS Service Action";
pub const DEPLOYMENT_STATE_CHANGE: &str = "ECS Deployment State Change";
pub const HOOK_STATE_CHANGE: &str = "ECS Hook State Change";
pub const CONTAINER_INSTANCE_HEALTH_CHANGE: &str = "ECS Container Instance Health Change";
pub const DAEMON_SERVICE_ACTION: &str = "ECS Daemon Service Action";
pub const DAEMON_DEPLOYMENT_STATE_CHANGE: &str = "ECS Daemon Deployment State Change";

/// Every detail-type ECS documents, each typed by a variant of [`EcsDetail`].
pub const DETAIL_TYPES: &[&str] = &[
    CONTAINER_INSTANCE_STATE_CHANGE,
    TASK_STATE_CHANGE,
    SERVICE_ACTION,
    DEPLOYMENT_STATE_CHANGE,
    HOOK_STATE_CHANGE,
    CONTAINER_INSTANCE_HEALTH_CHANGE,
    DAEMON_SERVICE_ACTION,
    DAEMON_DEPLOYMENT_STATE_CHANGE,
];

/// One `aws.ecs` event: the envelope's facts and the typed detail (by default any
/// detail-type, [`EcsDetail`]; one detail-type's own struct from [`parse_detail`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EcsEvent<D = EcsDetail> {
    /// EventBridge event id (absent in hand-made events).
    pub id: Option<String>,
    /// When EventBridge saw the change. A malformed timestamp only costs this field.
    pub time: Option<DateTime<Utc>>,
    /// The ARNs the event is about (the task, container instance, service, …).
    pub resources: Vec<String>,
    pub detail: D,
}

impl<D> EcsEvent<D> {
    /// The service ARN among the resources (service actions and deployment changes name
    /// their service only there).
    pub fn service_arn(&self) -> Option<&str> {
        self.resources
            .iter()
            .map(String::as_str)
            .find(|r| r.contains(":service/"))
    }
}

/// The detail of an `aws.ecs` event, by detail-type.
#[derive(Debug, Clone, PartialEq)]
pub enum EcsDetail {
    ContainerInstanceStateChange(ContainerInstanceStateChange),
    TaskStateChange(TaskStateChange),
    ServiceAction(ServiceEvent),
    DeploymentStateChange(ServiceEvent),
    HookStateChange(HookStateChange),
    ContainerInstanceHealthChange(ContainerInstanceHealthChange),
    DaemonServiceAction(DaemonServiceAction),
    DaemonDeploymentStateChange(DaemonDeploymentStateChange),
    /// A detail-type this model does not type (CloudTrail's API calls, anything new).
    Other {
        detail_type: String,
        /// A JSON object.
        detail: serde_json::Value,
    },
}

impl EcsDetail {
    pub fn detail_type(&self) -> &str {
        match self {
            EcsDetail::ContainerInstanceStateChange(_) => CONTAINER_INSTANCE_STATE_CHANGE,
            EcsDetail::TaskStateChange(_) => TASK_STATE_CHANGE,
            EcsDetail::ServiceAction(_) => SERVICE_ACTION,
            EcsDetail::DeploymentStateChange(_) => DEPLOYMENT_STATE_CHANGE,
            EcsDetail::HookStateChange(_) => HOOK_STATE_CHANGE,
            EcsDetail::ContainerInstanceHealthChange(_) => CONTAINER_INSTANCE_HEALTH_CHANGE,
            EcsDetail::DaemonServiceAction(_) => DAEMON_SERVICE_ACTION,
            EcsDetail::DaemonDeploymentStateChange(_) => DAEMON_DEPLOYMENT_STATE_CHANGE,
            EcsDetail::Other { detail_type, .. } => detail_type,
        }
    }

    /// Types an envelope's detail by its detail-type.
    pub fn from_envelope_detail(
        detail_type: String,
        detail: serde_json::Value,
    ) -> Result<EcsDetail, InvalidEvent> {
        Ok(match detail_type.as_str() {
            CONTAINER_INSTANCE_STATE_CHANGE => {
                EcsDetail::ContainerInstanceStateChange(typed_detail(detail)?)
            }
            TASK_STATE_CHANGE => EcsDetail::TaskStateChange(typed_detail(detail)?),
            SERVICE_ACTION => EcsDetail::ServiceAction(typed_detail(detail)?),
            DEPLOYMENT_STATE_CHANGE => EcsDetail::DeploymentStateChange(typed_detail(detail)?),
            HOOK_STATE_CHANGE => EcsDetail::HookStateChange(typed_detail(detail)?),
            CONTAINER_INSTANCE_HEALTH_CHANGE => {
                EcsDetail::ContainerInstanceHealthChange(typed_detail(detail)?)
            }
            DAEMON_SERVICE_ACTION => EcsDetail::DaemonServiceAction(typed_detail(detail)?),
            DAEMON_DEPLOYMENT_STATE_CHANGE => {
                EcsDetail::DaemonDeploymentStateChange(typed_detail(detail)?)
            }
            _ => EcsDetail::Other {
                detail_type,
                detail,
            },
        })
    }
}

impl EcsEvent {
    /// Types an envelope's detail.
    pub fn from_envelope(envelope: Envelope) -> Result<EcsEvent, InvalidEvent> {
        let Envelope {
            id,
            time,
            detail_type,
            resources,
            detail,
        } = envelope;
        Ok(EcsEvent {
            id,
            time,
            resources,
            detail: EcsDetail::from_envelope_detail(detail_type, detail)?,
        })
    }
}

/// Parses one SQS record body into an [`EcsEvent`] of one of `detail_types` (the envelope is
/// checked first, so a detail-type the caller does not read is `unexpected-detail-type`
/// whatever its detail holds), or says precisely why it cannot.
pub fn parse_ecs_event(body: &str, detail_types: &[&str]) -> Result<EcsEvent, InvalidEvent> {
    EcsEvent::from_envelope(parse_envelope(body, detail_types)?)
}

/// A detail-type with a detail struct of its own (all but the two service detail-types,
/// which share [`ServiceEvent`]).
pub trait TypedDetail: DeserializeOwned {
    const DETAIL_TYPE: &'static str;
}

/// Parses one SQS record body that must be of `D`'s detail-type.
pub fn parse_detail<D: TypedDetail>(body: &str) -> Result<EcsEvent<D>, InvalidEvent> {
    let envelope = parse_envelope(body, &[D::DETAIL_TYPE])?;
    Ok(EcsEvent {
        id: envelope.id,
        time: envelope.time,
        resources: envelope.resources,
        detail: typed_detail(envelope.detail)?,
    })
}

/// A time as ECS wrote it (ISO 8601 strings in events, unlike the API's epoch numbers).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(String);

impl Timestamp {
    pub fn new(raw: impl Into<String>) -> Self {
        Timestamp(raw.into())
    }

    /// Exactly what ECS sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The time, if it is RFC 3339 (every time ECS documents is).
    pub fn time(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.0)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An enum of the names AWS documents for one field, with `Other` for the rest: `parse`
/// never fails, `as_str` gives back exactly what was parsed, serde reads it from a string.
macro_rules! aws_names {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $raw:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A name this version does not know, kept as AWS sent it.
            Other(String),
        }

        impl $name {
            pub fn parse(raw: &str) -> Self {
                match raw {
                    $($raw => $name::$variant,)*
                    other => $name::Other(other.to_owned()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $raw,)*
                    $name::Other(raw) => raw,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(|raw| $name::parse(&raw))
            }
        }
    };
}

aws_names! {
    /// A task's status (`lastStatus`, `desiredStatus`), or a container's (which uses the
    /// PENDING, RUNNING and STOPPED of these).
    pub enum TaskStatus {
        Provisioning = "PROVISIONING",
        Pending = "PENDING",
        Activating = "ACTIVATING",
        Running = "RUNNING",
        Deactivating = "DEACTIVATING",
        Stopping = "STOPPING",
        Deprovisioning = "DEPROVISIONING",
        Stopped = "STOPPED",
        Deleted = "DELETED",
    }
}

aws_names! {
    /// Why ECS stopped a task (`stopCode`).
    pub enum StopCode {
        TaskFailedToStart = "TaskFailedToStart",
        EssentialContainerExited = "EssentialContainerExited",
        UserInitiated = "UserInitiated",
        ServiceSchedulerInitiated = "ServiceSchedulerInitiated",
        /// A Spot task's two minutes' notice (Fargate Spot, and EC2 Spot with draining).
        SpotInterruption = "SpotInterruption",
        /// The same notice under its earlier name.
        TerminationNotice = "TerminationNotice",
    }
}

aws_names! {
    /// The level ECS gives a service, deployment, hook or daemon event (`eventType`).
    pub enum EventLevel {
        Info = "INFO",
        Warn = "WARN",
        /// Daemon service actions spell it out.
        Warning = "WARNING",
        Error = "ERROR",
    }
}

aws_names! {
    /// What a service action or a deployment state change reports (`eventName`).
    pub enum ServiceEventName {
        SteadyState = "SERVICE_STEADY_STATE",
        TaskSetSteadyState = "TASKSET_STEADY_STATE",
        CapacityProviderSteadyState = "CAPACITY_PROVIDER_STEADY_STATE",
        DesiredCountUpdated = "SERVICE_DESIRED_COUNT_UPDATED",
        TaskStartImpaired = "SERVICE_TASK_START_IMPAIRED",
        DiscoveryInstanceUnhealthy = "SERVICE_DISCOVERY_INSTANCE_UNHEALTHY",
        DaemonPlacementConstraintViolated = "SERVICE_DAEMON_PLACEMENT_CONSTRAINT_VIOLATED",
        EcsOperationThrottled = "ECS_OPERATION_THROTTLED",
        DiscoveryOperationThrottled = "SERVICE_DISCOVERY_OPERATION_THROTTLED",
        TaskPlacementFailure = "SERVICE_TASK_PLACEMENT_FAILURE",
        TaskConfigurationFailure = "SERVICE_TASK_CONFIGURATION_FAILURE",
        DeploymentInProgress = "SERVICE_DEPLOYMENT_IN_PROGRESS",
        DeploymentCompleted = "SERVICE_DEPLOYMENT_COMPLETED",
        DeploymentFailed = "SERVICE_DEPLOYMENT_FAILED",
    }
}

aws_names! {
    /// What a deployment lifecycle hook reports (`eventName` of an "ECS Hook State Change").
    pub enum HookEventName {
        InProgress = "HOOK_IN_PROGRESS",
        AwaitingAction = "HOOK_AWAITING_ACTION",
        Succeeded = "HOOK_SUCCEEDED",
        Failed = "HOOK_FAILED",
        TimedOut = "HOOK_TIMED_OUT",
    }
}

aws_names! {
    /// What a daemon service action or daemon deployment state change reports (`eventName`).
    pub enum DaemonEventName {
        TaskStartImpaired = "DAEMON_TASK_START_IMPAIRED",
        DeploymentPending = "DAEMON_DEPLOYMENT_PENDING",
        DeploymentInProgress = "DAEMON_DEPLOYMENT_IN_PROGRESS",
        DeploymentSuccessful = "DAEMON_DEPLOYMENT_SUCCESSFUL",
        DeploymentStopped = "DAEMON_DEPLOYMENT_STOPPED",
        DeploymentStopRequested = "DAEMON_DEPLOYMENT_STOP_REQUESTED",
        DeploymentRollbackInProgress = "DAEMON_DEPLOYMENT_ROLLBACK_IN_PROGRESS",
        DeploymentRollbackSuccessful = "DAEMON_DEPLOYMENT_ROLLBACK_SUCCESSFUL",
        DeploymentRollbackFailed = "DAEMON_DEPLOYMENT_ROLLBACK_FAILED",
    }
}

aws_names! {
    /// A container instance's health, overall or of one check.
    pub enum HealthStatus {
        Ok = "OK",
        Impaired = "IMPAIRED",
        InsufficientData = "INSUFFICIENT_DATA",
        Initializing = "INITIALIZING",
    }
}

aws_names! {
    /// What one container instance health check watches.
    pub enum HealthCheckType {
        ContainerRuntime = "CONTAINER_RUNTIME",
        AcceleratedCompute = "ACCELERATED_COMPUTE",
        Daemon = "DAEMON",
        AgentConnectivity = "AGENT_CONNECTIVITY",
    }
}

/// Reads a container instance's `status` (the enum lives with the other state names).
fn instance_status<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<InstanceStatus>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.map(|raw| InstanceStatus::parse(&raw)))
}

/// An "ECS Container Instance State Change": the container instance as
/// DescribeContainerInstances would show it (agent connection, status, resources).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInstanceStateChange {
    pub cluster_arn: Option<String>,
    pub container_instance_arn: Option<String>,
    /// The EC2 instance id, or for ECS Anywhere the SSM managed node id (`mi-…`).
    pub ec2_instance_id: Option<String>,
    pub agent_connected: Option<bool>,
    #[serde(default, deserialize_with = "instance_status")]
    pub status: Option<InstanceStatus>,
    pub version_info: Option<VersionInfo>,
    #[serde(default)]
    pub registered_resources: Vec<Resource>,
    #[serde(default)]
    pub remaining_resources: Vec<Resource>,
    pub running_tasks_count: Option<i64>,
    pub updated_at: Option<Timestamp>,
    /// ECS's own counter for this container instance: a larger one is a later state.
    pub version: Option<u64>,
}

impl TypedDetail for ContainerInstanceStateChange {
    const DETAIL_TYPE: &'static str = CONTAINER_INSTANCE_STATE_CHANGE;
}

impl ContainerInstanceStateChange {
    pub fn agent_version(&self) -> Option<&str> {
        self.version_info.as_ref()?.agent_version.as_deref()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub agent_version: Option<String>,
}

/// One entry of a container instance's resource list (`CPU`, `MEMORY`, `PORTS`, …); only
/// integer resources are read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub name: Option<String>,
    pub integer_value: Option<i64>,
}

impl Resource {
    /// The integer value of the resource `name` in `list`.
    pub fn integer(list: &[Resource], name: &str) -> Option<i64> {
        list.iter()
            .find(|r| r.name.as_deref() == Some(name))
            .and_then(|r| r.integer_value)
    }
}

/// An "ECS Task State Change": the task as DescribeTasks would show it. A stop carries
/// `stopCode` and `stoppedReason`; a Spot interruption arrives while the task still runs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStateChange {
    pub cluster_arn: Option<String>,
    pub task_arn: Option<String>,
    /// The container instance the task was placed on (EC2 and ECS Anywhere; absent on
    /// Fargate).
    pub container_instance_arn: Option<String>,
    /// `…:task-definition/family:revision` (the revision may be missing).
    pub task_definition_arn: Option<String>,
    /// `service:NAME` for a service's tasks, `family:NAME` (or the starter's choice) for
    /// the rest; absent from some events.
    pub group: Option<String>,
    pub started_by: Option<String>,
    pub last_status: Option<TaskStatus>,
    pub desired_status: Option<TaskStatus>,
    pub launch_type: Option<String>,
    pub capacity_provider_name: Option<String>,
    #[serde(default)]
    pub containers: Vec<Container>,
    pub stop_code: Option<StopCode>,
    pub stopped_reason: Option<String>,
    pub created_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub stopped_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    /// ECS's counter for this task: with the task ARN, it tells a redelivery from news.
    pub version: Option<u64>,
}

impl TypedDetail for TaskStateChange {
    const DETAIL_TYPE: &'static str = TASK_STATE_CHANGE;
}

/// A container of a task, as a task state change reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: Option<String>,
    pub last_status: Option<TaskStatus>,
    /// Absent while running, and when the container never ran (image pull, resource
    /// initialisation).
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
}

/// An "ECS Service Action" or an "ECS Deployment State Change": they share one shape. The
/// service is the event's resource (`…:service/cluster/name`, see
/// [`EcsEvent::service_arn`]); some service actions also name it in `serviceName`
/// (create-service) or `service` (update-service). Deployment changes carry no
/// `clusterArn` and have `deploymentId` and `updatedAt`; service actions have `createdAt`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEvent {
    pub event_type: Option<EventLevel>,
    pub event_name: Option<ServiceEventName>,
    pub cluster_arn: Option<String>,
    pub reason: Option<String>,
    pub deployment_id: Option<String>,
    pub service_name: Option<String>,
    pub service: Option<String>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
}

/// An "ECS Hook State Change": a deployment lifecycle hook (a Lambda or a pause) changed
/// status; `HOOK_AWAITING_ACTION` waits for ContinueServiceDeployment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookStateChange {
    pub event_type: Option<EventLevel>,
    pub event_name: Option<HookEventName>,
    pub hook_id: Option<String>,
    /// `PAUSE` or `AWS_LAMBDA`.
    pub hook_type: Option<String>,
    pub lifecycle_stage: Option<String>,
    pub cluster_arn: Option<String>,
    pub service_arn: Option<String>,
    pub service_deployment_arn: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
}

impl TypedDetail for HookStateChange {
    const DETAIL_TYPE: &'static str = HOOK_STATE_CHANGE;
}

/// An "ECS Container Instance Health Change": the overall health of a container instance
/// and the checks behind it (container runtime, accelerated compute, daemons, the agent's
/// connectivity to ECS).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInstanceHealthChange {
    pub cluster_arn: Option<String>,
    pub container_instance_arn: Option<String>,
    pub capacity_provider_name: Option<String>,
    pub ec2_instance_id: Option<String>,
    pub overall_status: Option<HealthStatus>,
    #[serde(default)]
    pub health_checks: Vec<HealthCheck>,
}

impl TypedDetail for ContainerInstanceHealthChange {
    const DETAIL_TYPE: &'static str = CONTAINER_INSTANCE_HEALTH_CHANGE;
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    #[serde(rename = "type")]
    pub check: Option<HealthCheckType>,
    pub status: Option<HealthStatus>,
    pub last_status_change: Option<Timestamp>,
    pub last_updated: Option<Timestamp>,
    pub status_reason: Option<String>,
}

/// An "ECS Daemon Service Action": a daemon task could not start on a container instance
/// (`failureType` `TASK_FAILED_TO_RUN`, with its `taskArn`, or `TASK_CREATION_FAILED`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonServiceAction {
    pub event_type: Option<EventLevel>,
    pub event_name: Option<DaemonEventName>,
    pub cluster_arn: Option<String>,
    pub container_instance_arn: Option<String>,
    pub task_arn: Option<String>,
    pub daemon_arn: Option<String>,
    pub daemon_revision_arn: Option<String>,
    pub daemon_task_definition_arn: Option<String>,
    pub capacity_provider_name: Option<String>,
    pub failure_type: Option<String>,
    pub reason: Option<String>,
    pub created_at: Option<Timestamp>,
}

impl TypedDetail for DaemonServiceAction {
    const DETAIL_TYPE: &'static str = DAEMON_SERVICE_ACTION;
}

/// An "ECS Daemon Deployment State Change".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonDeploymentStateChange {
    pub event_type: Option<EventLevel>,
    pub event_name: Option<DaemonEventName>,
    pub cluster_arn: Option<String>,
    pub daemon_arn: Option<String>,
    pub daemon_deployment_arn: Option<String>,
    pub target_daemon_revision_arn: Option<String>,
    pub reason: Option<String>,
    pub updated_at: Option<Timestamp>,
}

impl TypedDetail for DaemonDeploymentStateChange {
    const DETAIL_TYPE: &'static str = DAEMON_DEPLOYMENT_STATE_CHANGE;
}

#[cfg(test)]
mod tests;
