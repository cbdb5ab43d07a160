//! A socket with bytes already read from it put back in front: what
//! hyper reads of a connection the fast path hands over (`fast`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, ReadBuf};

/// `inner`, whose reads start with `read`.
pub(crate) struct Rewind<S> {
    read: BytesMut,
    inner: S,
}

impl<S> Rewind<S> {
    pub(crate) fn new(read: BytesMut, inner: S) -> Rewind<S> {
        Rewind { read, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.read.is_empty() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let n = this.read.len().min(buf.remaining());
        buf.put_slice(&this.read[..n]);
        this.read.advance(n);
        Poll::Ready(Ok(()))
    }
}

super::write_through!(Rewind);

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn the_bytes_put_back_come_first() {
        let (client, mut server) = tokio::io::duplex(64);
        drop(client);
        let mut rewound = Rewind::new(BytesMut::from(&b"abc"[..]), &mut server);
        let mut all = Vec::new();
        rewound.read_to_end(&mut all).await.expect("read");
        assert_eq!(all, b"abc");
    }
}
