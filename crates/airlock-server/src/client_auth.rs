//! The client leg's startup: SSL/GSS requests, cancel requests, the startup packet's
//! parameters, and authentication against the identity's active API keys (SCRAM-SHA-256,
//! or a cleartext password inside TLS).

use std::sync::Arc;

use airlock_config::{ApiKey, ClientAuth, IdentityConfig};
use airlock_model::KeyId;
use airlock_pg::{
    Accepted, FrontendMessage, ScramServer, ScramVerifier, StartupPacket, encode_frame,
    parse_frontend,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tracing::error;

use crate::error::{Refusal, SessionError};
use crate::framed::ReadBuf;
use crate::key_checks::KeyChecks;
use crate::state::{State, Upstream};

/// Startup parameters passed on to the upstream; anything else is refused (settings go
/// through `SET`, which the policy judges).
const PASSED_ON: &[&str] = &[
    "application_name",
    "client_encoding",
    "datestyle",
    "timezone",
    "intervalstyle",
    "extra_float_digits",
];

/// What the client asked for before authenticating.
#[derive(Debug)]
pub enum Opening {
    Session(Startup),
    Cancel {
        pid: i32,
        key: Vec<u8>,
    },
    /// An SSLRequest on a listener that offers TLS: the caller answers it.
    Tls,
}

/// How to answer an SSLRequest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// The listener has TLS: return [`Opening::Tls`].
    Offer,
    /// No TLS here: answer `N`, as PostgreSQL does without `ssl = on`.
    Decline,
    /// Already inside TLS: another request is a protocol violation.
    Established,
}

/// An accepted startup packet.
#[derive(Debug)]
pub struct Startup {
    pub user: String,
    pub database: String,
    /// Parameters to pass upstream (names lower-cased).
    pub params: Vec<(String, String)>,
}

/// The client, authenticated.
#[derive(Debug)]
pub struct Authenticated {
    pub identity: IdentityConfig,
    /// The key the client proved it holds.
    pub key: KeyId,
    pub upstream: Arc<Upstream>,
    pub params: Vec<(String, String)>,
}

/// Reads the first packets: answers GSS encryption requests with "no" (airlock has no
/// GSSAPI) and SSL requests as `encryption` says, and returns the startup or cancel request.
pub async fn open<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut ReadBuf,
    encryption: Encryption,
) -> Result<Opening, SessionError> {
    loop {
        let Some(packet) = buf.next_startup()? else {
            if buf.fill(stream).await? == 0 {
                return Err(SessionError::ClientIo(
                    std::io::ErrorKind::UnexpectedEof.into(),
                ));
            }
            continue;
        };
        match (packet, encryption) {
            (StartupPacket::SslRequest | StartupPacket::GssEncRequest, Encryption::Established) => {
                return Err(refuse(
                    "08P01",
                    "encryption requested again inside an encrypted session".into(),
                ));
            }
            (StartupPacket::SslRequest, Encryption::Offer) => return Ok(Opening::Tls),
            (StartupPacket::SslRequest, Encryption::Decline)
            | (StartupPacket::GssEncRequest, _) => {
                send(stream, b"N").await?;
            }
            (StartupPacket::Cancel { pid, key }, _) => return Ok(Opening::Cancel { pid, key }),
            (StartupPacket::Startup { params, .. }, _) => {
                return startup(params).map(Opening::Session);
            }
        }
    }
}

fn startup(params: Vec<(String, String)>) -> Result<Startup, SessionError> {
    let (mut user, mut database, mut passed) = (None, None, Vec::new());
    for (name, value) in params {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "user" => user = Some(value),
            "database" => database = Some(value),
            "replication" if !matches!(value.as_str(), "false" | "off" | "no" | "0") => {
                return Err(refuse(
                    "0A000",
                    "replication connections are not supported through airlock".into(),
                ));
            }
            "replication" => {}
            _ if lower.starts_with("_pq_.") => {}
            // airlock reads SQL text as PostgreSQL does in an encoding whose multi-byte
            // characters cannot hide a quote or backslash; SJIS, BIG5, GBK… would let the
            // server read a statement differently from what the policy judged.
            "client_encoding" if !airlock_inspect::safe_client_encoding(&value) => {
                return Err(refuse(
                    "22023",
                    format!(
                        "client encoding `{value}` is not accepted through airlock, which \
                         reads SQL only in encodings whose characters cannot hide a quote or \
                         backslash (not SJIS, BIG5, GBK, UHC, GB18030, JOHAB); use UTF8"
                    ),
                ));
            }
            _ if PASSED_ON.contains(&lower.as_str()) => passed.push((lower, value)),
            _ => {
                return Err(refuse(
                    "0A000",
                    format!(
                        "startup parameter `{name}` is not accepted through airlock; \
                         use SET inside the session, where the policy judges it"
                    ),
                ));
            }
        }
    }
    let user = user.ok_or_else(|| refuse("28000", "no user name in the startup packet".into()))?;
    let database = database.unwrap_or_else(|| user.clone());
    Ok(Startup {
        user,
        database,
        params: passed,
    })
}

