//! Safe remediation: what may be done about an agent that stays down, and how much of a
//! cluster may be touched per hour.
//!
//! Remediation runs once per episode, right after the alert is decided, and never on more
//! than `RemediationMaxPercentPerHour` of a cluster's instances in any rolling hour (at least
//! one). Beyond that the alert goes out alone and says so.

use crate::decision::AlertKind;
use crate::node::NodeKind;
use chrono::{DateTime, TimeDelta, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemediationAction {
    None,
    /// SSM Run Command: `systemctl restart ecs` (Linux) or `Restart-Service AmazonECS`
    /// (Windows); EC2 and ECS Anywhere.
    RestartAgent,
    /// Set the container instance to DRAINING, so ECS moves its service tasks away.
    Drain,
    /// EC2 RebootInstances (EC2 only).
    Reboot,
    /// Terminate through its Auto Scaling group, keeping the desired capacity, so the group
    /// replaces it (EC2 in an Auto Scaling group only).
    Replace,
}

impl RemediationAction {
    pub const NAMES: &'static [&'static str] =
        &["none", "restart-agent", "drain", "reboot", "replace"];

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "none" => Some(RemediationAction::None),
            "restart-agent" => Some(RemediationAction::RestartAgent),
            "drain" => Some(RemediationAction::Drain),
            "reboot" => Some(RemediationAction::Reboot),
            "replace" => Some(RemediationAction::Replace),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RemediationAction::None => "none",
            RemediationAction::RestartAgent => "restart-agent",
            RemediationAction::Drain => "drain",
            RemediationAction::Reboot => "reboot",
            RemediationAction::Replace => "replace",
        }
    }

    /// What the action does, for "dry run: would …" and logs.
    pub fn describe(self) -> &'static str {
        match self {
            RemediationAction::None => "do nothing",
            RemediationAction::RestartAgent => "restart the ECS agent through SSM Run Command",
            RemediationAction::Drain => "set the container instance to DRAINING",
            RemediationAction::Reboot => "reboot the EC2 instance",
            RemediationAction::Replace => {
                "terminate the instance through its Auto Scaling group, which replaces it"
            }
        }
    }

    /// Whether the action can help this node and alert; `Err` says why not.
    pub fn applies_to(self, node: NodeKind, kind: AlertKind) -> Result<(), &'static str> {
        if self == RemediationAction::RestartAgent && kind == AlertKind::NodeUnreachable {
            // Run Command travels over the SSM agent, which cannot reach this node either.
            return Err("SSM cannot reach the node, so a restart command would never arrive");
        }
        match (self, node) {
            (RemediationAction::Reboot, NodeKind::Anywhere) => {
                Err("reboot applies to EC2 instances only")
            }
            (RemediationAction::Replace, NodeKind::Anywhere) => {
                Err("replace applies to EC2 instances in an Auto Scaling group only")
            }
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemediationSettings {
    pub action: RemediationAction,
    /// Percentage of a cluster's registered instances that may be acted on per hour.
    pub max_percent_per_hour: u32,
    /// Log and report what would be done, touch nothing.
    pub dry_run: bool,
}

impl RemediationSettings {
    pub fn enabled(&self) -> bool {
        self.action != RemediationAction::None
    }
}

/// How one remediation attempt ended. Alerts show it as `"<kind>: <detail>"`, metrics count
/// attempts by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Succeeded,
    Failed,
    /// Not attempted: the action does not apply to the node, the hourly limit is reached, …
    NotApplied,
    DryRun,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Succeeded,
        Outcome::Failed,
        Outcome::NotApplied,
        Outcome::DryRun,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::NotApplied => "not applied",
            Outcome::DryRun => "dry run",
        }
    }

    /// Reads `"<kind>: <detail>"` back (the stored form of `RemediationRecord::text`);
    /// `None` for text this version did not write.
    pub fn parse_text(recorded: &str) -> Option<(Outcome, String)> {
        let (label, detail) = recorded.split_once(": ")?;
        let outcome = Outcome::ALL.into_iter().find(|o| o.label() == label)?;
        Some((outcome, detail.to_owned()))
    }

    /// The metric that counts attempts of this kind.
    pub fn metric(self) -> &'static str {
        match self {
            Outcome::Succeeded => crate::metrics::REMEDIATIONS_SUCCEEDED,
            Outcome::Failed => crate::metrics::REMEDIATIONS_FAILED,
            Outcome::NotApplied => crate::metrics::REMEDIATIONS_NOT_APPLIED,
            Outcome::DryRun => crate::metrics::REMEDIATIONS_DRY_RUN,
        }
    }
}

