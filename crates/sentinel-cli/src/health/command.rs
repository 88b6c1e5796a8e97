//! `ecs-sentinel health` as one command: its flags turned into what to check and how
//! (every flag checked before AWS is asked anything), the check, the report kept (only a
//! complete one), printed, and the exit code it earns.

use super::{check, exit_code, parse_endpoints, parse_list, print, HealthOptions, Style};
use crate::args::HealthArgs;
use crate::locate::{self, Aws};
use crate::services::ServiceReader;
use crate::state;
use anyhow::Context;
use sentinel_http::ProbeOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the report is kept: the state file, a timestamped copy per run in the output
/// directory (kept `keep_days`), and the alerts beside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keep {
    pub state: PathBuf,
    pub outdir: PathBuf,
    /// 0: keep every report.
    pub keep_days: u32,
}

impl Keep {
    /// From `--state`, `--outdir` (default `./data/`) and `--keep-days`.
    pub fn from_args(args: &HealthArgs) -> Self {
        Keep {
            state: locate::health_state(args.state.as_deref(), &args.outdir),
            outdir: args.outdir.clone(),
            keep_days: args.keep_days,
        }
    }

    /// The last complete report, if there is one. One that cannot be read is said on stderr
    /// and counts as none: the run goes on as a first run.
    pub fn previous(&self) -> Option<super::report::HealthReport> {
        if !self.state.exists() {
            return None;
        }
        state::read(&self.state)
            .map_err(|e| eprintln!("ecs-sentinel: {e:#}; alerting as on a first run"))
            .ok()
    }

    /// Writes a complete report: a check that could not run never gets here, so the last
    /// good state is never replaced by a failed one. Then forgets the reports older than
    /// `keep_days`.
    pub fn write(&self, report: &super::report::HealthReport) -> anyhow::Result<()> {
        let name = format!("health-{}.json", report.checked_at.format(REPORT_TIME));
        state::write(&self.outdir.join(name), report)?;
        state::write(&self.state, report)?;
        if self.keep_days > 0 {
            let oldest = report.checked_at - chrono::TimeDelta::days(i64::from(self.keep_days));
            for stale in stale_reports(&self.outdir, oldest)? {
                std::fs::remove_file(&stale)
                    .with_context(|| format!("cannot remove the old report {}", stale.display()))?;
            }
        }
        Ok(())
    }

    /// Where the alerts are appended.
    pub fn alerts(&self) -> PathBuf {
        self.outdir.join(super::alerts::ALERTS_FILE)
    }
}

/// Runs the log diagnosis (`logs diagnose`, over `--minutes`) for each service that is not
/// healthy and attaches it to the service. A diagnosis that cannot run at all is said on
/// stderr and left out: the health report stands without it.
async fn diagnose_bad_services(
    report: &mut super::report::HealthReport,
    args: &HealthArgs,
    sdk: &sentinel_aws::sdk::SdkConfig,
) {
    let bad = report.services_needing_a_look();
    if bad.is_empty() {
        return;
    }
    let options = crate::logs_cmd::LogsOptions {
        cluster: report.cluster.clone(),
        services: bad,
        minutes: args.minutes,
        limit: None,
        json: true,
        verbose: false,
        pattern: args.log_pattern.clone(),
        page_size: None,
        backoff: sentinel_aws::logs::Backoff::default(),
    };
    let clients = crate::logs_cmd::LogClients::new(sdk);
    let found = crate::logs_cmd::diagnoses(&clients.readers(), &options, chrono::Utc::now()).await;
    match found {
        Ok(found) => {
            for (name, diagnosis) in found {
                if let Some(service) = report.services.iter_mut().find(|s| s.name == name) {
                    service.diagnosis = Some(diagnosis);
                }
            }
        }
        Err(e) => eprintln!("ecs-sentinel: no log diagnosis: {e:#}"),
    }
}

/// How a run's report is named: `health-20261207T041500Z.json`.
const REPORT_TIME: &str = "%Y%m%dT%H%M%SZ";

/// The timestamped reports in `dir` checked before `oldest`, by the time in their name (a
/// file named otherwise is never touched).
fn stale_reports(
    dir: &Path,
    oldest: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list the output directory {}", dir.display()))?;
    let mut stale = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(stamp) = name
            .to_str()
            .and_then(|n| n.strip_prefix("health-"))
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        if let Ok(at) = chrono::NaiveDateTime::parse_from_str(stamp, REPORT_TIME) {
            if at.and_utc() < oldest {
                stale.push(entry.path());
            }
        }
    }
    stale.sort();
    Ok(stale)
}

/// What to check, from the flags (or their variables): `all` (or no list) means every
/// service; the domain is probed over HTTPS as an endpoint too, unless an endpoint already
/// probes that URL.
pub fn options(args: &HealthArgs) -> anyhow::Result<HealthOptions> {
    let mut services = args.services.as_deref().map(parse_list).unwrap_or_default();
    if services.iter().any(|s| s == "all") {
        services.clear();
    }
    let mut endpoints = parse_endpoints(args.endpoints.as_deref().unwrap_or_default())
        .map_err(anyhow::Error::msg)?;
    let domain = args.domain.clone().filter(|d| !d.is_empty());
    if let Some(domain) = &domain {
        let url = format!("https://{domain}/");
        if !endpoints.iter().any(|(_, u)| *u == url) {
            endpoints.push((domain.clone(), url));
        }
    }
    Ok(HealthOptions {
        cluster: args.target.cluster.clone(),
        services,
        endpoints,
        domain,
    })
}

