//! Fuzz target `csv_reader`; its body is `targets::csv_reader`, shared with the corpus replay test.
#![no_main]

#[allow(dead_code)]
#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::csv_reader(data));