pub fn refuse(code: &'static str, message: String) -> SessionError {
    SessionError::Refused(Refusal { code, message })
}

/// Writes and flushes (a TLS stream holds written bytes until flushed).
pub async fn send<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// Checks the client's API key against the identity's active keys, with SCRAM-SHA-256 or
/// (`method` = password, only ever asked inside TLS) a cleartext password. For SCRAM the
/// server-first-message names the salt and iteration count of the first active key (an
/// identity's keys share them, checked by the configuration), and the proof may match any
/// active key. Revocations are read from the store at every attempt; when they cannot be
/// read, nobody authenticates. An unknown user, or one without active keys, goes through the
/// same store read and exchange against a made-up verifier and fails at the same point, so
/// user names cannot be probed. The connection is checked only after authentication.
pub async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    state: &State,
    stream: &mut S,
    buf: &mut ReadBuf,
    startup: Startup,
    method: ClientAuth,
) -> Result<Authenticated, SessionError> {
    let identity = state.identity(&startup.user);
    let keys = active_keys(state, identity, &startup.user).await?;
    let (first, others) = match keys.split_first() {
        Some((first, others)) => (
            first.verifier.clone(),
            others.iter().map(|k| k.verifier.clone()).collect(),
        ),
        None => (decoy_verifier(state.decoy_salt(&startup.user)), Vec::new()),
    };
    let failed = || SessionError::AuthFailed(startup.user.clone());
    let max = state.limits.max_message;
    let mut out = Vec::new();
    let matched = match method {
        ClientAuth::ScramSha256 => {
            let accepted = scram(stream, buf, max, first, others)
                .await?
                .ok_or_else(failed)?;
            encode_frame(
                &mut out,
                b'R',
                &[&12i32.to_be_bytes()[..], accepted.server_final.as_bytes()].concat(),
            );
            accepted.verifier
        }
        ClientAuth::Password => password(&state.key_checks, stream, buf, max, (first, others))
            .await?
            .ok_or_else(failed)?,
    };
    let key = keys.iter().find(|k| k.verifier == matched);
    let (Some(identity), Some(key)) = (identity, key) else {
        return Err(failed());
    };
    encode_frame(&mut out, b'R', &0i32.to_be_bytes());
    let Some(upstream) = state.upstream(&startup.database) else {
        return Err(refuse(
            "3D000",
            format!("connection `{}` does not exist", startup.database),
        ));
    };
    send(stream, &out).await?;
    Ok(Authenticated {
        identity: identity.clone(),
        key: key.id.clone(),
        upstream: Arc::clone(upstream),
        params: startup.params,
    })
}

/// An identity proven by one of its active API keys.
#[derive(Clone, Copy, Debug)]
pub struct Verified<'s> {
    pub identity: &'s IdentityConfig,
    /// The key that matched (a web session ends when it is revoked).
    pub key: &'s KeyId,
}

/// Checks `key` against `user`'s active API keys (the HTTP API's Basic credentials, the web
/// inbox's login): the same keys, revocations and fail-closed store read as a database
/// session. An unknown user is checked against a made-up verifier, and every verifier is
/// always tried, so the time taken does not tell names or keys apart.
pub async fn verify_key<'s>(
    state: &'s State,
    user: &str,
    key: String,
) -> Result<Option<Verified<'s>>, SessionError> {
    let identity = state.identity(user);
    let keys = active_keys(state, identity, user).await?;
    let mut verifiers: Vec<ScramVerifier> = keys.iter().map(|k| k.verifier.clone()).collect();
    if verifiers.is_empty() {
        verifiers.push(decoy_verifier(state.decoy_salt(user)));
    }
    let check = move || {
        verifiers
            .iter()
            .enumerate()
            .fold(None, |found: Option<usize>, (i, verifier)| {
                let this = verifier.verify_password(&key).then_some(i);
                found.or(this)
            })
    };
    let matched = state
        .key_checks
        .run(check)
        .await
        .ok_or(SessionError::Internal("the key check did not finish"))?;
    // With no active keys the one verifier is the decoy, which no index of `keys` names.
    let key = matched.and_then(|i| keys.get(i)).map(|k| &k.id);
    Ok(identity
        .zip(key)
        .map(|(identity, key)| Verified { identity, key }))
}

