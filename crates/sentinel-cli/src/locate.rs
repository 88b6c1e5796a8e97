//! Where every command finds what it reads: the AWS configuration (the environment's, in a
//! region asked for, or one given by a test), the deployed stack's outputs (`--stack NAME`,
//! read once with DescribeStacks however many of them a command needs), the fleet table,
//! the event log group and archive by name or from those outputs, the health state file,
//! the monitors' settings for `replay FILE` (their environment variables, else the
//! stack's outputs), and each service's log groups (from the task definition it runs).
//! Nothing else in the crate reads stack outputs or names an output.

use crate::args::{FleetSource, Stack};
use crate::services::ServiceReader;
use anyhow::Context;
use sentinel_aws::sdk::SdkConfig;
use sentinel_aws::ContainerLogs;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The stack output naming the fleet table.
pub const FLEET_TABLE_OUTPUT: &str = "FleetTableName";
/// The stack output naming the event archive's log group.
pub const EVENT_LOG_GROUP_OUTPUT: &str = "EventLogGroupName";
/// The stack output naming the event archive.
pub const EVENT_ARCHIVE_OUTPUT: &str = "EventArchiveName";
/// The stack output that names the monitors' alert table.
pub const ALERT_TABLE_OUTPUT: &str = "AlertTableName";
/// The stack output naming the fleet recorder's rule (archive replays go to it alone).
pub const FLEET_RULE_OUTPUT: &str = "FleetEventsRuleArn";
/// The file `health --outdir` keeps the last complete report in.
/// The health state file's name in the output directory (the shell-script monitor's).
pub const HEALTH_STATE_FILE: &str = "ecs-health.json";
/// Where `health` writes and `logs auto-diagnose` reads, unless told (the script's default).
pub const DEFAULT_OUTDIR: &str = "./data/";
/// The region when neither the flag, `ECS_REGION`, nor the SDK's chain names one (the
/// script's default).
pub const FALLBACK_REGION: &str = "us-east-1";

/// Where the commands' AWS configuration comes from.
#[derive(Debug, Clone)]
pub enum Aws {
    /// The environment: the operator's profile and region, `AWS_ENDPOINT_URL` (the binary).
    Environment,
    /// A configuration made already (the tests' emulator); boxed, as it is large.
    Given(Box<SdkConfig>),
}

impl Aws {
    /// The configuration, in `region` when one is asked for. Loaded only when a command
    /// is about to call AWS, so a bad flag is reported before any credential lookup.
    pub async fn config(&self, region: Option<String>) -> SdkConfig {
        let region = region.map(aws_sdk_ecs::config::Region::new);
        match (self, region) {
            (Aws::Environment, Some(region)) => {
                sentinel_aws::sdk::loader().region(region).load().await
            }
            (Aws::Environment, None) => {
                let sdk = sentinel_aws::sdk::from_env().await;
                if sdk.region().is_some() {
                    sdk
                } else {
                    sdk.to_builder()
                        .region(aws_sdk_ecs::config::Region::from_static(FALLBACK_REGION))
                        .build()
                }
            }
            (Aws::Given(sdk), Some(region)) => sdk.to_builder().region(region).build(),
            (Aws::Given(sdk), None) => sdk.as_ref().clone(),
        }
    }
}

/// The outputs of a deployed ecs-sentinel stack.
#[derive(Debug, Clone, Default)]
pub struct StackOutputs {
    stack: String,
    outputs: BTreeMap<String, String>,
}

