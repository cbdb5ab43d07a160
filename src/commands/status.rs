//! `realm status`: what an ingress knows about its upstreams.

use std::process::ExitCode;

use anyhow::{Result, anyhow};

use realm::ingress::status::Status;
use realm::ingress::upstream::State;

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
    realm status --endpoint http://ingress.shop.internal:8871 --format json"
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
    let reply = realm::net::ask::ask(
        &endpoint,
        "/status",
        args.cacert.as_deref(),
        None,
        args.timeout,
    )?;
    // The JSON as the ingress wrote it (a newer one may say more than this
    // version knows), and what this version reads of it.
    let read = serde_json::from_slice::<serde_json::Value>(&reply.body)
        .ok()
        .filter(|_| reply.status.is_success())
        .and_then(|json| Some((serde_json::from_value::<Status>(json.clone()).ok()?, json)));
    let Some((status, json)) = read else {
        return Err(anyhow!(
            "{endpoint}/status answered {} without a status: is this a realm ingress?",
            reply.status
        ));
    };
    match args.format {
        DataFormat::Json => outln!(
            "{}",
            super::output::remote_for_stdout(&serde_json::to_string_pretty(&json)?)
        )?,
        DataFormat::Text => {
            let text = render(&status) + &render_queue(&status);
            out!("{}", super::output::remote_for_stdout(&text))?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A table like `node peers`: one upstream per line.
fn render(status: &Status) -> String {
    let ready = if status.ready { "" } else { " (draining)" };
    let mut text = format!("Realm `{}`{ready}\n", status.realm);
    if status.upstreams.is_empty() {
        text.push_str("No upstreams: no runners or realm endpoints are configured.\n");
        return text;
    }
    let rows: Vec<[String; 7]> = status
        .upstreams
        .iter()
        .map(|u| {
            let state = match (u.state, u.retry_in_ms) {
                (State::BackingOff, Some(ms)) => {
                    format!("backing off ({:.1}s)", ms as f64 / 1000.0)
                }
                (state, _) => state.words().to_string(),
            };
            let latency = u.last_latency_us.map_or("-".to_string(), |us| {
                if us >= 1000 {
                    format!("{:.1}ms", us as f64 / 1000.0)
                } else {
                    format!("{us}µs")
                }
            });
            [
                format!("{} {}", u.kind, u.name),
                u.endpoint.clone(),
                state,
                latency,
                format!("{}/{}", u.in_flight, u.limit),
                u.sent.to_string(),
                u.failed.to_string(),
            ]
        })
        .collect();
    let header = [
        "UPSTREAM",
        "ENDPOINT",
        "STATE",
        "LATENCY",
        "IN FLIGHT",
        "SENT",
        "FAILED",
    ];
    text.push_str(&super::table::table(&header, &rows));
    if status.upstreams.iter().any(|u| u.state == State::Unknown) {
        text.push_str("(unknown: no call has gone to it since the ingress started)\n");
    }
    text
}

/// The queued calls waiting, per target, when any are (or the queue's
/// store could not be read).
fn render_queue(status: &Status) -> String {
    let Some(queue) = status
        .queue
        .as_ref()
        .filter(|q| !q.targets.is_empty() || q.error.is_some())
    else {
        return String::new();
    };
    let total: u64 = queue.targets.iter().map(|t| t.queued).sum();
    let mut text = format!(
        "\nQueued calls: {total} waiting (at most {}, [ingress] max-queued)\n",
        queue.max_queued
    );
    if let Some(error) = &queue.error {
        text.push_str(&format!("The queue's store could not be read: {error}\n"));
    }
    let rows: Vec<[String; 3]> = queue
        .targets
        .iter()
        .map(|t| {
            [
                format!("{}.{}@{}", t.module, t.verb, t.realm),
                t.queued.to_string(),
                format!("{:.1}s", t.oldest_age_ms as f64 / 1000.0),
            ]
        })
        .collect();
    text.push_str(&super::table::table(&["TARGET", "QUEUED", "OLDEST"], &rows));
    text
}