/// The identity's keys that are not revoked, read from the store now. Fails closed: when
/// the store cannot be read, the error is logged here and the client is told the keys
/// cannot be checked (58030), for known and unknown users alike.
async fn active_keys<'a>(
    state: &State,
    identity: Option<&'a IdentityConfig>,
    user: &str,
) -> Result<Vec<&'a ApiKey>, SessionError> {
    let keys = identity.map(|i| i.api_keys.as_slice()).unwrap_or_default();
    let mut ids: Vec<KeyId> = keys.iter().map(|k| k.id.clone()).collect();
    if ids.is_empty() {
        // The same read for everyone, so its timing and failures do not tell users apart.
        ids.push(KeyId::of_stored_key(&[0; 32]));
    }
    let revoked = state.revoked_among(&ids).await.map_err(|error| {
        error!(%error, user, "cannot read API key revocations: refusing authentication");
        SessionError::KeyCheck
    })?;
    Ok(keys.iter().filter(|k| !revoked.contains(&k.id)).collect())
}

/// The SCRAM-SHA-256 exchange up to the server-final-message (`None`: no key matched).
async fn scram<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut ReadBuf,
    max: usize,
    first: ScramVerifier,
    others: Vec<ScramVerifier>,
) -> Result<Option<Accepted>, SessionError> {
    let mut out = Vec::new();
    encode_frame(&mut out, b'R', b"\0\0\0\x0aSCRAM-SHA-256\0\0");
    send(stream, &out).await?;

    let first_message = read_auth(stream, buf, max).await?;
    let client_first = sasl_initial(&first_message).ok_or(SessionError::Unexpected('p'))?;
    let Ok((server, server_first)) = ScramServer::start_any(first, others, &client_first, &nonce())
    else {
        return Ok(None);
    };
    out.clear();
    encode_frame(
        &mut out,
        b'R',
        &[&11i32.to_be_bytes()[..], server_first.as_bytes()].concat(),
    );
    send(stream, &out).await?;

    let last = read_auth(stream, buf, max).await?;
    let Ok(client_final) = std::str::from_utf8(&last) else {
        return Ok(None);
    };
    Ok(server.finish(client_final).ok())
}

/// AuthenticationCleartextPassword: the key arrives as typed and is checked against each
/// active verifier (PBKDF2 → ClientKey → StoredKey, compared in constant time) on a blocking
/// thread (one of the few [`KeyChecks`] allows at once), as it costs as much as the client's
/// side of a SCRAM exchange. The verifier it matched, if any.
async fn password<S: AsyncRead + AsyncWrite + Unpin>(
    checks: &KeyChecks,
    stream: &mut S,
    buf: &mut ReadBuf,
    max: usize,
    (first, others): (ScramVerifier, Vec<ScramVerifier>),
) -> Result<Option<ScramVerifier>, SessionError> {
    let mut out = Vec::new();
    encode_frame(&mut out, b'R', &3i32.to_be_bytes());
    send(stream, &out).await?;
    let message = read_auth(stream, buf, max).await?;
    let Some(key) = message
        .strip_suffix(b"\0")
        .and_then(|k| String::from_utf8(k.to_vec()).ok())
    else {
        return Ok(None);
    };
    let check = move || {
        // Every verifier is tried, so the time taken does not tell which one matched.
        let mut matched = None;
        for verifier in std::iter::once(first).chain(others) {
            if verifier.verify_password(&key) && matched.is_none() {
                matched = Some(verifier);
            }
        }
        matched
    };
    checks
        .run(check)
        .await
        .ok_or(SessionError::Internal("the password check did not finish"))
}