impl StackOutputs {
    pub async fn read(sdk: &SdkConfig, stack: &str) -> anyhow::Result<Self> {
        let described = aws_sdk_cloudformation::Client::new(sdk)
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("{}", aws_sdk_cloudformation::error::DisplayErrorContext(&e))
            })
            .with_context(|| format!("cannot read the outputs of stack {stack:?}"))?;
        let outputs = described
            .stacks()
            .first()
            .map(|s| {
                s.outputs()
                    .iter()
                    .filter_map(|o| {
                        Some((o.output_key()?.to_owned(), o.output_value()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(StackOutputs {
            stack: stack.to_owned(),
            outputs,
        })
    }

    /// Outputs given outright (tests of what reads them).
    pub fn from_pairs(stack: &str, pairs: &[(&str, &str)]) -> Self {
        StackOutputs {
            stack: stack.to_owned(),
            outputs: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// The output `name`, or an error that says which stack lacks it and why that may be.
    pub fn get(&self, name: &str) -> anyhow::Result<String> {
        self.find(name).ok_or_else(|| {
            anyhow::anyhow!(
                "stack {:?} has no output {name}: is it an ecs-sentinel stack of this version? (outputs: {})",
                self.stack,
                self.outputs.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }

    /// The output `name` when the stack has it (outputs behind a condition may be absent).
    pub fn find(&self, name: &str) -> Option<String> {
        self.outputs.get(name).cloned()
    }
}

/// One command's view of where things are: names given on the command line win; what is
/// not given comes from the stack's outputs, read on first need and then kept.
pub struct Locator<'a> {
    sdk: &'a SdkConfig,
    stack: Option<String>,
    outputs: Option<StackOutputs>,
}

impl<'a> Locator<'a> {
    pub fn new(sdk: &'a SdkConfig, stack: &Stack) -> Self {
        Locator {
            sdk,
            stack: stack.stack.clone(),
            outputs: None,
        }
    }

    /// The stack's outputs when `--stack` was given (read once), `None` without it.
    pub async fn outputs(&mut self) -> anyhow::Result<Option<&StackOutputs>> {
        let Some(stack) = &self.stack else {
            return Ok(None);
        };
        if self.outputs.is_none() {
            self.outputs = Some(StackOutputs::read(self.sdk, stack).await?);
        }
        Ok(self.outputs.as_ref())
    }

    /// `given`, else the stack's output `output`; one of them is required (`flag` is the
    /// command line's way to give it).
    pub async fn named(
        &mut self,
        given: Option<String>,
        output: &str,
        flag: &str,
    ) -> anyhow::Result<String> {
        if let Some(name) = given {
            return Ok(name);
        }
        match self.outputs().await? {
            Some(outputs) => outputs.get(output),
            None => anyhow::bail!(
                "say where the state is: {flag} NAME, or --stack NAME to read it from the deployed stack's output {output}"
            ),
        }
    }

    /// `given`, else the stack's output `output` if the stack has it; `None` when neither
    /// says (a source the command can do without).
    pub async fn optional(
        &mut self,
        given: Option<String>,
        output: &str,
    ) -> anyhow::Result<Option<String>> {
        if given.is_some() {
            return Ok(given);
        }
        Ok(self.outputs().await?.and_then(|o| o.find(output)))
    }

    /// The fleet table, by `--table` or from the stack's outputs.
    pub async fn fleet_table(
        &mut self,
        table: Option<String>,
    ) -> anyhow::Result<fleet_recorder::FleetTable> {
        let name = self.named(table, FLEET_TABLE_OUTPUT, "--table").await?;
        // Reading needs no retention; the recorder's own setting governs what it writes.
        Ok(fleet_recorder::FleetTable::new(
            aws_sdk_dynamodb::Client::new(self.sdk),
            name,
            chrono::TimeDelta::days(14),
        ))
    }

    /// The event archive's log group, by `--log-group` or from the stack's outputs.
    pub async fn event_log_group(&mut self, given: Option<String>) -> anyhow::Result<String> {
        self.named(given, EVENT_LOG_GROUP_OUTPUT, "--log-group")
            .await
    }

    /// The archive to replay (`--archive`, else the stack's output) and, when the stack is
    /// known, the fleet recorder's rule the replay is limited to.
    pub async fn archive(
        &mut self,
        given: Option<String>,
    ) -> anyhow::Result<(String, Option<String>)> {
        let outputs = self.outputs().await?;
        let archive = match (given, outputs) {
            (Some(name), _) => name,
            (None, Some(outputs)) => outputs.get(EVENT_ARCHIVE_OUTPUT)?,
            (None, None) => anyhow::bail!("say which archive: --archive NAME, or --stack NAME"),
        };
        let rule = match outputs {
            Some(outputs) => Some(outputs.get(FLEET_RULE_OUTPUT)?),
            None => None,
        };
        Ok((archive, rule))
    }
}

/// The fleet table of `--table` or `--stack`, in the environment's configuration.
pub async fn fleet_table(
    aws: &Aws,
    source: &FleetSource,
) -> anyhow::Result<fleet_recorder::FleetTable> {
    let sdk = aws.config(None).await;
    Locator::new(&sdk, &source.stack)
        .fleet_table(source.table.clone())
        .await
}

/// The fleet table when `--table` or `--stack` says where it is; nothing is read without.
pub async fn optional_fleet_table(
    aws: &Aws,
    source: &FleetSource,
) -> anyhow::Result<Option<fleet_recorder::FleetTable>> {
    if source.table.is_none() && source.stack.stack.is_none() {
        return Ok(None);
    }
    fleet_table(aws, source).await.map(Some)
}

/// Where `health` keeps its state: `--state`, else ecs-health.json in `--outdir`.
pub fn health_state(state: Option<&Path>, outdir: &Path) -> PathBuf {
    state.map_or_else(|| outdir.join(HEALTH_STATE_FILE), Path::to_path_buf)
}

/// The functions `replay FILE` can run, for their settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Monitor {
    Agent,
    Tasks,
    Fleet,
}

/// Which stack output holds what the template sets a function's variable to. The dead-letter
/// queue is each function's own; the alert topic, chat topic and table are shared.
fn stack_output(monitor: Monitor, variable: &str) -> Option<&'static str> {
    match (monitor, variable) {
        (Monitor::Agent | Monitor::Tasks, "ALERT_TOPIC_ARN") => Some("AlertTopicArn"),
        (Monitor::Agent | Monitor::Tasks, "CHAT_TOPIC_ARN") => Some("ChatTopicArn"),
        (Monitor::Agent | Monitor::Tasks, "ALERT_TABLE_NAME") => Some(ALERT_TABLE_OUTPUT),
        (Monitor::Agent, "DEAD_LETTER_QUEUE_URL") => Some("DeadLetterQueueUrl"),
        (Monitor::Tasks, "DEAD_LETTER_QUEUE_URL") => Some("TaskDeadLetterQueueUrl"),
        (Monitor::Fleet, "DEAD_LETTER_QUEUE_URL") => Some("FleetDeadLetterQueueUrl"),
        (Monitor::Fleet, "FLEET_TABLE_NAME") => Some(FLEET_TABLE_OUTPUT),
        _ => None,
    }
}

/// A variable lookup: the process environment in the binary, a map in the tests.
pub type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The monitors' settings for `replay FILE`: each variable from the environment (as the
/// function reads it), else from the deployed stack's output that holds the same value.
pub struct MonitorSettings {
    env: Box<Lookup>,
    outputs: Option<StackOutputs>,
}

impl MonitorSettings {
    /// The process environment, then `outputs`.
    pub fn from_environment(outputs: Option<StackOutputs>) -> Self {
        MonitorSettings::new(Box::new(|name| std::env::var(name).ok()), outputs)
    }

    pub fn new(env: Box<Lookup>, outputs: Option<StackOutputs>) -> Self {
        MonitorSettings { env, outputs }
    }

    /// `monitor`'s variable `name`: the environment wins over the stack.
    pub fn get(&self, monitor: Monitor, name: &str) -> Option<String> {
        (self.env)(name).or_else(|| {
            let output = stack_output(monitor, name)?;
            self.outputs.as_ref()?.find(output)
        })
    }

    /// `monitor`'s variables as a lookup, for its `Config::from_lookup`.
    pub fn lookup(&self, monitor: Monitor) -> impl Fn(&str) -> Option<String> + '_ {
        move |name| self.get(monitor, name)
    }
}

/// One log group (and stream prefix) a service writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub group: String,
    pub stream_prefix: Option<String>,
    /// True when the group came from the fallback pattern, not the task definition.
    pub from_pattern: bool,
}

/// A service and where its logs are, or why that could not be found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLogs {
    pub service: String,
    pub sources: Vec<Source>,
    pub error: Option<String>,
}

/// Whose logs to find.
#[derive(Debug, Clone, Copy)]
pub struct WantedLogs<'a> {
    /// A cluster name or ARN.
    pub cluster: &'a str,
    /// The services; empty means every service of the cluster.
    pub services: &'a [String],
    /// The fallback group, `{service}` replaced by the service name.
    pub pattern: &'a str,
}

/// Finds each service's log groups from the task definition its primary deployment runs
/// (cached per revision); a service whose task definition names none falls back to the
/// pattern. A service that cannot be located carries its error; only a cluster whose
/// services cannot be listed or described is an error.
pub async fn service_logs(
    services: &ServiceReader,
    task_definitions: &ContainerLogs,
    wanted: WantedLogs<'_>,
) -> anyhow::Result<Vec<ServiceLogs>> {
    let cluster = wanted.cluster;
    let names = services.named_or_all(cluster, wanted.services).await?;
    let described = services
        .describe(cluster, &names)
        .await
        .map_err(|e| anyhow::anyhow!("cannot describe the services of cluster {cluster}: {e}"))?;
    let mut located = Vec::new();
    for service in described {
        let name = service.facts.name.clone();
        let found = |sources: Vec<Source>| ServiceLogs {
            service: name.clone(),
            sources,
            error: None,
        };
        let failed = |error: String| ServiceLogs {
            service: name.clone(),
            sources: Vec::new(),
            error: Some(error),
        };
        let fallback = || Source {
            group: wanted.pattern.replace("{service}", &name),
            stream_prefix: None,
            from_pattern: true,
        };
        let entry = match (service.facts.status.as_str(), &service.task_definition) {
            ("MISSING", _) => failed(format!(
                "ECS does not know service {name} in cluster {cluster}"
            )),
            (_, None) => found(vec![fallback()]),
            (_, Some(task_definition)) => {
                match task_definitions.destinations(task_definition).await {
                    Ok(destinations) if destinations.is_empty() => found(vec![fallback()]),
                    Ok(destinations) => found(read_once(
                        destinations
                            .iter()
                            .map(|d| Source {
                                group: d.group.clone(),
                                stream_prefix: d.streams(),
                                from_pattern: false,
                            })
                            .collect(),
                    )),
                    Err(e) => failed(format!(
                        "cannot read task definition {task_definition}: {e}"
                    )),
                }
            }
        };
        located.push(entry);
    }
    Ok(located)
}

/// Each log group once: containers that share a group without a stream prefix would
/// otherwise be read (and counted) once per container, and a group read whole covers every
/// prefix in it. Distinct prefixes of one group stay apart (their streams differ).
fn read_once(sources: Vec<Source>) -> Vec<Source> {
    let mut kept: Vec<Source> = Vec::new();
    for source in sources {
        let whole = kept
            .iter()
            .any(|k| k.group == source.group && k.stream_prefix.is_none());
        if whole || kept.contains(&source) {
            continue;
        }
        if source.stream_prefix.is_none() {
            kept.retain(|k| k.group != source.group);
        }
        kept.push(source);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_log_group_is_read_once() {
        let source = |group: &str, prefix: Option<&str>| Source {
            group: group.into(),
            stream_prefix: prefix.map(str::to_owned),
            from_pattern: false,
        };
        assert_eq!(
            read_once(vec![source("/ecs/api", None), source("/ecs/api", None)]),
            [source("/ecs/api", None)],
            "two containers, one group, no prefix"
        );
        assert_eq!(
            read_once(vec![
                source("/ecs/api", Some("ecs/app/")),
                source("/ecs/api", Some("ecs/envoy/")),
                source("/ecs/api", Some("ecs/app/")),
                source("/ecs/other", None),
            ]),
            [
                source("/ecs/api", Some("ecs/app/")),
                source("/ecs/api", Some("ecs/envoy/")),
                source("/ecs/other", None)
            ]
        );
        assert_eq!(
            read_once(vec![
                source("/ecs/api", Some("ecs/app/")),
                source("/ecs/api", None),
                source("/ecs/api", Some("ecs/envoy/")),
            ]),
            [source("/ecs/api", None)],
            "the whole group covers its prefixes"
        );
    }

    #[test]
    fn the_environment_wins_and_each_monitor_gets_its_own_queue() {
        let outputs = StackOutputs::from_pairs(
            "sentinel",
            &[
                ("AlertTopicArn", "arn:aws:sns:us-east-1:123456789012:alerts"),
                ("DeadLetterQueueUrl", "https://sqs/agent-dlq"),
                ("TaskDeadLetterQueueUrl", "https://sqs/task-dlq"),
                ("FleetDeadLetterQueueUrl", "https://sqs/fleet-dlq"),
                ("FleetTableName", "fleet"),
            ],
        );
        let settings = MonitorSettings::new(
            Box::new(|name| (name == "ALERT_TABLE_NAME").then(|| "from-env".to_owned())),
            Some(outputs),
        );
        assert_eq!(
            settings.get(Monitor::Tasks, "ALERT_TABLE_NAME").as_deref(),
            Some("from-env")
        );
        assert_eq!(
            settings
                .get(Monitor::Tasks, "DEAD_LETTER_QUEUE_URL")
                .as_deref(),
            Some("https://sqs/task-dlq")
        );
        assert_eq!(
            settings
                .get(Monitor::Fleet, "DEAD_LETTER_QUEUE_URL")
                .as_deref(),
            Some("https://sqs/fleet-dlq")
        );
        assert_eq!(
            settings.lookup(Monitor::Fleet)("FLEET_TABLE_NAME").as_deref(),
            Some("fleet")
        );
        assert_eq!(
            settings.get(Monitor::Agent, "FLEET_TABLE_NAME"),
            None,
            "the fleet table is the fleet recorder's alone"
        );
        assert_eq!(settings.get(Monitor::Agent, "CHAT_TOPIC_ARN"), None);
        let without_stack = MonitorSettings::new(Box::new(|_| None), None);
        assert_eq!(without_stack.get(Monitor::Fleet, "FLEET_TABLE_NAME"), None);
    }

    #[test]
    fn the_state_flag_wins_over_the_directory() {
        assert_eq!(
            health_state(Some(Path::new("a.json")), Path::new("dir")),
            PathBuf::from("a.json")
        );
        assert_eq!(
            health_state(None, Path::new(DEFAULT_OUTDIR)),
            PathBuf::from("./data/ecs-health.json"),
            "the shell-script monitor's default"
        );
    }
}
