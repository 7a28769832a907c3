//! The `hrfeed` binary: parse arguments, start tracing, run the command, map its outcome to
//! the documented exit code (0 applied or duplicate, 3 applied with rejected rows, 4 held,
//! 1 failed, 2 usage).

mod cli;

use std::process::ExitCode;

use clap::Parser;

// Ingest allocates a little per cell on several threads and frees on others; glibc's allocator
// spent a quarter of a first load's CPU on that. jemalloc costs a fraction of it and, unlike
// mimalloc (also tried), keeps peak memory where glibc had it.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    // A panic's message can quote the data it choked on (a reader library's index or cell); say
    // where it happened, never what. Panics inside readers are caught and reported as file errors.
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        // Not `eprintln!`: a panic while printing to a closed stderr would abort the process.
        cli::emit_err(format_args!("hrfeed: internal panic at {at} (message withheld: it may quote input data)\n"));
    }));
    let args = cli::Args::parse();
    hrfeed::telemetry::init(args.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            cli::emit_err(format_args!("error: cannot start the async runtime: {e}\n"));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            cli::emit_err(format_args!("error: {e:#}\n"));
            ExitCode::from(if e.downcast_ref::<cli::UsageError>().is_some() { 2 } else { 1 })
        }
    }
}
