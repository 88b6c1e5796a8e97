//! Runs the real `bootstrap` binary through the emulator crate's Lambda Runtime API server
//! on loopback, as Lambda starts it.

pub use sentinel_emulator::runtime_api::{Posted, RuntimeApi, REQUEST_ID};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// The `bootstrap` binary of the profile the tests were built with (`make test` builds it
/// first, in the test profile: the same code as the Lambda's release build, without the
/// fat-LTO build time; `make bench` measures the release build). The path follows the
/// test binary's target directory, so a custom CARGO_TARGET_DIR works too.
pub fn bootstrap_binary() -> anyhow::Result<PathBuf> {
    function_binary(Function::AgentMonitor)
}

/// The Lambda functions, by the binary each one runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `bootstrap` of the agent-monitor crate.
    AgentMonitor,
    /// `task-monitor`.
    TaskMonitor,
    /// `fleet-recorder`.
    FleetRecorder,
}

impl Function {
    fn binary_and_package(self) -> (&'static str, &'static str) {
        match self {
            Function::AgentMonitor => ("bootstrap", "agent-monitor"),
            Function::TaskMonitor => ("task-monitor", "task-monitor"),
            Function::FleetRecorder => ("fleet-recorder", "fleet-recorder"),
        }
    }
}

/// A function's binary in the profile the tests were built with (see [`bootstrap_binary`]).
pub fn function_binary(function: Function) -> anyhow::Result<PathBuf> {
    let (name, package) = function.binary_and_package();
    built_binary(name, package)
}

/// The operator CLI `ecs-sentinel`, built in the tests' profile (make test builds it), for
/// the tests that check its exit codes and files as cron would see them.
pub fn cli_binary() -> anyhow::Result<PathBuf> {
    built_binary("ecs-sentinel", "sentinel-cli")
}

fn built_binary(name: &str, package: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/<test binary>
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).ok_or_else(|| {
        anyhow::anyhow!("cannot find the target directory from {}", exe.display())
    })?;
    let binary = profile_dir.join(name);
    anyhow::ensure!(
        binary.exists(),
        "{} is missing: run `cargo build -p {package} --bin {name}` (make test does) before the tests",
        binary.display()
    );
    Ok(binary)
}

/// The test-profile `bootstrap` as Lambda would start it.
pub fn bootstrap_command(
    runtime_api: &str,
    endpoint: &str,
    environment: &BTreeMap<String, String>,
) -> anyhow::Result<Command> {
    Ok(sentinel_emulator::runtime_api::function_command(
        &bootstrap_binary()?,
        runtime_api,
        endpoint,
        environment,
    ))
}

/// Runs the `bootstrap` for one invocation with `event`; returns what it posted
/// back to the Runtime API (checked to be the invocation's response) and its stdout.
pub fn invoke_bootstrap(
    endpoint: &str,
    environment: &BTreeMap<String, String>,
    event: String,
) -> anyhow::Result<(Posted, String)> {
    invoke(Function::AgentMonitor, endpoint, environment, event)
}

/// Runs `function`'s binary for one invocation with `event`, as [`invoke_bootstrap`] does.
pub fn invoke(
    function: Function,
    endpoint: &str,
    environment: &BTreeMap<String, String>,
    event: String,
) -> anyhow::Result<(Posted, String)> {
    let api = RuntimeApi::serve(event)?;
    let mut child = sentinel_emulator::runtime_api::function_command(
        &function_binary(function)?,
        &api.address,
        endpoint,
        environment,
    )
    .spawn()?;
    let posted = api.next_post(Duration::from_secs(60));
    let _ = child.kill();
    let output = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let posted = posted.ok_or_else(|| {
        anyhow::anyhow!(
            "{function:?} posted nothing; stdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    anyhow::ensure!(
        posted.is_response_to(0),
        "{function:?} posted to {} rather than the response path; body: {}\nstdout:\n{stdout}",
        posted.path,
        posted.body
    );
    Ok((posted, stdout))
}
