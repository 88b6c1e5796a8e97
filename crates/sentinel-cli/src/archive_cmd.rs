//! `ecs-sentinel replay --from T --to T`: replays the stack's event archive onto its bus,
//! to the fleet recorder's rule only (the monitors ignore replays anyway, and other rules
//! of the account are not ours to trigger), and shows the replay's progress.

use crate::args::ReplayArgs;
use crate::locate::{Aws, Locator};
use anyhow::Context;
use aws_sdk_eventbridge::primitives::DateTime as SdkTime;
use aws_sdk_eventbridge::types::{ReplayDestination, ReplayState};
use chrono::{DateTime, Utc};
use std::io::Write;
use std::time::Duration;

/// A time given as RFC 3339 (`2026-11-30T08:00:00Z`) or as an age (`6h` is six hours ago).
pub fn parse_when(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Some(at) = sentinel_fleet::record::parse_time(text) {
        return Ok(at);
    }
    sentinel_fleet::view::parse_age(text)
        .map(|age| now - age)
        .map_err(|e| format!("{e}; or give a time such as 2026-11-30T08:00:00Z"))
}

fn sdk_time(t: DateTime<Utc>) -> SdkTime {
    SdkTime::from_secs(t.timestamp())
}

fn explain<E: std::error::Error>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{}", aws_sdk_eventbridge::error::DisplayErrorContext(&e))
}

/// How often the replay's progress is asked for.
pub const POLL: Duration = Duration::from_secs(5);

/// How long a replay is followed before the command gives up on it (the replay itself
/// goes on in EventBridge; `aws events describe-replay` follows it further).
pub const DEADLINE: Duration = Duration::from_secs(60 * 60);

/// `ecs-sentinel replay --from T [--to T]`: the window checked first, then the archive of
/// `--archive` or `--stack` replayed (to the stack's fleet rule when the stack is known).
pub async fn run(args: ReplayArgs, aws: &Aws, out: &mut impl Write) -> anyhow::Result<()> {
    let now = Utc::now();
    let from =
        parse_when(args.from.as_deref().unwrap_or_default(), now).map_err(anyhow::Error::msg)?;
    let to = match args.to {
        Some(to) => parse_when(&to, now).map_err(anyhow::Error::msg)?,
        None => now,
    };
    let sdk = aws.config(None).await;
    let (archive, rule) = Locator::new(&sdk, &args.stack)
        .archive(args.archive)
        .await?;
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let follow = Follow {
        poll: POLL,
        deadline: DEADLINE,
    };
    replay(&events, &archive, from, to, rule.as_deref(), follow, out).await
}

/// How a replay is followed: asked for every `poll`, given up on after `deadline`.
#[derive(Debug, Clone, Copy)]
pub struct Follow {
    pub poll: Duration,
    pub deadline: Duration,
}

/// Starts the replay and follows it until it ends; an error if it failed or was cancelled,
/// or was still running when `follow.deadline` passed.
pub async fn replay(
    events: &aws_sdk_eventbridge::Client,
    archive: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    only_rule: Option<&str>,
    follow: Follow,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    anyhow::ensure!(from < to, "--from ({from}) must be before --to ({to})");
    let described = events
        .describe_archive()
        .archive_name(archive)
        .send()
        .await
        .map_err(explain)
        .with_context(|| format!("cannot find the event archive {archive:?}"))?;
    let archive_arn = described.archive_arn().context("the archive has no ARN")?;
    let bus = described
        .event_source_arn()
        .context("the archive names no event bus")?;
    let name = format!("ecs-sentinel-{}", Utc::now().format("%Y%m%d-%H%M%S"));
    let mut destination = ReplayDestination::builder().arn(bus);
    if let Some(rule) = only_rule {
        destination = destination.filter_arns(rule);
    }
    events
        .start_replay()
        .replay_name(&name)
        .event_source_arn(archive_arn)
        .event_start_time(sdk_time(from))
        .event_end_time(sdk_time(to))
        .destination(destination.build().map_err(explain)?)
        .send()
        .await
        .map_err(explain)
        .context("cannot start the replay")?;
    writeln!(
        out,
        "replay {name}: events of {} to {} from {archive}{}",
        from.to_rfc3339(),
        to.to_rfc3339(),
        only_rule
            .map(|r| format!(" to rule {r}"))
            .unwrap_or_default()
    )?;
    let give_up = tokio::time::Instant::now() + follow.deadline;
    loop {
        let replay = events
            .describe_replay()
            .replay_name(&name)
            .send()
            .await
            .map_err(explain)?;
        let state = replay.state().cloned();
        let reached = replay
            .event_last_replayed_time()
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".to_owned());
        writeln!(
            out,
            "  {}: replayed up to {reached}",
            state.as_ref().map_or("UNKNOWN", |s| s.as_str())
        )?;
        out.flush()?;
        match state {
            Some(ReplayState::Completed) => return Ok(()),
            Some(ReplayState::Failed | ReplayState::Cancelled) => anyhow::bail!(
                "replay {name} ended {}: {}",
                state.as_ref().map_or("", |s| s.as_str()),
                replay.state_reason().unwrap_or("no reason given")
            ),
            _ if tokio::time::Instant::now() + follow.poll > give_up => anyhow::bail!(
                "replay {name} was still {} after {}s, waiting for it to complete; it goes on in \
                 EventBridge (aws events describe-replay --replay-name {name})",
                state.as_ref().map_or("UNKNOWN", |s| s.as_str()),
                follow.deadline.as_secs()
            ),
            _ => tokio::time::sleep(follow.poll).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_instants_or_ages() {
        let now = sentinel_fleet::record::parse_time("2026-11-30T12:00:00Z").unwrap();
        assert_eq!(
            parse_when("6h", now),
            Ok(sentinel_fleet::record::parse_time("2026-11-30T06:00:00Z").unwrap())
        );
        assert_eq!(
            parse_when("2026-11-29T08:00:00Z", now),
            Ok(sentinel_fleet::record::parse_time("2026-11-29T08:00:00Z").unwrap())
        );
        assert!(parse_when("yesterday", now)
            .unwrap_err()
            .contains("2026-11-30T08:00:00Z"));
    }
}
