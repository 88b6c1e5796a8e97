//! The task monitor's domain, pure: what an on-call engineer needs to know when tasks die.
//!
//! - [`event`]: "ECS Task State Change", "ECS Service Action" and "ECS Deployment State
//!   Change" events, typed; tolerant of what AWS adds or leaves out.
//! - [`classify`]: **why did this task stop, and is it worth a page?** — one function from
//!   an event to a failure kind, a reason it is not a failure, a Spot interruption, or a
//!   recovery.
//! - [`episode`]: one episode per service (or task family), on the kernel's notice
//!   lifecycle: [`episode::fold`] takes a batch's events of one service to what to store and
//!   send — one alert that counts the failures, reminders with the new count, one RESOLVED.
//! - [`message`]: the messages (subject, email text, JSON document, SNS attributes).
//! - [`metrics`]: metric names.
//!
//! No I/O, no runtime, no AWS SDK; the notice lifecycle is the kernel's
//! ([`sentinel_core::notice`]).

pub mod classify;
pub mod episode;
pub mod event;
pub mod message;
pub mod metrics;

pub use classify::{classify, FailureKind, NotAFailure, Recovery, Verdict};
pub use event::{parse_incoming, parse_task_event, Incoming, Owner, SpotNotice, TaskEvent};
