//! The HTTP client for upstreams: module runners that speak JSON over HTTP,
//! and other realms' ingresses. One pooled client (keep-alive, HTTP/1.1)
//! per process; `https://` URLs go over TLS (rustls).

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;

use super::tls;

/// A server's answer to a request this client sent.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: Option<http::HeaderValue>,
    pub body: Bytes,
    /// `Retry-After` in seconds, when the upstream sent one as a number.
    pub retry_after: Option<u64>,
}

/// The largest answer read from an upstream: a broken or hostile upstream
/// must not make the ingress buffer without end.
pub const MAX_REPLY: usize = 64 << 20;

/// Why an upstream gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The request was not sent, or not read (no connection, a bad request,
    /// TLS refused by either side, also when the server refuses the client
    /// certificate after the client wrote its request): trying again
    /// cannot run it twice.
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The server's certificate is not trusted (unknown issuer, another
    /// name, expired): the request was not sent.
    #[error("cannot connect to {url}: {reason}")]
    Untrusted { url: String, reason: String },
    /// The request failed after it may have been sent.
    #[error("the request to {url} failed: {reason}")]
    Failed { url: String, reason: String },
    /// The answer started but its body could not be read.
    #[error("{url} broke off the answer: {reason}")]
    Broken { url: String, reason: String },
}

impl UpstreamError {
    /// Whether the request surely did not reach the upstream, so that it
    /// may be retried safely.
    pub fn not_sent(&self) -> bool {
        matches!(
            self,
            UpstreamError::Connect { .. } | UpstreamError::Untrusted { .. }
        )
    }
}

/// A pooled HTTP/1.1 client, for `http://` and `https://` URLs.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: Inner,
}

#[derive(Clone, Debug)]
enum Inner {
    Tls(Client<HttpsConnector<HttpConnector>, Full<Bytes>>),
    /// Only if no TLS configuration could be made (which the ring provider
    /// does not allow to happen): `https://` URLs then fail to connect.
    Plain(Client<HttpConnector, Full<Bytes>>),
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new()
    }
}

impl HttpClient {
    /// A client trusting the system's roots for `https://` URLs, without a
    /// client certificate.
    pub fn new() -> HttpClient {
        static SYSTEM_ROOTS: OnceLock<Option<rustls::ClientConfig>> = OnceLock::new();
        match SYSTEM_ROOTS.get_or_init(|| tls::client_config_from_pem(&[], None, true).ok()) {
            Some(config) => HttpClient::with_tls(config.clone()),
            None => HttpClient {
                inner: Inner::Plain(pooled(connector())),
            },
        }
    }

    /// A client using `config` for `https://` URLs (see
    /// [`tls::client_config`]); `http://` URLs stay plaintext. Any ALPN
    /// protocols in `config` are dropped: the client speaks HTTP/1.1.
    pub fn with_tls(mut config: rustls::ClientConfig) -> HttpClient {
        // hyper-rustls sets ALPN from the enabled HTTP versions and panics
        // if it is already set.
        config.alpn_protocols.clear();
        let mut http = connector();
        http.enforce_http(false);
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        HttpClient {
            inner: Inner::Tls(pooled(https)),
        }
    }

