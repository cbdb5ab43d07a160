//! The schema core: FTL schema text with realms.
//!
//! - [`model`]: the schema as Rust values.
//! - [`parser`] / [`printer`]: schema text to model and back (canonical text
//!   round-trips byte for byte).
//! - [`qualify`]: bare references made module-qualified, as FTL resolves
//!   them.
//! - [`mod@validate`]: every rule a schema must satisfy, all errors (and
//!   warnings) at once.
//! - [`public_api`]: what a realm exports to other realms.
//! - [`diff`]: what changed between two public APIs, breaking or compatible.
//! - [`usage`]: what a realm uses of the realms it pins (the usage file);
//!   [`callers`]: which breaking changes break a caller that uses them.
//! - [`json`]: whether a JSON value fits a type (call bodies at the ingress);
//!   [`json_read`]: reading a body strictly (no repeated members).
//! - [`ftl`] / [`txtpb`]: FTL's schema protobuf (the wire form of every
//!   schema file), proto-text, protojson and binary; [`proto`]: realm's
//!   older `realm.schema.v1`, still read.
//! - [`protobuf`]: the `+protobuf` metadata of realms imported from
//!   protobuf (proto3 JSON rules for the checker).
//! - [`values`]: single values as Go reads them (RFC 3339 times, integer
//!   text, base64, map keys), each to a canonical value.
//! - [`diagnostic`]: errors with positions and their rendering.
//!
//! Invariant: nothing in this module does I/O. It is fed strings and values
//! and returns values; files, git and the network live elsewhere.

pub mod builtin;
pub mod callers;
pub mod diagnostic;
pub mod diff;
pub mod ftl;
pub mod json;
pub mod json_read;
pub mod model;
pub mod parser;
pub mod pb;
pub mod printer;
pub mod proto;
pub mod proto3_json;
pub mod protobuf;
pub mod public_api;
pub mod qualify;
pub mod txtpb;
pub mod usage;
pub mod validate;
pub mod values;

pub use diagnostic::{Diagnostic, Diagnostics, Report, Severity, Sources};
pub use model::*;
pub use parser::{SchemaFile, parse_file, parse_ref, parse_schema, parse_type};
pub use printer::{print_modules, print_schema};
pub use public_api::public_api;
pub use validate::validate;
