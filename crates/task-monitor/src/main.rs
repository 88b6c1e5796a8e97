//! `task-monitor`: the task-monitor Lambda. Reads its configuration once at init, builds the
//! AWS clients once, then answers every SQS batch with a partial-batch response.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use task_monitor::{Clients, Config, TaskMonitor};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sentinel_lambda::logging::init();
    // A bad configuration fails init, so the deployment shows the error at once instead of
    // silently dropping alerts later.
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let sdk = sentinel_aws::sdk::from_env().await;
    let monitor = TaskMonitor::new(Clients::from_sdk_config(&sdk), config);
    let monitor = &monitor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(monitor.handle(event.payload).await)
    }))
    .await
}
