//! CLI: clap types and one module per command group; `anyhow` lives here and in main.rs only.

/// `println!` that returns a failed write as an error instead of panicking; a reader that went
/// away (`hrfeed runs list | head -1`) is not an error, the rest of the output is dropped.
macro_rules! out {
    () => {
        $crate::cli::emit(format_args!("\n"))?
    };
    ($($t:tt)*) => {
        $crate::cli::emit(format_args!("{}\n", format_args!($($t)*)))?
    };
}

/// `out!` for JSON: written as it is (serde escapes control characters in strings, and the
/// terminal escaping of `out!` would make the JSON invalid).
macro_rules! out_json {
    ($($t:tt)*) => {
        $crate::cli::emit_raw(format_args!("{}\n", format_args!($($t)*)))?
    };
}

/// `eprintln!` that never panics: a closed or broken stderr (`hrfeed … 2>&1 | head`) drops the
/// message instead of aborting the process.
macro_rules! warn_out {
    ($($t:tt)*) => {
        $crate::cli::emit_err(format_args!("{}\n", format_args!($($t)*)))
    };
}

mod demo;
mod employees;
mod ingest;
mod mapping;
mod runs;
mod store;

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand};

pub use store::UsageError;

/// Writes text to stdout for `out!`: names and values from files are shown, never obeyed by
/// the terminal (`terminal::safe_lines`).
pub fn emit(text: std::fmt::Arguments) -> std::io::Result<()> {
    emit_raw(format_args!("{}", hrfeed::terminal::safe_lines(&text.to_string())))
}

/// Writes to stdout as it is, for `out_json!`.
pub fn emit_raw(text: std::fmt::Arguments) -> std::io::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_fmt(text) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// Writes to stderr for `warn_out!`; a failed write is dropped, since there is nowhere left
/// to report it.
pub fn emit_err(text: std::fmt::Arguments) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_fmt(format_args!("{}", hrfeed::terminal::safe_lines(&text.to_string())));
}

/// hrfeed: validate, minimise, diff and apply employee HR exports under GDPR.
#[derive(Debug, Parser)]
#[command(name = "hrfeed", version, about, long_about = None)]
pub struct Args {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, ClapArgs)]
pub struct Global {
    /// The config file (default: ./hrfeed.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The database: `sqlite:PATH` or `postgres://…` (overrides the config).
    #[arg(long, global = true, env = "HRFEED_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Pin "now" (RFC 3339 or YYYY-MM-DD), for tests and replays.
    #[arg(long, global = true, env = "HRFEED_NOW", value_name = "TIME", hide = true)]
    pub now: Option<String>,
    /// More log output on stderr (-v info, -vv debug); ids and counts only.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a working setup in a folder: hrfeed.toml, data/, inbox/, master key, mappings/acme.toml.
    Init {
        /// The folder (default: the current one).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Check mapping files.
    #[command(subcommand)]
    Mapping(mapping::MappingCommand),
    /// Run one file through the whole pipeline and print the diff.
    Ingest(ingest::IngestArgs),
    /// Inspect runs.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// Inspect the register.
    #[command(subcommand)]
    Employees(employees::EmployeesCommand),
    /// A fresh workspace, the day-1 then day-2 reference fixtures ingested, both reports printed.
    Demo(demo::DemoArgs),
}

/// Runs the command; the `u8` is the exit code.
pub async fn run(args: Args) -> anyhow::Result<u8> {
    match args.command {
        Command::Init { dir } => {
            let created = hrfeed::workspace::init(&dir)?;
            out!("Created an hrfeed workspace in {}:", dir.display());
            for p in created.paths {
                out!("  {}", p.display());
            }
            out!("Next: hrfeed mapping check mappings/acme.toml, then hrfeed ingest FILE --tenant acme");
            Ok(0)
        }
        Command::Mapping(c) => mapping::run(c, &args.global),
        Command::Ingest(a) => ingest::run(a, &args.global).await,
        Command::Runs(c) => runs::run(c, &args.global).await,
        Command::Employees(c) => employees::run(c, &args.global).await,
        Command::Demo(a) => demo::run(a, &args.global).await,
    }
}
