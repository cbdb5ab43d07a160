//! Asking a realm's ingress from the command line (`realm call`, `realm
//! status`): one request with a deadline, on a runtime of its own, its
//! failures as errors that say what to do.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;

use super::http::{Answer, HttpClient, UpstreamError};

/// The client for talking to an ingress: the system's roots, plus `cacert`
/// when given (an ingress with a certificate from a private CA).
fn ingress_client(cacert: Option<&Path>) -> Result<HttpClient> {
    Ok(match cacert {
        None => HttpClient::new(),
        Some(path) => HttpClient::with_tls(
            super::tls::client_config(&[path.to_path_buf()], None).context("invalid --cacert")?,
        ),
    })
}

/// What to do when the ingress cannot be reached.
fn unreachable_help(e: &UpstreamError) -> &'static str {
    if matches!(e, UpstreamError::Untrusted { .. }) {
        "the ingress's TLS certificate is not trusted: pass --cacert with its CA, and an --endpoint with the host name the certificate names"
    } else {
        "start the ingress with `realm serve`, or pass --endpoint"
    }
}

/// Sends one request to the ingress at `endpoint` (`path` below it): a
/// POST of `body`, or a GET without one, giving up after `timeout`.
/// Unreachable ingresses become an error that says what to do.
pub fn ask(
    endpoint: &str,
    path: &str,
    cacert: Option<&Path>,
    body: Option<Bytes>,
    timeout: Duration,
) -> Result<Answer> {
    ask_with(
        endpoint,
        path,
        cacert,
        body,
        timeout,
        http::HeaderMap::new(),
    )
}

/// [`ask`], with `headers` on the request (e.g. `Authorization`).
pub fn ask_with(
    endpoint: &str,
    path: &str,
    cacert: Option<&Path>,
    body: Option<Bytes>,
    timeout: Duration,
    headers: http::HeaderMap,
) -> Result<Answer> {
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        bail!(
            "the endpoint `{endpoint}` is not an http:// or https:// URL\nhelp: write the ingress's URL, e.g. --endpoint http://{}",
            endpoint.split("://").last().unwrap_or(endpoint)
        );
    }
    let url = format!("{}{path}", endpoint.trim_end_matches('/'));
    let uri: http::Uri = url
        .parse()
        .map_err(|e| anyhow!("invalid endpoint `{endpoint}`: {e}"))?;
    let client = ingress_client(cacert)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let answer = runtime.block_on(async {
        let ask = async {
            match body {
                Some(body) => client.post_json(&uri, headers, body).await,
                None => client.get(&uri, headers).await,
            }
        };
        tokio::time::timeout(timeout, ask).await
    });
    let Ok(answer) = answer else {
        bail!(
            "no answer from the ingress at {url} within {} (connecting, sending and waiting for the reply)\nhelp: check that the ingress and the verb's runner are up (`realm status`), or allow longer with --timeout",
            crate::duration::format(timeout)
        );
    };
    answer.map_err(|e| {
        anyhow!(
            "cannot reach the ingress: {e}\nhelp: {}",
            unreachable_help(&e)
        )
    })
}
