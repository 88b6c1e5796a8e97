//! Reading and judging a server's TLS certificate, including one that does not verify.
//!
//! A normal TLS client aborts the handshake on a bad certificate, which leaves nothing to
//! report but "handshake failed". Here the handshake is allowed to complete with a verifier
//! that runs the real WebPKI check, writes down its verdict, and lets the connection proceed;
//! no application data is ever sent over such a connection, so accepting it is harmless, and
//! the report can say both *why* the chain is bad and *when* the certificate expires.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use serde::Serialize;
use tokio::time::Instant;

use crate::error::ProbeError;
use crate::net;
use crate::options::ProbeOptions;

const SECONDS_PER_DAY: i64 = 86_400;

/// The judgement on a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CertVerdict {
    Ok,
    Warn,
    Fail,
}

impl CertVerdict {
    /// The same lowercase word the JSON form uses, for text output.
    pub fn as_str(self) -> &'static str {
        match self {
            CertVerdict::Ok => "ok",
            CertVerdict::Warn => "warn",
            CertVerdict::Fail => "fail",
        }
    }
}

impl std::fmt::Display for CertVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Days-left thresholds: below `fail_days` fails, below `warn_days` warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CertPolicy {
    pub warn_days: i64,
    pub fail_days: i64,
}

impl Default for CertPolicy {
    /// Two weeks' warning leaves time to renew by hand; three days means it is already urgent.
    fn default() -> Self {
        CertPolicy {
            warn_days: 14,
            fail_days: 3,
        }
    }
}

/// What was learnt about a server's certificate, and the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateReport {
    pub domain: String,
    pub port: u16,
    /// Whole days from `now` to notAfter, rounded down (negative once expired).
    pub days_left: Option<i64>,
    /// notAfter in RFC 3339, UTC (`2026-01-31T23:59:59Z`).
    pub not_after: Option<String>,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    /// Whether the chain verified against the configured roots for `domain` at `now`.
    pub chain_valid: bool,
    pub verdict: CertVerdict,
    /// Why the verdict is `Fail`: the verification error, the connection failure, or the
    /// expiry inside the fail threshold. `None` for `Ok` and `Warn`.
    pub error: Option<String>,
    /// A stable name for the failure: a [`ProbeError::kind`] when no certificate could be read,
    /// `"certificate-unreadable"`, `"chain-invalid"` or `"expiring"`.
    pub failure: Option<&'static str>,
}

/// Connects to `domain:port`, completes a TLS handshake with SNI = `domain`, and reports on the
/// leaf certificate the server presented.
///
/// The chain is verified against `opts.roots` for `domain` at `now` (not the wall clock), so
/// "valid" and "days left" always refer to the same instant; callers pass
/// `SystemTime::now()`. The verdict is `Fail` when no certificate could be read (the error
/// names the step: DNS, refused, timeout, TLS), when the chain is invalid (expired, unknown
/// issuer or self-signed, name mismatch), or when fewer than `policy.fail_days` days are left;
/// `Warn` when fewer than `policy.warn_days` are left; `Ok` otherwise.
pub async fn inspect_certificate(
    domain: &str,
    port: u16,
    opts: &ProbeOptions,
    policy: CertPolicy,
    now: SystemTime,
) -> CertificateReport {
    let mut report = CertificateReport {
        domain: domain.to_string(),
        port,
        days_left: None,
        not_after: None,
        issuer: None,
        subject: None,
        chain_valid: false,
        verdict: CertVerdict::Fail,
        error: None,
        failure: None,
    };

    let recorder = Arc::new(RecordingVerifier::new(opts, now));
    let handshake = handshake(domain, port, opts, recorder.clone()).await;
    let seen = recorder.take();

    let Some(leaf) = seen.leaf else {
        // No certificate arrived: the failure is the connection's (or the handshake's).
        let err = handshake
            .err()
            .unwrap_or_else(|| ProbeError::Tls("the server presented no certificate".into()));
        report.error = Some(err.to_string());
        report.failure = Some(err.kind());
        return report;
    };

    match &seen.verification {
        Some(Ok(())) => report.chain_valid = true,
        Some(Err(reason)) => {
            report.error = Some(format!("certificate chain invalid: {reason}"));
            report.failure = Some("chain-invalid");
        }
        None => {
            report.error = Some("certificate chain was not verified".into());
            report.failure = Some("chain-invalid");
        }
    }

    match LeafFacts::parse(&leaf) {
        Ok(facts) => {
            let days_left = days_between(now, facts.not_after_unix);
            report.days_left = Some(days_left);
            report.not_after = Some(facts.not_after_rfc3339);
            report.issuer = Some(facts.issuer);
            report.subject = Some(facts.subject);
            if report.error.is_none() && days_left < policy.fail_days {
                report.error = Some(format!(
                    "certificate expires in {days_left} days (fail threshold {} days)",
                    policy.fail_days
                ));
                report.failure = Some("expiring");
            }
            if report.error.is_none() {
                report.verdict = if days_left < policy.warn_days {
                    CertVerdict::Warn
                } else {
                    CertVerdict::Ok
                };
            }
        }
        Err(why) => {
            // The chain error (if any) says more than the parse error; keep it.
            if report.error.is_none() {
                report.error = Some(format!("could not parse the certificate: {why}"));
                report.failure = Some("certificate-unreadable");
            }
        }
    }

    // A handshake that failed after the certificate was read (say, a bad handshake signature)
    // is still a failure even if the certificate itself looks fine.
    if let Err(err) = handshake {
        if report.verdict != CertVerdict::Fail {
            report.verdict = CertVerdict::Fail;
            report.error = Some(err.to_string());
            report.failure = Some(err.kind());
        }
    }
    report
}

