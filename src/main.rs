//! The `hrfeed` binary: parse arguments, start tracing, run the command, map its outcome to
//! the documented exit code (0 applied or duplicate, 3 applied with rejected rows, 4 held,
//! 1 failed, 2 usage).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    hrfeed::telemetry::init(args.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(if e.downcast_ref::<cli::UsageError>().is_some() { 2 } else { 1 })
        }
    }
}
