//! The command line and one run of it, in-process: `main` only supplies the real arguments,
//! environment and standard streams.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use clap::{ArgGroup, Args, Parser, Subcommand};
use sentinel_http::{request, ProbeOptions, RootCertStore};
use tokio::time::Instant;

use crate::agent::{assess, AgentHealth};
use crate::cloudwatch::{report, sdk_config};
use crate::datum::{resolve_cluster, Datum, Subject, DEFAULT_NAMESPACE};
use crate::ecs_config::cluster_from_config;
use crate::identity::{choose_region, identify, Sources};
use crate::install::{self, InstallError};
use crate::{imds, ssm, systemd};

/// Exit code: the agent is up (and that was reported).
pub const EXIT_UP: u8 = 0;
/// Exit code: the agent is down (and that was reported).
pub const EXIT_DOWN: u8 = 1;
/// Exit code: nothing could be reported (no region, no instance id, PutMetricData failed),
/// or `install` could not write its files.
pub const EXIT_COULD_NOT_REPORT: u8 = 2;

pub const DEFAULT_INTROSPECTION_URL: &str = "http://localhost:51678/v1/metadata";
pub const DEFAULT_ECS_CONFIG: &str = "/etc/ecs/ecs.config";

/// IMDS answers in milliseconds on EC2; elsewhere 169.254.169.254 may not even refuse, so a
/// short limit keeps an ECS Anywhere host without `--anywhere` from spending its budget there.
const IMDS_TIMEOUT: Duration = Duration::from_secs(2);
const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Parser, Debug)]
#[command(
    name = "ecs-agent-probe",
    version,
    about = "Checks the ECS agent on this instance once and puts AgentDown (0 up, 1 down) into CloudWatch.",
    long_about = "Checks the ECS agent on this instance once and puts AgentDown (0 up, 1 down) into \
CloudWatch, with dimensions ClusterName+InstanceId and ClusterName. Run it every minute from a \
systemd timer or cron (see `install`). Exit 0 agent up, 1 agent down, 2 could not report.\n\n\
Environment: AWS_REGION (or AWS_DEFAULT_REGION) when --region is absent; \
AWS_EC2_METADATA_SERVICE_ENDPOINT (or _ENDPOINT_MODE=IPv6) when --imds-endpoint is absent; \
AWS_EC2_METADATA_DISABLED=true as --anywhere; AWS_ENDPOINT_URL and the credential variables as the AWS SDK reads them.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    probe: ProbeArgs,
}

#[derive(Args, Debug, Clone)]
struct ProbeArgs {
    /// The agent's introspection metadata URL.
    #[arg(long, value_name = "URL", default_value = DEFAULT_INTROSPECTION_URL)]
    introspection_url: String,
    /// How long the agent may take to answer (3, 3s, 500ms); slower counts as down (stuck).
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    timeout: Duration,
    /// The whole run's time, reporting and its retries included.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = parse_duration)]
    budget: Duration,
    /// How long one PutMetricData attempt may take before it is retried (within --budget).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    report_timeout: Duration,
    /// Also report this systemd unit's state (e.g. `ecs`); informational only.
    #[arg(long, value_name = "UNIT")]
    systemd_unit: Option<String>,
    /// The instance metadata service [default: AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254].
    #[arg(long, value_name = "URL")]
    imds_endpoint: Option<String>,
    /// ECS Anywhere: skip IMDS, take the instance from the SSM registration file.
    #[arg(long)]
    anywhere: bool,
    /// The SSM agent's registration file (ECS Anywhere's managed instance id and region).
    #[arg(long, value_name = "FILE", default_value = ssm::DEFAULT_REGISTRATION_PATH)]
    ssm_registration: PathBuf,
    /// The agent's configuration, for the cluster when the agent cannot say.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_ECS_CONFIG)]
    ecs_config: PathBuf,
    /// The region to report to [default: AWS_REGION, else IMDS, else the SSM registration].
    #[arg(long)]
    region: Option<String>,
    /// The CloudWatch namespace.
    #[arg(long, default_value = DEFAULT_NAMESPACE)]
    namespace: String,
    /// Print the datum as JSON instead of sending it (exit 0 or 1 as the agent is).
    #[arg(long)]
    dry_run: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Installs a schedule that runs the probe every minute: a systemd service and timer
    /// (--systemd), or prints the /etc/cron.d entry (--cron). Probe flags go after `--`.
    Install(InstallArgs),
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("scheduler").required(true).args(["systemd", "cron"])))]
struct InstallArgs {
    /// Write ecs-agent-probe.service and ecs-agent-probe.timer.
    #[arg(long)]
    systemd: bool,
    /// Print the cron entry for /etc/cron.d/ecs-agent-probe.
    #[arg(long)]
    cron: bool,
    /// Where the systemd units go.
    #[arg(long, value_name = "DIR", default_value = install::DEFAULT_UNIT_DIR, conflicts_with = "cron")]
    dir: PathBuf,
    /// The installed probe binary (absolute path).
    #[arg(long, value_name = "PATH", default_value = install::DEFAULT_BINARY)]
    binary: String,
    /// Replace existing unit files.
    #[arg(long, conflicts_with = "cron")]
    force: bool,
    /// Probe flags for the scheduled runs (after `--`), e.g. `-- --systemd-unit ecs`.
    #[arg(last = true, value_name = "PROBE FLAGS")]
    probe_flags: Vec<String>,
}

