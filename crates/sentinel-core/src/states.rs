//! The AWS state names the decision reads, parsed once at the edge (events, adapters) into
//! enums, so the domain matches on variants, never on strings. A name this version does not
//! know is kept as it came (`Other`), so messages still show what AWS said.

use std::fmt;

/// A container instance's status, as ECS names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InstanceStatus {
    Active,
    Draining,
    Registering,
    Deregistering,
    RegistrationFailed,
    Inactive,
    Other(String),
}

impl InstanceStatus {
    pub fn parse(raw: &str) -> Self {
        match raw {
            "ACTIVE" => InstanceStatus::Active,
            "DRAINING" => InstanceStatus::Draining,
            "REGISTERING" => InstanceStatus::Registering,
            "DEREGISTERING" => InstanceStatus::Deregistering,
            "REGISTRATION_FAILED" => InstanceStatus::RegistrationFailed,
            "INACTIVE" => InstanceStatus::Inactive,
            other => InstanceStatus::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            InstanceStatus::Active => "ACTIVE",
            InstanceStatus::Draining => "DRAINING",
            InstanceStatus::Registering => "REGISTERING",
            InstanceStatus::Deregistering => "DEREGISTERING",
            InstanceStatus::RegistrationFailed => "REGISTRATION_FAILED",
            InstanceStatus::Inactive => "INACTIVE",
            InstanceStatus::Other(raw) => raw,
        }
    }

    /// ACTIVE or DRAINING: the instance runs (or is finishing) tasks, so its agent counts.
    pub fn is_in_service(&self) -> bool {
        matches!(self, InstanceStatus::Active | InstanceStatus::Draining)
    }
}

/// An EC2 instance's state, as EC2 names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ec2State {
    Pending,
    Running,
    ShuttingDown,
    Terminated,
    Stopping,
    Stopped,
    Other(String),
}

impl Ec2State {
    pub fn parse(raw: &str) -> Self {
        match raw {
            "pending" => Ec2State::Pending,
            "running" => Ec2State::Running,
            "shutting-down" => Ec2State::ShuttingDown,
            "terminated" => Ec2State::Terminated,
            "stopping" => Ec2State::Stopping,
            "stopped" => Ec2State::Stopped,
            other => Ec2State::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Ec2State::Pending => "pending",
            Ec2State::Running => "running",
            Ec2State::ShuttingDown => "shutting-down",
            Ec2State::Terminated => "terminated",
            Ec2State::Stopping => "stopping",
            Ec2State::Stopped => "stopped",
            Ec2State::Other(raw) => raw,
        }
    }
}

/// An SSM managed node's ping status, as SSM names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PingStatus {
    Online,
    ConnectionLost,
    Inactive,
    Other(String),
}

impl PingStatus {
    pub fn parse(raw: &str) -> Self {
        match raw {
            "Online" => PingStatus::Online,
            "ConnectionLost" => PingStatus::ConnectionLost,
            "Inactive" => PingStatus::Inactive,
            other => PingStatus::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            PingStatus::Online => "Online",
            PingStatus::ConnectionLost => "ConnectionLost",
            PingStatus::Inactive => "Inactive",
            PingStatus::Other(raw) => raw,
        }
    }
}

impl fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Ec2State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for PingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_kept() {
        for raw in [
            "ACTIVE",
            "DRAINING",
            "REGISTERING",
            "DEREGISTERING",
            "REGISTRATION_FAILED",
            "INACTIVE",
            "SOMETHING_NEW",
        ] {
            assert_eq!(InstanceStatus::parse(raw).as_str(), raw);
        }
        for raw in [
            "pending",
            "running",
            "shutting-down",
            "terminated",
            "stopping",
            "stopped",
            "hibernating",
        ] {
            assert_eq!(Ec2State::parse(raw).as_str(), raw);
        }
        for raw in ["Online", "ConnectionLost", "Inactive", "Unknown"] {
            assert_eq!(PingStatus::parse(raw).to_string(), raw);
        }
        assert_eq!(
            InstanceStatus::parse("SOMETHING_NEW"),
            InstanceStatus::Other("SOMETHING_NEW".into())
        );
        assert!(InstanceStatus::Draining.is_in_service());
        assert!(!InstanceStatus::Inactive.is_in_service());
    }
}
