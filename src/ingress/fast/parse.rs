//! Which requests the fast path takes: a plain call, and nothing else.
//!
//! A plain call is `POST /realms/{realm}/{module}/{verb} HTTP/1.1` with no
//! leading empty lines, at most one `Content-Length` (decimal digits) and
//! none of `Transfer-Encoding`, `Expect`, `Upgrade` or `Connection`, its
//! head within `max-header-size` (as `request::head_size` counts it) and
//! within hyper's limits, its body within `max-body-size`, its target a
//! `Uri`, every header name and value what `http` takes, and its path's
//! three segments non-empty and UTF-8 once percent-decoded. The head is
//! parsed by httparse as hyper's server parses it (the same
//! configuration and header count, `head_check::MAX_HEADERS`). Anything
//! else, and any parse doubt, is [`Parsed::Hyper`]: the connection goes to
//! hyper, which answers it as it answers any request (refusals included),
//! so the fast path never refuses a head itself.

use std::borrow::Cow;
use std::mem::MaybeUninit;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, Version};

use crate::ingress::conn::{MAX_HEADERS, digits};
use crate::ingress::request::head_size;
use crate::ingress::routes::decode;

/// hyper's longest request target (`MAX_URI_LEN` in `proto/h1/role.rs`).
const MAX_URI_LEN: usize = u16::MAX as usize - 1;

/// What the bytes at the start of a connection's buffer are.
// Returned once per read and matched at once: boxing the call would cost
// an allocation per call for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Parsed {
    /// The start of a head, maybe a plain call: read more.
    Partial,
    /// Not a plain call: hyper's.
    Hyper,
    /// A plain call's head; its body may not all be here yet.
    Call(Plain),
}

/// The head of a plain call.
#[derive(Debug)]
pub(crate) struct Plain {
    /// Method, target, version and headers, as hyper gives them.
    pub parts: http::request::Parts,
    /// Bytes of the head.
    pub head_len: usize,
    /// Bytes of the body (`Content-Length`, 0 without one).
    pub body_len: usize,
}

/// The limits a plain call is within.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// `max-header-size`.
    pub max_header_size: usize,
    /// `max-body-size`.
    pub max_body_size: u64,
}

/// Reads the head at the start of `bytes`.
pub(crate) fn plain_call(bytes: &[u8], limits: Limits) -> Parsed {
    if bytes.first().is_some_and(|b| *b == b'\r' || *b == b'\n') {
        return Parsed::Hyper; // leading empty lines: hyper skips them
    }
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let head_len = match httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut request,
        bytes,
        &mut headers,
    ) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if bytes.len() < limits.max_header_size => {
            return Parsed::Partial;
        }
        _ => return Parsed::Hyper,
    };
    if head_len > limits.max_header_size
        || request.method != Some("POST")
        || request.version != Some(1)
    {
        return Parsed::Hyper;
    }
    let Some(path) = request.path else {
        return Parsed::Hyper;
    };
    if path.len() > MAX_URI_LEN || !path.starts_with("/realms/") {
        return Parsed::Hyper;
    }
    let Ok(uri) = Uri::try_from(path) else {
        return Parsed::Hyper;
    };
    if segments(uri.path()).is_none() {
        return Parsed::Hyper;
    }
    let mut map = HeaderMap::with_capacity(request.headers.len());
    let mut length: Option<u64> = None;
    for header in request.headers.iter() {
        let Ok(name) = HeaderName::from_bytes(header.name.as_bytes()) else {
            return Parsed::Hyper;
        };
        if name == http::header::TRANSFER_ENCODING
            || name == http::header::EXPECT
            || name == http::header::UPGRADE
            || name == http::header::CONNECTION
        {
            return Parsed::Hyper;
        }
        if name == http::header::CONTENT_LENGTH {
            if length.is_some() {
                return Parsed::Hyper;
            }
            let Some(n) = digits(header.value) else {
                return Parsed::Hyper;
            };
            length = Some(n);
        }
        let Ok(value) = HeaderValue::from_bytes(header.value) else {
            return Parsed::Hyper;
        };
        map.append(name, value);
    }
    let body_len = length.unwrap_or(0);
    if body_len > limits.max_body_size {
        return Parsed::Hyper;
    }
    let Ok(body_len) = usize::try_from(body_len) else {
        return Parsed::Hyper;
    };
    let mut parts = http::Request::new(()).into_parts().0;
    parts.method = Method::POST;
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    parts.headers = map;
    if head_size(&parts) > limits.max_header_size {
        return Parsed::Hyper;
    }
    Parsed::Call(Plain {
        parts,
        head_len,
        body_len,
    })
}

