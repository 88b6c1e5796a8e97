//! Builds ECS fleets inside the emulator with the real SDK, and produces the
//! "ECS Container Instance State Change" events ECS would send about them.
//!
//! Shared by the integration tests, the benchmarks and `ecs-sentinel demo`, so that all
//! three exercise the same scenarios.

use crate::{Emulator, EmulatorError, ACCOUNT, REGION};
use aws_sdk_ec2::types::InstanceType;
use aws_sdk_ecs::types::{Attribute, ContainerInstanceStatus, Tag, VersionInfo};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

/// An AMI id moto treats as Linux (it maps some well-known ids to Windows).
const LINUX_AMI: &str = "ami-760aaa0f";

/// One container instance of the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub cluster: String,
    pub container_instance_arn: String,
    /// `i-…` for EC2, `mi-…` for ECS Anywhere.
    pub node_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("{0}")]
    Emulator(#[from] EmulatorError),
    #[error("{operation} failed: {message}")]
    Aws {
        operation: &'static str,
        message: String,
    },
}

fn aws<E: std::error::Error>(operation: &'static str) -> impl Fn(E) -> FleetError {
    move |e| FleetError::Aws {
        operation,
        message: aws_sdk_ecs::error::DisplayErrorContext(&e).to_string(),
    }
}

pub struct Fleet<'a> {
    emulator: &'a Emulator,
    pub ecs: aws_sdk_ecs::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
}

impl<'a> Fleet<'a> {
    pub fn new(emulator: &'a Emulator, sdk: &aws_config::SdkConfig) -> Self {
        Fleet {
            emulator,
            ecs: aws_sdk_ecs::Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
        }
    }

    pub fn cluster_arn(name: &str) -> String {
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{name}")
    }

    /// Registers a task definition of `family` whose one container `container` logs through
    /// awslogs to `log_group` with the stream prefix `ecs` (streams
    /// `ecs/<container>/<task id>`); returns `family:revision`.
    pub async fn register_logging_task_definition(
        &self,
        family: &str,
        container: &str,
        log_group: &str,
    ) -> Result<String, FleetError> {
        use aws_sdk_ecs::types::{ContainerDefinition, LogConfiguration, LogDriver};
        let logging = LogConfiguration::builder()
            .log_driver(LogDriver::Awslogs)
            .options("awslogs-group", log_group)
            .options("awslogs-stream-prefix", "ecs")
            .options("awslogs-region", REGION)
            .build()
            .map_err(aws("ecs:RegisterTaskDefinition"))?;
        let registered = self
            .ecs
            .register_task_definition()
            .family(family)
            .container_definitions(
                ContainerDefinition::builder()
                    .name(container)
                    .image("public.ecr.aws/docker/library/busybox:latest")
                    .memory(512)
                    .log_configuration(logging)
                    .build(),
            )
            .send()
            .await
            .map_err(aws("ecs:RegisterTaskDefinition"))?;
        registered
            .task_definition()
            .and_then(|d| d.task_definition_arn())
            .and_then(|arn| arn.rsplit('/').next())
            .map(str::to_owned)
            .ok_or_else(|| FleetError::Aws {
                operation: "ecs:RegisterTaskDefinition",
                message: "the answer names no task definition ARN".into(),
            })
    }

    /// Creates a cluster with these tags; returns its ARN.
    pub async fn create_cluster(
        &self,
        name: &str,
        tags: &[(&str, &str)],
    ) -> Result<String, FleetError> {
        let tags: Vec<Tag> = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
            .collect();
        let output = self
            .ecs
            .create_cluster()
            .cluster_name(name)
            .set_tags((!tags.is_empty()).then_some(tags))
            .send()
            .await
            .map_err(aws("ecs:CreateCluster"))?;
        Ok(output
            .cluster()
            .and_then(|c| c.cluster_arn())
            .map(str::to_owned)
            .unwrap_or_else(|| Self::cluster_arn(name)))
    }

