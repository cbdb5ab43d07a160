//! One client connection of the ingress, from accept to close: how long it
//! may take to say anything (`header-timeout`), which protocol it speaks
//! (HTTP/1.1, or HTTP/2 by prior knowledge or ALPN), how long it may sit
//! idle between calls (`idle-timeout`) or stall on a reply it does not
//! read (`request-timeout`: per socket write, and per HTTP/2 stream, whose
//! reply a client can stall with flow control alone), and how it ends
//! (idle, drained at shutdown, gone). hyper speaks the protocol; this file
//! decides around it.
//!
//! It also answers in JSON what hyper would refuse on its own: a malformed
//! HTTP/1.1 request head (a broken request line, two `Content-Length`s, an
//! unknown `Transfer-Encoding`, a head beyond the buffer), which hyper
//! answers with a bare status and no hook to change the body, is checked
//! before hyper reads it ([`head_check`]) and read by hyper as a stand-in
//! request that the connection's service answers with the JSON refusal.
//!
//! With `[ingress] fast-path`, a plain connection's HTTP/1.1 requests go
//! to the fast path (`fast`) first; it answers plain calls itself and
//! hands the connection to hyper ([`Rewind`]: the bytes it read first)
//! for anything else, before any of it is forwarded.

/// `AsyncWrite` for a reading wrapper whose writes go straight to its
/// `inner` stream (`Rewind`, `CheckedHeads`).
macro_rules! write_through {
    ($wrapper:ident) => {
        impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for $wrapper<S> {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                self.inner.is_write_vectored()
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_flush(cx)
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
            }
        }
    };
}
use write_through;

mod head_check;
mod rewind;

pub(super) use head_check::digits;

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulConnection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Sleep;

pub(crate) use head_check::MAX_HEADERS;
use head_check::{CheckedHeads, Malformed, Refused};
use rewind::Rewind;

/// What serves a plain connection's HTTP/1.1 requests before hyper: the
/// fast path (`fast`, which names this trait, so that this file needs
/// nothing of it).
pub(crate) trait First: Send + 'static {
    /// Serves the requests at the start of the connection; `None` when the
    /// connection is over, else the bytes read and not answered, which
    /// hyper reads first.
    fn serve<'a>(
        &'a self,
        stream: &'a mut TcpStream,
        settings: &'a ConnSettings,
        drain: &'a mut watch::Receiver<bool>,
    ) -> impl Future<Output = Option<bytes::BytesMut>> + Send + 'a;
}

/// The first bytes of an HTTP/2 connection by prior knowledge.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Timeouts and sizes of a connection.
#[derive(Clone, Debug)]
pub struct ConnSettings {
    /// Time to send the first bytes, then a request's whole head.
    pub header_timeout: Duration,
    /// Time a connection may stay open with no call in flight.
    pub idle_timeout: Duration,
    /// Time a write of a reply may make no progress (the client does not
    /// read).
    pub write_timeout: Duration,
    /// `max-header-size`: hyper's read buffer is twice it, so that the
    /// handler refuses a head beyond it in JSON first.
    pub max_header_size: usize,
    /// This realm's name, for refusals.
    pub realm: Arc<str>,
}

/// A request handler for a connection.
pub trait Handler:
    hyper::service::Service<
        http::Request<Incoming>,
        Response = http::Response<Self::Body>,
        Error = std::convert::Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
    /// The body of its answers.
    type Body: hyper::body::Body<Data = Bytes, Error = std::convert::Infallible> + Send + 'static;
}

impl<T, B> Handler for T
where
    T: hyper::service::Service<
            http::Request<Incoming>,
            Response = http::Response<B>,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static,
    B: hyper::body::Body<Data = Bytes, Error = std::convert::Infallible> + Send + 'static,
{
    type Body = B;
}

/// Serves a plain TCP connection: HTTP/2 when it starts with the HTTP/2
/// preface, HTTP/1.1 otherwise. A connection that sends nothing within
/// `header-timeout` is closed.
/// With `first` (the fast path, `[ingress] fast-path`), HTTP/1.1
/// requests go to it first, and to hyper from the first it does not take.
pub(crate) async fn serve_plain(
    mut stream: TcpStream,
    handler: impl Handler,
    settings: &ConnSettings,
    mut drain: watch::Receiver<bool>,
    first: Option<impl First>,
) {
    let Ok(Some(h2)) = tokio::time::timeout(settings.header_timeout, sniff(&stream)).await else {
        return; // silent, gone, or unreadable
    };
    match first {
        Some(first) if !h2 => {
            if let Some(read) = first.serve(&mut stream, settings, &mut drain).await {
                serve(Rewind::new(read, stream), false, handler, settings, drain).await;
            }
        }
        _ => serve(stream, h2, handler, settings, drain).await,
    }
}

