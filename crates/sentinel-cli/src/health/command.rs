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

/// Where the report is kept: the state file, and a timestamped copy per run in `--outdir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keep {
    pub state: Option<PathBuf>,
    pub outdir: Option<PathBuf>,
}

impl Keep {
    /// From `--state` and `--outdir`; `--quiet` needs one of them, or the run is lost.
    pub fn from_args(args: &HealthArgs) -> anyhow::Result<Self> {
        let keep = Keep {
            state: locate::health_state(args.state.as_deref(), args.outdir.as_deref()),
            outdir: args.outdir.clone(),
        };
        if args.quiet && keep.state.is_none() && keep.outdir.is_none() {
            anyhow::bail!("--quiet prints nothing and writes only the state file: give --state FILE (or ECS_HEALTH_STATE)");
        }
        Ok(keep)
    }

    /// Writes a complete report: a check that could not run never gets here, so the last
    /// good state is never replaced by a failed one.
    pub fn write(&self, report: &super::report::HealthReport) -> anyhow::Result<()> {
        if let Some(dir) = &self.outdir {
            let name = format!("health-{}.json", report.checked_at.format("%Y%m%dT%H%M%SZ"));
            state::write(&dir.join(name), report)?;
        }
        if let Some(path) = &self.state {
            state::write(path, report)?;
        }
        Ok(())
    }
}

/// What to check, from the flags (or their variables).
pub fn options(args: &HealthArgs) -> anyhow::Result<HealthOptions> {
    Ok(HealthOptions {
        cluster: args.target.cluster.clone(),
        services: args.services.as_deref().map(parse_list).unwrap_or_default(),
        endpoints: parse_endpoints(args.endpoints.as_deref().unwrap_or_default())
            .map_err(anyhow::Error::msg)?,
        domain: args.domain.clone().filter(|d| !d.is_empty()),
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
    let keep = Keep::from_args(&args)?;
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
    keep.write(&report)?;
    if !args.quiet {
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        } else {
            print(&report, style, out)?;
        }
    }
    Ok(exit_code(&report))
}
