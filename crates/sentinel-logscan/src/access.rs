//! Access-log lines: the request they record (method, path, status) and whether
//! it is health-check noise.
//!
//! Every rule here is anchored to the shape of an access-log line (a quoted
//! request line, a gin/fiber pipe table, a `METHOD /path STATUS` triple, logfmt
//! or JSON request fields), never to "any three-digit number", so "retrying in
//! 500 ms" or "user 404 not found" has no status.

use std::sync::LazyLock;

use regex_lite::{Captures, Regex};
use serde_json::{Map, Value};

use crate::line::{field, string_field, Line};
use crate::rules::compile;

/// Where a request was read from, which decides how the rest of the line is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The whole line is a request record (combined/common log, uvicorn, gin,
    /// morgan dev): besides the status, its text was chosen by the client.
    AccessLine,
    /// Request fields beside a message (JSON, logfmt): the message is the
    /// application's own and is read by the word rules.
    Fields,
}

/// What a line says about an HTTP request. Any part may be missing (a JSON
/// line may carry a status code and nothing else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    pub method: Option<&'a str>,
    pub path: Option<&'a str>,
    pub status: Option<u16>,
    pub origin: Origin,
}

const METHOD_NAMES: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
];

/// The methods as a regex alternation.
fn methods() -> String {
    METHOD_NAMES.join("|")
}

/// A status code in the range HTTP defines.
fn status_code(digits: &str) -> Option<u16> {
    digits
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|s| (100..=599).contains(s))
}

/// The request of a parsed line, from its JSON fields or its text shape.
pub(crate) fn request_of<'l>(line: &'l Line<'_>) -> Option<Request<'l>> {
    match &line.json {
        Some(object) => json_request(object),
        None => text_request(&line.text),
    }
}

// ---------------------------------------------------------------------------
// Text shapes.

/// nginx/Apache combined and common log, gunicorn, werkzeug, uvicorn, morgan
/// `combined`/`common`, Envoy, and Go chi's `"GET http://host/x HTTP/1.1" from
/// 10.0.0.1:1234 - 200 2B in 25µs`: a quoted request line, then the status.
/// The status is required: an application line that quotes a request
/// (`proxy "GET /x HTTP/1.1" failed: connection refused`) is its own message.
static QUOTED: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!(
        r#""({methods}) (\S+) HTTP/[0-9.]+"(?:\s+from \S+ -)?\s+([1-5][0-9][0-9])\b"#,
        methods = methods()
    ))
});

/// gin (`| 200 |  1ms |  10.0.0.1 | GET      "/healthz"`) and fiber
/// (`| 200 |  1ms | 10.0.0.1 | GET | /health | -`): a status cell, then a
/// method cell with the path.
static PIPES: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!(
        r#"\|\s*([1-5][0-9][0-9])\s*\|.*\|\s*({methods})\s*(?:\|\s*)?"?([^"\s|]+)"#,
        methods = methods()
    ))
});

/// morgan `dev`/`tiny` (`GET /health 200 1.234 ms - 2`), Go middleware
/// (`GET /healthz 200 1.2ms`) and ASP.NET Serilog request logging (`HTTP GET
/// /health responded 200 in 1.2 ms`): method, path, status, nothing else in between.
static TRIPLE: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!(
        r"(?:^|\s)({methods}) (/\S*|https?://\S+) (?:responded )?([1-5][0-9][0-9])(?:\s|$)",
        methods = methods()
    ))
});

/// logfmt request fields (Go slog's text handler, logrus): a method field is
/// required, so a `status=` alone is not an HTTP status.
static LOGFMT_METHOD: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!(
        r#"(?:^|\s)(?:method|http_method|request_method)="?({methods})"?(?:\s|$)"#,
        methods = methods()
    ))
});
static LOGFMT_PATH: LazyLock<Regex> =
    LazyLock::new(|| compile(r#"(?:^|\s)(?:path|uri|url|request_uri)="?([^"\s]+)"?(?:\s|$)"#));
static LOGFMT_STATUS: LazyLock<Regex> = LazyLock::new(|| {
    compile(r#"(?:^|\s)(?:status|status_code|http_status)="?([1-5][0-9][0-9])"?(?:\s|$)"#)
});

/// A request line on its own, as nginx's `$request` writes it into JSON.
static REQUEST_LINE: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!(
        r"^({methods}) (\S+)(?: HTTP/[0-9.]+)?$",
        methods = methods()
    ))
});

