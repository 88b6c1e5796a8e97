//! A minimal Lambda Runtime API server on 127.0.0.1, enough to run the real `bootstrap`
//! binary for one invocation: it serves one event on `/invocation/next`, records what the
//! function posts back, and leaves the next `/next` unanswered (as Lambda does between
//! invocations) until the test stops the process. Also starts the `bootstrap` the
//! way Lambda does.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const REQUEST_ID: &str = "7b1bb1d2-0f55-4c4d-8f0e-3f2c1f9f5e11";

/// What the function sent back: the path it posted to and the body.
#[derive(Debug, Clone)]
pub struct Posted {
    pub path: String,
    pub body: String,
}

pub struct RuntimeApi {
    pub address: String,
    posted: Receiver<Posted>,
}

impl RuntimeApi {
    /// Serves `event` once, to the first `/next`.
    pub fn serve(event: String) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        let (tx, rx) = mpsc::channel();
        let pending = Arc::new(Mutex::new(Some(event)));
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let tx = tx.clone();
                let pending = Arc::clone(&pending);
                std::thread::spawn(move || {
                    let _ = serve_connection(stream, &pending, &tx);
                });
            }
        });
        Ok(RuntimeApi {
            address,
            posted: rx,
        })
    }

    /// Waits for the function's next post (response, invocation error or init error).
    pub fn next_post(&self, timeout: Duration) -> Option<Posted> {
        self.posted.recv_timeout(timeout).ok()
    }
}

fn serve_connection(
    stream: TcpStream,
    pending: &Mutex<Option<String>>,
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
            let event = pending.lock().ok().and_then(|mut p| p.take());
            match event {
                Some(event) => {
                    let deadline = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis() + 60_000)
                        .unwrap_or_default();
                    write!(
                        writer,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                         Lambda-Runtime-Aws-Request-Id: {REQUEST_ID}\r\n\
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

/// The `bootstrap` binary of the profile the tests were built with (`make test` builds it
/// first, in the test profile: the same code as the Lambda's release build, without the
/// fat-LTO build time; `make bench` measures the release build). The path follows the
/// test binary's target directory, so a custom CARGO_TARGET_DIR works too.
pub fn bootstrap_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/<test binary>
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).ok_or_else(|| {
        anyhow::anyhow!("cannot find the target directory from {}", exe.display())
    })?;
    let binary = profile_dir.join("bootstrap");
    anyhow::ensure!(
        binary.exists(),
        "{} is missing: run `cargo build -p agent-monitor --bin bootstrap` (make test does) before the tests",
        binary.display()
    );
    Ok(binary)
}

/// The `bootstrap` as Lambda would start it: only the variables Lambda sets,
/// credentials, the emulator's endpoint, and then the function's own `environment`.
pub fn bootstrap_command(
    runtime_api: &str,
    endpoint: &str,
    environment: &BTreeMap<String, String>,
) -> anyhow::Result<Command> {
    let mut command = Command::new(bootstrap_binary()?);
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
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", endpoint)
        .envs(environment)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Ok(command)
}

/// Runs the `bootstrap` for one invocation with `event`; returns what it posted
/// back to the Runtime API (checked to be the invocation's response) and its stdout.
pub fn invoke_bootstrap(
    endpoint: &str,
    environment: &BTreeMap<String, String>,
    event: String,
) -> anyhow::Result<(Posted, String)> {
    let api = RuntimeApi::serve(event)?;
    let mut child = bootstrap_command(&api.address, endpoint, environment)?.spawn()?;
    let posted = api.next_post(Duration::from_secs(60));
    let _ = child.kill();
    let output = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let posted = posted.ok_or_else(|| {
        anyhow::anyhow!(
            "bootstrap posted nothing; stdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    anyhow::ensure!(
        posted.path == format!("/2018-06-01/runtime/invocation/{REQUEST_ID}/response"),
        "bootstrap posted to {} rather than the response path; body: {}\nstdout:\n{stdout}",
        posted.path,
        posted.body
    );
    Ok((posted, stdout))
}
