//! The instance's id and region from the EC2 instance metadata service, IMDSv2 only.
//!
//! IMDSv2 is a session: a `PUT` for a token, then `GET`s carrying it. Instances that require
//! IMDSv2 (the default for new launches) answer a token-less `GET` with 401, so the probe never
//! tries IMDSv1.

use std::time::Duration;

use sentinel_http::{request, ProbeOptions, RootCertStore};

/// The link-local address of IMDS on every EC2 instance (IPv4).
pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
/// The link-local address of IMDS on Nitro instances in IPv6-only subnets.
pub const DEFAULT_IPV6_ENDPOINT: &str = "http://[fd00:ec2::254]";
/// The SDKs' variable for another IMDS endpoint (a proxy, or a test server).
pub const ENDPOINT_ENV: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
/// The SDKs' variable choosing the default endpoint's address family (`IPv4`, `IPv6`).
pub const ENDPOINT_MODE_ENV: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE";
/// The SDKs' variable that switches IMDS off (`true`).
pub const DISABLED_ENV: &str = "AWS_EC2_METADATA_DISABLED";

/// The default endpoint for an endpoint mode, as the SDKs choose it: IPv6 when asked, else IPv4.
pub fn default_endpoint(mode: Option<&str>) -> String {
    match mode {
        Some(mode) if mode.trim().eq_ignore_ascii_case("ipv6") => DEFAULT_IPV6_ENDPOINT,
        _ => DEFAULT_ENDPOINT,
    }
    .to_string()
}

/// The token only has to outlive the two `GET`s that follow it; asking for little keeps a
/// leaked token useless quickly.
pub const TOKEN_TTL_SECONDS: &str = "60";
const TOKEN_TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";

/// What IMDS said about the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceIdentity {
    pub instance_id: String,
    /// Asked only when the region was not already known.
    pub region: Option<String>,
}

/// Why IMDS gave no identity (on ECS Anywhere this is the normal case).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("IMDS at {endpoint}: {detail}")]
pub struct ImdsError {
    pub endpoint: String,
    pub detail: String,
}

/// An IMDSv2 client over sentinel-http.
#[derive(Debug, Clone)]
pub struct Imds {
    endpoint: String,
    options: ProbeOptions,
}

impl Imds {
    /// `timeout` bounds each request; the token and the two reads make at most two rounds.
    pub fn new(endpoint: &str, timeout: Duration) -> Imds {
        Imds {
            endpoint: endpoint.trim().trim_end_matches('/').to_string(),
            // Plain http on a link-local address: no TLS roots needed.
            options: ProbeOptions::with_roots(timeout, RootCertStore::empty()),
        }
    }

    /// The instance id, and the region when `want_region`.
    pub async fn identity(&self, want_region: bool) -> Result<InstanceIdentity, ImdsError> {
        let token = self.token().await?;
        let id = self.get(&token, "instance-id");
        let (instance_id, region) = if want_region {
            let (id, region) = tokio::join!(id, self.get(&token, "placement/region"));
            (id?, Some(region?))
        } else {
            (id.await?, None)
        };
        Ok(InstanceIdentity {
            instance_id,
            region,
        })
    }

    async fn token(&self) -> Result<String, ImdsError> {
        let url = format!("{}/latest/api/token", self.endpoint);
        let response = request(
            "PUT",
            &url,
            &[(TOKEN_TTL_HEADER, TOKEN_TTL_SECONDS)],
            b"",
            &self.options,
        )
        .await
        .map_err(|e| self.error(format!("token: {e}")))?;
        if response.status != 200 {
            return Err(self.error(format!("token: HTTP {}", response.status)));
        }
        let token = response.text().trim().to_string();
        if token.is_empty() {
            return Err(self.error("token: empty answer".to_string()));
        }
        Ok(token)
    }

    async fn get(&self, token: &str, path: &str) -> Result<String, ImdsError> {
        let url = format!("{}/latest/meta-data/{path}", self.endpoint);
        let response = request("GET", &url, &[(TOKEN_HEADER, token)], b"", &self.options)
            .await
            .map_err(|e| self.error(format!("{path}: {e}")))?;
        if response.status != 200 {
            return Err(self.error(format!("{path}: HTTP {}", response.status)));
        }
        let value = response.text().trim().to_string();
        if value.is_empty() {
            return Err(self.error(format!("{path}: empty answer")));
        }
        Ok(value)
    }

    fn error(&self, detail: String) -> ImdsError {
        ImdsError {
            endpoint: self.endpoint.clone(),
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_mode_picks_the_address_family() {
        assert_eq!(default_endpoint(None), DEFAULT_ENDPOINT);
        assert_eq!(default_endpoint(Some("IPv4")), DEFAULT_ENDPOINT);
        assert_eq!(default_endpoint(Some("IPv6")), "http://[fd00:ec2::254]");
        assert_eq!(default_endpoint(Some("ipv6")), "http://[fd00:ec2::254]");
    }

    #[test]
    fn endpoint_keeps_no_trailing_slash() {
        let imds = Imds::new(" http://169.254.169.254/ ", Duration::from_secs(1));
        assert_eq!(imds.endpoint, "http://169.254.169.254");
    }
}
