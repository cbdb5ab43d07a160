//! `realm import`: make a realm from a gRPC server, .proto files or a
//! descriptor set.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::Subcommand;
use realm::import::{self, GrpcRequest, Imported};
use realm::schema::{Schema, print_schema, txtpb};

use super::Format;

/// Make a realm from a gRPC server (reflection), .proto files or a descriptor set
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Each service becomes a module of `export realm` verbs (one per unary \
    method, with +grpc \"pkg.Service/Method\"); messages and enums become data and enums in a \
    module per protobuf package. Streaming methods are reported and skipped.\n\n\
    With --output DIR, DIR becomes a realm project ready to commit and `realm add`: \
    ftl-project.toml, realm.toml, schema/*.ftl, the proto-text public API and descriptors.binpb (what \
    `realm serve` transcodes JSON with).\n\n\
    Examples:\n  \
    realm import grpc --endpoint http://localhost:50051 --name bank --output bank-realm\n  \
    realm import grpc --endpoint https://api.example.com -H 'authorization: Bearer $TOKEN'\n  \
    realm import proto protos/bank/v1/accounts.proto -I protos --name bank\n  \
    realm import descriptor-set bank.binpb --format json"
)]
pub struct Args {
    #[command(subcommand)]
    source: Source,
}

#[derive(Subcommand, Debug)]
enum Source {
    /// From a running gRPC server, through server reflection (v1, falling back to v1alpha)
    #[command(
        after_help = "On a terminal, a spinner shows the step (connecting, listing \
        services, fetching files n/m).\n\n\
        Examples:\n  \
        realm import grpc --endpoint http://localhost:50051 --name bank --output bank-realm\n  \
        realm import grpc --endpoint https://api.example.com -H 'authorization: Bearer $TOKEN'"
    )]
    Grpc {
        /// http://host:port (plaintext) or https://host:port (TLS)
        #[arg(long, value_name = "URL")]
        endpoint: String,

        /// A header sent with every request, `key: value`; `$VAR` and `${VAR}` read the environment
        #[arg(short = 'H', long = "header", value_name = "HEADER")]
        headers: Vec<String>,

        /// Trust this CA certificate (PEM) for https endpoints
        #[arg(long, value_name = "FILE")]
        cacert: Option<PathBuf>,

        /// Do not verify the server's TLS certificate
        #[arg(long)]
        insecure: bool,

        /// Give up after this long (connect and all requests)
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = super::positive_duration)]
        timeout: std::time::Duration,

        #[command(flatten)]
        out: Out,
    },
    /// From .proto files, compiled with protox (the services of the files named)
    #[command(after_help = "Examples:\n  \
        realm import proto protos/bank/v1/accounts.proto -I protos --name bank\n  \
        realm import proto accounts.proto --output bank-realm")]
    Proto {
        /// The .proto files
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,

        /// Where imports are looked for [default: the directory of each file]
        #[arg(short = 'I', long = "include", value_name = "DIR")]
        includes: Vec<PathBuf>,

        #[command(flatten)]
        out: Out,
    },
    /// From an encoded FileDescriptorSet (protoc --include_imports --descriptor_set_out)
    #[command(after_help = "Examples:\n  \
        realm import descriptor-set bank.binpb --name bank --output bank-realm\n  \
        realm import descriptor-set bank.binpb --format json")]
    DescriptorSet {
        /// The descriptor set file
        #[arg(value_name = "FILE")]
        file: PathBuf,

        #[command(flatten)]
        out: Out,
    },
}

#[derive(clap::Args, Debug)]
struct Out {
    /// The realm's name [default: the first segment of the first service's package]
    #[arg(long, value_name = "NAME", value_parser = super::realm_name)]
    name: Option<String>,

    /// Write a realm project to this directory instead of printing the schema
    #[arg(long, short, value_name = "DIR")]
    output: Option<PathBuf>,

    /// How to print the schema when there is no --output: schema text, or realm.schema.v1.Schema as protobuf JSON or text format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub fn run(args: Args) -> Result<ExitCode> {
    // REALM_LOG=debug shows what reflection asked (v1, then v1alpha).
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("REALM_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
    let (imported, out) = match args.source {
        Source::Grpc {
            endpoint,
            headers,
            cacert,
            insecure,
            timeout,
            out,
        } => {
            let headers = headers
                .iter()
                .map(|h| {
                    let (key, value) = h
                        .split_once(':')
                        .ok_or_else(|| anyhow!("header `{h}` is not `key: value`"))?;
                    Ok((key.trim().to_string(), value.trim().to_string()))
                })
                .collect::<Result<Vec<_>>>()?;
            let request = GrpcRequest {
                endpoint,
                headers,
                cacert,
                insecure,
                timeout,
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let spinner =
                super::progress::Spinner::for_stderr(&format!("importing {}", request.endpoint));
            let step = |step: realm::net::reflection::Step| spinner.step(step);
            let imported = runtime.block_on(import::from_grpc_with_progress(
                &request,
                out.name.as_deref(),
                &step,
            ));
            spinner.finish();
            let imported = imported?;
            (imported, out)
        }
        Source::Proto {
            files,
            includes,
            out,
        } => (
            import::from_proto_files(&files, &includes, out.name.as_deref())?,
            out,
        ),
        Source::DescriptorSet { file, out } => (
            import::from_descriptor_set(&file, out.name.as_deref())?,
            out,
        ),
    };
    report(&imported);
    match &out.output {
        Some(dir) => {
            let written = import::write_output(dir, &imported)?;
            errln!(
                "Wrote the realm to {}: {}",
                written.dir.display(),
                summarize(&written.files)
            );
        }
        None => {
            let schema = Schema {
                realms: vec![imported.realm.clone()],
            };
            let text = match out.format {
                Format::Text => print_schema(&schema),
                Format::Json => txtpb::to_json(&schema),
                Format::Txtpb => txtpb::to_text(&schema),
            };
            super::output::write_stdout(text.as_bytes())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn report(imported: &Imported) {
    errln!(
        "Imported realm `{}` from {}: {}, {}, {}",
        imported.realm.name,
        imported.source,
        super::plural(imported.services, "service"),
        super::plural(imported.verbs(), "verb"),
        super::plural(imported.types(), "type")
    );
    if !imported.skipped.is_empty() {
        errln!(
            "Skipped {} (realms call unary verbs):",
            super::plural(imported.skipped.len(), "streaming method")
        );
        for s in &imported.skipped {
            errln!("  {} ({})", s.method, s.reason);
        }
    }
}

/// `ftl-project.toml, schema/*.ftl (3 files), ...`
fn summarize(files: &[String]) -> String {
    let schema = files.iter().filter(|f| f.starts_with("schema/")).count();
    let mut parts: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with("schema/"))
        .cloned()
        .collect();
    parts.insert(
        1.min(parts.len()),
        format!(
            "schema/*.ftl ({schema} file{})",
            if schema == 1 { "" } else { "s" }
        ),
    );
    parts.join(", ")
}