/// The realm, module and verb of a call's path, percent-decoded: three
/// non-empty segments after `/realms/`, as `routes` reads them.
pub(crate) fn segments(path: &str) -> Option<[Cow<'_, str>; 3]> {
    let mut segments = path.strip_prefix("/realms/")?.split('/');
    let (Some(realm), Some(module), Some(verb), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return None;
    };
    if realm.is_empty() || module.is_empty() || verb.is_empty() {
        return None;
    }
    match [realm, module, verb].map(decode) {
        [Ok(realm), Ok(module), Ok(verb)] => Some([realm, module, verb]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_header_size: 8192,
        max_body_size: 1 << 20,
    };

    fn parse(head: &str) -> Parsed {
        plain_call(head.as_bytes(), LIMITS)
    }

    #[test]
    fn a_plain_call_is_taken_with_its_lengths() {
        let head =
            "POST /realms/bank/ledger/balance HTTP/1.1\r\nhost: x\r\ncontent-length: 7\r\n\r\n";
        let Parsed::Call(plain) = parse(head) else {
            panic!("not taken");
        };
        assert_eq!((plain.head_len, plain.body_len), (head.len(), 7));
        assert_eq!(plain.parts.headers.len(), 2);
        assert!(matches!(parse(&head[..head.len() - 1]), Parsed::Partial));
    }

    #[test]
    fn anything_unusual_goes_to_hyper() {
        for head in [
            "\r\nPOST /realms/a/b/c HTTP/1.1\r\n\r\n",
            "GET /realms/a/b/c HTTP/1.1\r\n\r\n",
            "POST /realms/a/b/c HTTP/1.0\r\n\r\n",
            "POST /realms/a/b HTTP/1.1\r\n\r\n",
            "POST /realms/a/b/c/d HTTP/1.1\r\n\r\n",
            "POST /realms/a//c HTTP/1.1\r\n\r\n",
            "POST /realms/a/b/%ff HTTP/1.1\r\n\r\n",
            "POST /status HTTP/1.1\r\n\r\n",
            "POST http://x/realms/a/b/c HTTP/1.1\r\n\r\n",
            "POST /realms/a/b/c HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n",
            "POST /realms/a/b/c HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n",
            "POST /realms/a/b/c HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 1\r\n\r\n",
            "POST /realms/a/b/c HTTP/1.1\r\ncontent-length: +1\r\n\r\n",
            "POST /realms/a/b/c HTTP/1.1\r\ncontent-length: 2000000\r\n\r\n",
            "POST /realms/a/b/c HTTP/1.1\r\nexpect: 100-continue\r\n\r\n",
            "POST /realms/a/b/c HTTP/1.1\r\nconnection: close\r\n\r\n",
            "POST /realms/a/b/c HTTP/1.1\r\nupgrade: h2c\r\n\r\n",
            "POST /realms/a/b/c HTTP/1.1\r\nx: a\r\n b\r\n\r\n",
            "POST /realms/a/b/c HTTP/1.1\r\nx: a\0b\r\n\r\n",
        ] {
            assert!(matches!(parse(head), Parsed::Hyper), "{head:?}");
        }
        let long = format!(
            "POST /realms/a/b/c HTTP/1.1\r\nx: {}\r\n\r\n",
            "a".repeat(8192)
        );
        assert!(matches!(parse(&long), Parsed::Hyper));
        assert!(matches!(parse(&long[..8200]), Parsed::Hyper));
    }
}
