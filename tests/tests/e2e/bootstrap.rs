//! The real release `bootstrap` binary, run through the Lambda Runtime API: init, one SQS
//! batch in, the partial-batch response out, JSON logs with the request id, EMF metrics.

use integration_tests::runtime_api::{Posted, RuntimeApi, REQUEST_ID};
use integration_tests::World;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `make test` builds it first (`make release`); the path follows the test binary's target
/// directory, so a custom CARGO_TARGET_DIR works too.
fn release_bootstrap() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let target = exe
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "debug"))
        .and_then(|debug| debug.parent())
        .ok_or_else(|| {
            anyhow::anyhow!("cannot find the target directory from {}", exe.display())
        })?;
    let binary = target.join("release").join("bootstrap");
    anyhow::ensure!(
        binary.exists(),
        "{} is missing: run `make release` (make test does) before the tests",
        binary.display()
    );
    Ok(binary)
}

fn lambda_env(command: &mut Command, runtime_api: &str, world: &World) {
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "agent-monitor")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/agent-monitor")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/21/[$LATEST]0123")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", world.emulator.endpoint())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
}

/// Runs the release `bootstrap`, configured for `world`, for one invocation with `event`;
/// returns what it posted back to the Runtime API and its stdout.
async fn invoke_once(world: &World, event: String) -> anyhow::Result<(Posted, String)> {
    let binary = release_bootstrap()?;
    let api = RuntimeApi::serve(event)?;
    let mut command = Command::new(&binary);
    lambda_env(&mut command, &api.address, world);
    command
        .env("ALERT_TOPIC_ARN", &world.stack.topic_arn)
        .env("DEAD_LETTER_QUEUE_URL", &world.stack.dead_letter_url)
        .env("ALERT_TABLE_NAME", &world.stack.table_name)
        .env("RUST_LOG", "info");
    let mut child = command.spawn()?;
    let posted = api.next_post(Duration::from_secs(60));
    let _ = child.kill();
    let output = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let posted = posted.ok_or_else(|| {
        anyhow::anyhow!(
            "bootstrap posted nothing; stdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    assert_eq!(
        posted.path,
        format!("/2018-06-01/runtime/invocation/{REQUEST_ID}/response")
    );
    Ok((posted, stdout))
}

#[tokio::test]
async fn release_bootstrap_answers_one_batch_through_the_runtime_api() -> anyhow::Result<()> {
    let world = World::start().await?;
    let (_, mut bodies) = world.cluster_with_stopped_agents("alpha", &[], 1).await?;
    bodies.push("not json".to_owned());
    let records = integration_tests::records(&bodies);
    let event = serde_json::json!({ "Records": records }).to_string();
    let (posted, stdout) = invoke_once(&world, event).await?;

    let response: serde_json::Value = serde_json::from_str(&posted.body)?;
    assert_eq!(response, serde_json::json!({"batchItemFailures": []}));
    assert_eq!(world.stack.drain_inbox().await?.len(), 1);
    assert_eq!(world.stack.drain_dead_letters().await?.len(), 1);

    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        lines.iter().any(|l| l["_aws"]["CloudWatchMetrics"].is_array() && l["ECSAgentFailuresCount"] == 1.0),
        "no EMF line in:\n{stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "alert published"
                && l.to_string().contains(REQUEST_ID)),
        "no JSON log line with the request id in:\n{stdout}"
    );
    Ok(())
}

#[tokio::test]
async fn release_bootstrap_runs_the_sweep_for_the_schedules_payload() -> anyhow::Result<()> {
    let world = World::start().await?;
    world.cluster_with_stopped_agents("alpha", &[], 2).await?;
    let (posted, stdout) = invoke_once(&world, r#"{"sweep": {}}"#.to_owned()).await?;
    let response: serde_json::Value = serde_json::from_str(&posted.body)?;
    assert_eq!(
        response,
        serde_json::json!({"clusters": 1, "disconnectedAgents": 2, "alerts": 0, "resolved": 0, "errors": 0})
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("\"DisconnectedAgents\":2.0")
                && l.contains("\"ClusterName\":\"alpha\"")),
        "no gauge line in:\n{stdout}"
    );
    Ok(())
}

#[tokio::test]
async fn release_bootstrap_refuses_a_bad_configuration_naming_the_variable() -> anyhow::Result<()> {
    let binary = release_bootstrap()?;
    let world = World::start().await?;
    let api = RuntimeApi::serve("{}".to_owned())?;
    let mut command = Command::new(&binary);
    lambda_env(&mut command, &api.address, &world);
    command
        .env("ALERT_TOPIC_ARN", &world.stack.topic_arn)
        .env("DEAD_LETTER_QUEUE_URL", &world.stack.dead_letter_url)
        .env("ALERT_TABLE_NAME", &world.stack.table_name)
        .env("MONITOR_ALL_CLUSTERS", "sometimes");
    let output = command.spawn()?.wait_with_output()?;
    assert!(!output.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        all.contains("MONITOR_ALL_CLUSTERS=\\\"sometimes\\\" is invalid: expected true or false")
            || all
                .contains("MONITOR_ALL_CLUSTERS=\"sometimes\" is invalid: expected true or false"),
        "{all}"
    );
    Ok(())
}
