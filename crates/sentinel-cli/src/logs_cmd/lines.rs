//! `logs pull|errors|diagnose|summary`: each service's lines of the window, read one service
//! after another and turned into what the command prints. The steps: locate the services'
//! log groups, read each one's lines (`read_located`), judge them (`diagnose`,
//! `ServiceSummary`, `restart_count`) and print them (`Report`: at once, or gathered and
//! printed whole at the end). A service that cannot be read goes into the [`Outcome`],
//! never to the terminal from here.

use super::restarts::StoppedTasks;
use super::{group_names, read_service, LogReaders, LogsOptions, Outcome, ServiceLogs, SAMPLES};
use crate::locate;
use crate::progress::Progress;
use crate::render::table;
use chrono::{DateTime, Utc};
use fleet_recorder::FleetTable;
use sentinel_aws::logs::LogLine;
use sentinel_fleet::view::is_failure;
use sentinel_logscan::{classify, Category, Diagnosis};
use serde_json::{json, Value};
use std::io::Write;

/// The commands that read log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineCommand {
    /// Every line.
    Pull,
    /// The lines that are errors, with their category.
    Errors,
    /// Per service: categories, samples, HTTP status distribution.
    Diagnose,
    /// Per service, one row: lines, errors, top categories, 5xx, restarts.
    Summary,
}

impl LineCommand {
    /// Diagnose and summary answer `--json` with one document for all services.
    fn one_document(self, json: bool) -> bool {
        json && matches!(self, LineCommand::Diagnose | LineCommand::Summary)
    }
}

