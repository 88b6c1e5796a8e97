//! HTTP and TLS probes on plain sockets, for `ecs-sentinel health` and the on-host agent probe.
//!
//! This crate replaces a shell script (curl + openssl) whose failures we must not repeat:
//!
//! * a down endpoint was counted as healthy because curl reports status `000` when no answer
//!   arrives; here an endpoint is healthy only when an HTTP answer with a 2xx/3xx status arrived
//!   ([`probe`], [`ProbeOutcome::ok`]);
//! * the TLS check had no timeout and could hang a whole run; here every step (DNS, TCP connect,
//!   TLS handshake, response head, body) runs against one deadline taken from
//!   [`ProbeOptions::timeout`];
//! * failures were not told apart; here each one has its own [`ProbeError`] variant and a stable
//!   [`ProbeError::kind`] string that reports and alarms can key on.
//!
//! The pieces:
//!
//! * [`request`]: one HTTP/1.1 request (any method, extra headers, a body) over `http://` or
//!   `https://`, returning status, headers, latency and a capped body. The agent probe uses it
//!   for the ECS agent introspection API and the IMDSv2 token `PUT` on localhost.
//! * [`probe`]: a `GET` judged as an endpoint health check (no redirects followed).
//! * [`inspect_certificate`]: a TLS handshake that reads the server's leaf certificate even when
//!   it does not verify, records why it does not, and judges the days left against a
//!   [`CertPolicy`].
//!
//! TLS is rustls with the aws-lc-rs provider, passed explicitly rather than installed as the
//! process default, so this crate never depends on (or fights over) global state that the AWS
//! SDK or another library might set.

mod cert;
mod error;
mod http;
mod net;
mod options;

pub use cert::{inspect_certificate, CertPolicy, CertVerdict, CertificateReport};
pub use error::ProbeError;
pub use http::{probe, request, ProbeOutcome, Response};
pub use options::{roots_from_pem, ProbeOptions, RootsError, DEFAULT_MAX_BODY};

/// Re-exported so callers can build a [`ProbeOptions`] without naming rustls themselves.
pub use rustls::RootCertStore;
