//! Which clusters are monitored: every cluster, or those tagged `<key>=<value>`.

/// The cluster as the monitoring policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterView {
    Monitored,
    /// The cluster exists but does not carry the monitoring tag with the configured value.
    NotMonitored {
        tag_value: Option<String>,
    },
    /// ECS no longer knows the cluster (deleted, or INACTIVE).
    Missing,
}

pub const DEFAULT_TAG_KEY: &str = "ecs-agent-monitoring";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitoringPolicy {
    AllClusters,
    Tagged { key: String, value: String },
}

impl MonitoringPolicy {
    /// Whether the decision needs the clusters' tags at all (saves a DescribeClusters call).
    pub fn needs_tags(&self) -> bool {
        matches!(self, MonitoringPolicy::Tagged { .. })
    }

    /// The view of a cluster given its tags; `None` means ECS does not know the cluster.
    /// Tag values are compared exactly, as ECS stores them (keys and values are case-sensitive).
    pub fn view(&self, tags: Option<&[Tag]>) -> ClusterView {
        match (self, tags) {
            (_, None) => ClusterView::Missing,
            (MonitoringPolicy::AllClusters, Some(_)) => ClusterView::Monitored,
            (MonitoringPolicy::Tagged { key, value }, Some(tags)) => {
                let found = tags.iter().find(|t| &t.key == key).map(|t| t.value.clone());
                if found.as_deref() == Some(value.as_str()) {
                    ClusterView::Monitored
                } else {
                    ClusterView::NotMonitored { tag_value: found }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged() -> MonitoringPolicy {
        MonitoringPolicy::Tagged {
            key: DEFAULT_TAG_KEY.into(),
            value: "enabled".into(),
        }
    }

    #[test]
    fn all_clusters_monitors_any_known_cluster() {
        assert_eq!(
            MonitoringPolicy::AllClusters.view(Some(&[])),
            ClusterView::Monitored
        );
        assert!(!MonitoringPolicy::AllClusters.needs_tags());
    }

    #[test]
    fn tag_mode_matches_key_and_exact_value() {
        let p = tagged();
        assert!(p.needs_tags());
        let matched = [
            Tag::new("team", "payments"),
            Tag::new(DEFAULT_TAG_KEY, "enabled"),
        ];
        assert_eq!(p.view(Some(&matched)), ClusterView::Monitored);
        let other_value = [Tag::new(DEFAULT_TAG_KEY, "Enabled")];
        assert_eq!(
            p.view(Some(&other_value)),
            ClusterView::NotMonitored {
                tag_value: Some("Enabled".into())
            }
        );
        assert_eq!(
            p.view(Some(&[Tag::new("team", "x")])),
            ClusterView::NotMonitored { tag_value: None }
        );
        assert_eq!(p.view(None), ClusterView::Missing);
    }
}
