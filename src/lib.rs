//! `realm`: schema federation between service clusters.
//!
//! The library behind the `realm` command; the command itself (`src/main.rs`,
//! `src/commands/`) only parses arguments and renders results. See
//! `ARCHITECTURE.md` for the map and the invariants.

pub mod check;
pub mod check_callers;
pub mod clients;
pub mod duration;
pub mod export;
pub mod fake;
pub mod files;
pub mod ftl_modules;
pub mod generate;
mod git;
pub mod golang;
pub mod import;
pub mod ingress;
pub mod init;
pub mod keys;
pub mod net;
pub mod pins;
pub mod project;
pub mod queue;
pub mod report;
pub mod rules;
pub mod schema;
pub mod sources;
pub mod watch;
pub mod workspace;
