//! The HTTP client for upstreams: module runners that speak JSON over HTTP,
//! and other realms' ingresses. One pooled client (keep-alive, HTTP/1.1)
//! per process.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// An answer from an upstream.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: Option<http::HeaderValue>,
    pub body: Bytes,
}

/// Why an upstream gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("{url} broke off the answer: {reason}")]
    Broken { url: String, reason: String },
}

/// A pooled HTTP/1.1 client.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new()
    }
}

impl HttpClient {
    pub fn new() -> HttpClient {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .build(connector);
        HttpClient { client }
    }

    /// POSTs `body` as JSON with `headers` and reads the whole answer.
    pub async fn post_json(
        &self,
        url: &Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Reply, UpstreamError> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| UpstreamError::Connect {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        request.headers_mut().extend(headers);
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| UpstreamError::Connect {
                url: url.to_string(),
                reason: reason(&e),
            })?;
        let status = response.status();
        let content_type = response.headers().get(http::header::CONTENT_TYPE).cloned();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| UpstreamError::Broken {
                url: url.to_string(),
                reason: e.to_string(),
            })?
            .to_bytes();
        Ok(Reply {
            status,
            content_type,
            body,
        })
    }
}

/// The innermost cause, which says what happened ("Connection refused").
fn reason(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}
