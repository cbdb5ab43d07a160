//! HTTP/1.1 request heads checked before hyper reads them, so that what
//! hyper would refuse on its own is refused in JSON.
//!
//! hyper answers a head it cannot parse (a broken request line or header
//! line, two different `Content-Length`s, a `Transfer-Encoding` that does
//! not end in `chunked`, a head beyond its buffer) with a bare status and
//! no hook to change the body. [`CheckedHeads`] stands between the socket
//! and hyper: it reads each head itself, checks it with hyper's own parser
//! (httparse, hyper's configuration, the same limits) and hyper's rules
//! after it, and hands hyper the bytes of a head that passes unchanged. A
//! head that fails never reaches hyper: in its place hyper reads a
//! stand-in request ([`stand_in`]) that the connection's service answers
//! with the ingress's JSON refusal (`conn.rs`), so hyper writes that
//! answer as any other, in order after the answers before it, and closes
//! the connection. Nothing parses what hyper writes.
//!
//! To find the next head of a kept-alive connection, the bytes of each
//! message's body are followed as hyper's decoder reads them: a
//! `Content-Length` is counted, a chunked body's framing is followed byte
//! by byte (no buffer: chunk data is skipped by its size). Where the
//! framing breaks, hyper fails the body and reads no further head, so the
//! rest of the connection is handed on unchecked.
//!
//! Heads are read straight into hyper's buffer and checked there; only a
//! head that arrives in pieces is gathered in a buffer of its own (at most
//! hyper's limit).

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, ready};

use http::StatusCode;
use tokio::io::{AsyncRead, ReadBuf};

use crate::ingress::Refusal;

/// The most header lines a head may have: hyper's default, set on hyper's
/// builder from here so that both count the same.
pub(crate) const MAX_HEADERS: usize = 100;

/// hyper's longest request target (`MAX_URI_LEN` in `proto/h1/role.rs`).
const MAX_URI_LEN: usize = u16::MAX as usize - 1;

/// hyper's longest header name (`record_header_indices`).
const MAX_HEADER_NAME_LEN: usize = 1 << 16;

/// hyper's largest body length (`MAX_LEN` in `body/length.rs`).
const MAX_BODY_LEN: u64 = u64::MAX - 2;

/// The method of the stand-in request.
pub(super) const STAND_IN_METHOD: &str = "REALM-REFUSED";

/// What hyper reads in place of a refused head: a request without a body
/// that closes the connection.
/// Its target is a random path of the connection's ([`Refused`]), so a
/// client's own request of that method is never taken for it, however it
/// is pipelined.
fn stand_in(target: &str) -> Vec<u8> {
    format!("{STAND_IN_METHOD} {target} HTTP/1.1\r\nconnection: close\r\n\r\n").into_bytes()
}

/// How much of a head in pieces is read at once.
const READ_CHUNK: usize = 8 << 10;

/// Why a head is refused: hyper's three automatic answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Malformed {
    /// 400: the request line, a header line, `Content-Length` or
    /// `Transfer-Encoding`.
    Request = 1,
    /// 431: beyond the buffer, more than [`MAX_HEADERS`] headers, a header
    /// name or body length beyond hyper's.
    TooLarge = 2,
    /// 414: a request target beyond hyper's.
    UriTooLong = 3,
}

impl Malformed {
    fn from_u8(n: u8) -> Option<Malformed> {
        match n {
            1 => Some(Malformed::Request),
            2 => Some(Malformed::TooLarge),
            3 => Some(Malformed::UriTooLong),
            _ => None,
        }
    }

    /// The ingress's refusal.
    pub(super) fn refusal(self) -> Refusal {
        match self {
            Malformed::TooLarge => Refusal::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                "the request line and headers are larger than the ingress reads (`[ingress] max-header-size`)",
            ),
            Malformed::UriTooLong => Refusal::new(
                StatusCode::URI_TOO_LONG,
                "uri_too_long",
                "the request's URI is too long",
            ),
            Malformed::Request => Refusal::new(
                StatusCode::BAD_REQUEST,
                "malformed_request",
                "the request is not well-formed HTTP/1.1: check the request line, the header syntax, Content-Length (one, a number) and Transfer-Encoding (chunked only)",
            ),
        }
    }
}

/// Why a connection's stand-in request was read: set by [`CheckedHeads`]
/// before hyper reads it, read by the connection's service.
#[derive(Debug)]
pub(super) struct Refused {
    why: AtomicU8,
    /// The stand-in's target: `/` and 128 random bits, this connection's.
    target: String,
}

