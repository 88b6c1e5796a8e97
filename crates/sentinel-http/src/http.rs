//! One HTTP/1.1 request over a socket this crate opened itself, and the endpoint probe on top.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, HOST, USER_AGENT};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::error::{error_chain, ProbeError};
use crate::net::{self, step};
use crate::options::ProbeOptions;

const DEFAULT_USER_AGENT: &str = concat!("ecs-sentinel/", env!("CARGO_PKG_VERSION"));

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Time from the start of the call (before DNS) to the response head: what a client of the
    /// endpoint waits before the first byte, including connection setup.
    pub latency: Duration,
    /// Header names in lower case, in the order received; values decoded lossily as UTF-8.
    pub headers: Vec<(String, String)>,
    /// The body, cut off at [`ProbeOptions::max_body`] bytes.
    pub body: Vec<u8>,
    /// Whether the body was longer than the cap and cut off.
    pub body_truncated: bool,
}

impl Response {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced), for JSON endpoints and error messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request and reads the whole (capped) answer.
///
/// `method` is any HTTP method token (`GET`, `PUT`, ...). `headers` are added as given; one
/// named `Host`, `User-Agent` or `Connection` replaces this crate's default for it. Redirects
/// are not followed: a 3xx is returned as it is. Every step, including reading the body, runs
/// against the one deadline `opts.timeout` from now.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    opts: &ProbeOptions,
) -> Result<Response, ProbeError> {
    perform(method, url, headers, body, opts, true).await
}

/// The outcome of an endpoint probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeOutcome {
    /// True only when an HTTP answer arrived with a status in 200..=399. No answer is never ok:
    /// that was the old script's `000` bug.
    pub ok: bool,
    pub http_status: Option<u16>,
    /// Time to the response head, whenever an answer arrived (even a bad one).
    pub latency_ms: Option<u64>,
    /// `"HTTP 503"` for a bad status, otherwise the [`ProbeError`] message.
    pub error: Option<String>,
    /// `"http-status"` for a bad status, otherwise [`ProbeError::kind`].
    pub failure: Option<&'static str>,
}

impl ProbeOutcome {
    fn from_result(result: Result<Response, ProbeError>) -> Self {
        match result {
            Ok(resp) => {
                let ok = (200..=399).contains(&resp.status);
                ProbeOutcome {
                    ok,
                    http_status: Some(resp.status),
                    latency_ms: Some(u64::try_from(resp.latency.as_millis()).unwrap_or(u64::MAX)),
                    error: (!ok).then(|| format!("HTTP {}", resp.status)),
                    failure: (!ok).then_some("http-status"),
                }
            }
            Err(err) => ProbeOutcome {
                ok: false,
                http_status: None,
                latency_ms: None,
                error: Some(err.to_string()),
                failure: Some(err.kind()),
            },
        }
    }
}

/// Probes an endpoint with a `GET` and judges the answer; no redirects are followed.
///
/// Only the response head counts: the body is not read, so a large or slowly streamed body
/// cannot turn a healthy endpoint into a timeout.
pub async fn probe(url: &str, opts: &ProbeOptions) -> ProbeOutcome {
    ProbeOutcome::from_result(perform("GET", url, &[], &[], opts, false).await)
}

async fn perform(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    opts: &ProbeOptions,
    read_body: bool,
) -> Result<Response, ProbeError> {
    let started = Instant::now();
    let deadline = started + opts.timeout;
    let target = net::parse_url(url)?;
    // Build the request before touching the network, so a bad header fails fast and alone.
    let req = build_request(method, &target, headers, body)?;

    let tcp = net::connect(&target.host, target.port, deadline).await?;
    if target.https {
        let name = net::server_name(&target.host)?;
        let mut config = net::client_config_builder()?
            .with_root_certificates(opts.roots.clone())
            .with_no_client_auth();
        // Only HTTP/1.1 is spoken here; say so, so an h2-preferring server does not pick h2.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tls = net::tls_handshake(tcp, name, std::sync::Arc::new(config), deadline).await?;
        exchange(tls, req, started, deadline, read_body, opts.max_body).await
    } else {
        exchange(tcp, req, started, deadline, read_body, opts.max_body).await
    }
}

fn build_request(
    method: &str,
    target: &net::Target,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Request<Full<Bytes>>, ProbeError> {
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| ProbeError::InvalidRequest(format!("invalid method {method:?}")))?;
    let mut req = Request::new(Full::new(Bytes::copy_from_slice(body)));
    *req.method_mut() = method.clone();
    *req.uri_mut() = target
        .path_and_query
        .parse()
        .map_err(|e| ProbeError::InvalidUrl(format!("{:?}: {e}", target.path_and_query)))?;

    let map = req.headers_mut();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ProbeError::InvalidRequest(format!("invalid header name {name:?}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| ProbeError::InvalidRequest(format!("invalid value for header {name}")))?;
        map.append(name, value);
    }
    let defaults = [
        (HOST, target.host_header.as_str()),
        (USER_AGENT, DEFAULT_USER_AGENT),
        // One request per connection: nothing is pooled, and the server can free the socket
        // as soon as it has answered.
        (CONNECTION, "close"),
    ];
    for (name, value) in defaults {
        if !map.contains_key(&name) {
            let value = HeaderValue::from_str(value).map_err(|_| {
                ProbeError::InvalidUrl(format!("{value:?} is not a valid {name} header"))
            })?;
            map.insert(name, value);
        }
    }
    // hyper sends no Content-Length for an empty body; IMDSv2's token PUT and other bodiless
    // writes are accepted more widely with an explicit zero.
    if body.is_empty()
        && !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS)
        && !map.contains_key(CONTENT_LENGTH)
    {
        map.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    }
    Ok(req)
}

