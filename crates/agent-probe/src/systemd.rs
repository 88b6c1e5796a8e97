//! The agent's systemd unit state, for the report only.
//!
//! `systemctl is-active ecs` says whether systemd thinks the agent runs. It never decides up
//! or down (the introspection answer does: an "active" unit can hold a stuck agent), and it
//! can never fail a run: hosts without systemd, or a systemctl that hangs on a busy D-Bus,
//! give the state `unknown` with the reason.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// A unit and what systemd says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitState {
    pub name: String,
    /// `active`, `inactive`, `failed`, `activating`, … as systemctl prints it, or `unknown`.
    pub state: String,
    /// Why the state is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl UnitState {
    fn unknown(name: &str, detail: String) -> UnitState {
        UnitState {
            name: name.to_string(),
            state: "unknown".to_string(),
            detail: Some(detail),
        }
    }
}

/// The unit's state from `systemctl is-active`'s output (its exit status only repeats it).
pub fn parse_is_active(name: &str, stdout: &str, stderr: &str) -> UnitState {
    match stdout.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(state) => UnitState {
            name: name.to_string(),
            state: state.to_string(),
            detail: None,
        },
        None => {
            let why = stderr
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("systemctl printed nothing");
            UnitState::unknown(name, why.to_string())
        }
    }
}

/// Asks systemd about `unit`, giving systemctl at most `timeout`.
pub async fn unit_state(unit: &str, timeout: Duration) -> UnitState {
    unit_state_with(&["systemctl"], unit, timeout).await
}

/// [`unit_state`] with another command in systemctl's place (tests run a shell script through
/// `sh`, which also spares them exec'ing a file they just wrote).
pub(crate) async fn unit_state_with(command: &[&str], unit: &str, timeout: Duration) -> UnitState {
    let Some((program, leading)) = command.split_first() else {
        return UnitState::unknown(unit, "no command to ask systemd with".to_string());
    };
    let spawned = Command::new(program)
        .args(leading)
        // `--` so a unit name starting with a dash is never read as an option.
        .args(["is-active", "--", unit])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return UnitState::unknown(unit, format!("{program} not found"));
        }
        Err(e) => return UnitState::unknown(unit, format!("cannot run {program}: {e}")),
    };
    // std's child has no timeout and tokio's process support is not in the build: poll it on
    // the runtime's timer, which keeps the agent check and IMDS running meanwhile.
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return UnitState::unknown(
                    unit,
                    format!("{program} did not answer within {}s", timeout.as_secs_f64()),
                );
            }
            Ok(None) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return UnitState::unknown(unit, format!("waiting for {program}: {e}"));
            }
        }
    }
    // The answer is one word, far below a pipe's buffer, so it is all there once the
    // process has exited.
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stdout.take() {
        let _ = pipe.read_to_string(&mut stdout);
    }
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    parse_is_active(unit, &stdout, &stderr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn parses_states() {
        assert_eq!(parse_is_active("ecs", "active\n", "").state, "active");
        assert_eq!(parse_is_active("ecs", "inactive\n", "").state, "inactive");
        let unknown = parse_is_active(
            "ecs",
            "",
            "System has not been booted with systemd as init system (PID 1). Can't operate.\n",
        );
        assert_eq!(unknown.state, "unknown");
        assert!(unknown
            .detail
            .unwrap()
            .starts_with("System has not been booted"));
    }

    #[tokio::test]
    async fn missing_systemctl_is_unknown_not_a_failure() {
        let state =
            unit_state_with(&["/nonexistent/systemctl"], "ecs", Duration::from_secs(1)).await;
        assert_eq!(state.state, "unknown");
        assert_eq!(
            state.detail.as_deref(),
            Some("/nonexistent/systemctl not found")
        );
    }

    #[tokio::test]
    async fn reads_a_fake_systemctl() {
        let dir = TempDir::new("systemctl");
        // Prints the state and exits 3 as systemctl does for an inactive unit; echoes the
        // arguments to stderr so the test sees how it was called.
        let script = dir.script("systemctl", "echo \"$@\" >&2\necho inactive\nexit 3\n");
        let state = unit_state_with(&["sh", &script], "ecs", Duration::from_secs(5)).await;
        assert_eq!(
            state,
            UnitState {
                name: "ecs".into(),
                state: "inactive".into(),
                detail: None
            }
        );
    }

    #[tokio::test]
    async fn a_hanging_systemctl_is_cut_off() {
        let dir = TempDir::new("systemctl-hang");
        let script = dir.script("systemctl", "exec sleep 30\n");
        let started = std::time::Instant::now();
        let state = unit_state_with(&["sh", &script], "ecs", Duration::from_millis(200)).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(state.state, "unknown");
        assert!(state.detail.unwrap().contains("did not answer within 0.2s"));
    }
}
