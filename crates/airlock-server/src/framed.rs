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
}

/// One whole frame inside a [`ReadBuf`]: its tag and the range of its body.
#[derive(Debug, Clone)]
pub struct FrameAt {
    pub tag: u8,
    pub body: Range<usize>,
    /// The whole frame, header included.
    pub wire: Range<usize>,
}

const READ_CHUNK: usize = 16 * 1024;

impl ReadBuf {
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(READ_CHUNK),
            start: 0,
        }
    }

    /// Reads more bytes; `Ok(0)` is end of stream.
    pub async fn fill<R: AsyncRead + Unpin>(&mut self, reader: &mut R) -> std::io::Result<usize> {
        if self.start > 0 && (self.start == self.buf.len() || self.start > self.buf.len() / 2) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 2 {
            self.buf.reserve(READ_CHUNK);
        }
        reader.read_buf(&mut self.buf).await
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
