//! Log setup. JSON lines in Lambda (CloudWatch Logs Insights can query the fields, and the
//! runtime's span adds the request id); `RUST_LOG` sets the level, `info` by default.

use tracing_subscriber::EnvFilter;

pub fn init_json() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Our own timestamp is kept so exported logs still carry it.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_timer(tracing_subscriber::fmt::time::SystemTime)
        .try_init();
}
