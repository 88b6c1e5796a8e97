//! The task monitor's messages: one per episode and notice, for an on-call engineer reading
//! on a phone. The subject names cluster, service and kind; the body gives the reasons
//! verbatim, exit codes per container, the task definition revision, first and last seen,
//! what usually fixes this kind, the failed container's last log lines when known, and
//! console links. The JSON document (schema [`SCHEMA_VERSION`]) carries the same facts for
//! machines. Both are documented in docs/task-monitor.md; change them together.

use crate::classify::{FailureKind, Recovery};
use crate::episode::{FailureSample, TaskEpisode};
use crate::event::Owner;
use chrono::{DateTime, Utc};
use sentinel_core::chat::{severity_badge, ChatMessage};
use sentinel_core::notice::Notice;
use sentinel_core::notification::{
    console_url, fit_sns_message, human_duration, plural, sns_message, subject_around,
    subject_with, Monitor, Notification, Severity, SNS_MESSAGE_MAX_BYTES,
};
use serde::Serialize;
use std::fmt::Write as _;

pub const SCHEMA_VERSION: &str = "1.0";

pub use sentinel_core::logs::LogTail;

/// One message about one episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskMessage {
    pub episode: TaskEpisode,
    pub notice: Notice,
    pub checked_at: DateTime<Utc>,
    pub log_tail: Option<LogTail>,
}

impl TaskMessage {
    fn what(&self) -> String {
        match &self.episode.key.owner {
            Owner::Service(name) => name.clone(),
            Owner::Family(name) => format!("{name} (task family)"),
        }
    }

    fn cluster_name(&self) -> &str {
        self.episode.key.cluster.name()
    }

    fn kind(&self) -> FailureKind {
        self.episode
            .main_kind()
            .unwrap_or(FailureKind::OtherFailure)
    }

    /// The worst kind this episode saw decides its severity.
    pub fn severity(&self) -> Severity {
        match self.notice {
            Notice::Resolved => Severity::Info,
            _ => self
                .episode
                .by_kind
                .keys()
                .map(|k| k.severity())
                .max()
                .unwrap_or(Severity::High),
        }
    }

    /// "37 tasks failed" for stopped tasks; "3 failures" when service events count too.
    fn count(&self) -> String {
        let n = self.episode.failures as usize;
        let tasks = self.episode.by_kind.keys().all(|k| {
            !matches!(
                k,
                FailureKind::Placement
                    | FailureKind::StartImpaired
                    | FailureKind::DeploymentFailed
                    | FailureKind::OtherFailure
            )
        });
        if tasks {
            format!("{n} task{} failed", plural(n))
        } else {
            format!("{n} failure{}", plural(n))
        }
    }

    /// At most 100 ASCII characters; a long service name is shortened, never the facts.
    pub fn subject(&self) -> String {
        let where_ = format!("{} in {}", self.what(), self.cluster_name());
        match self.notice {
            Notice::Resolved => subject_with(
                &format!(
                    "[RESOLVED] {} after {}: ",
                    self.resolution_text(),
                    self.count()
                ),
                &where_,
            ),
            Notice::Alert | Notice::Reminder => {
                let new = self.episode.failures - self.episode.failures_notified;
                let prefix = format!(
                    "[{}] {}",
                    self.severity().as_str().to_ascii_uppercase(),
                    if self.notice == Notice::Reminder {
                        "Reminder - "
                    } else {
                        ""
                    }
                );
                let suffix = match self.notice {
                    Notice::Reminder => {
                        format!(": {} ({new} new) - {}", self.count(), self.kind().as_str())
                    }
                    _ => format!(": {} - {}", self.count(), self.kind().as_str()),
                };
                subject_around(&prefix, &where_, &suffix)
            }
        }
    }

