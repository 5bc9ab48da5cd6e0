//! The first packet of a connection: no type byte, a length, then a code that says what it is.

use crate::WireError;
use crate::frame::Decoded;
use crate::reader::Reader;

const SSL_REQUEST: i32 = 80_877_103;
const GSSENC_REQUEST: i32 = 80_877_104;
const CANCEL_REQUEST: i32 = 80_877_102;
/// PostgreSQL's own limit on a startup packet.
const MAX_STARTUP: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupPacket {
    /// A protocol 3.x startup message with its parameters (`user`, `database`,
    /// `application_name`, `replication`, `options`…), in order.
    Startup {
        minor: u16,
        params: Vec<(String, String)>,
    },
    SslRequest,
    GssEncRequest,
    /// Cancel the query running on backend `pid` (key length varies from protocol 3.2 on).
    Cancel {
        pid: i32,
        key: Vec<u8>,
    },
}

impl StartupPacket {
    pub fn param(&self, name: &str) -> Option<&str> {
        match self {
            Self::Startup { params, .. } => params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }
}

pub fn decode_startup(buf: &[u8]) -> Result<Decoded<StartupPacket>, WireError> {
    // The length is checked as soon as it is here, so a bad one fails without waiting.
    let Some(prefix) = buf.get(..4) else {
        return Ok(Decoded::Incomplete(8 - buf.len()));
    };
    let length = Reader::new('\0', prefix).i32("length")?;
    let valid = usize::try_from(length)
        .ok()
        .filter(|l| *l >= 8 && *l <= MAX_STARTUP);
    let Some(length) = valid else {
        return Err(WireError::BadLength {
            length: i64::from(length),
            minimum: 8,
            maximum: MAX_STARTUP,
        });
    };
    let Some(header) = buf.get(..8) else {
        return Ok(Decoded::Incomplete(8 - buf.len()));
    };
    let code = Reader::new('\0', header.get(4..).unwrap_or_default()).i32("code")?;
    let Some(body) = buf.get(8..length) else {
        return Ok(Decoded::Incomplete(length - buf.len()));
    };
    let packet = match code {
        SSL_REQUEST => StartupPacket::SslRequest,
        GSSENC_REQUEST => StartupPacket::GssEncRequest,
        CANCEL_REQUEST => {
            let mut reader = Reader::new('\0', body);
            let pid = reader.i32("process id")?;
            StartupPacket::Cancel {
                pid,
                key: reader
                    .bytes(
                        i32::try_from(body.len().saturating_sub(4)).unwrap_or(0),
                        "key",
                    )?
                    .unwrap_or_default()
                    .to_vec(),
            }
        }
        code => {
            let (major, minor) = ((code >> 16) as u16, (code & 0xffff) as u16);
            if major != 3 {
                return Err(WireError::UnsupportedVersion { major, minor });
            }
            StartupPacket::Startup {
                minor,
                params: params(body)?,
            }
        }
    };
    Ok(Decoded::Complete(packet, length))
}

fn params(body: &[u8]) -> Result<Vec<(String, String)>, WireError> {
    let mut reader = Reader::new('\0', body);
    let mut params = Vec::new();
    loop {
        let name = reader.cstr("parameter name")?;
        if name.is_empty() {
            break;
        }
        if reader.is_empty() {
            return Err(WireError::MissingValue(name.to_owned()));
        }
        let value = reader.cstr("parameter value")?;
        params.push((name.to_owned(), value.to_owned()));
    }
    reader.finish()?;
    Ok(params)
}

/// Encodes a protocol 3.0 startup message (for connecting upstream).
pub fn encode_startup(params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196_608i32.to_be_bytes());
    for (name, value) in params {
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let length = i32::try_from(body.len() + 4).unwrap_or(i32::MAX);
    let mut out = length.to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// An SSLRequest: asks the server to switch to TLS; it answers one byte, `S` or `N`.
pub fn encode_ssl_request() -> [u8; 8] {
    let mut out = [0u8; 8];
    let (length, code) = out.split_at_mut(4);
    length.copy_from_slice(&8i32.to_be_bytes());
    code.copy_from_slice(&SSL_REQUEST.to_be_bytes());
    out
}

/// A CancelRequest for backend `pid` with its secret `key` (4 bytes before protocol 3.2).
pub fn encode_cancel_request(pid: i32, key: &[u8]) -> Vec<u8> {
    let length = i32::try_from(12 + key.len()).unwrap_or(i32::MAX);
    let mut out = Vec::with_capacity(12 + key.len());
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&CANCEL_REQUEST.to_be_bytes());
    out.extend_from_slice(&pid.to_be_bytes());
    out.extend_from_slice(key);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_round_trip_and_special_requests() {
        let wire = encode_startup(&[
            ("user", "alice"),
            ("database", "main"),
            ("application_name", "psql"),
        ]);
        let Decoded::Complete(packet, used) = decode_startup(&wire).unwrap() else {
            panic!()
        };
        assert_eq!(used, wire.len());
        assert_eq!(packet.param("database"), Some("main"));
        assert_eq!(packet.param("user"), Some("alice"));
        for cut in 0..wire.len() {
            assert!(matches!(
                decode_startup(&wire[..cut]).unwrap(),
                Decoded::Incomplete(_)
            ));
        }
        let ssl = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
        assert_eq!(encode_ssl_request(), ssl);
        assert_eq!(
            decode_startup(&ssl).unwrap(),
            Decoded::Complete(StartupPacket::SslRequest, 8)
        );
        let mut cancel = vec![0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e];
        cancel.extend_from_slice(&42i32.to_be_bytes());
        cancel.extend_from_slice(&7i32.to_be_bytes());
        assert_eq!(encode_cancel_request(42, &7i32.to_be_bytes()), cancel);
        assert_eq!(
            decode_startup(&cancel).unwrap(),
            Decoded::Complete(
                StartupPacket::Cancel {
                    pid: 42,
                    key: 7i32.to_be_bytes().to_vec()
                },
                16
            )
        );
    }

    #[test]
    fn bad_startups_are_errors() {
        assert!(matches!(
            decode_startup(&[0, 0, 0, 4, 0, 3, 0, 0]),
            Err(WireError::BadLength { .. })
        ));
        assert!(matches!(
            decode_startup(&[0, 0, 0x27, 0x11, 0, 3, 0, 0]),
            Err(WireError::BadLength { .. })
        ));
        let v2 = [0, 0, 0, 9, 0, 2, 0, 0, 0];
        assert!(matches!(
            decode_startup(&v2),
            Err(WireError::UnsupportedVersion { major: 2, .. })
        ));
        let dangling = [0, 0, 0, 14, 0, 3, 0, 0, b'u', b's', b'e', b'r', 0, 0];
        assert!(decode_startup(&dangling).is_err());
    }
}
