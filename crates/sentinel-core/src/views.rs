//! What a fresh look at ECS, EC2 and SSM found about a container instance and the machine
//! under it. The adapters in `sentinel-aws` fill these from API responses; monitors read
//! only these.

use crate::node::NodeId;
use crate::states::{Ec2State, InstanceStatus, PingStatus};
use chrono::{DateTime, Utc};

/// A container instance as DescribeContainerInstances reports it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInstanceView {
    pub arn: String,
    pub status: InstanceStatus,
    pub agent_connected: bool,
    pub agent_version: Option<String>,
    pub node_id: Option<NodeId>,
    pub instance_type: Option<String>,
    pub availability_zone: Option<String>,
    pub os_type: Option<String>,
}

/// The machine under the agent, as EC2 or SSM reports it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeView {
    Ec2 {
        state: Ec2State,
        instance_type: Option<String>,
        availability_zone: Option<String>,
        private_ip: Option<String>,
    },
    Anywhere {
        ping_status: PingStatus,
        platform_type: Option<String>,
        last_ping: Option<DateTime<Utc>>,
        computer_name: Option<String>,
        ip_address: Option<String>,
    },
}

impl NodeView {
    /// The node's own word for its health: EC2 state or SSM ping status.
    pub fn state(&self) -> &str {
        match self {
            NodeView::Ec2 { state, .. } => state.as_str(),
            NodeView::Anywhere { ping_status, .. } => ping_status.as_str(),
        }
    }
}
