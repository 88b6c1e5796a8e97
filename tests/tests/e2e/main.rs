//! End-to-end tests of the monitors against the AWS emulator harness, driven by the real
//! AWS SDK for Rust. Each test starts its own emulator on a free loopback port.

mod bootstrap;
mod cli;
mod cloudwatch_cbor;
mod code_map;
mod contract;
mod decisions;
mod deployed_stack;
mod episode_store;
mod event_flow;
mod faults;
mod fleet;
mod fuzz;
mod health;
mod lifecycle;
mod logs;
mod malformed;
mod published_shapes;
mod remediation;
mod round_trips;
mod storm;
mod sweep;
mod task_monitor;
mod why;
