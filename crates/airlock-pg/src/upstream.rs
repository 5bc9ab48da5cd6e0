//! The upstream leg's handshake as a state machine: airlock connects to the real server with
//! the connection's own credentials (trust, cleartext, md5 or SCRAM-SHA-256), so clients never
//! see them. Pure: it consumes server frames and says what to send; the caller does the I/O.

use crate::WireError;
use crate::backend::{ErrorFields, parse_error};
use crate::frame::{Frame, encode_frame};
use crate::reader::Reader;
use crate::scram::{ScramClient, ScramError};
use crate::startup::encode_startup;

/// What the server told the gateway during the handshake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamSession {
    /// ParameterStatus values (server_version, standard_conforming_strings, …), in order.
    pub params: Vec<(String, String)>,
    /// BackendKeyData: the process id and secret key, for mapping cancel requests.
    pub backend: Option<(i32, Vec<u8>)>,
}

/// The result of one server frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes to the server, then keep reading.
    Send(Vec<u8>),
    /// Keep reading.
    Continue,
    /// ReadyForQuery: the session is established.
    Ready(UpstreamSession),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("the upstream server refused the connection: {} ({})", .0.message, .0.code)]
    Refused(ErrorFields),
    #[error("the upstream server asks for a password and the connection has none configured")]
    PasswordRequired,
    #[error("the upstream server asks for unsupported authentication method {0}")]
    Unsupported(i32),
    #[error("the upstream server offers no SCRAM-SHA-256 (offered: {0})")]
    NoScram(String),
    #[error("upstream SCRAM failed: {0}")]
    Scram(#[from] ScramError),
    #[error("upstream protocol error: {0}")]
    Wire(#[from] WireError),
    #[error("unexpected `{0}` message during the upstream handshake")]
    Unexpected(char),
}

#[derive(Debug)]
pub struct UpstreamHandshake {
    user: String,
    password: Option<String>,
    client_nonce: String,
    scram: Option<ScramClient>,
    session: UpstreamSession,
}

impl UpstreamHandshake {
    /// Starts a handshake; returns it and the startup packet to send. `client_nonce` must be
    /// fresh random printable text (for SCRAM).
    pub fn start(
        user: &str,
        database: &str,
        extra: &[(&str, &str)],
        password: Option<String>,
        client_nonce: String,
    ) -> (Self, Vec<u8>) {
        let mut params = vec![("user", user), ("database", database)];
        params.extend_from_slice(extra);
        let startup = encode_startup(&params);
        let handshake = Self {
            user: user.to_owned(),
            password,
            client_nonce,
            scram: None,
            session: UpstreamSession::default(),
        };
        (handshake, startup)
    }

    pub fn on_frame(&mut self, frame: &Frame<'_>) -> Result<Step, HandshakeError> {
        match frame.tag {
            b'R' => self.authentication(frame.body),
            b'S' => {
                let mut r = Reader::new('S', frame.body);
                let (name, value) = (r.cstr("name")?.to_owned(), r.cstr("value")?.to_owned());
                r.finish()?;
                self.session.params.push((name, value));
                Ok(Step::Continue)
            }
            b'K' => {
                let mut r = Reader::new('K', frame.body);
                let pid = r.i32("process id")?;
                let key = frame.body.get(4..).unwrap_or_default().to_vec();
                self.session.backend = Some((pid, key));
                Ok(Step::Continue)
            }
            b'N' => Ok(Step::Continue),
            b'Z' => Ok(Step::Ready(std::mem::take(&mut self.session))),
            b'E' => Err(HandshakeError::Refused(parse_error(frame)?)),
            other => Err(HandshakeError::Unexpected(char::from(other))),
        }
    }

    fn authentication(&mut self, body: &[u8]) -> Result<Step, HandshakeError> {
        let mut r = Reader::new('R', body);
        let code = r.i32("authentication code")?;
        let rest = body.get(4..).unwrap_or_default();
        let mut out = Vec::new();
        match code {
            0 => return Ok(Step::Continue),
            3 => {
                let password = self.password()?;
                encode_frame(&mut out, b'p', format!("{password}\0").as_bytes());
            }
            5 => {
                let salt = rest.get(..4).ok_or(WireError::Truncated {
                    tag: 'R',
                    field: "md5 salt",
                })?;
                let response = md5_response(self.password()?, &self.user, salt);
                encode_frame(&mut out, b'p', format!("{response}\0").as_bytes());
            }
            10 => {
                let offered: Vec<&str> = rest
                    .split(|b| *b == 0)
                    .filter(|m| !m.is_empty())
                    .filter_map(|m| std::str::from_utf8(m).ok())
                    .collect();
                if !offered.contains(&"SCRAM-SHA-256") {
                    return Err(HandshakeError::NoScram(offered.join(", ")));
                }
                let (client, first) = ScramClient::start(self.password()?, &self.client_nonce);
                self.scram = Some(client);
                let mut body = b"SCRAM-SHA-256\0".to_vec();
                body.extend_from_slice(
                    &i32::try_from(first.len()).unwrap_or(i32::MAX).to_be_bytes(),
                );
                body.extend_from_slice(first.as_bytes());
                encode_frame(&mut out, b'p', &body);
            }
            11 => {
                let client = self.scram.as_mut().ok_or(HandshakeError::Unexpected('R'))?;
                let server_first =
                    std::str::from_utf8(rest).map_err(|_| ScramError::Malformed("not UTF-8"))?;
                let last = client.respond(server_first)?;
                encode_frame(&mut out, b'p', last.as_bytes());
            }
            12 => {
                let client = self.scram.as_ref().ok_or(HandshakeError::Unexpected('R'))?;
                let server_final =
                    std::str::from_utf8(rest).map_err(|_| ScramError::Malformed("not UTF-8"))?;
                client.verify(server_final)?;
                return Ok(Step::Continue);
            }
            other => return Err(HandshakeError::Unsupported(other)),
        }
        Ok(Step::Send(out))
    }

    fn password(&self) -> Result<&str, HandshakeError> {
        self.password
            .as_deref()
            .ok_or(HandshakeError::PasswordRequired)
    }
}

/// PostgreSQL's md5 response: `md5` + md5(md5(password + user) + salt), in hex.
fn md5_response(password: &str, user: &str, salt: &[u8]) -> String {
    use md5::{Digest, Md5};
    let inner = hex::encode(Md5::digest(format!("{password}{user}").as_bytes()));
    let mut outer = inner.into_bytes();
    outer.extend_from_slice(salt);
    format!("md5{}", hex::encode(Md5::digest(&outer)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scram::{ScramServer, ScramVerifier};

    fn r(code: i32, rest: &[u8]) -> Vec<u8> {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(rest);
        body
    }

    #[test]
    fn md5_matches_postgres() {
        // Computed independently (Python hashlib) the way libpq does it.
        assert_eq!(
            md5_response("secret", "alice", &[1, 2, 3, 4]),
            "md598a0412b9c31436fc53776e863350083"
        );
    }

    #[test]
    fn scram_handshake_against_a_scram_server() {
        let verifier = ScramVerifier::new("upstream-secret", b"0123456789abcdef", 4096);
        let (mut handshake, _startup) = UpstreamHandshake::start(
            "app",
            "main",
            &[],
            Some("upstream-secret".into()),
            "cnonce".into(),
        );
        let Step::Send(initial) = handshake
            .on_frame(&Frame {
                tag: b'R',
                body: &r(10, b"SCRAM-SHA-256\0\0"),
            })
            .unwrap()
        else {
            panic!()
        };
        // SASLInitialResponse: 'p', len, mechanism, i32 length, client-first.
        let client_first = std::str::from_utf8(&initial[5 + 14 + 4..]).unwrap();
        let (server, server_first) = ScramServer::start(verifier, client_first, "snonce").unwrap();
        let Step::Send(last) = handshake
            .on_frame(&Frame {
                tag: b'R',
                body: &r(11, server_first.as_bytes()),
            })
            .unwrap()
        else {
            panic!()
        };
        let server_final = server
            .finish(std::str::from_utf8(&last[5..]).unwrap())
            .unwrap()
            .server_final;
        assert_eq!(
            handshake
                .on_frame(&Frame {
                    tag: b'R',
                    body: &r(12, server_final.as_bytes())
                })
                .unwrap(),
            Step::Continue
        );
        assert_eq!(
            handshake
                .on_frame(&Frame {
                    tag: b'R',
                    body: &r(0, b"")
                })
                .unwrap(),
            Step::Continue
        );
        assert!(matches!(
            handshake
                .on_frame(&Frame {
                    tag: b'Z',
                    body: b"I"
                })
                .unwrap(),
            Step::Ready(_)
        ));
    }

    #[test]
    fn refusals_are_clear_errors() {
        let (mut handshake, _) = UpstreamHandshake::start("app", "main", &[], None, "n".into());
        assert_eq!(
            handshake.on_frame(&Frame {
                tag: b'R',
                body: &r(5, &[0, 0, 0, 1])
            }),
            Err(HandshakeError::PasswordRequired)
        );
        assert_eq!(
            handshake.on_frame(&Frame {
                tag: b'R',
                body: &r(7, b"")
            }),
            Err(HandshakeError::Unsupported(7))
        );
        let mut error = Vec::new();
        crate::backend::encode_error(
            &mut error,
            crate::Severity::Fatal,
            "28P01",
            "password authentication failed",
            None,
            None,
        );
        let err = handshake
            .on_frame(&Frame {
                tag: b'E',
                body: &error[5..],
            })
            .unwrap_err();
        assert!(err.to_string().contains("28P01"), "{err}");
    }
}
