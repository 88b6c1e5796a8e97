//! Starts and drives the AWS emulator harness (`dev/emulator/harness/harness.py`: moto's server on
//! 127.0.0.1 plus the few things moto lacks) for tests, benchmarks and the demo.
//!
//! Each [`Emulator`] is its own server process on a free loopback port, so tests never share
//! state; it stops when the value is dropped, and also by itself when this process dies
//! (the harness exits when its stdin closes).

use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub mod deploy;
pub mod fleet;
pub mod local_source;
pub mod runtime_api;
pub mod stack;
pub mod template;

pub use local_source::{DrainError, QueuePoller};

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";
/// moto imports every service on start; a cold machine takes a few seconds.
const START_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("the emulator's Python environment is missing ({0}): run `make venv` first (`make test` and `make demo` do it for you)")]
    NoPython(PathBuf),
    #[error("could not start the emulator harness {script}: {source}")]
    Spawn {
        script: PathBuf,
        source: std::io::Error,
    },
    #[error("the emulator harness did not get ready within {seconds} s; its log ({log}) ends with:\n{tail}")]
    NotReady {
        seconds: u64,
        log: PathBuf,
        tail: String,
    },
    #[error("emulator control call {what} failed: {message}")]
    Control { what: String, message: String },
}

/// What the harness counted since the last [`Emulator::reset_calls`].
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Counters {
    /// AWS requests by `service.Operation`.
    pub calls: BTreeMap<String, u64>,
    /// Sequential round trips: the longest chain of calls each sent after the one before it
    /// was answered (calls in flight together count once). Exact under a latency fault on
    /// every call that holds each answer longer than a client takes to send the calls it
    /// sends together, so they all arrive before any answer, and no answer late (see
    /// `late_answers`); without a hold, fast answers can make concurrent calls look
    /// sequential.
    pub round_trips: u64,
    /// The emulator's own time: how long answers left after they were due (arrival plus
    /// any latency hold, moto's work within the hold costing nothing, as AWS's is inside a
    /// region's round trip), as the union of those spans: what a waiting client spent on
    /// the emulator rather than on itself or on the held round trips.
    pub busy_ms: f64,
    /// Moto's work on each `service.Operation`'s calls (from when moto took a call to its
    /// answer, the DynamoDB lock included), summed: where the emulator's time goes.
    pub busy_ms_by_operation: BTreeMap<String, f64>,
    /// Held answers that left more than a few milliseconds after they were due: moto's
    /// queue outlasted the hold, so `round_trips` counted uneven round trips and can be
    /// above the critical path. Zero means every held call cost exactly its hold.
    pub late_answers: u64,
}

impl Counters {
    pub fn busy(&self) -> Duration {
        Duration::from_secs_f64(self.busy_ms.max(0.0) / 1000.0)
    }
}

/// How an injected fault behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The service's own throttling error, in its wire format.
    Throttle,
    /// HTTP 500 with the service's internal-error code.
    ServerError,
    /// Delay, then answer normally.
    Latency,
    /// Drop the connection without an answer.
    Reset,
    /// Let the call take effect, then answer with an internal error (the SDK retries a call
    /// that already happened).
    LostAnswer,
    /// DynamoDB BatchGetItem only: read the first key of each table and hand the others
    /// back in `UnprocessedKeys`, as DynamoDB does under load.
    Unprocessed,
}

/// A fault rule: which requests it hits and how often.
#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    /// SigV4 service name (ecs, ec2, ssm, sns, sqs, events) or `*`.
    pub service: String,
    /// Operation name (DescribeContainerInstances, …) or `*`.
    pub operation: String,
    /// Only requests whose body contains this text.
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    pub kind: FaultKind,
    /// How many matching requests it fires for; `None` is forever.
    pub times: Option<u32>,
    pub probability: f64,
    /// A `Latency` fault's hold: the answer is due this long after the request arrived.
    pub latency_ms: u64,
    /// When moto takes a held request, after its arrival; `None` is at the end of the hold,
    /// so the calls a client sends together all arrive before moto's work on any (holding
    /// the GIL) can delay them. Earlier lets moto's work overlap the hold, as AWS's own
    /// work is inside a region's round trip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moto_after_ms: Option<u64>,
}

impl Fault {
    pub fn new(service: &str, operation: &str, kind: FaultKind) -> Self {
        Fault {
            service: service.into(),
            operation: operation.into(),
            body_contains: None,
            kind,
            times: None,
            probability: 1.0,
            latency_ms: 0,
            moto_after_ms: None,
        }
    }

    pub fn when_body_contains(mut self, text: &str) -> Self {
        self.body_contains = Some(text.into());
        self
    }

    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    pub fn probability(mut self, p: f64) -> Self {
        self.probability = p;
        self
    }

