//! `ecs-agent-probe install`: a systemd service and timer, or a cron line, that run the probe
//! every minute. The texts are built here (pure); writing refuses to replace existing files
//! unless forced, since a hand-tuned unit lost silently is worse than a second command.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const SERVICE_FILE: &str = "ecs-agent-probe.service";
pub const TIMER_FILE: &str = "ecs-agent-probe.timer";
pub const DEFAULT_UNIT_DIR: &str = "/etc/systemd/system";
pub const DEFAULT_BINARY: &str = "/usr/local/bin/ecs-agent-probe";
/// Where the printed cron entry is meant to go.
pub const CRON_FILE: &str = "/etc/cron.d/ecs-agent-probe";
/// What to run once the units are written.
pub const NEXT_STEP: &str =
    "systemctl daemon-reload && systemctl enable --now ecs-agent-probe.timer";

/// Why the schedule could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{} already exist(s); pass --force to replace", list(.0))]
    Exists(Vec<PathBuf>),
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "--binary must be an absolute path (systemd and cron run it without a PATH search): {0:?}"
    )]
    NotAbsolute(String),
    /// Arguments are written unquoted into ExecStart= and a cron line, where quotes, `%`, `$`
    /// and spaces all mean something; only plain words are accepted rather than escaped.
    #[error("{0:?} cannot be written into a unit or cron line; use letters, digits and - _ . / : = , @ + only")]
    Unsafe(String),
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" and ")
}

/// The command the schedule runs: the binary and the probe flags given after `--`.
pub fn command_line(binary: &str, args: &[String]) -> Result<String, InstallError> {
    if !binary.starts_with('/') {
        return Err(InstallError::NotAbsolute(binary.to_string()));
    }
    let plain = |word: &str| {
        !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+".contains(c))
    };
    let mut line = Vec::with_capacity(args.len() + 1);
    for word in std::iter::once(binary).chain(args.iter().map(String::as_str)) {
        if !plain(word) {
            return Err(InstallError::Unsafe(word.to_string()));
        }
        line.push(word);
    }
    Ok(line.join(" "))
}

/// The oneshot service: the probe with only what it needs (network, reading a few files).
pub fn service_unit(command_line: &str) -> String {
    format!(
        "\
# Written by `ecs-agent-probe install --systemd`. Started every minute by ecs-agent-probe.timer.
# Puts AgentDown (0 agent fine, 1 agent not working) into CloudWatch; needs only
# cloudwatch:PutMetricData. Exit 2 means it could not report (see the journal).
[Unit]
Description=ECS agent probe (AgentDown metric to CloudWatch)
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart={command_line}
# The probe keeps its own budget (--budget, 20 s); this is only the backstop.
TimeoutStartSec=60
# The SDK looks for a profile under $HOME: on ECS Anywhere the SSM agent keeps the
# instance's credentials in /root/.aws.
Environment=HOME=/root

# Hardening: the probe reads /etc/ecs/ecs.config, the SSM registration file and
# /root/.aws, talks to localhost, IMDS and CloudWatch, and runs systemctl is-active.
# Older systemd (Amazon Linux 2 has 219) ignores, with a warning, settings it lacks.
NoNewPrivileges=yes
ProtectSystem=strict
# Home directories are hidden (tmpfs) except the one the credentials live in.
ProtectHome=tmpfs
BindReadOnlyPaths=-/root/.aws
ReadOnlyPaths=-/etc/ecs/ecs.config -/var/lib/amazon/ssm
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
# AF_UNIX: systemctl reaches systemd over its socket.
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
CapabilityBoundingSet=
UMask=0077
"
    )
}

/// The timer: every minute, on time, and once at boot if a run was missed while down.
pub fn timer_unit() -> String {
    "\
# Written by `ecs-agent-probe install --systemd`.
[Unit]
Description=Run the ECS agent probe every minute

[Timer]
OnCalendar=*-*-* *:*:00
# The default accuracy (1 min) would let runs drift into each other's minute.
AccuracySec=1s
# Spread a fleet's calls over the first seconds of the minute, the same offset on each
# host (FixedRandomDelay needs systemd 247; older ones ignore it). The datum keeps the
# time the agent was looked at, so it still lands in its minute.
RandomizedDelaySec=15
FixedRandomDelay=yes
Persistent=true

[Install]
WantedBy=timers.target
"
    .to_string()
}

/// The `/etc/cron.d` entry (with its comment) for hosts without systemd.
pub fn cron_entry(command_line: &str) -> String {
    format!(
        "\
# {CRON_FILE}: ECS agent probe, every minute. Puts AgentDown (0 agent fine, 1 agent
# not working) into CloudWatch; needs cloudwatch:PutMetricData. Run it by hand with
# --dry-run to see what it reports; exit 2 means it could not report.
* * * * * root {command_line} >/dev/null 2>&1
"
    )
}

/// Writes the service and the timer into `dir`; nothing is written when either exists and
/// `force` is false. Returns the paths written.
pub fn write_systemd_units(
    dir: &Path,
    command_line: &str,
    force: bool,
) -> Result<Vec<PathBuf>, InstallError> {
    let files = [
        (dir.join(SERVICE_FILE), service_unit(command_line)),
        (dir.join(TIMER_FILE), timer_unit()),
    ];
    if !force {
        let existing: Vec<PathBuf> = files
            .iter()
            .filter(|(path, _)| path.exists())
            .map(|(path, _)| path.clone())
            .collect();
        if !existing.is_empty() {
            return Err(InstallError::Exists(existing));
        }
    }
    let mut written = Vec::new();
    for (path, text) in files {
        let mut options = OpenOptions::new();
        options.write(true);
        if force {
            options.create(true).truncate(true);
        } else {
            // Checked above, but a file appearing in between is still never overwritten.
            options.create_new(true);
        }
        let result = options
            .open(&path)
            .and_then(|mut file| file.write_all(text.as_bytes()));
        match result {
            Ok(()) => written.push(path),
            Err(source) if source.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(InstallError::Exists(vec![path]));
            }
            Err(source) => return Err(InstallError::Write { path, source }),
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_plain_words() {
        assert_eq!(
            command_line(DEFAULT_BINARY, &[]).unwrap(),
            "/usr/local/bin/ecs-agent-probe"
        );
        assert_eq!(
            command_line(
                "/opt/probe",
                &["--systemd-unit".into(), "ecs".into(), "--budget=15".into()]
            )
            .unwrap(),
            "/opt/probe --systemd-unit ecs --budget=15"
        );
        assert!(matches!(
            command_line("ecs-agent-probe", &[]),
            Err(InstallError::NotAbsolute(_))
        ));
        for bad in ["a b", "100%", "$HOME", "x;y", "\"q\"", ""] {
            assert!(
                matches!(
                    command_line("/opt/probe", &[bad.to_string()]),
                    Err(InstallError::Unsafe(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn service_runs_the_command_once() {
        let unit = service_unit("/opt/probe --systemd-unit ecs");
        assert!(unit.contains("\nType=oneshot\n"));
        assert!(unit.contains("\nExecStart=/opt/probe --systemd-unit ecs\n"));
    }

    #[test]
    fn cron_entry_runs_every_minute_as_root() {
        let entry = cron_entry(DEFAULT_BINARY);
        assert!(entry.starts_with("# /etc/cron.d/ecs-agent-probe"));
        assert!(entry
            .lines()
            .any(|l| l == "* * * * * root /usr/local/bin/ecs-agent-probe >/dev/null 2>&1"));
    }
}
