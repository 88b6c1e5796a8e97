//! `ecs-sentinel health`: is the cluster's service fleet healthy right now? Services
//! (counts, rollouts, failed tasks, the events that matter, their own target groups),
//! HTTP endpoints and the domain's TLS certificate, checked concurrently, judged by
//! [`report`], printed as a table or JSON. Nothing here reads as healthy without an answer:
//! a probe that got no HTTP answer fails, and an AWS error is "could not check" (exit 2),
//! never "no problems".

pub mod alerts;
pub mod command;
pub mod report;

pub use command::run;

use crate::render::table;
use crate::services::{ServiceReader, CONCURRENCY};
use futures::stream::{self, StreamExt};
use report::{CertificateHealth, EndpointHealth, HealthReport, ServiceHealth, Status};
use sentinel_http::{CertPolicy, ProbeOptions};
use std::io::Write;

/// Exit codes, as cron jobs and CI read them.
pub const EXIT_HEALTHY: u8 = 0;
pub const EXIT_UNHEALTHY: u8 = 1;
pub const EXIT_COULD_NOT_CHECK: u8 = 2;

/// What to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthOptions {
    pub cluster: String,
    /// The services to check; empty means every service of the cluster.
    pub services: Vec<String>,
    /// HTTP endpoints to probe, as (name, url).
    pub endpoints: Vec<(String, String)>,
    /// The domain whose certificate to check (`host` or `host:port`).
    pub domain: Option<String>,
}

/// Splits `name=url` pairs separated by commas or whitespace (the `ECS_HTTP_ENDPOINTS`
/// format). A bare URL is named after its host.
pub fn parse_endpoints(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, url) = match pair.split_once('=') {
                // A query string may hold '=': only a name before "://" is a name.
                Some((name, url)) if !name.contains("://") => (name.to_owned(), url.to_owned()),
                _ => (host_of(pair).to_owned(), pair.to_owned()),
            };
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "endpoint {pair:?}: expected name=http(s)://host/path, found no http:// or https:// URL"
                ));
            }
            if name.is_empty() {
                return Err(format!("endpoint {pair:?}: the name before '=' is empty"));
            }
            Ok((name, url))
        })
        .collect()
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// Splits a service list given as commas or whitespace (the `ECS_SERVICES` format).
pub fn parse_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Runs every check; an error means the services could not be checked at all.
pub async fn check(
    reader: &ServiceReader,
    probe: &ProbeOptions,
    options: &HealthOptions,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<HealthReport> {
    let services = check_services(reader, options);
    let endpoints = stream::iter(options.endpoints.iter())
        .map(|(name, url)| probe_endpoint(name, url, probe))
        .buffered(CONCURRENCY)
        .collect::<Vec<_>>();
    let certificate = async {
        match &options.domain {
            Some(domain) => Some(check_certificate(domain, probe).await),
            None => None,
        }
    };
    let (services, endpoints, certificate) = tokio::join!(services, endpoints, certificate);
    Ok(HealthReport::new(
        options.cluster.clone(),
        now,
        services?,
        endpoints,
        certificate,
    ))
}

async fn check_services(
    reader: &ServiceReader,
    options: &HealthOptions,
) -> anyhow::Result<Vec<ServiceHealth>> {
    let cluster = &options.cluster;
    let names = reader.named_or_all(cluster, &options.services).await?;
    let described = reader
        .describe(cluster, &names)
        .await
        .map_err(|e| anyhow::anyhow!("cannot describe the services of cluster {cluster}: {e}"))?;
    let described = reader.with_targets(described).await.map_err(|e| {
        anyhow::anyhow!("cannot read the target health of cluster {cluster}'s services: {e}")
    })?;
    Ok(described
        .into_iter()
        .map(|d| report::judge_service(d.facts))
        .collect())
}

async fn probe_endpoint(name: &str, url: &str, probe: &ProbeOptions) -> EndpointHealth {
    let outcome = sentinel_http::probe(url, probe).await;
    EndpointHealth {
        name: name.to_owned(),
        url: url.to_owned(),
        ok: outcome.ok,
        http_status: outcome.http_status,
        latency_ms: outcome.latency_ms,
        error: outcome.error,
    }
}

/// Certificate thresholds: warn under 14 days, fail under 3.
pub const CERTIFICATE_POLICY: CertPolicy = CertPolicy {
    warn_days: 14,
    fail_days: 3,
};

async fn check_certificate(domain: &str, probe: &ProbeOptions) -> CertificateHealth {
    let (host, port) = domain
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
        .unwrap_or((domain, 443));
    let found = sentinel_http::inspect_certificate(
        host,
        port,
        probe,
        CERTIFICATE_POLICY,
        std::time::SystemTime::now(),
    )
    .await;
    let verdict = match found.verdict {
        sentinel_http::CertVerdict::Ok => "ok",
        sentinel_http::CertVerdict::Warn => "warn",
        sentinel_http::CertVerdict::Fail => "fail",
    };
    CertificateHealth {
        domain: domain.to_owned(),
        days_left: found.days_left,
        ok: verdict != "fail",
        verdict: verdict.to_owned(),
        issuer: found.issuer,
        not_after: found.not_after,
        error: found.error,
    }
}

/// The exit code a report earns.
pub fn exit_code(report: &HealthReport) -> u8 {
    match report.status {
        Status::Healthy => EXIT_HEALTHY,
        Status::Degraded | Status::Unhealthy => EXIT_UNHEALTHY,
    }
}

/// Colours for a terminal that wants them (`NO_COLOR` unset, stdout a terminal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub colour: bool,
}

