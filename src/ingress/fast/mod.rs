//! The fast path: plain HTTP/1.1 calls served without hyper's server.
//!
//! A connection of a plain listener that does not start with HTTP/2's
//! preface comes here first (`[ingress] fast-path = true`). Each request
//! is read into one buffer of the connection and looked at with httparse
//! ([`parse`]): a plain call (`POST /realms/...`, a `Content-Length` body
//! within the limits, nothing unusual; `parse` says exactly what) whose
//! head and body all came with the read that brought its first bytes,
//! and nothing after it (one request at a time), is answered here;
//! anything else, a head or body still to come, or any doubt, hands the
//! connection to hyper with every byte
//! read and not yet answered (`conn::Rewind`), before anything of it has
//! been forwarded, and hyper serves the rest of the connection as without
//! the fast path, refusals included.
//!
//! What a call is answered is decided by the same code as hyper's calls:
//! `routes::call` (head size, request id, trace, body limits and budget,
//! authorization, route, forward, access log, metrics) with the body as a
//! whole; only the request's head is read here and the answer's head
//! written here ([`write`], byte for byte as hyper writes it).
//!
//! The fast path never waits within a request: a connection with nothing
//! in its buffer is closed after `idle-timeout` (or at once when the
//! ingress drains); a request not whole after one read goes to hyper,
//! which keeps `header-timeout` and `request-timeout` and counts the body
//! in `max-buffered` as it comes (a client that sends a byte at a time
//! gains nothing here); a write of an answer that makes no progress for
//! `request-timeout` closes the connection.

pub(crate) mod parse;
pub(crate) mod write;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Ingress;
use super::conn::{ConnSettings, First};
use super::routes::{self, Peer};
use parse::{Limits, Parsed};

/// The least room made for a read.
const READ_SIZE: usize = 16 << 10;
/// An idle timeout too long to be a time: a year, then looked at again.
const FAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// The fast path of a connection: its ingress and peer.
pub(crate) struct FastPath {
    pub ingress: Arc<Ingress>,
    pub peer: Arc<Peer>,
}

impl First for FastPath {
    async fn serve(
        &self,
        stream: &mut TcpStream,
        settings: &ConnSettings,
        drain: &mut watch::Receiver<bool>,
    ) -> Option<BytesMut> {
        match serve(stream, &self.ingress, &self.peer, settings, drain).await {
            Ended::Closed => None,
            Ended::Hyper(read) => Some(read),
        }
    }
}

/// How a connection's fast path ended.
enum Ended {
    /// The connection is over.
    Closed,
    /// Hyper serves the rest: these bytes first, then the socket's.
    Hyper(BytesMut),
}

/// Serves the plain calls at the start of a connection and of each
/// request after them, until the connection ends or hyper is to take it.
async fn serve(
    stream: &mut TcpStream,
    ingress: &Ingress,
    peer: &Peer,
    settings: &ConnSettings,
    drain: &mut watch::Receiver<bool>,
) -> Ended {
    let limits = Limits {
        max_header_size: settings.max_header_size,
        max_body_size: ingress.config().limits.max_body_size,
    };
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    let mut out = Vec::with_capacity(1024);
    // The idle timeout, lazily: one timer for the connection, put off when
    // it fires while calls came (a timer set and cleared a call costs more
    // than reading the clock).
    let idle = tokio::time::sleep(settings.idle_timeout);
    let mut idle = std::pin::pin!(idle);
    loop {
        // A whole plain call, or the end.
        let plain = loop {
            if !buf.is_empty() {
                match parse::plain_call(&buf, limits) {
                    // A request not whole after the read that brought its
                    // first bytes goes to hyper, which times its head and
                    // body, and counts the body in `max-buffered` as it
                    // comes: the fast path never waits within a request.
                    Parsed::Hyper | Parsed::Partial => return Ended::Hyper(buf),
                    Parsed::Call(plain) => {
                        let whole = plain.head_len + plain.body_len;
                        if buf.len() == whole {
                            // What follows at once, more bytes (pipelined)
                            // or the end of the stream, goes to hyper with
                            // the call: hyper drops a call whose client
                            // closed its side before the answer.
                            buf.reserve(READ_SIZE);
                            match stream.try_read_buf(&mut buf) {
                                Ok(_) => return Ended::Hyper(buf),
                                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                    break plain;
                                }
                                Err(_) => return Ended::Closed,
                            }
                        }
                        // Pipelined, or a body still to come.
                        return Ended::Hyper(buf);
                    }
                }
            } else if *drain.borrow() {
                return Ended::Closed;
            }
            // The buffer is empty here: between requests.
            buf.reserve(READ_SIZE);
            let waiting = Instant::now();
            let read = loop {
                tokio::select! {
                    read = stream.read_buf(&mut buf) => break read,
                    _ = drain.wait_for(|d| *d) => return Ended::Closed,
                    () = &mut idle => match waiting.checked_add(settings.idle_timeout) {
                        Some(due) if Instant::now() >= due => return Ended::Closed,
                        Some(due) => idle.as_mut().reset(due),
                        None => idle.as_mut().reset(Instant::now() + FAR),
                    },
                }
            };
            match read {
                Ok(0) | Err(_) => return Ended::Closed,
                Ok(_) => {}
            }
        };
        let Some([realm, module, verb]) = parse::segments(plain.parts.uri.path()) else {
            return Ended::Hyper(buf); // cannot be: `parse` checked them
        };
        let message = buf.split().freeze();
        let body = Full::new(message.slice(plain.head_len..));
        let call = routes::call(ingress, peer, &plain.parts, body, [&realm, &module, &verb]);
        let mut call = std::pin::pin!(call);
        // As hyper does: while the call is answered, the end of the stream
        // drops it and closes; bytes that come (the next request) are kept
        // and not looked at until the answer is written.
        let response = loop {
            tokio::select! {
                biased;
                response = &mut call => break response,
                ready = stream.readable(), if buf.is_empty() => {
                    if ready.is_err() {
                        return Ended::Closed;
                    }
                    match stream.try_read_buf(&mut buf) {
                        Ok(0) => return Ended::Closed,
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => return Ended::Closed,
                    }
                }
            }
        };
        drop(message);
        let close = *drain.borrow();
        let (head, mut reply) = response.into_parts();
        // One piece over HTTP/1.1 (`response::ReplyBody`).
        let data = match reply.frame().await {
            Some(Ok(frame)) => frame.into_data().unwrap_or_default(),
            _ => Bytes::new(),
        };
        out.clear();
        let with_body = write::head(head.status, &head.headers, data.len(), close, &mut out);
        if with_body {
            out.extend_from_slice(&data);
        }
        if !write_all(stream, &out, settings.write_timeout).await || close {
            return Ended::Closed;
        }
        // The reply's share of `max-buffered` is held until it is written.
        drop(reply);
        if out.capacity() > 64 << 10 {
            out = Vec::with_capacity(1024);
        }
    }
}

/// Writes `bytes`; false when the client went away or did not read for
/// `timeout`.
async fn write_all(stream: &mut TcpStream, bytes: &[u8], timeout: Duration) -> bool {
    let mut at = 0;
    while at < bytes.len() {
        match tokio::time::timeout(timeout, stream.write(&bytes[at..])).await {
            Ok(Ok(n)) if n > 0 => at += n,
            _ => return false,
        }
    }
    true
}
