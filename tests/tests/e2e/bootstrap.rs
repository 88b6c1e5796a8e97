//! The real `bootstrap` binary, run through the Lambda Runtime API: init, one SQS
//! batch in, the partial-batch response out, JSON logs with the request id, EMF metrics.

use integration_tests::runtime_api::{
    bootstrap_command, invoke_bootstrap, Posted, RuntimeApi, REQUEST_ID,
};
use integration_tests::World;
use std::collections::BTreeMap;

/// The function's environment for `world`, as the template would set it.
fn function_env(world: &World, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut env = BTreeMap::from([
        ("ALERT_TOPIC_ARN".to_owned(), world.stack.topic_arn.clone()),
        (
            "DEAD_LETTER_QUEUE_URL".to_owned(),
            world.stack.dead_letter_url.clone(),
        ),
        (
            "ALERT_TABLE_NAME".to_owned(),
            world.stack.table_name.clone(),
        ),
        ("RUST_LOG".to_owned(), "info".to_owned()),
    ]);
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
}

async fn invoke_once(world: &World, event: String) -> anyhow::Result<(Posted, String)> {
    invoke_bootstrap(world.emulator.endpoint(), &function_env(world, &[]), event)
}

#[tokio::test]
async fn bootstrap_answers_one_batch_through_the_runtime_api() -> anyhow::Result<()> {
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
async fn bootstrap_runs_the_sweep_for_the_schedules_payload() -> anyhow::Result<()> {
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
async fn bootstrap_refuses_a_bad_configuration_naming_the_variable() -> anyhow::Result<()> {
    let world = World::start().await?;
    let api = RuntimeApi::serve("{}".to_owned())?;
    let mut command = bootstrap_command(
        &api.address,
        world.emulator.endpoint(),
        &function_env(&world, &[("MONITOR_ALL_CLUSTERS", "sometimes")]),
    )?;
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
