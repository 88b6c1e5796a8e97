//! The remediation actions, each one AWS call (replace: a membership check, then one call).
//! Safety limits and dry runs are decided before these are called; see
//! `sentinel_agent::remediation`.

use crate::sdk::OnFirstUse;
use crate::{AwsError, FromSdk};
use aws_sdk_ecs::types::ContainerInstanceStatus;
use sentinel_core::ClusterArn;
use sentinel_core::NodeId;

#[derive(Debug, Clone)]
pub struct Remediator {
    ssm: OnFirstUse<aws_sdk_ssm::Client>,
    ecs: aws_sdk_ecs::Client,
    ec2: aws_sdk_ec2::Client,
    autoscaling: OnFirstUse<aws_sdk_autoscaling::Client>,
}

impl Remediator {
    pub fn new(
        ssm: impl Into<OnFirstUse<aws_sdk_ssm::Client>>,
        ecs: aws_sdk_ecs::Client,
        ec2: aws_sdk_ec2::Client,
        autoscaling: impl Into<OnFirstUse<aws_sdk_autoscaling::Client>>,
    ) -> Self {
        Remediator {
            ssm: ssm.into(),
            ecs,
            ec2,
            autoscaling: autoscaling.into(),
        }
    }

    /// Restarts the ECS agent through SSM Run Command; works for EC2 instances and ECS
    /// Anywhere nodes alike. Returns the command id.
    pub async fn restart_agent(&self, node: &NodeId, windows: bool) -> Result<String, AwsError> {
        let (document, command) = if windows {
            ("AWS-RunPowerShellScript", "Restart-Service AmazonECS")
        } else {
            ("AWS-RunShellScript", "systemctl restart ecs")
        };
        let output = self
            .ssm
            .get()
            .send_command()
            .document_name(document)
            .instance_ids(node.as_str())
            .parameters("commands", vec![command.to_owned()])
            .comment("ecs-sentinel: restart the ECS agent")
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ssm", "SendCommand", e))?;
        Ok(output
            .command()
            .and_then(|c| c.command_id())
            .unwrap_or_default()
            .to_owned())
    }

    /// Sets the container instance to DRAINING.
    pub async fn drain(
        &self,
        cluster: &ClusterArn,
        container_instance_arn: &str,
    ) -> Result<(), AwsError> {
        let output = self
            .ecs
            .update_container_instances_state()
            .cluster(cluster.as_str())
            .container_instances(container_instance_arn)
            .status(ContainerInstanceStatus::Draining)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ecs", "UpdateContainerInstancesState", e))?;
        match output.failures().first() {
            Some(failure) => Err(AwsError::new(
                "ecs",
                "UpdateContainerInstancesState",
                format!(
                    "{}: {}",
                    failure.arn().unwrap_or(container_instance_arn),
                    failure.reason().unwrap_or("failed")
                ),
            )),
            None => Ok(()),
        }
    }

    pub async fn reboot(&self, node: &NodeId) -> Result<(), AwsError> {
        self.ec2
            .reboot_instances()
            .instance_ids(node.as_str())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ec2", "RebootInstances", e))?;
        Ok(())
    }

    /// Terminates the instance through its Auto Scaling group without lowering the desired
    /// capacity, so the group launches a replacement. Returns the group's name, or `None`
    /// (and does nothing) when the instance belongs to no group: an instance outside a group
    /// would not come back, so it is never terminated.
    pub async fn replace(&self, node: &NodeId) -> Result<Option<String>, AwsError> {
        let membership = self
            .autoscaling
            .get()
            .describe_auto_scaling_instances()
            .instance_ids(node.as_str())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("autoscaling", "DescribeAutoScalingInstances", e))?;
        let Some(group) = membership
            .auto_scaling_instances()
            .iter()
            .find(|i| i.instance_id() == Some(node.as_str()))
            .and_then(|i| i.auto_scaling_group_name())
            .map(str::to_owned)
        else {
            return Ok(None);
        };
        self.autoscaling
            .get()
            .terminate_instance_in_auto_scaling_group()
            .instance_id(node.as_str())
            .should_decrement_desired_capacity(false)
            .send()
            .await
            .map_err(|e| {
                AwsError::from_sdk("autoscaling", "TerminateInstanceInAutoScalingGroup", e)
            })?;
        Ok(Some(group))
    }
}