impl Style {
    /// Colour only on a terminal and only when `NO_COLOR` is unset or empty
    /// (https://no-color.org).
    pub fn for_stdout() -> Self {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            colour: !no_color && std::io::stdout().is_terminal(),
        }
    }

    fn status(self, status: Status) -> String {
        let word = status.as_str();
        if !self.colour {
            return word.to_owned();
        }
        let code = match status {
            Status::Healthy => "32",
            Status::Degraded => "33",
            Status::Unhealthy => "31",
        };
        format!("\x1b[{code}m{word}\x1b[0m")
    }
}

/// The report as an operator reads it.
pub fn print(report: &HealthReport, style: Style, out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "cluster {}: {} (checked {})\n",
        report.cluster,
        style.status(report.status),
        report.checked_at.format("%Y-%m-%d %H:%M:%S UTC")
    )?;
    if report.services.is_empty() {
        writeln!(out, "no services")?;
    } else {
        let rows: Vec<Vec<String>> = report
            .services
            .iter()
            .map(|s| {
                let rollout = s
                    .deployments
                    .iter()
                    .find(|d| d.status == "PRIMARY")
                    .and_then(|d| d.rollout_state.clone())
                    .unwrap_or_else(|| "-".into());
                let targets = if s.targets.is_empty() {
                    "-".to_owned()
                } else {
                    let healthy = s.targets.iter().filter(|t| t.state == "healthy").count();
                    format!("{healthy}/{} healthy", s.targets.len())
                };
                vec![
                    s.name.clone(),
                    style.status(s.status),
                    format!("{}/{}", s.running, s.desired),
                    s.pending.to_string(),
                    rollout,
                    targets,
                    s.reasons.join("; "),
                ]
            })
            .collect();
        out.write_all(
            table(
                &[
                    "SERVICE", "STATUS", "RUNNING", "PENDING", "ROLLOUT", "TARGETS", "WHY",
                ],
                &rows,
            )
            .as_bytes(),
        )?;
        for service in report
            .services
            .iter()
            .filter(|s| s.status != Status::Healthy)
        {
            for target in service.targets.iter().filter(|t| t.state != "healthy") {
                writeln!(
                    out,
                    "  {} target {} {}: {}",
                    service.name,
                    target.target,
                    target.state,
                    [target.reason.as_deref(), target.description.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" — ")
                )?;
            }
            for event in &service.events {
                writeln!(out, "  {} event: {event}", service.name)?;
            }
            if let Some(diagnosis) = &service.diagnosis {
                for line in diagnosis_lines(diagnosis) {
                    writeln!(out, "  {} logs: {line}", service.name)?;
                }
            }
        }
    }
    if !report.endpoints.is_empty() {
        writeln!(out)?;
        let rows: Vec<Vec<String>> = report
            .endpoints
            .iter()
            .map(|e| {
                vec![
                    e.name.clone(),
                    style.status(if e.ok {
                        Status::Healthy
                    } else {
                        Status::Unhealthy
                    }),
                    e.http_status.map_or("-".into(), |s| s.to_string()),
                    e.latency_ms.map_or("-".into(), |ms| format!("{ms} ms")),
                    e.url.clone(),
                    e.error.clone().unwrap_or_default(),
                ]
            })
            .collect();
        out.write_all(
            table(
                &["ENDPOINT", "STATUS", "HTTP", "LATENCY", "URL", "ERROR"],
                &rows,
            )
            .as_bytes(),
        )?;
    }
    if let Some(c) = &report.certificate {
        let status = match c.verdict.as_str() {
            "ok" => Status::Healthy,
            "warn" => Status::Degraded,
            _ => Status::Unhealthy,
        };
        let mut facts = Vec::new();
        if let Some(days) = c.days_left {
            facts.push(format!("{days} days left"));
        }
        if let Some(not_after) = &c.not_after {
            facts.push(format!("expires {not_after}"));
        }
        if let Some(issuer) = &c.issuer {
            facts.push(format!("issuer {issuer}"));
        }
        if let Some(error) = &c.error {
            facts.push(error.clone());
        }
        writeln!(
            out,
            "\ncertificate {}: {} ({})",
            c.domain,
            style.status(status),
            facts.join(", ")
        )?;
    }
    Ok(())
}

