//! What `health` alerts on: the changes since the previous run, never the same state run
//! after run. A part (service, endpoint, certificate) alerts when its status got worse
//! than the previous report said, and once when it is healthy again; a first run (no
//! previous report) alerts on everything not healthy. Each alert is one JSON line of
//! `<outdir>/alerts.jsonl`, where a cron job's alerting reads it.

use super::report::{HealthReport, Status};
use anyhow::Context;
use chrono::{DateTime, Utc};
use sentinel_core::notification::{sns_message, subject_around, Attribute, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// The alerts file's name in the output directory.
pub const ALERTS_FILE: &str = "alerts.jsonl";

/// Which part of the report changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Service,
    Endpoint,
    Certificate,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Service => "service",
            Part::Endpoint => "endpoint",
            Part::Certificate => "certificate",
        }
    }
}

/// One change of status: a line of alerts.jsonl.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub time: DateTime<Utc>,
    /// The service's, endpoint's or domain's name.
    pub target: String,
    pub kind: Part,
    /// `null` on a first run.
    pub from: Option<Status>,
    pub to: Status,
    pub reasons: Vec<String>,
}

impl Transition {
    /// Healthy again.
    pub fn is_recovery(&self) -> bool {
        self.to == Status::Healthy
    }
}

/// Every part of a report with its status and reasons, by (kind, name).
fn parts(report: &HealthReport) -> BTreeMap<(Part, String), (Status, Vec<String>)> {
    let mut parts = BTreeMap::new();
    for s in &report.services {
        parts.insert(
            (Part::Service, s.name.clone()),
            (s.status, s.reasons.clone()),
        );
    }
    for e in &report.endpoints {
        let status = if e.ok {
            Status::Healthy
        } else {
            Status::Unhealthy
        };
        let reasons = match (&e.error, e.http_status) {
            (Some(error), _) => vec![error.clone()],
            (None, Some(code)) if !e.ok => vec![format!("HTTP {code}")],
            _ => Vec::new(),
        };
        parts.insert((Part::Endpoint, e.name.clone()), (status, reasons));
    }
    if let Some(c) = &report.certificate {
        let status = match c.verdict.as_str() {
            "ok" => Status::Healthy,
            "warn" => Status::Degraded,
            _ => Status::Unhealthy,
        };
        let mut reasons: Vec<String> = c.error.iter().cloned().collect();
        if status != Status::Healthy {
            if let Some(days) = c.days_left {
                reasons.push(format!("{days} days left"));
            }
        }
        parts.insert((Part::Certificate, c.domain.clone()), (status, reasons));
    }
    parts
}

/// The changes from `previous` (the last complete report, if any) to `now`: each part that
/// got worse, and each that is healthy again. A part the previous report did not have
/// counts as healthy before, unless there was no previous report at all (`from` is then
/// `null`). A part that disappeared is not an alert.
pub fn transitions(previous: Option<&HealthReport>, now: &HealthReport) -> Vec<Transition> {
    let before = previous.map(parts);
    parts(now)
        .into_iter()
        .filter_map(|((kind, target), (to, reasons))| {
            let from = before.as_ref().map(|before| {
                before
                    .get(&(kind, target.clone()))
                    .map_or(Status::Healthy, |(status, _)| *status)
            });
            let changed = match from {
                None => to != Status::Healthy,
                Some(from) => to > from || (to == Status::Healthy && from != Status::Healthy),
            };
            changed.then_some(Transition {
                time: now.checked_at,
                target,
                kind,
                from,
                to,
                reasons,
            })
        })
        .collect()
}

/// Appends one JSON line per transition to `path` (created with its directory).
pub fn append(path: &Path, transitions: &[Transition]) -> anyhow::Result<()> {
    if transitions.is_empty() {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    }
    let mut lines = String::new();
    for t in transitions {
        lines.push_str(&serde_json::to_string(t)?);
        lines.push('\n');
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(lines.as_bytes()))
        .with_context(|| format!("cannot append the alerts to {}", path.display()))
}

