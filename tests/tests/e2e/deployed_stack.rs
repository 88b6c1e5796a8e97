//! The stack as CloudFormation deploys it: `template.yaml` expanded by the SAM translator
//! (`deploy/expand_template.py`), created by the emulator's CloudFormation without the
//! resource types it cannot create (`sentinel_emulator::deploy::EMULATOR_CANNOT_CREATE`),
//! then one ECS event carried through the deployed rule, delay queue, function settings and
//! topic; and the encrypted variant publishing to an existing topic. The emulator runs Lambda
//! code only in Docker, so the test plays the event source mapping's part: it receives the
//! batch from the deployed queue and hands it to the `bootstrap`, started with the
//! deployed function's own environment.

use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use integration_tests::runtime_api::{invoke, Function};
use integration_tests::World;
use sentinel_emulator::deploy::{self, EMULATOR_CANNOT_CREATE};
use sentinel_emulator::stack::Stack;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// SDK errors with their cause chain (the service's code and message), not just "service error".
trait Explain<T> {
    fn explain(self) -> anyhow::Result<T>;
}

impl<T, E: std::error::Error> Explain<T> for Result<T, E> {
    fn explain(self) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::anyhow!("{}", aws_sdk_sqs::error::DisplayErrorContext(&e)))
    }
}

const CODE_BUCKET: &str = "ecs-sentinel-artifacts";
/// The folder `make package`'s zips are uploaded to, one per function.
const CODE_FOLDER: &str = "ecs-sentinel/0.1.0";
const FUNCTION_ZIPS: [(&str, &str); 3] = [
    ("AgentMonitorFunction", "agent-monitor.zip"),
    ("TaskMonitorFunction", "task-monitor.zip"),
    ("FleetRecorderFunction", "fleet-recorder.zip"),
];

/// One stack as CloudFormation reports it.
struct Deployed {
    outputs: BTreeMap<String, String>,
    /// Logical id → physical id.
    resources: BTreeMap<String, String>,
}

impl Deployed {
    fn output(&self, name: &str) -> anyhow::Result<&str> {
        self.outputs
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| anyhow::anyhow!("the stack has no output {name}: {:?}", self.outputs))
    }

    /// The deployed stack's topic, dead-letter queue and table, with an inbox subscribed.
    async fn adopt(&self, world: &World, name: &str) -> anyhow::Result<Stack> {
        Ok(Stack::adopt(
            &world.sdk,
            name,
            self.output("AlertTopicArn")?.to_owned(),
            self.output("DeadLetterQueueUrl")?.to_owned(),
            self.output("AlertTableName")?.to_owned(),
        )
        .await?)
    }

    fn resource(&self, logical_id: &str) -> anyhow::Result<&str> {
        self.resources
            .get(logical_id)
            .map(String::as_str)
            .ok_or_else(|| anyhow::anyhow!("the stack has no resource {logical_id}"))
    }
}

async fn create_stack(
    cloudformation: &aws_sdk_cloudformation::Client,
    name: &str,
    template: &Value,
    parameters: &[(&str, &str)],
) -> anyhow::Result<Deployed> {
    cloudformation
        .create_stack()
        .stack_name(name)
        .template_body(template.to_string())
        .capabilities(Capability::CapabilityIam)
        .set_parameters(Some(
            parameters
                .iter()
                .map(|(k, v)| {
                    Parameter::builder()
                        .parameter_key(*k)
                        .parameter_value(*v)
                        .build()
                })
                .collect(),
        ))
        .send()
        .await
        .explain()?;
    // The emulator creates stacks synchronously; the loop is for an emulator that does not.
    let mut stack = None;
    for _ in 0..120 {
        let described = cloudformation
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .explain()?;
        let current = described.stacks().first().cloned();
        let settled = current
            .as_ref()
            .and_then(|s| s.stack_status())
            .is_some_and(|s| !s.as_str().ends_with("IN_PROGRESS"));
        stack = current;
        if settled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let stack = stack.ok_or_else(|| anyhow::anyhow!("stack {name} not found after CreateStack"))?;
    anyhow::ensure!(
        stack.stack_status() == Some(&StackStatus::CreateComplete),
        "stack {name} ended {:?}: {:?}",
        stack.stack_status(),
        stack.stack_status_reason()
    );
    let outputs = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    let resources = cloudformation
        .list_stack_resources()
        .stack_name(name)
        .send()
        .await
        .explain()?
        .stack_resource_summaries()
        .iter()
        .filter_map(|r| {
            Some((
                r.logical_resource_id()?.to_owned(),
                r.physical_resource_id()?.to_owned(),
            ))
        })
        .collect();
    Ok(Deployed { outputs, resources })
}

/// The deployed function's environment variables, timeout (seconds) and role ARN, once it is
/// seen to log JSON at the stack's level.
async fn function_settings(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> anyhow::Result<(BTreeMap<String, String>, i32, String)> {
    let configuration = lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .explain()?;
    // Every function logs JSON at the stack's level (LogLevel, INFO by default): the saved
    // queries and the dashboard read its JSON fields.
    let logging = configuration.logging_config();
    anyhow::ensure!(
        logging.and_then(|l| l.log_format()) == Some(&aws_sdk_lambda::types::LogFormat::Json)
            && logging.and_then(|l| l.application_log_level())
                == Some(&aws_sdk_lambda::types::ApplicationLogLevel::Info),
        "{name} does not log JSON at INFO: {logging:?}"
    );
    let environment: BTreeMap<String, String> = configuration
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok((
        environment,
        configuration.timeout().unwrap_or_default(),
        configuration.role().unwrap_or_default().to_owned(),
    ))
}

async fn queue_attributes(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    Ok(sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .explain()?
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect()
        })
        .unwrap_or_default())
}

