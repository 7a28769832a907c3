//! Fuzz target `workbook_reader`; its body is `targets::workbook_reader`, shared with the corpus replay test.
#![no_main]

#[allow(dead_code)]
#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(init: targets::let_calamine_panics_unwind(), |data: &[u8]| targets::workbook_reader(data));
