//! Converts the model to and from FTL's schema protobuf
//! (`xyz.block.ftl.schema.v1`, `schema/xyz/block/ftl/schema/v1/`): the
//! one wire form of every schema file realm writes.
//!
//! What FTL's messages have no field for travels in FTL's own metadata
//! kinds, never in fields FTL's strict reader would refuse:
//! - `+grpc`, `+oneof` and `+protobuf` (realm's additions for imported
//!   realms) are `MetadataTypeMap`s under runtimes schema text cannot name
//!   (`realm-grpc`, `realm-oneof`, `realm-protobuf-message`,
//!   `realm-protobuf-field`: not identifiers);
//! - a reference into another realm (`module.Name@bank`) is a `Ref` whose
//!   name is `Name@bank`, which FTL prints as the text it stands for.
//!
//! Lost on the way (FTL's `Realm` has no field for them): a realm's doc
//! comments. Everything else round-trips, positions included.
//!
//! Protobuf from outside (a pinned realm) is checked while converting, as in
//! [`super::proto`]: required oneofs set, names identifiers, enum values
//! known, types nested at most [`MAX_TYPE_DEPTH`] deep. Runtime fields (a
//! running cluster's state) are ignored.

mod binary;
mod decode;
mod encode;

pub use binary::encode_ftl;
pub(crate) use binary::{
    Encoder, REALM_MODULES, SCHEMA_REALMS, module as encode_module, realm_head,
};
pub use decode::from_ftl;
pub use encode::to_ftl;

/// The generated protobuf types of `xyz.block.ftl.schema.v1`.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/xyz.block.ftl.schema.v1.rs"));
}

/// The fully qualified name of FTL's schema message.
pub const SCHEMA_MESSAGE: &str = "xyz.block.ftl.schema.v1.Schema";

// The `MetadataTypeMap` runtimes that carry realm's additions.
const GRPC: &str = "realm-grpc";
const ONEOF: &str = "realm-oneof";
const PROTOBUF_MESSAGE: &str = "realm-protobuf-message";
const PROTOBUF_FIELD: &str = "realm-protobuf-field";
