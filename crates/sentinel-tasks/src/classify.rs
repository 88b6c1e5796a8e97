//! **Why did this task stop, and is it worth a page?** One pure function per event, from
//! the event alone: no ECS call. Every row of the table in the tests is a branch here.

use crate::event::{
    DeploymentChange, Level, Owner, ServiceAction, StopCode, TaskChange, TaskEvent,
};
use sentinel_core::ecs_event::{ServiceEventName, TaskStatus};
use sentinel_core::notification::Severity;
use serde::{Deserialize, Serialize};

/// The kinds of failure, as messages, metrics and the SNS `kind` attribute name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    ImagePull,
    ResourceInit,
    OutOfMemory,
    ContainerExit,
    ElbHealthCheck,
    ContainerHealthCheck,
    Placement,
    StartImpaired,
    DeploymentFailed,
    OtherFailure,
}

impl FailureKind {
    pub const ALL: [FailureKind; 10] = [
        FailureKind::ImagePull,
        FailureKind::ResourceInit,
        FailureKind::OutOfMemory,
        FailureKind::ContainerExit,
        FailureKind::ElbHealthCheck,
        FailureKind::ContainerHealthCheck,
        FailureKind::Placement,
        FailureKind::StartImpaired,
        FailureKind::DeploymentFailed,
        FailureKind::OtherFailure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::ImagePull => "image-pull",
            FailureKind::ResourceInit => "resource-init",
            FailureKind::OutOfMemory => "out-of-memory",
            FailureKind::ContainerExit => "container-exit",
            FailureKind::ElbHealthCheck => "elb-health-check",
            FailureKind::ContainerHealthCheck => "container-health-check",
            FailureKind::Placement => "placement",
            FailureKind::StartImpaired => "start-impaired",
            FailureKind::DeploymentFailed => "deployment-failed",
            FailureKind::OtherFailure => "other-failure",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// Tasks that cannot start at all, or a deployment given up, are worse than tasks that
    /// start and die: nothing new runs.
    pub fn severity(self) -> Severity {
        match self {
            FailureKind::ImagePull
            | FailureKind::ResourceInit
            | FailureKind::Placement
            | FailureKind::DeploymentFailed => Severity::Critical,
            _ => Severity::High,
        }
    }

    /// What usually fixes this kind, for the message.
    pub fn advice(self) -> &'static str {
        match self {
            FailureKind::ImagePull => "check the image name and tag, that the image exists, and that the task execution role (or the host) may pull it; without a NAT gateway, ECR needs VPC endpoints",
            FailureKind::ResourceInit => "check what the task needs before it starts: secrets and parameters (and the execution role's access to them), the log driver's log group, and free IP addresses in the subnets",
            FailureKind::OutOfMemory => "the container used more memory than its limit: raise the task or container memory, or find the leak",
            FailureKind::ContainerExit => "the application exited: read the container's log lines below, then its recent changes (image, configuration, dependencies)",
            FailureKind::ElbHealthCheck => "the load balancer found the task unhealthy: check the target group's health check path and port, the health check grace period, and the security groups",
            FailureKind::ContainerHealthCheck => "the container's own health check failed: run the check command inside the container, and check its start period and timeout",
            FailureKind::Placement => "no capacity fits the task: check free CPU and memory on the instances, placement constraints, the capacity provider's scaling, and agents that are disconnected",
            FailureKind::StartImpaired => "ECS cannot start tasks consistently: read the service's events and the stopped tasks' reasons",
            FailureKind::DeploymentFailed => "the deployment circuit breaker gave up and rolled back (if enabled): read the stopped tasks of the new task definition revision",
            FailureKind::OtherFailure => "read the reason below and the service's events",
        }
    }
}

/// Why an event is not a failure. Logged, counted, never paged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotAFailure {
    /// Scale-in or a deployment replacing the task: the scheduler's normal work.
    Replaced,
    /// Stopped by a person or a tool (StopTask).
    StoppedByUser,
    /// A standalone or scheduled task whose containers exited 0: the job is done.
    Completed,
    /// A task still running (a state change that is not a stop).
    NotStopped { last_status: String },
    /// The service scheduler stopped it for a reason that is not a failure of the task.
    StoppedByScheduler,
    /// A stop ECS gave no failing reason for and no container failed.
    NoFailureReported,
    /// News that changes nothing (INFO events, deployments in progress, API throttling).
    Informational { name: String },
}