/// The environment variables a run reads, captured once so tests can give their own.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// This process's environment (variables that are not UTF-8 are left out: none of the
    /// ones read here can usefully be).
    pub fn process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// A variable's value, with blank values counted as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// Parses a duration: seconds (`3`, `1.5`) or with a unit (`500ms`, `3s`, `1m`); must be > 0.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (3, 3s, 500ms, 1m)"))?;
    let seconds = value * scale;
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 3600.0 {
        return Err(format!("{text:?} must be more than 0 and at most an hour"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Runs the command line `args` (program name first) and returns the process exit code.
///
/// Everything the run prints goes to `out` and `err`, and the environment is read only from
/// `env`, so a test can run it in-process and see exactly what an operator would.
pub async fn run<I, T>(args: I, env: &Env, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version come here too, with exit code 0 and stdout as their place.
            let mut text = e.render().to_string();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            let _ = if e.use_stderr() {
                err.write_all(text.as_bytes())
            } else {
                out.write_all(text.as_bytes())
            };
            return u8::try_from(e.exit_code()).unwrap_or(EXIT_COULD_NOT_REPORT);
        }
    };
    match cli.command {
        Some(Command::Install(args)) => match install(args, out, err) {
            Ok(()) => 0,
            Err(e) => {
                let _ = writeln!(err, "ecs-agent-probe install: {e}");
                EXIT_COULD_NOT_REPORT
            }
        },
        None => probe(cli.probe, env, out, err).await,
    }
}

fn install(args: InstallArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), String> {
    // The flags are checked now, not at the first scheduled run, where a typo would only
    // show as a missing metric.
    let flags = std::iter::once("ecs-agent-probe".to_string()).chain(args.probe_flags.clone());
    match Cli::try_parse_from(flags) {
        Err(e) => {
            return Err(format!(
                "the probe flags after `--` are not valid: {}",
                e.render()
            ))
        }
        Ok(cli) if cli.command.is_some() => {
            return Err("only probe flags go after `--`, not a command".to_string())
        }
        // A scheduled dry run would report nothing, every minute, without a sign.
        Ok(cli) if cli.probe.dry_run => {
            return Err("--dry-run would make the scheduled runs report nothing".to_string())
        }
        Ok(_) => {}
    }
    let command = install::command_line(&args.binary, &args.probe_flags)
        .map_err(|e: InstallError| e.to_string())?;
    let io = |e: std::io::Error| e.to_string();
    if args.cron {
        // The entry alone on stdout, so `install --cron > /etc/cron.d/ecs-agent-probe` works.
        write!(out, "{}", install::cron_entry(&command)).map_err(io)?;
        writeln!(
            err,
            "put this in {} (mode 0644), e.g. ecs-agent-probe install --cron | sudo tee {}",
            install::CRON_FILE,
            install::CRON_FILE
        )
        .map_err(io)?;
        return Ok(());
    }
    let written =
        install::write_systemd_units(&args.dir, &command, args.force).map_err(|e| e.to_string())?;
    for path in written {
        writeln!(out, "wrote {}", path.display()).map_err(io)?;
    }
    writeln!(out, "next: {}", install::NEXT_STEP).map_err(io)?;
    Ok(())
}

async fn probe(args: ProbeArgs, env: &Env, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let deadline = Instant::now() + args.budget;
    let observed_at = SystemTime::now();
    let given_region = args
        .region
        .clone()
        .filter(|r| !r.trim().is_empty())
        .or_else(|| env.get("AWS_REGION").map(str::to_string))
        .or_else(|| env.get("AWS_DEFAULT_REGION").map(str::to_string));
    let imds_disabled = args.anywhere
        || env
            .get(imds::DISABLED_ENV)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let sources = Sources {
        imds_endpoint: (!imds_disabled).then(|| {
            args.imds_endpoint
                .clone()
                .or_else(|| env.get(imds::ENDPOINT_ENV).map(str::to_string))
                .unwrap_or_else(|| imds::default_endpoint(env.get(imds::ENDPOINT_MODE_ENV)))
        }),
        // Two rounds (the token, then the reads side by side) must fit the budget.
        imds_timeout: IMDS_TIMEOUT.min(args.budget / 2),
        ssm_registration: args.ssm_registration.clone(),
        want_region: given_region.is_none(),
    };
    // A budget the agent's answer can use up leaves nothing to report with.
    if args.timeout >= args.budget {
        let _ = writeln!(
            err,
            "ecs-agent-probe: --timeout ({}s) must be shorter than --budget ({}s), which also covers reporting",
            args.timeout.as_secs_f64(),
            args.budget.as_secs_f64()
        );
        return EXIT_COULD_NOT_REPORT;
    }
    let agent_timeout = args.timeout;

    // The three looks are independent; side by side the run costs the slowest, not the sum.
    // Each is bounded by its own limit, all of them within the budget.
    let (answer, identity, unit) = tokio::join!(
        ask_agent(&args.introspection_url, agent_timeout),
        identify(&sources),
        async {
            match &args.systemd_unit {
                Some(unit) => {
                    Some(systemd::unit_state(unit, SYSTEMCTL_TIMEOUT.min(args.budget)).await)
                }
                None => None,
            }
        }
    );

    let answer = answer.as_ref().map(|r| (r.status, r.body.as_slice()));
    let health = match assess(answer, agent_timeout) {
        Ok(health) => health,
        Err(e) => {
            let _ = writeln!(err, "ecs-agent-probe: {e}");
            return EXIT_COULD_NOT_REPORT;
        }
    };
    let config_cluster = read_ecs_config(&args.ecs_config, err);
    let cluster = resolve_cluster(&health, config_cluster.as_deref());

    let identity = match identity {
        Ok(identity) => identity,
        Err(e) => return could_not_report(err, &health, &cluster, &e.to_string()),
    };
    let Some(region) = choose_region(given_region.as_deref(), identity.region.as_deref()) else {
        return could_not_report(
            err,
            &health,
            &cluster,
            "no region: pass --region or set AWS_REGION (neither IMDS nor the SSM registration gave one)",
        );
    };
    let datum = Datum::new(
        &args.namespace,
        &health,
        Subject {
            cluster,
            instance_id: identity.instance_id,
            region,
        },
        unit,
        Some(observed_at),
    );
    let code = if datum.agent_down() {
        EXIT_DOWN
    } else {
        EXIT_UP
    };

    if args.dry_run {
        return match serde_json::to_string(&datum) {
            Ok(json) if writeln!(out, "{json}").is_ok() => code,
            _ => EXIT_COULD_NOT_REPORT,
        };
    }

    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return could_not_report(
            err,
            &health,
            &datum.cluster,
            "the run's budget was spent before reporting (raise --budget)",
        );
    }
    // The SDK's own operation timeout covers the call; this also bounds loading the
    // configuration, so nothing outlives the budget.
    let sent = tokio::time::timeout(remaining, async {
        let config = sdk_config(&datum.region, remaining, args.report_timeout).await;
        report(&aws_sdk_cloudwatch::Client::new(&config), &datum).await
    })
    .await;
    match sent {
        Ok(Ok(())) => {
            let _ = writeln!(out, "{}", datum.summary());
            code
        }
        Ok(Err(e)) => could_not_report(err, &health, &datum.cluster, &e.to_string()),
        Err(_) => could_not_report(
            err,
            &health,
            &datum.cluster,
            "PutMetricData did not complete within the budget",
        ),
    }
}