fn group<'h>(captures: &Captures<'h>, i: usize) -> Option<&'h str> {
    captures.get(i).map(|m| m.as_str())
}

/// The request recorded by a text line, trying each shape in turn.
pub(crate) fn text_request(text: &str) -> Option<Request<'_>> {
    quoted_request(text)
        .or_else(|| pipes_request(text))
        .or_else(|| triple_request(text))
        .or_else(|| logfmt_request(text))
}

// Each shape first checks for a literal it cannot match without, so a line
// that is no access log costs a few substring searches, not five regex scans.

fn quoted_request(text: &str) -> Option<Request<'_>> {
    if !text.contains(" HTTP/") {
        return None;
    }
    let c = QUOTED.captures(text)?;
    Some(Request {
        method: group(&c, 1),
        path: group(&c, 2),
        status: group(&c, 3).and_then(status_code),
        origin: Origin::AccessLine,
    })
}

fn pipes_request(text: &str) -> Option<Request<'_>> {
    if !text.contains('|') {
        return None;
    }
    let c = PIPES.captures(text)?;
    Some(Request {
        method: group(&c, 2),
        path: group(&c, 3),
        status: group(&c, 1).and_then(status_code),
        origin: Origin::AccessLine,
    })
}

fn has_method_name(text: &str) -> bool {
    METHOD_NAMES.iter().any(|m| text.contains(m))
}

fn triple_request(text: &str) -> Option<Request<'_>> {
    if !has_method_name(text) {
        return None;
    }
    let c = TRIPLE.captures(text)?;
    Some(Request {
        method: group(&c, 1),
        path: group(&c, 2),
        status: group(&c, 3).and_then(status_code),
        origin: Origin::AccessLine,
    })
}

fn logfmt_request(text: &str) -> Option<Request<'_>> {
    if !(text.contains("method=") && has_method_name(text)) {
        return None;
    }
    let method = LOGFMT_METHOD.captures(text).and_then(|c| group(&c, 1))?;
    Some(Request {
        method: Some(method),
        path: LOGFMT_PATH.captures(text).and_then(|c| group(&c, 1)),
        status: LOGFMT_STATUS
            .captures(text)
            .and_then(|c| group(&c, 1))
            .and_then(status_code),
        origin: Origin::Fields,
    })
}

// ---------------------------------------------------------------------------
// JSON fields.

/// Method fields: nginx JSON `log_format`s, API Gateway (`httpMethod`), Elastic
/// Common Schema and OpenTelemetry (`http.request.method`, `http.method`),
/// pino-http (`req.method`), Caddy (`request.method`), Google Cloud
/// (`httpRequest.requestMethod`), Serilog request logging and Traefik
/// (`RequestMethod`). Path and status fields follow the same loggers.
const METHOD_FIELDS: [&str; 10] = [
    "method",
    "request_method",
    "httpMethod",
    "http_method",
    "http.method",
    "http.request.method",
    "req.method",
    "request.method",
    "httpRequest.requestMethod",
    "RequestMethod",
];

const PATH_FIELDS: [&str; 15] = [
    "path",
    "url",
    "uri",
    "request_uri",
    "request_path",
    "http.target",
    "http.url",
    "url.path",
    "url.original",
    "req.url",
    "request.url",
    "request.path",
    "request.uri",
    "httpRequest.requestUrl",
    "RequestPath",
];

/// Status fields whose name says HTTP on its own.
const STATUS_FIELDS: [&str; 13] = [
    "status_code",
    "statusCode",
    "response_status",
    "http_status",
    "http.status_code",
    "http.response.status_code",
    "res.statusCode",
    "response.status",
    "response.status_code",
    "response.statusCode",
    "httpRequest.status",
    "StatusCode",
    "DownstreamStatus",
];

