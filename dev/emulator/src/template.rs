//! Reads the facts the local pipeline must share with `template.yaml`, so the demo and the
//! tests run the rule and queues the stack deploys rather than a copy that can drift.

use serde_norway::Value as Yaml;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("template.yaml: {0}")]
    Shape(String),
}

/// What the local pipeline takes from the template.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateFacts {
    /// `AgentDisconnectedRule.Properties.EventPattern`, as JSON.
    pub disconnect_pattern: serde_json::Value,
    /// The patterns of the rules feeding the recovery queue (reconnects, deregistrations).
    pub recovery_patterns: Vec<serde_json::Value>,
    /// The delay queue's redrive `maxReceiveCount`.
    pub max_receive_count: u64,
    /// `GracePeriodSeconds`' default.
    pub default_grace_period_seconds: u64,
    /// The names of the environment variables the template sets on the agent monitor.
    pub function_variables: Vec<String>,
    /// The patterns of the task monitor's rules (stopped tasks, Spot interruptions, service
    /// actions, deployments), all feeding its task queue.
    pub task_patterns: Vec<serde_json::Value>,
    /// The names of the environment variables the template sets on the task monitor.
    pub task_function_variables: Vec<String>,
    /// The task queue's redrive `maxReceiveCount`.
    pub task_max_receive_count: u64,
    /// The pattern of the rule feeding the fleet recorder's queue (every `aws.ecs` event).
    pub fleet_pattern: serde_json::Value,
    /// The pattern of the rule writing every `aws.ecs` event to the event log group.
    pub archive_pattern: serde_json::Value,
    /// The names of the environment variables the template sets on the fleet recorder.
    pub fleet_function_variables: Vec<String>,
    /// The fleet queue's redrive `maxReceiveCount`.
    pub fleet_max_receive_count: u64,
    /// Every stack parameter, in template order.
    pub parameters: Vec<ParameterFacts>,
    /// How the function's event source mappings batch each queue.
    pub delay_batching: Batching,
    pub recovery_batching: Batching,
    pub task_batching: Batching,
    pub fleet_batching: Batching,
    /// Every function's log settings.
    pub function_logging: Vec<FunctionLogging>,
}

/// How one function logs (its `LoggingConfig`): the format, and the level as written (a
/// `!Ref` reads `!Ref Name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionLogging {
    pub resource: String,
    pub log_format: Option<String>,
    pub application_log_level: Option<String>,
}

/// An SQS event source mapping's batching: an invocation gets up to `batch_size` records,
/// gathered for at most `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    pub batch_size: usize,
    pub window_seconds: u64,
}

/// What the docs (docs/stack.md) and the contract tests need of one stack parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterFacts {
    pub name: String,
    /// The default as text; empty when there is none or it is the empty string.
    pub default: String,
    pub allowed_pattern: Option<String>,
}

pub fn read(path: &Path) -> Result<TemplateFacts, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|e| TemplateError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    parse(&text)
}

