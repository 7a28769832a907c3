//! Integration tests: drive the real `hrfeed` binary in fresh workspaces, on SQLite and on
//! PostgreSQL, like a user would.

#![allow(clippy::unwrap_used, clippy::expect_used)]
mod bad_input;
mod cli;
mod fixtures;
mod fuzz_corpus;
mod hostile_input;
mod late_encoding;
mod paged_register;
mod privacy;
mod reference;
mod repeated_keys;
mod row_order;
mod silent_damage;
mod store_story;
mod support;
mod tenants;
mod unchanged_cells;
