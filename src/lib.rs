//! hrfeed: employee-data file integration that validates, minimises, diffs and applies HR exports.
//!
//! `ingest` calls the steps in order: `receive` → `read` → `validate` → `diff` → `guard` → `apply`
//! (through `store`) → `report`. See ARCHITECTURE.md for the map and the invariants.
#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod clock;
pub mod config;
pub mod diff;
pub mod guard;
pub mod ids;
pub mod ingest;
mod key_order;
pub mod mapping;
pub mod occurrence;
pub mod read;
pub mod receive;
pub mod register;
pub mod report;
pub mod seal;
pub mod small_file;
pub mod store;
pub mod task;
pub mod telemetry;
pub mod terminal;
pub mod validate;
pub mod value;
pub mod workspace;
