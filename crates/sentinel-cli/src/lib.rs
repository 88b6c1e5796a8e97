//! `ecs-sentinel`, the operator command line, as a library: each command is a function
//! that takes its flags as one struct ([`args`]), finds what it reads through [`locate`],
//! reads through the real AWS SDK and writes to any `Write`, so the tests run them
//! in-process against the AWS emulator. The binary only parses and dispatches. Never links
//! the emulator harness.
//!
//! - [`health`]: `health` (services, target groups, endpoints, certificate) and its state
//!   file ([`state`]); [`services`]: how services are read.
//! - [`logs_cmd`]: `logs pull|errors|diagnose|restarts|summary|auto-diagnose`.
//! - [`fleet_cmd`]: `fleet`, `tasks`; [`events_cmd`]: `events`; [`why_cmd`]: `why`;
//!   [`top_cmd`]: `top`.
//! - [`replay`]: `replay FILE` through the monitors; [`archive_cmd`]: `replay --from`.
//! - [`locate`]: the AWS configuration, stack outputs, tables, log groups, archive, state
//!   file and monitor settings, for every command.

pub mod alert_table;
pub mod archive_cmd;
pub mod args;
pub mod events_cmd;
pub mod fleet_cmd;
pub mod health;
pub mod locate;
pub mod logs_cmd;
pub mod progress;
pub mod render;
pub mod replay;
pub mod services;
pub mod state;
pub mod top_cmd;
pub mod why_cmd;
