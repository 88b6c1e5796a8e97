//! The chat rendering of a notification: an Amazon Q Developer in chat applications (formerly
//! AWS Chatbot) *custom notification*, which Slack, Microsoft Teams and Chime channels show
//! as a card instead of raw JSON. Each monitor's domain fills a [`ChatMessage`] with the
//! essentials; this module shapes the document and keeps it within the service's limits.
//!
//! Every notice of one episode carries the same `threadId`, so an alert, its reminders and
//! its RESOLVED land in one thread.

use serde_json::{json, Map, Value};

/// Custom notifications' schema version.
pub const SCHEMA_VERSION: &str = "1.0";
/// Longest title the card shows whole.
pub const TITLE_MAX_CHARS: usize = 250;
/// Longest description (markdown) the card shows whole.
pub const DESCRIPTION_MAX_CHARS: usize = 8_000;
/// At most this many next steps are listed.
pub const NEXT_STEPS_MAX: usize = 10;
/// At most this many keywords (cluster, service, kinds) are shown.
pub const KEYWORDS_MAX: usize = 10;
/// Longest single keyword.
pub const KEYWORD_MAX_CHARS: usize = 75;
/// The whole document must fit an SNS message with room to spare.
pub const DOCUMENT_MAX_BYTES: usize = 250 * 1024;

/// What a chat channel shows for one notification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatMessage {
    /// Short, with the severity first: "🔴 CRITICAL · ECS agent disconnected: 3 instances in prod".
    pub title: String,
    /// The essentials in a few lines of markdown, with console links.
    pub description: String,
    /// What to do, one step per entry (markdown).
    pub next_steps: Vec<String>,
    /// Cluster, service, kinds: chat clients show them as tags.
    pub keywords: Vec<String>,
    /// The same for every notice of one episode.
    pub thread_id: String,
    /// One line, for notification previews.
    pub summary: String,
    /// `agent-alert`, `agent-resolved`, `task-alert`, `task-resolved`, ...
    pub event_type: String,
    /// ARNs the notification is about.
    pub related_resources: Vec<String>,
    /// Ids the channel's custom actions read (ClusterName, ServiceName, InstanceIds, ...).
    pub additional_context: Vec<(String, String)>,
}

/// The emoji and word a title starts with, by severity.
pub fn severity_badge(severity: crate::severity::Severity, resolved: bool) -> &'static str {
    use crate::severity::Severity;
    if resolved {
        return "✅ RESOLVED";
    }
    match severity {
        Severity::Critical => "🔴 CRITICAL",
        Severity::High => "🟠 HIGH",
        Severity::Warning => "🟡 WARNING",
        Severity::Info => "🔵 INFO",
    }
}

/// `text` cut to at most `max` characters on a character boundary, marked with "…" when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `text` within `max` bytes (UTF-8), cut on a character boundary and marked with "…".
fn clip_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let Some(room) = max.checked_sub('…'.len_utf8()) else {
        return String::new();
    };
    let mut end = room;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl ChatMessage {
    /// The custom notification document, every field within its limit: the title and
    /// description clipped, the lists capped, and, if still too big, the description cut
    /// until the whole fits `max_bytes`.
    pub fn document(&self) -> Value {
        self.document_within(DOCUMENT_MAX_BYTES)
    }

    pub fn document_within(&self, max_bytes: usize) -> Value {
        let mut description = clip(&self.description, DESCRIPTION_MAX_CHARS);
        loop {
            let document = self.render(&description);
            let size = document.to_string().len();
            if size <= max_bytes || description.is_empty() {
                return document;
            }
            // Shorten the description by the overflow (JSON escapes can make it count more
            // than its bytes, hence the loop).
            let room = description.len().saturating_sub(size - max_bytes);
            description = clip_bytes(&description, room);
        }
    }

    fn render(&self, description: &str) -> Value {
        let context: Map<String, Value> = self
            .additional_context
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect();
        json!({
            "version": SCHEMA_VERSION,
            "source": "custom",
            "content": {
                "textType": "client-markdown",
                "title": clip(&self.title, TITLE_MAX_CHARS),
                "description": description,
                "nextSteps": self.next_steps.iter().take(NEXT_STEPS_MAX).collect::<Vec<_>>(),
                "keywords": self
                    .keywords
                    .iter()
                    .take(KEYWORDS_MAX)
                    .map(|k| clip(k, KEYWORD_MAX_CHARS))
                    .collect::<Vec<_>>(),
            },
            "metadata": {
                "threadId": self.thread_id,
                "summary": clip(&self.summary, TITLE_MAX_CHARS),
                "eventType": self.event_type,
                "relatedResources": self.related_resources,
                "additionalContext": context,
            },
        })
    }
}

