//! Loopback test servers and a throwaway PKI, shared by the integration tests.
//!
//! Every server listens on 127.0.0.1 port 0 and runs as tasks on the test's own runtime, so it
//! stops when the test returns and the runtime is dropped.

#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sentinel_http::{roots_from_pem, ProbeOptions};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub const DAY: Duration = Duration::from_secs(86_400);
pub const CA_NAME: &str = "Sentinel Test CA";

/// A request as the test server read it.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the test server answers: status, extra headers, body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
    pub fn body(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }
}

pub type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// Records every request a server received, for assertions after the call.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    pub fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }
}

pub fn options(timeout: Duration) -> ProbeOptions {
    ProbeOptions::with_roots(timeout, rustls::RootCertStore::empty())
}

async fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// A plain HTTP/1.1 server answering every request with `handler`.
pub async fn serve_http(
    handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> (SocketAddr, Log) {
    let (listener, addr) = listen().await;
    let log = Log::default();
    let handler: Handler = Arc::new(handler);
    let task_log = log.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = handler.clone();
            let log = task_log.clone();
            tokio::spawn(async move { answer(stream, &handler, &log).await });
        }
    });
    (addr, log)
}

/// An HTTPS server presenting `chain` (leaf first) and answering with `handler`.
pub async fn serve_https(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> (SocketAddr, Log) {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let (listener, addr) = listen().await;
    let log = Log::default();
    let handler: Handler = Arc::new(handler);
    let task_log = log.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = handler.clone();
            let log = task_log.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that rejects the certificate aborts here; that is expected.
                if let Ok(tls) = acceptor.accept(stream).await {
                    answer(tls, &handler, &log).await;
                }
            });
        }
    });
    (addr, log)
}

/// Accepts connections and holds them open without ever sending a byte: for a plain HTTP
/// client that is a server that never answers, for a TLS client one that never handshakes.
pub async fn serve_silent() -> SocketAddr {
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// A loopback port with nothing listening on it (bound, then released).
pub async fn refused_port() -> u16 {
    let (listener, addr) = listen().await;
    drop(listener);
    addr.port()
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, handler: &Handler, log: &Log) {
    let Some(seen) = read_request(&mut stream).await else {
        return;
    };
    log.0.lock().unwrap().push(seen.clone());
    let reply = handler(&seen);
    let mut head = format!(
        "HTTP/1.1 {} Test\r\ncontent-length: {}\r\nconnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (n, v) in &reply.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&reply.body).await;
    let _ = stream.shutdown().await;
}

async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let path = request_line.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        method,
        path,
        headers,
        body,
    })
}

/// A test CA and the leaf certificates the tests need, made fresh for each test.
pub struct Pki {
    pub ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its private key, ready for [`serve_https`].
pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Pki {
    pub fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, CA_NAME);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = SystemTime::now();
        params.not_before = (now - DAY).into();
        params.not_after = (now + 3650 * DAY).into();
        let cert = params.self_signed(&key).unwrap();
        Pki {
            ca_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    pub fn options(&self, timeout: Duration) -> ProbeOptions {
        ProbeOptions::with_roots(timeout, roots_from_pem(self.ca_pem.as_bytes()).unwrap())
    }

    /// A leaf for `name` signed by the CA, valid from `not_before` to `not_after`.
    pub fn leaf(&self, name: &str, not_before: SystemTime, not_after: SystemTime) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let params = leaf_params(name, not_before, not_after);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            chain: vec![cert.der().clone()],
            key: private_key(&key),
        }
    }

    /// A leaf for `name` valid from yesterday for `days` days from now.
    pub fn leaf_for_days(&self, name: &str, days: u32) -> Leaf {
        let now = SystemTime::now();
        self.leaf(name, now - DAY, now + days * DAY)
    }
}

/// A self-signed leaf for `name`, valid for 90 days, whose issuer is itself.
pub fn self_signed(name: &str) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let now = SystemTime::now();
    let params = leaf_params(name, now - DAY, now + 90 * DAY);
    let cert = params.self_signed(&key).unwrap();
    Leaf {
        chain: vec![cert.der().clone()],
        key: private_key(&key),
    }
}

fn leaf_params(name: &str, not_before: SystemTime, not_after: SystemTime) -> CertificateParams {
    let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.not_before = not_before.into();
    params.not_after = not_after.into();
    params
}

fn private_key(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}
