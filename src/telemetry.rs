//! Telemetry: tracing to stderr, ids and counts only (see STYLE.md, "Logging").

use tracing_subscriber::EnvFilter;

/// Starts the subscriber; `HRFEED_LOG` (e.g. `debug`) overrides the level, default `warn`
/// so that a CLI run prints its report and little else.
pub fn init(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env("HRFEED_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Colour only for a person at a terminal: logs piped to a file or a collector stay plain.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        // Its own errors it would print with `eprintln!`, which panics on a closed stderr.
        .log_internal_errors(false)
        .try_init();
}
