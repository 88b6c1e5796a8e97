//! One log line made ready for the rules, and the classification that puts the
//! rule groups together.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex_lite::Regex;
use serde_json::{Map, Value};

use crate::rules::compile;

/// A log line as the rules read it.
pub(crate) struct Line<'a> {
    /// The text: colour codes removed, surrounding whitespace trimmed, and a
    /// log router's envelope opened (see [`envelope_payload`]).
    pub text: Cow<'a, str>,
    /// The JSON object, when `text` is one.
    pub json: Option<Map<String, Value>>,
}

impl<'a> Line<'a> {
    pub fn parse(raw: &'a str) -> Line<'a> {
        let text = clean(raw);
        let json = parse_object(&text);
        // Opened once only: a payload that is itself an envelope is read as an
        // ordinary JSON line, so a hostile line cannot make us recurse.
        let inner = json
            .as_ref()
            .and_then(envelope_payload)
            .map(|payload| clean(payload).into_owned());
        match inner {
            Some(inner) => {
                let json = parse_object(&inner);
                Line {
                    text: Cow::Owned(inner),
                    json,
                }
            }
            None => Line { text, json },
        }
    }
}

/// ANSI escape sequences: morgan's `dev` format and many Go loggers colour the
/// status code, which would otherwise sit between the path and the digits.
static ANSI_ESCAPE: LazyLock<Regex> = LazyLock::new(|| compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]"));

fn clean(raw: &str) -> Cow<'_, str> {
    let trimmed = raw.trim();
    if trimmed.contains('\x1b') {
        Cow::Owned(ANSI_ESCAPE.replace_all(trimmed, "").trim().to_string())
    } else {
        Cow::Borrowed(trimmed)
    }
}

fn parse_object(text: &str) -> Option<Map<String, Value>> {
    // The cheap test first: most lines are not JSON and need no parse attempt.
    if !(text.starts_with('{') && text.ends_with('}')) {
        return None;
    }
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// The application's own line inside a log router's record. FireLens (Fluent
/// Bit) and Docker's json-file driver wrap each stdout line as
/// `{"log": "...", "container_name": ..., "source": "stderr"}`; the wrapper has
/// no level of its own, so a record with a level field is a normal JSON log
/// whose `log` field happens to be a string.
fn envelope_payload(object: &Map<String, Value>) -> Option<&str> {
    if has_level_field(object) {
        return None;
    }
    object.get("log").and_then(Value::as_str)
}

/// A field by name, either as a flat dotted key (`"log.level": "error"`, as ECS
/// and OpenTelemetry exporters write it) or as nested objects
/// (`"log": {"level": "error"}`).
pub(crate) fn field<'v>(object: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    if let Some(value) = object.get(path) {
        return Some(value);
    }
    let (head, rest) = path.split_once('.')?;
    match object.get(head)? {
        Value::Object(inner) => field(inner, rest),
        _ => None,
    }
}

/// The first of `paths` that holds a string.
pub(crate) fn string_field<'v>(object: &'v Map<String, Value>, paths: &[&str]) -> Option<&'v str> {
    paths
        .iter()
        .find_map(|path| field(object, path).and_then(Value::as_str))
}

/// What a logger declared about a line's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Error,
    NotError,
}

/// Level field names across loggers: zap/zerolog/logrus/pino/winston (`level`),
/// Google Cloud and Serilog-style (`severity`), log15 (`lvl`), Elastic Common
/// Schema (`log.level`), Python's `logging` via json formatters (`levelname`),
/// and Serilog compact JSON (`@l`).
const LEVEL_FIELDS: [&str; 8] = [
    "level",
    "severity",
    "lvl",
    "log.level",
    "levelname",
    "log_level",
    "loglevel",
    "@l",
];

fn has_level_field(object: &Map<String, Value>) -> bool {
    LEVEL_FIELDS
        .iter()
        .any(|name| field(object, name).is_some())
}

