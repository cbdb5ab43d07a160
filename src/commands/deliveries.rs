//! `realm deliveries`: the calls a running ingress queued for delivery
//! (`list`, `show`, `retry`, `drop`), through its `/deliveries` routes.

use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::Subcommand;

use super::DataFormat;

/// Show, retry and drop the calls a running ingress queued for delivery (Prefer: respond-async)
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Asks the ingress at --endpoint, $REALM_ENDPOINT, or this project's \
    ([ingress] listen), on its /deliveries routes (served to loopback and private addresses; with \
    the bearer token of [ingress] admin-token-file when it is set, read from this project). \
    A delivery is queued, sending, delivered, failed (refused by the target, or out of \
    attempts) or expired (older than [ingress.delivery] max-age).\n\n\
    Examples:\n  realm deliveries list\n  realm deliveries show 0b5e6c1e-1f7a-4c1e-9d52-3a1f0e2b7c44\n  \
    realm deliveries retry 0b5e6c1e-1f7a-4c1e-9d52-3a1f0e2b7c44"
)]
pub struct Args {
    #[command(subcommand)]
    command: Deliveries,
}

/// Where the ingress is, and how to print.
#[derive(clap::Args, Debug)]
struct Ingress {
    /// The ingress to ask [env: REALM_ENDPOINT] [default: this project's [ingress] listen]
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,

    /// A PEM CA certificate to trust for an https ingress, besides the system's
    #[arg(long, value_name = "FILE")]
    cacert: Option<std::path::PathBuf>,

    /// Give up when the ingress has not answered in this long
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = super::positive_duration)]
    timeout: std::time::Duration,

    /// How to print: text or json
    #[arg(long, value_enum, default_value_t = DataFormat::Text)]
    format: DataFormat,
}

#[derive(Subcommand, Debug)]
enum Deliveries {
    /// List the queued calls, oldest first (at most 1,000)
    #[command(
        after_help = "Examples:\n  realm deliveries list\n  realm deliveries list --format json"
    )]
    List {
        #[command(flatten)]
        ingress: Ingress,
    },
    /// Show one queued call: status, attempts, last error, the reply once delivered
    #[command(
        after_help = "Examples:\n  realm deliveries show 0b5e6c1e-1f7a-4c1e-9d52-3a1f0e2b7c44"
    )]
    Show {
        /// The delivery's id (the 202's Location: /deliveries/<id>)
        id: String,
        #[command(flatten)]
        ingress: Ingress,
    },
    /// Queue a failed or expired call again: tried anew, attempts and age from now
    #[command(
        after_help = "Examples:\n  realm deliveries retry 0b5e6c1e-1f7a-4c1e-9d52-3a1f0e2b7c44"
    )]
    Retry {
        /// The delivery's id
        id: String,
        #[command(flatten)]
        ingress: Ingress,
    },
    /// Remove a queued call (an attempt in flight may still arrive)
    #[command(
        after_help = "Examples:\n  realm deliveries drop 0b5e6c1e-1f7a-4c1e-9d52-3a1f0e2b7c44"
    )]
    Drop {
        /// The delivery's id
        id: String,
        #[command(flatten)]
        ingress: Ingress,
    },
}

pub fn run(args: Args) -> Result<ExitCode> {
    let (path, post, ingress) = match &args.command {
        Deliveries::List { ingress } => ("/deliveries".to_string(), false, ingress),
        Deliveries::Show { id, ingress } => (format!("/deliveries/{}", escape(id)), false, ingress),
        Deliveries::Retry { id, ingress } => {
            (format!("/deliveries/{}/retry", escape(id)), true, ingress)
        }
        Deliveries::Drop { id, ingress } => {
            (format!("/deliveries/{}/drop", escape(id)), true, ingress)
        }
    };
    let endpoint = super::ingress_endpoint(ingress.endpoint.clone())?;
    // The token of `[ingress] admin-token-file`, when run in a project
    // that sets it.
    let mut headers = http::HeaderMap::new();
    let project = realm::project::Project::discover(&super::current_dir()?).ok();
    if let Some(project) = project
        && let Some(token) = realm::queue::admin_token(&project)?
    {
        let bearer = http::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| anyhow!("[ingress] admin-token-file: the token is not a header value"))?;
        headers.insert(http::header::AUTHORIZATION, bearer);
    }
    let reply = realm::net::ask::ask_with(
        &endpoint,
        &path,
        ingress.cacert.as_deref(),
        post.then(bytes::Bytes::new),
        ingress.timeout,
        headers,
    )?;
    let json: serde_json::Value = serde_json::from_slice(&reply.body).map_err(|_| {
        anyhow!(
            "{endpoint}{path} answered {} without JSON: is this a realm ingress?",
            reply.status
        )
    })?;
    if !reply.status.is_success() {
        let message = json["error"]["message"].as_str().unwrap_or("no message");
        return Err(anyhow!("the ingress answered {}: {message}", reply.status));
    }
    let text = match (ingress.format, &args.command) {
        (DataFormat::Json, _) => format!("{}\n", serde_json::to_string_pretty(&json)?),
        (DataFormat::Text, Deliveries::List { .. }) => render_list(&json),
        (DataFormat::Text, Deliveries::Drop { id, .. }) => format!("Dropped {id}\n"),
        (DataFormat::Text, _) => render_one(&json),
    };
    out!("{}", super::output::remote_for_stdout(&text))?;
    Ok(ExitCode::SUCCESS)
}

/// An id as a path segment: anything but its own characters escaped.
fn escape(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn field(d: &serde_json::Value, name: &str) -> String {
    match &d[name] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_string(),
        other => other.to_string(),
    }
}

fn render_list(json: &serde_json::Value) -> String {
    let list = json["deliveries"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        return "No queued calls.\n".to_string();
    }
    let rows: Vec<[String; 5]> = list
        .iter()
        .map(|d| {
            [
                field(d, "id"),
                format!(
                    "{}.{}@{}",
                    field(d, "module"),
                    field(d, "verb"),
                    field(d, "realm")
                ),
                field(d, "status"),
                field(d, "attempts"),
                field(d, "last_error"),
            ]
        })
        .collect();
    super::table::table(&["ID", "CALL", "STATUS", "ATTEMPTS", "LAST ERROR"], &rows)
}

fn render_one(d: &serde_json::Value) -> String {
    let mut text = format!(
        "{}  {}.{}@{}\nstatus: {}\nattempts: {}\n",
        field(d, "id"),
        field(d, "module"),
        field(d, "verb"),
        field(d, "realm"),
        field(d, "status"),
        field(d, "attempts"),
    );
    if !d["last_error"].is_null() {
        text.push_str(&format!("last error: {}\n", field(d, "last_error")));
    }
    if !d["reply"].is_null() {
        text.push_str(&format!(
            "reply: {} {}\n",
            d["reply"]["status"], d["reply"]["body"]
        ));
    }
    text
}
