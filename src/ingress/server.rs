//! The ingress's server: worker threads, each a single-threaded tokio
//! runtime accepting on the same listening socket and serving the
//! connections it accepted from start to end (HTTP/1.1 and h2c, or TLS
//! with ALPN); `max-connections` across all of them (a connection beyond
//! it is read for its request line: health probes are answered, anything
//! else gets 503; at most `HEADROOM` such at once), and graceful
//! shutdown (stop accepting, let calls in flight finish, up to 30 s).
//!
//! Why threads of their own and not one multi-threaded runtime: a
//! connection, its calls and its upstream connections then stay on one
//! thread, so a call wakes no other thread on its way (nginx's workers do
//! the same); docs/decisions.md, "The ingress's threads", has the figures.
//! What a request is answered is [`routes`](super::routes)' job.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use tokio::sync::{Semaphore, watch};

use super::conn::{self, ConnSettings};
use super::fast::FastPath;
use super::routes::{self, Peer};
use super::{Ingress, Refusal};
use crate::net::tls::ServerTls;

/// How long in-flight calls may take to finish after shutdown begins.
const DRAIN: Duration = Duration::from_secs(30);

/// Connections beyond `max-connections` handled at once, all workers
/// together: each is read for its request line and answered (`/healthz`
/// and `/readyz` as usual, anything else 503), so that a flood of
/// connections does not fail the health probes. Beyond these, a
/// connection is closed at once.
const HEADROOM: usize = 64;

/// The ingress's worker threads.
#[derive(Clone, Copy, Debug)]
pub struct Workers {
    /// How many (at least one: the calling thread is the first).
    pub count: usize,
    /// Run by each worker when it is about to sleep (the allocator's
    /// memory return).
    pub on_idle: Option<fn()>,
}

/// What every worker shares.
struct Shared {
    ingress: Arc<Ingress>,
    tls: Option<Arc<ServerTls>>,
    /// One permit per open connection, all workers together.
    connections: Arc<Semaphore>,
    /// One permit per connection beyond them being answered ([`HEADROOM`]).
    headroom: Arc<Semaphore>,
    settings: ConnSettings,
}

/// Resolves on Ctrl-C, SIGTERM or SIGHUP. SIGHUP (the terminal closed, or
/// a reload asked for) shuts down gracefully like SIGTERM: `realm serve`
/// reads its configuration at start only, and SIGHUP's default action would
/// end it at once, resetting calls in flight. The handlers are installed
/// when this is called (inside a runtime), before the first call is
/// accepted.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let on = |kind: tokio::signal::unix::SignalKind| {
        let installed = tokio::signal::unix::signal(kind);
        async move {
            match installed {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        }
    };
    #[cfg(unix)]
    let (term, hangup) = (
        on(tokio::signal::unix::SignalKind::terminate()),
        on(tokio::signal::unix::SignalKind::hangup()),
    );
    #[cfg(not(unix))]
    let (term, hangup) = (std::future::pending::<()>(), std::future::pending::<()>());
    async move {
        tokio::select! {
            () = ctrl_c => {},
            () = term => {},
            () = hangup => {},
        }
    }
}

/// Binds the ingress's listening socket: the one place the ingress takes
/// a port (the address it has is `local_addr`, port 0 included).
pub fn bind(addr: std::net::SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    std::net::TcpListener::bind(addr).map_err(|e| {
        let help = match e.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                "another program listens on port {}: stop it, or pick another address with --listen (port 0 takes any free port, e.g. --listen {}:0)",
                addr.port(),
                addr.ip()
            ),
            std::io::ErrorKind::PermissionDenied => format!(
                "ports below 1024 need privileges: pick a higher one with --listen (e.g. --listen {}:8871)",
                addr.ip()
            ),
            std::io::ErrorKind::AddrNotAvailable => {
                "that address is not one of this machine's: use 127.0.0.1, 0.0.0.0 or an address of one of its interfaces".to_string()
            }
            _ => "pick another address with --listen".to_string(),
        };
        anyhow::anyhow!("cannot listen on {addr}: {e}\nhelp: {help}")
    })
}

