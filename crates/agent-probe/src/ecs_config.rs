//! The cluster this instance belongs to when the agent cannot say (pure).
//!
//! A down agent answers nothing, yet its datum must still carry the cluster so the
//! per-cluster alarm sees it: the cluster then comes from `ECS_CLUSTER` in
//! `/etc/ecs/ecs.config`, and without one it is `default`, which is what the agent itself
//! registers into.

/// The cluster the agent joins when `ECS_CLUSTER` is not set.
pub const DEFAULT_CLUSTER: &str = "default";

/// The value of `ECS_CLUSTER` in an `ecs.config` text, if set and not empty.
///
/// The file is a list of `KEY=value` lines. Blank lines and `#` comments are skipped, an
/// `export ` prefix and one pair of matching quotes around the value are tolerated (people
/// write the file by hand or from shell snippets), and the last assignment wins, as it does
/// when the file is read as an environment file.
pub fn cluster_from_config(text: &str) -> Option<String> {
    let mut cluster = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "ECS_CLUSTER" {
            continue;
        }
        let value = unquote(value.trim()).trim();
        cluster = (!value.is_empty()).then(|| value.to_string());
    }
    cluster
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// The cluster's name from a name or a cluster ARN.
///
/// `ECS_CLUSTER` may hold a full ARN; the metric's `ClusterName` dimension must be the same
/// whichever way the cluster was written, or one cluster's alarm would miss its instances.
pub fn cluster_name(value: &str) -> &str {
    let value = value.trim();
    if value.starts_with("arn:") {
        if let Some((_, name)) = value.split_once(":cluster/") {
            if !name.is_empty() {
                return name;
            }
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_cluster_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("ECS_CLUSTER=prod\n", Some("prod")),
            ("ECS_CLUSTER=\"prod\"\n", Some("prod")),
            ("ECS_CLUSTER='prod'\n", Some("prod")),
            ("  ECS_CLUSTER = prod  \r\n", Some("prod")),
            ("export ECS_CLUSTER=prod\n", Some("prod")),
            (
                "# written by user data\nECS_ENABLE_TASK_IAM_ROLE=true\nECS_CLUSTER=prod\nECS_LOGLEVEL=info\n",
                Some("prod"),
            ),
            ("#ECS_CLUSTER=old\nECS_CLUSTER=new\n", Some("new")),
            ("ECS_CLUSTER=first\nECS_CLUSTER=second\n", Some("second")),
            ("ECS_CLUSTER=\n", None),
            ("ECS_CLUSTER=\"\"\n", None),
            ("ECS_CLUSTER_NAME=prod\nMY_ECS_CLUSTER=x\n", None),
            ("ECS_LOGLEVEL=info\n", None),
            ("not a key value line\n", None),
            ("", None),
            ("ECS_CLUSTER=a=b\n", Some("a=b")),
            ("ECS_CLUSTER=\"unbalanced\n", Some("\"unbalanced")),
        ];
        for (text, want) in cases {
            assert_eq!(cluster_from_config(text).as_deref(), *want, "{text:?}");
        }
    }

    #[test]
    fn cluster_arns_become_names() {
        assert_eq!(
            cluster_name("arn:aws:ecs:us-east-1:123456789012:cluster/prod"),
            "prod"
        );
        assert_eq!(cluster_name("prod"), "prod");
        assert_eq!(cluster_name(" prod "), "prod");
        // Not a cluster ARN: kept as written rather than guessed at.
        assert_eq!(
            cluster_name("arn:aws:ecs:x:y:cluster/"),
            "arn:aws:ecs:x:y:cluster/"
        );
    }
}
