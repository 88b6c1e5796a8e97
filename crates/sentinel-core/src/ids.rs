//! Identifiers every monitor shares.

use serde::Serialize;
use std::fmt;

/// An ECS cluster ARN, `arn:<partition>:ecs:<region>:<account>:cluster/<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ClusterArn(String);

/// (cluster, service name) of a service ARN: the cluster only in the long format
/// `arn:…:service/cluster/name`; the old `arn:…:service/name` names none.
pub fn service_arn_parts(arn: &str) -> Option<(Option<ClusterArn>, String)> {
    let (prefix, path) = arn.split_once(":service/")?;
    match path.split_once('/') {
        Some((cluster, name)) if !cluster.is_empty() && !name.is_empty() => {
            let cluster = ClusterArn::parse(&format!("{prefix}:cluster/{cluster}")).ok();
            Some((cluster, name.to_owned()))
        }
        _ if !path.is_empty() && !path.contains('/') => Some((None, path.to_owned())),
        _ => None,
    }
}

impl ClusterArn {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let parts: Vec<&str> = raw.splitn(6, ':').collect();
        match parts.as_slice() {
            ["arn", partition, "ecs", region, account, resource]
                if !partition.is_empty()
                    && !region.is_empty()
                    && !account.is_empty()
                    && resource
                        .strip_prefix("cluster/")
                        .is_some_and(|n| !n.is_empty()) =>
            {
                Ok(ClusterArn(raw.to_owned()))
            }
            _ => Err(format!(
                "expected arn:<partition>:ecs:<region>:<account>:cluster/<name>, found {raw:?}"
            )),
        }
    }

    fn part(&self, index: usize) -> &str {
        self.0.split(':').nth(index).unwrap_or_default()
    }

    pub fn partition(&self) -> &str {
        self.part(1)
    }

    pub fn region(&self) -> &str {
        self.part(3)
    }

    pub fn account(&self) -> &str {
        self.part(4)
    }

    pub fn name(&self) -> &str {
        self.0
            .splitn(6, ':')
            .nth(5)
            .and_then(|resource| resource.strip_prefix("cluster/"))
            .unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClusterArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_arns_are_validated() {
        assert!(ClusterArn::parse("arn:aws-cn:ecs:cn-north-1:1:cluster/a").is_ok());
        for bad in [
            "arn:aws:ecs:us-east-1:1:cluster/",
            "arn:aws:ec2:us-east-1:1:cluster/a",
            "arn:aws:ecs::1:cluster/a",
            "cluster/a",
        ] {
            assert!(ClusterArn::parse(bad).is_err(), "{bad}");
        }
    }
}
