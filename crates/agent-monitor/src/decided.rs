//! One container instance a run has decided about: what the event path and the sweep both
//! build and hand to the lifecycle, so both take the same decision the same way.

use sentinel_agent::episode::{Episode, Sighting};
use sentinel_agent::{assess, DecisionSettings, Observation, Verdict};

/// One container instance a run has decided about.
#[derive(Debug, Clone)]
pub struct Decided {
    pub sighting: Sighting,
    /// The SQS records that named it (none for the sweep).
    pub record_ids: Vec<String>,
    pub stored: Option<Episode>,
    pub observation: Observation,
    pub verdict: Verdict,
}

impl Decided {
    /// The one way a candidate becomes a decision, for events and the sweep alike: what a
    /// fresh look found, judged by [`sentinel_agent::assess`].
    pub fn new(
        sighting: Sighting,
        record_ids: Vec<String>,
        stored: Option<Episode>,
        observation: Observation,
        settings: DecisionSettings,
    ) -> Self {
        let verdict = assess(&observation, settings);
        Decided {
            sighting,
            record_ids,
            stored,
            observation,
            verdict,
        }
    }
}