/// A function role's inline policy (`AgentMonitor`, `TaskMonitor`), as IAM reports it.
async fn role_policy(iam: &aws_sdk_iam::Client, role: &str, policy: &str) -> anyhow::Result<Value> {
    let document = iam
        .get_role_policy()
        .role_name(role)
        .policy_name(policy)
        .send()
        .await
        .explain()?
        .policy_document()
        .to_owned();
    // IAM answers URL-encoded JSON.
    let document = percent_encoding::percent_decode_str(&document).decode_utf8()?;
    serde_json::from_str(&document).map_err(|e| anyhow::anyhow!("{e}: {document}"))
}

/// The Sids of a policy's statements.
fn sids(policy: &Value) -> BTreeSet<String> {
    policy["Statement"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|s| s["Sid"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// How many messages wait visible on the queue.
async fn waiting(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<u64> {
    Ok(queue_attributes(sqs, url).await?["ApproximateNumberOfMessages"].parse()?)
}

/// What an SQS event source mapping would hand the function: the messages waiting on the
/// queue, as Lambda's SQS records. Waits up to a few seconds for the first.
async fn receive_batch(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    queue_arn: &str,
) -> anyhow::Result<(Vec<Value>, Vec<String>)> {
    let mut records = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..3 {
        let received = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .explain()?;
        for message in received.messages() {
            let attributes: BTreeMap<String, String> = message
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            records.push(json!({
                "messageId": message.message_id(),
                "receiptHandle": message.receipt_handle(),
                "body": message.body(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": message.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }));
            handles.extend(message.receipt_handle().map(str::to_owned));
        }
        if !records.is_empty() {
            break;
        }
    }
    Ok((records, handles))
}

/// Plays the event source mapping for one batch received from `queue_url`: hands it to
/// `function`'s binary (test profile) with the deployed function's `environment`, checks
/// the answer names no failures, and deletes the batch as Lambda does. Returns the
/// function's stdout.
async fn deliver(
    world: &World,
    sqs: &aws_sdk_sqs::Client,
    function: Function,
    environment: &BTreeMap<String, String>,
    queue_url: &str,
    (records, handles): (Vec<Value>, Vec<String>),
) -> anyhow::Result<String> {
    let event = json!({ "Records": records }).to_string();
    let (posted, stdout) = invoke(function, world.emulator.endpoint(), environment, event)?;
    let response: Value = serde_json::from_str(&posted.body)?;
    assert_eq!(
        response,
        json!({"batchItemFailures": []}),
        "stdout:\n{stdout}"
    );
    // Lambda deletes a batch the function answered without failures.
    for handle in handles {
        sqs.delete_message()
            .queue_url(queue_url)
            .receipt_handle(handle)
            .send()
            .await
            .explain()?;
    }
    Ok(stdout)
}

/// `template.yaml` as the emulator's CloudFormation can take it: the code zip uploaded (a
/// placeholder: the emulator never runs it), the template expanded, and the resources it
/// cannot create removed — exactly the documented ones.
async fn emulator_template(world: &World) -> anyhow::Result<Value> {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&world.sdk)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket(CODE_BUCKET)
        .send()
        .await
        .explain()?;
    // The code itself never runs in the emulator; Lambda only needs the objects to exist.
    for (_, zip) in FUNCTION_ZIPS {
        s3.put_object()
            .bucket(CODE_BUCKET)
            .key(format!("{CODE_FOLDER}/{zip}"))
            .body(
                b"placeholder for the zip `make package` builds"
                    .to_vec()
                    .into(),
            )
            .send()
            .await
            .explain()?;
    }

    let expanded = deploy::expand(&format!("s3://{CODE_BUCKET}/{CODE_FOLDER}"))?;
    assert!(
        expanded.get("Transform").is_none(),
        "the translator left a Transform in the template"
    );
    for (logical_id, zip) in FUNCTION_ZIPS {
        let function = &expanded["Resources"][logical_id];
        assert_eq!(function["Type"], "AWS::Lambda::Function");
        assert_eq!(
            function["Properties"]["Code"],
            json!({"S3Bucket": CODE_BUCKET, "S3Key": format!("{CODE_FOLDER}/{zip}")})
        );
    }

    let pruned = deploy::prune_for_emulator(expanded);
    let removed_types: BTreeSet<&str> = pruned
        .removed_resources
        .values()
        .map(String::as_str)
        .collect();
    let mut expected_types: BTreeSet<&str> =
        EMULATOR_CANNOT_CREATE.iter().map(|(t, _)| *t).collect();
    // Only through the alarms its body lists.
    expected_types.insert("AWS::CloudWatch::Dashboard");
    assert_eq!(
        removed_types, expected_types,
        "the resources left out for the emulator changed: {:?}",
        pruned.removed_resources
    );
    assert_eq!(
        pruned.removed_outputs,
        BTreeSet::from([
            "ChatCustomActionArns".to_owned(),
            "DashboardUrl".to_owned(),
            "SlackChannelConfigurationArn".to_owned(),
            "SweepScheduleName".to_owned(),
        ])
    );

    Ok(pruned.template)
}

#[tokio::test]
async fn the_expanded_template_deploys_and_carries_a_disconnect_from_rule_to_topic(
) -> anyhow::Result<()> {
    let world = World::start().await?;
    let template = emulator_template(&world).await?;

    // Two stacks in one account, one per team: nothing in the template may have a fixed
    // physical name. Team B has monitoring switched off.
    let cloudformation = aws_sdk_cloudformation::Client::new(&world.sdk);
    let team_a = create_stack(
        &cloudformation,
        "sentinel-team-a",
        &template,
        &[
            ("GracePeriodSeconds", "0"),
            ("MonitorAllClusters", "false"),
            ("MonitoringTagValue", "team-a"),
        ],
    )
    .await?;
    let team_b = create_stack(
        &cloudformation,
        "sentinel-team-b",
        &template,
        &[
            ("EnableMonitoring", "false"),
            ("MonitorAllClusters", "false"),
            ("MonitoringTagValue", "team-b"),
        ],
    )
    .await?;

    // Wiring CloudFormation produced.
    let events = aws_sdk_eventbridge::Client::new(&world.sdk);
    for (team, expected) in [(&team_a, "ENABLED"), (&team_b, "DISABLED")] {
        for rule in [
            "AgentDisconnectedRule",
            "AgentReconnectedRule",
            "InstanceDeregisteredRule",
            "TaskStoppedRule",
            "SpotInterruptionRule",
            "ServiceActionRule",
            "DeploymentRule",
        ] {
            let described = events
                .describe_rule()
                .name(team.resource(rule)?)
                .send()
                .await
                .explain()?;
            assert_eq!(
                described.state().map(|s| s.as_str()),
                Some(expected),
                "{rule}"
            );
        }
    }
    let lambda = aws_sdk_lambda::Client::new(&world.sdk);
    let function_name = team_a.output("FunctionName")?;
    let (environment, timeout, role) = function_settings(&lambda, function_name).await?;
    let variable = |name: &str| environment.get(name).map(String::as_str);
    assert_eq!(
        variable("ALERT_TOPIC_ARN"),
        Some(team_a.output("AlertTopicArn")?)
    );
    assert_eq!(
        variable("DEAD_LETTER_QUEUE_URL"),
        Some(team_a.output("DeadLetterQueueUrl")?)
    );
    assert_eq!(
        variable("ALERT_TABLE_NAME"),
        Some(team_a.output("AlertTableName")?)
    );
    assert_eq!(variable("MONITORING_TAG_VALUE"), Some("team-a"));
    assert_eq!(
        variable("CHAT_TOPIC_ARN"),
        Some(""),
        "chat is off by default"
    );
    assert!(!team_a.resources.contains_key("ChatTopic"));
    assert!(
        role.ends_with(&format!("/{}", team_a.resource("AgentMonitorRole")?)),
        "the function runs as {role}, not the stack's AgentMonitorRole"
    );
    let iam = aws_sdk_iam::Client::new(&world.sdk);
    let granted =
        sids(&role_policy(&iam, team_a.resource("AgentMonitorRole")?, "AgentMonitor").await?);
    assert!(granted.contains("ConsumeOwnQueues") && granted.contains("WriteOwnLogs"));
    assert!(
        !granted.contains("UseStackKeyThroughServices"),
        "a key statement without EnableEncryption"
    );

    let sqs = aws_sdk_sqs::Client::new(&world.sdk);
    let delay_url = team_a.output("DelayQueueUrl")?;
    let dead_letter = queue_attributes(&sqs, team_a.output("DeadLetterQueueUrl")?).await?;
    // Output name → the queue's ARN.
    let mut queue_arns = BTreeMap::new();
    for output in ["DelayQueueUrl", "RecoveryQueueUrl"] {
        let attributes = queue_attributes(&sqs, team_a.output(output)?).await?;
        let visibility: i32 = attributes["VisibilityTimeout"].parse()?;
        assert!(
            visibility >= 6 * timeout,
            "{output}: visibility timeout {visibility} s is under six times the function's {timeout} s"
        );
        let redrive: Value = serde_json::from_str(&attributes["RedrivePolicy"])?;
        assert_eq!(
            redrive["deadLetterTargetArn"].as_str(),
            Some(dead_letter["QueueArn"].as_str())
        );
        queue_arns.insert(output, attributes["QueueArn"].clone());
    }
    let mappings = lambda
        .list_event_source_mappings()
        .function_name(function_name)
        .send()
        .await
        .explain()?;
    let mapped: BTreeSet<String> = mappings
        .event_source_mappings()
        .iter()
        .filter_map(|m| m.event_source_arn().map(str::to_owned))
        .collect();
    assert_eq!(mapped, queue_arns.values().cloned().collect());
    for mapping in mappings.event_source_mappings() {
        assert!(
            mapping
                .function_response_types()
                .iter()
                .any(|t| t.as_str() == "ReportBatchItemFailures"),
            "{:?} does not report batch item failures",
            mapping.event_source_arn()
        );
        assert!(
            mapping
                .maximum_batching_window_in_seconds()
                .unwrap_or_default()
                > 0
        );
        assert_eq!(
            mapping
                .scaling_config()
                .and_then(|c| c.maximum_concurrency()),
            Some(2)
        );
    }

    // One agent stops in a cluster of team A's; ECS sends the event to the default bus.
    let deployed = team_a.adopt(&world, "sentinel-team-a").await?;
    let (members, bodies) = world
        .cluster_with_stopped_agents("payments", &[("ecs-agent-monitoring", "team-a")], 1)
        .await?;
    let sent: Vec<Value> = bodies
        .iter()
        .map(|b| serde_json::from_str(b))
        .collect::<Result<_, _>>()?;
    deployed.put_events(&sent).await?;

    let (records, handles) = receive_batch(&sqs, delay_url, &queue_arns["DelayQueueUrl"]).await?;
    assert_eq!(records.len(), 1, "the deployed rule delivered {records:?}");
    // Team B's rules are DISABLED (checked above). moto ignores a rule's State and would
    // deliver to team B's queue too, so what a disabled rule does is AWS's to prove.

    let stdout = deliver(
        &world,
        &sqs,
        Function::AgentMonitor,
        &environment,
        delay_url,
        (records, handles),
    )
    .await?;

    let alerts = deployed.drain_inbox().await?;
    assert_eq!(alerts.len(), 1, "stdout:\n{stdout}");
    assert_eq!(
        integration_tests::nodes_in(&alerts[0].document),
        vec![members[0].node_id.clone()]
    );
    assert!(
        alerts[0].subject.contains("payments"),
        "{}",
        alerts[0].subject
    );
    assert!(deployed.drain_dead_letters().await?.is_empty());
    let episodes = aws_sdk_dynamodb::Client::new(&world.sdk)
        .scan()
        .table_name(team_a.output("AlertTableName")?)
        .send()
        .await
        .explain()?;
    assert_eq!(
        episodes.count(),
        1,
        "one open episode in the deployed table"
    );

    // The task monitor: the same cluster's service crash-loops. The deployed TaskStoppedRule
    // carries the stop to TaskQueue, and the `task-monitor` binary, started with the deployed
    // function's environment, pages the shared topic.
    carry_a_stopped_task_to_the_topic(&world, &team_a, &deployed, &lambda, &iam, &sqs).await
}

async fn carry_a_stopped_task_to_the_topic(
    world: &World,
    team: &Deployed,
    deployed: &Stack,
    lambda: &aws_sdk_lambda::Client,
    iam: &aws_sdk_iam::Client,
    sqs: &aws_sdk_sqs::Client,
) -> anyhow::Result<()> {
    let function_name = team.output("TaskMonitorFunctionName")?;
    let (environment, timeout, role) = function_settings(lambda, function_name).await?;
    let variable = |name: &str| environment.get(name).map(String::as_str);
    assert_eq!(
        variable("DEAD_LETTER_QUEUE_URL"),
        Some(team.output("TaskDeadLetterQueueUrl")?),
        "the task monitor parks in its own dead-letter queue"
    );
    assert_eq!(
        variable("ALERT_TABLE_NAME"),
        Some(team.output("AlertTableName")?)
    );
    assert_eq!(variable("MONITORING_TAG_VALUE"), Some("team-a"));
    assert!(
        role.ends_with(&format!("/{}", team.resource("TaskMonitorRole")?)),
        "the task monitor runs as {role}, not the stack's TaskMonitorRole"
    );
    let granted = sids(&role_policy(iam, team.resource("TaskMonitorRole")?, "TaskMonitor").await?);
    assert!(
        granted.contains("ReadContainerLogTails") && granted.contains("TaskEpisodeState"),
        "{granted:?}"
    );
    let task_url = team.output("TaskQueueUrl")?;
    let attributes = queue_attributes(sqs, task_url).await?;
    let visibility: i32 = attributes["VisibilityTimeout"].parse()?;
    assert!(visibility >= 6 * timeout);
    let dead_letter = queue_attributes(sqs, team.output("TaskDeadLetterQueueUrl")?).await?;
    let redrive: Value = serde_json::from_str(&attributes["RedrivePolicy"])?;
    assert_eq!(
        redrive["deadLetterTargetArn"].as_str(),
        Some(dead_letter["QueueArn"].as_str())
    );
    let task_arn = attributes["QueueArn"].clone();
    let mappings = lambda
        .list_event_source_mappings()
        .function_name(function_name)
        .send()
        .await
        .explain()?;
    let mapped: Vec<&str> = mappings
        .event_source_mappings()
        .iter()
        .filter_map(|m| m.event_source_arn())
        .collect();
    assert_eq!(mapped, [task_arn.as_str()]);

    let mut stop = sentinel_tasks::event::fixtures::stopped_task(json!({
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/payments",
        "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/payments/0123456789abcdef0123456789abcdef",
    }));
    stop["time"] = json!(chrono::Utc::now().to_rfc3339());
    deployed.put_events(&[stop]).await?;
    let (records, handles) = receive_batch(sqs, task_url, &task_arn).await?;
    assert_eq!(
        records.len(),
        1,
        "the deployed task rule delivered {records:?}"
    );
    let stdout = deliver(
        world,
        sqs,
        Function::TaskMonitor,
        &environment,
        task_url,
        (records, handles),
    )
    .await?;
    let alerts = deployed.drain_inbox().await?;
    assert_eq!(alerts.len(), 1, "stdout:\n{stdout}");
    assert_eq!(alerts[0].attributes["monitor"]["Value"], "tasks");
    assert_eq!(
        alerts[0].subject, "[HIGH] api in payments: 1 task failed - container-exit",
        "stdout:\n{stdout}"
    );
    Ok(())
}

#[tokio::test]
async fn the_encrypted_variant_deploys_and_publishes_to_an_existing_topic() -> anyhow::Result<()> {
    let world = World::start().await?;
    let template = emulator_template(&world).await?;
    // A team's own topic, which the stack publishes to instead of creating one.
    let existing_topic = aws_sdk_sns::Client::new(&world.sdk)
        .create_topic()
        .name("platform-alerts")
        .send()
        .await
        .explain()?
        .topic_arn()
        .unwrap_or_default()
        .to_owned();
    let cloudformation = aws_sdk_cloudformation::Client::new(&world.sdk);
    let stack = create_stack(
        &cloudformation,
        "sentinel-encrypted",
        &template,
        &[
            ("EnableEncryption", "true"),
            (
                "KmsAdminArn",
                "arn:aws:iam::123456789012:role/platform-deployer",
            ),
            ("ExistingAlertTopicArn", &existing_topic),
            ("RemediationAction", "drain"),
            ("ChatNotifications", "Enabled"),
            ("AgentProbePolicy", "Enabled"),
        ],
    )
    .await?;

    for created in ["EncryptionKey", "EncryptionKeyAlias"] {
        stack.resource(created)?;
    }
    assert!(
        !stack.resources.contains_key("AlertTopic"),
        "a topic was created although ExistingAlertTopicArn is set"
    );
    assert_eq!(stack.output("AlertTopicArn")?, existing_topic);
    let key_arn = stack.output("EncryptionKeyArn")?;

    let lambda = aws_sdk_lambda::Client::new(&world.sdk);
    let (environment, _, _) = function_settings(&lambda, stack.output("FunctionName")?).await?;
    let variable = |name: &str| environment.get(name).map(String::as_str);
    let iam = aws_sdk_iam::Client::new(&world.sdk);
    assert_eq!(variable("ALERT_TOPIC_ARN"), Some(existing_topic.as_str()));
    assert_eq!(variable("REMEDIATION_ACTION"), Some("drain"));

    // Chat on: the chat topic, encrypted like the rest, named to both notifying functions,
    // which may publish to it; the fleet recorder sends no notifications and is not told.
    let chat_topic = stack.output("ChatTopicArn")?;
    let chat_attributes = aws_sdk_sns::Client::new(&world.sdk)
        .get_topic_attributes()
        .topic_arn(chat_topic)
        .send()
        .await
        .explain()?;
    assert_eq!(
        chat_attributes
            .attributes()
            .and_then(|a| a.get("KmsMasterKeyId"))
            .map(String::as_str),
        Some(key_arn)
    );
    assert_eq!(variable("CHAT_TOPIC_ARN"), Some(chat_topic));
    let (task_environment, _, _) =
        function_settings(&lambda, stack.output("TaskMonitorFunctionName")?).await?;
    assert_eq!(
        task_environment.get("CHAT_TOPIC_ARN").map(String::as_str),
        Some(chat_topic)
    );
    for (role, policy) in [
        ("AgentMonitorRole", "AgentMonitor"),
        ("TaskMonitorRole", "TaskMonitor"),
    ] {
        let document = role_policy(&iam, stack.resource(role)?, policy).await?;
        let publish = document["Statement"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["Sid"] == "PublishAlerts"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            publish["Resource"],
            json!([existing_topic, chat_topic]),
            "{role} publishes to the alert topic and the chat topic"
        );
    }
    let granted =
        sids(&role_policy(&iam, stack.resource("AgentMonitorRole")?, "AgentMonitor").await?);
    for expected in ["UseStackKeyThroughServices", "RemediateDrain"] {
        assert!(
            granted.contains(expected),
            "{expected} missing from {granted:?}"
        );
    }

    let sqs = aws_sdk_sqs::Client::new(&world.sdk);
    for output in ["DelayQueueUrl", "RecoveryQueueUrl", "DeadLetterQueueUrl"] {
        let attributes = queue_attributes(&sqs, stack.output(output)?).await?;
        assert_eq!(
            attributes.get("KmsMasterKeyId").map(String::as_str),
            Some(key_arn),
            "{output}"
        );
    }
    // The agent probe's policy: PutMetricData into the probe's namespace, nothing else.
    let policy_arn = stack.output("AgentProbePolicyArn")?;
    let policy = iam
        .get_policy()
        .policy_arn(policy_arn)
        .send()
        .await
        .explain()?;
    let version = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .unwrap_or("v1")
        .to_owned();
    let document = iam
        .get_policy_version()
        .policy_arn(policy_arn)
        .version_id(version)
        .send()
        .await
        .explain()?;
    let text = document
        .policy_version()
        .and_then(|v| v.document())
        .unwrap_or_default();
    let text = percent_encoding::percent_decode_str(text).decode_utf8()?;
    let document: Value = serde_json::from_str(&text)?;
    assert_eq!(
        document["Statement"],
        json!([{
            "Sid": "PutAgentProbeMetric", "Effect": "Allow", "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "ECS/AgentProbe"}}
        }])
    );

    // The table's encryption, TTL and point-in-time recovery are not checked here: moto's
    // CloudFormation does not apply a table's SSESpecification, TimeToLiveSpecification or
    // PointInTimeRecoverySpecification (dev/emulator/harness/README.md). checkov checks the
    // template's point-in-time recovery; the rest is plain template review.
    Ok(())
}

/// The function role's policy as deployed, one stack per remediation action: each action's
/// statement exists only when that action is selected, no Allow statement names a wildcard
/// action, and `Resource: "*"` appears only for read-only actions that have no resource-level
/// permissions.
#[tokio::test]
async fn each_remediation_action_gets_its_permissions_and_only_those() -> anyhow::Result<()> {
    const NO_RESOURCE_LEVEL: &[&str] = &[
        "ecs:ListClusters",
        "ec2:DescribeInstances",
        "ssm:DescribeInstanceInformation",
        "autoscaling:DescribeAutoScalingInstances",
    ];
    let world = World::start().await?;
    let template = emulator_template(&world).await?;
    let cloudformation = aws_sdk_cloudformation::Client::new(&world.sdk);
    let iam = aws_sdk_iam::Client::new(&world.sdk);
    for (action, expected) in [
        ("none", vec![]),
        ("restart-agent", vec!["RemediateRestartAgent"]),
        ("drain", vec!["RemediateDrain"]),
        ("reboot", vec!["RemediateReboot"]),
        (
            "replace",
            vec!["RemediateReplaceFindGroup", "RemediateReplaceTerminate"],
        ),
    ] {
        let stack = create_stack(
            &cloudformation,
            &format!("sentinel-{action}"),
            &template,
            &[("RemediationAction", action)],
        )
        .await?;
        let policy = role_policy(&iam, stack.resource("AgentMonitorRole")?, "AgentMonitor").await?;
        let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
        assert!(
            !statements.is_empty(),
            "{action}: no statements in {policy}"
        );

        let remediation_sids: Vec<&str> = statements
            .iter()
            .filter_map(|s| s["Sid"].as_str())
            .filter(|sid| sid.starts_with("Remediate"))
            .collect();
        assert_eq!(remediation_sids, expected, "{action}");

        let as_list = |v: &Value| -> Vec<String> {
            match v {
                Value::String(one) => vec![one.clone()],
                Value::Array(many) => many
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            }
        };
        for statement in &statements {
            assert_eq!(statement["Effect"], "Allow", "{statement}");
            let actions = as_list(&statement["Action"]);
            assert!(!actions.is_empty(), "{action}: {statement}");
            for name in &actions {
                assert!(
                    !name.contains('*'),
                    "{action}: wildcard action in {statement}"
                );
            }
            if as_list(&statement["Resource"]).iter().any(|r| r == "*") {
                for name in &actions {
                    assert!(
                        NO_RESOURCE_LEVEL.contains(&name.as_str()),
                        "{action}: {name} is granted on every resource"
                    );
                }
            }
        }
    }
    Ok(())
}

/// The archive half of the stack, deployed: every ECS event lands in the event log group
/// (through the deployed rule and resource policy) and in the EventBridge archive; a replay
/// of the archive reaches no monitor's queue and is not logged twice.
#[tokio::test]
async fn the_event_archive_logs_every_event_and_a_replay_pages_no_one() -> anyhow::Result<()> {
    let world = World::start().await?;
    let template = emulator_template(&world).await?;
    let cloudformation = aws_sdk_cloudformation::Client::new(&world.sdk);
    let stack = create_stack(&cloudformation, "sentinel-archive", &template, &[]).await?;
    let deployed = stack.adopt(&world, "sentinel-archive").await?;
    let log_group = stack.output("EventLogGroupName")?;
    assert_eq!(log_group, "/aws/events/sentinel-archive/ecs");

    let mut stop = sentinel_tasks::event::fixtures::stopped_task(json!({}));
    stop["time"] = json!(chrono::Utc::now().to_rfc3339());
    let task_arn = stop["detail"]["taskArn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let started = chrono::Utc::now();
    deployed.put_events(&[stop]).await?;

    let logs = aws_sdk_cloudwatchlogs::Client::new(&world.sdk);
    let logged = || async {
        let events = logs
            .filter_log_events()
            .log_group_name(log_group)
            .send()
            .await
            .explain()?;
        anyhow::Ok(
            events
                .events()
                .iter()
                .filter_map(|e| e.message())
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        )
    };
    let first = logged().await?;
    assert_eq!(first.len(), 1, "{first:?}");
    let event: Value = serde_json::from_str(&first[0])?;
    assert_eq!(event["detail"]["taskArn"], task_arn.as_str());

    let sqs = aws_sdk_sqs::Client::new(&world.sdk);
    let task_url = stack.output("TaskQueueUrl")?;
    assert_eq!(
        waiting(&sqs, task_url).await?,
        1,
        "the stop reached the task queue"
    );
    let fleet_url = stack.output("FleetQueueUrl")?;
    assert_eq!(
        waiting(&sqs, fleet_url).await?,
        1,
        "the stop reached the fleet queue"
    );
    record_the_fleet_queue(&world, &stack, &sqs, 1).await?;

    // Replay the archive onto the default bus.
    let events = aws_sdk_eventbridge::Client::new(&world.sdk);
    let archive = events
        .describe_archive()
        .archive_name(stack.output("EventArchiveName")?)
        .send()
        .await
        .explain()?;
    assert_eq!(archive.retention_days(), Some(30));
    assert_eq!(archive.event_count(), 1, "the archive kept the stop");
    events
        .start_replay()
        .replay_name("after-the-incident")
        .set_event_source_arn(archive.archive_arn().map(str::to_owned))
        .event_start_time(aws_sdk_eventbridge::primitives::DateTime::from_secs(
            (started - chrono::TimeDelta::minutes(5)).timestamp(),
        ))
        .event_end_time(aws_sdk_eventbridge::primitives::DateTime::from_secs(
            (chrono::Utc::now() + chrono::TimeDelta::minutes(5)).timestamp(),
        ))
        .destination(
            aws_sdk_eventbridge::types::ReplayDestination::builder()
                .arn("arn:aws:events:us-east-1:123456789012:event-bus/default")
                .build()?,
        )
        .send()
        .await
        .explain()?;
    let mut state = None;
    for _ in 0..40 {
        let replay = events
            .describe_replay()
            .replay_name("after-the-incident")
            .send()
            .await
            .explain()?;
        state = replay.state().cloned();
        if state == Some(aws_sdk_eventbridge::types::ReplayState::Completed) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        state,
        Some(aws_sdk_eventbridge::types::ReplayState::Completed)
    );
    assert_eq!(
        waiting(&sqs, task_url).await?,
        1,
        "a replayed stop must not reach the task monitor"
    );
    assert_eq!(
        logged().await?.len(),
        1,
        "a replayed event is not logged twice"
    );
    // The fleet recorder takes replays: they rebuild state (here: the same state, stale).
    record_the_fleet_queue(&world, &stack, &sqs, 0).await?;
    Ok(())
}

/// Hands the deployed fleet queue's batch to the `fleet-recorder` binary, started with the
/// deployed function's environment, as the event source mapping would; checks it wrote
/// `written` records and that the stop is in the deployed fleet table.
async fn record_the_fleet_queue(
    world: &World,
    stack: &Deployed,
    sqs: &aws_sdk_sqs::Client,
    written: usize,
) -> anyhow::Result<()> {
    let lambda = aws_sdk_lambda::Client::new(&world.sdk);
    let (environment, _, role) =
        function_settings(&lambda, stack.output("FleetRecorderFunctionName")?).await?;
    assert_eq!(
        environment.get("FLEET_TABLE_NAME").map(String::as_str),
        Some(stack.output("FleetTableName")?)
    );
    assert!(role.ends_with(&format!("/{}", stack.resource("FleetRecorderRole")?)));
    let url = stack.output("FleetQueueUrl")?;
    let arn = queue_attributes(sqs, url).await?["QueueArn"].clone();
    let (records, handles) = receive_batch(sqs, url, &arn).await?;
    assert_eq!(records.len(), 1, "{records:?}");
    world.emulator.reset_calls()?;
    let stdout = deliver(
        world,
        sqs,
        Function::FleetRecorder,
        &environment,
        url,
        (records, handles),
    )
    .await?;
    assert_eq!(
        world.calls()?.get("dynamodb.PutItem"),
        Some(&1),
        "one conditional write; stdout:\n{stdout}"
    );
    assert!(
        stdout.contains(&format!("\"written\":{written}")),
        "expected {written} written; stdout:\n{stdout}"
    );
    let key = format!(
        "task#{}",
        sentinel_tasks::event::fixtures::stopped_task(json!({}))["detail"]["taskArn"]
            .as_str()
            .unwrap_or_default()
    );
    let stored = aws_sdk_dynamodb::Client::new(&world.sdk)
        .get_item()
        .table_name(stack.output("FleetTableName")?)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(key.clone()),
        )
        .send()
        .await
        .explain()?;
    assert!(stored.item().is_some(), "{key} is not in the fleet table");
    Ok(())
}

/// One picture for an organization: the central stack's bus takes what other accounts send
/// and this account's own ECS events, and its fleet recorder's queue gets both; a member
/// stack forwards its account's events there with a role.
#[tokio::test]
async fn the_central_stack_records_what_the_organization_sends() -> anyhow::Result<()> {
    let world = World::start().await?;
    let template = emulator_template(&world).await?;
    let cloudformation = aws_sdk_cloudformation::Client::new(&world.sdk);
    let central = create_stack(
        &cloudformation,
        "sentinel-central",
        &template,
        &[("OrganizationId", "o-a1b2c3d4e5")],
    )
    .await?;
    let bus = central.output("CentralEventBusArn")?.to_owned();
    assert!(
        bus.ends_with(":event-bus/sentinel-central-ecs-events"),
        "{bus}"
    );
    let member = create_stack(
        &cloudformation,
        "sentinel-member",
        &template,
        &[("CentralEventBusArn", bus.as_str())],
    )
    .await?;
    let events = aws_sdk_eventbridge::Client::new(&world.sdk);
    let targets = events
        .list_targets_by_rule()
        .rule(member.resource("ForwardToCentralBusRule")?)
        .send()
        .await
        .explain()?;
    let target = targets
        .targets()
        .first()
        .context_missing("the forward rule's target")?;
    assert_eq!(target.arn(), bus.as_str());
    let forward_role = member.resource("ForwardEventsRole")?;
    assert!(
        target.role_arn().is_some_and(|r| r.ends_with(forward_role)),
        "{target:?}"
    );
    // The member stack reads its own default bus; only the central one reads the bus.
    assert!(member.output("CentralEventBusArn").is_err());

    // An event another account sends to the central bus.
    let mut remote = sentinel_tasks::event::fixtures::stopped_task(json!({
        "clusterArn": "arn:aws:ecs:eu-west-1:210987654321:cluster/payments",
        "taskArn": "arn:aws:ecs:eu-west-1:210987654321:task/payments/0123456789abcdef0123456789abcdef",
    }));
    remote["account"] = json!("210987654321");
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(bus.as_str())
        .source("aws.ecs")
        .detail_type("ECS Task State Change")
        .detail(remote["detail"].to_string())
        .build();
    events.put_events().entries(entry).send().await.explain()?;
    let sqs = aws_sdk_sqs::Client::new(&world.sdk);
    let central_fleet = central.output("FleetQueueUrl")?.to_owned();
    assert_eq!(
        waiting(&sqs, &central_fleet).await?,
        1,
        "the remote event reached the central fleet queue"
    );
    let member_fleet = member.output("FleetQueueUrl")?.to_owned();
    assert_eq!(
        waiting(&sqs, &member_fleet).await?,
        0,
        "the member reads its own default bus only"
    );

    // An ECS event on the default bus. Here both stacks share the emulator's one account, so
    // the member's forward rule and the central stack's own-account rule both carry it to
    // the central bus (in AWS each account has one of the two).
    let deployed = central.adopt(&world, "sentinel-central").await?;
    deployed
        .put_events(&[sentinel_tasks::event::fixtures::stopped_task(json!({}))])
        .await?;
    assert_eq!(waiting(&sqs, &central_fleet).await?, 3);
    assert_eq!(waiting(&sqs, &member_fleet).await?, 1);
    Ok(())
}

/// `Option` to `Result` with a test's message.
trait ContextMissing<T> {
    fn context_missing(self, what: &str) -> anyhow::Result<T>;
}

impl<T> ContextMissing<T> for Option<T> {
    fn context_missing(self, what: &str) -> anyhow::Result<T> {
        self.ok_or_else(|| anyhow::anyhow!("{what} is missing"))
    }
}