pub fn parse(text: &str) -> Result<TemplateFacts, TemplateError> {
    // CloudFormation's short-form tags (!Ref, !If, …) parse as tagged values; the parts we
    // read carry none.
    let doc: Yaml =
        serde_norway::from_str(text).map_err(|e| TemplateError::Shape(e.to_string()))?;
    let at = |path: &[&str]| -> Result<&Yaml, TemplateError> {
        let mut node = &doc;
        for key in path {
            node = node
                .get(*key)
                .ok_or_else(|| TemplateError::Shape(format!("{} not found", path.join("."))))?;
        }
        Ok(node)
    };
    let pattern = |rule: &str| -> Result<serde_json::Value, TemplateError> {
        serde_json::to_value(at(&["Resources", rule, "Properties", "EventPattern"])?).map_err(|e| {
            TemplateError::Shape(format!("{rule}'s EventPattern is not plain data: {e}"))
        })
    };
    let disconnect_pattern = pattern("AgentDisconnectedRule")?;
    let recovery_patterns = vec![
        pattern("AgentReconnectedRule")?,
        pattern("InstanceDeregisteredRule")?,
    ];
    let task_patterns = [
        "TaskStoppedRule",
        "SpotInterruptionRule",
        "ServiceActionRule",
        "DeploymentRule",
    ]
    .into_iter()
    .map(pattern)
    .collect::<Result<_, _>>()?;
    let max_receives = |queue: &str| -> Result<u64, TemplateError> {
        at(&[
            "Resources",
            queue,
            "Properties",
            "RedrivePolicy",
            "maxReceiveCount",
        ])?
        .as_u64()
        .ok_or_else(|| TemplateError::Shape(format!("{queue} maxReceiveCount is not a number")))
    };
    let max_receive_count = max_receives("DelayQueue")?;
    let task_max_receive_count = max_receives("TaskQueue")?;
    let fleet_max_receive_count = max_receives("FleetQueue")?;
    let fleet_pattern = pattern("FleetEventsRule")?;
    let archive_pattern = pattern("EventArchiveRule")?;
    let default_grace_period_seconds = at(&["Parameters", "GracePeriodSeconds", "Default"])?
        .as_u64()
        .ok_or_else(|| TemplateError::Shape("GracePeriodSeconds Default is not a number".into()))?;
    let variables = |function: &str| -> Result<Vec<String>, TemplateError> {
        Ok(at(&[
            "Resources",
            function,
            "Properties",
            "Environment",
            "Variables",
        ])?
        .as_mapping()
        .ok_or_else(|| TemplateError::Shape(format!("{function}'s Variables is not a map")))?
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect())
    };
    let function_variables = variables("AgentMonitorFunction")?;
    let task_function_variables = variables("TaskMonitorFunction")?;
    let fleet_function_variables = variables("FleetRecorderFunction")?;
    let batching = |function: &str, event: &str| -> Result<Batching, TemplateError> {
        let properties = at(&[
            "Resources",
            function,
            "Properties",
            "Events",
            event,
            "Properties",
        ])?;
        let number = |key: &str| {
            properties
                .get(key)
                .and_then(Yaml::as_u64)
                .ok_or_else(|| TemplateError::Shape(format!("{event}'s {key} is not a number")))
        };
        Ok(Batching {
            batch_size: usize::try_from(number("BatchSize")?)
                .map_err(|e| TemplateError::Shape(format!("{event}'s BatchSize: {e}")))?,
            window_seconds: number("MaximumBatchingWindowInSeconds")?,
        })
    };
    let delay_batching = batching("AgentMonitorFunction", "DelayedDisconnects")?;
    let recovery_batching = batching("AgentMonitorFunction", "RecoveryEvents")?;
    let task_batching = batching("TaskMonitorFunction", "TaskEvents")?;
    let fleet_batching = batching("FleetRecorderFunction", "FleetEvents")?;
    let parameters = at(&["Parameters"])?
        .as_mapping()
        .ok_or_else(|| TemplateError::Shape("Parameters is not a map".into()))?
        .iter()
        .filter_map(|(name, parameter)| {
            let default = match parameter.get("Default") {
                Some(Yaml::String(text)) => text.clone(),
                Some(Yaml::Number(number)) => number.to_string(),
                Some(Yaml::Bool(flag)) => flag.to_string(),
                _ => String::new(),
            };
            Some(ParameterFacts {
                name: name.as_str()?.to_owned(),
                default,
                allowed_pattern: parameter
                    .get("AllowedPattern")
                    .and_then(Yaml::as_str)
                    .map(str::to_owned),
            })
        })
        .collect();
    Ok(TemplateFacts {
        disconnect_pattern,
        recovery_patterns,
        max_receive_count,
        default_grace_period_seconds,
        function_variables,
        task_patterns,
        task_function_variables,
        task_max_receive_count,
        fleet_pattern,
        archive_pattern,
        fleet_function_variables,
        fleet_max_receive_count,
        parameters,
        delay_batching,
        recovery_batching,
        task_batching,
        fleet_batching,
        function_logging: function_logging(&doc),
    })
}

/// Every `AWS::Serverless::Function`'s log settings, by resource name.
fn function_logging(doc: &Yaml) -> Vec<FunctionLogging> {
    let resources = doc.get("Resources").and_then(Yaml::as_mapping);
    resources
        .into_iter()
        .flat_map(|r| r.iter())
        .filter(|(_, r)| r.get("Type").and_then(Yaml::as_str) == Some("AWS::Serverless::Function"))
        .map(|(name, r)| {
            let logging = r.get("Properties").and_then(|p| p.get("LoggingConfig"));
            let field = |key: &str| -> Option<String> {
                match logging?.get(key)? {
                    Yaml::String(text) => Some(text.clone()),
                    Yaml::Tagged(tagged) => Some(format!(
                        "{} {}",
                        tagged.tag,
                        tagged.value.as_str().unwrap_or_default()
                    )),
                    _ => None,
                }
            };
            FunctionLogging {
                resource: name.as_str().unwrap_or_default().to_owned(),
                log_format: field("LogFormat"),
                application_log_level: field("ApplicationLogLevel"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_projects_template() {
        let facts = read(&crate::repo_root().join("template.yaml")).unwrap();
        assert_eq!(
            facts.disconnect_pattern,
            serde_json::json!({
                "source": ["aws.ecs"],
                "replay-name": [{"exists": false}],
                "detail-type": ["ECS Container Instance State Change"],
                "detail": {"agentConnected": [false], "status": ["ACTIVE"]}
            })
        );
        assert_eq!(facts.default_grace_period_seconds, 60);
        assert!(facts.max_receive_count >= 1);
        assert_eq!(facts.task_patterns.len(), 4);
        assert_eq!(
            facts.task_patterns[3],
            serde_json::json!({
                "source": ["aws.ecs"],
                "replay-name": [{"exists": false}],
                "detail-type": ["ECS Deployment State Change"],
                "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED", "SERVICE_DEPLOYMENT_COMPLETED"]}
            })
        );
        assert!(facts
            .task_function_variables
            .contains(&"LOG_TAIL_LINES".to_owned()));
        // Replays rebuild the fleet's state: its rule is the one that takes them.
        assert_eq!(
            facts.fleet_pattern,
            serde_json::json!({"source": ["aws.ecs"]})
        );
    }

    #[test]
    fn says_what_is_missing() {
        let err = parse("Resources: {}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "template.yaml: Resources.AgentDisconnectedRule.Properties.EventPattern not found"
        );
    }
}
