//! The notification every monitor sends, whatever it watches: one message with a subject,
//! renderings for people (email text) and machines (a versioned JSON document), and the SNS
//! attributes subscribers filter on (`monitor`, `cluster`, `kind`, `severity`, and `service`
//! where there is one). A monitor's domain builds its facts into a [`Notification`]; the
//! notifier adapter only sends it.
//!
//! Also the rendering rules all monitors keep: SNS's subject limit (100 printable ASCII
//! characters) and message limit (a storm's message is shortened, never dropped).

use crate::chat::ChatMessage;
use crate::notice::Notice;
use crate::ClusterArn;
use serde::Serialize;

pub const SUBJECT_MAX_CHARS: usize = 100;
/// SNS accepts at most 256 KiB per message, attributes included; this leaves them room.
pub const SNS_MESSAGE_MAX_BYTES: usize = 250 * 1024;

/// Which monitor speaks (the `monitor` attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Monitor {
    /// The agent monitor: can ECS still manage this machine?
    Agent,
    /// The task monitor: why are my tasks dying?
    Tasks,
}

impl Monitor {
    pub fn as_str(self) -> &'static str {
        match self {
            Monitor::Agent => "agent",
            Monitor::Tasks => "tasks",
        }
    }
}

pub use crate::severity::Severity;

/// A message attribute for SNS subscription filter policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    /// `String` or `String.Array` (a JSON array of strings, as SNS expects).
    pub data_type: &'static str,
    pub value: String,
}

/// One message, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub monitor: Monitor,
    /// Which notice of the lifecycle this message is.
    pub notice: Notice,
    pub cluster: ClusterArn,
    pub service: Option<String>,
    /// The kinds of failure it reports, in a stable order (`["resolved"]` for a RESOLVED).
    pub kinds: Vec<String>,
    pub severity: Severity,
    /// What the message is about: container instance ARNs, task ARNs. For logs and tests.
    pub about: Vec<String>,
    pub subject: String,
    /// The SNS `Message` for `MessageStructure=json` ([`sns_message`]).
    pub message: String,
    /// The chat rendering, published to the chat topic when there is one.
    pub chat: ChatMessage,
}

impl Notification {
    /// Attributes for subscription filter policies: route by monitor, cluster, kind,
    /// severity or service.
    pub fn attributes(&self) -> Vec<Attribute> {
        let mut attributes = vec![
            Attribute {
                name: "cluster",
                data_type: "String",
                value: self.cluster.name().to_owned(),
            },
            Attribute {
                name: "kind",
                data_type: "String.Array",
                value: serde_json::Value::from(self.kinds.clone()).to_string(),
            },
            Attribute {
                name: "severity",
                data_type: "String",
                value: self.severity.as_str().to_owned(),
            },
            Attribute {
                name: "monitor",
                data_type: "String",
                value: self.monitor.as_str().to_owned(),
            },
        ];
        if let Some(service) = &self.service {
            attributes.push(Attribute {
                name: "service",
                data_type: "String",
                value: service.clone(),
            });
        }
        attributes
    }
}

/// The SNS `Message` for `MessageStructure=json`: the text for email, the document for
/// every other protocol (SQS, Lambda, HTTP/S, email-json) through `default`.
pub fn sns_message(document: &impl Serialize, text: String) -> Result<String, serde_json::Error> {
    let mut by_protocol = serde_json::Map::new();
    by_protocol.insert("default".into(), serde_json::to_string(document)?.into());
    by_protocol.insert("email".into(), text.into());
    serde_json::to_string(&by_protocol)
}

/// The message with as many of `count` items detailed as fit in `max_bytes`; `render`
/// gives the message for a number of detailed items, and grows with it. One message per
/// group must fit SNS's limit even in a storm: the rest are listed briefly by the renderer.
pub fn fit_sns_message(
    count: usize,
    max_bytes: usize,
    render: impl Fn(usize) -> Result<String, serde_json::Error>,
) -> Result<String, serde_json::Error> {
    let full = render(count)?;
    if full.len() <= max_bytes {
        return Ok(full);
    }
    let (mut fits, mut too_big) = (0, count);
    while too_big - fits > 1 {
        let middle = fits + (too_big - fits) / 2;
        if render(middle)?.len() <= max_bytes {
            fits = middle;
        } else {
            too_big = middle;
        }
    }
    render(fits)
}

