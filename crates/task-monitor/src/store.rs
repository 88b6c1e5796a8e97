//! The task monitor's episodes in the shared alert table: one item per service (or task
//! family), keyed `tasks#<cluster ARN>#service#<name>` (or `#family#`), written through the
//! [`sentinel_aws::VersionedTable`] like the agent's. The lifecycle attributes are the same as the agent
//! episodes'; the failure samples are kept as one JSON string (they are only ever read back
//! whole, for messages).

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};
use sentinel_aws::table::{number, text, time, write_state, Fields, Format, Table};
use sentinel_aws::AwsError;
use sentinel_core::ClusterArn;
use sentinel_tasks::classify::{FailureKind, Recovery};
use sentinel_tasks::episode::{EpisodeKey, FailureSample, TaskEpisode};
use sentinel_tasks::Owner;
use std::collections::{BTreeMap, HashMap};

/// Every write pushes expiry this far out: a service quiet for a month (deleted, or fine and
/// never reported steady) is forgotten, whatever its phase.
pub const TASK_RETENTION: TimeDelta = TimeDelta::days(30);

/// The task monitor's store: the shared table, read and written as [`TaskEpisode`]s.
pub type TaskEpisodeStore = Table<TaskEpisodeFormat>;

/// How a task episode is kept in the alert table.
pub struct TaskEpisodeFormat;

/// A task episode's item (keyed `tasks#…`, see [`EpisodeKey::as_key`]).
pub fn is_task_episode(item: &HashMap<String, AttributeValue>) -> bool {
    item.get("pk")
        .and_then(|v| v.as_s().ok())
        .is_some_and(|pk| pk.starts_with("tasks#"))
}

impl Format for TaskEpisodeFormat {
    type Item = TaskEpisode;

    fn to_item(episode: &TaskEpisode, now: DateTime<Utc>) -> HashMap<String, AttributeValue> {
        let (owner, name) = match &episode.key.owner {
            Owner::Service(name) => ("service", name),
            Owner::Family(name) => ("family", name),
        };
        let mut item = HashMap::from([
            ("pk".to_owned(), text(episode.key.as_key())),
            ("monitor".to_owned(), text("tasks")),
            ("cluster".to_owned(), text(episode.key.cluster.as_str())),
            ("owner".to_owned(), text(owner)),
            ("name".to_owned(), text(name)),
            ("failures".to_owned(), number(episode.failures)),
            (
                "failures_notified".to_owned(),
                number(episode.failures_notified),
            ),
            (
                "by_kind".to_owned(),
                AttributeValue::M(
                    episode
                        .by_kind
                        .iter()
                        .map(|(kind, n)| (kind.as_str().to_owned(), number(n)))
                        .collect(),
                ),
            ),
            (
                "samples".to_owned(),
                // Serialising plain strings, numbers and times cannot fail; an empty list
                // is what a reader would make of a failure anyway.
                text(serde_json::to_string(&episode.samples).unwrap_or_else(|_| "[]".to_owned())),
            ),
            (
                "seen".to_owned(),
                AttributeValue::L(episode.seen.iter().map(text).collect()),
            ),
            ("version".to_owned(), number(episode.version)),
            ("ttl".to_owned(), time(now + TASK_RETENTION)),
        ]);
        write_state(&mut item, &episode.state);
        if let Some(recovery) = episode.resolution {
            item.insert("resolution".to_owned(), text(recovery.code()));
        }
        item
    }

