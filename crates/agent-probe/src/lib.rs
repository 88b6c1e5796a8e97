//! `ecs-agent-probe`: is the ECS agent on this instance alive? One look, one metric.
//!
//! Run every minute on each container instance (systemd timer or cron), it asks the agent's
//! introspection API on localhost and puts `AgentDown` = 0 (fine) or 1 (not working) into
//! CloudWatch, per instance and per cluster, needing only `cloudwatch:PutMetricData`. It sees
//! what ECS events cannot: an agent that is up but stuck, and instances whose disconnect
//! event was lost. Its own silence shows too: an alarm that treats missing data as breaching
//! catches a host where the probe itself stopped.
//!
//! The pieces, pure ones first:
//!
//! * [`agent`]: what the introspection answer means — up, or down with a distinct reason
//!   (not listening, stuck, HTTP status, not its metadata, not registered);
//! * [`ecs_config`]: `ECS_CLUSTER` from `/etc/ecs/ecs.config`, for the cluster of a down agent;
//! * [`ssm`]: the SSM agent's registration file, the identity of an ECS Anywhere host;
//! * [`datum`]: the datum a run reports, and its stable `--dry-run` JSON;
//! * [`install`]: the systemd units and cron entry that schedule the probe;
//! * at the edges: [`imds`] (IMDSv2), [`identity`] (IMDS, else the SSM registration),
//!   [`systemd`] (`systemctl is-active`, informational), [`cloudwatch`] (the one
//!   PutMetricData call, [`report`]);
//! * [`run`]: one whole run of the command line, in-process; the binary is a thin `main`.
//!
//! Exit codes: [`EXIT_UP`] 0, [`EXIT_DOWN`] 1, [`EXIT_COULD_NOT_REPORT`] 2.

pub mod agent;
mod cli;
pub mod cloudwatch;
pub mod datum;
pub mod ecs_config;
pub mod identity;
pub mod imds;
pub mod install;
pub mod ssm;
pub mod systemd;

#[cfg(test)]
mod testutil;

pub use agent::{assess, AgentHealth, AgentMetadata, DownCause};
pub use cli::{
    parse_duration, run, Env, DEFAULT_ECS_CONFIG, DEFAULT_INTROSPECTION_URL, EXIT_COULD_NOT_REPORT,
    EXIT_DOWN, EXIT_UP,
};
pub use cloudwatch::{datum_to_input, report, ReportError};
pub use datum::{Datum, Subject, DEFAULT_NAMESPACE, METRIC_NAME};