/// `prefix` + `name`, within SNS's subject limit; a long name is shortened, never the facts
/// in the prefix.
pub fn subject_with(prefix: &str, name: &str) -> String {
    subject_around(prefix, name, "")
}

/// `prefix` + `name` + `suffix`, within SNS's subject limit: the name goes in the middle and
/// is the part shortened, so the facts on both sides are kept whole.
pub fn subject_around(prefix: &str, name: &str, suffix: &str) -> String {
    let name = ascii_only(name);
    let room = SUBJECT_MAX_CHARS.saturating_sub(prefix.len() + suffix.len());
    if name.len() <= room {
        format!("{prefix}{name}{suffix}")
    } else {
        let keep = room.saturating_sub(3);
        format!("{prefix}{}...{suffix}", &name[..keep])
    }
}

/// "45 s", "12 min", "3 h 05 min": how long something has lasted, at a glance.
pub fn human_duration(d: chrono::TimeDelta) -> String {
    let secs = d.num_seconds().max(0);
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        _ => format!("{} h {:02} min", secs / 3600, secs % 3600 / 60),
    }
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A page of the AWS console in `partition` (`path` starts with `/` and carries its query);
/// unknown partitions get no link rather than a wrong one.
pub fn console_url(partition: &str, path: &str) -> Option<String> {
    let host = match partition {
        "aws" => "console.aws.amazon.com",
        "aws-us-gov" => "console.amazonaws-us-gov.com",
        "aws-cn" => "console.amazonaws.cn",
        _ => return None,
    };
    Some(format!("https://{host}{path}"))
}

/// SNS subjects must be printable ASCII without line breaks.
fn ascii_only(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_name_the_monitor_and_the_service_only_when_there_is_one() {
        let mut n = Notification {
            monitor: Monitor::Tasks,
            notice: Notice::Alert,
            cluster: ClusterArn::parse("arn:aws:ecs:us-east-1:1:cluster/prod").unwrap(),
            service: Some("api".into()),
            kinds: vec!["out-of-memory".into(), "image-pull".into()],
            severity: Severity::High,
            about: vec![],
            subject: "s".into(),
            message: "{}".into(),
            chat: ChatMessage::default(),
        };
        let attributes: Vec<(&str, &str, String)> = n
            .attributes()
            .into_iter()
            .map(|a| (a.name, a.data_type, a.value))
            .collect();
        assert_eq!(
            attributes,
            vec![
                ("cluster", "String", "prod".to_owned()),
                (
                    "kind",
                    "String.Array",
                    r#"["out-of-memory","image-pull"]"#.to_owned()
                ),
                ("severity", "String", "high".to_owned()),
                ("monitor", "String", "tasks".to_owned()),
                ("service", "String", "api".to_owned()),
            ]
        );
        n.service = None;
        assert!(n.attributes().iter().all(|a| a.name != "service"));
    }

    #[test]
    fn subjects_keep_the_facts_and_shorten_the_name() {
        let s = subject_with("[HIGH] 3 instances in ", &"x".repeat(200));
        assert_eq!(s.len(), SUBJECT_MAX_CHARS);
        assert!(s.starts_with("[HIGH] 3 instances in xxx") && s.ends_with("..."));
        assert_eq!(subject_with("a ", "b\nc"), "a b?c");
        let around = subject_around("[HIGH] ", &"y".repeat(200), ": 3 tasks failed - oom");
        assert_eq!(around.len(), SUBJECT_MAX_CHARS);
        assert!(
            around.starts_with("[HIGH] yyy") && around.ends_with("yyy...: 3 tasks failed - oom")
        );
    }

    #[test]
    fn the_longest_fitting_message_is_chosen() {
        let render = |n: usize| Ok::<_, serde_json::Error>("x".repeat(10 + n * 100));
        assert_eq!(fit_sns_message(50, 10_000, render).unwrap().len(), 5010);
        assert_eq!(fit_sns_message(50, 1_000, render).unwrap().len(), 910);
        assert_eq!(
            fit_sns_message(50, 5, render).unwrap().len(),
            10,
            "none detailed"
        );
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(human_duration(chrono::TimeDelta::seconds(-3)), "0 s");
        assert_eq!(human_duration(chrono::TimeDelta::seconds(75)), "75 s");
        assert_eq!(human_duration(chrono::TimeDelta::seconds(600)), "10 min");
        assert_eq!(
            human_duration(chrono::TimeDelta::seconds(3 * 3600 + 300)),
            "3 h 05 min"
        );
    }
}