impl Default for Refused {
    fn default() -> Refused {
        Refused {
            why: AtomicU8::new(0),
            target: format!("/{}", uuid::Uuid::new_v4().simple()),
        }
    }
}

impl Refused {
    fn set(&self, why: Malformed) {
        self.why.store(why as u8, Ordering::Relaxed);
    }

    /// Why `request` was refused, when it is the stand-in of a refused
    /// head (a client's own request of that method is not: its target is
    /// not the connection's random one, and it goes to the handler as
    /// usual, wherever it is pipelined).
    pub(super) fn stand_in<B>(&self, request: &http::Request<B>) -> Option<Malformed> {
        if request.method().as_str() != STAND_IN_METHOD || request.uri().path() != self.target {
            return None;
        }
        Malformed::from_u8(self.why.load(Ordering::Relaxed))
    }
}

/// A head checked: incomplete, refused, or good with the length of its
/// body.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    Partial,
    Refused(Malformed),
    Good { len: usize, body: Body },
}

#[derive(Debug, PartialEq, Eq)]
enum Body {
    Length(u64),
    Chunked,
}

/// Checks the head at the start of `bytes` as hyper's server does
/// (`Server::parse` in `proto/h1/role.rs`, hyper 1.x), in its order.
fn check_head(bytes: &[u8]) -> Head {
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut request,
        bytes,
        &mut headers,
    ) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Head::Partial,
        Err(httparse::Error::TooManyHeaders) => return Head::Refused(Malformed::TooLarge),
        Err(_) => return Head::Refused(Malformed::Request),
    };
    let (Some(method), Some(path), Some(version)) = (request.method, request.path, request.version)
    else {
        return Head::Refused(Malformed::Request);
    };
    if path.len() > MAX_URI_LEN {
        return Head::Refused(Malformed::UriTooLong);
    }
    if http::Method::from_bytes(method.as_bytes()).is_err() {
        return Head::Refused(Malformed::Request);
    }
    if request
        .headers
        .iter()
        .any(|h| h.name.len() >= MAX_HEADER_NAME_LEN)
    {
        return Head::Refused(Malformed::TooLarge);
    }
    if http::Uri::try_from(path.as_bytes()).is_err() {
        return Head::Refused(Malformed::Request);
    }
    // The body's length: RFC 9112 6.3 as hyper reads it. A
    // `Transfer-Encoding` makes any `Content-Length` void, before or after
    // it; each `Transfer-Encoding` line replaces the one before.
    // (With both, hyper closes the connection after the call: no head
    // follows.)
    let mut transfer_encoding = false;
    let mut chunked = false;
    let mut length: Option<u64> = None;
    for header in request.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            if version == 0 {
                return Head::Refused(Malformed::Request);
            }
            transfer_encoding = true;
            length = None;
            chunked = ends_in_chunked(header.value);
        } else if header.name.eq_ignore_ascii_case("content-length") {
            if transfer_encoding {
                continue;
            }
            let Some(n) = digits(header.value) else {
                return Head::Refused(Malformed::Request);
            };
            match length {
                Some(before) if before != n => return Head::Refused(Malformed::Request),
                Some(_) => {}
                None if n > MAX_BODY_LEN => return Head::Refused(Malformed::TooLarge),
                None => length = Some(n),
            }
        }
    }
    if transfer_encoding && !chunked {
        return Head::Refused(Malformed::Request);
    }
    let body = if transfer_encoding {
        Body::Chunked
    } else {
        Body::Length(length.unwrap_or(0))
    };
    Head::Good { len, body }
}

/// hyper's `headers::is_chunked_`: the value is visible ASCII and its last
/// coding is `chunked`.
fn ends_in_chunked(value: &[u8]) -> bool {
    if !value.iter().all(|&b| (32..127).contains(&b) || b == b'\t') {
        return false;
    }
    let last = value.rsplit(|&b| b == b',').next().unwrap_or(value);
    last.trim_ascii().eq_ignore_ascii_case(b"chunked")
}

/// A `Content-Length` as hyper reads one (`headers::from_digits`):
/// decimal digits only, no sign, no overflow. The fast path reads it so too.
pub(in crate::ingress) fn digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// Where a connection's bytes are, message by message.
#[derive(Debug)]
pub(super) struct Framing {
    at: At,
    /// hyper's read buffer: a head must be complete within it.
    limit: usize,
}