    pub fn latency_ms(mut self, ms: u64) -> Self {
        self.latency_ms = ms;
        self
    }

    pub fn moto_after_ms(mut self, ms: u64) -> Self {
        self.moto_after_ms = Some(ms);
        self
    }
}

pub struct Emulator {
    child: Child,
    // Held open: the harness exits when it closes, so no orphan outlives this process.
    _stdin: Option<ChildStdin>,
    endpoint: String,
    /// The harness's stderr; kept only when a test fails (panics) with it running.
    log: PathBuf,
    /// For the control API: its 4xx answers are read, as they say what was wrong.
    control: ureq::Agent,
}

impl Emulator {
    /// Starts a fresh harness on a free loopback port and waits until it answers.
    pub fn start() -> Result<Self, EmulatorError> {
        let root = repo_root();
        let python = python()?;
        let script = root.join("dev/emulator/harness/harness.py");
        let log = std::env::temp_dir().join(format!(
            "ecs-sentinel-emulator-{}-{}.log",
            std::process::id(),
            next_serial()
        ));
        let log_file = std::fs::File::create(&log).map_err(|source| EmulatorError::Spawn {
            script: script.clone(),
            source,
        })?;
        let mut child = Command::new(&python)
            .arg(&script)
            .args(["--port", "0", "--exit-on-stdin-eof"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|source| EmulatorError::Spawn {
                script: script.clone(),
                source,
            })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("READY ") {
                    let _ = tx.send(port.trim().parse::<u16>().ok());
                    return;
                }
            }
            let _ = tx.send(None);
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(port)) => Ok(Emulator {
                child,
                _stdin: stdin,
                endpoint: format!("http://127.0.0.1:{port}"),
                log,
                control: ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into(),
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(EmulatorError::NotReady {
                    seconds: START_TIMEOUT.as_secs(),
                    tail: tail_of(&log, 20),
                    log,
                })
            }
        }
    }

    /// The URL to put in `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// An SDK configuration pointed at this emulator: the shared settings, test credentials,
    /// us-east-1, fast retries (the standard three attempts, with millisecond backoff so tests
    /// stay quick), and time limits sized for the emulator rather than AWS: on a loaded
    /// 2-core machine moto sometimes takes seconds, and an attempt cut off after the call took
    /// effect is retried, which turns one publish into two. Tests of time limits set their own.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        let credentials =
            aws_credential_types::Credentials::new("testing", "testing", None, None, "emulator");
        sentinel_aws::sdk::loader()
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(credentials)
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_initial_backoff(Duration::from_millis(20))
                    .with_max_backoff(Duration::from_millis(200)),
            )
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .operation_timeout(Duration::from_secs(180))
                    .build(),
            )
            .load()
            .await
    }

    /// AWS requests seen so far, by `service.Operation`.
    pub fn calls(&self) -> Result<BTreeMap<String, u64>, EmulatorError> {
        Ok(self.counters()?.calls)
    }

    /// Sequential round trips since the last [`Emulator::reset_calls`]: see
    /// [`Counters::round_trips`].
    pub fn round_trips(&self) -> Result<u64, EmulatorError> {
        Ok(self.counters()?.round_trips)
    }

    /// Everything the harness counts since the last [`Emulator::reset_calls`], in one request.
    pub fn counters(&self) -> Result<Counters, EmulatorError> {
        let body = self.control("GET", "calls", None)?;
        serde_json::from_value(body.clone()).map_err(|e| EmulatorError::Control {
            what: "GET calls".into(),
            message: format!("{e}: {body}"),
        })
    }

    /// The latest request bodies (at most 100) of one `service.Operation`, oldest first: to
    /// check the arguments a call carried.
    pub fn requests(&self, operation: &str) -> Result<Vec<String>, EmulatorError> {
        let body = self.control("POST", "requests", Some(json!({ "operation": operation })))?;
        serde_json::from_value(body["requests"].clone()).map_err(|e| EmulatorError::Control {
            what: "POST requests".into(),
            message: e.to_string(),
        })
    }

    pub fn reset_calls(&self) -> Result<(), EmulatorError> {
        self.control("POST", "calls/reset", Some(json!({})))
            .map(drop)
    }

    pub fn inject(&self, fault: &Fault) -> Result<(), EmulatorError> {
        let body = serde_json::to_value(fault).map_err(|e| EmulatorError::Control {
            what: "POST faults".into(),
            message: e.to_string(),
        })?;
        self.control("POST", "faults", Some(body)).map(drop)
    }

    pub fn seed_faults(&self, seed: u64) -> Result<(), EmulatorError> {
        self.control("POST", "faults/seed", Some(json!({ "seed": seed })))
            .map(drop)
    }

    /// How often each injected fault fired so far: (kind, fired).
    pub fn fired_faults(&self) -> Result<Vec<(String, u64)>, EmulatorError> {
        let body = self.control("GET", "faults", None)?;
        Ok(body["faults"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                (
                    f["kind"].as_str().unwrap_or_default().to_owned(),
                    f["fired"].as_u64().unwrap_or(0),
                )
            })
            .collect())
    }

    pub fn clear_faults(&self) -> Result<(), EmulatorError> {
        self.control("DELETE", "faults", None).map(drop)
    }

    /// What `systemctl stop ecs` (false) or `start` (true) does to ECS's view of an instance.
    pub fn set_agent_connected(
        &self,
        cluster: &str,
        container_instance_arn: &str,
        connected: bool,
    ) -> Result<(), EmulatorError> {
        self.control(
            "POST",
            "ecs/agent-connection",
            Some(json!({
                "cluster": cluster,
                "containerInstanceArn": container_instance_arn,
                "connected": connected,
            })),
        )
        .map(drop)
    }

    /// What DescribeServices reports once ECS has run a service's tasks (moto runs none):
    /// `state` may set `running`, `pending`, `failedTasks`, `rolloutState` (of the primary
    /// deployment) and `events` (service event messages to append, newest last).
    pub fn set_service_state(
        &self,
        cluster: &str,
        service: &str,
        state: serde_json::Value,
    ) -> Result<(), EmulatorError> {
        let mut body = json!({"cluster": cluster, "service": service});
        if let (Some(body), serde_json::Value::Object(fields)) = (body.as_object_mut(), state) {
            body.extend(fields);
        }
        self.control("POST", "ecs/service-state", Some(body))
            .map(drop)
    }

    /// Registers an ECS Anywhere container instance for an SSM managed node; returns its ARN.
    pub fn register_external_instance(
        &self,
        cluster: &str,
        managed_instance_id: &str,
        ping_status: &str,
    ) -> Result<String, EmulatorError> {
        let body = self.control(
            "POST",
            "ecs/external-instances",
            Some(json!({
                "cluster": cluster,
                "managedInstanceId": managed_instance_id,
                "agentVersion": "1.82.0",
                "osType": "linux",
                "pingStatus": ping_status,
            })),
        )?;
        body["containerInstanceArn"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| EmulatorError::Control {
                what: "POST ecs/external-instances".into(),
                message: format!("no containerInstanceArn in {body}"),
            })
    }

    /// Sets what SSM reports for a managed node (Online, ConnectionLost, Inactive).
    pub fn set_ssm_ping(
        &self,
        managed_instance_id: &str,
        ping_status: &str,
    ) -> Result<(), EmulatorError> {
        self.control(
            "POST",
            "ssm/instances",
            Some(json!({
                "instanceId": managed_instance_id,
                "pingStatus": ping_status,
                "platformType": "Linux",
            })),
        )
        .map(drop)
    }

    fn control(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, EmulatorError> {
        let url = format!("{}/_harness/{path}", self.endpoint);
        let what = format!("{method} {path}");
        let fail = |message: String| EmulatorError::Control {
            what: what.clone(),
            message,
        };
        let result = match (method, body) {
            ("GET", _) => self.control.get(&url).call(),
            ("DELETE", _) => self.control.delete(&url).call(),
            (_, Some(body)) => self.control.post(&url).send_json(&body),
            (_, None) => self.control.post(&url).send_empty(),
        };
        let mut response = result.map_err(|e| fail(e.to_string()))?;
        let mut text = String::new();
        response
            .body_mut()
            .as_reader()
            .read_to_string(&mut text)
            .map_err(|e| fail(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            // The harness says what it refused and why (HarnessError's message).
            return Err(fail(format!("HTTP {status}: {}", text.trim())));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| fail(format!("{e}: {text}")))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Every test starts its own harness: without this, each run left hundreds of logs
        // in the temp directory. A failing test's log stays, for its diagnosis.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// The project's Python (`make venv`), which has moto and the SAM translator;
/// `SENTINEL_EMULATOR_PYTHON` overrides it.
pub fn python() -> Result<PathBuf, EmulatorError> {
    let python = std::env::var_os("SENTINEL_EMULATOR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    if python.exists() {
        Ok(python)
    } else {
        Err(EmulatorError::NoPython(python))
    }
}

/// The repository root: this crate lives at `<root>/dev/emulator`.
pub fn repo_root() -> PathBuf {
    if let Some(root) = std::env::var_os("SENTINEL_REPO_ROOT") {
        return PathBuf::from(root);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn next_serial() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

fn tail_of(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
