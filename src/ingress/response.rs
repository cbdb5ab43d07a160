//! The HTTP response of what the ingress answers: [`ReplyBody`], the body
//! that holds its call's share of `max-buffered` until it is written, and
//! the response of a [`Reply`] (status, content type, `x-request-id`,
//! `Retry-After`), of plain text, and of `HEAD`.
//!
//! Builds values for hyper, no I/O; never decides what is answered
//! (`routes`, `verb_service` do). Below every module that answers
//! requests, so that those and the connection code (`conn`, which names
//! [`Response`]) need nothing of each other.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use hyper::body::{Frame, SizeHint};

use super::REQUEST_ID;
use super::budget::Share;
use super::reply::Reply;

/// What the ingress answers.
pub type Response = http::Response<ReplyBody>;

/// The body of an answer: one buffer, holding its call's share of the
/// budget of buffered bytes until hyper has written it (or dropped it: the
/// client went away, or its HTTP/2 stream was reset for not reading).
///
/// Over HTTP/1.1 the buffer goes to hyper whole. Over HTTP/2 it goes in
/// copied pieces of [`H2_PIECE`] bytes, one each time hyper has room for
/// more on the stream: the reply stays here (counted) until it is sent, each
/// piece taken marks progress for the stream's reply deadline (the mark
/// `routes` gives, `conn::reply_progress`), and what h2 may still hold of a
/// stream once its body has ended is one small piece, not the whole reply.
pub struct ReplyBody {
    data: Option<Bytes>,
    /// Pieces of at most this many bytes (HTTP/2), or the whole (`None`).
    pieces: Option<Pieces>,
    /// Sent after the data (gRPC's status).
    trailers: Option<HeaderMap>,
    _share: Share,
}

/// How an HTTP/2 reply goes out: its piece size, and what marks progress.
#[derive(Clone, Copy)]
struct Pieces {
    size: usize,
    progress: fn(),
}

/// The size of the pieces of an HTTP/2 reply: h2's default frame size.
pub(super) const H2_PIECE: usize = 16 << 10;

impl ReplyBody {
    fn new(data: Bytes, share: Share) -> ReplyBody {
        ReplyBody::with_trailers(data, None, share)
    }

    pub(super) fn with_trailers(
        data: Bytes,
        trailers: Option<HeaderMap>,
        share: Share,
    ) -> ReplyBody {
        ReplyBody {
            data: (!data.is_empty()).then_some(data),
            pieces: None,
            trailers,
            _share: share,
        }
    }

    /// Sends the body in copied pieces of `size` bytes (HTTP/2), calling
    /// `progress` as each is taken.
    pub(super) fn in_pieces(&mut self, size: usize, progress: fn()) {
        self.pieces = Some(Pieces { size, progress });
    }
}

impl hyper::body::Body for ReplyBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let Some(data) = self.data.take() else {
            return Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))));
        };
        let Some(pieces) = self.pieces else {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        };
        (pieces.progress)();
        let n = data.len().min(pieces.size);
        let taken = Bytes::copy_from_slice(&data[..n]);
        if n < data.len() {
            self.data = Some(data.slice(n..));
        }
        Poll::Ready(Some(Ok(Frame::data(taken))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

/// A response to `HEAD`: the length the body has, no body. hyper leaves
/// the body out of HTTP/1.1 answers to `HEAD` itself, but not of HTTP/2
/// ones.
pub(super) fn without_body(mut response: Response) -> Response {
    let len = response.body().data.as_ref().map_or(0, Bytes::len);
    response
        .headers_mut()
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    response.body_mut().data = None;
    response
}

/// A plain-text answer.
pub(super) fn text(status: StatusCode, body: impl Into<Bytes>) -> Response {
    let mut response = http::Response::new(ReplyBody::new(body.into(), Share::default()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The HTTP response of `reply`.
pub(super) fn respond(reply: Reply, request_id: &str) -> Response {
    self::reply(reply, request_id, Share::default())
}

/// The HTTP response of `reply`, holding `share` until it is written.
pub(super) fn reply(reply: Reply, request_id: &str, share: Share) -> Response {
    let mut response = http::Response::new(ReplyBody::new(reply.body, share));
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, reply.content_type);
    if !request_id.is_empty()
        && let Ok(id) = HeaderValue::from_str(request_id)
    {
        headers.insert(REQUEST_ID, id);
    }
    if let Some(secs) = reply.retry_after {
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if reply.not_made {
        headers.insert(crate::net::http::NOT_MADE, HeaderValue::from_static("1"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_to_head_has_the_length_and_no_body() {
        let response = without_body(text(StatusCode::OK, "ready\n"));
        assert_eq!(
            response.headers().get(http::header::CONTENT_LENGTH),
            Some(&HeaderValue::from(6))
        );
        let body = response.body();
        assert!(hyper::body::Body::is_end_stream(body));
        assert_eq!(hyper::body::Body::size_hint(body).exact(), Some(0));
    }
}
