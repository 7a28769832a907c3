//! Fuzz target `field_validators`; its body is `targets::field_validators`, shared with the corpus replay test.
#![no_main]

#[allow(dead_code)]
#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::field_validators(data));
