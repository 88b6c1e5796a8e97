//! In-memory twins of the ports, for the pipeline's tests: the store keeps the AWS table's
//! newer-only rule, the listing is what a test says ECS lists, and writes can be scripted
//! to fail.

use crate::ports::{FleetStore, Listing};
use crate::store::{Recorded, StoredRecord};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sentinel_aws::AwsError;
use sentinel_core::ClusterArn;
use sentinel_fleet::FleetRecord;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

/// How many calls each port received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    /// Conditional writes (PutItem), one per record.
    pub writes: usize,
    pub marks: usize,
    /// Cluster reads (Query).
    pub reads: usize,
    /// Cluster listings (ECS).
    pub listings: usize,
}

#[derive(Default)]
struct State {
    stored: BTreeMap<String, StoredRecord>,
    listed: BTreeMap<ClusterArn, Vec<FleetRecord>>,
    /// One entry per coming write: `true` fails it.
    write_faults: VecDeque<bool>,
    calls: Calls,
}

#[derive(Default)]
pub struct MemoryFleet {
    state: Mutex<State>,
}

impl MemoryFleet {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has failed already.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What ECS lists for `cluster` from now on.
    pub fn list(&self, cluster: &ClusterArn, records: Vec<FleetRecord>) {
        self.lock().listed.insert(cluster.clone(), records);
    }

    /// The coming writes fail where `faults` says `true`.
    pub fn script_writes(&self, faults: &[bool]) {
        self.lock().write_faults.extend(faults.iter().copied());
    }

    pub fn stored(&self, key: &str) -> Option<StoredRecord> {
        self.lock().stored.get(key).cloned()
    }

    pub fn len(&self) -> usize {
        self.lock().stored.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn calls(&self) -> Calls {
        self.lock().calls
    }
}

impl FleetStore for MemoryFleet {
    fn record_all<'a>(
        &'a self,
        records: &'a [&'a FleetRecord],
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<Result<Recorded, AwsError>>> {
        Box::pin(async move {
            let mut state = self.lock();
            records
                .iter()
                .map(|record| {
                    state.calls.writes += 1;
                    if state.write_faults.pop_front().unwrap_or(false) {
                        return Err(AwsError::new("dynamodb", "PutItem", "throttled (scripted)"));
                    }
                    let key = record.key();
                    let newer = state
                        .stored
                        .get(&key)
                        .is_none_or(|known| known.record.order() < record.order());
                    if !newer {
                        return Ok(Recorded::Stale);
                    }
                    state.stored.insert(
                        key,
                        StoredRecord {
                            record: (*record).clone(),
                            gone: false,
                        },
                    );
                    Ok(Recorded::Written)
                })
                .collect()
        })
    }

    fn mark_gone<'a>(
        &'a self,
        key: &'a str,
        order: u64,
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Recorded, AwsError>> {
        Box::pin(async move {
            let mut state = self.lock();
            state.calls.marks += 1;
            match state.stored.get_mut(key) {
                Some(known) if known.record.order() == order => {
                    known.gone = true;
                    Ok(Recorded::Written)
                }
                _ => Ok(Recorded::Stale),
            }
        })
    }

    fn cluster<'a>(
        &'a self,
        cluster: &'a str,
    ) -> BoxFuture<'a, Result<(Vec<StoredRecord>, usize), AwsError>> {
        Box::pin(async move {
            let mut state = self.lock();
            state.calls.reads += 1;
            let records = state
                .stored
                .values()
                .filter(|s| s.record.cluster_arn() == cluster)
                .cloned()
                .collect();
            Ok((records, 0))
        })
    }
}

impl Listing for MemoryFleet {
    fn clusters(&self) -> BoxFuture<'_, Result<Vec<ClusterArn>, AwsError>> {
        Box::pin(async move { Ok(self.lock().listed.keys().cloned().collect()) })
    }

    fn cluster_records<'a>(
        &'a self,
        cluster: &'a ClusterArn,
    ) -> BoxFuture<'a, Result<Vec<FleetRecord>, AwsError>> {
        Box::pin(async move {
            let mut state = self.lock();
            state.calls.listings += 1;
            Ok(state.listed.get(cluster).cloned().unwrap_or_default())
        })
    }
}
