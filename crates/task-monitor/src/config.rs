//! Configuration: environment variables set by `template.yaml`, parsed once at init.
//! A missing or invalid value stops init with a message naming the variable.

use chrono::TimeDelta;
use sentinel_core::notice::Settings as LifecycleSettings;
use sentinel_core::MonitoringPolicy;
use sentinel_lambda::Env;
use std::time::Duration;

pub use sentinel_lambda::env::{
    CHAT_TOPIC_ARN, MONITORING_TAG_KEY, MONITORING_TAG_VALUE, MONITOR_ALL_CLUSTERS,
};
pub use sentinel_lambda::ConfigError;

pub const ALERT_TOPIC_ARN: &str = "ALERT_TOPIC_ARN";
pub const ALERT_TABLE_NAME: &str = "ALERT_TABLE_NAME";
pub const DEAD_LETTER_QUEUE_URL: &str = "DEAD_LETTER_QUEUE_URL";
pub const REMINDER_HOURS: &str = "REMINDER_HOURS";
pub const LOG_TAIL_LINES: &str = "LOG_TAIL_LINES";
pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";
pub const TAG_CACHE_TTL_SECONDS: &str = "TAG_CACHE_TTL_SECONDS";

/// Every variable the function reads (besides the standard AWS_* ones the SDK reads).
pub const VARIABLES: &[&str] = &[
    ALERT_TOPIC_ARN,
    CHAT_TOPIC_ARN,
    ALERT_TABLE_NAME,
    DEAD_LETTER_QUEUE_URL,
    MONITOR_ALL_CLUSTERS,
    MONITORING_TAG_KEY,
    MONITORING_TAG_VALUE,
    REMINDER_HOURS,
    LOG_TAIL_LINES,
    METRICS_NAMESPACE,
    TAG_CACHE_TTL_SECONDS,
];

