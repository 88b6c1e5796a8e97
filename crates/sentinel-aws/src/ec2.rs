//! EC2 lookups: instance state for the `i-…` nodes under container instances.

use crate::{chunks, AwsError, FromSdk};
use aws_sdk_ec2::types::Instance;
use futures::future::try_join_all;
use sentinel_core::{Ec2State, NodeId, NodeView};
use std::collections::HashMap;

/// DescribeInstances takes at most 1000 instance ids per call.
pub const INSTANCES_PER_CALL: usize = 1000;

#[derive(Debug, Clone)]
pub struct Ec2Inventory {
    client: aws_sdk_ec2::Client,
}

impl Ec2Inventory {
    pub fn new(client: aws_sdk_ec2::Client) -> Self {
        Ec2Inventory { client }
    }

    /// The instances EC2 still knows; absent ids are gone. One call per 1000 ids.
    pub async fn instances(&self, ids: &[NodeId]) -> Result<HashMap<NodeId, NodeView>, AwsError> {
        let calls = chunks(ids, INSTANCES_PER_CALL).map(|chunk| self.describe_chunk(chunk));
        Ok(try_join_all(calls).await?.into_iter().flatten().collect())
    }

    /// EC2 fails the whole call when one id no longer exists (terminated instances vanish
    /// about an hour after termination). The error names the missing ids, so they are
    /// dropped and the rest asked again; this costs one extra call only in that case.
    async fn describe_chunk(&self, chunk: &[NodeId]) -> Result<Vec<(NodeId, NodeView)>, AwsError> {
        let mut ids: Vec<String> = chunk.iter().map(|n| n.as_str().to_owned()).collect();
        // Each retry removes at least one id, so this ends; the bound is belt and braces.
        for _ in 0..=chunk.len() {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            match self
                .client
                .describe_instances()
                .set_instance_ids(Some(ids.clone()))
                .send()
                .await
            {
                Ok(output) => {
                    return Ok(output
                        .reservations()
                        .iter()
                        .flat_map(|r| r.instances())
                        .filter_map(view_of)
                        .collect())
                }
                Err(e) => {
                    let err = AwsError::from_sdk("ec2", "DescribeInstances", e);
                    if err.code.as_deref() != Some("InvalidInstanceID.NotFound") {
                        return Err(err);
                    }
                    let missing = ids_named_in(&err.message);
                    let before = ids.len();
                    ids.retain(|id| !missing.contains(id));
                    if ids.len() == before {
                        return Err(err);
                    }
                    tracing::info!(missing = ?missing, "EC2 no longer knows these instances");
                }
            }
        }
        Err(AwsError::new(
            "ec2",
            "DescribeInstances",
            "gave up removing unknown instance ids",
        ))
    }
}

/// Instance ids (`i-` followed by hex) mentioned in an EC2 error message.
fn ids_named_in(message: &str) -> Vec<String> {
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| NodeId::parse(word).is_ok_and(|n| n.kind() == sentinel_core::NodeKind::Ec2))
        .map(str::to_owned)
        .collect()
}

fn view_of(instance: &Instance) -> Option<(NodeId, NodeView)> {
    let id = NodeId::parse(instance.instance_id()?).ok()?;
    let view = NodeView::Ec2 {
        state: Ec2State::parse(
            instance
                .state()
                .and_then(|s| s.name())
                .map_or("unknown", |n| n.as_str()),
        ),
        instance_type: instance.instance_type().map(|t| t.as_str().to_owned()),
        availability_zone: instance
            .placement()
            .and_then(|p| p.availability_zone())
            .map(str::to_owned),
        private_ip: instance.private_ip_address().map(str::to_owned),
    };
    Some((id, view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_ids_in_not_found_messages() {
        assert_eq!(
            ids_named_in("The instance IDs 'i-0abc, i-0def' do not exist"),
            ["i-0abc", "i-0def"]
        );
        assert_eq!(
            ids_named_in("The instance ID 'i-1234567' does not exist"),
            ["i-1234567"]
        );
        assert!(ids_named_in("Request limit exceeded.").is_empty());
    }
}
