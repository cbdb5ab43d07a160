//! Compiles every `schema/**/*.proto` with protox (no system `protoc`) and
//! generates prost types. The encoded descriptor set is written next to the
//! generated code so the crate can embed it for prost-reflect.

use std::{env, fs, path::Path, path::PathBuf};

fn protos(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            protos(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            found.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=schema");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let mut files = Vec::new();
    protos(Path::new("schema"), &mut files)?;
    files.sort();
    let descriptors = protox::compile(&files, ["schema"])?;
    fs::write(
        out_dir.join("realm_schema_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
