//! Compiles every `.proto` under `schema/` with protox (no system `protoc`)
//! and generates prost types. The encoded descriptor set (imports included)
//! is written next to the generated code so the crate can embed it for
//! prost-reflect, and tests can hand it to other protobuf readers.

use std::{env, fs, path::PathBuf};

/// The `.proto` files under `dir`, relative to it, sorted (the descriptor
/// set's order does not depend on the directory's).
fn protos(dir: &std::path::Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in fs::read_dir(&at)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "proto")
                && let Ok(relative) = path.strip_prefix(dir)
            {
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=schema");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let files = protos(std::path::Path::new("schema"))?;
    for file in &files {
        println!("cargo:rerun-if-changed=schema/{file}");
    }
    let descriptors = protox::compile(&files, ["schema"])?;
    fs::write(
        out_dir.join("realm_schema_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
