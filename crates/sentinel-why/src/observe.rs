//! Every source as observations: what one task, instance or service looked like, when, and
//! where that was read.

use chrono::{DateTime, Utc};
use sentinel_fleet::record::parse_time;
use sentinel_fleet::view::{names_cluster, Seen};
use sentinel_fleet::{parse_fleet_event, FleetRecord};
use serde::Serialize;

/// Where an observation was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// An event of the event log (every ECS event, as it happened).
    EventLog,
    /// The fleet table (the newest state of each thing, kept after ECS forgets it).
    FleetTable,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::EventLog => "event-log",
            Origin::FleetTable => "fleet-table",
        }
    }
}

/// One thing's state at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub at: DateTime<Utc>,
    pub record: FleetRecord,
    pub origin: Origin,
    /// The fleet recorder's reconcile found the thing gone from ECS.
    pub gone: bool,
}

/// The observations of cluster `cluster` (a name or ARN; `None`: every cluster): the event
/// log's events (each parsed as the fleet recorder parses it; events it does not keep, or
/// cannot read, are left out) and the fleet table's records, oldest first. A record without
/// a time of its own is left out: it cannot be placed on a timeline.
pub fn observe(
    cluster: Option<&str>,
    events: &[serde_json::Value],
    records: &[Seen],
) -> Vec<Observation> {
    let from_log = events.iter().filter_map(|event| {
        let record = parse_fleet_event(&event.to_string()).ok()??;
        Some((record, Origin::EventLog, false))
    });
    let from_table = records
        .iter()
        .map(|seen| (seen.record.clone(), Origin::FleetTable, seen.gone));
    let mut observed: Vec<Observation> = from_log
        .chain(from_table)
        .filter(|(record, _, _)| cluster.is_none_or(|c| names_cluster(c, record.cluster_arn())))
        .filter_map(|(record, origin, gone)| {
            Some(Observation {
                at: time_of(&record)?,
                record,
                origin,
                gone,
            })
        })
        .collect();
    observed.sort_by(|a, b| {
        (a.at, a.record.order(), a.origin).cmp(&(b.at, b.record.order(), b.origin))
    });
    observed
}

/// When the state came to be: a stopped task at its stop, anything else at its update.
fn time_of(record: &FleetRecord) -> Option<DateTime<Utc>> {
    match record {
        FleetRecord::Task(t) if t.last_status == "STOPPED" => t
            .stopped_at
            .as_deref()
            .and_then(parse_time)
            .or_else(|| record.updated_at()),
        _ => record.updated_at(),
    }
}
