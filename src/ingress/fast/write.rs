//! The bytes of an answer, as hyper's HTTP/1.1 server writes them
//! (`Server::encode` in hyper 1.x `proto/h1/role.rs`, lower-case names,
//! no reason phrase of our own): the status line (`HTTP/1.1 200 OK`, else
//! the code and its canonical reason or `<none>`), the answer's headers in
//! order (each value on a line of its own, `connection` values joined with
//! `, `), `connection: close` when the connection closes after it (hyper's
//! `enforce_version`, after the others), `content-length` (not for 204 and
//! 304), `date` (hyper's format, made once a second per thread), and the
//! body.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{StatusCode, header};

/// Appends the head of an answer of `status` with `headers` and a body
/// of `body_len` bytes to `out`; `close`: the connection closes after it.
/// Whether the body is to be written after it.
pub(crate) fn head(
    status: StatusCode,
    headers: &http::HeaderMap,
    body_len: usize,
    close: bool,
    out: &mut Vec<u8>,
) -> bool {
    if status.is_informational() {
        // hyper answers a 1xx with a bare 500 and closes.
        out.extend_from_slice(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n");
        date(out);
        return false;
    }
    if status == StatusCode::OK {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(status.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(status.canonical_reason().unwrap_or("<none>").as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let mut wrote_date = false;
    let mut wrote_len = false;
    for name in headers.keys() {
        let mut values = headers.get_all(name).iter();
        if *name == header::CONNECTION {
            out.extend_from_slice(b"connection: ");
            for (n, value) in values.enumerate() {
                if n > 0 {
                    out.extend_from_slice(b", ");
                }
                out.extend_from_slice(value.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            continue;
        }
        wrote_date |= *name == header::DATE;
        wrote_len |= *name == header::CONTENT_LENGTH;
        for value in values.by_ref() {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    if close && !headers.contains_key(header::CONNECTION) {
        out.extend_from_slice(b"connection: close\r\n");
    }
    let has_body = !matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED);
    if has_body && !wrote_len {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa(body_len, &mut [0u8; 20]));
        out.extend_from_slice(b"\r\n");
    }
    if wrote_date {
        out.extend_from_slice(b"\r\n");
    } else {
        date(out);
    }
    has_body
}

/// `date: ...\r\n\r\n`, the end of a head.
fn date(out: &mut Vec<u8>) {
    thread_local! {
        /// The second and its `date` value.
        static NOW: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    NOW.with_borrow_mut(|(second, text)| {
        if *second != secs {
            *second = secs;
            *text = httpdate::fmt_http_date(now);
        }
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
    });
}

/// `n` in decimal, in `buf`.
fn itoa(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn text(status: StatusCode, headers: &http::HeaderMap, len: usize, close: bool) -> String {
        let mut out = Vec::new();
        head(status, headers, len, close, &mut out);
        let text = String::from_utf8(out).expect("ASCII");
        // The date is now's: checked for its shape only.
        let (before, date) = text.split_once("date: ").expect("a date");
        assert_eq!(date.len(), "Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n".len());
        assert!(date.ends_with(" GMT\r\n\r\n"));
        before.to_string()
    }

    #[test]
    fn heads_are_written_as_hyper_writes_them() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert("x-request-id", HeaderValue::from_static("r1"));
        assert_eq!(
            text(StatusCode::OK, &headers, 12, false),
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: r1\r\ncontent-length: 12\r\n"
        );
        assert_eq!(
            text(StatusCode::BAD_GATEWAY, &headers, 0, true),
            "HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\nx-request-id: r1\r\nconnection: close\r\ncontent-length: 0\r\n"
        );
        assert_eq!(
            text(
                StatusCode::from_u16(599).expect("a status"),
                &http::HeaderMap::new(),
                1,
                false
            ),
            "HTTP/1.1 599 <none>\r\ncontent-length: 1\r\n"
        );
        assert_eq!(
            text(StatusCode::NO_CONTENT, &http::HeaderMap::new(), 0, false),
            "HTTP/1.1 204 No Content\r\n"
        );
        assert_eq!(itoa(0, &mut [0; 20]), b"0");
        assert_eq!(itoa(1234567, &mut [0; 20]), b"1234567");
    }
}