/// Serves `ingress` on `listener` (with TLS when `tls` is given) with
/// `workers` threads (this one included, which must run a
/// single-threaded runtime) until `shutdown` resolves, then lets
/// in-flight calls finish (up to 30 s).
pub async fn serve(
    ingress: Arc<Ingress>,
    listener: std::net::TcpListener,
    tls: Option<Arc<ServerTls>>,
    workers: Workers,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = ingress.config().limits.clone();
    let shared = Arc::new(Shared {
        tls,
        connections: Arc::new(Semaphore::new(limits.max_connections)),
        headroom: Arc::new(Semaphore::new(HEADROOM)),
        settings: ConnSettings {
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
            write_timeout: limits.request_timeout,
            max_header_size: limits.max_header_size,
            realm: Arc::from(ingress.realm()),
        },
        ingress,
    });
    listener.set_nonblocking(true)?;
    // `stop`: stop accepting and close connections once idle; `done`: all
    // calls have finished (or the drain timed out), workers may end.
    let (stop, stopping) = watch::channel(false);
    let (done, finished) = watch::channel(false);
    let mut threads = Vec::new();
    for n in 1..workers.count.max(1) {
        let listener = listener.try_clone()?;
        let (shared, stopping, mut finished) = (shared.clone(), stopping.clone(), finished.clone());
        let mut runtime = tokio::runtime::Builder::new_current_thread();
        runtime.enable_all();
        if let Some(on_idle) = workers.on_idle {
            runtime.on_thread_park(on_idle);
        }
        let runtime = runtime.build()?;
        let thread = std::thread::Builder::new()
            .name(format!("realm-worker-{n}"))
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => accept(&shared, listener, stopping).await,
                        Err(e) => tracing::error!("worker {n} cannot listen: {e}"),
                    }
                    // Connections run as tasks of this runtime: it must
                    // live until they have finished.
                    let _ = finished.wait_for(|done| *done).await;
                });
            })?;
        threads.push(thread);
    }
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let mut shutdown = std::pin::pin!(shutdown);
    tokio::select! {
        () = accept(&shared, listener, stopping) => {}
        () = &mut shutdown => {}
    }
    shared.ingress.start_draining();
    let _ = stop.send(true);
    // Every connection holds a slot until it ends: all slots back means
    // every call has finished.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN, shared.connections.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "calls still in flight after {}s; stopping anyway",
            DRAIN.as_secs()
        );
    }
    let _ = done.send(true);
    drop(finished);
    for thread in threads {
        let _ = thread.join();
    }
    Ok(())
}

/// One worker's accept loop: serves each connection it accepts as a task
/// of its own runtime, until `stop` turns true.
async fn accept(
    shared: &Arc<Shared>,
    listener: tokio::net::TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of descriptors and the like: wait, do not spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.wait_for(|stop| *stop) => return,
        };
        let _ = stream.set_nodelay(true);
        // Every worker waits on the same socket: after taking one
        // connection, give the others a turn at a burst of new ones.
        tokio::task::yield_now().await;
        let Ok(permit) = shared.connections.clone().try_acquire_owned() else {
            match shared.headroom.clone().try_acquire_owned() {
                Ok(extra) if shared.tls.is_none() => {
                    tokio::spawn(refuse_connection(stream, shared.ingress.clone(), extra));
                }
                // TLS: no handshake is spent on it. No headroom: closed.
                _ => shared.ingress.record_refusal("too_many_connections"),
            }
            continue;
        };
        let (shared, draining) = (shared.clone(), stop.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let settings = &shared.settings;
            match &shared.tls {
                None => {
                    let peer = Arc::new(Peer {
                        addr: Some(addr),
                        tls: false,
                        realms: Arc::from([]),
                    });
                    let fast = (shared.ingress.config().fast_path).then(|| FastPath {
                        ingress: shared.ingress.clone(),
                        peer: peer.clone(),
                    });
                    let service = service(shared.ingress.clone(), peer);
                    conn::serve_plain(stream, service, settings, draining, fast).await;
                }
                Some(tls) => {
                    let accept = tls.acceptor().accept(stream);
                    let stream = match tokio::time::timeout(settings.header_timeout, accept).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(%addr, "TLS handshake failed: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%addr, "TLS handshake timed out");
                            return;
                        }
                    };
                    let session = stream.get_ref().1;
                    let realms = session
                        .peer_certificates()
                        .map(|chain| tls.peer_realms(chain))
                        .unwrap_or_default();
                    let h2 = session.alpn_protocol() == Some(b"h2");
                    let peer = Arc::new(Peer {
                        addr: Some(addr),
                        tls: true,
                        realms: Arc::from(realms),
                    });
                    let service = service(shared.ingress.clone(), peer);
                    conn::serve(stream, h2, service, settings, draining).await;
                }
            }
        });
    }
}

