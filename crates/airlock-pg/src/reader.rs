//! A bounds-checked cursor over a message body.

use crate::WireError;

pub(crate) struct Reader<'a> {
    tag: char,
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(tag: char, bytes: &'a [u8]) -> Self {
        Self { tag, bytes }
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], WireError> {
        if self.bytes.len() < n {
            return Err(WireError::Truncated {
                tag: self.tag,
                field,
            });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, field)?.first().copied().unwrap_or_default())
    }

    pub(crate) fn i16(&mut self, field: &'static str) -> Result<i16, WireError> {
        let b = self.take(2, field)?;
        Ok(i16::from_be_bytes([
            b.first().copied().unwrap_or(0),
            b.get(1).copied().unwrap_or(0),
        ]))
    }

    pub(crate) fn i32(&mut self, field: &'static str) -> Result<i32, WireError> {
        let b = self.take(4, field)?;
        let mut word = [0u8; 4];
        word.copy_from_slice(b);
        Ok(i32::from_be_bytes(word))
    }

    /// A NUL-terminated UTF-8 string.
    pub(crate) fn cstr(&mut self, field: &'static str) -> Result<&'a str, WireError> {
        let end = self
            .bytes
            .iter()
            .position(|b| *b == 0)
            .ok_or(WireError::Truncated {
                tag: self.tag,
                field,
            })?;
        let raw = self.take(end, field)?;
        self.take(1, field)?;
        std::str::from_utf8(raw).map_err(|_| WireError::NotUtf8 {
            tag: self.tag,
            field,
        })
    }

    /// `n` raw bytes (a parameter value); a negative length is NULL.
    pub(crate) fn bytes(
        &mut self,
        n: i32,
        field: &'static str,
    ) -> Result<Option<&'a [u8]>, WireError> {
        match usize::try_from(n) {
            Ok(n) => self.take(n, field).map(Some),
            Err(_) => Ok(None),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn finish(self) -> Result<(), WireError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(WireError::Trailing {
                tag: self.tag,
                extra: self.bytes.len(),
            })
        }
    }
}
