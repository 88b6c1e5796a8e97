//! The scheduled reconcile's decision: what ECS lists now against what is stored, as the
//! repairs that make them agree. Events are the fast path; the reconcile catches what they
//! missed (a record written while the recorder was off, an event lost to a failure).

use crate::record::{FleetRecord, Kind};
use std::collections::{BTreeMap, BTreeSet};

/// What the store holds of one key, as much as the reconcile needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSummary {
    pub key: String,
    pub kind: Kind,
    pub order: u64,
    /// Already marked gone by an earlier reconcile.
    pub gone: bool,
    /// A task's `lastStatus`, an instance's `status`.
    pub status: String,
}

impl StoredSummary {
    /// A state nothing follows: a stopped task, a deregistered instance. ECS stops
    /// listing these after a while; the store keeps them until their expiry.
    fn is_final(&self) -> bool {
        match self.kind {
            Kind::Task => self.status == "STOPPED",
            Kind::Instance => self.status == "INACTIVE",
            Kind::ServiceAction | Kind::Deployment => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// ECS lists a state the store does not have (an event was missed) or has older: write
    /// it, on the same newer-only condition as events.
    Write(Box<FleetRecord>),
    /// The store says it is still there, ECS no longer knows it: mark it gone, only if
    /// the stored order is still `order` (a newer event written meanwhile wins).
    MarkGone { key: String, kind: Kind, order: u64 },
}

/// `stored`: one cluster's stored instances and tasks. `listed`: that cluster's instances
/// and tasks as ECS lists and describes them now (every instance ECS lists, tasks desired
/// RUNNING and recently STOPPED). Service records are not reconciled: ECS lists no past
/// events.
pub fn reconcile(stored: &[StoredSummary], listed: &[FleetRecord]) -> Vec<Repair> {
    let by_key: BTreeMap<&str, &StoredSummary> =
        stored.iter().map(|s| (s.key.as_str(), s)).collect();
    let listed_keys: BTreeSet<String> = listed.iter().map(FleetRecord::key).collect();
    let mut repairs: Vec<Repair> = listed
        .iter()
        .filter(|record| match by_key.get(record.key().as_str()) {
            None => true,
            Some(known) => known.gone || known.order < record.order(),
        })
        .map(|record| Repair::Write(Box::new(record.clone())))
        .collect();
    repairs.extend(
        stored
            .iter()
            .filter(|s| matches!(s.kind, Kind::Task | Kind::Instance))
            .filter(|s| !s.gone && !s.is_final() && !listed_keys.contains(&s.key))
            .map(|s| Repair::MarkGone {
                key: s.key.clone(),
                kind: s.kind,
                order: s.order,
            }),
    );
    repairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::TaskRecord;

    fn task(id: &str, status: &str, version: u64) -> FleetRecord {
        FleetRecord::Task(TaskRecord {
            desired_status: Some("RUNNING".into()),
            version,
            ..TaskRecord::example(id, status)
        })
    }

    fn stored(record: &FleetRecord, gone: bool) -> StoredSummary {
        let status = match record {
            FleetRecord::Task(t) => t.last_status.clone(),
            _ => String::new(),
        };
        StoredSummary {
            key: record.key(),
            kind: record.kind(),
            order: record.order(),
            gone,
            status,
        }
    }

    #[test]
    fn agreeing_states_need_no_repair() {
        let a = task("a", "RUNNING", 3);
        assert!(reconcile(&[stored(&a, false)], &[a]).is_empty());
    }

    #[test]
    fn a_missed_task_and_a_missed_change_are_written() {
        let known = task("known", "RUNNING", 3);
        let newer = task("known", "STOPPED", 5);
        let missed = task("missed", "RUNNING", 2);
        let repairs = reconcile(&[stored(&known, false)], &[newer.clone(), missed.clone()]);
        assert_eq!(
            repairs,
            [
                Repair::Write(Box::new(newer)),
                Repair::Write(Box::new(missed))
            ]
        );
    }

    #[test]
    fn an_older_listing_never_overwrites_a_newer_stored_state() {
        let stored_state = task("a", "STOPPED", 6);
        let listed_state = task("a", "RUNNING", 4);
        assert!(reconcile(&[stored(&stored_state, false)], &[listed_state]).is_empty());
    }

    #[test]
    fn a_running_task_ecs_forgot_is_marked_gone_once() {
        let vanished = task("vanished", "RUNNING", 4);
        let repairs = reconcile(&[stored(&vanished, false)], &[]);
        assert_eq!(
            repairs,
            [Repair::MarkGone {
                key: vanished.key(),
                kind: Kind::Task,
                order: 4
            }]
        );
        assert!(
            reconcile(&[stored(&vanished, true)], &[]).is_empty(),
            "already gone"
        );
    }

    #[test]
    fn stopped_tasks_outlive_ecs_and_are_never_marked_gone() {
        let stopped = task("old", "STOPPED", 7);
        assert!(reconcile(&[stored(&stopped, false)], &[]).is_empty());
    }

    #[test]
    fn a_task_marked_gone_that_ecs_lists_again_is_written_back() {
        let back = task("back", "RUNNING", 4);
        assert_eq!(
            reconcile(&[stored(&back, true)], std::slice::from_ref(&back)),
            [Repair::Write(Box::new(back))]
        );
    }
}
