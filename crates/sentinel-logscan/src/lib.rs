//! Reads application log lines the way an on-call engineer would.
//!
//! `ecs-sentinel logs errors|diagnose|summary` reads the CloudWatch log lines of
//! an ECS service and has to say what is going wrong. This crate is the part that
//! looks at one line at a time: which error category it belongs to
//! ([`classify`]), whether it is health-check noise ([`is_health_check`]), which
//! HTTP status it records ([`http_status`]), and a running tally of many lines
//! ([`Diagnosis`]). It does no I/O and knows nothing about AWS, so every rule is
//! tested against plain strings.
//!
//! The shell tool this replaces matched substrings and so told the operator
//! things that were not true: its `oom` pattern matched "room", `fatal` matched
//! "non-fatal", restarts were guessed from words ("ready" inside "already"), and
//! its health-check filter knew a single log format. The rules here differ in
//! four ways:
//!
//! - words match whole words (`\b`), and a word that is negated or reports
//!   nothing ("non-fatal", "no error", `error=0`, `err=<nil>`) does not count;
//! - a structured logger's declared level is believed: a JSON or logfmt line at
//!   level `info` is not an error because its message contains "error";
//! - an access-log line is judged by its status code only, because its path,
//!   referrer and user agent are chosen by whoever sent the request (a scanner
//!   asking for `/fatal-timeout` is not a fatal timeout);
//! - restarts are never inferred from words: ECS reports them, and the CLI reads
//!   them from there.
//!
//! Health checks are recognised by checker user agent or by a GET/HEAD on a
//! health path in the access-log formats of nginx/Apache, Envoy, gunicorn,
//! uvicorn, werkzeug, morgan, gin, fiber, chi, Serilog, logfmt and JSON access
//! loggers. A FireLens or Docker `{"log": "..."}` envelope is opened first, so
//! the application's own line is what the rules read.
//!
//! A line is classified once, into the first category that matches in
//! [`Category`] order. Lines are judged one by one, so a stack trace that
//! CloudWatch split into lines counts once per matching line (the `Traceback`
//! header, `Exception in thread`, each `Caused by: ...Exception`), never once
//! per stack frame.
//!
//! ```
//! use sentinel_logscan::{classify, http_status, is_health_check, Category};
//!
//! assert_eq!(classify("java.lang.OutOfMemoryError: Java heap space"), Some(Category::Oom));
//! assert_eq!(classify("booked the meeting room"), None);
//! assert_eq!(classify("non-fatal: retrying"), None);
//! assert_eq!(classify(r#"{"level":"info","msg":"0 errors"}"#), None);
//! assert!(is_health_check(r#"10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] "GET /health HTTP/1.1" 200 2 "-" "ELB-HealthChecker/2.0""#));
//! assert_eq!(http_status(r#"INFO:     10.0.0.1:1234 - "GET / HTTP/1.1" 500 Internal Server Error"#), Some(500));
//! ```

mod access;
mod diagnosis;
mod judge;
mod line;
mod rules;

#[cfg(test)]
mod tests;

use serde::{Serialize, Serializer};

pub use diagnosis::Diagnosis;

/// An error category, in precedence order (a line counts once, in its first
/// matching category).
///
/// The order puts the categories that name a cause before the ones that only
/// say "something failed": a Go `fatal error: runtime: out of memory` is an
/// `Oom`, a JSON line at level `error` whose message says "connection refused" is
/// a `ConnectionError`, and the plain word "error" is the last resort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Panic,
    Oom,
    Fatal,
    PythonTraceback,
    Timeout,
    ConnectionError,
    AuthError,
    Http5xx,
    Exception,
    StructuredError,
    Error,
}

impl Category {
    /// Every category, in precedence order.
    pub const ALL: [Category; 11] = [
        Category::Panic,
        Category::Oom,
        Category::Fatal,
        Category::PythonTraceback,
        Category::Timeout,
        Category::ConnectionError,
        Category::AuthError,
        Category::Http5xx,
        Category::Exception,
        Category::StructuredError,
        Category::Error,
    ];

    /// The stable name used in CLI output and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Panic => "panic",
            Category::Oom => "oom",
            Category::Fatal => "fatal",
            Category::PythonTraceback => "python_traceback",
            Category::Timeout => "timeout",
            Category::ConnectionError => "connection_error",
            Category::AuthError => "auth_error",
            Category::Http5xx => "http_5xx",
            Category::Exception => "exception",
            Category::StructuredError => "structured_error",
            Category::Error => "error",
        }
    }

    /// The category with this [`as_str`](Category::as_str) name, for CLI filters
    /// such as `--category oom`.
    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialised as its name, so a `BTreeMap<Category, usize>` becomes `{"oom": 3}`.
impl Serialize for Category {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The category of one log line, or `None` when it is not an error line.
pub fn classify(line: &str) -> Option<Category> {
    let line = line::Line::parse(line);
    let request = access::request_of(&line);
    judge::classify(&line, request.as_ref())
}

/// Health-check request noise (load balancer checkers, GET/HEAD on health
/// paths) in common access-log formats.
pub fn is_health_check(line: &str) -> bool {
    let line = line::Line::parse(line);
    let request = access::request_of(&line);
    access::is_health_check(&line, request.as_ref())
}

/// The HTTP response status of an access-log line, when the line is one.
pub fn http_status(line: &str) -> Option<u16> {
    access::request_of(&line::Line::parse(line)).and_then(|r| r.status)
}
