//! `probe` and `request` against real loopback servers: each failure must come out distinct.

mod common;

use std::time::Duration;

use common::{
    options, refused_port, self_signed, serve_http, serve_https, serve_silent, Pki, Reply,
};
use sentinel_http::{probe, request, ProbeError, ProbeOptions};

/// Generous for loopback, so a loaded CI machine does not turn a pass into a timeout.
const TIMEOUT: Duration = Duration::from_secs(10);
/// For the tests that must time out: short, so they stay quick.
const SHORT: Duration = Duration::from_millis(300);

#[tokio::test]
async fn status_200_is_ok_with_latency() {
    let (addr, log) = serve_http(|_| Reply::body(200, "fine")).await;
    let outcome = probe(&format!("http://{addr}/health"), &options(TIMEOUT)).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.http_status, Some(200));
    assert!(outcome.latency_ms.is_some());
    assert_eq!((outcome.error, outcome.failure), (None, None));
    let seen = log.all();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, "/health");
    assert_eq!(seen[0].header("host"), Some(addr.to_string().as_str()));
}

#[tokio::test]
async fn status_503_is_not_ok() {
    let (addr, _) = serve_http(|_| Reply::status(503)).await;
    let outcome = probe(&format!("http://{addr}/"), &options(TIMEOUT)).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.http_status, Some(503));
    assert_eq!(outcome.failure, Some("http-status"));
    assert_eq!(outcome.error.as_deref(), Some("HTTP 503"));
    // An answer arrived, so its latency is still reported.
    assert!(outcome.latency_ms.is_some());
}

#[tokio::test]
async fn status_404_is_not_ok() {
    let (addr, _) = serve_http(|_| Reply::status(404)).await;
    let outcome = probe(&format!("http://{addr}/"), &options(TIMEOUT)).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.failure, Some("http-status"));
}

#[tokio::test]
async fn redirect_counts_ok_and_is_not_followed() {
    let (addr, log) = serve_http(|_| Reply {
        status: 302,
        headers: vec![("location".into(), "/elsewhere".into())],
        body: Vec::new(),
    })
    .await;
    let outcome = probe(&format!("http://{addr}/"), &options(TIMEOUT)).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.http_status, Some(302));
    assert_eq!(log.all().len(), 1, "the redirect must not be followed");
}

#[tokio::test]
async fn closed_port_is_refused_not_healthy() {
    let port = refused_port().await;
    let outcome = probe(&format!("http://127.0.0.1:{port}/"), &options(TIMEOUT)).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.http_status, None);
    assert_eq!(outcome.latency_ms, None);
    assert_eq!(outcome.failure, Some("refused"));
    assert!(outcome.error.unwrap().starts_with("connection refused"));
}

#[tokio::test]
async fn closed_port_by_name_is_refused_on_every_address() {
    let port = refused_port().await;
    let err = request(
        "GET",
        &format!("http://localhost:{port}/"),
        &[],
        b"",
        &options(TIMEOUT),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ProbeError::Refused(_)), "{err:?}");
}

#[tokio::test]
async fn silent_server_times_out_waiting_for_the_response() {
    let addr = serve_silent().await;
    let err = request("GET", &format!("http://{addr}/"), &[], b"", &options(SHORT))
        .await
        .unwrap_err();
    assert_eq!(err, ProbeError::Timeout("response".into()));
    let outcome = probe(&format!("http://{addr}/"), &options(SHORT)).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.failure, Some("timeout"));
    assert_eq!(
        outcome.error.as_deref(),
        Some("timed out waiting for the response")
    );
}

#[tokio::test]
async fn server_that_never_handshakes_times_out_in_tls() {
    let addr = serve_silent().await;
    let err = request(
        "GET",
        &format!("https://localhost:{}/", addr.port()),
        &[],
        b"",
        &options(SHORT),
    )
    .await
    .unwrap_err();
    assert_eq!(err, ProbeError::Timeout("tls".into()));
}

#[tokio::test]
async fn https_with_a_trusted_certificate_is_ok() {
    let pki = Pki::new();
    let leaf = pki.leaf_for_days("localhost", 90);
    let (addr, log) = serve_https(leaf.chain, leaf.key, |_| Reply::body(200, "tls fine")).await;
    let url = format!("https://localhost:{}/status", addr.port());
    let outcome = probe(&url, &pki.options(TIMEOUT)).await;
    assert!(outcome.ok, "{outcome:?}");
    let resp = request("GET", &url, &[], b"", &pki.options(TIMEOUT))
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "tls fine");
    assert_eq!(
        log.all()[0].header("host"),
        Some(format!("localhost:{}", addr.port()).as_str())
    );
}

#[tokio::test]
async fn https_to_a_self_signed_server_is_a_tls_failure() {
    let pki = Pki::new();
    let leaf = self_signed("localhost");
    let (addr, log) = serve_https(leaf.chain, leaf.key, |_| Reply::status(200)).await;
    let outcome = probe(
        &format!("https://localhost:{}/", addr.port()),
        &pki.options(TIMEOUT),
    )
    .await;
    assert!(!outcome.ok);
    assert_eq!(outcome.failure, Some("tls"));
    let error = outcome.error.unwrap();
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert!(
        log.all().is_empty(),
        "no request may be sent over an untrusted connection"
    );
}