    /// Launches `count` EC2 instances in one call and registers each with the cluster, as
    /// the ECS agent does at boot.
    pub async fn add_ec2_instances(
        &self,
        cluster: &str,
        count: usize,
    ) -> Result<Vec<Member>, FleetError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let count = i32::try_from(count).map_err(|_| FleetError::Aws {
            operation: "ec2:RunInstances",
            message: "too many instances".into(),
        })?;
        let output = self
            .ec2
            .run_instances()
            .image_id(LINUX_AMI)
            .instance_type(InstanceType::M7gLarge)
            .min_count(count)
            .max_count(count)
            .send()
            .await
            .map_err(aws("ec2:RunInstances"))?;
        let mut members = Vec::new();
        for instance_id in output.instances().iter().filter_map(|i| i.instance_id()) {
            members.push(self.register(cluster, instance_id).await?);
        }
        Ok(members)
    }

    /// Registers a running EC2 instance with the cluster, as its ECS agent does at boot.
    pub async fn register(&self, cluster: &str, instance_id: &str) -> Result<Member, FleetError> {
        let document = json!({ "instanceId": instance_id, "region": REGION, "accountId": ACCOUNT });
        let registered = self
            .ecs
            .register_container_instance()
            .cluster(cluster)
            .instance_identity_document(document.to_string())
            .version_info(VersionInfo::builder().agent_version("1.82.0").build())
            .send()
            .await
            .map_err(aws("ecs:RegisterContainerInstance"))?;
        Ok(Member {
            cluster: cluster.to_owned(),
            container_instance_arn: registered
                .container_instance()
                .and_then(|c| c.container_instance_arn())
                .unwrap_or_default()
                .to_owned(),
            node_id: instance_id.to_owned(),
        })
    }

    /// An Auto Scaling group of `size` instances, registered with the cluster.
    pub async fn add_auto_scaling_group(
        &self,
        cluster: &str,
        name: &str,
        size: i32,
    ) -> Result<Vec<Member>, FleetError> {
        self.autoscaling
            .create_launch_configuration()
            .launch_configuration_name(name)
            .image_id(LINUX_AMI)
            .instance_type("m7g.large")
            .send()
            .await
            .map_err(aws("autoscaling:CreateLaunchConfiguration"))?;
        self.autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_configuration_name(name)
            .min_size(size)
            .max_size(size + 1)
            .desired_capacity(size)
            .availability_zones(format!("{REGION}a"))
            .send()
            .await
            .map_err(aws("autoscaling:CreateAutoScalingGroup"))?;
        let groups = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(aws("autoscaling:DescribeAutoScalingGroups"))?;
        let ids: Vec<String> = groups
            .auto_scaling_groups()
            .iter()
            .flat_map(|g| g.instances())
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect();
        let mut members = Vec::new();
        for id in ids {
            members.push(self.register(cluster, &id).await?);
        }
        Ok(members)
    }

    /// Registers an ECS Anywhere server (SSM managed node `mi-…`) with the given SSM ping.
    pub fn add_anywhere_node(
        &self,
        cluster: &str,
        node_id: &str,
        ping: &str,
    ) -> Result<Member, FleetError> {
        let arn = self
            .emulator
            .register_external_instance(cluster, node_id, ping)?;
        Ok(Member {
            cluster: cluster.to_owned(),
            container_instance_arn: arn,
            node_id: node_id.to_owned(),
        })
    }

    /// `sudo systemctl stop ecs` on the member's machine.
    pub fn stop_agent(&self, member: &Member) -> Result<(), FleetError> {
        Ok(self.emulator.set_agent_connected(
            &member.cluster,
            &member.container_instance_arn,
            false,
        )?)
    }

    /// The agent comes back.
    pub fn start_agent(&self, member: &Member) -> Result<(), FleetError> {
        Ok(self.emulator.set_agent_connected(
            &member.cluster,
            &member.container_instance_arn,
            true,
        )?)
    }

    pub async fn terminate(&self, member: &Member) -> Result<(), FleetError> {
        self.ec2
            .terminate_instances()
            .instance_ids(&member.node_id)
            .send()
            .await
            .map_err(aws("ec2:TerminateInstances"))?;
        Ok(())
    }

    pub async fn deregister(&self, member: &Member) -> Result<(), FleetError> {
        self.ecs
            .deregister_container_instance()
            .cluster(&member.cluster)
            .container_instance(&member.container_instance_arn)
            .force(true)
            .send()
            .await
            .map_err(aws("ecs:DeregisterContainerInstance"))?;
        Ok(())
    }

    pub async fn drain(&self, member: &Member) -> Result<(), FleetError> {
        self.ecs
            .update_container_instances_state()
            .cluster(&member.cluster)
            .container_instances(&member.container_instance_arn)
            .status(ContainerInstanceStatus::Draining)
            .send()
            .await
            .map_err(aws("ecs:UpdateContainerInstancesState"))?;
        Ok(())
    }

    /// The EventBridge event ECS sends about this member, built from what ECS reports now,
    /// with `agentConnected` as given (the state the event announces).
    pub async fn state_change_event(
        &self,
        member: &Member,
        agent_connected: bool,
        at: DateTime<Utc>,
    ) -> Result<Value, FleetError> {
        let output = self
            .ecs
            .describe_container_instances()
            .cluster(&member.cluster)
            .container_instances(&member.container_instance_arn)
            .send()
            .await
            .map_err(aws("ecs:DescribeContainerInstances"))?;
        let attributes: Vec<Value> = output
            .container_instances()
            .first()
            .map(|ci| {
                ci.attributes()
                    .iter()
                    .map(|a: &Attribute| match a.value() {
                        Some(v) => json!({ "name": a.name(), "value": v }),
                        None => json!({ "name": a.name() }),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(state_change_event(member, agent_connected, attributes, at))
    }
}

/// An "ECS Container Instance State Change" event in the shape ECS sends to EventBridge.
pub fn state_change_event(
    member: &Member,
    agent_connected: bool,
    attributes: Vec<Value>,
    at: DateTime<Utc>,
) -> Value {
    let time = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    json!({
        "version": "0",
        "id": format!("{:08x}-sentinel-{}", at.timestamp_subsec_nanos(), member.node_id),
        "detail-type": "ECS Container Instance State Change",
        "source": "aws.ecs",
        "account": ACCOUNT,
        "time": time,
        "region": REGION,
        "resources": [member.container_instance_arn],
        "detail": {
            "agentConnected": agent_connected,
            "attributes": attributes,
            "clusterArn": Fleet::cluster_arn(&member.cluster),
            "containerInstanceArn": member.container_instance_arn,
            "ec2InstanceId": member.node_id,
            "registeredResources": [],
            "remainingResources": [],
            "status": "ACTIVE",
            "version": at.timestamp(),
            "versionInfo": { "agentVersion": "1.82.0" },
            "updatedAt": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    })
}
