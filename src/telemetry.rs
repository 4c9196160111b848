//! Logging setup: human-readable or JSON lines on stderr, filtered by a `tracing` directive.

use tracing_subscriber::EnvFilter;

/// Output format of the log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Human,
    Json,
}

/// Installs the global subscriber. `RUST_LOG`, when set, overrides `level`. Calling it twice is
/// harmless (the second call is ignored), which keeps tests that start several subsystems simple.
pub fn init(format: Format, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        Format::Human => builder.try_init(),
        Format::Json => builder.json().try_init(),
    };
}
