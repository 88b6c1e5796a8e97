//! The one place that configures the AWS SDK: every function, the CLI and the emulator
//! harness start from [`loader`], so timeouts and retries are the same everywhere, and
//! `AWS_ENDPOINT_URL` (the SDK's own variable) points every client at another endpoint.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{tls, ConnectorBuilder};

/// The shared SDK configuration every client is built from.
pub use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Time limits for AWS calls. Without them a hung connection would hold the whole batch
/// until the function times out; with them it fails (after the SDK's retries) and costs only
/// what depended on it. Three attempts of 10 s fit well inside a 60 s function timeout.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(35))
        .build()
}

/// The shared settings, to be completed (region, endpoint, credentials) where needed.
pub fn loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .http_client(http_client())
}

/// One HTTP client for every SDK client built from the configuration. Where the configuration
/// names none, each service client makes its own, and each of those loads and parses the
/// system's trusted certificates again and keeps its own copy and connection pool: 0.5 MB of
/// the agent monitor's 1.3 MB heap peak went to that (docs/testing.md, "Memory"). This is the
/// SDK's default client (rustls with aws-lc, `HTTPS_PROXY` / `NO_PROXY` honoured), made once.
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The configuration from the environment (the CLI user's profile, SSO, role or instance
/// credentials, whatever the default chains find), with the shared settings.
pub async fn from_env() -> SdkConfig {
    loader().load().await
}

/// A Lambda function's configuration: Lambda hands every function its execution role's
/// credentials and its region in the environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`), so they are read from there
/// alone. The default chains would build a client for every other source at each cold start
/// (an STS client for web identity, the container and instance metadata endpoints, profile
/// files) only to use the environment first: time and memory for nothing.
pub async fn for_function() -> SdkConfig {
    let loader = loader().credentials_provider(EnvironmentVariableCredentialsProvider::new());
    match std::env::var("AWS_REGION") {
        Ok(region) if !region.trim().is_empty() => loader.region(Region::new(region)),
        _ => loader,
    }
    .load()
    .await
}

/// An SDK client made on first use. A function builds every client it might need at init,
/// but most batches need few of them: the agent monitor asks SSM only about ECS Anywhere
/// nodes, SQS only to park a malformed record, Auto Scaling only to remediate. Making a
/// client runs its crate's configuration and endpoint code and parses its partition table,
/// so a client no batch asks for costs memory (docs/testing.md, "Memory") and init time for
/// nothing. Cloning shares the one client.
#[derive(Clone)]
pub struct OnFirstUse<C> {
    client: Arc<OnceLock<C>>,
    make: Arc<dyn Fn() -> C + Send + Sync>,
}

impl<C: Clone + Send + Sync + 'static> OnFirstUse<C> {
    /// A client `make` builds the first time one is asked for (`aws_sdk_ssm::Client::new`
    /// with a clone of the configuration, say).
    pub fn new(make: impl Fn() -> C + Send + Sync + 'static) -> Self {
        OnFirstUse {
            client: Arc::new(OnceLock::new()),
            make: Arc::new(make),
        }
    }

    /// A client of `sdk`'s configuration made on first use by `make` (a client's `new`).
    pub fn of(sdk: &SdkConfig, make: fn(&SdkConfig) -> C) -> Self {
        let sdk = sdk.clone();
        Self::new(move || make(&sdk))
    }

    /// The client, made now if this is the first call.
    pub fn get(&self) -> &C {
        self.client.get_or_init(|| (self.make)())
    }
}

/// A client made already (the CLI's, a test's) is used as it is.
impl<C: Clone + Send + Sync + 'static> From<C> for OnFirstUse<C> {
    fn from(client: C) -> Self {
        let made = client.clone();
        OnFirstUse {
            client: Arc::new(OnceLock::from(client)),
            make: Arc::new(move || made.clone()),
        }
    }
}

impl<C> std::fmt::Debug for OnFirstUse<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnFirstUse")
            .field("made", &self.client.get().is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::OnFirstUse;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn a_client_is_made_once_on_first_use_and_clones_share_it() {
        let made = Arc::new(AtomicUsize::new(0));
        let counter = made.clone();
        let lazy = OnFirstUse::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            "client".to_owned()
        });
        let clone = lazy.clone();
        assert_eq!(made.load(Ordering::SeqCst), 0, "nothing made before use");
        assert_eq!(clone.get(), "client");
        assert_eq!(lazy.get(), "client");
        assert_eq!(
            made.load(Ordering::SeqCst),
            1,
            "made once, shared by the clone"
        );
    }

    #[test]
    fn a_client_made_already_is_used_as_it_is() {
        let ready: OnFirstUse<String> = "made".to_owned().into();
        assert_eq!(ready.get(), "made");
        assert!(format!("{ready:?}").contains("made: true"));
    }
}
