//! The socket steps shared by HTTP requests and certificate inspection: URL parsing, DNS,
//! TCP connect and the TLS handshake, each bounded by the probe's one deadline.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hyper::Uri;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::ProbeError;

/// Runs one step against the shared deadline; running out of time names the step.
pub(crate) async fn step<F: Future>(
    deadline: Instant,
    name: &str,
    fut: F,
) -> Result<F::Output, ProbeError> {
    tokio::time::timeout_at(deadline, fut)
        .await
        .map_err(|_| ProbeError::Timeout(name.to_string()))
}

/// The parts of a URL that the socket and HTTP layers need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub https: bool,
    /// Host for DNS and SNI, without the brackets of an IPv6 literal.
    pub host: String,
    pub port: u16,
    /// The `Host` header: host as written in the URL, plus the port only when it was given.
    pub host_header: String,
    /// Origin-form request target (`/path?query`), never empty.
    pub path_and_query: String,
}

pub(crate) fn parse_url(url: &str) -> Result<Target, ProbeError> {
    let bad = |why: &str| ProbeError::InvalidUrl(format!("{url:?}: {why}"));
    let uri: Uri = url.trim().parse().map_err(|e| bad(&format!("{e}")))?;
    let https = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") => true,
        Some(s) if s.eq_ignore_ascii_case("http") => false,
        Some(other) => return Err(bad(&format!("unsupported scheme {other:?}"))),
        None => return Err(bad("missing scheme (expected http:// or https://)")),
    };
    let authority = uri.authority().ok_or_else(|| bad("missing host"))?;
    if authority.as_str().contains('@') {
        // Credentials in a URL end up in logs and reports; refuse them instead of sending them.
        return Err(bad("credentials in the URL are not supported"));
    }
    let raw_host = authority.host();
    if raw_host.is_empty() {
        return Err(bad("missing host"));
    }
    let host = raw_host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(raw_host)
        .to_string();
    let explicit_port = authority.port_u16();
    let port = explicit_port.unwrap_or(if https { 443 } else { 80 });
    let host_header = match explicit_port {
        Some(p) => format!("{raw_host}:{p}"),
        None => raw_host.to_string(),
    };
    let path_and_query = uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .filter(|pq| !pq.is_empty())
        .unwrap_or("/");
    let path_and_query = if path_and_query.starts_with('/') {
        path_and_query.to_string()
    } else {
        // "http://host?x=1" has a query but an empty path.
        format!("/{path_and_query}")
    };
    Ok(Target {
        https,
        host,
        port,
        host_header,
        path_and_query,
    })
}

/// The TLS server name for SNI and certificate name checks: a DNS name or an IP literal.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, ProbeError> {
    ServerName::try_from(host.to_string())
        .map_err(|_| ProbeError::InvalidUrl(format!("{host:?} is not a valid TLS server name")))
}

/// Resolves `host` and connects to each address in turn until one accepts.
///
/// Every address is tried because a name such as "localhost" may resolve to `::1` first while
/// the server listens on 127.0.0.1 only; stopping at the first refusal would report a live
/// server as down.
pub(crate) async fn connect(
    host: &str,
    port: u16,
    deadline: Instant,
) -> Result<TcpStream, ProbeError> {
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        // An IP literal needs no lookup (and must not be sent to a resolver).
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        // getaddrinfo runs on a blocking thread that a timeout cannot stop; it may finish in
        // the background, but the probe itself returns at the deadline.
        Err(_) => step(deadline, "dns", tokio::net::lookup_host((host, port)))
            .await?
            .map_err(|e| ProbeError::Dns(format!("{host}: {}", crate::error::error_chain(&e))))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(ProbeError::Dns(format!("{host}: no addresses")));
    }

    let mut failures: Vec<(SocketAddr, io::Error)> = Vec::new();
    for addr in &addrs {
        match step(deadline, "connect", TcpStream::connect(addr)).await? {
            Ok(stream) => {
                // Requests are small and one-shot: don't let Nagle hold the last segment back.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => failures.push((*addr, e)),
        }
    }

    let detail = failures
        .iter()
        .map(|(addr, e)| format!("{addr}: {e}"))
        .collect::<Vec<_>>()
        .join("; ");
    // One refusal is enough to say "nothing listens there": the host itself answered. Other
    // addresses failing (say, no IPv6 route) does not make that any less true.
    if failures
        .iter()
        .any(|(_, e)| e.kind() == io::ErrorKind::ConnectionRefused)
    {
        Err(ProbeError::Refused(detail))
    } else {
        Err(ProbeError::Connection(detail))
    }
}

/// A client config on the aws-lc-rs provider, passed explicitly so the result never depends on
/// which crypto provider some other library installed as the process default.
pub(crate) fn client_config_builder(
) -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, ProbeError> {
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| ProbeError::Tls(format!("TLS configuration: {e}")))
}

pub(crate) async fn tls_handshake(
    stream: TcpStream,
    name: ServerName<'static>,
    config: Arc<ClientConfig>,
    deadline: Instant,
) -> Result<TlsStream<TcpStream>, ProbeError> {
    step(
        deadline,
        "tls",
        TlsConnector::from(config).connect(name, stream),
    )
    .await?
    // tokio-rustls wraps rustls's error in an io::Error whose message is rustls's reason
    // ("invalid peer certificate: UnknownIssuer"), which is what the operator needs.
    .map_err(|e| ProbeError::Tls(crate::error::error_chain(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_and_https_urls() {
        let t = parse_url("https://example.com/health?deep=1").unwrap();
        assert_eq!(
            t,
            Target {
                https: true,
                host: "example.com".into(),
                port: 443,
                host_header: "example.com".into(),
                path_and_query: "/health?deep=1".into(),
            }
        );
        let t = parse_url("http://127.0.0.1:51678/v1/metadata").unwrap();
        assert!(!t.https);
        assert_eq!(t.port, 51678);
        assert_eq!(t.host_header, "127.0.0.1:51678");
        assert_eq!(t.path_and_query, "/v1/metadata");
        let t = parse_url("HTTP://example.com").unwrap();
        assert_eq!((t.port, t.path_and_query.as_str()), (80, "/"));
    }

    #[test]
    fn ipv6_literals_lose_their_brackets_for_dns_but_keep_them_in_host() {
        let t = parse_url("http://[::1]:8080/x").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.host_header, "[::1]:8080");
        assert!(server_name(&t.host).is_ok());
    }

    #[test]
    fn rejects_what_is_not_an_http_url() {
        for url in [
            "",
            "example.com",
            "ftp://example.com/",
            "http://",
            "https:///path",
            "http://user:pw@example.com/",
            "http://exa mple.com/",
        ] {
            let err = parse_url(url).unwrap_err();
            assert_eq!(err.kind(), "invalid-url", "{url:?} gave {err:?}");
        }
    }
}
