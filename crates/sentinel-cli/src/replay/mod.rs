//! `ecs-sentinel replay FILE`: run a file's events once through the functions they belong
//! to, as their rules would deliver them, and show what each one did.
//!
//! - The agent monitor takes the container instance events, the task monitor the task,
//!   service and deployment events, and the fleet recorder every `aws.ecs` event of those
//!   types when a fleet table is configured (`FLEET_TABLE_NAME`) or locatable (`--stack`).
//!   An event of another detail-type is reported (file, line, detail-type) and skipped.
//! - Each function is built as its `main` builds it, from its `Config` and `Clients`; its
//!   settings come from the environment, else from the deployed stack's outputs
//!   ([`MonitorSettings`]). A monitor with nothing to do is not built, so its settings are
//!   needed only when the file holds its events.
//! - The functions run concurrently (they share nothing but the AWS account); their reports
//!   print in a fixed order: agent monitor, task monitor, fleet recorder.

pub mod events;

use crate::args::ReplayArgs;
use crate::locate::{Aws, Locator, Monitor, MonitorSettings};
use agent_monitor::report::batch_lines;
use agent_monitor::BatchReport;
use anyhow::Context;
use events::{FileEvent, Routes, Skipped};
use fleet_recorder::{FleetRecorder, RecordReport};
use sentinel_aws::sdk::SdkConfig;
use std::collections::BTreeMap;
use std::io::Write;
use task_monitor::{TaskBatchReport, TaskMonitor};

/// What a replay came to: each function's report (`None`: it had nothing to do, or, for
/// the fleet recorder, no table is configured) and the events that went nowhere.
#[derive(Debug, Default)]
pub struct Replayed {
    pub skipped: Vec<Skipped>,
    pub agent: Option<BatchReport>,
    pub tasks: Option<TaskBatchReport>,
    pub fleet: Option<RecordReport>,
    /// aws.ecs events the fleet recorder would have recorded, had a table been configured.
    pub fleet_not_configured: usize,
}

/// What the functions of a replay are built from.
pub struct Wiring<'a> {
    pub sdk: &'a SdkConfig,
    pub settings: &'a MonitorSettings,
}

/// `ecs-sentinel replay`: FILE through the monitors, or `--from` through the archive.
/// Reports go to `out`, skipped events and notes to `warnings`.
pub async fn run(
    args: ReplayArgs,
    aws: &Aws,
    out: &mut impl Write,
    warnings: &mut impl Write,
) -> anyhow::Result<()> {
    let Some(file) = &args.file else {
        return crate::archive_cmd::run(args, aws, out).await;
    };
    // The file first: a file that cannot be read is reported before any AWS lookup.
    let events = events::read(file)?;
    let sdk = aws.config(None).await;
    let outputs = Locator::new(&sdk, &args.stack).outputs().await?.cloned();
    let settings = MonitorSettings::from_environment(outputs);
    let wiring = Wiring {
        sdk: &sdk,
        settings: &settings,
    };
    replay(events, wiring, out, warnings).await.map(|_| ())
}

/// Routes the events, builds the functions that have any, runs them concurrently and
/// prints their reports. An error means a function could not be built (its configuration)
/// or the output could not be written; a record a function failed is in its report.
pub async fn replay(
    events: Vec<FileEvent>,
    wiring: Wiring<'_>,
    out: &mut impl Write,
    warnings: &mut impl Write,
) -> anyhow::Result<Replayed> {
    let routes = events::route(events);
    for skipped in &routes.skipped {
        writeln!(warnings, "warning: {skipped}")?;
    }
    let functions = Functions::build(&routes, &wiring)?;
    let mut replayed = functions.run(&routes).await;
    replayed.skipped = routes.skipped;
    if replayed.fleet_not_configured > 0 {
        writeln!(
            warnings,
            "note: the fleet recorder did not run: no fleet table (set FLEET_TABLE_NAME, or give --stack); {} event(s) not recorded",
            replayed.fleet_not_configured
        )?;
    }
    print(&replayed, out)?;
    Ok(replayed)
}

/// The functions a replay runs: only those with records, and the fleet recorder only when
/// its table is known.
struct Functions {
    agent: Option<agent_monitor::Monitor>,
    tasks: Option<TaskMonitor>,
    fleet: Option<FleetRecorder>,
}