/// One transition as an SNS message, published like the stack's notices: the subject, the
/// line as JSON (every protocol but email) and as text (email), and the attributes the
/// stack's subscriptions filter on (`monitor=health`, `cluster`, `kind` = the part or
/// `resolved`, `severity`, and `service` for a service).
pub fn message(cluster: &str, t: &Transition) -> anyhow::Result<(String, String, Vec<Attribute>)> {
    let cluster = cluster.rsplit('/').next().unwrap_or(cluster);
    let severity = match t.to {
        Status::Healthy => Severity::Info,
        Status::Degraded => Severity::Warning,
        Status::Unhealthy => Severity::High,
    };
    let (prefix, suffix) = if t.is_recovery() {
        (
            format!("[RESOLVED] {} ", t.kind.as_str()),
            format!(" in {cluster} is healthy again"),
        )
    } else {
        (
            format!(
                "[{}] {} ",
                severity.as_str().to_ascii_uppercase(),
                t.kind.as_str()
            ),
            format!(
                " in {cluster}: {} -> {}",
                t.from.map_or("first check", |s| s.as_str()),
                t.to.as_str()
            ),
        )
    };
    let subject = subject_around(&prefix, &t.target, &suffix);
    let mut text = format!(
        "{subject}\n\nChecked at {} by ecs-sentinel health.\n",
        t.time.to_rfc3339()
    );
    for reason in &t.reasons {
        text.push_str(&format!("- {reason}\n"));
    }
    let body = sns_message(t, text)?;
    let kind = if t.is_recovery() {
        "resolved"
    } else {
        t.kind.as_str()
    };
    let mut attributes = vec![
        Attribute {
            name: "monitor",
            data_type: "String",
            value: "health".to_owned(),
        },
        Attribute {
            name: "cluster",
            data_type: "String",
            value: cluster.to_owned(),
        },
        Attribute {
            name: "kind",
            data_type: "String.Array",
            value: serde_json::to_string(&[kind])?,
        },
        Attribute {
            name: "severity",
            data_type: "String",
            value: severity.as_str().to_owned(),
        },
    ];
    if t.kind == Part::Service {
        attributes.push(Attribute {
            name: "service",
            data_type: "String",
            value: t.target.clone(),
        });
    }
    Ok((subject, body, attributes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::report::{CertificateHealth, EndpointHealth, ServiceHealth};

    fn service(name: &str, status: Status) -> ServiceHealth {
        ServiceHealth {
            name: name.into(),
            desired: 2,
            running: if status == Status::Healthy { 2 } else { 0 },
            pending: 0,
            status,
            reasons: if status == Status::Healthy {
                Vec::new()
            } else {
                vec![format!("{name} is {}", status.as_str())]
            },
            deployments: Vec::new(),
            targets: Vec::new(),
            events: Vec::new(),
            diagnosis: None,
        }
    }

    fn report(minute: i64, services: &[(&str, Status)], endpoint_ok: bool) -> HealthReport {
        HealthReport::new(
            "prod".into(),
            DateTime::<Utc>::UNIX_EPOCH + chrono::TimeDelta::minutes(minute),
            services.iter().map(|(n, s)| service(n, *s)).collect(),
            vec![EndpointHealth {
                name: "web".into(),
                url: "https://shop.example.com/".into(),
                ok: endpoint_ok,
                http_status: Some(if endpoint_ok { 200 } else { 503 }),
                latency_ms: Some(20),
                error: None,
            }],
            Some(CertificateHealth {
                domain: "shop.example.com".into(),
                days_left: Some(40),
                ok: true,
                verdict: "ok".into(),
                issuer: None,
                not_after: None,
                error: None,
            }),
        )
    }

    fn summary(transitions: &[Transition]) -> Vec<(Part, &str, Option<Status>, Status)> {
        transitions
            .iter()
            .map(|t| (t.kind, t.target.as_str(), t.from, t.to))
            .collect()
    }

    #[test]
    fn a_first_run_alerts_on_everything_not_healthy() {
        let now = report(
            0,
            &[("api", Status::Degraded), ("web", Status::Healthy)],
            false,
        );
        assert_eq!(
            summary(&transitions(None, &now)),
            [
                (Part::Service, "api", None, Status::Degraded),
                (Part::Endpoint, "web", None, Status::Unhealthy),
            ]
        );
        let line = serde_json::to_value(&transitions(None, &now)[1]).unwrap();
        assert_eq!(
            line,
            serde_json::json!({"time": "1970-01-01T00:00:00Z", "target": "web",
                "kind": "endpoint", "from": null, "to": "unhealthy", "reasons": ["HTTP 503"]})
        );
    }

    #[test]
    fn only_changes_alert_worse_or_recovered_never_the_same_state_again() {
        use Status::*;
        let first = report(0, &[("api", Degraded), ("web", Healthy)], true);
        let same = report(1, &[("api", Degraded), ("web", Healthy)], true);
        assert_eq!(transitions(Some(&first), &same), [], "nothing changed");
        let worse = report(2, &[("api", Unhealthy), ("web", Degraded)], false);
        assert_eq!(
            summary(&transitions(Some(&same), &worse)),
            [
                (Part::Service, "api", Some(Degraded), Unhealthy),
                (Part::Service, "web", Some(Healthy), Degraded),
                (Part::Endpoint, "web", Some(Healthy), Unhealthy),
            ]
        );
        let better = report(3, &[("api", Degraded), ("web", Healthy)], true);
        assert_eq!(
            summary(&transitions(Some(&worse), &better)),
            [
                (Part::Service, "web", Some(Degraded), Healthy),
                (Part::Endpoint, "web", Some(Unhealthy), Healthy),
            ],
            "better but not healthy is no alert; healthy again is one"
        );
        assert!(transitions(Some(&worse), &better)
            .iter()
            .all(Transition::is_recovery));
        let new_service = report(
            4,
            &[("api", Degraded), ("web", Healthy), ("job", Unhealthy)],
            true,
        );
        assert_eq!(
            summary(&transitions(Some(&better), &new_service)),
            [(Part::Service, "job", Some(Healthy), Unhealthy)],
            "a part not known before was healthy as far as anyone was told"
        );
    }

    #[test]
    fn alerts_append_one_line_each() {
        let dir = std::env::temp_dir().join(format!("sentinel-alerts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("nested").join(ALERTS_FILE);
        let now = report(0, &[("api", Status::Unhealthy)], false);
        let found = transitions(None, &now);
        append(&path, &found).unwrap();
        append(&path, &found[..1]).unwrap();
        append(&path, &[]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Transition> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2], found[0]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_transition_is_published_with_the_stacks_attributes() {
        let now = report(0, &[("api", Status::Unhealthy)], true);
        let found = transitions(None, &now);
        let (subject, body, attributes) =
            message("arn:aws:ecs:us-east-1:123456789012:cluster/prod", &found[0]).unwrap();
        assert_eq!(
            subject,
            "[HIGH] service api in prod: first check -> unhealthy"
        );
        let by_protocol: serde_json::Value = serde_json::from_str(&body).unwrap();
        let document: Transition =
            serde_json::from_str(by_protocol["default"].as_str().unwrap()).unwrap();
        assert_eq!(document, found[0]);
        assert!(by_protocol["email"]
            .as_str()
            .unwrap()
            .contains("- api is unhealthy"));
        let attributes: Vec<(&str, &str)> = attributes
            .iter()
            .map(|a| (a.name, a.value.as_str()))
            .collect();
        assert_eq!(
            attributes,
            [
                ("monitor", "health"),
                ("cluster", "prod"),
                ("kind", "[\"service\"]"),
                ("severity", "high"),
                ("service", "api")
            ]
        );
        let healed = report(1, &[("api", Status::Healthy)], true);
        let back = transitions(Some(&now), &healed);
        let (subject, _, attributes) = message("prod", &back[0]).unwrap();
        assert_eq!(subject, "[RESOLVED] service api in prod is healthy again");
        assert!(attributes
            .iter()
            .any(|a| a.name == "kind" && a.value == "[\"resolved\"]"));
    }
}
