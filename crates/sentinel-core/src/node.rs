//! The machine behind a container instance: an EC2 instance (`i-…`) or an ECS Anywhere
//! managed node registered through SSM (`mi-…`).

use serde::Serialize;
use std::fmt;

/// Which kind of machine runs the ECS agent. It decides where its health is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeKind {
    /// An EC2 instance: its state comes from EC2 DescribeInstances.
    Ec2,
    /// An ECS Anywhere server: its reachability comes from SSM DescribeInstanceInformation.
    Anywhere,
}

impl NodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Ec2 => "ec2",
            NodeKind::Anywhere => "anywhere",
        }
    }
}

/// The id ECS reports as `ec2InstanceId`, which for ECS Anywhere is the SSM managed-node id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct NodeId(String);

impl NodeId {
    /// Accepts `i-<hex>` (EC2) and `mi-<hex>` (SSM managed node); anything else is not a node
    /// ECS can run the agent on, so it is rejected rather than guessed at.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let hex_after = |prefix: &str| {
            raw.strip_prefix(prefix)
                .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit()))
        };
        if hex_after("i-") || hex_after("mi-") {
            Ok(NodeId(raw.to_owned()))
        } else {
            Err(format!(
                "expected an EC2 instance id (i-…) or an SSM managed node id (mi-…), found {raw:?}"
            ))
        }
    }

    pub fn kind(&self) -> NodeKind {
        if self.0.starts_with("mi-") {
            NodeKind::Anywhere
        } else {
            NodeKind::Ec2
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_prefix() {
        assert_eq!(
            NodeId::parse("i-0abc123").map(|n| n.kind()),
            Ok(NodeKind::Ec2)
        );
        assert_eq!(
            NodeId::parse("mi-0123456789abcdef0").map(|n| n.kind()),
            Ok(NodeKind::Anywhere)
        );
    }

    #[test]
    fn rejects_what_is_not_a_node_id() {
        for raw in ["", "i-", "mi-", "x-123", "i-xyz", "arn:aws:ec2:i-1", " i-1"] {
            assert!(NodeId::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }
}