/// How endpoints and the certificate are probed: the timeout (at least a second) and the
/// system's trusted CAs, plus those of `--ca-file`.
pub fn probe_options(timeout: u64, ca_file: Option<&Path>) -> anyhow::Result<ProbeOptions> {
    let timeout = Duration::from_secs(timeout.max(1));
    let Some(path) = ca_file else {
        return ProbeOptions::with_native_roots(timeout)
            .map_err(|e| anyhow::anyhow!("cannot load the system's trusted certificates: {e}"));
    };
    let pem = std::fs::read(path)
        .with_context(|| format!("cannot read the CA file {}", path.display()))?;
    let mut roots = sentinel_http::roots_from_pem(&pem)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    // The CA file adds to the system's roots; a system without usable roots still trusts
    // the file's.
    if let Ok(native) = ProbeOptions::with_native_roots(timeout) {
        roots.roots.extend(native.roots.roots.iter().cloned());
    }
    Ok(ProbeOptions::with_roots(
        timeout,
        std::sync::Arc::new(roots),
    ))
}

/// Runs `health`: checks now, keeps the report, prints it unless `--quiet`, and answers the
/// exit code the report earns (0 healthy, 1 degraded or unhealthy). An error means the
/// check could not run: the caller exits 2.
pub async fn run(
    args: HealthArgs,
    aws: &Aws,
    style: Style,
    out: &mut impl Write,
) -> anyhow::Result<u8> {
    let keep = Keep::from_args(&args);
    let options = options(&args)?;
    let probe = probe_options(args.timeout, args.ca_file.as_deref())?;
    let sdk = aws.config(args.target.region.clone()).await;
    let report = check(
        &ServiceReader::new(&sdk),
        &probe,
        &options,
        chrono::Utc::now(),
    )
    .await?;
    if args.quiet {
        // The status file only: no log reads, no alerts.
        keep.write(&report)?;
        return Ok(exit_code(&report));
    }
    let mut report = report;
    diagnose_bad_services(&mut report, &args, &sdk).await;
    let previous = keep.previous();
    keep.write(&report)?;
    let alerts = super::alerts::transitions(previous.as_ref(), &report);
    super::alerts::append(&keep.alerts(), &alerts)?;
    if let Some(topic) = &args.notify_topic {
        // After the line is kept: a publish that fails is an error (exit 2) a cron job
        // reports, and the line is still in alerts.jsonl.
        let notifier =
            sentinel_aws::SnsNotifier::new(aws_sdk_sns::Client::new(&sdk), topic.clone());
        for alert in &alerts {
            let (subject, message, attributes) = super::alerts::message(&report.cluster, alert)?;
            notifier
                .publish_message(&subject, &message, attributes)
                .await
                .with_context(|| {
                    format!("cannot publish the alert on {} to {topic}", alert.target)
                })?;
        }
    }
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print(&report, style, out)?;
        if !alerts.is_empty() {
            writeln!(out)?;
            for a in &alerts {
                writeln!(
                    out,
                    "alert: {} {} {} -> {}",
                    a.kind.as_str(),
                    a.target,
                    a.from.map_or("(first run)", |s| s.as_str()),
                    a.to.as_str()
                )?;
            }
            writeln!(
                out,
                "({} appended to {})",
                alerts.len(),
                keep.alerts().display()
            )?;
        }
    }
    Ok(exit_code(&report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};

    fn health(args: &[&str]) -> HealthArgs {
        let argv = ["ecs-sentinel", "health", "--cluster", "prod"]
            .into_iter()
            .chain(args.iter().copied());
        match Cli::try_from_args(argv).map(|cli| cli.command) {
            Ok(Command::Health(args)) => args,
            other => panic!("not health: {other:?}"),
        }
    }

    #[test]
    fn the_scripts_defaults_all_and_the_domain_probed_over_https() {
        let args = health(&["--service", "all", "--domain", "shop.example.com"]);
        let all = options(&args).unwrap();
        assert!(all.services.is_empty(), "all: every service");
        assert_eq!(
            all.endpoints,
            [(
                "shop.example.com".to_owned(),
                "https://shop.example.com/".to_owned()
            )]
        );
        let keep = Keep::from_args(&args);
        assert_eq!(keep.state, PathBuf::from("./data/ecs-health.json"));
        assert_eq!(keep.alerts(), PathBuf::from("./data/alerts.jsonl"));
        assert_eq!(keep.keep_days, 7);

        let probed = health(&[
            "--services",
            "api,web",
            "--endpoints",
            "site=https://shop.example.com/",
            "--domain",
            "shop.example.com",
        ]);
        let named = options(&probed).unwrap();
        assert_eq!(named.services, ["api", "web"]);
        assert_eq!(named.endpoints.len(), 1, "the domain's URL is probed once");
    }

    #[test]
    fn reports_older_than_the_days_kept_are_the_stale_ones() {
        let dir = std::env::temp_dir().join(format!("sentinel-keep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for name in [
            "health-20261120T000000Z.json",
            "health-20261201T120000Z.json",
            "health-20261206T000000Z.json",
            "health-notatime.json",
            "ecs-health.json",
            "alerts.jsonl",
        ] {
            std::fs::write(dir.join(name), "{}").unwrap();
        }
        let oldest = chrono::DateTime::parse_from_rfc3339("2026-11-30T00:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            stale_reports(&dir, oldest).unwrap(),
            [dir.join("health-20261120T000000Z.json")]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
