//! Custom actions: the one plug-in point for doing something about affected nodes.
//!
//! An action receives each published alert (the cluster and every affected node). Actions
//! run after the notification is out, concurrently, each under a time limit; a failing or
//! hanging action is logged and counted and never holds back the alert or the batch.
//!
//! To add one: implement [`NodeAction`], give it a name, and add it to
//! [`ActionRegistry::from_names`]; users switch it on with `CUSTOM_ACTIONS=<name>`.

use futures::future::{join_all, BoxFuture};
use sentinel_agent::ClusterAlert;
use std::time::Duration;

/// How long one action may take before it is abandoned and counted as failed.
pub const ACTION_TIME_LIMIT: Duration = Duration::from_secs(10);

pub trait NodeAction: Send + Sync {
    fn name(&self) -> &str;
    /// Does the work for one alert. The error text is logged as is.
    fn run<'a>(&'a self, alert: &'a ClusterAlert) -> BoxFuture<'a, Result<(), String>>;
}

/// Does nothing: the smallest correct action, to copy when writing a new one.
pub struct NoopAction;

impl NodeAction for NoopAction {
    fn name(&self) -> &str {
        "noop"
    }

    fn run<'a>(&'a self, _alert: &'a ClusterAlert) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

/// Example: one structured log line per affected node. A CloudWatch Logs subscription
/// filter on `"ecs-sentinel.affected-node"` can feed these to a ticketing system or a
/// runbook automation without giving the function any new permission.
pub struct LogNodesAction;

impl NodeAction for LogNodesAction {
    fn name(&self) -> &str {
        "log-nodes"
    }

    fn run<'a>(&'a self, alert: &'a ClusterAlert) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            for instance in &alert.instances {
                tracing::warn!(
                    event = "ecs-sentinel.affected-node",
                    cluster = alert.cluster_name(),
                    node_id = instance.node_id.as_str(),
                    node_type = instance.node_id.kind().as_str(),
                    kind = instance.kind.as_str(),
                    container_instance = instance.container_instance_arn.as_str(),
                    "affected node"
                );
            }
            Ok(())
        })
    }
}

/// What running the actions on one alert came to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ActionOutcome {
    pub succeeded: Vec<String>,
    /// (action name, error)
    pub failed: Vec<(String, String)>,
}

#[derive(Default)]
pub struct ActionRegistry {
    actions: Vec<Box<dyn NodeAction>>,
}

impl ActionRegistry {
    /// The built-in actions, by the names `CUSTOM_ACTIONS` uses.
    pub const BUILT_IN: &'static [&'static str] = &["noop", "log-nodes"];

    pub fn from_names(names: &[String]) -> Result<Self, String> {
        let mut registry = ActionRegistry::default();
        for name in names {
            let action: Box<dyn NodeAction> = match name.as_str() {
                "noop" => Box::new(NoopAction),
                "log-nodes" => Box::new(LogNodesAction),
                other => {
                    return Err(format!(
                        "unknown action {other:?}; known actions: {}",
                        Self::BUILT_IN.join(", ")
                    ))
                }
            };
            registry.actions.push(action);
        }
        Ok(registry)
    }

    /// Adds an action written in code (a fork's own, or a test's).
    pub fn register(&mut self, action: Box<dyn NodeAction>) {
        self.actions.push(action);
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    pub async fn run_all(&self, alert: &ClusterAlert) -> ActionOutcome {
        let runs = self.actions.iter().map(|action| async move {
            let result = match tokio::time::timeout(ACTION_TIME_LIMIT, action.run(alert)).await {
                Ok(result) => result,
                Err(_) => Err(format!("did not finish within {ACTION_TIME_LIMIT:?}")),
            };
            (action.name().to_owned(), result)
        });
        let mut outcome = ActionOutcome::default();
        for (name, result) in join_all(runs).await {
            match result {
                Ok(()) => outcome.succeeded.push(name),
                Err(error) => {
                    tracing::error!(action = %name, cluster = alert.cluster_name(), %error, "custom action failed");
                    outcome.failed.push((name, error));
                }
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let err = ActionRegistry::from_names(&["reboot-everything".into()])
            .err()
            .unwrap();
        assert!(err.contains("noop, log-nodes"), "{err}");
        assert!(
            !ActionRegistry::from_names(&["noop".into(), "log-nodes".into()])
                .unwrap()
                .is_empty()
        );
    }
}
