//! Configuration: environment variables set by `template.yaml`, parsed once at init.
//! A missing or invalid value stops init with a message naming the variable.

use chrono::TimeDelta;
use sentinel_lambda::Env;

pub use sentinel_lambda::ConfigError;

pub const FLEET_TABLE_NAME: &str = "FLEET_TABLE_NAME";
pub const DEAD_LETTER_QUEUE_URL: &str = "DEAD_LETTER_QUEUE_URL";
pub const STOPPED_TASK_RETENTION_DAYS: &str = "STOPPED_TASK_RETENTION_DAYS";

/// Every variable the function reads (besides the standard AWS_* ones the SDK reads).
pub const VARIABLES: &[&str] = &[
    FLEET_TABLE_NAME,
    DEAD_LETTER_QUEUE_URL,
    STOPPED_TASK_RETENTION_DAYS,
];

pub const DEFAULT_STOPPED_TASK_RETENTION_DAYS: u64 = 14;
/// CloudWatch namespace of the recorder's own counters.
pub const METRICS_NAMESPACE: &str = "ECSSentinel/Fleet";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub fleet_table_name: String,
    pub dead_letter_queue_url: String,
    /// How long stopped tasks (and records the reconcile found gone) are kept.
    pub stopped_retention: TimeDelta,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parses from any lookup, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::from_lookup(lookup);
        let days = env.number(
            STOPPED_TASK_RETENTION_DAYS,
            DEFAULT_STOPPED_TASK_RETENTION_DAYS,
            3650,
            "a whole number of days from 1 to 3650",
        )?;
        if days == 0 {
            return Err(ConfigError::Invalid {
                name: STOPPED_TASK_RETENTION_DAYS,
                value: "0".into(),
                expected: "a whole number of days from 1 to 3650".into(),
            });
        }
        Ok(Config {
            fleet_table_name: env.required(
                FLEET_TABLE_NAME,
                "set it to the name of the fleet state table",
            )?,
            dead_letter_queue_url: env.queue_url(
                DEAD_LETTER_QUEUE_URL,
                "set it to the URL of the SQS queue that receives unusable records",
            )?,
            stopped_retention: TimeDelta::days(i64::try_from(days).unwrap_or(3650)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    const REQUIRED: [(&str, &str); 2] = [
        (FLEET_TABLE_NAME, "fleet"),
        (
            DEAD_LETTER_QUEUE_URL,
            "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
        ),
    ];

    #[test]
    fn defaults_are_what_the_readme_says() {
        let config = from(&REQUIRED).unwrap();
        assert_eq!(config.stopped_retention, TimeDelta::days(14));
        assert_eq!(config.fleet_table_name, "fleet");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let missing = from(&REQUIRED[1..]).unwrap_err().to_string();
        assert!(missing.contains(FLEET_TABLE_NAME), "{missing}");
        for bad in ["0", "-1", "two weeks", "4000"] {
            let mut pairs = REQUIRED.to_vec();
            pairs.push((STOPPED_TASK_RETENTION_DAYS, bad));
            let err = from(&pairs).unwrap_err().to_string();
            assert!(err.contains(STOPPED_TASK_RETENTION_DAYS), "{bad}: {err}");
        }
    }
}