async fn ask_agent(
    url: &str,
    timeout: Duration,
) -> Result<sentinel_http::Response, sentinel_http::ProbeError> {
    // Plain http on localhost: no TLS roots needed.
    let options = ProbeOptions::with_roots(timeout, RootCertStore::empty());
    request("GET", url, &[], b"", &options).await
}

/// `ECS_CLUSTER` from the agent's configuration. A missing file is normal (the agent then
/// uses `default`); an unreadable one is worth a warning, since the cluster may then be wrong.
fn read_ecs_config(path: &Path, err: &mut dyn Write) -> Option<String> {
    match std::fs::read(path) {
        Ok(bytes) => cluster_from_config(&String::from_utf8_lossy(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            let _ = writeln!(
                err,
                "ecs-agent-probe: warning: cannot read {}: {e}",
                path.display()
            );
            None
        }
    }
}

/// Says on stderr why nothing was reported, with what was found about the agent, since the
/// metric that should have carried it will be missing.
fn could_not_report(err: &mut dyn Write, health: &AgentHealth, cluster: &str, why: &str) -> u8 {
    let agent = match health.cause() {
        Some(cause) => format!("AgentDown=1 ({cause})"),
        None => "AgentDown=0".to_string(),
    };
    let _ = writeln!(
        err,
        "ecs-agent-probe: could not report {agent} for cluster {cluster}: {why}"
    );
    EXIT_COULD_NOT_REPORT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        for bad in ["", "0", "-1", "abc", "3h", "NaN", "inf", "7200"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn blank_environment_values_are_unset() {
        let env = Env::from_pairs([("AWS_REGION", " "), ("X", "y")]);
        assert_eq!(env.get("AWS_REGION"), None);
        assert_eq!(env.get("X"), Some("y"));
        assert_eq!(env.get("MISSING"), None);
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
