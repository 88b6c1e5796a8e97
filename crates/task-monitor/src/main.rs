//! `task-monitor`: the task-monitor Lambda. Reads its configuration once at init, builds the
//! AWS clients once, then answers every SQS batch with a partial-batch response.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use task_monitor::{Clients, Config, TaskMonitor};

// One thread: a sandbox answers one invocation at a time, and its AWS calls overlap while
// they wait on the network, not the CPU; each worker thread more would cost its stack and
// its own allocator arena (the agent monitor's peak memory, issue 23).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (config, sdk) = sentinel_lambda::start(Config::from_env).await?;
    let monitor = TaskMonitor::new(Clients::from_sdk_config(&sdk), config);
    let monitor = &monitor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(monitor.handle(event.payload).await)
    }))
    .await
}
