//! The HTTP client for upstreams: module runners that speak JSON over HTTP,
//! and other realms' ingresses. Keep-alive HTTP/1.1 connections, pooled
//! per thread: only the thread that opened a connection uses it, and the
//! call using it polls it (no connection task), so that with the ingress's
//! one-runtime-per-thread workers an upstream call never wakes another
//! task or thread; a sweep task per worker closes idle connections (see
//! docs/decisions.md, "The ingress's threads"). `https://` URLs go over TLS
//! (rustls).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::Authority;
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tower::Service;

use super::{h1, tls};

/// A server's answer to a request this client sent.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: Option<http::HeaderValue>,
    pub body: Bytes,
    /// `Retry-After` in seconds, when the upstream sent one as a number.
    pub retry_after: Option<u64>,
    /// Whether it carries [`NOT_MADE`]: a realm's ingress says it did not
    /// make the call (its own refusal, not an answer it relays).
    pub not_made: bool,
}

/// The header with which a realm's ingress marks a refusal of its own
/// after which the call surely did not run (busy, backing off, a fake's
/// injected failure). An ingress never passes an upstream's headers on,
/// so a runner cannot set it.
pub const NOT_MADE: http::HeaderName = http::HeaderName::from_static("x-realm-not-made");

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
    /// The answer is larger than [`MAX_REPLY`]: the upstream answered (it
    /// is up), its answer is not read.
    #[error("{url} answered more than {} MiB, the most read from an upstream", MAX_REPLY >> 20)]
    TooLarge { url: String },
    /// The caller's room for the answer (see [`HttpClient::post_json`])
    /// ran out after `bytes` bytes: the upstream answered, its answer is
    /// dropped.
    #[error("no room for the answer of {url} ({bytes} bytes)")]
    NoRoom { url: String, bytes: u64 },
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

/// A pooled HTTP/1.1 client, for `http://` and `https://` URLs. Clones
/// share the pools; each thread has its own.
#[derive(Clone)]
pub struct HttpClient {
    shared: Arc<Shared>,
}

struct Shared {
    connector: Connector,
    pools: thread_local::ThreadLocal<RefCell<Pool>>,
}

/// Makes upstream connections: TCP, and TLS for `https://` URLs.
#[derive(Clone)]
enum Connector {
    Tls(HttpsConnector<HttpConnector>),
    /// Only if no TLS configuration could be made (which the ring provider
    /// does not allow to happen): `https://` URLs then fail to connect.
    Plain(HttpConnector),
}

type Io = MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>;

/// An open upstream connection: a plain one of our own (`h1`), or
/// hyper's over TLS. Kept boxed: with its buffers and TLS state it is a
/// few kilobytes, which every call would otherwise copy in and out of the
/// pool.
// Always boxed (see above): the size of its TLS variant is not moved.
#[allow(clippy::large_enum_variant)]
enum Conn {
    /// `http://`: the request written and the answer read by `h1`.
    Plain(h1::Conn),
    /// `https://`: hyper's client connection. No task of its own drives
    /// it: the call that uses it polls it (see [`drive`]), so that a call
    /// wakes nothing but itself.
    Hyper {
        sender: http1::SendRequest<Full<Bytes>>,
        /// `None` once it has ended (see [`drive`]).
        conn: Option<http1::Connection<Io, Full<Bytes>>>,
    },
}

impl Conn {
    /// Whether the connection is open and may take a request now: a
    /// connection the server has closed ends when polled, one still
    /// reading or writing is not ready.
    fn usable(&mut self) -> bool {
        match self {
            Conn::Plain(conn) => conn.usable(),
            Conn::Hyper { sender, conn } => {
                let mut cx = Context::from_waker(std::task::Waker::noop());
                conn.as_mut()
                    .is_some_and(|conn| Pin::new(conn).poll_without_shutdown(&mut cx).is_pending())
                    && matches!(sender.poll_ready(&mut cx), Poll::Ready(Ok(())))
            }
        }
    }
}

/// A key's idle connections, each with the time it went idle.
type Idle = Vec<(Box<Conn>, Instant)>;

/// Where a connection goes: `https`, and the authority.
type Key = (bool, Authority);

/// One thread's idle connections by scheme and authority, the most recently
/// used last, each with the time it went idle. A list, not a hash map: a
/// worker talks to a few upstreams, and hashing an authority twice a call
/// cost more than comparing it with each.
#[derive(Default)]
struct Pool {
    idle: Vec<(Key, Idle)>,
    /// The runtime whose task closes this pool's idle connections that
    /// the server has closed or that stayed idle too long ([`SWEEP`]).
    sweeper: Option<tokio::runtime::Id>,
}

