//! Messages from the client that the gateway reads (everything else is forwarded as framed).

use crate::WireError;
use crate::frame::Frame;
use crate::reader::Reader;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontendMessage<'a> {
    /// Simple query: one or more statements.
    Query {
        sql: &'a str,
    },
    /// Extended protocol: prepare `sql` as statement `name` (empty: unnamed).
    Parse {
        name: &'a str,
        sql: &'a str,
        param_types: Vec<i32>,
    },
    /// Bind parameter values to a prepared statement, creating a portal.
    Bind {
        portal: &'a str,
        statement: &'a str,
        formats: Vec<i16>,
        params: Vec<Option<&'a [u8]>>,
    },
    Execute {
        portal: &'a str,
        max_rows: i32,
    },
    /// `S` statement or `P` portal.
    Describe {
        kind: u8,
        name: &'a str,
    },
    Close {
        kind: u8,
        name: &'a str,
    },
    Sync,
    Flush,
    Terminate,
    CopyData(&'a [u8]),
    CopyDone,
    CopyFail {
        message: &'a str,
    },
    /// The legacy fast-path function call (by OID): it bypasses SQL entirely.
    FunctionCall {
        oid: i32,
    },
    /// Password, SASL initial response or SASL response: meaning depends on the auth stage.
    Authentication(&'a [u8]),
    Unknown {
        tag: u8,
    },
}

/// Decodes a client frame, checking every length against the frame.
pub fn parse_frontend<'a>(frame: &Frame<'a>) -> Result<FrontendMessage<'a>, WireError> {
    let tag = frame.tag;
    let mut r = Reader::new(char::from(tag), frame.body);
    let message = match tag {
        b'Q' => FrontendMessage::Query {
            sql: r.cstr("query")?,
        },
        b'P' => {
            let name = r.cstr("statement name")?;
            let sql = r.cstr("query")?;
            let count = r.i16("parameter type count")?;
            let param_types = (0..count.max(0))
                .map(|_| r.i32("parameter type"))
                .collect::<Result<_, _>>()?;
            FrontendMessage::Parse {
                name,
                sql,
                param_types,
            }
        }
        b'B' => bind(&mut r)?,
        b'E' => FrontendMessage::Execute {
            portal: r.cstr("portal name")?,
            max_rows: r.i32("row limit")?,
        },
        b'D' => FrontendMessage::Describe {
            kind: r.u8("kind")?,
            name: r.cstr("name")?,
        },
        b'C' => FrontendMessage::Close {
            kind: r.u8("kind")?,
            name: r.cstr("name")?,
        },
        b'S' => FrontendMessage::Sync,
        b'H' => FrontendMessage::Flush,
        b'X' => FrontendMessage::Terminate,
        b'd' => return Ok(FrontendMessage::CopyData(frame.body)),
        b'c' => FrontendMessage::CopyDone,
        b'f' => FrontendMessage::CopyFail {
            message: r.cstr("message")?,
        },
        b'F' => {
            return Ok(FrontendMessage::FunctionCall {
                oid: r.i32("function oid")?,
            });
        }
        b'p' => return Ok(FrontendMessage::Authentication(frame.body)),
        other => return Ok(FrontendMessage::Unknown { tag: other }),
    };
    r.finish()?;
    Ok(message)
}

fn bind<'a>(r: &mut Reader<'a>) -> Result<FrontendMessage<'a>, WireError> {
    let portal = r.cstr("portal name")?;
    let statement = r.cstr("statement name")?;
    let format_count = r.i16("format count")?;
    let formats = (0..format_count.max(0))
        .map(|_| r.i16("format code"))
        .collect::<Result<_, _>>()?;
    let param_count = r.i16("parameter count")?;
    let mut params = Vec::new();
    for _ in 0..param_count.max(0) {
        let len = r.i32("parameter length")?;
        params.push(r.bytes(len, "parameter value")?);
    }
    let result_formats = r.i16("result format count")?;
    for _ in 0..result_formats.max(0) {
        r.i16("result format code")?;
    }
    Ok(FrontendMessage::Bind {
        portal,
        statement,
        formats,
        params,
    })
}

