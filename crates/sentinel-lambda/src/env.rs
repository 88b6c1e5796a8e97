//! Typed settings from environment variables, parsed once at init. Every error names the
//! variable, the value found and what was expected, so a bad deployment says what to fix.

use sentinel_core::policy::DEFAULT_TAG_KEY;
use sentinel_core::MonitoringPolicy;

/// A setting that is missing or cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set: {help}")]
    Missing {
        name: &'static str,
        help: &'static str,
    },
    #[error("{name}={value:?} is invalid: expected {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: String,
    },
}

/// A view of the environment. An empty value is what CloudFormation writes for an unset
/// parameter, so empty counts as unset; values are trimmed.
pub struct Env<F> {
    lookup: F,
}

impl Env<fn(&str) -> Option<String>> {
    /// The process environment.
    pub fn process() -> Self {
        Env {
            lookup: |name| std::env::var(name).ok(),
        }
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// Any lookup, so tests need not touch the process environment.
    pub fn from_lookup(lookup: F) -> Self {
        Env { lookup }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &'static str, help: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing { name, help })
    }

    /// A whole number from 0 to `max`, `default` when unset.
    pub fn number(
        &self,
        name: &'static str,
        default: u64,
        max: u64,
        expected: &str,
    ) -> Result<u64, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => {
                raw.parse::<u64>()
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or(ConfigError::Invalid {
                        name,
                        value: raw,
                        expected: expected.to_owned(),
                    })
            }
        }
    }

    /// `true` or `false` in any case, `default` when unset.
    pub fn boolean(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(ConfigError::Invalid {
                name,
                value: v,
                expected: "true or false".into(),
            }),
        }
    }

    /// A comma-separated list; blanks dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An SNS topic ARN, required.
    pub fn topic_arn(&self, name: &'static str, help: &'static str) -> Result<String, ConfigError> {
        let arn = self.required(name, help)?;
        if !arn.starts_with("arn:") || !arn.contains(":sns:") {
            return Err(ConfigError::Invalid {
                name,
                value: arn,
                expected: "an SNS topic ARN (arn:<partition>:sns:<region>:<account>:<name>)".into(),
            });
        }
        Ok(arn)
    }

    /// An SNS topic ARN that may be unset or empty (the template passes "" when the feature
    /// is off).
    pub fn optional_topic_arn(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match self.get(name).filter(|v| !v.trim().is_empty()) {
            None => Ok(None),
            Some(_) => self.topic_arn(name, "").map(Some),
        }
    }

    /// An SQS queue URL, required.
    pub fn queue_url(&self, name: &'static str, help: &'static str) -> Result<String, ConfigError> {
        let url = self.required(name, help)?;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name,
                value: url,
                expected: "an SQS queue URL (https://…)".into(),
            });
        }
        Ok(url)
    }

    /// Which clusters are monitored: all (`MONITOR_ALL_CLUSTERS`, default true), or those
    /// tagged `MONITORING_TAG_KEY` (default `ecs-agent-monitoring`) = `MONITORING_TAG_VALUE`.
    pub fn monitoring_policy(&self) -> Result<MonitoringPolicy, ConfigError> {
        if self.boolean(MONITOR_ALL_CLUSTERS, true)? {
            return Ok(MonitoringPolicy::AllClusters);
        }
        Ok(MonitoringPolicy::Tagged {
            key: self
                .get(MONITORING_TAG_KEY)
                .unwrap_or_else(|| DEFAULT_TAG_KEY.to_owned()),
            value: self.get(MONITORING_TAG_VALUE).ok_or(ConfigError::Missing {
                name: MONITORING_TAG_VALUE,
                help: "it is required when MONITOR_ALL_CLUSTERS is false: the tag value that marks monitored clusters",
            })?,
        })
    }
}

/// The chat topic every notifying function also publishes its chat documents to (optional).
pub const CHAT_TOPIC_ARN: &str = "CHAT_TOPIC_ARN";
pub const MONITOR_ALL_CLUSTERS: &str = "MONITOR_ALL_CLUSTERS";
pub const MONITORING_TAG_KEY: &str = "MONITORING_TAG_KEY";
pub const MONITORING_TAG_VALUE: &str = "MONITORING_TAG_VALUE";

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::from_lookup(move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn empty_is_unset_and_values_are_trimmed() {
        let e = env(&[("A", "  "), ("B", " x ")]);
        assert_eq!(e.get("A"), None);
        assert_eq!(e.get("B").as_deref(), Some("x"));
        assert_eq!(
            e.required("A", "set it"),
            Err(ConfigError::Missing {
                name: "A",
                help: "set it"
            })
        );
    }

    #[test]
    fn numbers_booleans_and_lists_name_the_variable_when_wrong() {
        let e = env(&[
            ("N", "61"),
            ("M", "x"),
            ("T", "TRUE"),
            ("F", "no"),
            ("L", "a, ,b"),
        ]);
        assert_eq!(e.number("N", 1, 100, "0-100"), Ok(61));
        assert_eq!(e.number("unset", 7, 100, "0-100"), Ok(7));
        assert!(e.number("N", 1, 60, "0-60").is_err());
        let err = e
            .number("M", 1, 60, "a whole number")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "M=\"x\" is invalid: expected a whole number");
        assert_eq!(e.boolean("T", false), Ok(true));
        assert!(e
            .boolean("F", false)
            .unwrap_err()
            .to_string()
            .starts_with("F=\"no\""));
        assert_eq!(e.list("L"), ["a", "b"]);
        assert!(e.list("unset").is_empty());
    }
}