impl NotAFailure {
    pub fn code(&self) -> &'static str {
        match self {
            NotAFailure::Replaced => "replaced",
            NotAFailure::StoppedByUser => "stopped-by-user",
            NotAFailure::Completed => "completed",
            NotAFailure::NotStopped { .. } => "not-stopped",
            NotAFailure::StoppedByScheduler => "stopped-by-scheduler",
            NotAFailure::NoFailureReported => "no-failure-reported",
            NotAFailure::Informational { .. } => "informational",
        }
    }
}

/// Why an episode of a service ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    SteadyState,
    DeploymentCompleted,
}

impl Recovery {
    pub fn code(self) -> &'static str {
        match self {
            Recovery::SteadyState => "steady-state",
            Recovery::DeploymentCompleted => "deployment-completed",
        }
    }
}

/// What one event means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Failed {
        kind: FailureKind,
    },
    /// A Spot task told to stop (two minutes' notice): counted, not paged; ECS replaces it.
    SpotInterruption,
    NotAFailure(NotAFailure),
    Recovered(Recovery),
}

pub fn classify(event: &TaskEvent) -> Verdict {
    match event {
        TaskEvent::Task(task) => classify_stop(task),
        TaskEvent::Service(action) => classify_service_action(action),
        TaskEvent::Deployment(change) => classify_deployment(change),
    }
}

/// Why a task stopped. Reasons are read before stop codes where they are more precise: an
/// image that cannot be pulled stops the task with `TaskFailedToStart`, an unhealthy one
/// with `ServiceSchedulerInitiated`.
pub fn classify_stop(task: &TaskChange) -> Verdict {
    use FailureKind::*;
    if matches!(
        task.stop_code,
        Some(StopCode::SpotInterruption | StopCode::TerminationNotice)
    ) {
        return Verdict::SpotInterruption;
    }
    if task.last_status != TaskStatus::Stopped {
        return Verdict::NotAFailure(NotAFailure::NotStopped {
            last_status: task.last_status.as_str().to_owned(),
        });
    }
    if task.stop_code == Some(StopCode::UserInitiated) {
        return Verdict::NotAFailure(NotAFailure::StoppedByUser);
    }
    let said = |needle: &str| {
        task.reasons().any(|r| {
            r.to_ascii_lowercase()
                .contains(&needle.to_ascii_lowercase())
        })
    };
    let failed = |kind| Verdict::Failed { kind };
    if said("CannotPullContainerError") || said("pull image manifest") || said("pull access denied")
    {
        return failed(ImagePull);
    }
    if said("ResourceInitializationError") {
        return failed(ResourceInit);
    }
    if said("OutOfMemoryError") {
        return failed(OutOfMemory);
    }
    if said("failed ELB health checks") {
        return failed(ElbHealthCheck);
    }
    if said("failed container health checks") {
        return failed(ContainerHealthCheck);
    }
    if said("Scaling activity initiated by") {
        return Verdict::NotAFailure(NotAFailure::Replaced);
    }
    let nonzero_exit = task
        .containers
        .iter()
        .any(|c| c.exit_code.is_some_and(|code| code != 0));
    let essential_exited = task.stop_code == Some(StopCode::EssentialContainerExited)
        || said("Essential container in task exited");
    match (&task.stop_code, &task.owner) {
        (Some(StopCode::ServiceSchedulerInitiated), _) => {
            Verdict::NotAFailure(NotAFailure::StoppedByScheduler)
        }
        // A service's tasks are meant to run forever: any exit of an essential container is
        // a failure, whatever its code.
        (_, Owner::Service(_)) if essential_exited || nonzero_exit => failed(ContainerExit),
        (_, Owner::Family(_)) if nonzero_exit => failed(ContainerExit),
        (_, Owner::Family(_)) if essential_exited => Verdict::NotAFailure(NotAFailure::Completed),
        (Some(StopCode::TaskFailedToStart), _) => failed(OtherFailure),
        _ => Verdict::NotAFailure(NotAFailure::NoFailureReported),
    }
}

fn classify_service_action(action: &ServiceAction) -> Verdict {
    match action.event {
        ServiceEventName::SteadyState => Verdict::Recovered(Recovery::SteadyState),
        ServiceEventName::TaskPlacementFailure => Verdict::Failed {
            kind: FailureKind::Placement,
        },
        ServiceEventName::TaskStartImpaired => Verdict::Failed {
            kind: FailureKind::StartImpaired,
        },
        // ECS telling us it throttled its own calls is not about the service's health.
        ServiceEventName::EcsOperationThrottled | ServiceEventName::DiscoveryOperationThrottled => {
            informational(&action.name)
        }
        _ => match action.level {
            Level::Warn | Level::Error => Verdict::Failed {
                kind: FailureKind::OtherFailure,
            },
            _ => informational(&action.name),
        },
    }
}