#[derive(Debug, PartialEq, Eq)]
enum At {
    /// The next byte starts a head.
    Head,
    /// So many bytes of a body are still to come.
    Length(u64),
    /// In a chunked body.
    Chunked(Chunk),
    /// Not followed any more: hyper reads no further head.
    Through,
}

/// What [`Framing::pass`] found: the first `go` bytes may go to hyper;
/// `then` says what the rest is.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Pass {
    pub go: usize,
    pub then: Then,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Then {
    /// The rest (maybe nothing) is the start of a head not yet complete:
    /// pass it again with the bytes that follow.
    More,
    /// The rest starts a head hyper would refuse.
    Refuse(Malformed),
}

impl Framing {
    pub(super) fn new(limit: usize) -> Framing {
        Framing {
            at: At::Head,
            limit,
        }
    }

    /// Follows `bytes`, which come after everything passed before (and
    /// start with the unfinished head the last pass left, if any).
    pub(super) fn pass(&mut self, bytes: &[u8]) -> Pass {
        let mut at = 0;
        loop {
            let rest = &bytes[at..];
            match &mut self.at {
                At::Through => return Pass::more(bytes.len()),
                At::Head => {
                    if rest.is_empty() {
                        return Pass::more(at);
                    }
                    match check_head(&rest[..rest.len().min(self.limit)]) {
                        Head::Partial if rest.len() >= self.limit => {
                            return Pass::refuse(at, Malformed::TooLarge);
                        }
                        Head::Partial => return Pass::more(at),
                        Head::Refused(why) => return Pass::refuse(at, why),
                        Head::Good { len, body } => {
                            at += len;
                            self.at = match body {
                                Body::Length(0) => At::Head,
                                Body::Length(n) => At::Length(n),
                                Body::Chunked => At::Chunked(Chunk::default()),
                            };
                        }
                    }
                }
                At::Length(left) => {
                    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(rest.len());
                    at += n;
                    *left -= n as u64;
                    if *left > 0 {
                        return Pass::more(at);
                    }
                    self.at = At::Head;
                }
                At::Chunked(chunk) => {
                    let (n, end) = chunk.follow(rest);
                    at += n;
                    match end {
                        None => return Pass::more(at),
                        Some(true) => self.at = At::Head,
                        Some(false) => self.at = At::Through,
                    }
                }
            }
        }
    }
}

impl Pass {
    fn more(go: usize) -> Pass {
        Pass {
            go,
            then: Then::More,
        }
    }

    fn refuse(go: usize, why: Malformed) -> Pass {
        Pass {
            go,
            then: Then::Refuse(why),
        }
    }
}

/// A chunked body as hyper's decoder reads it (`ChunkedState` in
/// `proto/h1/decode.rs`): the same states and the same bytes refused; its
/// limits (extension and trailer bytes, trailer count) are not kept, as a
/// body hyper fails ends the connection either way.
#[derive(Debug, Default, PartialEq, Eq)]
struct Chunk {
    state: ChunkState,
    size: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Start,
    Size,
    SizeLws,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    Trailer,
    TrailerLf,
    EndCr,
    EndLf,
}

impl Chunk {
    /// Follows `bytes`: how many belong to the body, and whether it ended
    /// (`Some(true)`), broke (`Some(false)`, hyper fails it) or goes on.
    fn follow(&mut self, bytes: &[u8]) -> (usize, Option<bool>) {
        use ChunkState::*;
        let mut at = 0;
        while at < bytes.len() {
            if self.state == Data {
                let n = usize::try_from(self.size)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len() - at);
                at += n;
                self.size -= n as u64;
                if self.size == 0 {
                    self.state = DataCr;
                }
                continue;
            }
            let b = bytes[at];
            at += 1;
            let hex = (b as char).to_digit(16).map(u64::from);
            self.state = match (self.state, b) {
                (Start | Size, _) if hex.is_some() => {
                    let Some(size) = self
                        .size
                        .checked_mul(16)
                        .and_then(|s| s.checked_add(hex.unwrap_or(0)))
                    else {
                        return (at, Some(false));
                    };
                    self.size = size;
                    Size
                }
                (Size | SizeLws, b'\t' | b' ') => SizeLws,
                (Size | SizeLws, b';') => Extension,
                (Size | SizeLws | Extension, b'\r') => SizeLf,
                (Extension, b'\n') => return (at, Some(false)),
                (Extension, _) => Extension,
                (SizeLf, b'\n') if self.size == 0 => EndCr,
                (SizeLf, b'\n') => Data,
                (DataCr, b'\r') => DataLf,
                (DataLf, b'\n') => {
                    self.size = 0;
                    Start
                }
                (EndCr, b'\r') => EndLf,
                (Trailer, b'\r') => TrailerLf,
                (EndCr | Trailer, _) => Trailer,
                (TrailerLf, b'\n') => EndCr,
                (EndLf, b'\n') => return (at, Some(true)),
                _ => return (at, Some(false)),
            };
        }
        (at, None)
    }
}