impl Pool {
    /// Drops the idle connections that are closed or stale; whether any
    /// are left.
    fn sweep(&mut self, now: Instant) -> bool {
        self.idle.retain_mut(|(_, idle)| {
            idle.retain_mut(|(conn, since)| now.duration_since(*since) < IDLE && conn.usable());
            !idle.is_empty()
        });
        !self.idle.is_empty()
    }
}

/// The runtime to sweep idle connections on: one that runs on this thread
/// alone (the ingress's workers). Elsewhere (short-lived commands on a
/// multi-threaded runtime) idle connections are checked when taken.
fn sweeping_runtime() -> Option<tokio::runtime::Handle> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    (runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread).then_some(runtime)
}

/// How long a connection may stay idle in the pool.
const IDLE: Duration = Duration::from_secs(90);

/// How often idle connections are checked: one the server closed is not
/// kept open (in `CLOSE_WAIT`) for longer.
const SWEEP: Duration = Duration::from_secs(1);

/// Idle connections kept per upstream and thread.
const MAX_IDLE: usize = 256;

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("tls", &matches!(self.shared.connector, Connector::Tls(_)))
            .finish_non_exhaustive()
    }
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
            None => HttpClient::of(Connector::Plain(tcp())),
        }
    }

    /// A client using `config` for `https://` URLs (see
    /// [`tls::client_config`]); `http://` URLs stay plaintext. Any ALPN
    /// protocols in `config` are dropped: the client speaks HTTP/1.1.
    pub fn with_tls(mut config: rustls::ClientConfig) -> HttpClient {
        // hyper-rustls sets ALPN from the enabled HTTP versions and panics
        // if it is already set.
        config.alpn_protocols.clear();
        let mut http = tcp();
        http.enforce_http(false);
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        HttpClient::of(Connector::Tls(https))
    }

    fn of(connector: Connector) -> HttpClient {
        HttpClient {
            shared: Arc::new(Shared {
                connector,
                pools: thread_local::ThreadLocal::new(),
            }),
        }
    }

    /// POSTs `body` as JSON with `headers` and reads the whole answer (at
    /// most [`MAX_REPLY`] bytes).
    pub async fn post_json(
        &self,
        url: &Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Answer, UpstreamError> {
        self.send(Method::POST, url, headers, body, &mut |_| true)
            .await
    }

    /// [`HttpClient::post_json`], asking `room` before the answer's bytes
    /// are held, with how many bytes of memory they will take in all (the
    /// declared length first, when there is one); when it says no, the
    /// answer is dropped ([`UpstreamError::NoRoom`]).
    pub async fn post_json_within(
        &self,
        url: &Uri,
        headers: HeaderMap,
        body: Bytes,
        room: &mut (dyn FnMut(u64) -> bool + Send),
    ) -> Result<Answer, UpstreamError> {
        self.send(Method::POST, url, headers, body, room).await
    }

    /// GETs `url` and reads the whole answer.
    pub async fn get(&self, url: &Uri, headers: HeaderMap) -> Result<Answer, UpstreamError> {
        self.send(Method::GET, url, headers, Bytes::new(), &mut |_| true)
            .await
    }

    async fn send(
        &self,
        method: Method,
        url: &Uri,
        headers: HeaderMap,
        body: Bytes,
        room: &mut (dyn FnMut(u64) -> bool + Send),
    ) -> Result<Answer, UpstreamError> {
        let connect_error = |reason: String| UpstreamError::Connect {
            url: url.to_string(),
            reason,
        };
        let (Some(named), Some(https)) = (
            url.authority(),
            match url.scheme_str() {
                Some("http") => Some(false),
                Some("https") => Some(true),
                _ => None,
            },
        ) else {
            return Err(connect_error("not an http:// or https:// URL".into()));
        };
        // As HTTP clients send it: the host, and the port unless it is the
        // scheme's default (never user information).
        // (The authority as it is, in the usual case: no copy.)
        let host: std::borrow::Cow<'_, str> = match named.port_u16() {
            Some(port) if port == if https { 443 } else { 80 } => named.host().into(),
            None => named.host().into(),
            Some(_) if !named.as_str().contains('@') => named.as_str().into(),
            Some(port) => format!("{}:{port}", named.host()).into(),
        };
        // What `HeaderValue` takes (a parsed authority always is).
        if !host.bytes().all(|b| (b >= 32 && b != 127) || b == b'\t') {
            return Err(connect_error(format!("not a header value: {host:?}")));
        }
        let key = (https, named.clone());
        let mut conn = match self.idle(&key) {
            Some(conn) => conn,
            // Boxed: connecting (resolver, TCP, TLS) is most of this
            // future's size, and the rare case.
            None => Box::pin(self.connect(url)).await?,
        };
        if let Conn::Plain(plain) = &mut *conn {
            let target = url.path_and_query().map_or("/", |p| p.as_str());
            let sent = plain
                .send(
                    &method,
                    target,
                    &headers,
                    host.as_bytes(),
                    &body,
                    room,
                    MAX_REPLY,
                )
                .await;
            let url = || url.to_string();
            let answered = sent.map_err(|failure| match failure {
                h1::Failure::Io(reason) => UpstreamError::Failed { url: url(), reason },
                h1::Failure::Invalid(reason) => UpstreamError::Failed {
                    url: url(),
                    reason: reason.to_string(),
                },
                h1::Failure::Broken(reason) => UpstreamError::Broken { url: url(), reason },
                h1::Failure::TooLarge => UpstreamError::TooLarge { url: url() },
                h1::Failure::NoRoom(bytes) => UpstreamError::NoRoom { url: url(), bytes },
            })?;
            self.keep(key, conn);
            return Ok(Answer {
                status: answered.status,
                content_type: answered.content_type,
                body: answered.body,
                retry_after: answered.retry_after,
                not_made: answered.not_made,
            });
        }
        let Conn::Hyper {
            sender,
            conn: driven,
        } = &mut *conn
        else {
            unreachable!("a plain connection was answered above");
        };
        let target = url
            .path_and_query()
            .map_or_else(|| Uri::from_static("/"), |p| Uri::from(p.clone()));
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method.clone();
        *request.uri_mut() = target;
        let head = request.headers_mut();
        *head = headers;
        head.insert(
            http::header::HOST,
            http::HeaderValue::from_str(&host).map_err(|e| connect_error(e.to_string()))?,
        );
        if method == Method::POST {
            head.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
        }
        let failed = |e: hyper::Error| {
            let url = url.to_string();
            let reason = reason(&e);
            // Not sent: refused in the TLS handshake (after TLS 1.3 let the
            // client write), or the connection was closed before it was.
            if handshake_refused(&e) || e.is_canceled() {
                UpstreamError::Connect { url, reason }
            } else {
                UpstreamError::Failed { url, reason }
            }
        };
        let response = {
            let sent = sender.send_request(request);
            drive(driven, sent).await.map_err(failed)?
        };
        let status = response.status();
        let content_type = response.headers().get(http::header::CONTENT_TYPE).cloned();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let not_made = response.headers().contains_key(NOT_MADE);
        let declared = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let too_large = || UpstreamError::TooLarge {
            url: url.to_string(),
        };
        let no_room = |bytes| UpstreamError::NoRoom {
            url: url.to_string(),
            bytes,
        };
        if declared.is_some_and(|n| n > MAX_REPLY as u64) {
            return Err(too_large());
        }
        if let Some(n) = declared
            && !room(n)
        {
            return Err(no_room(n));
        }
        // The answer's bytes are held only once `room` has said yes to
        // them: one chunk (the usual case) as it came, more joined into one
        // buffer that grows to the declared length, or doubles.
        let mut answer = response.into_body();
        let mut first: Option<Bytes> = None;
        let mut joined: Vec<u8> = Vec::new();
        let mut len = 0usize;
        loop {
            let next = drive(driven, async { answer.frame().await.transpose() }).await;
            let Some(frame) = next.map_err(|e| UpstreamError::Broken {
                url: url.to_string(),
                reason: e.to_string(),
            })?
            else {
                break;
            };
            let Ok(chunk) = frame.into_data() else {
                continue; // trailers
            };
            len += chunk.len();
            if len > MAX_REPLY {
                return Err(too_large());
            }
            if first.is_none() && joined.is_empty() {
                if !room(len as u64) {
                    return Err(no_room(len as u64));
                }
                first = Some(chunk);
                continue;
            }
            if len > joined.capacity() {
                let cap = declared
                    .map(|n| n as usize)
                    .filter(|n| *n >= len)
                    .unwrap_or_else(|| len.max(joined.capacity() * 2))
                    .min(MAX_REPLY);
                if !room(cap as u64) {
                    return Err(no_room(cap as u64));
                }
                joined.reserve_exact(cap - joined.len());
            }
            if let Some(first) = first.take() {
                joined.extend_from_slice(&first);
            }
            joined.extend_from_slice(&chunk);
        }
        let body = first.unwrap_or_else(|| Bytes::from(joined));
        self.keep(key, conn);
        Ok(Answer {
            status,
            content_type,
            body,
            retry_after,
            not_made,
        })
    }

    /// This thread's pool.
    fn pool(&self) -> &RefCell<Pool> {
        self.shared.pools.get_or(RefCell::default)
    }

    /// An idle connection to `key` that is still open and ready for a
    /// request; the closed and the stale ones found on the way are dropped.
    fn idle(&self, key: &Key) -> Option<Box<Conn>> {
        let mut pool = self.pool().borrow_mut();
        let (_, idle) = pool.idle.iter_mut().find(|(k, _)| k == key)?;
        let now = Instant::now();
        while let Some((mut conn, since)) = idle.pop() {
            if now.duration_since(since) < IDLE && conn.usable() {
                return Some(conn);
            }
        }
        None
    }

    /// Puts a connection back into this thread's pool, if it may take
    /// another request.
    fn keep(&self, key: Key, mut conn: Box<Conn>) {
        if !conn.usable() {
            return;
        }
        let mut pool = self.pool().borrow_mut();
        let at = match pool.idle.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                pool.idle.push((key, Vec::new()));
                pool.idle.len() - 1
            }
        };
        let idle = &mut pool.idle[at].1;
        if idle.len() >= MAX_IDLE {
            idle.remove(0);
        }
        idle.push((conn, Instant::now()));
        if let Some(runtime) = sweeping_runtime()
            && pool.sweeper != Some(runtime.id())
        {
            pool.sweeper = Some(runtime.id());
            drop(pool);
            self.start_sweeping(&runtime);
        }
    }

    /// Starts the task that sweeps this thread's pool while it holds
    /// connections. It stops when the pool is empty, when the client is
    /// gone, or when it finds itself on another thread; when it stops (or
    /// its runtime ends) the pool's next `keep` starts another.
    fn start_sweeping(&self, runtime: &tokio::runtime::Handle) {
        /// Clears the pool's sweeper when the task ends, however it ends.
        struct Sweeping {
            shared: std::sync::Weak<Shared>,
            runtime: tokio::runtime::Id,
            thread: std::thread::ThreadId,
        }
        impl Drop for Sweeping {
            fn drop(&mut self) {
                if std::thread::current().id() != self.thread {
                    return;
                }
                if let Some(shared) = self.shared.upgrade()
                    && let Some(pool) = shared.pools.get()
                    && let Ok(mut pool) = pool.try_borrow_mut()
                    && pool.sweeper == Some(self.runtime)
                {
                    pool.sweeper = None;
                }
            }
        }
        let sweeping = Sweeping {
            shared: Arc::downgrade(&self.shared),
            runtime: runtime.id(),
            thread: std::thread::current().id(),
        };
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(SWEEP).await;
                if std::thread::current().id() != sweeping.thread {
                    return;
                }
                let Some(shared) = sweeping.shared.upgrade() else {
                    return;
                };
                let Some(pool) = shared.pools.get() else {
                    return;
                };
                if !pool.borrow_mut().sweep(Instant::now()) {
                    return;
                }
            }
        });
    }

    /// Opens a connection for `url` (TCP, then TLS for `https://`).
    async fn connect(&self, url: &Uri) -> Result<Box<Conn>, UpstreamError> {
        let io = match &self.shared.connector {
            Connector::Tls(https) => https.clone().call(url.clone()).await,
            Connector::Plain(http) => http
                .clone()
                .call(url.clone())
                .await
                .map(MaybeHttpsStream::Http)
                .map_err(Into::into),
        };
        let io = io.map_err(|e| {
            let (url, reason) = (url.to_string(), reason(&*e));
            if untrusted(&*e) {
                UpstreamError::Untrusted { url, reason }
            } else {
                UpstreamError::Connect { url, reason }
            }
        })?;
        let io = match io {
            MaybeHttpsStream::Http(tcp) => {
                return Ok(Box::new(Conn::Plain(h1::Conn::new(tcp.into_inner()))));
            }
            tls => tls,
        };
        let (sender, conn) = http1::handshake(io)
            .await
            .map_err(|e| UpstreamError::Connect {
                url: url.to_string(),
                reason: reason(&e),
            })?;
        Ok(Box::new(Conn::Hyper {
            sender,
            conn: Some(conn),
        }))
    }
}