/// How many instances of a cluster with `cluster_size` registered instances may be acted on
/// in any rolling hour: the percentage, rounded down, but at least one.
pub fn hourly_budget(cluster_size: usize, max_percent_per_hour: u32) -> usize {
    let percent = usize::try_from(max_percent_per_hour).unwrap_or(usize::MAX);
    (cluster_size.saturating_mul(percent) / 100).max(1)
}

/// The window of recent actions on one cluster: keeps those within the last hour and, if the
/// budget allows one more, adds `now`. Returns whether it was allowed and the new window.
pub fn take_slot(
    recent: &[DateTime<Utc>],
    now: DateTime<Utc>,
    budget: usize,
) -> (bool, Vec<DateTime<Utc>>) {
    let mut window: Vec<DateTime<Utc>> = recent
        .iter()
        .copied()
        .filter(|t| now - *t < TimeDelta::hours(1))
        .collect();
    if window.len() < budget {
        window.push(now);
        (true, window)
    } else {
        (false, window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn recorded_outcomes_read_back_as_their_kind() {
        for outcome in Outcome::ALL {
            let text = format!("{}: details: with a colon", outcome.label());
            assert_eq!(
                Outcome::parse_text(&text),
                Some((outcome, "details: with a colon".to_owned()))
            );
        }
        assert_eq!(
            Outcome::parse_text("dry run: would restart the ECS agent").map(|(o, _)| o),
            Some(Outcome::DryRun)
        );
        assert_eq!(Outcome::parse_text("something else"), None);
        assert_eq!(Outcome::parse_text("rebooted: yes"), None);
    }

    #[test]
    fn budget_is_the_percentage_rounded_down_but_at_least_one() {
        assert_eq!(hourly_budget(0, 10), 1);
        assert_eq!(hourly_budget(5, 10), 1);
        assert_eq!(hourly_budget(10, 10), 1);
        assert_eq!(hourly_budget(25, 10), 2);
        assert_eq!(hourly_budget(200, 10), 20);
        assert_eq!(hourly_budget(7, 100), 7);
        assert_eq!(hourly_budget(usize::MAX, u32::MAX), usize::MAX / 100);
    }

    #[test]
    fn the_window_rolls_over_an_hour() {
        let t =
            |m: i64| Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap() + TimeDelta::minutes(m);
        let (ok, window) = take_slot(&[], t(0), 1);
        assert!(ok);
        assert_eq!(window, [t(0)]);
        let (ok, window) = take_slot(&window, t(59), 1);
        assert!(!ok, "still within the hour");
        assert_eq!(window, [t(0)]);
        let (ok, window) = take_slot(&window, t(60), 1);
        assert!(ok, "an hour later the slot is free again");
        assert_eq!(window, [t(60)]);
    }

    #[test]
    fn actions_know_where_they_apply() {
        for name in RemediationAction::NAMES {
            let action = RemediationAction::parse(name).unwrap();
            assert_eq!(action.as_str(), *name);
        }
        assert_eq!(RemediationAction::parse("terminate"), None);
        use RemediationAction as A;
        let down = AlertKind::AgentDisconnected;
        let unreachable = AlertKind::NodeUnreachable;
        let applies = |action: RemediationAction, node, kind| action.applies_to(node, kind).is_ok();
        assert!(!applies(A::Reboot, NodeKind::Anywhere, down));
        assert!(!applies(A::Replace, NodeKind::Anywhere, down));
        assert!(applies(A::RestartAgent, NodeKind::Anywhere, down));
        assert!(!applies(A::RestartAgent, NodeKind::Anywhere, unreachable));
        assert!(applies(A::Drain, NodeKind::Anywhere, unreachable));
        assert!(applies(A::Reboot, NodeKind::Ec2, down));
    }
}
