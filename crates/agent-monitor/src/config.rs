//! Configuration: environment variables set by `template.yaml`, parsed once at init.
//! A missing or invalid value stops init with a message naming the variable.

use chrono::TimeDelta;
use sentinel_agent::decision::DecisionSettings;
use sentinel_agent::episode::LifecycleSettings;
use sentinel_agent::metrics::DEFAULT_NAMESPACE;
use sentinel_agent::remediation::{RemediationAction, RemediationSettings};
use sentinel_core::MonitoringPolicy;
use sentinel_lambda::Env;
use std::time::Duration;

pub use sentinel_lambda::ConfigError;

pub const ALERT_TOPIC_ARN: &str = "ALERT_TOPIC_ARN";
pub const DEAD_LETTER_QUEUE_URL: &str = "DEAD_LETTER_QUEUE_URL";
pub use sentinel_lambda::env::{
    CHAT_TOPIC_ARN, MONITORING_TAG_KEY, MONITORING_TAG_VALUE, MONITOR_ALL_CLUSTERS,
};
pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";
pub const TAG_CACHE_TTL_SECONDS: &str = "TAG_CACHE_TTL_SECONDS";
pub const ALERT_ON_UNREACHABLE_ANYWHERE_NODES: &str = "ALERT_ON_UNREACHABLE_ANYWHERE_NODES";
pub const CUSTOM_ACTIONS: &str = "CUSTOM_ACTIONS";
pub const ALERT_TABLE_NAME: &str = "ALERT_TABLE_NAME";
pub const GRACE_PERIOD_SECONDS: &str = "GRACE_PERIOD_SECONDS";
pub const REMINDER_HOURS: &str = "REMINDER_HOURS";
pub const REMEDIATION_ACTION: &str = "REMEDIATION_ACTION";
pub const REMEDIATION_MAX_PERCENT_PER_HOUR: &str = "REMEDIATION_MAX_PERCENT_PER_HOUR";
pub const REMEDIATION_DRY_RUN: &str = "REMEDIATION_DRY_RUN";

/// Every variable the function reads (besides the standard AWS_* ones the SDK reads).
pub const VARIABLES: &[&str] = &[
    ALERT_TOPIC_ARN,
    CHAT_TOPIC_ARN,
    DEAD_LETTER_QUEUE_URL,
    MONITOR_ALL_CLUSTERS,
    MONITORING_TAG_KEY,
    MONITORING_TAG_VALUE,
    METRICS_NAMESPACE,
    TAG_CACHE_TTL_SECONDS,
    ALERT_ON_UNREACHABLE_ANYWHERE_NODES,
    CUSTOM_ACTIONS,
    ALERT_TABLE_NAME,
    GRACE_PERIOD_SECONDS,
    REMINDER_HOURS,
    REMEDIATION_ACTION,
    REMEDIATION_MAX_PERCENT_PER_HOUR,
    REMEDIATION_DRY_RUN,
];

const DEFAULT_TAG_CACHE_TTL_SECONDS: u64 = 300;
const DEFAULT_GRACE_PERIOD_SECONDS: u64 = 60;
/// A claimed notice is left to its claimer this long. A publish attempt ends well within it
/// (three attempts of at most 10 s), so only a crashed run's notice waits this long.
const NOTICE_LEASE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub alert_topic_arn: String,
    /// The chat topic, when chat notifications are on.
    pub chat_topic_arn: Option<String>,
    pub dead_letter_queue_url: String,
    pub policy: MonitoringPolicy,
    pub metrics_namespace: String,
    pub tag_cache_ttl: Duration,
    pub decision: DecisionSettings,
    /// Names of the custom actions to run on every alert (see `actions`).
    pub custom_actions: Vec<String>,
    /// The DynamoDB table holding alert episodes.
    pub alert_table_name: String,
    /// How long an agent must be seen down before a sweep opens an episode (the event path
    /// gets the same wait from the delay queue).
    pub grace_period: Duration,
    /// Remind about episodes still open this often; `None` is off.
    pub reminder_every: Option<Duration>,
    /// How long a claimed notice is left to its claimer (not an environment variable:
    /// tests shorten it).
    pub notice_lease: Duration,
    pub remediation: RemediationSettings,
}

