//! Converts the model to and from its protobuf form (`schema/`, package
//! `realm.schema.v1`).
//!
//! Lossless in both directions for everything schema text holds, positions
//! included. Protobuf from outside (a pinned public API) is checked while
//! converting: every oneof that the model requires is set, names are
//! identifiers, enum values are known. Errors name the node by its path.
//!
//! `write` converts the model to protobuf, `read` protobuf to the model.

mod read;
mod write;

use super::diagnostic::Diagnostic;
use super::model::Schema;
use read::FromProto;
use write::realm_to;

/// The generated protobuf types of `realm.schema.v1`.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/realm.schema.v1.rs"));
}

/// Converts a schema to protobuf.
pub fn to_proto(schema: &Schema) -> pb::Schema {
    pb::Schema {
        realms: schema.realms.iter().map(realm_to).collect(),
    }
}

/// Converts protobuf to a schema, checking that it can be one.
pub fn from_proto(schema: pb::Schema) -> Result<Schema, Diagnostic> {
    let mut c = FromProto::default();
    let realms = schema
        .realms
        .into_iter()
        .map(|r| c.realm(r))
        .collect::<Result<_, _>>()?;
    Ok(Schema { realms })
}