/// Aborts the spawned connection task when the request is finished with, whatever the path
/// out (success, error, timeout), so no task outlives the call holding a socket open.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn exchange<IO>(
    io: IO,
    req: Request<Full<Bytes>>,
    started: Instant,
    deadline: Instant,
    read_body: bool,
    max_body: usize,
) -> Result<Response, ProbeError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = step(
        deadline,
        "response",
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(io)),
    )
    .await?
    .map_err(|e| ProbeError::Connection(error_chain(&e)))?;
    // The connection future drives the socket; its own error also surfaces through
    // send_request, so the task's result is not needed.
    let _conn_task = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));

    let head = step(deadline, "response", sender.send_request(req))
        .await?
        .map_err(|e| ProbeError::Connection(error_chain(&e)))?;
    let latency = started.elapsed();

    let status = head.status().as_u16();
    let headers = head
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();

    let (body, body_truncated) = if read_body {
        read_capped(head.into_body(), deadline, max_body).await?
    } else {
        (Vec::new(), false)
    };

    Ok(Response {
        status,
        latency,
        headers,
        body,
        body_truncated,
    })
}

async fn read_capped(
    mut body: Incoming,
    deadline: Instant,
    max_body: usize,
) -> Result<(Vec<u8>, bool), ProbeError> {
    let mut out = Vec::new();
    while let Some(frame) = step(deadline, "body", body.frame()).await? {
        let frame = frame.map_err(|e| ProbeError::Connection(error_chain(&e)))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers: nothing to keep
        };
        let room = max_body - out.len();
        if data.len() > room {
            out.extend_from_slice(&data[..room]);
            // Stop reading: the rest could be unbounded, and the connection is dropped anyway.
            return Ok((out, true));
        }
        out.extend_from_slice(&data);
    }
    Ok((out, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> net::Target {
        net::parse_url(url).unwrap()
    }

    #[test]
    fn defaults_are_added_and_caller_headers_win() {
        let req = build_request(
            "PUT",
            &target("http://169.254.169.254/latest/api/token"),
            &[
                ("X-aws-ec2-metadata-token-ttl-seconds", "21600"),
                ("Host", "override"),
            ],
            b"",
        )
        .unwrap();
        assert_eq!(req.method(), Method::PUT);
        assert_eq!(req.uri(), "/latest/api/token");
        let h = req.headers();
        assert_eq!(h["host"], "override");
        assert_eq!(h["x-aws-ec2-metadata-token-ttl-seconds"], "21600");
        assert_eq!(h["connection"], "close");
        assert_eq!(h["content-length"], "0");
        assert!(h["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("ecs-sentinel/"));
    }

    #[test]
    fn get_without_body_has_no_content_length() {
        let req = build_request("GET", &target("http://h:8080/"), &[], b"").unwrap();
        assert!(!req.headers().contains_key(CONTENT_LENGTH));
        assert_eq!(req.headers()["host"], "h:8080");
    }

    #[test]
    fn bad_method_and_headers_are_invalid_requests() {
        let t = target("http://h/");
        for (method, headers) in [
            ("GE T", &[][..]),
            ("GET", &[("bad name", "v")][..]),
            ("GET", &[("x-ok", "line\nbreak")][..]),
        ] {
            let err = build_request(method, &t, headers, b"").unwrap_err();
            assert_eq!(err.kind(), "invalid-request", "{err}");
        }
    }

    #[test]
    fn outcome_judges_status_and_errors() {
        let resp = |status| Response {
            status,
            latency: Duration::from_millis(12),
            headers: Vec::new(),
            body: Vec::new(),
            body_truncated: false,
        };
        let ok = ProbeOutcome::from_result(Ok(resp(302)));
        assert!(ok.ok);
        assert_eq!(
            (ok.error, ok.failure, ok.latency_ms),
            (None, None, Some(12))
        );

        let bad = ProbeOutcome::from_result(Ok(resp(503)));
        assert!(!bad.ok);
        assert_eq!(bad.error.as_deref(), Some("HTTP 503"));
        assert_eq!(bad.failure, Some("http-status"));

        let none = ProbeOutcome::from_result(Err(ProbeError::Refused("x".into())));
        assert!(!none.ok);
        assert_eq!(none.http_status, None);
        assert_eq!(none.failure, Some("refused"));
    }
}
