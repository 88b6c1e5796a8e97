//! What every probe needs: one overall timeout and the roots that TLS trusts.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

/// The body cap used by [`ProbeOptions::with_roots`]: the agent introspection and IMDS answers
/// are a few KiB, and a health probe must not be made to buffer an arbitrary download.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// Settings shared by [`crate::request`], [`crate::probe`] and [`crate::inspect_certificate`].
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// The budget for the whole probe: DNS lookup, connect, TLS handshake and the response head
    /// (and, for [`crate::request`], reading the body). One deadline rather than one timeout
    /// per step, so a probe can never take longer than this in total.
    pub timeout: Duration,
    /// The certificate authorities that `https://` requests and certificate checks trust.
    pub roots: Arc<RootCertStore>,
    /// Response bodies longer than this are cut off (and [`crate::Response::body_truncated`] set).
    pub max_body: usize,
}

impl ProbeOptions {
    /// Options trusting the operating system's certificate store (what curl trusted before).
    ///
    /// Fails only when no usable certificate at all could be loaded; individual unreadable
    /// files or unparsable certificates are skipped, as every TLS client does.
    pub fn with_native_roots(timeout: Duration) -> Result<Self, RootsError> {
        let loaded = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
        if added == 0 {
            let why = if loaded.errors.is_empty() {
                "the system certificate store is empty".to_string()
            } else {
                loaded
                    .errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            return Err(RootsError::Native(why));
        }
        Ok(Self::with_roots(timeout, roots))
    }

    /// Options trusting exactly the given roots (a `--ca-file`, or a test CA).
    pub fn with_roots(timeout: Duration, roots: impl Into<Arc<RootCertStore>>) -> Self {
        ProbeOptions {
            timeout,
            roots: roots.into(),
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

/// Why a set of trusted roots could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootsError {
    /// No certificate could be loaded from the operating system's store.
    #[error("no usable system root certificates: {0}")]
    Native(String),
    /// The PEM text could not be read.
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// The PEM text held no `CERTIFICATE` block.
    #[error("no certificate found in the PEM data")]
    NoCertificates,
    /// A certificate was found but is not usable as a trust anchor.
    #[error("certificate {index} is not a usable root: {reason}")]
    InvalidCertificate { index: usize, reason: String },
}

/// Builds a root store from PEM text holding one or more `CERTIFICATE` blocks.
///
/// Unlike [`ProbeOptions::with_native_roots`] this is strict: a CA file the operator named
/// explicitly should fail loudly rather than silently trust fewer roots than intended.
/// Blocks of other types (a private key next to the certificate) are ignored.
pub fn roots_from_pem(pem: &[u8]) -> Result<RootCertStore, RootsError> {
    let mut roots = RootCertStore::empty();
    let mut count = 0usize;
    for (index, item) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let der = item.map_err(|e| RootsError::Pem(e.to_string()))?;
        roots.add(der).map_err(|e| RootsError::InvalidCertificate {
            index,
            reason: e.to_string(),
        })?;
        count += 1;
    }
    if count == 0 {
        return Err(RootsError::NoCertificates);
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_garbage_pem_are_rejected() {
        assert_eq!(roots_from_pem(b"").unwrap_err(), RootsError::NoCertificates);
        assert_eq!(
            roots_from_pem(b"not a certificate at all").unwrap_err(),
            RootsError::NoCertificates
        );
        let bad_block = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            roots_from_pem(bad_block).unwrap_err(),
            RootsError::InvalidCertificate { index: 0, .. }
        ));
    }

    #[test]
    fn with_roots_uses_the_default_body_cap() {
        let opts = ProbeOptions::with_roots(Duration::from_secs(2), RootCertStore::empty());
        assert_eq!(opts.max_body, DEFAULT_MAX_BODY);
        assert_eq!(opts.timeout, Duration::from_secs(2));
    }
}
