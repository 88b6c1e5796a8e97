//! What `ecs-sentinel health` found, as plain data: the report (its JSON is a stable schema,
//! written to stdout with `--json` and kept in the state file), and the rules that judge
//! each part healthy, degraded or unhealthy. Pure: the checks fill it in, this decides.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How well something is doing; ordered from best to worst so the report's status is the
/// worst of its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Healthy,
    Degraded,
    Unhealthy,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unhealthy => "unhealthy",
        }
    }
}

/// The whole report. Field names are the `--json` schema; add fields, never rename them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    pub status: Status,
    pub cluster: String,
    pub checked_at: DateTime<Utc>,
    pub services: Vec<ServiceHealth>,
    pub endpoints: Vec<EndpointHealth>,
    /// Absent when no domain was given.
    pub certificate: Option<CertificateHealth>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceHealth {
    pub name: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub status: Status,
    /// Why the status is not healthy, one short sentence each.
    pub reasons: Vec<String>,
    pub deployments: Vec<Deployment>,
    pub targets: Vec<Target>,
    /// The latest service events that say something went wrong, newest first.
    pub events: Vec<String>,
    /// What its logs say, for a service that is not healthy: the `logs diagnose --json`
    /// object of the check's window (categories with counts, newest samples, log groups
    /// read), or why they could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    /// PRIMARY (the one being rolled out) or ACTIVE (being replaced).
    pub status: String,
    pub rollout_state: Option<String>,
    pub rollout_reason: Option<String>,
    pub task_definition: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub failed_tasks: i32,
}

/// One registered target of one of the service's own target groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub target_group: String,
    /// `id:port`.
    pub target: String,
    /// initial, healthy, unhealthy, unused, draining, unavailable.
    pub state: String,
    pub reason: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointHealth {
    pub name: String,
    pub url: String,
    /// True only when an HTTP answer with a 2xx or 3xx status arrived.
    pub ok: bool,
    pub http_status: Option<u16>,
    pub latency_ms: Option<u64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateHealth {
    pub domain: String,
    pub days_left: Option<i64>,
    /// False when the certificate fails (invalid, unreadable, or expiring within the fail
    /// threshold); a warning keeps it true and degrades the report.
    pub ok: bool,
    /// ok, warn or fail.
    pub verdict: String,
    pub issuer: Option<String>,
    pub not_after: Option<String>,
    pub error: Option<String>,
}

/// What DescribeServices says of one service, before judging it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceFacts {
    pub name: String,
    /// ACTIVE, DRAINING or INACTIVE; MISSING when ECS does not know the service.
    pub status: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub deployments: Vec<Deployment>,
    pub targets: Vec<Target>,
    /// Service event messages, newest first (as ECS lists them).
    pub events: Vec<String>,
}

/// How many of a service's events the report keeps.
pub const EVENTS_KEPT: usize = 3;

/// Target states that mean the load balancer sends the target no traffic because of a
/// problem; `initial` and `draining` are passing states of a deployment.
fn target_failing(state: &str) -> bool {
    matches!(state, "unhealthy" | "unused" | "unavailable")
}

/// Service events worth an operator's eye: ECS's messages when it cannot place, start or
/// keep tasks, or targets fail. Steady state and routine starts and registrations are not.
pub fn event_matters(message: &str) -> bool {
    let text = message.to_ascii_lowercase();
    [
        "unable",
        "failed",
        "failure",
        "unhealthy",
        "error",
        "insufficient",
        "impaired",
    ]
    .iter()
    .any(|word| text.contains(word))
}

/// Judges one service: the worst of what its counts, deployments and targets show.
pub fn judge_service(facts: ServiceFacts) -> ServiceHealth {
    let mut status = Status::Healthy;
    let mut reasons = Vec::new();
    let mut flag = |level: Status, reason: String| {
        status = status.max(level);
        reasons.push(reason);
    };
    if facts.status != "ACTIVE" {
        let what = if facts.status == "MISSING" {
            "ECS does not know this service".to_owned()
        } else {
            format!("service is {}", facts.status)
        };
        flag(Status::Unhealthy, what);
    } else if facts.desired > 0 && facts.running == 0 {
        flag(
            Status::Unhealthy,
            format!("no task running of {} desired", facts.desired),
        );
    } else if facts.running < facts.desired {
        flag(
            Status::Degraded,
            format!("{} of {} tasks running", facts.running, facts.desired),
        );
    }
    for deployment in &facts.deployments {
        match deployment.rollout_state.as_deref() {
            Some("FAILED") => flag(
                Status::Unhealthy,
                format!("deployment {} failed", deployment.id),
            ),
            Some("IN_PROGRESS") if deployment.status == "PRIMARY" => flag(
                Status::Degraded,
                format!("deployment {} in progress", deployment.id),
            ),
            _ => {}
        }
        if deployment.failed_tasks > 0 {
            flag(
                Status::Degraded,
                format!(
                    "{} failed task{} in deployment {}",
                    deployment.failed_tasks,
                    if deployment.failed_tasks == 1 {
                        ""
                    } else {
                        "s"
                    },
                    deployment.id
                ),
            );
        }
    }
    let failing = facts
        .targets
        .iter()
        .filter(|t| target_failing(&t.state))
        .count();
    if failing > 0 {
        let level = if failing == facts.targets.len() {
            Status::Unhealthy
        } else {
            Status::Degraded
        };
        flag(
            level,
            format!("{failing} of {} targets failing", facts.targets.len()),
        );
    }
    ServiceHealth {
        name: facts.name,
        desired: facts.desired,
        running: facts.running,
        pending: facts.pending,
        status,
        reasons,
        deployments: facts.deployments,
        targets: facts.targets,
        events: facts
            .events
            .into_iter()
            .filter(|m| event_matters(m))
            .take(EVENTS_KEPT)
            .collect(),
        diagnosis: None,
    }
}

