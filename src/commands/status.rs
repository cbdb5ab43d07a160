//! `realm status`: what an ingress knows about its upstreams.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, anyhow};

use super::DataFormat;

/// Show a running ingress's upstreams: endpoint, state, last latency, calls sent and failed
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Reads GET /status of the ingress at --endpoint, $REALM_ENDPOINT, or this \
    project's ([ingress] listen). STATE is `unknown` until a call to the upstream is answered \
    or fails, `up` when the last one was answered, `backing off` after a connection failure \
    (calls fail fast until the wait is over), `probing` while one call tries again.\n\n\
    Examples:\n  \
    realm status\n  \
    realm status --endpoint http://ingress.shop.internal:8891 --format json"
)]
pub struct Args {
    /// The ingress to ask [env: REALM_ENDPOINT] [default: this project's [ingress] listen]
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,

    /// A PEM CA certificate to trust for an https ingress, besides the system's
    #[arg(long, value_name = "FILE")]
    cacert: Option<std::path::PathBuf>,

    /// Give up when the ingress has not answered in this long
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = super::positive_duration)]
    timeout: std::time::Duration,

    /// How to print: text (a table) or json
    #[arg(long, value_enum, default_value_t = DataFormat::Text)]
    format: DataFormat,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let endpoint = super::ingress_endpoint(args.endpoint)?;
    let reply = super::ask_ingress(
        &endpoint,
        "/status",
        args.cacert.as_deref(),
        None,
        args.timeout,
    )?;
    let status: serde_json::Value = serde_json::from_slice(&reply.body)
        .ok()
        .filter(|_| reply.status.is_success())
        .ok_or_else(|| {
            anyhow!(
                "{endpoint}/status answered {} without a status: is this a realm ingress?",
                reply.status
            )
        })?;
    let mut out = std::io::stdout().lock();
    match args.format {
        DataFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&status)?)?,
        DataFormat::Text => write!(out, "{}", render(&status))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A table like `node peers`: one upstream per line.
fn render(status: &serde_json::Value) -> String {
    let realm = status["realm"].as_str().unwrap_or("?");
    let ready = if status["ready"].as_bool() == Some(false) {
        " (draining)"
    } else {
        ""
    };
    let mut rows = vec![[
        "UPSTREAM".to_string(),
        "ENDPOINT".to_string(),
        "STATE".to_string(),
        "LATENCY".to_string(),
        "IN FLIGHT".to_string(),
        "SENT".to_string(),
        "FAILED".to_string(),
    ]];
    let empty = Vec::new();
    for u in status["upstreams"].as_array().unwrap_or(&empty) {
        let text = |k: &str| u[k].as_str().unwrap_or("").to_string();
        let num = |k: &str| u[k].as_u64().map_or("-".to_string(), |n| n.to_string());
        let state = match (text("state").as_str(), u["retry_in_ms"].as_u64()) {
            ("backing_off", Some(ms)) => format!("backing off ({:.1}s)", ms as f64 / 1000.0),
            (s, _) => s.replace('_', " "),
        };
        let latency = u["last_latency_us"].as_u64().map_or("-".to_string(), |us| {
            if us >= 1000 {
                format!("{:.1}ms", us as f64 / 1000.0)
            } else {
                format!("{us}µs")
            }
        });
        rows.push([
            format!("{} {}", text("kind"), text("name")),
            text("endpoint"),
            state,
            latency,
            format!("{}/{}", num("in_flight"), num("limit")),
            num("sent"),
            num("failed"),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = format!("Realm `{realm}`{ready}\n");
    if rows.len() == 1 {
        text.push_str("No upstreams: no runners or realm endpoints are configured.\n");
        return text;
    }
    let unknown = rows.iter().any(|row| row[2] == "unknown");
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    if unknown {
        text.push_str("(unknown: no call has gone to it since the ingress started)\n");
    }
    text
}
