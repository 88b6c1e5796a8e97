//! `bootstrap`: the agent-monitor Lambda. Reads its configuration once at init, builds the AWS
//! clients once, then answers every SQS batch with a partial-batch response, and every
//! scheduled `{"sweep": {}}` with a sweep summary.

use agent_monitor::{Clients, Config, Monitor};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use sentinel_lambda::invocation::Invocation;
use serde_json::{json, Value};

// One thread: a sandbox answers one invocation at a time, and its AWS calls overlap while
// they wait on the network, not the CPU; each worker thread more would cost its stack and
// its own allocator arena (the agent monitor's peak memory, issue 23).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (config, sdk) = sentinel_lambda::start(Config::from_env).await?;
    let monitor = Monitor::new(Clients::from_sdk_config(&sdk), config)
        .inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let monitor = &monitor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        match Invocation::parse(event.payload, "sweep")? {
            Invocation::Batch(batch) => Ok::<Value, Error>(serde_json::to_value(monitor.handle(batch).await)?),
            Invocation::Scheduled => {
                let report = monitor.handle_sweep().await;
                if let Some((_, error)) = report.errors.iter().find(|(scope, _)| scope == "*") {
                    // Nothing was looked at: fail the invocation so it shows as an error.
                    return Err(format!("sweep could not start: {error}").into());
                }
                Ok(json!({
                    "clusters": report.gauges.len(),
                    "disconnectedAgents": report.gauges.iter().map(|g| g.disconnected).sum::<usize>(),
                    "alerts": report.published.len(),
                    "resolved": report.resolved.len(),
                    "errors": report.errors.len(),
                }))
            }
        }
    }))
    .await
}
