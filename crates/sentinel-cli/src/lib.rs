//! `ecs-sentinel`, the operator command line, as a library: each command reads through the
//! real AWS SDK and writes to any `Write`, so the tests run them in-process against the
//! AWS emulator. The binary is clap over these. Never links the emulator harness.

pub mod archive_cmd;
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
