//! Loopback servers for the probe's tests: the agent's introspection API in its good and bad
//! moods, and an IMDSv2 that insists on its token.
//!
//! Every server listens on 127.0.0.1 port 0 and runs as tasks of the test's own runtime, so it
//! stops when the test returns and its runtime is dropped.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const HEALTHY_METADATA: &str = r#"{"Cluster":"prod","ContainerInstanceArn":"arn:aws:ecs:us-east-1:123456789012:container-instance/prod/abc","Version":"Amazon ECS Agent - v1.89.2 (2ab4e3d8)"}"#;
pub const INSTANCE_ID: &str = "i-0123456789abcdef0";
pub const IMDS_REGION: &str = "us-east-1";

/// A request as a test server read it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every request a server received, in order.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    pub fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }
}

type Handler = Arc<dyn Fn(&Seen) -> (u16, String) + Send + Sync>;

/// A plain HTTP/1.1 server answering each request with `handler`'s status and body.
pub async fn serve(
    handler: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static,
) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
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
    (format!("http://{addr}"), log)
}

async fn answer(mut stream: TcpStream, handler: &Handler, log: &Log) {
    let Some(seen) = read_head(&mut stream).await else {
        return;
    };
    log.0.lock().unwrap().push(seen.clone());
    let (status, body) = handler(&seen);
    let head = format!(
        "HTTP/1.1 {status} Test\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Reads a request: its head, and its body (by Content-Length) so that the answer is not
/// cut off by a reset for unread data. The body itself is not kept.
async fn read_head(stream: &mut TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut have = buf.len() - (end + 4);
    while have < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        have += n;
    }
    Some(Seen {
        method,
        path,
        headers,
    })
}

/// The agent answering with its registered metadata.
pub async fn healthy_agent() -> String {
    serve(|_| (200, HEALTHY_METADATA.to_string())).await.0 + "/v1/metadata"
}

/// An agent answering 200 with `body`.
pub async fn agent_saying(status: u16, body: &str) -> String {
    let body = body.to_string();
    serve(move |_| (status, body.clone())).await.0 + "/v1/metadata"
}

/// An agent that accepts connections and never answers: a stuck agent.
pub async fn stuck_agent() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    format!("http://{addr}/v1/metadata")
}

/// A loopback address with nothing listening (bound, then released).
pub async fn refused_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// An IMDSv2 on loopback. The token `PUT` must carry a TTL header of 1..=21600 seconds
/// (else 400); a `GET` without a token it issued gets 401, as on an instance that requires
/// IMDSv2.
pub async fn imds() -> (String, Log) {
    let issued: Arc<Mutex<HashSet<String>>> = Arc::default();
    let counter = Arc::new(AtomicUsize::new(0));
    serve(
        move |seen| match (seen.method.as_str(), seen.path.as_str()) {
            ("PUT", "/latest/api/token") => {
                let ttl = seen
                    .header("x-aws-ec2-metadata-token-ttl-seconds")
                    .and_then(|v| v.parse::<u32>().ok());
                match ttl {
                    Some(1..=21600) => {
                        let token = format!("token-{}", counter.fetch_add(1, Ordering::Relaxed));
                        issued.lock().unwrap().insert(token.clone());
                        (200, token)
                    }
                    _ => (400, String::new()),
                }
            }
            ("GET", path) => {
                let valid = seen
                    .header("x-aws-ec2-metadata-token")
                    .is_some_and(|t| issued.lock().unwrap().contains(t));
                if !valid {
                    return (401, String::new());
                }
                match path {
                    "/latest/meta-data/instance-id" => (200, INSTANCE_ID.to_string()),
                    "/latest/meta-data/placement/region" => (200, IMDS_REGION.to_string()),
                    _ => (404, String::new()),
                }
            }
            _ => (405, String::new()),
        },
    )
    .await
}

/// A directory under the system's temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("agent-probe-it-{name}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn file(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// A path in the directory that does not exist.
    pub fn missing(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
