//! What every ecs-sentinel Lambda function shares, so a new function is its domain and a few
//! lines of wiring:
//!
//! - [`logging`]: tracing set up as Lambda's log settings ask (JSON or text, level).
//! - [`env`]: typed settings from environment variables; a bad value names its variable.
//! - [`invocation`]: an SQS batch, or the function's schedule payload.
//! - [`records`]: SQS records in, unusable ones parked in the dead-letter queue with their
//!   reason, and the partial-batch answer naming exactly the records to deliver again.
//! - [`emf`]: metric records written to stdout, where Lambda's log shipping turns them into
//!   CloudWatch metrics.
//! - [`notify`]: the `Notifier` port messages go through, wired to SNS.
//! - [`engine`]: the notice engine, the one protocol every monitor's notices follow (claim,
//!   publish, record or release; the owed RESOLVED), generic over the monitor's episodes.
//! - `testing` (feature `testing`): in-memory twins of the engine's ports and the fault
//!   exploration every monitor wired to the engine passes.
//! - [`batch`]: the batch handler the event source mapping drives (Lambda, or the demo's and
//!   tests' local stand-in in `dev/emulator`).

pub mod batch;
pub mod emf;
pub mod engine;
pub mod env;
pub mod invocation;
pub mod logging;
pub mod notify;
pub mod records;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use batch::BatchHandler;
pub use env::{ConfigError, Env};
pub use notify::Notifier;
pub use records::{batch_answer, parse_or_park, Parsed, Rejection};

/// The start-up every function shares: logging as Lambda's settings ask, the configuration
/// read once (a bad one fails init, logged with the variable it names, so a deployment
/// shows the error at once instead of silently dropping events later), and the one SDK
/// configuration, with the credentials and region Lambda puts in the environment.
pub async fn start<C, E: std::fmt::Display>(
    read_config: impl FnOnce() -> Result<C, E>,
) -> Result<(C, sentinel_aws::sdk::SdkConfig), E> {
    logging::init();
    let config =
        read_config().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    Ok((config, sentinel_aws::sdk::for_function().await))
}