/// A service's log diagnosis in a few lines: where and how much was read, the error
/// categories by count, and the first sample of the commonest.
fn diagnosis_lines(diagnosis: &serde_json::Value) -> Vec<String> {
    let group = diagnosis["logGroup"].as_str().unwrap_or("?");
    if let Some(error) = diagnosis["error"].as_str() {
        return vec![format!("could not be read ({group}): {error}")];
    }
    let mut counts: Vec<(&str, u64)> = diagnosis["categories"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(category, n)| Some((category.as_str(), n.as_u64()?)))
        .collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let errors: u64 = counts.iter().map(|(_, n)| n).sum();
    let by_category = counts
        .iter()
        .map(|(category, n)| format!("{category} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut lines = vec![format!(
        "{} lines in {group}, {errors} errors{}",
        diagnosis["events"].as_u64().unwrap_or(0),
        if by_category.is_empty() {
            String::new()
        } else {
            format!(": {by_category}")
        }
    )];
    if let Some((top, _)) = counts.first() {
        if let Some(sample) = diagnosis["samples"][*top]
            .as_array()
            .and_then(|samples| samples.first())
            .and_then(|s| s.as_str())
        {
            lines.push(format!("{top}, for example: {sample}"));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagnosis_reads_as_a_few_lines() {
        let diagnosis = serde_json::json!({"service": "api", "logGroup": "/ecs/api", "events": 120,
            "categories": {"timeout": 3, "database": 8},
            "samples": {"database": ["db down", "connection refused by db:5432"], "timeout": ["t"]}});
        assert_eq!(
            diagnosis_lines(&diagnosis),
            [
                "120 lines in /ecs/api, 11 errors: database 8, timeout 3",
                "database, for example: db down"
            ]
        );
        let unreadable = serde_json::json!({"service": "api", "logGroup": "/ecs/api",
            "error": "cannot read log group /ecs/api: denied"});
        assert_eq!(
            diagnosis_lines(&unreadable),
            ["could not be read (/ecs/api): cannot read log group /ecs/api: denied"]
        );
    }

    #[test]
    fn endpoints_parse_from_the_scripts_variable() {
        assert_eq!(
            parse_endpoints("web=https://example.com/health, api=http://10.0.0.1:8080/ping?x=1"),
            Ok(vec![
                ("web".into(), "https://example.com/health".into()),
                ("api".into(), "http://10.0.0.1:8080/ping?x=1".into()),
            ])
        );
        assert_eq!(
            parse_endpoints("https://example.com/a?b=c"),
            Ok(vec![(
                "example.com".into(),
                "https://example.com/a?b=c".into()
            )]),
            "a bare URL is named after its host, and '=' in its query is not a name"
        );
        assert_eq!(parse_endpoints(""), Ok(vec![]));
        let err = parse_endpoints("web=example.com").err().unwrap_or_default();
        assert!(err.contains("no http:// or https:// URL"), "{err}");
        assert!(parse_endpoints("=http://x/").is_err());
    }

    #[test]
    fn service_lists_take_commas_or_spaces() {
        assert_eq!(
            parse_list("api, web  worker,"),
            vec!["api", "web", "worker"]
        );
    }
}
