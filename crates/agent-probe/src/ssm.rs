//! The SSM agent's registration file: who an ECS Anywhere host is (pure).
//!
//! An ECS Anywhere host has no instance metadata service; its identity is the managed instance
//! id (`mi-…`) the SSM agent got when it was activated, kept in
//! `/var/lib/amazon/ssm/registration` as `{"ManagedInstanceID": "mi-…", "Region": "…"}`.

use serde::Deserialize;

/// Where the SSM agent keeps its registration on Linux.
pub const DEFAULT_REGISTRATION_PATH: &str = "/var/lib/amazon/ssm/registration";

/// The identity in a registration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub managed_instance_id: String,
    pub region: Option<String>,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "ManagedInstanceID", default)]
    managed_instance_id: Option<String>,
    #[serde(rename = "Region", default)]
    region: Option<String>,
}

/// Why a registration file gives no identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    #[error("not the SSM agent's registration JSON: {0}")]
    NotJson(String),
    #[error("no ManagedInstanceID in it")]
    NoInstanceId,
}

/// Reads a registration file's text.
pub fn parse_registration(text: &[u8]) -> Result<Registration, RegistrationError> {
    let wire: Wire =
        serde_json::from_slice(text).map_err(|e| RegistrationError::NotJson(e.to_string()))?;
    let managed_instance_id = wire
        .managed_instance_id
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
        .ok_or(RegistrationError::NoInstanceId)?;
    let region = wire
        .region
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    Ok(Registration {
        managed_instance_id,
        region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_id_and_region() {
        let text =
            br#"{"ManagedInstanceID":"mi-0123456789abcdef0","Region":"eu-west-1","Extra":1}"#;
        assert_eq!(
            parse_registration(text).unwrap(),
            Registration {
                managed_instance_id: "mi-0123456789abcdef0".into(),
                region: Some("eu-west-1".into()),
            }
        );
    }

    #[test]
    fn region_is_optional() {
        let reg = parse_registration(br#"{"ManagedInstanceID":"mi-1","Region":""}"#).unwrap();
        assert_eq!(reg.region, None);
    }

    #[test]
    fn unusable_files() {
        assert_eq!(
            parse_registration(br#"{"Region":"eu-west-1"}"#),
            Err(RegistrationError::NoInstanceId)
        );
        assert_eq!(
            parse_registration(br#"{"ManagedInstanceID":" "}"#),
            Err(RegistrationError::NoInstanceId)
        );
        assert!(matches!(
            parse_registration(b"garbage"),
            Err(RegistrationError::NotJson(_))
        ));
    }
}
