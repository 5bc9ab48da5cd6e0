//! SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL speaks it: the server side (clients
//! authenticate to airlock with their API key) and the client side (airlock authenticates to
//! the upstream), and verifiers in PostgreSQL's own `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`
//! format, so a key is stored nowhere. Pure: callers supply the random nonces and salts.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

/// Iterations PostgreSQL uses by default.
pub const DEFAULT_ITERATIONS: u32 = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    #[error("SCRAM channel binding is not supported on this connection")]
    ChannelBinding,
    #[error("the server's nonce does not extend the client's")]
    NonceMismatch,
    #[error("password authentication failed")]
    BadProof,
    #[error("the server's signature is wrong: it does not know the password")]
    BadServerSignature,
    #[error("`{0}` is not a SCRAM-SHA-256 verifier")]
    BadVerifier(String),
    #[error(
        "{0} SCRAM iterations asked for; airlock computes at most {MAX_ITERATIONS} \
         (PostgreSQL's default is 4096)"
    )]
    TooManyIterations(u32),
}

/// The most PBKDF2 iterations airlock computes for one exchange or verifier. Each costs two
/// HMACs on the session's thread: a count in the billions, from a hostile or misconfigured
/// server, would stall every session on that thread for hours.
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// What a server stores to check a password without knowing it.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub stored_key: [u8; 32],
    pub server_key: [u8; 32],
}

impl ScramVerifier {
    pub fn new(password: &str, salt: &[u8], iterations: u32) -> Self {
        let salted = salted_password(password, salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        Self {
            iterations,
            salt: salt.to_vec(),
            stored_key: sha256(&client_key),
            server_key: hmac(&salted, b"Server Key"),
        }
    }

    /// Checks a password presented directly (e.g. over TLS-protected HTTP), in constant time.
    pub fn verify_password(&self, password: &str) -> bool {
        let salted = salted_password(password, &self.salt, self.iterations);
        equal(&sha256(&hmac(&salted, b"Client Key")), &self.stored_key)
    }

    pub fn parse(text: &str) -> Result<Self, ScramError> {
        let bad = || ScramError::BadVerifier(text.chars().take(24).collect());
        let rest = text.strip_prefix("SCRAM-SHA-256$").ok_or_else(bad)?;
        let (params, keys) = rest.split_once('$').ok_or_else(bad)?;
        let (iterations, salt) = params.split_once(':').ok_or_else(bad)?;
        let (stored, server) = keys.split_once(':').ok_or_else(bad)?;
        let key = |s: &str| -> Result<[u8; 32], ScramError> {
            B64.decode(s)
                .ok()
                .and_then(|k| <[u8; 32]>::try_from(k).ok())
                .ok_or_else(bad)
        };
        let iterations: u32 = iterations.parse().ok().filter(|i| *i > 0).ok_or_else(bad)?;
        if iterations > MAX_ITERATIONS {
            return Err(ScramError::TooManyIterations(iterations));
        }
        Ok(Self {
            iterations,
            salt: B64.decode(salt).map_err(|_| bad())?,
            stored_key: key(stored)?,
            server_key: key(server)?,
        })
    }
}

impl fmt::Display for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(self.stored_key),
            B64.encode(self.server_key)
        )
    }
}

impl fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScramVerifier({} iterations)", self.iterations)
    }
}

/// The server side of one exchange.
#[derive(Debug)]
pub struct ScramServer {
    /// Every verifier a proof may match; all share the salt and iteration count named in
    /// server-first-message.
    verifiers: Vec<ScramVerifier>,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

/// A proof the server accepted.
#[derive(Debug)]
pub struct Accepted {
    /// server-final-message (`v=<signature>`), signed with the matching verifier's ServerKey.
    pub server_final: String,
    /// The verifier the client's key matched.
    pub verifier: ScramVerifier,
}

impl ScramServer {
    /// Reads client-first-message (`n,,n=,r=<nonce>`) and answers server-first-message.
    pub fn start(
        verifier: ScramVerifier,
        client_first: &str,
        server_nonce: &str,
    ) -> Result<(Self, String), ScramError> {
        Self::start_any(verifier, Vec::new(), client_first, server_nonce)
    }

    /// Like [`start`](Self::start), for a principal with several keys: server-first-message
    /// names `first`'s salt and iteration count (it is sent before the server can know which
    /// key the client holds), and the proof is accepted if it matches `first` or any of
    /// `others` with that same salt and count. Others are ignored: a client can only prove
    /// a key salted as announced.
    pub fn start_any(
        first: ScramVerifier,
        others: Vec<ScramVerifier>,
        client_first: &str,
        server_nonce: &str,
    ) -> Result<(Self, String), ScramError> {
        let bare = match client_first.split_once(",,") {
            Some(("n" | "y", bare)) => bare,
            Some((cb, _)) if cb.starts_with("p=") => return Err(ScramError::ChannelBinding),
            _ => {
                return Err(ScramError::Malformed(
                    "client-first-message needs a gs2 header",
                ));
            }
        };
        let client_nonce =
            attribute(bare, 'r').ok_or(ScramError::Malformed("client nonce missing"))?;
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&first.salt),
            first.iterations
        );
        let same_salt =
            |v: &ScramVerifier| v.salt == first.salt && v.iterations == first.iterations;
        let others = others.into_iter().filter(same_salt);
        let server = Self {
            verifiers: std::iter::once(first.clone()).chain(others).collect(),
            client_first_bare: bare.to_owned(),
            server_first: server_first.clone(),
            nonce,
        };
        Ok((server, server_first))
    }

    /// Checks client-final-message's proof against every verifier (all of them, whatever
    /// matches, in constant time each) and answers with the matching one.
    pub fn finish(self, client_final: &str) -> Result<Accepted, ScramError> {
        let (without_proof, proof) = client_final
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed("proof missing"))?;
        if attribute(without_proof, 'r') != Some(self.nonce.as_str()) {
            return Err(ScramError::NonceMismatch);
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| ScramError::Malformed("proof is not base64"))?;
        let auth = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        if proof.len() != 32 {
            return Err(ScramError::BadProof);
        }
        let mut matched = None;
        for verifier in self.verifiers {
            if proves(&proof, &verifier, auth.as_bytes()) && matched.is_none() {
                matched = Some(verifier);
            }
        }
        let verifier = matched.ok_or(ScramError::BadProof)?;
        let server_final = format!(
            "v={}",
            B64.encode(hmac(&verifier.server_key, auth.as_bytes()))
        );
        Ok(Accepted {
            server_final,
            verifier,
        })
    }
}

