//! `inspect_certificate` against loopback TLS servers presenting freshly made certificates.

mod common;

use std::time::{Duration, SystemTime};

use common::{
    refused_port, self_signed, serve_https, serve_silent, Leaf, Pki, Reply, CA_NAME, DAY,
};
use sentinel_http::{
    inspect_certificate, CertPolicy, CertVerdict, CertificateReport, ProbeOptions,
};

const TIMEOUT: Duration = Duration::from_secs(10);

async fn inspect_leaf(leaf: Leaf, opts: &ProbeOptions, now: SystemTime) -> CertificateReport {
    inspect_leaf_as("localhost", leaf, opts, now, CertPolicy::default()).await
}

async fn inspect_leaf_as(
    domain: &str,
    leaf: Leaf,
    opts: &ProbeOptions,
    now: SystemTime,
    policy: CertPolicy,
) -> CertificateReport {
    let (addr, _) = serve_https(leaf.chain, leaf.key, |_| Reply::status(200)).await;
    inspect_certificate(domain, addr.port(), opts, policy, now).await
}

#[tokio::test]
async fn valid_certificate_is_ok() {
    let pki = Pki::new();
    let report = inspect_leaf(
        pki.leaf_for_days("localhost", 90),
        &pki.options(TIMEOUT),
        SystemTime::now(),
    )
    .await;
    assert_eq!(report.verdict, CertVerdict::Ok, "{report:?}");
    assert!(report.chain_valid);
    assert!((89..=90).contains(&report.days_left.unwrap()), "{report:?}");
    assert!(
        report.issuer.as_deref().unwrap().contains(CA_NAME),
        "{report:?}"
    );
    assert!(
        report.subject.as_deref().unwrap().contains("localhost"),
        "{report:?}"
    );
    assert_eq!((report.error, report.failure), (None, None));
    // RFC 3339 in UTC: 2026-01-31T23:59:59Z
    let not_after = report.not_after.unwrap();
    assert_eq!(not_after.len(), 20, "{not_after}");
    assert_eq!(&not_after[4..5], "-");
    assert_eq!(&not_after[10..11], "T");
    assert!(not_after.ends_with('Z'));
}

#[tokio::test]
async fn certificate_expiring_in_ten_days_warns() {
    let pki = Pki::new();
    let report = inspect_leaf(
        pki.leaf_for_days("localhost", 10),
        &pki.options(TIMEOUT),
        SystemTime::now(),
    )
    .await;
    assert_eq!(report.verdict, CertVerdict::Warn, "{report:?}");
    assert!(report.chain_valid);
    assert!((9..=10).contains(&report.days_left.unwrap()), "{report:?}");
    assert_eq!(report.error, None);
}

#[tokio::test]
async fn certificate_expiring_in_two_days_fails() {
    let pki = Pki::new();
    let report = inspect_leaf(
        pki.leaf_for_days("localhost", 2),
        &pki.options(TIMEOUT),
        SystemTime::now(),
    )
    .await;
    assert_eq!(report.verdict, CertVerdict::Fail, "{report:?}");
    assert!(report.chain_valid, "still valid, just about to expire");
    assert!((1..=2).contains(&report.days_left.unwrap()), "{report:?}");
    assert_eq!(report.failure, Some("expiring"));
    assert!(report.error.unwrap().contains("expires in"));
}

#[tokio::test]
async fn expired_certificate_fails_with_an_invalid_chain() {
    let pki = Pki::new();
    let now = SystemTime::now();
    let leaf = pki.leaf("localhost", now - 30 * DAY, now - DAY);
    let report = inspect_leaf(leaf, &pki.options(TIMEOUT), now).await;
    assert_eq!(report.verdict, CertVerdict::Fail, "{report:?}");
    assert!(!report.chain_valid);
    assert!((-2..=-1).contains(&report.days_left.unwrap()), "{report:?}");
    assert_eq!(report.failure, Some("chain-invalid"));
    assert!(report.error.unwrap().contains("expired"));
    // The certificate was still read, despite failing verification.
    assert!(report.issuer.unwrap().contains(CA_NAME));
}

