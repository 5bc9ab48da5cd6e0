//! Hashes as lowercase hex without allocating: every audit record carries one, and
//! `hex::encode` builds a `String` one `char` at a time (a twentieth of the gateway's
//! user-space instructions per statement).

/// Writes `bytes` as 64 lowercase hex digits into `buf` and returns them.
pub fn hex32<'b>(bytes: &[u8; 32], buf: &'b mut [u8; 64]) -> &'b str {
    // Neither can fail: the buffer is exactly twice the input, and hex digits are ASCII.
    if hex::encode_to_slice(bytes, buf).is_err() {
        return "";
    }
    std::str::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_hex_crate() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 37 + 5) as u8);
        assert_eq!(hex32(&bytes, &mut [0; 64]), hex::encode(bytes));
    }
}