async fn handshake(
    domain: &str,
    port: u16,
    opts: &ProbeOptions,
    verifier: Arc<RecordingVerifier>,
) -> Result<(), ProbeError> {
    let deadline = Instant::now() + opts.timeout;
    // Accept an IPv6 literal written as in a URL ("[::1]").
    let host = domain
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(domain);
    let name = net::server_name(host)?;
    let tcp = net::connect(host, port, deadline).await?;
    let config = net::client_config_builder()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // The stream is dropped unused: the verifier has already captured the certificate.
    net::tls_handshake(tcp, name, Arc::new(config), deadline).await?;
    Ok(())
}

/// What the verifier saw during one handshake.
#[derive(Debug, Default)]
struct Seen {
    leaf: Option<CertificateDer<'static>>,
    /// `Some(Ok)` if the chain verified, `Some(Err(reason))` if not, `None` if never asked.
    verification: Option<Result<(), String>>,
}

/// A verifier that runs WebPKI verification, records the result and the leaf certificate, and
/// always lets the handshake continue. Handshake signatures are still checked for real, so the
/// peer must at least hold the key of the certificate it presented.
#[derive(Debug)]
struct RecordingVerifier {
    /// `None` when the roots could not make a verifier (no roots at all): every chain is then
    /// reported invalid with that reason.
    webpki: Result<Arc<WebPkiServerVerifier>, String>,
    algorithms: WebPkiSupportedAlgorithms,
    /// The instant the chain is judged at: the caller's `now`, so verification and days-left
    /// agree (and tests can move time).
    at: Option<UnixTime>,
    seen: Mutex<Seen>,
}

impl RecordingVerifier {
    fn new(opts: &ProbeOptions, now: SystemTime) -> Self {
        let provider: Arc<CryptoProvider> = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let webpki =
            WebPkiServerVerifier::builder_with_provider(opts.roots.clone(), provider.clone())
                .build()
                .map_err(|e| format!("no usable trusted roots: {e}"));
        RecordingVerifier {
            webpki,
            algorithms: provider.signature_verification_algorithms,
            at: now
                .duration_since(UNIX_EPOCH)
                .ok()
                .map(UnixTime::since_unix_epoch),
            seen: Mutex::new(Seen::default()),
        }
    }

    fn take(&self) -> Seen {
        // A poisoned lock only means a panic elsewhere mid-record; the data is still usable.
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verification = match &self.webpki {
            Ok(webpki) => webpki
                .verify_server_cert(
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    self.at.unwrap_or(now),
                )
                .map(|_| ())
                .map_err(|e| describe_verification_error(&e)),
            Err(why) => Err(why.clone()),
        };
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.leaf = Some(end_entity.clone().into_owned());
        seen.verification = Some(verification);
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A short plain-words reason first (what the operator acts on), then rustls's own text.
fn describe_verification_error(err: &rustls::Error) -> String {
    let summary = match err {
        rustls::Error::InvalidCertificate(cert_err) => match cert_err {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired",
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "not yet valid"
            }
            CertificateError::UnknownIssuer => "unknown issuer (self-signed or untrusted CA)",
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "name mismatch"
            }
            CertificateError::Revoked => "revoked",
            CertificateError::BadSignature => "bad signature",
            _ => "invalid certificate",
        },
        _ => "verification failed",
    };
    format!("{summary} ({err})")
}

/// The facts read from the leaf certificate.
struct LeafFacts {
    not_after_unix: i64,
    not_after_rfc3339: String,
    issuer: String,
    subject: String,
}

impl LeafFacts {
    fn parse(der: &CertificateDer<'_>) -> Result<Self, String> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| e.to_string())?;
        let not_after = cert.validity().not_after;
        let dt = not_after.to_datetime();
        Ok(LeafFacts {
            not_after_unix: not_after.timestamp(),
            // ASN.1 times are UTC; RFC 3339 with a `Z` says so without an offset to misread.
            not_after_rfc3339: format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                dt.year(),
                u8::from(dt.month()),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second()
            ),
            issuer: cert.issuer().to_string(),
            subject: cert.subject().to_string(),
        })
    }
}

/// Whole days from `now` to `until_unix`, rounded towards the past: a certificate expiring in
/// 23 hours has 0 days left and one that expired an hour ago has -1.
fn days_between(now: SystemTime, until_unix: i64) -> i64 {
    let now_unix = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    };
    until_unix
        .saturating_sub(now_unix)
        .div_euclid(SECONDS_PER_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn days_round_down() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |secs: i64| 1_000_000 + secs;
        assert_eq!(days_between(now, at(10 * SECONDS_PER_DAY - 1)), 9);
        assert_eq!(days_between(now, at(10 * SECONDS_PER_DAY)), 10);
        assert_eq!(days_between(now, at(3600)), 0);
        assert_eq!(days_between(now, at(-3600)), -1);
    }

    #[test]
    fn verification_errors_lead_with_a_plain_reason() {
        let expired = rustls::Error::InvalidCertificate(CertificateError::Expired);
        assert!(describe_verification_error(&expired).starts_with("expired ("));
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert!(describe_verification_error(&unknown).contains("UnknownIssuer"));
    }

    #[test]
    fn verdict_words_match_the_json() {
        for v in [CertVerdict::Ok, CertVerdict::Warn, CertVerdict::Fail] {
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{v}\""));
        }
    }

    #[test]
    fn default_policy() {
        assert_eq!(
            CertPolicy::default(),
            CertPolicy {
                warn_days: 14,
                fail_days: 3
            }
        );
    }
}
