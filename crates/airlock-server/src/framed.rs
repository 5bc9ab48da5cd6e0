//! A read buffer that yields whole frames (or startup packets) from a byte stream, refusing
//! oversized lengths before buffering them.

use std::ops::Range;

use airlock_pg::{Decoded, StartupPacket, WireError, decode_frame, decode_startup};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes read from a peer and not yet consumed.
#[derive(Debug, Default)]
pub struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
    /// The last read took all the room it had: the peer is sending faster than one chunk.
    full: bool,
}

/// One whole frame inside a [`ReadBuf`]: its tag and the range of its body.
#[derive(Debug, Clone)]
pub struct FrameAt {
    pub tag: u8,
    pub body: Range<usize>,
    /// The whole frame, header included.
    pub wire: Range<usize>,
}

/// What a buffer reads at a time: small, since thousands of sessions sit idle with two each.
const READ_CHUNK: usize = 16 * 1024;
/// What it reads at a time while reads keep coming back full (a large result, a COPY): a
/// quarter of the sends and receives, and of the peer's wakeups, per megabyte. It returns to
/// `READ_CHUNK` once a read comes back short with nothing left over.
const BULK_READ_CHUNK: usize = 64 * 1024;

impl ReadBuf {
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(READ_CHUNK),
            start: 0,
            full: false,
        }
    }

    /// Reads more bytes; `Ok(0)` is end of stream.
    pub async fn fill<R: AsyncRead + Unpin>(&mut self, reader: &mut R) -> std::io::Result<usize> {
        if self.start > 0 && (self.start == self.buf.len() || self.start > self.buf.len() / 2) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if !self.full && self.buf.is_empty() && self.buf.capacity() > 2 * READ_CHUNK {
            self.buf = Vec::with_capacity(READ_CHUNK);
        }
        let chunk = if self.full {
            BULK_READ_CHUNK
        } else {
            READ_CHUNK
        };
        if self.buf.capacity() - self.buf.len() < chunk / 2 {
            self.buf.reserve(chunk);
        }
        let room = self.buf.capacity() - self.buf.len();
        let read = reader.read_buf(&mut self.buf).await;
        self.full = matches!(read, Ok(n) if n == room);
        read
    }

    /// The next whole frame, if buffered; lengths above `max` are errors.
    pub fn next_frame(&mut self, max: usize) -> Result<Option<FrameAt>, WireError> {
        let rest = self.buf.get(self.start..).unwrap_or_default();
        match decode_frame(rest, max)? {
            Decoded::Complete(frame, used) => {
                let at = FrameAt {
                    tag: frame.tag,
                    body: self.start + 5..self.start + used,
                    wire: self.start..self.start + used,
                };
                self.start += used;
                Ok(Some(at))
            }
            Decoded::Incomplete(_) => Ok(None),
        }
    }

    /// The next startup packet, if buffered.
    pub fn next_startup(&mut self) -> Result<Option<StartupPacket>, WireError> {
        let rest = self.buf.get(self.start..).unwrap_or_default();
        match decode_startup(rest)? {
            Decoded::Complete(packet, used) => {
                self.start += used;
                Ok(Some(packet))
            }
            Decoded::Incomplete(_) => Ok(None),
        }
    }

    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        self.buf.get(range).unwrap_or_default()
    }

    /// Unconsumed bytes.
    pub fn pending(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_grow_while_they_come_back_full_and_shrink_after() {
        let data = vec![7u8; 300 * 1024];
        let mut peer = &data[..];
        let mut buf = ReadBuf::new();
        assert_eq!(buf.fill(&mut peer).await.unwrap(), READ_CHUNK);
        buf.consume(READ_CHUNK);
        let bulk = buf.fill(&mut peer).await.unwrap();
        assert!(bulk >= BULK_READ_CHUNK, "{bulk}");
        let mut total = READ_CHUNK + bulk;
        loop {
            buf.consume(buf.pending().len());
            match buf.fill(&mut peer).await.unwrap() {
                0 => break,
                n => total += n,
            }
        }
        assert_eq!(total, data.len());
        // A short read with nothing left over: back to the small buffer.
        let mut quiet = &b"Z\0\0\0\x05I"[..];
        assert_eq!(buf.fill(&mut quiet).await.unwrap(), 6);
        assert!(
            buf.buf.capacity() < 2 * READ_CHUNK,
            "{}",
            buf.buf.capacity()
        );
        assert_eq!(buf.pending(), b"Z\0\0\0\x05I");
    }

    #[tokio::test]
    async fn short_reads_stay_small() {
        let mut buf = ReadBuf::new();
        for _ in 0..100 {
            let mut peer = &[1u8; 100][..];
            assert_eq!(buf.fill(&mut peer).await.unwrap(), 100);
        }
        assert_eq!(buf.pending().len(), 10_000);
        assert!(
            buf.buf.capacity() <= 2 * READ_CHUNK,
            "{}",
            buf.buf.capacity()
        );
    }
}