/// The requests of one connection, each answered by [`routes::handle`].
/// A call's future holds the whole course of the call, some kilobytes:
/// boxed, hyper moves a pointer instead of copying it (the copies were 5 %
/// of the ingress's CPU under load).
fn service(ingress: Arc<Ingress>, peer: Arc<Peer>) -> impl conn::Handler {
    hyper::service::service_fn(move |request| {
        let (ingress, peer) = (ingress.clone(), peer.clone());
        Box::pin(async move {
            Ok::<_, std::convert::Infallible>(routes::handle(&ingress, &peer, request).await)
        })
    })
}

/// Answers a plain connection beyond `max-connections`: its request line
/// is read (bounded in bytes and time); a health probe (`GET` or `HEAD` of
/// `/healthz` or `/readyz`) is answered as always, anything else gets 503
/// `too_many_connections` (come back later). The connection is closed
/// after the answer; `_headroom` is held until then.
async fn refuse_connection(
    mut stream: tokio::net::TcpStream,
    ingress: Arc<Ingress>,
    _headroom: tokio::sync::OwnedSemaphorePermit,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let answer = async {
        let mut head = Vec::with_capacity(256);
        let mut chunk = [0u8; 1024];
        while !head.contains(&b'\n') && head.len() < 8192 {
            match stream.read(&mut chunk).await? {
                0 => break,
                n => head.extend_from_slice(&chunk[..n]),
            }
        }
        let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
        let (status, content_type, body, retry) = match health_probe(line) {
            Some((path, head_only)) => {
                let (status, body) = match path {
                    "/readyz" if ingress.is_draining() => (503, &b"draining\n"[..]),
                    "/readyz" => (200, &b"ready\n"[..]),
                    _ => (200, &b"ok\n"[..]),
                };
                let body = if head_only { Vec::new() } else { body.to_vec() };
                (status, "text/plain; charset=utf-8", body, "")
            }
            None => {
                ingress.record_refusal("too_many_connections");
                let max = ingress.config().limits.max_connections;
                let reply = Refusal::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too_many_connections",
                    format!("the ingress has {max} connections open already (`[ingress] max-connections`); try again shortly"),
                )
                .retry_after(Duration::from_secs(1))
                .reply(ingress.realm(), "");
                (
                    503,
                    "application/json",
                    reply.body.to_vec(),
                    "retry-after: 1\r\n",
                )
            }
        };
        let reason = StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{retry}connection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        stream.shutdown().await?;
        // Read what the client sent, so that closing does not reset the
        // connection before it has read the answer; bounded in bytes and
        // time.
        let mut left = 64 << 10;
        while left > 0 {
            match stream.read(&mut chunk).await? {
                0 => break,
                n => left -= n.min(left),
            }
        }
        std::io::Result::Ok(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), answer).await;
}

/// The path of a health probe's request line (`GET /healthz HTTP/1.1`),
/// and whether it is a `HEAD` request.
fn health_probe(line: &[u8]) -> Option<(&'static str, bool)> {
    let mut words = line.trim_ascii_end().split(|b| *b == b' ');
    let head = match words.next()? {
        b"GET" => false,
        b"HEAD" => true,
        _ => return None,
    };
    let path = match words.next()? {
        b"/healthz" => "/healthz",
        b"/readyz" => "/readyz",
        _ => return None,
    };
    words
        .next()
        .is_some_and(|v| v.starts_with(b"HTTP/1."))
        .then_some((path, head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_probes_are_told_by_their_request_line() {
        assert_eq!(
            health_probe(b"GET /healthz HTTP/1.1\r"),
            Some(("/healthz", false))
        );
        assert_eq!(
            health_probe(b"HEAD /readyz HTTP/1.0"),
            Some(("/readyz", true))
        );
        for other in [
            &b"POST /healthz HTTP/1.1"[..],
            b"GET /healthz/x HTTP/1.1",
            b"GET /status HTTP/1.1",
            b"GET /healthz",
            b"",
            b"PRI * HTTP/2.0",
        ] {
            assert_eq!(
                health_probe(other),
                None,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }
}
