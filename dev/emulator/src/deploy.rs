//! The stack as CloudFormation would receive it, made fit for the emulator's CloudFormation:
//! `template.yaml` expanded by the SAM translator (`deploy/expand_template.py`, the same
//! step the StackSets instructions use), minus the resource types moto cannot create and
//! whatever refers to them. What is removed is returned, so a test can assert that the
//! list stays exactly the documented one.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Resource types of the stack that moto's CloudFormation does not implement (it skips
/// them with a warning, and then fails on every `Ref`/`GetAtt` to them). Each entry says
/// what the deployed-stack test therefore cannot check, and what checks it instead.
pub const EMULATOR_CANNOT_CREATE: &[(&str, &str)] = &[
    (
        "AWS::SQS::QueuePolicy",
        "queue policies (rule-only SendMessage, TLS-only): cfn-lint and checkov",
    ),
    (
        "AWS::SNS::TopicPolicy",
        "the topic policy (stack alarms only, TLS-only): cfn-lint and checkov",
    ),
    (
        "AWS::SNS::Subscription",
        "the email subscription (only with NotificationEmail): the test subscribes a queue itself",
    ),
    (
        "AWS::Scheduler::Schedule",
        "the sweep schedule: the release-bootstrap test runs the schedule's payload",
    ),
    (
        "AWS::CloudWatch::Alarm",
        "the alarms, and the dashboard that lists them: cfn-lint",
    ),
    (
        "AWS::Logs::QueryDefinition",
        "the saved Logs Insights queries: cfn-lint",
    ),
    (
        "AWS::Logs::MetricFilter",
        "the ecs-task-fail-count metric filter on the event log: cfn-lint",
    ),
    (
        "AWS::Chatbot::CustomAction",
        "the chat buttons (only with ChatNotifications): cfn-lint and checkov",
    ),
    (
        "AWS::Chatbot::SlackChannelConfiguration",
        "the Slack channel (only with Slack ids): cfn-lint and checkov",
    ),
    (
        "AWS::Events::EventBusPolicy",
        "the central bus's organization policy (only with OrganizationId): cfn-lint and checkov",
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Emulator(#[from] crate::EmulatorError),
    #[error("could not run {script}: {source}")]
    Spawn {
        script: String,
        source: std::io::Error,
    },
    #[error("{script} failed ({status}):\n{stderr}")]
    Expand {
        script: String,
        status: String,
        stderr: String,
    },
    #[error("{script} printed something other than a JSON template: {message}")]
    NotJson { script: String, message: String },
}

/// Runs `deploy/expand_template.py` on the repository's `template.yaml` with the functions'
/// zips in the folder `code_uri` (`s3://bucket/folder`) and returns the CloudFormation
/// template.
pub fn expand(code_uri: &str) -> Result<Value, DeployError> {
    expand_with(&["--code-uri", code_uri])
}

/// Runs `deploy/expand_template.py` on the repository's `template.yaml` with these
/// arguments (where the code is) and returns the CloudFormation template.
pub fn expand_with(code_arguments: &[&str]) -> Result<Value, DeployError> {
    let root = crate::repo_root();
    let script = root.join("deploy").join("expand_template.py");
    let name = script.display().to_string();
    let output = Command::new(crate::python()?)
        .arg(&script)
        .arg("--template")
        .arg(root.join("template.yaml"))
        .args(code_arguments)
        .output()
        .map_err(|source| DeployError::Spawn {
            script: name.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(DeployError::Expand {
            script: name,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    serde_json::from_slice(&output.stdout).map_err(|e| DeployError::NotJson {
        script: name,
        message: e.to_string(),
    })
}

/// A template with what the emulator cannot create taken out.
#[derive(Debug, Clone)]
pub struct Pruned {
    pub template: Value,
    /// Logical id → type of every resource removed: those of an unsupported type, then,
    /// transitively, those that refer to a removed one.
    pub removed_resources: BTreeMap<String, String>,
    /// Outputs removed because they refer to a removed resource.
    pub removed_outputs: BTreeSet<String>,
}

/// Removes the resources of the types in [`EMULATOR_CANNOT_CREATE`], every resource that
/// refers to a removed one (by `Ref`, `Fn::GetAtt`, `Fn::Sub` or `DependsOn`), and the
/// outputs that refer to any of them.
pub fn prune_for_emulator(mut template: Value) -> Pruned {
    let unsupported: BTreeSet<&str> = EMULATOR_CANNOT_CREATE.iter().map(|(t, _)| *t).collect();
    let mut removed_resources = BTreeMap::new();
    let mut removed_outputs = BTreeSet::new();
    if let Some(resources) = template.get_mut("Resources").and_then(Value::as_object_mut) {
        let type_of =
            |resource: &Value| resource["Type"].as_str().unwrap_or("(no type)").to_owned();
        for (id, resource) in resources.iter() {
            if unsupported.contains(type_of(resource).as_str()) {
                removed_resources.insert(id.clone(), type_of(resource));
            }
        }
        loop {
            let dependents: Vec<(String, String)> = resources
                .iter()
                .filter(|(id, _)| !removed_resources.contains_key(*id))
                .filter(|(_, resource)| {
                    references(resource)
                        .iter()
                        .any(|r| removed_resources.contains_key(r))
                })
                .map(|(id, resource)| (id.clone(), type_of(resource)))
                .collect();
            if dependents.is_empty() {
                break;
            }
            removed_resources.extend(dependents);
        }
        resources.retain(|id, _| !removed_resources.contains_key(id));
    }
    if let Some(outputs) = template.get_mut("Outputs").and_then(Value::as_object_mut) {
        outputs.retain(|name, output| {
            let keep = !references(output)
                .iter()
                .any(|r| removed_resources.contains_key(r));
            if !keep {
                removed_outputs.insert(name.clone());
            }
            keep
        });
    }
    Pruned {
        template,
        removed_resources,
        removed_outputs,
    }
}

/// The logical ids a template fragment names: `Ref`, `Fn::GetAtt`, the `${Name}` and
/// `${Name.Attribute}` of `Fn::Sub`, and `DependsOn`. Pseudo parameters (`AWS::…`) and
/// parameters come along too; callers compare against resource ids only.
fn references(node: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    collect_references(node, &mut found);
    found
}

fn collect_references(node: &Value, found: &mut BTreeSet<String>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("Ref", Value::String(id)) => {
                        found.insert(id.clone());
                    }
                    ("Fn::GetAtt", Value::Array(parts)) => {
                        if let Some(Value::String(id)) = parts.first() {
                            found.insert(id.clone());
                        }
                    }
                    ("Fn::GetAtt", Value::String(dotted)) => {
                        found.extend(dotted.split('.').next().map(str::to_owned));
                    }
                    ("Fn::Sub", Value::String(text)) => found.extend(sub_names(text)),
                    ("Fn::Sub", Value::Array(parts)) => {
                        if let Some(Value::String(text)) = parts.first() {
                            found.extend(sub_names(text));
                        }
                    }
                    ("DependsOn", Value::String(id)) => {
                        found.insert(id.clone());
                    }
                    ("DependsOn", Value::Array(ids)) => {
                        found.extend(ids.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    _ => {}
                }
                collect_references(value, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, found)),
        _ => {}
    }
}

/// `${Name}` and `${Name.Attribute}` in an `Fn::Sub` string; `${!Literal}` is not a name.
fn sub_names(text: &str) -> Vec<String> {
    text.split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(inside, _)| inside))
        .filter(|inside| !inside.starts_with('!'))
        .map(|inside| inside.split('.').next().unwrap_or(inside).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn removes_unsupported_types_their_dependents_and_outputs() {
        let template = json!({
            "Resources": {
                "Queue": {"Type": "AWS::SQS::Queue"},
                "Policy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {"Queues": [{"Ref": "Queue"}]}},
                "Alarm": {"Type": "AWS::CloudWatch::Alarm"},
                "Board": {"Type": "AWS::CloudWatch::Dashboard",
                          "Properties": {"DashboardBody": {"Fn::Sub": "[\"${Alarm.Arn}\", \"${!Literal}\", \"${AWS::Region}\"]"}}},
                "AfterBoard": {"Type": "AWS::SNS::Topic", "DependsOn": ["Board"]},
                "ViaGetAtt": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Fn::GetAtt": "AfterBoard.TopicName"}}},
                "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"N": {"Fn::Sub": ["${Q}", {"Q": {"Ref": "Queue"}}]}}}
            },
            "Outputs": {
                "QueueUrl": {"Value": {"Ref": "Queue"}},
                "BoardUrl": {"Value": {"Fn::Sub": "https://x/${Board}"}}
            }
        });
        let pruned = prune_for_emulator(template);
        let removed: Vec<&str> = pruned
            .removed_resources
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            removed,
            ["AfterBoard", "Alarm", "Board", "Policy", "ViaGetAtt"]
        );
        assert_eq!(
            pruned.removed_resources["Board"],
            "AWS::CloudWatch::Dashboard"
        );
        let kept: Vec<&String> = pruned.template["Resources"]
            .as_object()
            .map(|r| r.keys().collect())
            .unwrap_or_default();
        assert_eq!(kept, ["Queue", "Table"]);
        assert_eq!(
            pruned.removed_outputs.iter().collect::<Vec<_>>(),
            ["BoardUrl"]
        );
        assert!(pruned.template["Outputs"]["QueueUrl"].is_object());
    }

    /// The StackSets form: one code bucket per region, named after it.
    #[test]
    fn expands_with_regional_code_buckets() {
        let template = expand_with(&[
            "--code-bucket-prefix",
            "my-artifacts",
            "--code-key",
            "ecs-sentinel/v1",
        ])
        .unwrap();
        assert!(template.get("Transform").is_none());
        for (function, zip) in [
            ("AgentMonitorFunction", "agent-monitor.zip"),
            ("TaskMonitorFunction", "task-monitor.zip"),
            ("FleetRecorderFunction", "fleet-recorder.zip"),
        ] {
            assert_eq!(
                template["Resources"][function]["Properties"]["Code"],
                json!({"S3Bucket": {"Fn::Sub": "my-artifacts-${AWS::Region}"},
                       "S3Key": format!("ecs-sentinel/v1/{zip}")})
            );
        }
    }

    #[test]
    fn refuses_a_code_location_that_is_not_s3() {
        let err = expand("https://example.com/ecs-sentinel").unwrap_err();
        assert!(
            err.to_string()
                .contains("--code-uri must look like s3://bucket/folder"),
            "{err}"
        );
    }

    /// The code location used to be one zip; now it is the folder of one zip per function.
    #[test]
    fn refuses_a_zip_where_the_folder_of_zips_goes() {
        let err = expand("s3://my-artifacts/ecs-sentinel/bootstrap.zip").unwrap_err();
        assert!(
            err.to_string()
                .contains("give the folder that holds agent-monitor.zip, task-monitor.zip, fleet-recorder.zip"),
            "{err}"
        );
    }

    #[test]
    fn sub_names_skip_literals_and_keep_the_resource_of_an_attribute() {
        assert_eq!(
            sub_names("arn:${AWS::Partition}:x:${Fn.Arn}/${!Keep}/${Plain}"),
            ["AWS::Partition", "Fn", "Plain"]
        );
    }
}