/// A connection's socket as hyper's HTTP/1.1 side reads it: only heads
/// that passed [`check_head`] and the bodies after them; a refused head is
/// read as the stand-in ([`stand_in`]), after which nothing more is read. Writes go
/// straight through.
pub(super) struct CheckedHeads<S> {
    inner: S,
    framing: Framing,
    /// Bytes read and not yet handed to hyper: checked ones first, then
    /// the start of a head not yet complete.
    held: Vec<u8>,
    /// How many bytes at the start of `held` are checked.
    checked: usize,
    refused: Arc<Refused>,
    /// The stand-in is read: hyper reads nothing more.
    done: bool,
}

impl<S> CheckedHeads<S> {
    /// `limit`: hyper's read buffer (`max_buf_size`).
    pub(super) fn new(inner: S, limit: usize, refused: Arc<Refused>) -> CheckedHeads<S> {
        CheckedHeads {
            inner,
            framing: Framing::new(limit),
            held: Vec::new(),
            checked: 0,
            refused,
            done: false,
        }
    }

    /// Puts the stand-in after the checked bytes of `held`, in place of
    /// the refused head.
    fn refuse(&mut self, why: Malformed) {
        tracing::debug!(?why, "refused a malformed HTTP/1.1 request head");
        self.held.truncate(self.checked);
        self.held.extend_from_slice(&stand_in(&self.refused.target));
        self.checked = self.held.len();
        self.refused.set(why);
        self.done = true;
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CheckedHeads<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.checked > 0 {
                let n = this.checked.min(buf.remaining());
                buf.put_slice(&this.held[..n]);
                this.held.drain(..n);
                this.checked -= n;
                return Poll::Ready(Ok(()));
            }
            if this.done {
                // The stand-in's answer closes the connection; an end of
                // the stream now would make hyper drop it unwritten.
                return Poll::Pending;
            }
            if this.held.is_empty() {
                // Straight into hyper's buffer, checked there.
                let start = buf.filled().len();
                ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
                let read = buf.filled().len() - start;
                if read == 0 {
                    return Poll::Ready(Ok(())); // the end of the stream
                }
                let pass = this.framing.pass(&buf.filled()[start..]);
                // What does not go on now is the start of a head.
                this.held
                    .extend_from_slice(&buf.filled()[start + pass.go..]);
                buf.set_filled(start + pass.go);
                if let Then::Refuse(why) = pass.then {
                    this.refuse(why);
                }
                if pass.go > 0 {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            // The start of a head is held: read the rest of it.
            let old = this.held.len();
            let room = this.framing.limit.saturating_sub(old).min(READ_CHUNK);
            if room == 0 {
                // Cannot happen: a pass refuses a head that fills the limit.
                this.refuse(Malformed::TooLarge);
                continue;
            }
            this.held.resize(old + room, 0);
            let mut into = ReadBuf::new(&mut this.held[old..]);
            let polled = Pin::new(&mut this.inner).poll_read(cx, &mut into);
            let read = into.filled().len();
            this.held.truncate(old + read);
            ready!(polled)?;
            if read == 0 {
                // The end of the stream within a head: hyper gets the
                // unfinished head (nothing in it is refused so far), then
                // the end, as without the check. With a head in its
                // buffer, hyper still answers the call before it.
                this.checked = this.held.len();
                continue;
            }
            let pass = this.framing.pass(&this.held);
            this.checked = pass.go;
            if let Then::Refuse(why) = pass.then {
                this.refuse(why);
            }
        }
    }
}

super::write_through!(CheckedHeads);

#[cfg(test)]
mod tests {
    use super::*;

    fn check(head: &str) -> Head {
        check_head(head.as_bytes())
    }