#[tokio::test]
async fn self_signed_certificate_fails_as_unknown_issuer() {
    let pki = Pki::new();
    let report = inspect_leaf(
        self_signed("localhost"),
        &pki.options(TIMEOUT),
        SystemTime::now(),
    )
    .await;
    assert_eq!(report.verdict, CertVerdict::Fail, "{report:?}");
    assert!(!report.chain_valid);
    let error = report.error.unwrap();
    assert!(
        error.contains("unknown issuer") && error.contains("UnknownIssuer"),
        "{error}"
    );
    assert!((89..=90).contains(&report.days_left.unwrap()));
    // Its issuer is itself, not the test CA.
    let issuer = report.issuer.unwrap();
    assert!(
        issuer.contains("localhost") && !issuer.contains(CA_NAME),
        "{issuer}"
    );
}

#[tokio::test]
async fn certificate_for_another_name_fails_as_name_mismatch() {
    let pki = Pki::new();
    let report = inspect_leaf(
        pki.leaf_for_days("wrong.example", 90),
        &pki.options(TIMEOUT),
        SystemTime::now(),
    )
    .await;
    assert_eq!(report.verdict, CertVerdict::Fail, "{report:?}");
    assert!(!report.chain_valid);
    let error = report.error.unwrap();
    assert!(
        error.contains("name mismatch") && error.contains("wrong.example"),
        "{error}"
    );
    assert!(report.subject.unwrap().contains("wrong.example"));
}

#[tokio::test]
async fn the_given_time_is_the_one_judged_at() {
    // Ninety days from now the 90-day certificate has expired, for the chain check as well
    // as for days_left: both use the caller's `now`.
    let pki = Pki::new();
    let later = SystemTime::now() + 91 * DAY;
    let report = inspect_leaf(
        pki.leaf_for_days("localhost", 90),
        &pki.options(TIMEOUT),
        later,
    )
    .await;
    assert_eq!(report.verdict, CertVerdict::Fail, "{report:?}");
    assert!(!report.chain_valid);
    assert!(report.days_left.unwrap() < 0);
    assert!(report.error.unwrap().contains("expired"));
}

#[tokio::test]
async fn policy_thresholds_are_honoured() {
    let pki = Pki::new();
    let relaxed = CertPolicy {
        warn_days: 5,
        fail_days: 1,
    };
    let report = inspect_leaf_as(
        "localhost",
        pki.leaf_for_days("localhost", 10),
        &pki.options(TIMEOUT),
        SystemTime::now(),
        relaxed,
    )
    .await;
    assert_eq!(report.verdict, CertVerdict::Ok, "{report:?}");
}

#[tokio::test]
async fn unreachable_port_fails_as_refused() {
    let pki = Pki::new();
    let port = refused_port().await;
    let report = inspect_certificate(
        "localhost",
        port,
        &pki.options(TIMEOUT),
        CertPolicy::default(),
        SystemTime::now(),
    )
    .await;
    assert_eq!(report.verdict, CertVerdict::Fail);
    assert_eq!(report.failure, Some("refused"));
    assert!(report.error.unwrap().starts_with("connection refused"));
    assert_eq!((report.days_left, report.issuer), (None, None));
    assert!(!report.chain_valid);
}

#[tokio::test]
async fn server_that_never_handshakes_fails_as_timeout() {
    let pki = Pki::new();
    let addr = serve_silent().await;
    let opts = pki.options(Duration::from_millis(300));
    let report = inspect_certificate(
        "localhost",
        addr.port(),
        &opts,
        CertPolicy::default(),
        SystemTime::now(),
    )
    .await;
    assert_eq!(report.verdict, CertVerdict::Fail);
    assert_eq!(report.failure, Some("timeout"));
    assert_eq!(
        report.error.as_deref(),
        Some("timed out during the TLS handshake")
    );
}

#[tokio::test]
async fn unknown_domain_fails_as_dns() {
    let pki = Pki::new();
    let report = inspect_certificate(
        "no-such-host.invalid",
        443,
        &pki.options(Duration::from_secs(5)),
        CertPolicy::default(),
        SystemTime::now(),
    )
    .await;
    assert_eq!(report.verdict, CertVerdict::Fail);
    // Dns, or a DNS timeout where the resolver waits instead of failing (see probe.rs).
    match report.failure {
        Some("dns") => {}
        Some("timeout") => assert!(report.error.as_deref().unwrap().contains("DNS")),
        other => panic!("expected a DNS failure, got {other:?}: {report:?}"),
    }
}

#[tokio::test]
async fn report_serializes_verdict_in_lowercase() {
    let pki = Pki::new();
    let report = inspect_leaf(
        pki.leaf_for_days("localhost", 10),
        &pki.options(TIMEOUT),
        SystemTime::now(),
    )
    .await;
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"], "warn");
    assert_eq!(json["chain_valid"], true);
    assert_eq!(json["domain"], "localhost");
}