pub const DEFAULT_NAMESPACE: &str = "ECSSentinel/Tasks";
const DEFAULT_LOG_TAIL_LINES: u64 = 20;
/// CloudWatch Logs returns at most 10,000 events per call; a page needs far fewer.
const MAX_LOG_TAIL_LINES: u64 = 200;
const DEFAULT_TAG_CACHE_TTL_SECONDS: u64 = 300;
/// A claimed notice is left to its claimer this long (three publish attempts of at most
/// 10 s end well within it), so only a crashed run's notice waits this long.
const NOTICE_LEASE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub alert_topic_arn: String,
    /// The chat topic, when chat notifications are on.
    pub chat_topic_arn: Option<String>,
    /// The shared alert table: task episodes are keyed `tasks#…`.
    pub alert_table_name: String,
    pub dead_letter_queue_url: String,
    pub policy: MonitoringPolicy,
    pub tag_cache_ttl: Duration,
    /// Remind about services still failing this often; `None` is off.
    pub reminder_every: Option<Duration>,
    /// Lines of the failed container's log an alert quotes; 0 is off.
    pub log_tail_lines: usize,
    pub metrics_namespace: String,
    /// How long a claimed notice is left to its claimer (not an environment variable:
    /// tests shorten it).
    pub notice_lease: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parses from any lookup, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::from_lookup(lookup);
        let reminder_hours = env.number(
            REMINDER_HOURS,
            0,
            24 * 365,
            "a whole number of hours (0 switches reminders off)",
        )?;
        Ok(Config {
            chat_topic_arn: env.optional_topic_arn(CHAT_TOPIC_ARN)?,
            alert_topic_arn: env.topic_arn(
                ALERT_TOPIC_ARN,
                "set it to the ARN of the SNS topic that receives alerts",
            )?,
            alert_table_name: env.required(
                ALERT_TABLE_NAME,
                "set it to the name of the DynamoDB table that keeps alert episodes",
            )?,
            dead_letter_queue_url: env.queue_url(
                DEAD_LETTER_QUEUE_URL,
                "set it to the URL of the SQS queue that keeps unusable records",
            )?,
            policy: env.monitoring_policy()?,
            tag_cache_ttl: Duration::from_secs(env.number(
                TAG_CACHE_TTL_SECONDS,
                DEFAULT_TAG_CACHE_TTL_SECONDS,
                86_400,
                "a whole number of seconds from 0 to 86400",
            )?),
            reminder_every: (reminder_hours > 0)
                .then(|| Duration::from_secs(reminder_hours * 3600)),
            log_tail_lines: usize::try_from(env.number(
                LOG_TAIL_LINES,
                DEFAULT_LOG_TAIL_LINES,
                MAX_LOG_TAIL_LINES,
                "a whole number of lines from 0 (off) to 200",
            )?)
            .unwrap_or(0),
            metrics_namespace: env
                .get(METRICS_NAMESPACE)
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
            notice_lease: NOTICE_LEASE,
        })
    }

    /// The lifecycle's clock settings. Task failures have no grace period: an event is
    /// established news when it arrives.
    pub fn lifecycle_settings(&self) -> LifecycleSettings {
        let delta = |d: Duration| TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
        LifecycleSettings {
            grace: TimeDelta::zero(),
            reminder_every: self.reminder_every.map(delta),
            notice_lease: delta(self.notice_lease),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| env.get(name).cloned())
    }

    const REQUIRED: &[(&str, &str)] = &[
        (ALERT_TOPIC_ARN, "arn:aws:sns:us-east-1:123456789012:alerts"),
        (ALERT_TABLE_NAME, "sentinel-alerts"),
        (
            DEAD_LETTER_QUEUE_URL,
            "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
        ),
    ];

    #[test]
    fn defaults_are_what_the_readme_says() {
        let config = parse(REQUIRED).unwrap();
        assert_eq!(config.policy, MonitoringPolicy::AllClusters);
        assert_eq!(config.log_tail_lines, 20);
        assert_eq!(config.reminder_every, None);
        assert_eq!(config.metrics_namespace, "ECSSentinel/Tasks");
        assert_eq!(config.lifecycle_settings().grace, TimeDelta::zero());
    }

    #[test]
    fn every_bad_value_names_its_variable() {
        let with = |extra: (&'static str, &'static str)| {
            let mut pairs = REQUIRED.to_vec();
            pairs.retain(|(k, _)| *k != extra.0);
            pairs.push(extra);
            parse(&pairs).unwrap_err().to_string()
        };
        assert!(with((LOG_TAIL_LINES, "lots")).starts_with("LOG_TAIL_LINES=\"lots\" is invalid"));
        assert!(with((LOG_TAIL_LINES, "201")).contains("from 0 (off) to 200"));
        assert!(with((REMINDER_HOURS, "-1")).starts_with("REMINDER_HOURS="));
        assert!(with((ALERT_TOPIC_ARN, "alerts")).contains("an SNS topic ARN"));
        assert!(
            with((MONITOR_ALL_CLUSTERS, "false")).starts_with("MONITORING_TAG_VALUE is not set")
        );
        let missing = parse(&REQUIRED[..2]).unwrap_err().to_string();
        assert!(
            missing.starts_with("DEAD_LETTER_QUEUE_URL is not set"),
            "{missing}"
        );
    }

    #[test]
    fn switches_and_numbers_are_read() {
        let mut pairs = REQUIRED.to_vec();
        pairs.extend([
            (MONITOR_ALL_CLUSTERS, "false"),
            (MONITORING_TAG_VALUE, "enabled"),
            (REMINDER_HOURS, "4"),
            (LOG_TAIL_LINES, "0"),
        ]);
        let config = parse(&pairs).unwrap();
        assert_eq!(config.reminder_every, Some(Duration::from_secs(4 * 3600)));
        assert_eq!(config.log_tail_lines, 0);
        assert!(
            matches!(config.policy, MonitoringPolicy::Tagged { ref value, .. } if value == "enabled")
        );
    }
}
