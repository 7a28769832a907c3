//! Replays every file of `fuzz/corpus/<target>/` through that fuzz target's body, so what the fuzzers found stays
//! checked by the ordinary test run, without cargo-fuzz or a nightly toolchain.

#[path = "../../fuzz/targets.rs"]
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use crate::support::root;

fn replay(target: &str) {
    let (_, body) = targets::TARGETS.iter().find(|(name, _)| *name == target).unwrap();
    let dir = root().join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    // Collect every failing file, not just the first; the panic message of each is printed above the summary.
    let failed: Vec<String> = files
        .iter()
        .filter(|file| {
            let data = std::fs::read(file).unwrap();
            catch_unwind(AssertUnwindSafe(|| body(&data))).is_err()
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{target}: {} of {} corpus files panic:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
}

#[test]
fn csv_reader_corpus() {
    replay("csv_reader");
}

#[test]
fn workbook_reader_corpus() {
    replay("workbook_reader");
}

#[test]
fn field_validators_corpus() {
    replay("field_validators");
}

#[test]
fn every_target_has_a_corpus() {
    let mut dirs: Vec<String> = std::fs::read_dir(root().join("fuzz/corpus"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    dirs.sort();
    let mut names: Vec<&str> = targets::TARGETS.iter().map(|(name, _)| *name).collect();
    names.sort();
    assert_eq!(dirs, names);
}
