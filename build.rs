//! Compiles `schema/**/*.proto` with protox (no system `protoc`) and
//! generates prost types. The encoded descriptor set is written next to the
//! generated code so the crate can embed it for prost-reflect.

use std::{env, fs, path::PathBuf};

const PROTOS: &[&str] = &["schema/realm/schema/v1/schema.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=schema");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let descriptors = protox::compile(PROTOS, ["schema"])?;
    fs::write(
        out_dir.join("realm_schema_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
