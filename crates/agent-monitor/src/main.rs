//! `bootstrap`: the agent-monitor Lambda. Reads its configuration once at init, builds the AWS
//! clients once, then answers every SQS batch with a partial-batch response.

use agent_monitor::{logging, Clients, Config, Monitor};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init_json();
    // A bad configuration fails init, so the deployment shows the error at once instead of
    // silently dropping alerts later.
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(agent_monitor::pipeline::aws_timeouts())
        .load()
        .await;
    let monitor = Monitor::new(Clients::from_sdk_config(&sdk), config)
        .inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let monitor = &monitor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(monitor.handle(event.payload).await)
    }))
    .await
}
