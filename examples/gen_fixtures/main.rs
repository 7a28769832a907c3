//! `gen_fixtures`: writes the committed test fixtures or benchmark data (see `generate.rs` for what and why).
//!
//! Usage: `gen_fixtures fixtures OUT_DIR`, `gen_fixtures bench ROWS OUT_DIR` or
//! `gen_fixtures variant IN OUT id|name|shuffled same|rerendered` (see `variant.rs`).

mod generate;
mod variant;

use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: gen_fixtures fixtures OUT_DIR | gen_fixtures bench ROWS OUT_DIR | \
                     gen_fixtures variant IN OUT id|name|shuffled same|rerendered";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["fixtures", out] => generate::write_fixtures(Path::new(out)),
        ["bench", rows, out] => match rows.replace('_', "").parse::<usize>() {
            Ok(rows) => generate::write_bench(rows, Path::new(out)),
            Err(_) => {
                eprintln!("ROWS must be a number\n{USAGE}");
                return ExitCode::from(2);
            }
        },
        ["variant", input, output, order, rendering] => match (variant::Order::parse(order), *rendering) {
            (Some(order), "same" | "rerendered") => {
                variant::write(Path::new(input), Path::new(output), order, *rendering == "rerendered")
            }
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gen_fixtures: {error}");
            ExitCode::FAILURE
        }
    }
}