/// Runs `work` (a request sent on `conn`, or its answer's body being read)
/// to its end, polling the connection itself in between: what a connection
/// task would do, in the calling task.
async fn drive<T, E>(
    conn: &mut Option<http1::Connection<Io, Full<Bytes>>>,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(done) = work.as_mut().poll(cx) {
            return Poll::Ready(done);
        }
        if let Some(open) = conn.as_mut()
            && Pin::new(open).poll_without_shutdown(cx).is_ready()
        {
            // The connection has ended. Dropping it cancels a request it
            // had not taken yet, so that `work` ends (with its error)
            // rather than waiting for a connection that is gone.
            *conn = None;
            return work.as_mut().poll(cx);
        }
        Poll::Pending
    })
    .await
}

fn tcp() -> HttpConnector {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(10)));
    connector
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

    /// A plain HTTP/1.1 server answering every request with a small JSON
    /// body; counts connections, and closes each after one answer when
    /// `close_after_one`. Each closed connection is reported on `closed`.
    async fn counting_server(
        close_after_one: bool,
    ) -> (
        std::net::SocketAddr,
        Arc<std::sync::atomic::AtomicUsize>,
        tokio::sync::mpsc::UnboundedReceiver<()>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (closed, closes) = tokio::sync::mpsc::unbounded_channel();
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let closed = closed.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while let Ok(n) = tcp.read(&mut chunk).await {
                        if n == 0 {
                            break;
                        }
                        buffer.extend_from_slice(&chunk[..n]);
                        // A whole request: its head and the 7 bytes of body.
                        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
                            continue;
                        };
                        if buffer.len() < end + 4 + 7 {
                            continue;
                        }
                        buffer.drain(..end + 4 + 7);
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                        if tcp.write_all(answer).await.is_err() || close_after_one {
                            break;
                        }
                    }
                    let _ = tcp.shutdown().await;
                    drop(tcp);
                    let _ = closed.send(());
                });
            }
        });
        (addr, accepted, closes)
    }

    #[tokio::test]
    async fn connections_are_kept_and_used_again() {
        let (addr, accepted, _closes) = counting_server(false).await;
        let client = HttpClient::new();
        let url = format!("http://{addr}/verb");
        for _ in 0..5 {
            let reply = call(&client, &url).await.expect("answer");
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(reply.body, Bytes::from_static(b"{}"));
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_not_used_again() {
        let (addr, accepted, mut closes) = counting_server(true).await;
        let client = HttpClient::new();
        let url = format!("http://{addr}/verb");
        for n in 1..=3 {
            let reply = call(&client, &url).await.expect("answer");
            assert_eq!(reply.status, StatusCode::OK);
            // The server has closed the connection the pool may hold.
            closes.recv().await.expect("closed");
            assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), n);
        }
    }

    #[tokio::test]
    async fn idle_connections_the_server_closes_are_swept() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let (close, closing) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.expect("accept");
            let mut chunk = [0u8; 4096];
            let mut read = Vec::new();
            while !read.windows(4).any(|w| w == b"\r\n\r\n") || !read.ends_with(b"}") {
                let n = tcp.read(&mut chunk).await.expect("read");
                assert!(n > 0, "the client closed first");
                read.extend_from_slice(&chunk[..n]);
            }
            tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                .await
                .expect("write");
            let _ = closing.await;
        });
        let client = HttpClient::new();
        let reply = call(&client, &format!("http://{addr}/verb"))
            .await
            .expect("answer");
        assert_eq!(reply.status, StatusCode::OK);
        let pooled = |client: &HttpClient| -> usize {
            client
                .pool()
                .borrow()
                .idle
                .iter()
                .map(|(_, idle)| idle.len())
                .sum()
        };
        assert_eq!(pooled(&client), 1);
        // The server goes away while the connection is idle; no call comes.
        let _ = close.send(());
        let deadline = Instant::now() + Duration::from_secs(30);
        while pooled(&client) > 0 {
            assert!(
                Instant::now() < deadline,
                "the closed connection is still pooled"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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
