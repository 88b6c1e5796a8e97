//! SSM lookups: reachability of ECS Anywhere (`mi-…`) managed nodes.

use crate::sdk::OnFirstUse;
use crate::{chunks, AwsError, FromSdk};
use aws_sdk_ssm::types::{InstanceInformation, InstanceInformationStringFilter};
use futures::future::try_join_all;
use sentinel_core::{NodeId, NodeView, PingStatus};
use std::collections::HashMap;

/// DescribeInstanceInformation returns at most 50 nodes per page, so asking for more ids
/// per call would only add pages.
pub const NODES_PER_CALL: usize = 50;

#[derive(Debug, Clone)]
pub struct ManagedNodes {
    client: OnFirstUse<aws_sdk_ssm::Client>,
}

impl ManagedNodes {
    pub fn new(client: impl Into<OnFirstUse<aws_sdk_ssm::Client>>) -> Self {
        ManagedNodes {
            client: client.into(),
        }
    }

    /// The managed nodes SSM knows; absent ids are gone. One call per 50 ids.
    pub async fn nodes(&self, ids: &[NodeId]) -> Result<HashMap<NodeId, NodeView>, AwsError> {
        let calls = chunks(ids, NODES_PER_CALL).map(|chunk| self.describe_chunk(chunk));
        Ok(try_join_all(calls).await?.into_iter().flatten().collect())
    }

    async fn describe_chunk(&self, chunk: &[NodeId]) -> Result<Vec<(NodeId, NodeView)>, AwsError> {
        let filter = InstanceInformationStringFilter::builder()
            .key("InstanceIds")
            .set_values(Some(chunk.iter().map(|n| n.as_str().to_owned()).collect()))
            .build()
            .map_err(|e| AwsError::new("ssm", "DescribeInstanceInformation", e.to_string()))?;
        let mut found = Vec::new();
        let mut pages = self
            .client
            .get()
            .describe_instance_information()
            .filters(filter)
            .max_results(NODES_PER_CALL as i32)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::from_sdk("ssm", "DescribeInstanceInformation", e))?;
            found.extend(page.instance_information_list().iter().filter_map(view_of));
        }
        Ok(found)
    }
}

fn view_of(info: &InstanceInformation) -> Option<(NodeId, NodeView)> {
    let id = NodeId::parse(info.instance_id()?).ok()?;
    let view = NodeView::Anywhere {
        ping_status: PingStatus::parse(info.ping_status().map_or("Unknown", |p| p.as_str())),
        platform_type: info.platform_type().map(|p| p.as_str().to_owned()),
        last_ping: info
            .last_ping_date_time()
            .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
        computer_name: info.computer_name().map(str::to_owned),
        ip_address: info.ip_address().map(str::to_owned),
    };
    Some((id, view))
}