/// Appends one run of `sql` through the extended protocol, unnamed statement and portal, no
/// parameters, text results: Parse, Bind, Execute (all rows), Sync. A server refuses at Parse
/// text that holds more than one command.
pub fn encode_extended_query(out: &mut Vec<u8>, sql: &str) {
    let mut parse = Vec::with_capacity(sql.len() + 8);
    parse.push(0);
    parse.extend_from_slice(sql.as_bytes());
    parse.push(0);
    parse.extend_from_slice(&0i16.to_be_bytes());
    crate::frame::encode_frame(out, b'P', &parse);
    // Portal "", statement "", no format codes, no parameters, no result format codes.
    crate::frame::encode_frame(out, b'B', &[0, 0, 0, 0, 0, 0, 0, 0]);
    // Portal "", no row limit.
    crate::frame::encode_frame(out, b'E', &[0, 0, 0, 0, 0]);
    crate::frame::encode_frame(out, b'S', &[]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::encode_frame;

    fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(&mut out, tag, body);
        out
    }

    fn parse(wire: &[u8]) -> Result<FrontendMessage<'_>, WireError> {
        let Ok(crate::Decoded::Complete(f, _)) = crate::decode_frame(wire, crate::MAX_FRAME) else {
            panic!()
        };
        parse_frontend(&f)
    }

    #[test]
    fn decodes_the_messages_the_gateway_reads() {
        assert_eq!(
            parse(&frame(b'Q', b"SELECT 1\0")),
            Ok(FrontendMessage::Query { sql: "SELECT 1" })
        );
        let mut p = b"s1\0DELETE FROM t WHERE id = $1\0".to_vec();
        p.extend_from_slice(&1i16.to_be_bytes());
        p.extend_from_slice(&23i32.to_be_bytes());
        assert_eq!(
            parse(&frame(b'P', &p)),
            Ok(FrontendMessage::Parse {
                name: "s1",
                sql: "DELETE FROM t WHERE id = $1",
                param_types: vec![23]
            })
        );
        let mut b = b"\0s1\0".to_vec();
        b.extend_from_slice(&0i16.to_be_bytes());
        b.extend_from_slice(&2i16.to_be_bytes());
        b.extend_from_slice(&2i32.to_be_bytes());
        b.extend_from_slice(b"42");
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b.extend_from_slice(&0i16.to_be_bytes());
        assert_eq!(
            parse(&frame(b'B', &b)),
            Ok(FrontendMessage::Bind {
                portal: "",
                statement: "s1",
                formats: vec![],
                params: vec![Some(&b"42"[..]), None]
            })
        );
    }

    #[test]
    fn an_extended_query_round_trips() {
        let mut wire = Vec::new();
        encode_extended_query(&mut wire, "EXPLAIN DELETE FROM t");
        let mut messages = Vec::new();
        let mut rest = &wire[..];
        while let Ok(crate::Decoded::Complete(f, used)) =
            crate::decode_frame(rest, crate::MAX_FRAME)
        {
            messages.push(parse_frontend(&f).unwrap());
            rest = &rest[used..];
        }
        assert!(rest.is_empty());
        assert_eq!(
            messages,
            [
                FrontendMessage::Parse {
                    name: "",
                    sql: "EXPLAIN DELETE FROM t",
                    param_types: vec![]
                },
                FrontendMessage::Bind {
                    portal: "",
                    statement: "",
                    formats: vec![],
                    params: vec![]
                },
                FrontendMessage::Execute {
                    portal: "",
                    max_rows: 0
                },
                FrontendMessage::Sync,
            ]
        );
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        assert!(matches!(
            parse(&frame(b'Q', b"no terminator")),
            Err(WireError::Truncated { .. })
        ));
        assert!(matches!(
            parse(&frame(b'Q', b"a\0b\0")),
            Err(WireError::Trailing { .. })
        ));
        assert!(matches!(
            parse(&frame(b'Q', b"\xff\0")),
            Err(WireError::NotUtf8 { .. })
        ));
        let mut b = b"\0s\0".to_vec();
        b.extend_from_slice(&0i16.to_be_bytes());
        b.extend_from_slice(&1i16.to_be_bytes());
        b.extend_from_slice(&1000i32.to_be_bytes());
        assert!(matches!(
            parse(&frame(b'B', &b)),
            Err(WireError::Truncated { .. })
        ));
    }
}
