//! Which instance this is and which region it reports to: IMDS on EC2, the SSM agent's
//! registration file on ECS Anywhere.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::imds::Imds;
use crate::ssm::{parse_registration, Registration};

/// Where the instance's identity is looked up.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The IMDS endpoint, or `None` to skip IMDS (`--anywhere`, `AWS_EC2_METADATA_DISABLED`).
    pub imds_endpoint: Option<String>,
    /// The time each IMDS request may take.
    pub imds_timeout: Duration,
    pub ssm_registration: PathBuf,
    /// Whether the region is still unknown (not given by flag or environment).
    pub want_region: bool,
}

/// The instance and, when a source gave it, its region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `i-…` from IMDS, `mi-…` from the SSM registration.
    pub instance_id: String,
    pub region: Option<String>,
}

/// No source knew the instance; says what each one answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no instance id: {}SSM registration file {}: {ssm}", imds.as_ref().map(|e| format!("{e}; ")).unwrap_or_default(), path.display())]
pub struct IdentityError {
    pub imds: Option<String>,
    pub path: PathBuf,
    pub ssm: String,
}

/// Asks IMDS first (it answers on every EC2 instance); when it is skipped or gives nothing,
/// reads the SSM registration file, which only ECS Anywhere hosts have.
pub async fn identify(sources: &Sources) -> Result<Identity, IdentityError> {
    let mut imds_failure = None;
    if let Some(endpoint) = &sources.imds_endpoint {
        match Imds::new(endpoint, sources.imds_timeout)
            .identity(sources.want_region)
            .await
        {
            Ok(found) => {
                return Ok(Identity {
                    instance_id: found.instance_id,
                    region: found.region,
                })
            }
            Err(e) => imds_failure = Some(e.to_string()),
        }
    }
    match read_registration(&sources.ssm_registration) {
        Ok(registration) => Ok(Identity {
            instance_id: registration.managed_instance_id,
            region: registration.region,
        }),
        Err(ssm) => Err(IdentityError {
            imds: imds_failure,
            path: sources.ssm_registration.clone(),
            ssm,
        }),
    }
}

fn read_registration(path: &Path) -> Result<Registration, String> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "not found (not an ECS Anywhere host?)".to_string(),
        _ => e.to_string(),
    })?;
    parse_registration(&bytes).map_err(|e| e.to_string())
}

/// The region to report to: the flag or environment, else what the identity source said.
pub fn choose_region(given: Option<&str>, discovered: Option<&str>) -> Option<String> {
    [given, discovered]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|r| !r.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_given_region_wins() {
        assert_eq!(
            choose_region(Some("eu-west-1"), Some("us-east-1")).as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            choose_region(None, Some("us-east-1")).as_deref(),
            Some("us-east-1")
        );
        assert_eq!(choose_region(None, None), None);
        assert_eq!(choose_region(Some(" "), None), None);
        assert_eq!(choose_region(Some(""), Some("x")).as_deref(), Some("x"));
    }

    #[test]
    fn both_sources_are_named_when_neither_knows() {
        let err = IdentityError {
            imds: Some("IMDS at http://169.254.169.254: token: timed out connecting".into()),
            path: PathBuf::from("/var/lib/amazon/ssm/registration"),
            ssm: "not found (not an ECS Anywhere host?)".into(),
        };
        assert_eq!(
            err.to_string(),
            "no instance id: IMDS at http://169.254.169.254: token: timed out connecting; SSM registration file /var/lib/amazon/ssm/registration: not found (not an ECS Anywhere host?)"
        );
    }
}
