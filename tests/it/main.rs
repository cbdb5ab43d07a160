//! The integration tests, one crate: one binary links the library once
//! (23 test crates each linked it, with vendored libgit2 and OpenSSL:
//! most of CI's time). Each former `tests/<name>.rs` is a module here;
//! run one with `cargo test --test it <name>::`.

mod callers;
mod check;
mod cli;
mod clients;
mod common;
mod demo;
mod diff;
mod fake;
mod fast_path;
mod ftl_corpus;
mod ftl_layout;
mod ftl_rules;
mod ftl_wire;
mod go_errors;
mod go_parity;
mod go_projects;
mod hardening;
mod help;
mod hostile;
mod hostile_cli;
mod hostile_ingress;
mod hostile_schema;
mod hostile_values;
mod httpsig;
mod import;
mod ingress;
mod ingress_handle;
mod init;
mod keys;
mod malformed_http;
mod mutations;
mod pins;
mod proto3_json;
mod queue;
mod roundtrip;
mod schema_core;
mod schema_errors;
mod two_way;
mod usage;
mod verb_service;
