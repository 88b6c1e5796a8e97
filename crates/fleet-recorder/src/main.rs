//! `fleet-recorder`: the fleet-recorder Lambda. Reads its configuration once at init, builds
//! the AWS clients once, then records every SQS batch of `aws.ecs` events (answering with a
//! partial-batch response) and runs the reconcile on the schedule's `{"reconcile": {}}`.

use fleet_recorder::{Clients, Config, FleetRecorder};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

// One thread: a sandbox answers one invocation at a time, and its AWS calls overlap while
// they wait on the network, not the CPU; each worker thread more would cost its stack and
// its own allocator arena (the agent monitor's peak memory, issue 23).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let (config, sdk) = sentinel_lambda::start(Config::from_env).await?;
    let recorder = FleetRecorder::new(Clients::from_sdk_config(&sdk), config);
    let recorder = &recorder;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        recorder.handle(event.payload).await.map_err(Error::from)
    }))
    .await
}
