//! Log set-up for a function (and, apart, for terminal programs: [`init_terminal`]). Lambda's advanced logging controls set `AWS_LAMBDA_LOG_FORMAT`
//! (`JSON` or `Text`) and `AWS_LAMBDA_LOG_LEVEL`; both are honoured so the console's settings
//! mean what they say. JSON lines are the default (Logs Insights queries their fields, and
//! the runtime's span adds the request id). `RUST_LOG`, when set, wins over the level.
//!
//! `RUST_LOG` takes levels and `target=level` pairs (`warn,agent_monitor=debug`), tracing's
//! `Targets` filter. Not `EnvFilter`: its span and field filters need a regex engine, which
//! made up about 0.4 MB of every function's binary, and a binary's size is most of its
//! memory (docs/testing.md, "Memory").

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The log format Lambda asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

/// Reads the format and the filter directive from the given lookup (the environment in
/// Lambda): (format, directive).
pub fn settings(lookup: impl Fn(&str) -> Option<String>) -> (Format, String) {
    let format = match lookup("AWS_LAMBDA_LOG_FORMAT") {
        Some(f) if f.eq_ignore_ascii_case("text") => Format::Text,
        _ => Format::Json,
    };
    let directive = lookup("RUST_LOG")
        .filter(|v| !v.trim().is_empty())
        .or_else(|| lookup("AWS_LAMBDA_LOG_LEVEL").map(|level| lambda_level(&level).to_owned()))
        .unwrap_or_else(|| "info".to_owned());
    (format, directive)
}

/// Lambda's level names to tracing's: FATAL has no own level in tracing and maps to error.
fn lambda_level(level: &str) -> &'static str {
    match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        _ => "info",
    }
}

/// Sets up tracing for a function from the process environment. Call once, first thing.
pub fn init() {
    let (format, directive) = settings(|name| std::env::var(name).ok());
    let filter = filter(&directive, "info");
    let _ = match format {
        // Our own timestamp is kept so exported logs still carry it.
        Format::Json => tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_target(false)
            .with_timer(tracing_subscriber::fmt::time::SystemTime)
            .finish()
            .with(filter)
            .try_init(),
        // Lambda adds the time and request id to each text line itself.
        Format::Text => tracing_subscriber::fmt()
            .with_target(false)
            .without_time()
            .with_ansi(false)
            .finish()
            .with(filter)
            .try_init(),
    };
}

/// The filter a directive names, or `fallback` (a level) where it names none a person meant:
/// a typo in `RUST_LOG` must not silence a function's logs.
pub fn filter(directive: &str, fallback: &str) -> Targets {
    // Blank parts are dropped first: an empty or comma-only directive would otherwise parse,
    // as a filter that enables nothing.
    let named = |text: &str| {
        let parts: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() {
            return None;
        }
        parts.join(",").parse::<Targets>().ok()
    };
    named(directive)
        .or_else(|| named(fallback))
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

/// Sets up tracing for a terminal program (the CLI, the demo): human text on stderr, so
/// stdout stays for results; only errors unless `verbose` (info); `RUST_LOG` wins.
pub fn init_terminal(verbose: bool) {
    let default_level = if verbose { "info" } else { "error" };
    // Unset or blank, `filter` falls back to the default level.
    let directive = std::env::var("RUST_LOG").unwrap_or_default();
    let _ = tracing_subscriber::fmt()
        .with_target(false)
        .with_writer(std::io::stderr)
        .finish()
        .with(filter(&directive, default_level))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> (Format, String) {
        let env: HashMap<&str, &str> = pairs.iter().copied().collect();
        settings(|name| env.get(name).map(|v| (*v).to_owned()))
    }

    #[test]
    fn lambda_log_settings_are_honoured_and_rust_log_wins() {
        assert_eq!(read(&[]), (Format::Json, "info".to_owned()));
        assert_eq!(
            read(&[
                ("AWS_LAMBDA_LOG_FORMAT", "Text"),
                ("AWS_LAMBDA_LOG_LEVEL", "DEBUG")
            ]),
            (Format::Text, "debug".to_owned())
        );
        assert_eq!(
            read(&[
                ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
                ("AWS_LAMBDA_LOG_LEVEL", "FATAL")
            ]),
            (Format::Json, "error".to_owned())
        );
        assert_eq!(
            read(&[
                ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
                ("RUST_LOG", "agent_monitor=trace")
            ]),
            (Format::Json, "agent_monitor=trace".to_owned())
        );
        assert_eq!(read(&[("AWS_LAMBDA_LOG_LEVEL", "loud")]).1, "info");
    }

    #[test]
    fn directives_name_levels_per_target_and_a_typo_falls_back() {
        use tracing::Level;
        let f = filter("warn,agent_monitor=debug", "info");
        assert!(f.would_enable("agent_monitor::observe", &Level::DEBUG));
        assert!(!f.would_enable("agent_monitor::observe", &Level::TRACE));
        assert!(f.would_enable("aws_smithy_runtime", &Level::WARN));
        assert!(!f.would_enable("aws_smithy_runtime", &Level::INFO));
        // Not a directive: the fallback level, not silence.
        let f = filter("agent_monitor=loud", "info");
        assert!(f.would_enable("agent_monitor", &Level::INFO));
        assert!(!f.would_enable("agent_monitor", &Level::DEBUG));
        let f = filter(" , ", "error");
        assert!(f.would_enable("anything", &Level::ERROR));
        assert!(!f.would_enable("anything", &Level::WARN));
    }
}