    /// POSTs `body` as JSON with `headers` and reads the whole answer.
    pub async fn post_json(
        &self,
        url: &Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Answer, UpstreamError> {
        self.send(Method::POST, url, headers, body).await
    }

    /// GETs `url` and reads the whole answer.
    pub async fn get(&self, url: &Uri, headers: HeaderMap) -> Result<Answer, UpstreamError> {
        self.send(Method::GET, url, headers, Bytes::new()).await
    }

    async fn send(
        &self,
        method: Method,
        url: &Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Answer, UpstreamError> {
        let mut builder = Request::builder().method(method.clone()).uri(url.clone());
        if method == Method::POST {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
        }
        let mut request = builder
            .body(Full::new(body))
            .map_err(|e| UpstreamError::Connect {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        request.headers_mut().extend(headers);
        let response = match &self.inner {
            Inner::Tls(client) => client.request(request).await,
            Inner::Plain(client) => client.request(request).await,
        }
        .map_err(|e| {
            let url = url.to_string();
            let reason = reason(&e);
            if untrusted(&e) {
                UpstreamError::Untrusted { url, reason }
            } else if e.is_connect() || handshake_refused(&e) {
                UpstreamError::Connect { url, reason }
            } else {
                UpstreamError::Failed { url, reason }
            }
        })?;
        let status = response.status();
        let content_type = response.headers().get(http::header::CONTENT_TYPE).cloned();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = http_body_util::Limited::new(response.into_body(), MAX_REPLY)
            .collect()
            .await
            .map_err(|e| UpstreamError::Broken {
                url: url.to_string(),
                reason: if e.is::<http_body_util::LengthLimitError>() {
                    format!("the answer is larger than {} MiB", MAX_REPLY >> 20)
                } else {
                    e.to_string()
                },
            })?
            .to_bytes();
        Ok(Answer {
            status,
            content_type,
            body,
            retry_after,
        })
    }
}

fn connector() -> HttpConnector {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(10)));
    connector
}

fn pooled<C>(connector: C) -> Client<C, Full<Bytes>>
where
    C: Connect + Clone,
{
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .build(connector)
}

/// Whether the server refused the TLS handshake with an alert. In TLS 1.3
/// a refused client certificate is only learned after the client finished
/// its side of the handshake and wrote the request, so hyper does not report
/// a connect error; but the server never read the request.
fn handshake_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    use rustls::AlertDescription::*;
    let mut cause = Some(e);
    while let Some(e) = cause {
        if let Some(rustls::Error::AlertReceived(alert)) = tls_error(e) {
            return matches!(
                alert,
                HandshakeFailure
                    | BadCertificate
                    | UnsupportedCertificate
                    | CertificateRevoked
                    | CertificateExpired
                    | CertificateUnknown
                    | UnknownCA
                    | AccessDenied
                    | CertificateRequired
            );
        }
        cause = e.source();
    }
    false
}

/// Whether this client refused the server's certificate.
fn untrusted(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if let Some(rustls::Error::InvalidCertificate(_)) = tls_error(e) {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The rustls error in `e`, also when wrapped in I/O errors (whose
/// `source()` skips what they wrap).
fn tls_error<'a>(mut e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    loop {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        e = e.downcast_ref::<std::io::Error>()?.get_ref()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::tls::ServerTls;
    use crate::net::tls::testing::{Leaf, Pki, TestServer};

    /// A TLS server for `pki`, with the shop realm's CA as its only peer CA.
    async fn shop_server(pki: &Pki) -> TestServer {
        let tls = ServerTls::from_pem(
            &pki.server.cert,
            &pki.server.key,
            &[("shop".to_string(), pki.shop_ca.pem.clone())],
        )
        .expect("server TLS");
        TestServer::start(Some(tls)).await
    }

    /// A client trusting the test CA (and nothing else), presenting `leaf`.
    fn client(pki: &Pki, leaf: Option<&Leaf>) -> HttpClient {
        let config = tls::client_config_from_pem(
            std::slice::from_ref(&pki.ca.pem),
            leaf.map(|l| (l.cert.as_slice(), l.key.as_slice())),
            false,
        )
        .expect("client TLS");
        HttpClient::with_tls(config)
    }

    async fn call(client: &HttpClient, url: &str) -> Result<Answer, UpstreamError> {
        let uri: Uri = url.parse().expect("URL");
        client
            .post_json(&uri, HeaderMap::new(), Bytes::from_static(b"{\"n\":1}"))
            .await
    }

    /// The peer realms the test server saw on the connection.
    fn realms(reply: &Answer) -> serde_json::Value {
        let answer: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON");
        answer["peer_realms"].clone()
    }

    #[tokio::test]
    async fn trusting_the_ca_calls_https() {
        let pki = Pki::new();
        let server = shop_server(&pki).await;
        let client = client(&pki, None);
        for host in ["localhost", "127.0.0.1"] {
            let url = format!("https://{host}:{}/verb", server.addr.port());
            let reply = call(&client, &url).await.expect("answer");
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(
                reply.body,
                Bytes::from_static(b"{\"peer_realms\":[],\"request\":{\"n\":1}}")
            );
            assert_eq!(
                reply.content_type.as_ref().map(|v| v.as_bytes()),
                Some(&b"application/json"[..])
            );
        }
    }

    #[tokio::test]
    async fn an_unknown_issuer_is_a_connect_error_and_not_sent() {
        let pki = Pki::new();
        let server = shop_server(&pki).await;
        let url = format!("https://localhost:{}/verb", server.addr.port());
        let untrusting = HttpClient::with_tls(
            tls::client_config_from_pem(&[], None, false).expect("client TLS"),
        );
        // HttpClient::new() trusts the system's roots only, and does speak TLS.
        for client in [untrusting, HttpClient::new()] {
            let error = call(&client, &url).await.expect_err("refused");
            assert!(error.not_sent(), "{error:?}");
            assert!(
                matches!(error, UpstreamError::Untrusted { .. }),
                "{error:?}"
            );
            assert_eq!(
                error.to_string(),
                format!("cannot connect to {url}: invalid peer certificate: UnknownIssuer")
            );
        }
    }

    #[tokio::test]
    async fn a_client_certificate_of_a_peer_realm_names_that_realm() {
        let pki = Pki::new();
        let server = shop_server(&pki).await;
        let url = format!("https://localhost:{}/verb", server.addr.port());
        let reply = call(&client(&pki, Some(&pki.shop_client)), &url)
            .await
            .expect("answer");
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(realms(&reply), serde_json::json!(["shop"]));
    }

    #[tokio::test]
    async fn without_a_client_certificate_the_connection_has_no_realm() {
        let pki = Pki::new();
        let server = shop_server(&pki).await;
        let url = format!("https://localhost:{}/verb", server.addr.port());
        let reply = call(&client(&pki, None), &url).await.expect("answer");
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(realms(&reply), serde_json::json!([]));
    }

    #[tokio::test]
    async fn a_client_certificate_of_an_unknown_ca_is_refused_in_the_handshake() {
        // allow_unauthenticated() only lets clients *without* a certificate
        // in: a presented certificate that chains to no peer CA fails the
        // handshake on the server (the connection never gets a realm).
        let pki = Pki::new();
        let server = shop_server(&pki).await;
        let url = format!("https://localhost:{}/verb", server.addr.port());
        let result = call(&client(&pki, Some(&pki.crm_client)), &url).await;
        // With TLS 1.3 the client has finished its handshake (and sent the
        // request) before the server's alert arrives, but the server never
        // read the request: still a connect error.
        let error = result.expect_err("refused");
        assert!(error.not_sent(), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!("cannot connect to {url}: received fatal alert: UnknownCA")
        );
        let refused = server.wait_refused().await;
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].contains("UnknownIssuer"), "{refused:?}");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error_and_not_sent() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        drop(listener);
        for scheme in ["http", "https"] {
            let url = format!("{scheme}://127.0.0.1:{port}/verb");
            let error = call(&HttpClient::new(), &url).await.expect_err("refused");
            assert!(error.not_sent(), "{error:?}");
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("cannot connect to {url}: ")),
                "{error}"
            );
            assert!(error.to_string().contains("refused"), "{error}");
        }
    }

    #[tokio::test]
    async fn a_connection_closed_after_the_request_may_have_been_sent() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let server = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.expect("accept");
            let mut buffer = [0u8; 1024];
            let _ = tcp.read(&mut buffer).await;
        });
        let url = format!("http://127.0.0.1:{port}/verb");
        let error = call(&HttpClient::new(), &url).await.expect_err("no answer");
        server.await.expect("server");
        assert!(!error.not_sent(), "{error:?}");
        assert!(matches!(error, UpstreamError::Failed { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .starts_with(&format!("the request to {url} failed: ")),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_tls_client_still_calls_plain_http() {
        let pki = Pki::new();
        let server = TestServer::start(None).await;
        let url = format!("http://127.0.0.1:{}/verb", server.addr.port());
        let reply = call(&client(&pki, None), &url).await.expect("answer");
        assert_eq!(reply.status, StatusCode::OK);
    }
}
