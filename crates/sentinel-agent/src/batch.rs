//! One SQS batch in, one candidate per container instance out, grouped by cluster.
//!
//! EventBridge delivers at least once and an agent can flap several times within a batching
//! window, so several records may name the same container instance. They collapse into one
//! candidate (the latest state wins) that remembers every record id, so the batch response
//! can fail or acknowledge all of them together.

use crate::event::StateChange;
use sentinel_core::ClusterArn;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The latest state change seen for this container instance.
    pub change: StateChange,
    /// Every SQS message id that named this container instance.
    pub record_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterBatch {
    pub cluster_arn: ClusterArn,
    /// Sorted by container instance ARN, so output and API calls are deterministic.
    pub candidates: Vec<Candidate>,
}

impl ClusterBatch {
    pub fn record_ids(&self) -> impl Iterator<Item = &str> {
        self.candidates
            .iter()
            .flat_map(|c| c.record_ids.iter().map(String::as_str))
    }
}

/// Collapses duplicates and groups by cluster; clusters come out sorted by ARN.
pub fn group_by_cluster(
    records: impl IntoIterator<Item = (String, StateChange)>,
) -> Vec<ClusterBatch> {
    let mut clusters: BTreeMap<ClusterArn, BTreeMap<String, Candidate>> = BTreeMap::new();
    for (record_id, change) in records {
        let instances = clusters.entry(change.cluster_arn.clone()).or_default();
        match instances.get_mut(&change.container_instance_arn) {
            Some(existing) => {
                existing.record_ids.push(record_id);
                if is_later(&change, &existing.change) {
                    existing.change = change;
                }
            }
            None => {
                instances.insert(
                    change.container_instance_arn.clone(),
                    Candidate {
                        change,
                        record_ids: vec![record_id],
                    },
                );
            }
        }
    }
    clusters
        .into_iter()
        .map(|(cluster_arn, instances)| ClusterBatch {
            cluster_arn,
            candidates: instances.into_values().collect(),
        })
        .collect()
}

/// ECS's per-instance `version` orders changes reliably; event time is the fallback.
fn is_later(candidate: &StateChange, current: &StateChange) -> bool {
    match (candidate.version, current.version) {
        (Some(a), Some(b)) if a != b => a > b,
        _ => candidate.time > current.time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::NodeId;

    fn change(cluster: &str, instance: &str, version: u64, connected: bool) -> StateChange {
        StateChange {
            event_id: None,
            time: None,
            cluster_arn: ClusterArn::parse(&format!("arn:aws:ecs:us-east-1:1:cluster/{cluster}"))
                .unwrap(),
            container_instance_arn: format!(
                "arn:aws:ecs:us-east-1:1:container-instance/{cluster}/{instance}"
            ),
            node_id: NodeId::parse("i-0abc").unwrap(),
            agent_connected: connected,
            status: crate::InstanceStatus::Active,
            agent_version: None,
            version: Some(version),
        }
    }

    #[test]
    fn duplicates_collapse_and_keep_every_record_id() {
        let batches = group_by_cluster(vec![
            ("m1".into(), change("b", "x", 5, false)),
            ("m2".into(), change("a", "y", 1, false)),
            ("m3".into(), change("b", "x", 7, true)),
            ("m4".into(), change("b", "x", 6, false)),
            ("m5".into(), change("b", "z", 1, false)),
        ]);
        let names: Vec<&str> = batches.iter().map(|b| b.cluster_arn.name()).collect();
        assert_eq!(names, ["a", "b"]);
        let b = &batches[1];
        assert_eq!(b.candidates.len(), 2);
        assert_eq!(b.candidates[0].record_ids, ["m1", "m3", "m4"]);
        assert_eq!(
            b.candidates[0].change.version,
            Some(7),
            "latest version wins"
        );
        assert_eq!(b.record_ids().collect::<Vec<_>>(), ["m1", "m3", "m4", "m5"]);
    }

    proptest::proptest! {
        /// No record id is lost or duplicated by grouping.
        #[test]
        fn every_record_id_lands_exactly_once(
            keys in proptest::collection::vec((0u8..4, 0u8..6, 0u64..10), 0..60)
        ) {
            let records: Vec<(String, StateChange)> = keys
                .iter()
                .enumerate()
                .map(|(i, (c, n, v))| (format!("m{i}"), change(&format!("c{c}"), &format!("n{n}"), *v, false)))
                .collect();
            let mut seen: Vec<String> = group_by_cluster(records.clone())
                .iter()
                .flat_map(|b| b.record_ids().map(str::to_owned).collect::<Vec<_>>())
                .collect();
            seen.sort();
            let mut expected: Vec<String> = records.into_iter().map(|(id, _)| id).collect();
            expected.sort();
            proptest::prop_assert_eq!(seen, expected);
        }
    }
}