/// Runs `pull`, `errors`, `diagnose` or `summary` over the services. The services that
/// could not be read are in the outcome; an error means none could be (the cluster's
/// services could not be listed or described) or the output could not be written.
pub async fn lines(
    command: LineCommand,
    readers: &LogReaders<'_>,
    options: &LogsOptions,
    fleet: Option<&FleetTable>,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> anyhow::Result<Outcome> {
    let located =
        locate::service_logs(readers.services, readers.task_definitions, options.wanted()).await?;
    // Summary's restarts: the cluster and the fleet table are read once for all services.
    let stopped = match command {
        LineCommand::Summary => Some(StoppedTasks::read(readers, options, fleet, now).await),
        _ => None,
    };
    let mut progress = Progress::for_terminal(options.json);
    let mut outcome = Outcome::default();
    let mut report = Report::new(command, options, located.len() > 1);
    for service in &located {
        let read = read_located(readers, service, options, now, &mut progress).await;
        progress.clear();
        let lines = match read {
            Ok(lines) => lines,
            Err(error) => {
                report.unreadable(service, &error);
                outcome.fail(&service.service, error);
                continue;
            }
        };
        match command {
            LineCommand::Pull | LineCommand::Errors => report.lines(service, &lines, out)?,
            LineCommand::Diagnose => report.diagnosis(service, &diagnose(&lines), out)?,
            LineCommand::Summary => {
                let restarts = restart_count(stopped.as_ref(), readers, &service.service)
                    .await
                    .map_err(|error| outcome.fail(&service.service, error))
                    .ok();
                report.summary(&ServiceSummary {
                    service,
                    diagnosis: diagnose(&lines),
                    restarts,
                });
            }
        }
    }
    report.finish(out)?;
    Ok(outcome)
}

/// The `diagnose --json` object of each service `options` names (an unreadable one says
/// why instead), by service name: what `health` attaches to the services it found bad.
/// An error means the cluster's services could not be listed or described.
pub async fn diagnoses(
    readers: &LogReaders<'_>,
    options: &LogsOptions,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<(String, Value)>> {
    let located =
        locate::service_logs(readers.services, readers.task_definitions, options.wanted()).await?;
    let mut progress = Progress::for_terminal(true);
    let mut found = Vec::new();
    for service in &located {
        let document = match read_located(readers, service, options, now, &mut progress).await {
            Ok(lines) => diagnosis_json(service, &diagnose(&lines)),
            Err(error) => unreadable_json(service, &error),
        };
        found.push((service.service.clone(), document));
    }
    Ok(found)
}

/// How many times a service restarted in the window (summary's RESTARTS), from the stopped
/// tasks read once for the command.
async fn restart_count(
    stopped: Option<&Result<StoppedTasks, String>>,
    readers: &LogReaders<'_>,
    service: &str,
) -> Result<usize, String> {
    match stopped {
        // Restarts are failures: a deployment's replacements and scale-in are not.
        Some(Ok(stopped)) => stopped
            .of(readers, service)
            .await
            .map(|tasks| tasks.iter().filter(|t| is_failure(t)).count()),
        Some(Err(error)) => Err(error.clone()),
        // `lines` reads them for summary, the only command that asks.
        None => Err("stopped tasks are read for summary only".to_owned()),
    }
}

/// One located service's lines: the error its location carries, or every source read.
async fn read_located(
    readers: &LogReaders<'_>,
    service: &ServiceLogs,
    options: &LogsOptions,
    now: DateTime<Utc>,
    progress: &mut Progress,
) -> Result<Vec<LogLine>, String> {
    match &service.error {
        Some(error) => Err(error.clone()),
        None => read_service(readers, service, options, now, progress).await,
    }
}

/// What a line command prints: `pull` and `errors` each line as it is read, `diagnose` a
/// block per service (text), and what is printed whole after every service: the JSON
/// document of `diagnose` and `summary`, summary's table.
struct Report<'a> {
    command: LineCommand,
    options: &'a LogsOptions,
    /// More than one service: pull's and errors' text names each line's service.
    several: bool,
    /// One object per service, for the JSON document.
    documents: Vec<Value>,
    /// One row per service, for summary's table.
    rows: Vec<Vec<String>>,
}

impl<'a> Report<'a> {
    fn new(command: LineCommand, options: &'a LogsOptions, several: bool) -> Self {
        Report {
            command,
            options,
            several,
            documents: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// A service that could not be read: its error in the JSON document (the caller
    /// reports it too); pull, errors and the text forms show nothing for it.
    fn unreadable(&mut self, service: &ServiceLogs, error: &str) {
        if self.command.one_document(self.options.json) {
            self.documents.push(unreadable_json(service, error));
        }
    }

    /// `pull` and `errors`: the lines (errors: those with a category), as text or one JSON
    /// object per line.
    fn lines(
        &self,
        service: &ServiceLogs,
        lines: &[LogLine],
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        for line in lines {
            let category = classify(&line.message);
            if self.command == LineCommand::Errors && category.is_none() {
                continue;
            }
            if self.options.json {
                writeln!(out, "{}", line_json(service, line, category))?;
            } else {
                writeln!(out, "{}", self.line_text(service, line, category))?;
            }
        }
        Ok(())
    }

    /// Time, the service (when several), the category (`errors`), the message.
    fn line_text(
        &self,
        service: &ServiceLogs,
        line: &LogLine,
        category: Option<Category>,
    ) -> String {
        let mut cells = vec![when(line.timestamp_ms)];
        if self.several {
            cells.push(service.service.clone());
        }
        if self.command == LineCommand::Errors {
            cells.push(category.map(|c| c.as_str()).unwrap_or_default().to_owned());
        }
        cells.push(line.message.clone());
        cells.join("  ")
    }

    /// `diagnose`: the service's block now (text), or its object for the document.
    fn diagnosis(
        &mut self,
        service: &ServiceLogs,
        diagnosis: &Diagnosis,
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        if self.options.json {
            self.documents.push(diagnosis_json(service, diagnosis));
            Ok(())
        } else {
            print_diagnosis(service, diagnosis, out)
        }
    }

    /// `summary`: the service's object or row, printed at the end.
    fn summary(&mut self, summary: &ServiceSummary<'_>) {
        if self.options.json {
            self.documents.push(summary.json());
        } else {
            self.rows.push(summary.row());
        }
    }

    /// What is printed once: `{"services": [...]}` (diagnose and summary with `--json`),
    /// or summary's table under its head line.
    fn finish(self, out: &mut impl Write) -> anyhow::Result<()> {
        if self.command.one_document(self.options.json) {
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&json!({"services": self.documents}))?
            )?;
        } else if self.command == LineCommand::Summary {
            writeln!(
                out,
                "last {} minutes of cluster {}\n",
                self.options.minutes, self.options.cluster
            )?;
            let headers = [
                "SERVICE",
                "LINES",
                "ERRORS",
                "TOP CATEGORIES",
                "5XX",
                "RESTARTS",
                "LOG GROUPS",
            ];
            out.write_all(table(&headers, &self.rows).as_bytes())?;
        }
        Ok(())
    }
}

/// The `pull --json` / `errors --json` object of one line (a stable schema).
fn line_json(service: &ServiceLogs, line: &LogLine, category: Option<Category>) -> Value {
    let mut doc = json!({
        "service": service.service, "timestamp": when(line.timestamp_ms),
        "stream": line.stream, "message": line.message,
    });
    if let Some(category) = category {
        doc["category"] = json!(category.as_str());
    }
    doc
}

/// One service's `summary`: what its lines say, and how often it restarted (`None`: its
/// stopped tasks could not be read).
struct ServiceSummary<'a> {
    service: &'a ServiceLogs,
    diagnosis: Diagnosis,
    restarts: Option<usize>,
}