impl Functions {
    fn build(routes: &Routes, wiring: &Wiring<'_>) -> anyhow::Result<Self> {
        let settings = wiring.settings;
        let mut functions = Functions {
            agent: None,
            tasks: None,
            fleet: None,
        };
        if !routes.agent.is_empty() {
            let config = agent_monitor::Config::from_lookup(settings.lookup(Monitor::Agent))
                .context("the agent monitor's configuration (environment, or --stack)")?;
            functions.agent = Some(agent_monitor::Monitor::new(
                agent_monitor::Clients::from_sdk_config(wiring.sdk),
                config,
            )?);
        }
        if !routes.tasks.is_empty() {
            let config = task_monitor::Config::from_lookup(settings.lookup(Monitor::Tasks))
                .context("the task monitor's configuration (environment, or --stack)")?;
            functions.tasks = Some(TaskMonitor::new(
                task_monitor::Clients::from_sdk_config(wiring.sdk),
                config,
            ));
        }
        // The fleet recorder is optional: without a table it is left out, and said so.
        let fleet_table = settings.get(Monitor::Fleet, fleet_recorder::config::FLEET_TABLE_NAME);
        if !routes.fleet.is_empty() && fleet_table.is_some() {
            let config = fleet_recorder::Config::from_lookup(settings.lookup(Monitor::Fleet))
                .context("the fleet recorder's configuration (environment, or --stack)")?;
            functions.fleet = Some(FleetRecorder::new(
                fleet_recorder::Clients::from_sdk_config(wiring.sdk),
                config,
            ));
        }
        Ok(functions)
    }

    /// Each function's batch, all at once: they share no state, so none waits for another.
    async fn run(&self, routes: &Routes) -> Replayed {
        let agent = async {
            match &self.agent {
                Some(monitor) => Some(monitor.process(&routes.agent).await),
                None => None,
            }
        };
        let tasks = async {
            match &self.tasks {
                Some(monitor) => Some(monitor.process(&routes.tasks).await),
                None => None,
            }
        };
        let fleet = async {
            match &self.fleet {
                Some(recorder) => Some(recorder.process(&routes.fleet).await),
                None => None,
            }
        };
        let (agent, tasks, fleet) = futures::join!(agent, tasks, fleet);
        Replayed {
            fleet_not_configured: match self.fleet {
                Some(_) => 0,
                None => routes.fleet.len(),
            },
            agent,
            tasks,
            fleet,
            skipped: Vec::new(),
        }
    }
}

/// Each function's section: its name and record count, a line per thing it did, and the
/// partial-batch answer Lambda would have got.
fn print(replayed: &Replayed, out: &mut impl Write) -> anyhow::Result<()> {
    if let Some(report) = &replayed.agent {
        section(
            out,
            "agent monitor",
            report.received,
            &batch_lines(report, "  "),
            &report.response(),
        )?;
    }
    if let Some(report) = &replayed.tasks {
        section(
            out,
            "task monitor",
            report.received,
            &task_lines(report, "  "),
            &report.response(),
        )?;
    }
    if let Some(report) = &replayed.fleet {
        section(
            out,
            "fleet recorder",
            report.received,
            &fleet_lines(report, "  "),
            &report.response(),
        )?;
    }
    Ok(())
}

fn section(
    out: &mut impl Write,
    function: &str,
    received: usize,
    lines: &[String],
    response: &impl serde::Serialize,
) -> anyhow::Result<()> {
    writeln!(out, "{function}: {received} record(s):")?;
    for line in lines {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "{}", serde_json::to_string_pretty(response)?)?;
    Ok(())
}

/// The task monitor's batch as lines: messages sent, failures by service and kind, what was
/// not a failure, records parked or to be retried.
pub fn task_lines(report: &TaskBatchReport, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for published in &report.published {
        lines.push(format!(
            "{indent}{:<6} {}",
            published.notice.as_str(),
            published.subject
        ));
    }
    let mut failures: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
    for failure in &report.failures {
        *failures
            .entry((&failure.cluster, &failure.owner, failure.kind.as_str()))
            .or_default() += 1;
    }
    for ((cluster, owner, kind), count) in failures {
        lines.push(format!(
            "{indent}failed {owner} ({cluster}): {kind} x{count}"
        ));
    }
    if report.spot_interruptions > 0 {
        lines.push(format!(
            "{indent}{} Spot interruption(s)",
            report.spot_interruptions
        ));
    }
    for (reason, count) in &report.not_failures {
        lines.push(format!("{indent}not a failure ({reason}): {count}"));
    }
    if report.not_monitored > 0 {
        lines.push(format!(
            "{indent}{} record(s) about clusters not monitored",
            report.not_monitored
        ));
    }
    lines.extend(parked_and_retried(
        &report.dead_lettered,
        &report.errors,
        indent,
    ));
    lines
}

/// The fleet recorder's batch as lines: what it wrote, what it already had newer, what it
/// does not keep, records parked or to be retried.
pub fn fleet_lines(report: &RecordReport, indent: &str) -> Vec<String> {
    let mut lines = vec![format!(
        "{indent}recorded {}, already newer {}, not kept {}",
        report.written, report.stale, report.ignored
    )];
    lines.extend(parked_and_retried(
        &report.dead_lettered,
        &report.errors,
        indent,
    ));
    lines
}

fn parked_and_retried(
    dead_lettered: &[(String, String)],
    errors: &[(String, String)],
    indent: &str,
) -> Vec<String> {
    let parked = dead_lettered.iter().map(|(record_id, reason)| {
        format!("{indent}parked record {record_id} in the dead-letter queue: {reason}")
    });
    let retried = errors
        .iter()
        .map(|(scope, error)| format!("{indent}retry  {scope}: {error}"));
    parked.chain(retried).collect()
}