    #[test]
    fn heads_are_refused_as_hyper_refuses_them() {
        let bad = Head::Refused(Malformed::Request);
        for head in [
            "GARBAGE\r\n\r\n",
            "GET / HTTP/1.1\r\nbad header\r\n\r\n",
            "GET / HTTP/1.1\r\nx: a\x01b\r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "GET /a b HTTP/1.1\r\n\r\n",
            "GET http://[::1 HTTP/1.1\r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: 5, 5\r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: +5\r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: 99999999999999999999\r\n\r\n",
            "POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n",
            "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ntransfer-encoding: gzip\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            "POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n",
        ] {
            assert_eq!(check(head), bad, "{head:?}");
        }
        assert_eq!(
            check("POST / HTTP/1.1\r\ncontent-length: 18446744073709551614\r\n\r\n"),
            Head::Refused(Malformed::TooLarge)
        );
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "x: y\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(check(&many), Head::Refused(Malformed::TooLarge));
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_URI_LEN));
        assert_eq!(check(&long), Head::Refused(Malformed::UriTooLong));
    }

    #[test]
    fn heads_hyper_reads_pass_with_their_body_length() {
        let good = |head: &str, body: Body| {
            assert_eq!(
                check(head),
                Head::Good {
                    len: head.len(),
                    body
                },
                "{head:?}"
            );
        };
        good("GET / HTTP/1.1\r\n\r\n", Body::Length(0));
        good(
            "\r\nGET /a?b=c HTTP/1.0\r\nhost: x\r\n\r\n",
            Body::Length(0),
        );
        good(
            "POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n",
            Body::Length(5),
        );
        good(
            "POST / HTTP/1.1\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n",
            Body::Chunked,
        );
        good(
            "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: x\r\n\r\n",
            Body::Chunked,
        );
        good(
            "POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\nTransfer-Encoding: gzip,  Chunked \r\n\r\n",
            Body::Chunked,
        );
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "x: y\r\n".repeat(MAX_HEADERS));
        good(&many, Body::Length(0));
        assert_eq!(check("GET / HTTP/1.1\r\nhost: x\r\n"), Head::Partial);
        assert_eq!(check("GE"), Head::Partial);
    }

    /// Passes `bytes` in pieces of `piece` bytes as [`CheckedHeads`] does:
    /// what goes on, and the refusal at the end, if any.
    fn pass_in_pieces(bytes: &[u8], piece: usize, limit: usize) -> (Vec<u8>, Option<Malformed>) {
        let mut framing = Framing::new(limit);
        let (mut went, mut held) = (Vec::new(), Vec::new());
        for chunk in bytes.chunks(piece) {
            held.extend_from_slice(chunk);
            let pass = framing.pass(&held);
            went.extend(held.drain(..pass.go));
            if let Then::Refuse(why) = pass.then {
                return (went, Some(why));
            }
        }
        (went, None)
    }

    #[test]
    fn kept_alive_requests_are_followed_to_each_head_in_any_pieces() {
        let good = concat!(
            "POST /a HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello",
            "GET /b HTTP/1.1\r\n\r\n",
            "POST /c HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n",
            "5;ext=1\r\nhello\r\n1A \r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-trailer: 1\r\n\r\n",
            "POST /d HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        );
        let bad = "GET /e HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n";
        let stream = format!("{good}{bad}GET /f HTTP/1.1\r\n\r\n");
        for piece in 1..=stream.len() {
            let (went, refused) = pass_in_pieces(stream.as_bytes(), piece, 8192);
            assert_eq!(went, good.as_bytes(), "pieces of {piece}");
            assert_eq!(refused, Some(Malformed::Request), "pieces of {piece}");
        }
    }

    #[test]
    fn a_head_beyond_the_limit_is_refused_and_one_within_it_passes() {
        let head = format!("GET / HTTP/1.1\r\nx: {}\r\n\r\n", "a".repeat(100));
        let (went, refused) = pass_in_pieces(head.as_bytes(), 7, head.len());
        assert_eq!((went.len(), refused), (head.len(), None));
        let (went, refused) = pass_in_pieces(head.as_bytes(), 7, head.len() - 1);
        assert_eq!((went.len(), refused), (0, Some(Malformed::TooLarge)));
    }

    #[test]
    fn a_broken_chunked_body_is_not_followed_further() {
        for body in [
            "x\r\n",
            "5\r\nhelloX",
            "5;a\nb\r\n",
            "5 5\r\n",
            "0\r\n\rX",
            "0\r\nx: y\rX",
            "10000000000000000\r\n",
        ] {
            let stream = format!(
                "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n{body}GARBAGE\r\n\r\n"
            );
            let (went, refused) = pass_in_pieces(stream.as_bytes(), stream.len(), 8192);
            assert_eq!((went.len(), refused), (stream.len(), None), "{body:?}");
        }
    }
}