impl ServiceSummary<'_> {
    /// Answers of the 5xx class in the access-log lines (health checks left out).
    fn http_5xx(&self) -> usize {
        self.diagnosis
            .http_status()
            .iter()
            .filter(|(code, _)| (500..600).contains(*code))
            .map(|(_, n)| n)
            .sum()
    }

    /// The diagnose object with `errors`, `http5xx` and `restarts` added.
    fn json(&self) -> Value {
        let mut doc = diagnosis_json(self.service, &self.diagnosis);
        doc["errors"] = json!(self.diagnosis.errors());
        doc["http5xx"] = json!(self.http_5xx());
        doc["restarts"] = json!(self.restarts);
        doc
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.service.service.clone(),
            self.diagnosis.events().to_string(),
            self.diagnosis.errors().to_string(),
            top_categories(&self.diagnosis),
            self.http_5xx().to_string(),
            self.restarts.map_or("?".into(), |n| n.to_string()),
            group_names(self.service),
        ]
    }
}

/// A log line's time as RFC 3339 with milliseconds (the raw number if out of range).
fn when(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// What the lines say: counts per category, samples, HTTP statuses.
fn diagnose(lines: &[LogLine]) -> Diagnosis {
    let mut diagnosis = Diagnosis::new(SAMPLES);
    for line in lines {
        diagnosis.add(&line.message);
    }
    diagnosis
}

/// The three most frequent categories with their counts, `-` when there are none.
fn top_categories(diagnosis: &Diagnosis) -> String {
    let mut counted: Vec<(&Category, &usize)> = diagnosis.categories().iter().collect();
    counted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let top: Vec<String> = counted
        .iter()
        .take(3)
        .map(|(category, n)| format!("{} {n}", category.as_str()))
        .collect();
    if top.is_empty() {
        "-".into()
    } else {
        top.join(", ")
    }
}

/// The `diagnose --json` object of a service that could not be read: why, instead of counts.
fn unreadable_json(service: &ServiceLogs, error: &str) -> Value {
    json!({"service": service.service, "logGroup": group_names(service), "error": error})
}

/// The `diagnose --json` object of one service (a stable schema: add, never rename).
fn diagnosis_json(service: &ServiceLogs, diagnosis: &Diagnosis) -> Value {
    json!({
        "service": service.service,
        "logGroup": group_names(service),
        "events": diagnosis.events(),
        "healthChecks": diagnosis.health_checks(),
        "failedHealthChecks": diagnosis.failed_health_checks(),
        "categories": diagnosis.categories(),
        "samples": diagnosis.samples(),
        "httpStatus": diagnosis
            .http_status()
            .iter()
            .map(|(code, n)| (code.to_string(), json!(n)))
            .collect::<serde_json::Map<String, Value>>(),
    })
}

/// `diagnose` as text: a head line per service, each category with its samples, statuses.
fn print_diagnosis(
    service: &ServiceLogs,
    diagnosis: &Diagnosis,
    out: &mut impl Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{} ({}): {} lines, {} health checks left out ({} failed), {} errors",
        service.service,
        group_names(service),
        diagnosis.events(),
        diagnosis.health_checks(),
        diagnosis.failed_health_checks(),
        diagnosis.errors()
    )?;
    for (category, count) in diagnosis.categories() {
        writeln!(out, "  {:<18} {count}", category.as_str())?;
        for sample in diagnosis.samples().get(category).into_iter().flatten() {
            writeln!(out, "      {sample}")?;
        }
    }
    if !diagnosis.http_status().is_empty() {
        let statuses: Vec<String> = diagnosis
            .http_status()
            .iter()
            .map(|(code, n)| format!("{code}: {n}"))
            .collect();
        writeln!(out, "  http status        {}", statuses.join(", "))?;
    }
    writeln!(out)
}