/// The client side of one exchange.
#[derive(Debug)]
pub struct ScramClient {
    password: String,
    client_first_bare: String,
    server_signature: Option<[u8; 32]>,
}

impl ScramClient {
    /// Starts an exchange; returns the client and client-first-message.
    pub fn start(password: &str, client_nonce: &str) -> (Self, String) {
        let bare = format!("n=,r={client_nonce}");
        let first = format!("n,,{bare}");
        (
            Self {
                password: password.to_owned(),
                client_first_bare: bare,
                server_signature: None,
            },
            first,
        )
    }

    /// Answers server-first-message with client-final-message.
    pub fn respond(&mut self, server_first: &str) -> Result<String, ScramError> {
        let nonce =
            attribute(server_first, 'r').ok_or(ScramError::Malformed("server nonce missing"))?;
        let client_nonce = attribute(&self.client_first_bare, 'r').unwrap_or_default();
        if !nonce.starts_with(client_nonce) || nonce.len() == client_nonce.len() {
            return Err(ScramError::NonceMismatch);
        }
        let salt = attribute(server_first, 's')
            .and_then(|s| B64.decode(s).ok())
            .ok_or(ScramError::Malformed("salt missing"))?;
        let iterations = attribute(server_first, 'i')
            .and_then(|i| i.parse::<u32>().ok())
            .filter(|i| *i > 0)
            .ok_or(ScramError::Malformed("iteration count missing"))?;
        if iterations > MAX_ITERATIONS {
            return Err(ScramError::TooManyIterations(iterations));
        }
        let salted = salted_password(&self.password, &salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!(
            "{},{},{}",
            self.client_first_bare, server_first, without_proof
        );
        let signature = hmac(&sha256(&client_key), auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(signature.iter())
            .map(|(k, s)| k ^ s)
            .collect();
        self.server_signature = Some(hmac(&hmac(&salted, b"Server Key"), auth.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Checks server-final-message: the server proves it knew the verifier.
    pub fn verify(&self, server_final: &str) -> Result<(), ScramError> {
        let signature = attribute(server_final, 'v')
            .and_then(|v| B64.decode(v).ok())
            .ok_or(ScramError::Malformed("server signature missing"))?;
        match self.server_signature {
            Some(expected) if equal(&signature, &expected) => Ok(()),
            _ => Err(ScramError::BadServerSignature),
        }
    }
}

/// Whether `proof` shows knowledge of the key behind `verifier`: ClientKey is the proof XOR
/// HMAC(StoredKey, AuthMessage), and H(ClientKey) must be StoredKey (compared in constant time).
fn proves(proof: &[u8], verifier: &ScramVerifier, auth: &[u8]) -> bool {
    let signature = hmac(&verifier.stored_key, auth);
    let client_key: Vec<u8> = proof
        .iter()
        .zip(signature.iter())
        .map(|(p, s)| p ^ s)
        .collect();
    equal(&sha256(&client_key), &verifier.stored_key)
}

fn attribute(message: &str, name: char) -> Option<&str> {
    message.split(',').find_map(|part| {
        let mut chars = part.chars();
        (chars.next() == Some(name) && chars.next() == Some('='))
            .then(|| part.get(2..))
            .flatten()
    })
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// HMAC-SHA-256 (RFC 2104).
fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    let hashed;
    let key = if key.len() > BLOCK {
        hashed = sha256(key);
        &hashed[..]
    } else {
        key
    };
    block.iter_mut().zip(key).for_each(|(b, k)| *b = *k);
    let inner: Vec<u8> = block
        .iter()
        .map(|b| b ^ 0x36)
        .chain(message.iter().copied())
        .collect();
    let outer: Vec<u8> = block
        .iter()
        .map(|b| b ^ 0x5c)
        .chain(sha256(&inner))
        .collect();
    sha256(&outer)
}

/// PBKDF2-HMAC-SHA-256 with one output block (RFC 8018); the password as UTF-8 (SASLprep of
/// ASCII passwords is the identity; airlock's keys are ASCII).
fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut first = salt.to_vec();
    first.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac(password.as_bytes(), &first);
    let mut result = u;
    for _ in 1..iterations {
        u = hmac(password.as_bytes(), &u);
        result.iter_mut().zip(u.iter()).for_each(|(r, x)| *r ^= x);
    }
    result
}

fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[path = "scram_tests.rs"]
mod tests;