impl Config {
    /// The lifecycle's clock settings, as durations the pure core computes with.
    pub fn lifecycle_settings(&self) -> LifecycleSettings {
        let delta = |d: Duration| TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
        LifecycleSettings {
            grace: delta(self.grace_period),
            reminder_every: self.reminder_every.map(delta),
            notice_lease: delta(self.notice_lease),
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parses from any lookup, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::from_lookup(lookup);
        let get = |name: &str| env.get(name);

        let alert_topic_arn = env.topic_arn(
            ALERT_TOPIC_ARN,
            "set it to the ARN of the SNS topic that receives alerts",
        )?;
        let dead_letter_queue_url = env.queue_url(
            DEAD_LETTER_QUEUE_URL,
            "set it to the URL of the SQS queue that keeps unusable records",
        )?;
        let policy = env.monitoring_policy()?;

        let alert_table_name = env.required(
            ALERT_TABLE_NAME,
            "set it to the name of the DynamoDB table that keeps alert episodes",
        )?;
        let tag_cache_seconds = env.number(
            TAG_CACHE_TTL_SECONDS,
            DEFAULT_TAG_CACHE_TTL_SECONDS,
            86_400,
            "a whole number of seconds from 0 to 86400",
        )?;
        let grace_seconds = env.number(
            GRACE_PERIOD_SECONDS,
            DEFAULT_GRACE_PERIOD_SECONDS,
            900,
            "a whole number of seconds from 0 to 900",
        )?;
        let reminder_hours = env.number(
            REMINDER_HOURS,
            0,
            24 * 365,
            "a whole number of hours (0 switches reminders off)",
        )?;

        let action = match get(REMEDIATION_ACTION) {
            None => RemediationAction::None,
            Some(raw) => RemediationAction::parse(&raw).ok_or(ConfigError::Invalid {
                name: REMEDIATION_ACTION,
                value: raw,
                expected: format!("one of {}", RemediationAction::NAMES.join(", ")),
            })?,
        };
        let max_percent = env.number(
            REMEDIATION_MAX_PERCENT_PER_HOUR,
            10,
            100,
            "a whole percentage from 1 to 100",
        )?;
        if max_percent == 0 {
            return Err(ConfigError::Invalid {
                name: REMEDIATION_MAX_PERCENT_PER_HOUR,
                value: "0".into(),
                expected: "a whole percentage from 1 to 100 (set REMEDIATION_ACTION=none to switch remediation off)".into(),
            });
        }
        let remediation = RemediationSettings {
            action,
            max_percent_per_hour: u32::try_from(max_percent).unwrap_or(100),
            dry_run: env.boolean(REMEDIATION_DRY_RUN, false)?,
        };

        Ok(Config {
            alert_topic_arn,
            chat_topic_arn: env.optional_topic_arn(CHAT_TOPIC_ARN)?,
            dead_letter_queue_url,
            policy,
            metrics_namespace: get(METRICS_NAMESPACE)
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
            tag_cache_ttl: Duration::from_secs(tag_cache_seconds),
            decision: DecisionSettings {
                alert_on_unreachable_anywhere_nodes: env
                    .boolean(ALERT_ON_UNREACHABLE_ANYWHERE_NODES, true)?,
            },
            custom_actions: env.list(CUSTOM_ACTIONS),
            alert_table_name,
            grace_period: Duration::from_secs(grace_seconds),
            reminder_every: (reminder_hours > 0)
                .then(|| Duration::from_secs(reminder_hours * 3600)),
            notice_lease: NOTICE_LEASE,
            remediation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| env.get(name).cloned())
    }

    const REQUIRED: [(&str, &str); 3] = [
        (ALERT_TOPIC_ARN, "arn:aws:sns:us-east-1:123456789012:alerts"),
        (
            DEAD_LETTER_QUEUE_URL,
            "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
        ),
        (ALERT_TABLE_NAME, "alerts"),
    ];

    #[test]
    fn defaults_apply_when_only_the_required_variables_are_set() {
        let c = parse(&REQUIRED).unwrap();
        assert_eq!(c.policy, MonitoringPolicy::AllClusters);
        assert_eq!(c.metrics_namespace, "ECS/ECSAgentFailures");
        assert_eq!(c.tag_cache_ttl, Duration::from_secs(300));
        assert!(c.decision.alert_on_unreachable_anywhere_nodes);
        assert!(c.custom_actions.is_empty());
        assert_eq!(c.grace_period, Duration::from_secs(60));
        assert_eq!(c.reminder_every, None);
        assert!(!c.remediation.enabled());
        assert_eq!(c.remediation.max_percent_per_hour, 10);
        assert!(!c.remediation.dry_run);
    }

    #[test]
    fn remediation_settings_parse() {
        let mut env = REQUIRED.to_vec();
        env.extend([
            (REMEDIATION_ACTION, "restart-agent"),
            (REMEDIATION_MAX_PERCENT_PER_HOUR, "25"),
            (REMEDIATION_DRY_RUN, "true"),
        ]);
        let r = parse(&env).unwrap().remediation;
        assert_eq!(r.action, RemediationAction::RestartAgent);
        assert_eq!(r.max_percent_per_hour, 25);
        assert!(r.dry_run);
    }

    #[test]
    fn reminders_are_set_in_hours() {
        let mut env = REQUIRED.to_vec();
        env.push((REMINDER_HOURS, "4"));
        assert_eq!(
            parse(&env).unwrap().reminder_every,
            Some(Duration::from_secs(4 * 3600))
        );
    }

    #[test]
    fn tag_mode_needs_a_value_and_defaults_the_key() {
        let mut env = REQUIRED.to_vec();
        env.push((MONITOR_ALL_CLUSTERS, "FALSE"));
        let err = parse(&env).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("MONITORING_TAG_VALUE is not set"),
            "{err}"
        );
        env.push((MONITORING_TAG_VALUE, "enabled"));
        assert_eq!(
            parse(&env).unwrap().policy,
            MonitoringPolicy::Tagged {
                key: "ecs-agent-monitoring".into(),
                value: "enabled".into()
            }
        );
    }

    #[test]
    fn every_bad_value_names_its_variable() {
        let cases = [
            (ALERT_TOPIC_ARN, "alerts"),
            (DEAD_LETTER_QUEUE_URL, "dlq"),
            (MONITOR_ALL_CLUSTERS, "yes"),
            (TAG_CACHE_TTL_SECONDS, "-1"),
            (TAG_CACHE_TTL_SECONDS, "five"),
            (ALERT_ON_UNREACHABLE_ANYWHERE_NODES, "1"),
            (GRACE_PERIOD_SECONDS, "901"),
            (REMINDER_HOURS, "soon"),
            (REMEDIATION_ACTION, "terminate"),
            (REMEDIATION_MAX_PERCENT_PER_HOUR, "0"),
            (REMEDIATION_MAX_PERCENT_PER_HOUR, "101"),
            (REMEDIATION_DRY_RUN, "maybe"),
        ];
        for (name, value) in cases {
            let mut env: Vec<(&str, &str)> = REQUIRED
                .iter()
                .copied()
                .filter(|(n, _)| *n != name)
                .collect();
            env.push((name, value));
            let err = parse(&env).unwrap_err();
            assert!(err.to_string().starts_with(&format!("{name}=")), "{err}");
        }
        for missing in [ALERT_TOPIC_ARN, DEAD_LETTER_QUEUE_URL, ALERT_TABLE_NAME] {
            let env: Vec<(&str, &str)> = REQUIRED
                .iter()
                .copied()
                .filter(|(n, _)| *n != missing)
                .collect();
            assert_eq!(
                parse(&env).unwrap_err().to_string().split(' ').next(),
                Some(missing)
            );
        }
    }

    #[test]
    fn custom_actions_are_a_comma_list() {
        let mut env = REQUIRED.to_vec();
        env.push((CUSTOM_ACTIONS, " log-nodes, ,noop "));
        assert_eq!(parse(&env).unwrap().custom_actions, ["log-nodes", "noop"]);
    }
}