async fn read_auth<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut ReadBuf,
    max: usize,
) -> Result<Vec<u8>, SessionError> {
    loop {
        if let Some(frame) = buf.next_frame(max.min(64 * 1024))? {
            let wire = airlock_pg::Frame {
                tag: frame.tag,
                body: buf.bytes(frame.body.clone()),
            };
            return match parse_frontend(&wire)? {
                FrontendMessage::Authentication(bytes) => Ok(bytes.to_vec()),
                FrontendMessage::Terminate => Err(SessionError::ClientIo(
                    std::io::ErrorKind::ConnectionAborted.into(),
                )),
                _ => Err(SessionError::Unexpected(char::from(frame.tag))),
            };
        }
        if buf.fill(stream).await? == 0 {
            return Err(SessionError::ClientIo(
                std::io::ErrorKind::UnexpectedEof.into(),
            ));
        }
    }
}

/// SASLInitialResponse: mechanism name, then the length-prefixed client-first-message.
fn sasl_initial(body: &[u8]) -> Option<String> {
    let nul = body.iter().position(|b| *b == 0)?;
    if body.get(..nul)? != b"SCRAM-SHA-256" {
        return None;
    }
    let len = body.get(nul + 1..nul + 5)?;
    let len = usize::try_from(i32::from_be_bytes(len.try_into().ok()?)).ok()?;
    let data = body.get(nul + 5..)?;
    (data.len() == len).then(|| String::from_utf8(data.to_vec()).ok())?
}

/// A verifier no password matches, with the salt the gateway shows for `user` every time
/// (a salt that changed between attempts would tell a prober the user does not exist); the
/// keys are random, and the caller refuses the user after the exchange anyway.
fn decoy_verifier(salt: [u8; 16]) -> ScramVerifier {
    let mut keys = [0u8; 64];
    let _ = getrandom::fill(&mut keys);
    let (stored, server) = keys.split_at(32);
    ScramVerifier {
        iterations: airlock_pg::DEFAULT_ITERATIONS,
        salt: salt.to_vec(),
        stored_key: stored.try_into().unwrap_or([0; 32]),
        server_key: server.try_into().unwrap_or([1; 32]),
    }
}

/// Fresh printable nonce text for SCRAM.
pub fn nonce() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 18];
    let _ = getrandom::fill(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn startup_passes_on_known_parameters_and_refuses_the_rest() {
        let ok = startup(params(&[
            ("user", "alice"),
            ("database", "local"),
            ("application_name", "psql"),
            ("_pq_.x", "1"),
        ]))
        .unwrap();
        assert_eq!((ok.user.as_str(), ok.database.as_str()), ("alice", "local"));
        assert_eq!(ok.params, params(&[("application_name", "psql")]));
        let replication = startup(params(&[("user", "a"), ("replication", "database")]));
        assert_eq!(replication.unwrap_err().code(), "0A000");
        let options = startup(params(&[("user", "a"), ("options", "-c role=admin")]));
        let error = options.unwrap_err();
        assert!(error.to_string().contains("`options`"), "{error}");
        assert_eq!(
            startup(params(&[("database", "x")])).unwrap_err().code(),
            "28000"
        );
    }

    #[test]
    fn startup_refuses_client_encodings_that_hide_quotes() {
        for safe in ["UTF8", "utf-8", "LATIN1", "SQL_ASCII", "euc_jp"] {
            let ok = startup(params(&[("user", "a"), ("client_encoding", safe)])).unwrap();
            assert_eq!(ok.params, params(&[("client_encoding", safe)]));
        }
        for unsafe_ in ["SJIS", "Shift_JIS", "mskanji", "win950", "GBK", "auto", ""] {
            let error =
                startup(params(&[("user", "a"), ("Client_Encoding", unsafe_)])).unwrap_err();
            assert_eq!(error.code(), "22023", "{unsafe_:?}");
            assert!(error.to_string().contains("client encoding"), "{error}");
        }
        // A second value cannot slip in after a safe one.
        let twice = startup(params(&[
            ("user", "a"),
            ("client_encoding", "UTF8"),
            ("client_encoding", "BIG5"),
        ]));
        assert_eq!(twice.unwrap_err().code(), "22023");
        let strings = startup(params(&[
            ("user", "a"),
            ("standard_conforming_strings", "off"),
        ]));
        assert_eq!(strings.unwrap_err().code(), "0A000");
    }

    #[test]
    fn sasl_initial_response_is_length_checked() {
        let mut body = b"SCRAM-SHA-256\0".to_vec();
        body.extend_from_slice(&5i32.to_be_bytes());
        body.extend_from_slice(b"n,,ab");
        assert_eq!(sasl_initial(&body).as_deref(), Some("n,,ab"));
        body.pop();
        assert_eq!(sasl_initial(&body), None);
        assert_eq!(sasl_initial(b"PLAIN\0\0\0\0\0"), None);
    }
}