/// A status as a JSON number or a quoted number (nginx's `log_format escape=json`
/// quotes every variable).
fn json_status(value: &Value) -> Option<u16> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .filter(|s| (100..=599).contains(s)),
        Value::String(s) => status_code(s),
        _ => None,
    }
}

/// The request recorded in a JSON line's fields. A bare `status` field is only
/// read when the line also names a request (`{"status": 500, "msg": "job
/// failed"}` is not an HTTP response). With no request fields at all, a message
/// that is itself an access-log line (gunicorn through a JSON formatter) is read
/// instead.
fn json_request(object: &Map<String, Value>) -> Option<Request<'_>> {
    let request_line = object
        .get("request")
        .and_then(Value::as_str)
        .and_then(|r| REQUEST_LINE.captures(r.trim()));
    let method = string_field(object, &METHOD_FIELDS)
        .or_else(|| request_line.as_ref().and_then(|c| group(c, 1)));
    let path = string_field(object, &PATH_FIELDS)
        .or_else(|| request_line.as_ref().and_then(|c| group(c, 2)));
    let names_request = method.is_some() || path.is_some();
    let status = STATUS_FIELDS
        .iter()
        .find_map(|name| field(object, name).and_then(json_status))
        .or_else(|| {
            names_request
                .then(|| object.get("status").and_then(json_status))
                .flatten()
        });
    if method.is_some() || status.is_some() {
        return Some(Request {
            method,
            path,
            status,
            origin: Origin::Fields,
        });
    }
    ["msg", "message"]
        .iter()
        .filter_map(|name| object.get(*name).and_then(Value::as_str))
        .find_map(text_request)
}

// ---------------------------------------------------------------------------
// Health checks.

/// Health-checker user agents, spelled exactly as the checkers send them:
/// ALB/ELB, Google Cloud, Kubernetes, Consul. The version after the slash keeps
/// an application message about "kube-probe" out.
const CHECKER_AGENTS: [&str; 4] = [
    "ELB-HealthChecker/",
    "GoogleHC/",
    "kube-probe/",
    "Consul Health Check",
];
static CHECKER_AGENT: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"\bELB-HealthChecker/\d|\bGoogleHC/\d|\bkube-probe/\d|\bConsul Health Check\b")
});

const HEALTH_PATHS: [&str; 10] = [
    "/health",
    "/healthz",
    "/healthcheck",
    "/health-check",
    "/ping",
    "/ready",
    "/readyz",
    "/live",
    "/livez",
    "/status",
];

/// The path of a request target, without `scheme://host` when a proxy or chi
/// logged the absolute form.
fn path_only(target: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if target
            .get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        {
            let rest = &target[scheme.len()..];
            return rest.find('/').map_or("/", |i| &rest[i..]);
        }
    }
    target
}

/// A health path exactly, or followed by a query or a sub-path (`/health?full=1`,
/// `/healthz/ready`). Not `/healthy-cats`, not `/api/health/report`.
fn is_health_path(target: &str) -> bool {
    let path = path_only(target);
    HEALTH_PATHS.iter().any(|p| {
        path.get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p))
            && matches!(path.as_bytes().get(p.len()), None | Some(b'?') | Some(b'/'))
    })
}

/// Health checkers only read: a POST or PUT to `/health` is an application
/// request like any other.
fn is_read(method: &str) -> bool {
    method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD")
}

pub(crate) fn is_health_check(line: &Line<'_>, request: Option<&Request<'_>>) -> bool {
    let text: &str = &line.text;
    (CHECKER_AGENTS.iter().any(|a| text.contains(a)) && CHECKER_AGENT.is_match(text))
        || request
            .is_some_and(|r| r.method.is_some_and(is_read) && r.path.is_some_and(is_health_path))
}

#[cfg(test)]
pub(crate) fn force_patterns() {
    for pattern in [
        &QUOTED,
        &PIPES,
        &TRIPLE,
        &LOGFMT_METHOD,
        &LOGFMT_PATH,
        &LOGFMT_STATUS,
        &REQUEST_LINE,
        &CHECKER_AGENT,
    ] {
        LazyLock::force(pattern);
    }
}