    fn resolution_text(&self) -> &'static str {
        match self.episode.resolution {
            Some(Recovery::DeploymentCompleted) => "deployment completed",
            _ => "steady state",
        }
    }

    /// The email body.
    pub fn text(&self) -> String {
        self.text_listing(self.episode.samples.len())
    }

    fn text_listing(&self, samples: usize) -> String {
        let e = &self.episode;
        let mut out = String::new();
        let region = e.key.cluster.region();
        let first = e.state.first_seen_at;
        let last = e.samples.last().map_or(first, |s| s.at);
        match self.notice {
            Notice::Resolved => {
                let _ = writeln!(
                    out,
                    "{} in {} ({region}) is healthy again: {}. It had {} over {}.",
                    self.what(),
                    self.cluster_name(),
                    self.resolution_text(),
                    self.count(),
                    human_duration(e.state.duration(self.checked_at)),
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "{} in {} ({region}): {} since {} (last {}).",
                    self.what(),
                    self.cluster_name(),
                    self.count(),
                    clock(first),
                    clock(last)
                );
                if self.notice == Notice::Reminder {
                    let _ = writeln!(
                        out,
                        "Still failing: {} new since the last message.",
                        e.failures - e.failures_notified
                    );
                }
            }
        }
        out.push('\n');
        for (kind, n) in &e.by_kind {
            let _ = writeln!(out, "  {:<24}{n}", kind.as_str());
        }
        if self.notice != Notice::Resolved {
            let _ = writeln!(
                out,
                "\nWhat usually fixes {}: {}.",
                self.kind().as_str(),
                self.kind().advice()
            );
        }
        let shown = &e.samples[e.samples.len().saturating_sub(samples)..];
        if !shown.is_empty() {
            let _ = writeln!(out, "\nLatest failures (newest last):");
            for sample in shown {
                write_sample(&mut out, sample);
            }
        }
        let omitted = e.samples.len() - shown.len();
        if omitted > 0 {
            let _ = writeln!(out, "  ({omitted} more left out to fit the message size)");
        }
        if let Some(tail) = &self.log_tail {
            let _ = writeln!(
                out,
                "\nLast {} line{} of {}'s log ({} / {}):",
                tail.lines.len(),
                plural(tail.lines.len()),
                tail.container,
                tail.log_group,
                tail.log_stream
            );
            for line in &tail.lines {
                let _ = writeln!(out, "  {line}");
            }
        }
        let links = self.links();
        if !links.is_empty() {
            out.push('\n');
            for (what, url) in links {
                let _ = writeln!(out, "{what}: {url}");
            }
        }
        out
    }

    fn links(&self) -> Vec<(&'static str, String)> {
        let c = &self.episode.key.cluster;
        let base = format!("/ecs/v2/clusters/{}", c.name());
        let region = c.region();
        let mut links = Vec::new();
        if let Owner::Service(service) = &self.episode.key.owner {
            links.extend(
                console_url(
                    c.partition(),
                    &format!("{base}/services/{service}/events?region={region}"),
                )
                .map(|u| ("Service events", u)),
            );
        }
        let task = self
            .episode
            .samples
            .iter()
            .rev()
            .find_map(|s| s.task_arn.as_deref())
            .and_then(|arn| arn.rsplit('/').next());
        if let Some(task) = task {
            links.extend(
                console_url(
                    c.partition(),
                    &format!("{base}/tasks/{task}/configuration?region={region}"),
                )
                .map(|u| ("Latest stopped task", u)),
            );
        }
        links
    }

    pub fn document(&self) -> TaskDocument {
        self.document_listing(self.episode.samples.len())
    }

    fn document_listing(&self, samples: usize) -> TaskDocument {
        let e = &self.episode;
        let shown = &e.samples[e.samples.len().saturating_sub(samples)..];
        let (service, family) = match &e.key.owner {
            Owner::Service(name) => (Some(name.clone()), None),
            Owner::Family(name) => (None, Some(name.clone())),
        };
        TaskDocument {
            schema_version: SCHEMA_VERSION,
            monitor: "tasks",
            kind_of_message: match self.notice {
                Notice::Alert => "task-alert",
                Notice::Reminder => "task-reminder",
                Notice::Resolved => "task-resolved",
            },
            severity: self.severity(),
            checked_at: self.checked_at,
            cluster: ClusterRef {
                name: e.key.cluster.name().to_owned(),
                arn: e.key.cluster.as_str().to_owned(),
            },
            service,
            family,
            kind: self.kind().as_str(),
            failures: e.failures,
            new_failures: e.failures - e.failures_notified,
            by_kind: e
                .by_kind
                .iter()
                .map(|(k, n)| (k.as_str().to_owned(), *n))
                .collect(),
            first_seen: e.state.first_seen_at,
            last_seen: e.samples.last().map(|s| s.at),
            resolution: match self.notice {
                Notice::Resolved => e.resolution.map(Recovery::code),
                _ => None,
            },
            advice: (self.notice != Notice::Resolved).then(|| self.kind().advice()),
            latest: shown.iter().map(SampleDoc::from).collect(),
            omitted_samples: e.samples.len() - shown.len(),
            log_tail: self.log_tail.clone(),
            links: self
                .links()
                .into_iter()
                .map(|(what, url)| LinkDoc { what, url })
                .collect(),
        }
    }

    /// The SNS `Message` (email text, JSON for everything else), within SNS's size limit:
    /// as many samples as fit are detailed; counts are always whole.
    pub fn sns_message(&self) -> Result<String, serde_json::Error> {
        fit_sns_message(
            self.episode.samples.len(),
            SNS_MESSAGE_MAX_BYTES,
            |listed| sns_message(&self.document_listing(listed), self.text_listing(listed)),
        )
    }

    /// One thread per episode: its alert, reminders and RESOLVED share the owner and the
    /// time the episode opened; the next episode of the same service starts a new thread.
    fn thread_id(&self) -> String {
        let key = &self.episode.key;
        let (what, name) = match &key.owner {
            Owner::Service(name) => ("service", name),
            Owner::Family(name) => ("family", name),
        };
        format!(
            "ecs-sentinel-tasks-{}-{}-{}-{what}-{name}-{}",
            key.cluster.account(),
            key.cluster.region(),
            key.cluster.name(),
            self.episode.state.first_seen_at.timestamp()
        )
    }

    /// The chat rendering: severity, service, count and kind as the title; the counts by
    /// kind, the latest reason and exit codes, and console links as markdown; what usually
    /// fixes the kind as the next step; the ids a "Show stopped tasks" button needs.
    pub fn chat(&self) -> ChatMessage {
        let e = &self.episode;
        let resolved = self.notice == Notice::Resolved;
        let mut description = self.chat_opening();
        for (kind, n) in &e.by_kind {
            let _ = write!(description, "\n• `{}`: {n}", kind.as_str());
        }
        if !resolved {
            self.chat_latest_failure(&mut description);
            self.chat_log_tail(&mut description);
        }
        let links: Vec<String> = self
            .links()
            .into_iter()
            .map(|(what, url)| format!("[{what}]({url})"))
            .collect();
        if !links.is_empty() {
            let _ = write!(description, "\n\n{}", links.join(" · "));
        }
        ChatMessage {
            title: self.chat_title(),
            description,
            next_steps: if resolved {
                Vec::new()
            } else {
                vec![format!(
                    "What usually fixes {}: {}.",
                    self.kind().as_str(),
                    self.kind().advice()
                )]
            },
            keywords: self.chat_keywords(),
            thread_id: self.thread_id(),
            summary: self.subject(),
            event_type: if resolved {
                "task-resolved"
            } else {
                "task-alert"
            }
            .to_owned(),
            related_resources: e
                .samples
                .iter()
                .rev()
                .filter_map(|s| s.task_arn.clone())
                .take(20)
                .collect(),
            additional_context: self.chat_context(),
        }
    }

    /// The chat title: the severity badge first, then what, where and why.
    fn chat_title(&self) -> String {
        match self.notice {
            Notice::Resolved => format!(
                "{} · {} in {}: {}",
                severity_badge(Severity::Info, true),
                self.what(),
                self.cluster_name(),
                self.resolution_text()
            ),
            _ => format!(
                "{} · {}{} in {}: {} - {}",
                severity_badge(self.severity(), false),
                if self.notice == Notice::Reminder {
                    "Reminder - "
                } else {
                    ""
                },
                self.what(),
                self.cluster_name(),
                self.count(),
                self.kind().as_str()
            ),
        }
    }

    /// The description's first line: what is failing (or healthy again), where, since when.
    fn chat_opening(&self) -> String {
        let e = &self.episode;
        let region = e.key.cluster.region();
        match self.notice {
            Notice::Resolved => format!(
                "**{}** in cluster **{}** ({}) is healthy again: {}. It had {} over {}.\n",
                self.what(),
                self.cluster_name(),
                region,
                self.resolution_text(),
                self.count(),
                human_duration(e.state.duration(self.checked_at))
            ),
            _ => format!(
                "**{}** in cluster **{}** ({}): {} since {}{}.\n",
                self.what(),
                self.cluster_name(),
                region,
                self.count(),
                clock(e.state.first_seen_at),
                if self.notice == Notice::Reminder {
                    format!(
                        ", {} new since the last message",
                        e.failures - e.failures_notified
                    )
                } else {
                    String::new()
                }
            ),
        }
    }

    /// The newest failure's stop reason and its containers' exit codes.
    fn chat_latest_failure(&self, description: &mut String) {
        let Some(latest) = self.episode.samples.last() else {
            return;
        };
        if let Some(reason) = &latest.reason {
            let _ = write!(description, "\n\nLatest: {reason}");
        }
        for container in &latest.containers {
            let _ = write!(
                description,
                "\n`{}` exit {}{}",
                container.name,
                container
                    .exit_code
                    .map_or_else(|| "-".to_owned(), |code| code.to_string()),
                container
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
        }
    }

    /// The failed container's last five log lines, as a code block.
    fn chat_log_tail(&self, description: &mut String) {
        let Some(tail) = &self.log_tail else {
            return;
        };
        let last: Vec<&String> = tail.lines.iter().rev().take(5).rev().collect();
        if last.is_empty() {
            return;
        }
        let _ = write!(
            description,
            "\n\nLast log lines of `{}`:\n```",
            tail.container
        );
        for line in last {
            let _ = write!(description, "\n{line}");
        }
        description.push_str("\n```");
    }

    /// Cluster, service or family, and the kinds (or `resolved`): shown as tags.
    fn chat_keywords(&self) -> Vec<String> {
        let e = &self.episode;
        let mut keywords = vec![self.cluster_name().to_owned()];
        let (Owner::Service(name) | Owner::Family(name)) = &e.key.owner;
        keywords.push(name.clone());
        if self.notice == Notice::Resolved {
            keywords.push("resolved".into());
        } else {
            keywords.extend(e.by_kind.keys().map(|k| k.as_str().to_owned()));
        }
        keywords
    }

    /// The ids the channel's custom actions read.
    fn chat_context(&self) -> Vec<(String, String)> {
        let mut context = vec![
            ("Monitor".to_owned(), "tasks".to_owned()),
            ("ClusterName".to_owned(), self.cluster_name().to_owned()),
            (
                "Region".to_owned(),
                self.episode.key.cluster.region().to_owned(),
            ),
        ];
        match &self.episode.key.owner {
            Owner::Service(name) => context.push(("ServiceName".into(), name.clone())),
            Owner::Family(name) => context.push(("TaskFamily".into(), name.clone())),
        }
        context
    }

    /// The message to send: `monitor` = `tasks`, with the `service` attribute for services.
    pub fn notification(&self) -> Result<Notification, serde_json::Error> {
        Ok(Notification {
            monitor: Monitor::Tasks,
            notice: self.notice,
            cluster: self.episode.key.cluster.clone(),
            service: match &self.episode.key.owner {
                Owner::Service(name) => Some(name.clone()),
                Owner::Family(_) => None,
            },
            kinds: match self.notice {
                Notice::Resolved => vec!["resolved".to_owned()],
                _ => self
                    .episode
                    .by_kind
                    .keys()
                    .map(|k| k.as_str().to_owned())
                    .collect(),
            },
            severity: self.severity(),
            about: vec![self.episode.key.as_key()],
            subject: self.subject(),
            message: self.sns_message()?,
            chat: self.chat(),
        })
    }
}

