//! `realm call`: call a verb through an ingress.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use realm::schema::parse_ref;

/// Call a verb through an ingress and print the JSON reply
#[derive(clap::Args, Debug)]
#[command(
    after_help = "REF is module.verb (this project's realm) or module.verb@realm. \
    The call goes to --endpoint, $REALM_ENDPOINT, or this project's ingress ([ingress] listen).\n\n\
    Examples:\n  \
    realm call balance.withdraw@bank '{\"account\":\"a1\",\"amount\":5}'\n  \
    echo '{\"id\":\"a1\"}' | realm call account.getAccount@acme -\n  \
    realm call checkout.pay '{...}' --endpoint http://shop-ingress:8871"
)]
pub struct Args {
    /// The verb: module.verb or module.verb@realm
    #[arg(value_name = "REF", value_parser = verb_ref)]
    reference: VerbRef,

    /// The request as JSON; `-` reads it from stdin [default: no body]
    #[arg(value_name = "JSON", value_parser = json_or_stdin)]
    body: Option<String>,

    /// The ingress to call through [env: REALM_ENDPOINT] [default: this project's [ingress] listen]
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,

    /// A PEM CA certificate to trust for an https ingress, besides the system's
    #[arg(long, value_name = "FILE")]
    cacert: Option<std::path::PathBuf>,

    /// Give up when the reply has not come in this long (connecting included)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = super::positive_duration)]
    timeout: std::time::Duration,
}

/// `module.verb` or `module.verb@realm`, as written on the command line.
#[derive(Clone, Debug)]
struct VerbRef {
    text: String,
    realm: Option<String>,
    module: String,
    verb: String,
}

/// REF: a usage error (exit 2) unless it is `module.verb[@realm]`.
fn verb_ref(text: &str) -> Result<VerbRef, String> {
    let help = "write module.verb or module.verb@realm, e.g. balance.withdraw@bank";
    let r = parse_ref("REF", text)
        .map_err(|d| format!("`{text}` is not a verb reference: {}; {help}", d.message))?;
    let Some(module) = r.module else {
        return Err(format!("`{text}` has no module; {help}"));
    };
    if !r.type_args.is_empty() {
        return Err(format!(
            "`{text}` has type arguments, which a verb does not take; {help}"
        ));
    }
    Ok(VerbRef {
        text: text.to_string(),
        realm: r.realm,
        module,
        verb: r.name,
    })
}

/// JSON: a usage error (exit 2) when the argument is not JSON; `-` (stdin)
/// is read and checked later.
fn json_or_stdin(text: &str) -> Result<String, String> {
    if text != "-" && !text.trim().is_empty() {
        serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| format!("the request is not valid JSON: {e}"))?;
    }
    Ok(text.to_string())
}

pub fn run(args: Args) -> Result<ExitCode> {
    let r = &args.reference;
    let project = realm::project::Project::discover(&super::current_dir()?).ok();
    let realm = match (&r.realm, &project) {
        (Some(realm), _) => realm.clone(),
        (None, Some(project)) => project.name.clone(),
        (None, None) => bail!(
            "`{}` names no realm and there is no project here\nhelp: write {}.{}@<realm>, or run realm in the project (-C DIR)",
            r.text,
            r.module,
            r.verb
        ),
    };
    let endpoint = super::ingress_endpoint(args.endpoint.clone())?;
    let body = match args.body.as_deref() {
        None => String::new(),
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the request from stdin")?;
            text
        }
        Some(text) => text.to_string(),
    };
    if !body.trim().is_empty() {
        serde_json::from_str::<serde_json::Value>(&body)
            .map_err(|e| anyhow!("the request is not valid JSON: {e}"))?;
    }
    let reply = realm::net::ask::ask(
        &endpoint,
        &format!("/realms/{realm}/{}/{}", r.module, r.verb),
        args.cacert.as_deref(),
        Some(Bytes::from(body)),
        args.timeout,
    )?;
    let pretty = serde_json::from_slice::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(&reply.body).into_owned());
    if reply.status.is_success() {
        outln!("{}", super::output::remote_for_stdout(&pretty))?;
        return Ok(ExitCode::SUCCESS);
    }
    let message = serde_json::from_slice::<realm::ingress::reply::ErrorBody>(&reply.body)
        .map(|body| body.error.message)
        .unwrap_or_else(|_| reply.status.to_string());
    errln!(
        "error: {} ({})\n{}",
        super::output::remote_for_stderr(&message),
        reply.status,
        super::output::remote_for_stderr(&pretty)
    );
    Ok(ExitCode::from(super::EXIT_ERROR))
}