/// Checks a document against the custom notification schema, field by field, and against
/// the limits above: what the domains' tests run on every notice they render.
pub fn validate(doc: &Value) -> Result<(), String> {
    let object = |v: &Value, at: &str| -> Result<Map<String, Value>, String> {
        v.as_object()
            .cloned()
            .ok_or_else(|| format!("{at} must be an object, found {v}"))
    };
    let text = |v: &Value, at: &str, max: usize, required: bool| -> Result<(), String> {
        match v.as_str() {
            Some("") if required => Err(format!("{at} is empty")),
            Some(t) if t.chars().count() > max => Err(format!(
                "{at} has {} characters, at most {max}",
                t.chars().count()
            )),
            Some(_) => Ok(()),
            None => Err(format!("{at} must be a string, found {v}")),
        }
    };
    let strings = |v: &Value, at: &str, max_items: usize, max_chars: usize| -> Result<(), String> {
        let items = v
            .as_array()
            .ok_or_else(|| format!("{at} must be an array, found {v}"))?;
        if items.len() > max_items {
            return Err(format!(
                "{at} has {} items, at most {max_items}",
                items.len()
            ));
        }
        items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| text(item, &format!("{at}[{i}]"), max_chars, true))
    };
    let top = object(doc, "the document")?;
    let mut keys: Vec<&str> = top.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["content", "metadata", "source", "version"] {
        return Err(format!(
            "top-level fields must be content, metadata, source, version; found {keys:?}"
        ));
    }
    if doc["version"] != SCHEMA_VERSION || doc["source"] != "custom" {
        return Err(format!(
            "version must be 1.0 and source custom, found {} and {}",
            doc["version"], doc["source"]
        ));
    }
    let content = object(&doc["content"], "content")?;
    if content.get("textType").and_then(Value::as_str) != Some("client-markdown") {
        return Err("content.textType must be client-markdown".into());
    }
    text(
        &doc["content"]["title"],
        "content.title",
        TITLE_MAX_CHARS,
        true,
    )?;
    text(
        &doc["content"]["description"],
        "content.description",
        DESCRIPTION_MAX_CHARS,
        true,
    )?;
    strings(
        &doc["content"]["nextSteps"],
        "content.nextSteps",
        NEXT_STEPS_MAX,
        DESCRIPTION_MAX_CHARS,
    )?;
    strings(
        &doc["content"]["keywords"],
        "content.keywords",
        KEYWORDS_MAX,
        KEYWORD_MAX_CHARS,
    )?;
    let metadata = object(&doc["metadata"], "metadata")?;
    text(&doc["metadata"]["threadId"], "metadata.threadId", 256, true)?;
    text(
        &doc["metadata"]["summary"],
        "metadata.summary",
        TITLE_MAX_CHARS,
        true,
    )?;
    text(
        &doc["metadata"]["eventType"],
        "metadata.eventType",
        100,
        true,
    )?;
    strings(
        &doc["metadata"]["relatedResources"],
        "metadata.relatedResources",
        100,
        2048,
    )?;
    let context = object(
        &doc["metadata"]["additionalContext"],
        "metadata.additionalContext",
    )?;
    for (key, value) in &context {
        // Custom actions read these into variables, whose values must be printable ASCII
        // without spaces; keys must be names.
        let value = value
            .as_str()
            .ok_or_else(|| format!("additionalContext.{key} must be a string"))?;
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "additionalContext key {key:?} is not a variable name"
            ));
        }
        if value.is_empty()
            || value.len() > 1024
            || !value.bytes().all(|b| (0x21..=0x7e).contains(&b))
        {
            return Err(format!("additionalContext.{key} = {value:?} is not 1-1024 printable ASCII characters without spaces"));
        }
    }
    if metadata.len() != 5 {
        return Err(format!(
            "metadata has {} fields, expected 5",
            metadata.len()
        ));
    }
    let size = doc.to_string().len();
    if size > DOCUMENT_MAX_BYTES {
        return Err(format!(
            "the document is {size} bytes, at most {DOCUMENT_MAX_BYTES}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::severity::Severity;

    fn message() -> ChatMessage {
        ChatMessage {
            title: "🟠 HIGH · ECS agent disconnected: 1 instance in prod".into(),
            description: "**prod** (us-east-1)\n- `i-0abc` agent disconnected".into(),
            next_steps: vec!["Restart the agent".into()],
            keywords: vec!["prod".into(), "agent-disconnected".into()],
            thread_id: "ecs-sentinel-agent-123456789012-us-east-1-prod".into(),
            summary: "1 agent down in prod".into(),
            event_type: "agent-alert".into(),
            related_resources: vec![
                "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/abc".into(),
            ],
            additional_context: vec![("ClusterName".into(), "prod".into())],
        }
    }

    #[test]
    fn the_document_has_the_custom_notification_shape() {
        let doc = message().document();
        assert_eq!(doc["version"], "1.0");
        assert_eq!(doc["source"], "custom");
        assert_eq!(doc["content"]["textType"], "client-markdown");
        assert_eq!(doc["content"]["nextSteps"][0], "Restart the agent");
        assert_eq!(
            doc["metadata"]["threadId"],
            "ecs-sentinel-agent-123456789012-us-east-1-prod"
        );
        assert_eq!(doc["metadata"]["additionalContext"]["ClusterName"], "prod");
        assert_eq!(doc["metadata"]["eventType"], "agent-alert");
    }

    #[test]
    fn long_fields_are_clipped_and_the_whole_fits() {
        let mut m = message();
        m.title = "t".repeat(1_000);
        m.description = "é".repeat(50_000);
        m.keywords = (0..30)
            .map(|n| format!("k{n}{}", "x".repeat(100)))
            .collect();
        m.next_steps = (0..30).map(|n| format!("step {n}")).collect();
        let doc = m.document_within(4_000);
        assert!(doc.to_string().len() <= 4_000);
        let title = doc["content"]["title"].as_str().unwrap_or_default();
        assert_eq!(title.chars().count(), TITLE_MAX_CHARS);
        assert!(title.ends_with('…'));
        assert!(doc["content"]["description"]
            .as_str()
            .is_some_and(|d| d.ends_with('…')));
        assert_eq!(
            doc["content"]["keywords"].as_array().map(Vec::len),
            Some(KEYWORDS_MAX)
        );
        assert!(doc["content"]["keywords"][0]
            .as_str()
            .is_some_and(|k| k.chars().count() == KEYWORD_MAX_CHARS));
        assert_eq!(
            doc["content"]["nextSteps"].as_array().map(Vec::len),
            Some(NEXT_STEPS_MAX)
        );
    }

    #[test]
    fn the_validator_accepts_ours_and_names_what_is_wrong() {
        assert_eq!(validate(&message().document()), Ok(()));
        let broken = |change: &dyn Fn(&mut Value)| {
            let mut doc = message().document();
            change(&mut doc);
            validate(&doc).err().unwrap_or_default()
        };
        assert!(broken(&|d| d["version"] = "2.0".into()).contains("version must be 1.0"));
        assert!(broken(&|d| d["content"]["title"] = "".into()).contains("content.title is empty"));
        assert!(broken(&|d| d["content"]["title"] = "x".repeat(300).into()).contains("at most 250"));
        assert!(
            broken(&|d| d["content"]["keywords"] = Value::from(vec!["a"; 11]))
                .contains("at most 10")
        );
        assert!(
            broken(&|d| d["metadata"]["additionalContext"]["ClusterName"] = "a b".into())
                .contains("without spaces")
        );
        assert!(broken(&|d| d["extra"] = 1.into()).contains("top-level fields"));
        assert!(
            broken(&|d| d["content"]["textType"] = "markdown".into()).contains("client-markdown")
        );
    }

    #[test]
    fn badges_lead_with_the_severity() {
        assert_eq!(severity_badge(Severity::Critical, false), "🔴 CRITICAL");
        assert_eq!(severity_badge(Severity::High, true), "✅ RESOLVED");
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "ab…");
    }
}