fn write_sample(out: &mut String, s: &FailureSample) {
    let task = s
        .task_arn
        .as_deref()
        .and_then(|arn| arn.rsplit('/').next())
        .map(|id| format!("task {id}"))
        .unwrap_or_else(|| "service event".to_owned());
    let revision = s
        .task_definition
        .as_deref()
        .map(|td| format!(" ({td})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  {}  {task}{revision}  {}",
        clock(s.at),
        s.kind.as_str()
    );
    if let Some(reason) = &s.reason {
        let _ = writeln!(out, "    reason: {reason}");
    }
    for c in &s.containers {
        let exit = c
            .exit_code
            .map_or_else(|| "no exit code".to_owned(), |code| format!("exit {code}"));
        match &c.reason {
            Some(reason) => {
                let _ = writeln!(out, "    {}: {exit} - {reason}", c.name);
            }
            None => {
                let _ = writeln!(out, "    {}: {exit}", c.name);
            }
        }
    }
}

fn clock(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDocument {
    pub schema_version: &'static str,
    pub monitor: &'static str,
    #[serde(rename = "type")]
    pub kind_of_message: &'static str,
    pub severity: Severity,
    pub checked_at: DateTime<Utc>,
    pub cluster: ClusterRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// The most frequent kind.
    pub kind: &'static str,
    pub failures: u32,
    pub new_failures: u32,
    pub by_kind: std::collections::BTreeMap<String, u32>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<&'static str>,
    pub latest: Vec<SampleDoc>,
    pub omitted_samples: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_tail: Option<LogTail>,
    pub links: Vec<LinkDoc>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRef {
    pub name: String,
    pub arn: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SampleDoc {
    pub at: DateTime<Utc>,
    pub kind: &'static str,
    pub task_arn: Option<String>,
    pub task_definition: Option<String>,
    pub reason: Option<String>,
    pub containers: Vec<ContainerDoc>,
}

impl From<&FailureSample> for SampleDoc {
    fn from(s: &FailureSample) -> Self {
        SampleDoc {
            at: s.at,
            kind: s.kind.as_str(),
            task_arn: s.task_arn.clone(),
            task_definition: s.task_definition.clone(),
            reason: s.reason.clone(),
            containers: s
                .containers
                .iter()
                .map(|c| ContainerDoc {
                    name: c.name.clone(),
                    exit_code: c.exit_code,
                    reason: c.reason.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDoc {
    pub name: String,
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkDoc {
    pub what: &'static str,
    pub url: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::episode::{ContainerExit, EpisodeKey};
    use chrono::{TimeDelta, TimeZone};
    use sentinel_core::notice::EpisodeState;
    use sentinel_core::notification::SUBJECT_MAX_CHARS;
    use sentinel_core::ClusterArn;
    use std::collections::BTreeMap;

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 29, 10, 0, 0).unwrap() + TimeDelta::minutes(minute)
    }

    fn oom(n: u32) -> FailureSample {
        FailureSample {
            at: t(n as i64),
            kind: FailureKind::OutOfMemory,
            task_arn: Some(format!(
                "arn:aws:ecs:us-east-1:123456789012:task/prod/{n:032x}"
            )),
            task_definition: Some("api:42".into()),
            reason: Some("Essential container in task exited".into()),
            containers: vec![
                ContainerExit {
                    name: "app".into(),
                    exit_code: Some(137),
                    reason: Some("OutOfMemoryError: Container killed due to memory usage".into()),
                },
                ContainerExit {
                    name: "log-router".into(),
                    exit_code: None,
                    reason: None,
                },
            ],
        }
    }

    fn episode(owner: Owner, failures: u32, notified: u32) -> TaskEpisode {
        let mut state = EpisodeState::suspected(t(0));
        state.phase = sentinel_core::notice::Phase::Open;
        TaskEpisode {
            key: EpisodeKey {
                cluster: ClusterArn::parse("arn:aws:ecs:us-east-1:123456789012:cluster/prod")
                    .unwrap(),
                owner,
            },
            state,
            failures,
            by_kind: BTreeMap::from([
                (FailureKind::OutOfMemory, failures - 2),
                (FailureKind::ContainerExit, 2),
            ]),
            failures_notified: notified,
            samples: (0..3).map(oom).collect(),
            seen: vec![],
            resolution: None,
            version: 3,
        }
    }

    fn message(e: TaskEpisode, notice: Notice) -> TaskMessage {
        TaskMessage {
            episode: e,
            notice,
            checked_at: t(9),
            log_tail: None,
        }
    }

    /// Every notice of a service episode as a chat document: valid against the custom
    /// notification schema, in one thread that the next episode does not share, with the
    /// ids the "Show stopped tasks" button reads; a task family's too.
    #[test]
    fn chat_renderings_are_valid_and_an_episode_keeps_its_thread() {
        use sentinel_core::chat::validate;
        let api = || episode(Owner::Service("api".into()), 37, 0);
        let mut with_tail = message(api(), Notice::Alert);
        with_tail.log_tail = Some(LogTail {
            container: "app".into(),
            log_group: "/ecs/api".into(),
            log_stream: "ecs/app/1".into(),
            lines: (1..=8).map(|n| format!("line {n}")).collect(),
        });
        let alert = with_tail.notification().unwrap().chat.document();
        let mut later = api();
        later.failures_notified = 37;
        later.failures = 50;
        let reminder = message(later, Notice::Reminder)
            .notification()
            .unwrap()
            .chat
            .document();
        let mut done = api();
        done.resolution = Some(Recovery::SteadyState);
        let resolved = message(done, Notice::Resolved)
            .notification()
            .unwrap()
            .chat
            .document();
        for doc in [&alert, &reminder, &resolved] {
            assert_eq!(validate(doc), Ok(()), "{doc:#}");
            assert_eq!(doc["metadata"]["threadId"], alert["metadata"]["threadId"]);
            assert_eq!(doc["metadata"]["additionalContext"]["ServiceName"], "api");
            assert_eq!(doc["metadata"]["additionalContext"]["ClusterName"], "prod");
            assert_eq!(doc["metadata"]["additionalContext"]["Monitor"], "tasks");
        }
        assert_eq!(
            alert["metadata"]["threadId"],
            format!(
                "ecs-sentinel-tasks-123456789012-us-east-1-prod-service-api-{}",
                t(0).timestamp()
            )
        );
        assert_eq!(
            alert["content"]["title"],
            "🟠 HIGH · api in prod: 37 tasks failed - out-of-memory"
        );
        assert_eq!(
            alert["content"]["keywords"],
            serde_json::json!(["prod", "api", "out-of-memory", "container-exit"])
        );
        let description = alert["content"]["description"].as_str().unwrap_or_default();
        assert!(
            description.contains("• `out-of-memory`: 35"),
            "{description}"
        );
        assert!(
            description.contains("`app` exit 137: OutOfMemoryError"),
            "{description}"
        );
        assert!(
            description.contains("```\nline 4\nline 5\nline 6\nline 7\nline 8\n```"),
            "the last five log lines: {description}"
        );
        assert!(description.contains("[Service events](https://console.aws.amazon.com/ecs/v2/clusters/prod/services/api/events?region=us-east-1)"));
        assert!(alert["content"]["nextSteps"][0]
            .as_str()
            .unwrap_or_default()
            .starts_with("What usually fixes out-of-memory:"));
        assert!(reminder["content"]["title"]
            .as_str()
            .unwrap_or_default()
            .contains("Reminder - api in prod: 50 tasks failed"));
        assert_eq!(
            resolved["content"]["title"],
            "✅ RESOLVED · api in prod: steady state"
        );
        assert_eq!(resolved["content"]["nextSteps"], serde_json::json!([]));
        assert_eq!(resolved["metadata"]["eventType"], "task-resolved");

        let mut next = api();
        next.state.first_seen_at = t(600);
        let next = message(next, Notice::Alert)
            .notification()
            .unwrap()
            .chat
            .document();
        assert_ne!(
            next["metadata"]["threadId"], alert["metadata"]["threadId"],
            "a new episode, a new thread"
        );

        let family = message(
            episode(Owner::Family("nightly".into()), 3, 0),
            Notice::Alert,
        )
        .notification()
        .unwrap()
        .chat
        .document();
        assert_eq!(validate(&family), Ok(()));
        assert_eq!(
            family["metadata"]["additionalContext"]["TaskFamily"],
            "nightly"
        );
        assert!(
            family["metadata"]["additionalContext"]
                .get("ServiceName")
                .is_none(),
            "no Show stopped tasks button without a service"
        );
    }

    #[test]
    fn the_subject_names_service_cluster_count_and_kind() {
        let alert = message(episode(Owner::Service("api".into()), 37, 0), Notice::Alert);
        assert_eq!(
            alert.subject(),
            "[HIGH] api in prod: 37 tasks failed - out-of-memory"
        );
        let reminder = message(
            episode(Owner::Service("api".into()), 52, 37),
            Notice::Reminder,
        );
        assert_eq!(
            reminder.subject(),
            "[HIGH] Reminder - api in prod: 52 tasks failed (15 new) - out-of-memory"
        );
        let mut resolved = episode(Owner::Service("api".into()), 52, 52);
        resolved.resolution = Some(Recovery::DeploymentCompleted);
        assert_eq!(
            message(resolved, Notice::Resolved).subject(),
            "[RESOLVED] deployment completed after 52 tasks failed: api in prod"
        );
        let family = message(
            episode(Owner::Family("nightly".into()), 3, 0),
            Notice::Alert,
        );
        assert_eq!(
            family.subject(),
            "[HIGH] nightly (task family) in prod: 3 tasks failed - container-exit"
        );
        let long = message(
            episode(Owner::Service("x".repeat(150)), 37, 0),
            Notice::Alert,
        );
        let subject = long.subject();
        assert_eq!(subject.len(), SUBJECT_MAX_CHARS);
        assert!(
            subject.ends_with("...: 37 tasks failed - out-of-memory"),
            "{subject}"
        );
    }

    #[test]
    fn the_body_gives_reasons_exit_codes_revision_advice_log_tail_and_links() {
        let mut m = message(episode(Owner::Service("api".into()), 37, 0), Notice::Alert);
        m.log_tail = Some(LogTail {
            container: "app".into(),
            log_group: "/ecs/api".into(),
            log_stream: "ecs/app/0000".into(),
            lines: vec!["allocating 2 GiB".into(), "killed".into()],
        });
        let text = m.text();
        for expected in [
            "api in prod (us-east-1): 37 tasks failed since 2026-11-29 10:00:00 UTC (last 2026-11-29 10:02:00 UTC).",
            "  out-of-memory           35",
            "  container-exit          2",
            "What usually fixes out-of-memory: the container used more memory",
            "task 00000000000000000000000000000002 (api:42)  out-of-memory",
            "    reason: Essential container in task exited",
            "    app: exit 137 - OutOfMemoryError: Container killed due to memory usage",
            "    log-router: no exit code",
            "Last 2 lines of app's log (/ecs/api / ecs/app/0000):",
            "  killed",
            "Service events: https://console.aws.amazon.com/ecs/v2/clusters/prod/services/api/events?region=us-east-1",
            "Latest stopped task: https://console.aws.amazon.com/ecs/v2/clusters/prod/tasks/00000000000000000000000000000002/configuration?region=us-east-1",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        let doc = serde_json::to_value(m.document()).unwrap();
        assert_eq!(doc["type"], "task-alert");
        assert_eq!(doc["monitor"], "tasks");
        assert_eq!(doc["service"], "api");
        assert_eq!(doc["failures"], 37);
        assert_eq!(doc["byKind"]["out-of-memory"], 35);
        assert_eq!(doc["latest"][2]["containers"][0]["exitCode"], 137);
        assert_eq!(doc["logTail"]["lines"][1], "killed");
    }

    #[test]
    fn the_notification_carries_the_filter_attributes() {
        let n = message(episode(Owner::Service("api".into()), 37, 0), Notice::Alert)
            .notification()
            .unwrap();
        let attributes: Vec<(&str, String)> = n
            .attributes()
            .into_iter()
            .map(|a| (a.name, a.value))
            .collect();
        assert_eq!(
            attributes,
            vec![
                ("cluster", "prod".to_owned()),
                ("kind", r#"["out-of-memory","container-exit"]"#.to_owned()),
                ("severity", "high".to_owned()),
                ("monitor", "tasks".to_owned()),
                ("service", "api".to_owned()),
            ]
        );
        let resolved = message(
            episode(Owner::Service("api".into()), 37, 37),
            Notice::Resolved,
        )
        .notification()
        .unwrap();
        assert_eq!(resolved.kinds, vec!["resolved"]);
        assert_eq!(resolved.severity, Severity::Info);
    }

    #[test]
    fn a_huge_message_keeps_its_counts_and_drops_samples() {
        let mut e = episode(Owner::Service("api".into()), 37, 0);
        for s in &mut e.samples {
            s.reason = Some("r".repeat(120_000));
        }
        let m = message(e, Notice::Alert);
        let sns = m.sns_message().unwrap();
        assert!(sns.len() <= SNS_MESSAGE_MAX_BYTES);
        let outer: serde_json::Value = serde_json::from_str(&sns).unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(outer["default"].as_str().unwrap()).unwrap();
        assert_eq!(doc["failures"], 37);
        assert!(doc["omittedSamples"].as_u64().unwrap() >= 1);
    }
}
