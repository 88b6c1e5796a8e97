//! A minimal Lambda Runtime API server on 127.0.0.1, enough to run a real function binary
//! the way Lambda does: it hands out the queued events one per `/invocation/next`, records
//! what the function posts back and when, and leaves the `/next` after the last event
//! unanswered (as Lambda does while a sandbox is frozen) until the caller stops the process.
//! Used by the end-to-end tests (one event) and by `make bench` (cold start, then warm
//! invocations, timed).

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The request id of the first invocation; later ones count up from it ([`request_id`]).
pub const REQUEST_ID: &str = "7b1bb1d2-0f55-4c4d-8f0e-3f2c1f9f5e11";

/// The request id of invocation `n` (0-based) of a [`RuntimeApi`].
pub fn request_id(n: usize) -> String {
    match n {
        0 => REQUEST_ID.to_owned(),
        n => format!("7b1bb1d2-0f55-4c4d-8f0e-{n:012x}"),
    }
}

/// What the function sent back: the path it posted to, the body, and when it arrived.
#[derive(Debug, Clone)]
pub struct Posted {
    pub path: String,
    pub body: String,
    pub at: Instant,
}

impl Posted {
    /// Whether this is invocation `n`'s response (not an error report).
    pub fn is_response_to(&self, n: usize) -> bool {
        self.path == format!("/2018-06-01/runtime/invocation/{}/response", request_id(n))
    }
}

pub struct RuntimeApi {
    pub address: String,
    posted: Receiver<Posted>,
    first_poll: Arc<Mutex<Option<Instant>>>,
}

struct Queue {
    events: Mutex<VecDeque<(String, String)>>,
    first_poll: Arc<Mutex<Option<Instant>>>,
}

impl RuntimeApi {
    /// Serves `event` once, to the first `/next`.
    pub fn serve(event: String) -> std::io::Result<Self> {
        Self::serve_all(vec![event])
    }

    /// Serves `events` in order, one per `/next`, with request ids [`request_id`]`(0..)`.
    pub fn serve_all(events: Vec<String>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        let (tx, rx) = mpsc::channel();
        let first_poll = Arc::new(Mutex::new(None));
        let queue = Arc::new(Queue {
            events: Mutex::new(
                events
                    .into_iter()
                    .enumerate()
                    .map(|(n, event)| (request_id(n), event))
                    .collect(),
            ),
            first_poll: Arc::clone(&first_poll),
        });
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let tx = tx.clone();
                let queue = Arc::clone(&queue);
                std::thread::spawn(move || {
                    let _ = serve_connection(stream, &queue, &tx);
                });
            }
        });
        Ok(RuntimeApi {
            address,
            posted: rx,
            first_poll,
        })
    }

    /// Waits for the function's next post (response, invocation error or init error).
    pub fn next_post(&self, timeout: Duration) -> Option<Posted> {
        self.posted.recv_timeout(timeout).ok()
    }

    /// When the function first asked for work, that is, when its init ended.
    pub fn first_poll(&self) -> Option<Instant> {
        self.first_poll.lock().ok().and_then(|at| *at)
    }
}

fn serve_connection(
    stream: TcpStream,
    queue: &Queue,
    posted: &Sender<Posted>,
) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    // HTTP/1.1 keep-alive: requests follow each other on one connection.
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut content_length = 0usize;
        let mut chunked = false;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let name = name.trim().to_ascii_lowercase();
                let value = value.trim();
                if name == "content-length" {
                    content_length = value.parse().unwrap_or(0);
                } else if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
                    chunked = true;
                }
            }
        }
        let body = if chunked {
            read_chunked(&mut reader)?
        } else {
            let mut body = vec![0; content_length];
            reader.read_exact(&mut body)?;
            body
        };

        if method == "GET" && path.ends_with("/runtime/invocation/next") {
            if let Ok(mut first) = queue.first_poll.lock() {
                first.get_or_insert_with(Instant::now);
            }
            let next = queue.events.lock().ok().and_then(|mut q| q.pop_front());
            match next {
                Some((request_id, event)) => {
                    let deadline = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis() + 60_000)
                        .unwrap_or_default();
                    write!(
                        writer,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                         Lambda-Runtime-Aws-Request-Id: {request_id}\r\n\
                         Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                         Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:agent-monitor\r\n\
                         Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n\
                         Content-Length: {}\r\n\r\n{event}",
                        event.len()
                    )?;
                    writer.flush()?;
                }
                // No more work: hold the request open, as Lambda does while frozen.
                None => loop {
                    std::thread::sleep(Duration::from_secs(3600));
                },
            }
        } else {
            let _ = posted.send(Posted {
                path,
                body: String::from_utf8_lossy(&body).into_owned(),
                at: Instant::now(),
            });
            write!(
                writer,
                "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{{\"status\":\"OK\"}}"
            )?;
            writer.flush()?;
        }
    }
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
            .unwrap_or(0);
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk)?;
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

/// `binary` as Lambda would start it: only the variables Lambda sets, test credentials, the
/// emulator's endpoint, and then the function's own `environment`. Output is piped.
pub fn function_command(
    binary: &Path,
    runtime_api: &str,
    endpoint: &str,
    environment: &BTreeMap<String, String>,
) -> Command {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "agent-monitor")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/sentinel/agent-monitor",
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/21/[$LATEST]0123")
        .env("AWS_REGION", crate::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", endpoint)
        .envs(environment)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// The peak resident set size of a running process in KiB (`VmHWM`), where the system
/// reports it (Linux); `None` elsewhere or once the process is gone.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM")
}

/// One memory figure of a live process from `/proc/<pid>/status`, in KiB (`RssAnon`: its
/// heap and stacks; `RssFile`: the pages of its binary and libraries it touched).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resident memory of a live process by mapping, from `/proc/<pid>/smaps`: one row per file
/// and permission set (a binary's code, its read-only data, its relocated data; each
/// library's), `[heap]`, `[stack]` and `anonymous`, largest first. `None` where the system
/// does not report it.
pub fn resident_by_mapping(pid: u32) -> Option<Vec<Resident>> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    let mut rows: BTreeMap<String, Resident> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            // A mapping's header: "start-end perms offset dev inode [path]".
            let perms = fields.next().unwrap_or_default();
            let path = fields.nth(3).unwrap_or_default();
            let name = match path {
                "" => "anonymous".to_owned(),
                p if p.starts_with('[') => p.to_owned(),
                p => format!(
                    "{} {perms}",
                    std::path::Path::new(p)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| p.to_owned())
                ),
            };
            current = Some(name);
            continue;
        }
        let (Some(name), Some(kib)) = (
            current.as_ref(),
            fields.next().and_then(|v| v.parse::<u64>().ok()),
        ) else {
            continue;
        };
        let row = rows.entry(name.clone()).or_insert_with(|| Resident {
            mapping: name.clone(),
            rss_kib: 0,
            anonymous_kib: 0,
        });
        match first {
            "Rss:" => row.rss_kib += kib,
            "Anonymous:" => row.anonymous_kib += kib,
            _ => {}
        }
    }
    let mut rows: Vec<Resident> = rows.into_values().filter(|r| r.rss_kib > 0).collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.rss_kib));
    Some(rows)
}

/// One row of [`resident_by_mapping`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resident {
    /// `file perms` (`bootstrap r-xp`), `[heap]`, `[stack]` or `anonymous`.
    pub mapping: String,
    pub rss_kib: u64,
    /// Of `rss_kib`, the pages that are the process's own (written copies, heap).
    pub anonymous_kib: u64,
}
