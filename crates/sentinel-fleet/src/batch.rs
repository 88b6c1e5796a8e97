//! One batch's records, newest per key: a batch writes each key once, however many events
//! of one task it carries (a task's life is PROVISIONING, PENDING, RUNNING, STOPPING,
//! STOPPED, each an event, often in one batch).

use crate::record::FleetRecord;
use std::collections::BTreeMap;

/// The newest record of one key in a batch, and every SQS record that carried a state of
/// that key: they are settled together, by the one write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Newest {
    pub record: FleetRecord,
    pub record_ids: Vec<String>,
}

/// Collapses `(record id, record)` pairs to the newest record per key, in key order. Of two
/// records with the same order (a redelivery), the later one in the batch wins; they
/// describe the same state.
pub fn newest_per_key(records: impl IntoIterator<Item = (String, FleetRecord)>) -> Vec<Newest> {
    let mut by_key: BTreeMap<String, Newest> = BTreeMap::new();
    for (record_id, record) in records {
        let key = record.key();
        match by_key.get_mut(&key) {
            Some(newest) => {
                newest.record_ids.push(record_id);
                if record.order() >= newest.record.order() {
                    newest.record = record;
                }
            }
            None => {
                by_key.insert(
                    key,
                    Newest {
                        record,
                        record_ids: vec![record_id],
                    },
                );
            }
        }
    }
    by_key.into_values().collect()
}