/// The declared level of a JSON line; `None` when there is no level field or
/// none with a value we recognise (then the line is judged by its words).
pub(crate) fn json_level(object: &Map<String, Value>) -> Option<Level> {
    LEVEL_FIELDS.iter().find_map(|name| {
        let value = field(object, name)?;
        match value {
            Value::String(word) => level_word(word).or_else(|| {
                // pino and bunyan write the number; some shippers quote it.
                (*name == "level")
                    .then(|| word.trim().parse::<u64>().ok().map(numeric_level))
                    .flatten()
            }),
            // Numbers are pino/bunyan levels (10 trace .. 60 fatal) only under
            // `level`; numeric `severity` elsewhere means syslog or OpenTelemetry
            // scales, which run differently.
            Value::Number(n) if *name == "level" => n.as_u64().map(numeric_level),
            _ => None,
        }
    })
}

fn numeric_level(n: u64) -> Level {
    if n >= 50 {
        Level::Error
    } else {
        Level::NotError
    }
}

/// A level name, case-insensitive. zap's `dpanic`/`panic` and
/// java.util.logging's `severe` are error levels too.
pub(crate) fn level_word(word: &str) -> Option<Level> {
    const ERROR: [&str; 11] = [
        "error",
        "err",
        "critical",
        "crit",
        "fatal",
        "alert",
        "emerg",
        "emergency",
        "panic",
        "dpanic",
        "severe",
    ];
    const NOT_ERROR: [&str; 14] = [
        "trace",
        "debug",
        "info",
        "information",
        "informational",
        "notice",
        "warn",
        "warning",
        "verbose",
        "fine",
        "finer",
        "finest",
        "config",
        "default",
    ];
    let word = word.trim();
    if ERROR.iter().any(|w| w.eq_ignore_ascii_case(word)) {
        Some(Level::Error)
    } else if NOT_ERROR.iter().any(|w| w.eq_ignore_ascii_case(word)) {
        Some(Level::NotError)
    } else {
        None
    }
}

/// logfmt's level key (`level=error`, `lvl=err`, Go slog's `level=ERROR`).
/// Keys are lower-case in every logfmt writer we know; values are not.
static LOGFMT_LEVEL: LazyLock<Regex> = LazyLock::new(|| {
    compile(r#"(?:^|\s)(?:level|lvl|severity|log_level|loglevel)="?([A-Za-z]+)"?(?:\s|$)"#)
});

pub(crate) fn logfmt_level(text: &str) -> Option<Level> {
    // Cheap pre-check: every key above ends in one of these.
    if !["level=", "lvl=", "severity="]
        .iter()
        .any(|k| text.contains(k))
    {
        return None;
    }
    LOGFMT_LEVEL
        .captures(text)
        .and_then(|c| c.get(1))
        .and_then(|m| level_word(m.as_str()))
}

/// Fields that carry the message and any attached error, whose text decides
/// the specific category of a JSON line.
const MESSAGE_FIELDS: [&str; 12] = [
    "msg",
    "message",
    "@m",
    "event",
    "text",
    "error",
    "err",
    "exception",
    "exc_info",
    "stack_trace",
    "stacktrace",
    "stack",
];

/// Fields whose presence says "this went wrong" when there is no level.
const ERROR_FIELDS: [&str; 5] = ["error", "err", "exception", "exc_info", "stack_trace"];

/// The message text of a JSON line: the message fields, and the string members
/// of an error object (pino's `err: {type, message, stack}`), one per line.
pub(crate) fn json_message_text(object: &Map<String, Value>) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for name in MESSAGE_FIELDS {
        match object.get(name) {
            Some(Value::String(s)) => parts.push(s),
            Some(Value::Object(inner)) => parts.extend(inner.values().filter_map(Value::as_str)),
            _ => {}
        }
    }
    parts.join("\n")
}

/// Whether an error field holds something: a non-empty string that is not a
/// printed nil (Go code logging `err` with `%v` writes `<nil>`), or a non-empty
/// object.
pub(crate) fn has_error_field(object: &Map<String, Value>) -> bool {
    ERROR_FIELDS.iter().any(|name| match object.get(*name) {
        Some(Value::String(s)) => {
            let s = s.trim();
            !s.is_empty()
                && !["<nil>", "nil", "null", "none"]
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(s))
        }
        Some(Value::Object(inner)) => !inner.is_empty(),
        _ => false,
    })
}

#[cfg(test)]
pub(crate) fn force_patterns() {
    LazyLock::force(&ANSI_ESCAPE);
    LazyLock::force(&LOGFMT_LEVEL);
}