    fn from_item(item: &HashMap<String, AttributeValue>) -> Result<TaskEpisode, AwsError> {
        let f = Fields::new(item);
        let cluster = ClusterArn::parse(f.required_s("cluster")?).map_err(|_| f.bad("cluster"))?;
        let name = f.required_s("name")?.clone();
        let owner = match f.required_s("owner")?.as_str() {
            "service" => Owner::Service(name),
            "family" => Owner::Family(name),
            _ => return Err(f.bad("owner")),
        };
        let by_kind = f
            .get("by_kind")
            .and_then(|v| v.as_m().ok())
            .ok_or_else(|| f.bad("by_kind"))?
            .iter()
            .map(|(kind, n)| {
                let kind = FailureKind::parse(kind).ok_or_else(|| f.bad("by_kind"))?;
                let n = n
                    .as_n()
                    .ok()
                    .and_then(|n| n.parse::<u32>().ok())
                    .ok_or_else(|| f.bad("by_kind"))?;
                Ok((kind, n))
            })
            .collect::<Result<BTreeMap<_, _>, AwsError>>()?;
        let samples: Vec<FailureSample> =
            serde_json::from_str(f.required_s("samples")?).map_err(|_| f.bad("samples"))?;
        let seen = f
            .get("seen")
            .and_then(|v| v.as_l().ok())
            .ok_or_else(|| f.bad("seen"))?
            .iter()
            .map(|v| v.as_s().cloned().map_err(|_| f.bad("seen")))
            .collect::<Result<Vec<_>, AwsError>>()?;
        let resolution = match f.s("resolution").map(String::as_str) {
            None => None,
            Some("steady-state") => Some(Recovery::SteadyState),
            Some("deployment-completed") => Some(Recovery::DeploymentCompleted),
            Some(_) => return Err(f.bad("resolution")),
        };
        let count = |field: &str| u32::try_from(f.required_u64(field)?).map_err(|_| f.bad(field));
        Ok(TaskEpisode {
            key: EpisodeKey { cluster, owner },
            state: f.state()?,
            failures: count("failures")?,
            by_kind,
            failures_notified: count("failures_notified")?,
            samples,
            seen,
            resolution,
            version: f.required_u64("version")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use sentinel_core::notice::{EpisodeState, Notice, Phase};
    use sentinel_tasks::episode::ContainerExit;

    fn episode() -> TaskEpisode {
        let t = Utc.with_ymd_and_hms(2026, 11, 29, 10, 0, 0).unwrap();
        TaskEpisode {
            key: EpisodeKey {
                cluster: ClusterArn::parse("arn:aws:ecs:us-east-1:1:cluster/prod").unwrap(),
                owner: Owner::Service("api".into()),
            },
            state: EpisodeState {
                phase: Phase::Resolved,
                first_seen_at: t,
                opened_at: Some(t),
                last_seen_at: t,
                resolved_at: Some(t),
                pending: Some((Notice::Resolved, t)),
                notices_sent: 2,
                last_notice_at: Some(t),
                alert_sent: true,
            },
            failures: 37,
            by_kind: BTreeMap::from([
                (FailureKind::OutOfMemory, 35),
                (FailureKind::ContainerExit, 2),
            ]),
            failures_notified: 30,
            samples: vec![FailureSample {
                at: t,
                kind: FailureKind::OutOfMemory,
                task_arn: Some("arn:aws:ecs:us-east-1:1:task/prod/abc".into()),
                task_definition: Some("api:42".into()),
                reason: Some("Essential container in task exited".into()),
                containers: vec![ContainerExit {
                    name: "app".into(),
                    exit_code: Some(137),
                    reason: Some("OutOfMemoryError: Container killed due to memory usage".into()),
                }],
            }],
            seen: vec!["arn:aws:ecs:us-east-1:1:task/prod/abc#5".into()],
            resolution: Some(Recovery::SteadyState),
            version: 4,
        }
    }

    #[test]
    fn items_round_trip() {
        let e = episode();
        let item = TaskEpisodeFormat::to_item(&e, Utc::now());
        assert_eq!(
            item["pk"].as_s().unwrap(),
            "tasks#arn:aws:ecs:us-east-1:1:cluster/prod#service#api"
        );
        assert!(
            item.contains_key("ttl"),
            "every task episode expires after a quiet month"
        );
        assert_eq!(TaskEpisodeFormat::from_item(&item).unwrap(), e);
        let mut family = e.clone();
        family.key.owner = Owner::Family("nightly".into());
        family.resolution = None;
        assert_eq!(
            TaskEpisodeFormat::from_item(&TaskEpisodeFormat::to_item(&family, Utc::now())).unwrap(),
            family
        );
    }

    #[test]
    fn malformed_items_are_named_errors() {
        for (field, value) in [
            ("owner", text("team")),
            ("samples", text("not json")),
            (
                "by_kind",
                AttributeValue::M(HashMap::from([("gremlins".to_owned(), number(1))])),
            ),
            ("failures", text("many")),
            ("status", text("sideways")),
        ] {
            let mut item = TaskEpisodeFormat::to_item(&episode(), Utc::now());
            item.insert(field.to_owned(), value);
            let err = TaskEpisodeFormat::from_item(&item).unwrap_err();
            assert!(
                err.message.contains(&format!("{field:?}")),
                "{field}: {err}"
            );
            assert!(err.message.contains("service#api"), "{err}");
        }
    }
}