fn classify_deployment(change: &DeploymentChange) -> Verdict {
    match change.event {
        ServiceEventName::DeploymentFailed => Verdict::Failed {
            kind: FailureKind::DeploymentFailed,
        },
        ServiceEventName::DeploymentCompleted => Verdict::Recovered(Recovery::DeploymentCompleted),
        _ => informational(&change.name),
    }
}

fn informational(name: &str) -> Verdict {
    Verdict::NotAFailure(NotAFailure::Informational {
        name: name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::fixtures::{service_event, stopped_task};
    use crate::event::{parse_task_event, DEPLOYMENT_STATE_CHANGE, SERVICE_ACTION};
    use serde_json::json;

    fn verdict_of(event: serde_json::Value) -> Verdict {
        classify(&parse_task_event(&event.to_string()).unwrap())
    }

    fn failed(kind: FailureKind) -> Verdict {
        Verdict::Failed { kind }
    }

    fn benign(reason: NotAFailure) -> Verdict {
        Verdict::NotAFailure(reason)
    }

    const STANDALONE: &str = "family:nightly-report";

    #[test]
    fn every_stop_is_classified_as_the_table_says() {
        use FailureKind::*;
        let oom = json!([{"name": "app", "exitCode": 137,
            "reason": "OutOfMemoryError: Container killed due to memory usage"}]);
        let rows: Vec<(&str, serde_json::Value, Verdict)> = vec![
            (
                "a service's essential container exited non-zero",
                json!({}),
                failed(ContainerExit),
            ),
            (
                "a service's essential container exited 0: still a failure",
                json!({"containers": [{"name": "app", "exitCode": 0}]}),
                failed(ContainerExit),
            ),
            (
                "image pull",
                json!({"stopCode": "TaskFailedToStart", "containers": [],
                       "stoppedReason": "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v9: not found"}),
                failed(ImagePull),
            ),
            (
                "image pull, named in the container's reason",
                json!({"stopCode": "TaskFailedToStart", "stoppedReason": "Task failed to start",
                       "containers": [{"name": "app", "reason": "CannotPullContainerError: pull access denied for api"}]}),
                failed(ImagePull),
            ),
            (
                "secrets that cannot be fetched",
                json!({"stopCode": "TaskFailedToStart", "containers": [],
                       "stoppedReason": "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm"}),
                failed(ResourceInit),
            ),
            (
                "a log driver that cannot start",
                json!({"stopCode": "TaskFailedToStart", "containers": [],
                       "stoppedReason": "ResourceInitializationError: failed to initialize logging driver: failed to create Cloudwatch log stream"}),
                failed(ResourceInit),
            ),
            (
                "out of memory",
                json!({"containers": oom}),
                failed(OutOfMemory),
            ),
            (
                "exit 137 without OutOfMemoryError is a plain exit (SIGKILL)",
                json!({"containers": [{"name": "app", "exitCode": 137}]}),
                failed(ContainerExit),
            ),
            (
                "ELB health checks",
                json!({"stopCode": "ServiceSchedulerInitiated",
                       "stoppedReason": "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123)"}),
                failed(ElbHealthCheck),
            ),
            (
                "container health checks",
                json!({"stopCode": "ServiceSchedulerInitiated",
                       "stoppedReason": "Task failed container health checks"}),
                failed(ContainerHealthCheck),
            ),
            (
                "scale-in or a deployment replacing the task",
                json!({"stopCode": "ServiceSchedulerInitiated",
                       "stoppedReason": "Scaling activity initiated by (deployment ecs-svc/9223370526043414679)",
                       "containers": [{"name": "app", "exitCode": 143}]}),
                benign(NotAFailure::Replaced),
            ),
            (
                "other scheduler stops",
                json!({"stopCode": "ServiceSchedulerInitiated",
                       "stoppedReason": "Host EC2 (instance i-0abc) terminated.",
                       "containers": [{"name": "app", "exitCode": 143}]}),
                benign(NotAFailure::StoppedByScheduler),
            ),
            (
                "stopped by a person",
                json!({"stopCode": "UserInitiated", "stoppedReason": "Task stopped by user",
                       "containers": [{"name": "app", "exitCode": 143}]}),
                benign(NotAFailure::StoppedByUser),
            ),
            (
                "a scheduled job that succeeded",
                json!({"group": STANDALONE,
                       "containers": [{"name": "job", "exitCode": 0}, {"name": "sidecar", "exitCode": 0}]}),
                benign(NotAFailure::Completed),
            ),
            (
                "a scheduled job that failed",
                json!({"group": STANDALONE, "containers": [{"name": "job", "exitCode": 2}]}),
                failed(ContainerExit),
            ),
            (
                "a standalone task that never started, for no reason we know",
                json!({"group": STANDALONE, "stopCode": "TaskFailedToStart",
                       "stoppedReason": "Task failed to start", "containers": [{"name": "job"}]}),
                failed(OtherFailure),
            ),
            (
                "a Spot interruption",
                json!({"lastStatus": "RUNNING", "desiredStatus": "STOPPED", "stopCode": "TerminationNotice",
                       "stoppedReason": "Your Spot Task was interrupted.", "containers": [{"name": "app"}]}),
                Verdict::SpotInterruption,
            ),
            (
                "an EC2 Spot interruption",
                json!({"stopCode": "SpotInterruption", "containers": [{"name": "app", "exitCode": 143}]}),
                Verdict::SpotInterruption,
            ),
            (
                "a task still running",
                json!({"lastStatus": "RUNNING", "stopCode": null, "stoppedReason": null}),
                benign(NotAFailure::NotStopped {
                    last_status: "RUNNING".into(),
                }),
            ),
            (
                "an unknown stop code with nothing failing",
                json!({"stopCode": "InfrastructureHealth", "stoppedReason": "moved",
                       "containers": [{"name": "app"}]}),
                benign(NotAFailure::NoFailureReported),
            ),
            (
                "an unknown stop code with a container failing",
                json!({"stopCode": "InfrastructureHealth", "stoppedReason": "moved",
                       "containers": [{"name": "app", "exitCode": 1}]}),
                failed(ContainerExit),
            ),
        ];
        for (what, detail, expected) in rows {
            assert_eq!(verdict_of(stopped_task(detail)), expected, "{what}");
        }
    }

    #[test]
    fn service_and_deployment_events_are_classified_as_the_table_says() {
        let rows: Vec<(&str, &str, &str, Verdict)> = vec![
            (
                SERVICE_ACTION,
                "INFO",
                "SERVICE_STEADY_STATE",
                Verdict::Recovered(Recovery::SteadyState),
            ),
            (
                SERVICE_ACTION,
                "ERROR",
                "SERVICE_TASK_PLACEMENT_FAILURE",
                failed(FailureKind::Placement),
            ),
            (
                SERVICE_ACTION,
                "WARN",
                "SERVICE_TASK_START_IMPAIRED",
                failed(FailureKind::StartImpaired),
            ),
            (
                SERVICE_ACTION,
                "ERROR",
                "SERVICE_TASK_CONFIGURATION_FAILURE",
                failed(FailureKind::OtherFailure),
            ),
            (
                SERVICE_ACTION,
                "WARN",
                "VPC_LATTICE_TARGET_UNHEALTHY",
                failed(FailureKind::OtherFailure),
            ),
            (
                SERVICE_ACTION,
                "ERROR",
                "ECS_OPERATION_THROTTLED",
                informational("ECS_OPERATION_THROTTLED"),
            ),
            (
                SERVICE_ACTION,
                "INFO",
                "SERVICE_DESIRED_COUNT_UPDATED",
                informational("SERVICE_DESIRED_COUNT_UPDATED"),
            ),
            (
                DEPLOYMENT_STATE_CHANGE,
                "ERROR",
                "SERVICE_DEPLOYMENT_FAILED",
                failed(FailureKind::DeploymentFailed),
            ),
            (
                DEPLOYMENT_STATE_CHANGE,
                "INFO",
                "SERVICE_DEPLOYMENT_COMPLETED",
                Verdict::Recovered(Recovery::DeploymentCompleted),
            ),
            (
                DEPLOYMENT_STATE_CHANGE,
                "INFO",
                "SERVICE_DEPLOYMENT_IN_PROGRESS",
                informational("SERVICE_DEPLOYMENT_IN_PROGRESS"),
            ),
        ];
        for (detail_type, level, name, expected) in rows {
            let event = service_event(
                detail_type,
                json!({"eventType": level, "eventName": name, "clusterArn": crate::event::fixtures::CLUSTER,
                       "reason": "RESOURCE:MEMORY"}),
            );
            assert_eq!(verdict_of(event), expected, "{name}");
        }
    }

    #[test]
    fn kinds_round_trip_and_say_what_fixes_them() {
        for kind in FailureKind::ALL {
            assert_eq!(FailureKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str()),
                "stored and shown by the same name"
            );
            assert!(!kind.advice().is_empty());
        }
        assert_eq!(FailureKind::ImagePull.severity(), Severity::Critical);
        assert_eq!(FailureKind::OutOfMemory.severity(), Severity::High);
    }
}
