//! The template, the function and the docs (docs/stack.md) agree on configuration: every
//! variable the function reads is set by the template, every one the template sets is read,
//! and every stack parameter is documented with its default.

use sentinel_emulator::template;
use std::collections::BTreeSet;

#[test]
fn template_sets_exactly_the_variables_each_function_reads() -> anyhow::Result<()> {
    let facts = template::read(&sentinel_emulator::repo_root().join("template.yaml"))?;
    for (function, set, read) in [
        (
            "AgentMonitorFunction",
            &facts.function_variables,
            agent_monitor::config::VARIABLES,
        ),
        (
            "TaskMonitorFunction",
            &facts.task_function_variables,
            task_monitor::config::VARIABLES,
        ),
        (
            "FleetRecorderFunction",
            &facts.fleet_function_variables,
            fleet_recorder::config::VARIABLES,
        ),
    ] {
        let set: BTreeSet<&str> = set
            .iter()
            .map(String::as_str)
            // Read by the tracing subscriber, not by our configuration.
            .filter(|v| *v != "RUST_LOG")
            .collect();
        let read: BTreeSet<&str> = read.iter().copied().collect();
        assert_eq!(set, read, "{function}");
    }
    Ok(())
}

/// The contract the issue names: these variables, at least, are the task monitor's.
#[test]
fn the_task_monitor_reads_the_contracted_variables() {
    for name in [
        "ALERT_TOPIC_ARN",
        "ALERT_TABLE_NAME",
        "DEAD_LETTER_QUEUE_URL",
        "MONITOR_ALL_CLUSTERS",
        "MONITORING_TAG_VALUE",
        "REMINDER_HOURS",
        "LOG_TAIL_LINES",
    ] {
        assert!(task_monitor::config::VARIABLES.contains(&name), "{name}");
    }
}

/// docs/stack.md's "Parameters and configuration" table has a row
/// `| `Name` | variable | default |` per stack parameter, and its default matches the
/// template's (`empty` for none).
#[test]
fn readme_documents_every_parameter_with_its_default() -> anyhow::Result<()> {
    let root = sentinel_emulator::repo_root();
    let facts = template::read(&root.join("template.yaml"))?;
    let readme = std::fs::read_to_string(root.join("docs/stack.md"))?;
    let documented: std::collections::BTreeMap<&str, &str> = readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // ["", parameter, variable, default, meaning, ""]
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((name, *cells.get(3)?))
        })
        .collect();
    let mut wrong = Vec::new();
    for parameter in &facts.parameters {
        let (name, default) = (&parameter.name, &parameter.default);
        let expected = if default.is_empty() {
            "empty".to_owned()
        } else {
            format!("`{default}`")
        };
        match documented.get(name.as_str()) {
            Some(found) if *found == expected => {}
            Some(found) => wrong.push(format!(
                "{name}: docs/stack.md says {found}, template {expected}"
            )),
            None => wrong.push(format!("{name}: not in docs/stack.md's parameter table")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    Ok(())
}

/// CloudFormation checks NotificationEmail against its AllowedPattern before anything is
/// created; the widely used sample's pattern refused `first.last@example.com`.
#[test]
fn notification_email_pattern_takes_real_addresses_and_refuses_the_rest() -> anyhow::Result<()> {
    let facts = template::read(&sentinel_emulator::repo_root().join("template.yaml"))?;
    let pattern = facts
        .parameters
        .iter()
        .find(|p| p.name == "NotificationEmail")
        .and_then(|p| p.allowed_pattern.clone())
        .ok_or_else(|| anyhow::anyhow!("NotificationEmail has no AllowedPattern"))?;
    let email = regex_lite::Regex::new(&pattern)?;
    for good in [
        "",
        "first.last@example.com",
        "oncall+ecs@example.com",
        "ops@alerts.eu-west-1.example.co.uk",
        "o'brien@example.ie",
        "x@example.io",
        "team_ops-2@my-company.example",
    ] {
        assert!(email.is_match(good), "refused {good:?}");
    }
    for bad in [
        "first.last",
        "first.last@example",
        "@example.com",
        "first last@example.com",
        "a@-example.com",
        "a@example-.com",
        "a@example..com",
        "a@b@example.com",
        " a@example.com",
    ] {
        assert!(!email.is_match(bad), "accepted {bad:?}");
    }
    Ok(())
}

/// Every function logs JSON at the stack's level: without `LogFormat: JSON` Lambda sets
/// `AWS_LAMBDA_LOG_FORMAT=Text`, the functions log text, and the saved queries and the
/// dashboard, which read `level` and `fields.message`, find nothing.
#[test]
fn every_function_logs_json_at_the_stacks_level() -> anyhow::Result<()> {
    let facts = template::read(&sentinel_emulator::repo_root().join("template.yaml"))?;
    let mut functions: Vec<&str> = facts
        .function_logging
        .iter()
        .map(|f| f.resource.as_str())
        .collect();
    functions.sort_unstable();
    assert_eq!(
        functions,
        [
            "AgentMonitorFunction",
            "FleetRecorderFunction",
            "TaskMonitorFunction"
        ]
    );
    for f in &facts.function_logging {
        assert_eq!(f.log_format.as_deref(), Some("JSON"), "{}", f.resource);
        assert_eq!(
            f.application_log_level.as_deref(),
            Some("!Ref LogLevel"),
            "{}",
            f.resource
        );
    }
    Ok(())
}
