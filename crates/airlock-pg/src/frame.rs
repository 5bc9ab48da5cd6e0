//! Framing of regular messages: a type byte, a big-endian length that counts itself, a body.

use crate::WireError;

/// The largest message airlock accepts (1 GiB, PostgreSQL's own limit for a field).
pub const MAX_FRAME: usize = 1 << 30;

/// One message, borrowed from the input buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub tag: u8,
    pub body: &'a [u8],
}

impl Frame<'_> {
    /// Bytes the frame occupies on the wire.
    pub fn wire_len(&self) -> usize {
        self.body.len() + 5
    }
}

/// The result of trying to decode one frame from the front of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<T> {
    /// A complete value, and how many bytes of the buffer it used.
    Complete(T, usize),
    /// Not enough bytes yet; at least this many more are needed.
    Incomplete(usize),
}

/// Splits one frame off the front of `buf`, refusing lengths above `max` before any
/// allocation happens.
pub fn decode_frame(buf: &[u8], max: usize) -> Result<Decoded<Frame<'_>>, WireError> {
    let Some(header) = buf.get(..5) else {
        return Ok(Decoded::Incomplete(5 - buf.len()));
    };
    let tag = header.first().copied().unwrap_or_default();
    let mut len = [0u8; 4];
    len.copy_from_slice(header.get(1..5).unwrap_or(&[0; 4]));
    let length = i32::from_be_bytes(len);
    let valid = usize::try_from(length)
        .ok()
        .filter(|l| *l >= 4 && *l <= max);
    let Some(length) = valid else {
        return Err(WireError::BadLength {
            length: i64::from(length),
            minimum: 4,
            maximum: max,
        });
    };
    let total = length + 1;
    match buf.get(5..total) {
        Some(body) => Ok(Decoded::Complete(Frame { tag, body }, total)),
        None => Ok(Decoded::Incomplete(total - buf.len())),
    }
}

/// Appends a frame with `tag` and `body` to `out`.
pub fn encode_frame(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    let length = u32::try_from(body.len() + 4).unwrap_or(u32::MAX);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tells_incomplete_from_invalid() {
        let mut wire = Vec::new();
        encode_frame(&mut wire, b'Q', b"SELECT 1\0");
        encode_frame(&mut wire, b'X', b"");
        let Decoded::Complete(first, used) = decode_frame(&wire, MAX_FRAME).unwrap() else {
            panic!("complete frame expected")
        };
        assert_eq!((first.tag, first.body), (b'Q', &b"SELECT 1\0"[..]));
        assert_eq!(used, first.wire_len());
        let rest = &wire[used..];
        assert_eq!(
            decode_frame(rest, MAX_FRAME).unwrap(),
            Decoded::Complete(
                Frame {
                    tag: b'X',
                    body: b""
                },
                5
            )
        );
        for cut in 0..used {
            assert!(
                matches!(decode_frame(&wire[..cut], MAX_FRAME).unwrap(), Decoded::Incomplete(n) if n > 0)
            );
        }
        assert!(matches!(
            decode_frame(&[b'Q', 0, 0, 0, 3], MAX_FRAME),
            Err(WireError::BadLength { length: 3, .. })
        ));
        assert!(matches!(
            decode_frame(&[b'Q', 0xff, 0xff, 0xff, 0xff], MAX_FRAME),
            Err(WireError::BadLength { .. })
        ));
        assert!(matches!(
            decode_frame(&[b'Q', 0, 1, 0, 0], 1024),
            Err(WireError::BadLength { length: 65536, .. })
        ));
    }
}