#[tokio::test]
async fn https_to_an_expired_certificate_is_a_tls_failure() {
    let pki = Pki::new();
    let now = std::time::SystemTime::now();
    let leaf = pki.leaf("localhost", now - 30 * common::DAY, now - common::DAY);
    let (addr, _) = serve_https(leaf.chain, leaf.key, |_| Reply::status(200)).await;
    let err = request(
        "GET",
        &format!("https://localhost:{}/", addr.port()),
        &[],
        b"",
        &pki.options(TIMEOUT),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), "tls");
    assert!(err.to_string().contains("expired"), "{err}");
}

#[tokio::test]
async fn invalid_urls_fail_before_any_network() {
    for url in [
        "",
        "localhost:8080/health",
        "ftp://localhost/",
        "http://",
        "http://exa mple/",
    ] {
        let outcome = probe(url, &options(TIMEOUT)).await;
        assert!(!outcome.ok);
        assert_eq!(outcome.failure, Some("invalid-url"), "{url:?}: {outcome:?}");
        assert!(outcome.error.unwrap().starts_with("invalid URL"));
    }
}

#[tokio::test]
async fn unknown_name_is_a_dns_failure() {
    // `.invalid` never resolves (RFC 6761). On this closed network the resolver answers at
    // once; a resolver that instead waits for an unreachable upstream would make this a DNS
    // timeout, which is the same failure as far as the operator is concerned, so both pass.
    let outcome = probe(
        "http://no-such-host.invalid/",
        &options(Duration::from_secs(5)),
    )
    .await;
    assert!(!outcome.ok);
    let err = request(
        "GET",
        "http://no-such-host.invalid/",
        &[],
        b"",
        &options(Duration::from_secs(5)),
    )
    .await
    .unwrap_err();
    match err {
        ProbeError::Dns(_) => assert_eq!(outcome.failure, Some("dns")),
        ProbeError::Timeout(step) => assert_eq!(step, "dns"),
        other => panic!("expected a DNS failure, got {other:?}"),
    }
}

#[tokio::test]
async fn put_sends_method_headers_and_body() {
    // The shape of the IMDSv2 token call: PUT, a TTL header, answer in the body.
    let (addr, log) = serve_http(|seen| {
        let right = seen.method == "PUT"
            && seen.path == "/latest/api/token"
            && seen.header("x-aws-ec2-metadata-token-ttl-seconds") == Some("21600")
            && seen.body == b"payload";
        if right {
            Reply {
                status: 200,
                headers: vec![(
                    "x-aws-ec2-metadata-token-ttl-seconds".into(),
                    "21600".into(),
                )],
                body: b"TOKEN-abc".to_vec(),
            }
        } else {
            Reply::status(400)
        }
    })
    .await;
    let resp = request(
        "PUT",
        &format!("http://{addr}/latest/api/token"),
        &[("X-aws-ec2-metadata-token-ttl-seconds", "21600")],
        b"payload",
        &options(TIMEOUT),
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 200, "server saw {:?}", log.all());
    assert_eq!(resp.body, b"TOKEN-abc");
    assert!(!resp.body_truncated);
    assert_eq!(
        resp.header("X-AWS-EC2-Metadata-Token-TTL-Seconds"),
        Some("21600")
    );
    assert_eq!(log.all()[0].header("content-length"), Some("7"));
}

#[tokio::test]
async fn put_without_body_sends_content_length_zero() {
    let (addr, log) = serve_http(|_| Reply::body(200, "t")).await;
    let resp = request(
        "PUT",
        &format!("http://{addr}/latest/api/token"),
        &[],
        b"",
        &options(TIMEOUT),
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(log.all()[0].header("content-length"), Some("0"));
}

#[tokio::test]
async fn get_reads_a_json_body_and_caps_a_long_one() {
    let json =
        r#"{"Cluster":"prod","ContainerInstanceArn":"arn:aws:ecs:x","Version":"Amazon ECS Agent"}"#;
    let (addr, _) = serve_http(move |seen| match seen.path.as_str() {
        "/v1/metadata" => Reply::body(200, json),
        _ => Reply::body(200, vec![b'x'; 5000]),
    })
    .await;
    let opts = options(TIMEOUT);
    let resp = request(
        "GET",
        &format!("http://{addr}/v1/metadata"),
        &[],
        b"",
        &opts,
    )
    .await
    .unwrap();
    assert_eq!(resp.text(), json);

    let capped = ProbeOptions {
        max_body: 1000,
        ..options(TIMEOUT)
    };
    let resp = request("GET", &format!("http://{addr}/big"), &[], b"", &capped)
        .await
        .unwrap();
    assert_eq!(resp.body.len(), 1000);
    assert!(resp.body_truncated);
}

#[tokio::test]
async fn invalid_header_is_an_invalid_request() {
    let (addr, log) = serve_http(|_| Reply::status(200)).await;
    let err = request(
        "GET",
        &format!("http://{addr}/"),
        &[("bad header", "x")],
        b"",
        &options(TIMEOUT),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), "invalid-request");
    assert!(log.all().is_empty());
}
