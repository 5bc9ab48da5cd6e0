//! Web inbox logins: a random session token in an `HttpOnly`, `SameSite=Strict` cookie (only
//! its SHA-256 is kept), and a per-session CSRF token every form must send back. Sessions live
//! in memory: a restart logs everyone out, which costs a login, never a vote.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use airlock_model::{KeyId, Name};
use base64::Engine;
use hyper::HeaderMap;
use hyper::header::COOKIE;
use sha2::{Digest, Sha256};

pub const COOKIE_NAME: &str = "airlock_session";
/// A login lasts a working day.
pub const LIFETIME: Duration = Duration::from_secs(8 * 3_600);
/// Most sessions kept at once (expired ones are dropped first).
const MAX_SESSIONS: usize = 10_000;

/// A logged-in human.
#[derive(Clone, Debug)]
pub struct Session {
    pub identity: Name,
    /// The API key the login used: revoking it ends the session.
    pub key: KeyId,
    /// Sent in every form; a POST without it is refused.
    pub csrf: String,
    expires: Instant,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("too many open web sessions; try again later")]
    Full,
    #[error("no random session token could be made: {0}")]
    Random(String),
}

#[derive(Debug, Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    /// Opens a session for `identity`, logged in with `key`; returns the cookie's token.
    pub fn open(&self, identity: Name, key: KeyId) -> Result<(String, Session), SessionError> {
        let token = random_token()?;
        let session = Session {
            identity,
            key,
            csrf: random_token()?,
            expires: Instant::now() + LIFETIME,
        };
        let mut map = self.locked();
        if map.len() >= MAX_SESSIONS {
            let now = Instant::now();
            map.retain(|_, s| s.expires > now);
            if map.len() >= MAX_SESSIONS {
                return Err(SessionError::Full);
            }
        }
        map.insert(hash(&token), session.clone());
        Ok((token, session))
    }

    /// The session the request's cookie names, if it is open.
    pub fn find(&self, headers: &HeaderMap) -> Option<Session> {
        let token = cookie(headers)?;
        let key = hash(&token);
        let mut map = self.locked();
        match map.get(&key) {
            Some(session) if session.expires > Instant::now() => Some(session.clone()),
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session the request's cookie names.
    pub fn close(&self, headers: &HeaderMap) {
        if let Some(token) = cookie(headers) {
            self.locked().remove(&hash(&token));
        }
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.by_hash.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `Set-Cookie` for a new session (`Secure` on a TLS listener).
pub fn set_cookie(token: &str, secure: bool) -> String {
    format!(
        "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        LIFETIME.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` that ends the session in the browser.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Whether a form's CSRF token is the session's (compared in constant time).
pub fn csrf_matches(session: &Session, sent: &str) -> bool {
    let (a, b) = (session.csrf.as_bytes(), sent.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE_NAME && !value.is_empty()).then(|| value.to_owned())
        })
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn random_token() -> Result<String, SessionError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| SessionError::Random(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn a_session_is_found_by_its_cookie_and_ends_on_close() {
        let sessions = Sessions::default();
        let key = KeyId::of_stored_key(&[1; 32]);
        let (token, session) = sessions.open(Name::new("carol").unwrap(), key).unwrap();
        let headers = with_cookie(&format!("theme=dark; {COOKIE_NAME}={token}"));
        let found = sessions.find(&headers).unwrap();
        assert_eq!(found.identity.as_str(), "carol");
        assert!(csrf_matches(&found, &session.csrf));
        assert!(!csrf_matches(&found, "forged"));
        assert!(!csrf_matches(&found, ""));
        assert!(
            sessions
                .find(&with_cookie(&format!("{COOKIE_NAME}=x{token}")))
                .is_none()
        );
        assert!(sessions.find(&HeaderMap::new()).is_none());
        sessions.close(&headers);
        assert!(sessions.find(&headers).is_none());
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_on_tls() {
        let plain = set_cookie("t", false);
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure"));
        assert!(set_cookie("t", true).ends_with("; Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }
}
