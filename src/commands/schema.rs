//! `realm schema`: print the combined schema.

use std::process::ExitCode;

use anyhow::{Result, bail};
use realm::schema::{Schema, print_schema, txtpb};
use realm::workspace::Workspace;

use super::Format;

/// Print the schema: the internal realm and the external realms it uses
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    realm schema                  # schema text of every realm\n  \
    realm schema --realm bank     # one realm\n  \
    realm schema --format json    # protojson of FTL's xyz.block.ftl.schema.v1.Schema")]
pub struct Args {
    /// How to print: schema text, or FTL's xyz.block.ftl.schema.v1.Schema as protojson or proto-text
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Print only this realm
    #[arg(long, value_name = "NAME", value_parser = super::realm_name)]
    realm: Option<String>,

    #[command(flatten)]
    error_format: super::ErrorFormatArg,

    #[command(flatten)]
    pinned: super::PinnedRealms,
}

pub fn run(args: Args, started_in: &std::path::Path) -> Result<ExitCode> {
    let dir = super::current_dir()?;
    if args.error_format.is_report() {
        // The report in place of the schema: the command is a check.
        let loaded = args
            .pinned
            .with_context(started_in, |ctx| Ok(Workspace::load(&dir, ctx)))?;
        let check = match &loaded {
            Ok(ws) => realm::check::schema_result(ws),
            Err(e) => realm::report::CheckResult::of_error("schema", e),
        };
        return super::print_check(check, args.error_format.get());
    }
    let ws = args
        .pinned
        .with_context(started_in, |ctx| Workspace::load(&dir, ctx))?;
    super::print_warnings(&ws);
    let mut schema = ws.schema;
    if let Some(name) = &args.realm {
        let Some(realm) = schema.realms.iter().find(|r| &r.name == name) else {
            let known: Vec<&str> = schema.realms.iter().map(|r| r.name.as_str()).collect();
            bail!(
                "no realm `{name}` in this project; the realms are: {}",
                known.join(", ")
            );
        };
        schema = Schema {
            realms: vec![realm.clone()],
        };
    }
    let out = match args.format {
        Format::Text => print_schema(&schema),
        Format::Json => txtpb::to_json(&schema),
        Format::Txtpb => txtpb::to_text(&schema),
    };
    super::output::write_stdout(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