impl HealthReport {
    /// The report of these parts; its status is the worst of theirs. A failed endpoint is
    /// unhealthy; a certificate that warns degrades, one that fails is unhealthy.
    pub fn new(
        cluster: String,
        checked_at: DateTime<Utc>,
        services: Vec<ServiceHealth>,
        endpoints: Vec<EndpointHealth>,
        certificate: Option<CertificateHealth>,
    ) -> Self {
        let certificate_status = certificate.as_ref().map(|c| match c.verdict.as_str() {
            "ok" if c.ok => Status::Healthy,
            "warn" if c.ok => Status::Degraded,
            _ => Status::Unhealthy,
        });
        let status = services
            .iter()
            .map(|s| s.status)
            .chain(endpoints.iter().map(|e| {
                if e.ok {
                    Status::Healthy
                } else {
                    Status::Unhealthy
                }
            }))
            .chain(certificate_status)
            .max()
            .unwrap_or(Status::Healthy);
        HealthReport {
            status,
            cluster,
            checked_at,
            services,
            endpoints,
            certificate,
        }
    }

    /// The services that need a look (not healthy), for `logs auto-diagnose`.
    pub fn services_needing_a_look(&self) -> Vec<String> {
        self.services
            .iter()
            .filter(|s| s.status != Status::Healthy)
            .map(|s| s.name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(rollout: &str, failed: i32) -> Deployment {
        Deployment {
            id: "ecs-svc/1".into(),
            status: "PRIMARY".into(),
            rollout_state: Some(rollout.into()),
            rollout_reason: None,
            task_definition: "api:7".into(),
            desired: 2,
            running: 2,
            pending: 0,
            failed_tasks: failed,
        }
    }

    fn target(state: &str) -> Target {
        Target {
            target_group: "tg".into(),
            target: "10.0.0.1:80".into(),
            state: state.into(),
            reason: None,
            description: None,
        }
    }

    fn facts(running: i32) -> ServiceFacts {
        ServiceFacts {
            name: "api".into(),
            status: "ACTIVE".into(),
            desired: 2,
            running,
            pending: 0,
            deployments: vec![deployment("COMPLETED", 0)],
            targets: vec![target("healthy"), target("healthy")],
            events: vec![],
        }
    }

    #[test]
    fn each_rule_decides_the_status_it_names() {
        let with = |change: &dyn Fn(&mut ServiceFacts)| {
            let mut f = facts(2);
            change(&mut f);
            let judged = judge_service(f);
            (judged.status, judged.reasons)
        };
        type Change = Box<dyn Fn(&mut ServiceFacts)>;
        let cases: Vec<(&str, Change, Status, &str)> = vec![
            (
                "all running, rollout done, targets healthy",
                Box::new(|_| {}),
                Status::Healthy,
                "",
            ),
            (
                "one of two running",
                Box::new(|f| f.running = 1),
                Status::Degraded,
                "1 of 2 tasks running",
            ),
            (
                "none running",
                Box::new(|f| f.running = 0),
                Status::Unhealthy,
                "no task running of 2 desired",
            ),
            (
                "desired 0 is not down",
                Box::new(|f| {
                    f.desired = 0;
                    f.running = 0
                }),
                Status::Healthy,
                "",
            ),
            (
                "draining service",
                Box::new(|f| f.status = "DRAINING".into()),
                Status::Unhealthy,
                "service is DRAINING",
            ),
            (
                "unknown to ECS",
                Box::new(|f| f.status = "MISSING".into()),
                Status::Unhealthy,
                "ECS does not know this service",
            ),
            (
                "rollout failed",
                Box::new(|f| f.deployments = vec![deployment("FAILED", 0)]),
                Status::Unhealthy,
                "deployment ecs-svc/1 failed",
            ),
            (
                "rollout in progress",
                Box::new(|f| f.deployments = vec![deployment("IN_PROGRESS", 0)]),
                Status::Degraded,
                "deployment ecs-svc/1 in progress",
            ),
            (
                "an old deployment's state does not count",
                Box::new(|f| {
                    let mut d = deployment("IN_PROGRESS", 0);
                    d.status = "ACTIVE".into();
                    f.deployments = vec![d]
                }),
                Status::Healthy,
                "",
            ),
            (
                "failed tasks in the rollout",
                Box::new(|f| f.deployments = vec![deployment("COMPLETED", 3)]),
                Status::Degraded,
                "3 failed tasks in deployment ecs-svc/1",
            ),
            (
                "one target failing",
                Box::new(|f| f.targets[1] = target("unhealthy")),
                Status::Degraded,
                "1 of 2 targets failing",
            ),
            (
                "every target failing",
                Box::new(|f| f.targets = vec![target("unused"), target("unavailable")]),
                Status::Unhealthy,
                "2 of 2 targets failing",
            ),
            (
                "draining and initial targets are a deployment passing",
                Box::new(|f| f.targets = vec![target("draining"), target("initial")]),
                Status::Healthy,
                "",
            ),
        ];
        for (case, change, status, reason) in cases {
            let (got, reasons) = with(&*change);
            assert_eq!(got, status, "{case}");
            assert_eq!(
                reasons.first().map(String::as_str).unwrap_or(""),
                reason,
                "{case}"
            );
        }
    }

    #[test]
    fn only_events_that_matter_are_kept_newest_first() {
        let mut f = facts(2);
        f.events = vec![
            "(service api) has reached a steady state.".into(),
            "(service api) was unable to place a task because no container instance met all of its requirements.".into(),
            "(service api) has started 1 tasks: (task 1).".into(),
            "(service api) (port 80) is unhealthy in (target-group tg) due to (reason Health checks failed).".into(),
            "(service api) failed to launch a task with (error ECS was unable to assume the role).".into(),
            "(service api) deployment failed: tasks failed to start.".into(),
        ];
        let judged = judge_service(f);
        assert_eq!(judged.events.len(), EVENTS_KEPT);
        assert!(judged.events[0].contains("unable to place"));
        assert!(judged.events[1].contains("is unhealthy"));
        assert!(judged.events[2].contains("failed to launch"));
    }

    fn endpoint(ok: bool) -> EndpointHealth {
        EndpointHealth {
            name: "web".into(),
            url: "http://127.0.0.1/".into(),
            ok,
            http_status: ok.then_some(200),
            latency_ms: ok.then_some(3),
            error: (!ok).then(|| "connection refused".into()),
        }
    }

    fn certificate(verdict: &str, ok: bool) -> CertificateHealth {
        CertificateHealth {
            domain: "example.com".into(),
            days_left: Some(10),
            ok,
            verdict: verdict.into(),
            issuer: None,
            not_after: None,
            error: None,
        }
    }

    #[test]
    fn the_report_is_as_bad_as_its_worst_part() {
        let healthy = judge_service(facts(2));
        let degraded = judge_service(facts(1));
        let now = Utc::now();
        let report = |services: Vec<ServiceHealth>, endpoints, certificate| {
            HealthReport::new("prod".into(), now, services, endpoints, certificate).status
        };
        assert_eq!(report(vec![], vec![], None), Status::Healthy);
        assert_eq!(
            report(
                vec![healthy.clone()],
                vec![endpoint(true)],
                Some(certificate("ok", true))
            ),
            Status::Healthy
        );
        assert_eq!(
            report(
                vec![healthy.clone(), degraded.clone()],
                vec![endpoint(true)],
                None
            ),
            Status::Degraded
        );
        assert_eq!(
            report(vec![healthy.clone()], vec![endpoint(false)], None),
            Status::Unhealthy,
            "a down endpoint is never healthy"
        );
        assert_eq!(
            report(
                vec![healthy.clone()],
                vec![],
                Some(certificate("warn", true))
            ),
            Status::Degraded
        );
        assert_eq!(
            report(vec![healthy], vec![], Some(certificate("fail", false))),
            Status::Unhealthy
        );
        let with_degraded = HealthReport::new("prod".into(), now, vec![degraded], vec![], None);
        assert_eq!(
            with_degraded.services_needing_a_look(),
            vec!["api".to_owned()]
        );
    }

    #[test]
    fn the_json_schema_has_the_documented_names() {
        let report = HealthReport::new(
            "prod".into(),
            "2026-11-30T08:00:00Z".parse().unwrap_or_default(),
            vec![judge_service(facts(2))],
            vec![endpoint(false)],
            Some(certificate("warn", true)),
        );
        let json = serde_json::to_value(&report).unwrap_or_default();
        assert_eq!(json["status"], "unhealthy");
        assert_eq!(json["cluster"], "prod");
        assert_eq!(json["checkedAt"], "2026-11-30T08:00:00Z");
        let service = &json["services"][0];
        for field in [
            "name",
            "desired",
            "running",
            "pending",
            "status",
            "deployments",
            "targets",
        ] {
            assert!(service.get(field).is_some(), "services[].{field}");
        }
        assert_eq!(service["deployments"][0]["rolloutState"], "COMPLETED");
        let endpoint = &json["endpoints"][0];
        for field in ["name", "url", "ok", "httpStatus", "latencyMs", "error"] {
            assert!(endpoint.get(field).is_some(), "endpoints[].{field}");
        }
        for field in ["domain", "daysLeft", "ok", "error"] {
            assert!(
                json["certificate"].get(field).is_some(),
                "certificate.{field}"
            );
        }
        let back: HealthReport = serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, report, "the state file reads back as written");
    }
}