/// Serves a connection whose protocol is known (`h2`: from ALPN, after a
/// TLS handshake).
pub async fn serve<S>(
    io: S,
    h2: bool,
    handler: impl Handler,
    settings: &ConnSettings,
    drain: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    // Why the stand-in of a refused HTTP/1.1 head was read (`head_check`).
    let refused = Arc::new(Refused::default());
    let service = {
        let activity = activity.clone();
        let (refused, realm) = (refused.clone(), settings.realm.clone());
        hyper::service::service_fn(move |request| {
            let call = activity.begin();
            let answer = match refused.stand_in(&request) {
                None => Ok(handler.call(request)),
                Some(why) => Err(malformed(why, &realm)),
            };
            async move {
                let answer = match answer {
                    Ok(answer) => {
                        let Ok(answer) = answer.await;
                        answer.map(Either::Left)
                    }
                    Err(refusal) => refusal,
                };
                drop(call);
                Ok::<_, std::convert::Infallible>(answer)
            }
        })
    };
    if h2 {
        let io = Guarded::new(io, settings.write_timeout);
        let streams = StreamExecutor {
            stall: settings.write_timeout,
            activity: activity.clone(),
        };
        let conn = http2::Builder::new(streams)
            .timer(TokioTimer::new())
            // Fewer streams than hyper's 200: each may buffer a body.
            .max_concurrent_streams(64)
            // Pings, so that dead connections are noticed.
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(10))
            .max_header_list_size(u32::try_from(settings.max_header_size).unwrap_or(u32::MAX))
            .serve_connection(TokioIo::new(io), service);
        drive(conn, &activity, settings, true, drain).await;
    } else {
        // Twice `max-header-size`, so that the handler refuses a head
        // beyond it in JSON first; heads beyond this are refused by
        // `head_check`, with hyper's limits.
        let read_limit = settings.max_header_size.max(8192) * 2;
        let io = CheckedHeads::new(io, read_limit, refused);
        let io = Guarded::new(io, settings.write_timeout);
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_timeout)
            .max_buf_size(read_limit)
            .max_headers(MAX_HEADERS)
            .serve_connection(TokioIo::new(io), service);
        drive(conn, &activity, settings, false, drain).await;
    }
}

/// The answer to the stand-in of a head refused by `head_check`: the
/// ingress's JSON refusal, and the connection closes after it.
fn malformed<B>(why: Malformed, realm: &str) -> http::Response<Either<B, Full<Bytes>>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let reply = why.refusal().reply(realm, &request_id);
    let mut response = http::Response::new(Either::Right(Full::new(reply.body)));
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, reply.content_type);
    if let Ok(id) = http::HeaderValue::from_str(&request_id) {
        headers.insert(super::REQUEST_ID, id);
    }
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    response
}

