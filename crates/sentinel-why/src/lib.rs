//! `ecs-sentinel why`, purely: the cause, the evidence and the timeline of one service's,
//! task's or instance's trouble, joined from what the stack keeps.
//!
//! - [`observe`]: every source as one list of [`Observation`]s: each event of the event log
//!   parsed into the fleet's record of what it says (the state of one task, instance or
//!   service at that moment), and each record of the fleet table (the newest state, which
//!   outlives ECS's memory and the log's window).
//! - [`explain`]: the subject's status (`failing`, `recovered`, `healthy`, `unknown`), the
//!   cause of a failure with its evidence, and the timeline, oldest first. The joins are
//!   here: a task that stopped on an instance whose agent disconnected (or which left the
//!   cluster) shortly before is blamed on that instance; a failure that began with a new
//!   revision names it; a failed deployment says whether it rolled back; a recovery says
//!   when and how long the service was down.
//!
//! - [`board`]: the whole fleet's trouble at a glance, for `top`: agents down, services
//!   failing or recovered with `why`'s answer, the latest stopped tasks.
//!
//! The CLI reads the sources (one window of the event log, one query of the fleet table) and
//! prints the [`Answer`]; nothing here does I/O.

mod alert;
mod board;
mod explain;
mod observe;

pub use alert::{Alert, Alerted};
pub use board::{board, AgentDown, Board, Stopped, Trouble};
pub use explain::{explain, Answer, Cause, CauseKind, Entry, Quote, Status};
pub use observe::{observe, Observation, Origin};

use serde::Serialize;

/// What `why` is asked about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// The cluster, by name or ARN.
    pub cluster: String,
    #[serde(flatten)]
    pub what: Target,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Target {
    /// A service, by name.
    Service(String),
    /// A task, by id (the last part of its ARN) or ARN.
    Task(String),
    /// A container instance: its EC2 instance id, its managed node id (`mi-…`), or its
    /// container instance id or ARN.
    Instance(String),
}

impl Subject {
    /// How the subject is called in a sentence: `service api in prod`.
    pub fn describe(&self) -> String {
        let cluster = self.cluster.rsplit('/').next().unwrap_or(&self.cluster);
        match &self.what {
            Target::Service(name) => format!("service {name} in {cluster}"),
            Target::Task(id) => format!("task {} in {cluster}", short(id)),
            Target::Instance(id) => format!("instance {} in {cluster}", short(id)),
        }
    }
}

/// The last part of an ARN (a task's or container instance's id); anything else as it is.
pub(crate) fn short(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}