/// Waits for the first bytes of a connection and tells whether they are
/// HTTP/2's preface; `None` when the peer closed first.
async fn sniff(stream: &TcpStream) -> Option<bool> {
    let mut buf = [0u8; H2_PREFACE.len()];
    loop {
        let n = stream.peek(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        if !H2_PREFACE.starts_with(&buf[..n]) {
            return Some(false);
        }
        if n == H2_PREFACE.len() {
            return Some(true);
        }
        // A prefix of the preface so far: wait for more. Not on
        // `readable()`: a peek leaves the socket readable, so that would
        // return at once and spin a core until the header timeout. A
        // preface split across segments is rare; 5 ms between looks.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Runs a connection until it ends, shutting it down gracefully (calls in
/// flight finish) when it has been idle for `idle-timeout` or the ingress
/// drains. An HTTP/2 connection closed for being idle has no stream left
/// but what h2 still holds of replies whose bodies have ended: it is
/// dropped when they are not written within the write timeout (a client
/// that never reads them, answering pings, would keep it open for ever).
/// HTTP/1.1 replies are watched by [`Guarded`].
async fn drive<C>(
    conn: C,
    activity: &Activity,
    settings: &ConnSettings,
    h2: bool,
    mut drain: watch::Receiver<bool>,
) where
    C: GracefulConnection,
{
    let mut conn = std::pin::pin!(conn);
    if *drain.borrow() {
        conn.as_mut().graceful_shutdown();
    }
    let mut closing = *drain.borrow();
    let mut give_up: Option<Pin<Box<Sleep>>> = None;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            () = activity.idle_for(settings.idle_timeout), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
                if h2 {
                    give_up = Some(Box::pin(tokio::time::sleep(settings.write_timeout)));
                }
            }
            _ = drain.changed(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            () = async { if let Some(at) = give_up.as_mut() { at.await } }, if give_up.is_some() => {
                tracing::debug!("closed an idle connection whose replies were not read");
                return;
            }
        }
    }
}

tokio::task_local! {
    /// When the HTTP/2 stream served by this task last made progress on its
    /// reply (`None`: its reply has not started). Set by the reply body
    /// each time hyper takes a chunk, read by [`StreamExecutor`].
    static REPLY_PROGRESS: Cell<Option<Instant>>;
}

/// Marks progress on the reply of the HTTP/2 stream this task serves (no
/// effect outside such a task: HTTP/1.1 replies are watched by
/// [`Guarded`]).
pub fn reply_progress() {
    let _ = REPLY_PROGRESS.try_with(|at| at.set(Some(Instant::now())));
}

/// Runs hyper's HTTP/2 streams, each as a task with a reply deadline: the
/// write timeout of HTTP/1.1, per stream. A client can stop one stream's
/// reply with flow control (a window of 0) while its connection stays busy
/// answering pings; such a stream, whose reply makes no progress for
/// `stall`, is dropped, which resets it (`RST_STREAM`) and frees its reply
/// and its share of `max-buffered`. A stream is a call in flight of its
/// connection until it ends (its reply written to h2), so that a reply
/// still being sent keeps the connection from being idle.
#[derive(Clone)]
struct StreamExecutor {
    stall: Duration,
    activity: Arc<Activity>,
}

impl<F> hyper::rt::Executor<F> for StreamExecutor
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, stream: F) {
        let (stall, call) = (self.stall, self.activity.begin());
        tokio::spawn(REPLY_PROGRESS.scope(Cell::new(None), async move {
            within_reply_deadline(stream, stall).await;
            drop(call);
        }));
    }
}

/// Runs `stream` until it ends or its reply has made no progress for
/// `stall`; then drops it.
async fn within_reply_deadline<F: Future<Output = ()>>(stream: F, stall: Duration) {
    let mut stream = std::pin::pin!(stream);
    let mut timer: Option<Pin<Box<Sleep>>> = None;
    let finished = std::future::poll_fn(|cx| {
        if stream.as_mut().poll(cx).is_ready() {
            return Poll::Ready(true);
        }
        let Some(last) = REPLY_PROGRESS.try_with(Cell::get).ok().flatten() else {
            return Poll::Pending; // the call is still being answered
        };
        let due = tokio::time::Instant::from_std(last + stall);
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
        if timer.deadline() != due {
            timer.as_mut().reset(due);
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(false),
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
    if !finished {
        tracing::info!(
            "reset an HTTP/2 stream whose client read none of its reply for {} (`[ingress] request-timeout`)",
            crate::duration::format(stall)
        );
    }
}

/// Calls in flight on a connection and when the last one ended.
struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `started` of the last call's start or end.
    last: AtomicU64,
}

/// A call in flight; ends when dropped.
struct CallInFlight(Arc<Activity>);

impl Activity {
    fn new() -> Activity {
        Activity {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn begin(self: &Arc<Self>) -> CallInFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.last.store(self.now(), Ordering::Relaxed);
        CallInFlight(self.clone())
    }

    /// Resolves once no call has been in flight for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let quiet = if self.in_flight.load(Ordering::Relaxed) == 0 {
                Duration::from_millis(self.now().saturating_sub(self.last.load(Ordering::Relaxed)))
            } else {
                Duration::ZERO
            };
            if quiet >= idle {
                return;
            }
            tokio::time::sleep(idle - quiet).await;
        }
    }
}

impl Drop for CallInFlight {
    fn drop(&mut self) {
        self.0.last.store(self.0.now(), Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The connection's socket as hyper sees it: a write that makes no progress
/// for `write_timeout` fails (a client that does not read its reply cannot
/// hold the reply and the connection forever).
struct Guarded<S> {
    inner: S,
    write_timeout: Duration,
    stall: Option<Pin<Box<Sleep>>>,
}

impl<S> Guarded<S> {
    fn new(inner: S, write_timeout: Duration) -> Guarded<S> {
        Guarded {
            inner,
            write_timeout,
            stall: None,
        }
    }

    /// A write is pending: fails once it has been so for `write_timeout`.
    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let timeout = self.write_timeout;
        let stall = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(stall.as_mut().poll(cx));
        self.stall = None;
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client did not read its reply (`[ingress] request-timeout`)",
        )))
    }

    /// The end of a write: pending counts toward the write timeout.
    fn progress<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Pending => self.stalled(cx),
            ready => {
                self.stall = None;
                ready
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.progress(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.progress(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.progress(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
