//! Who is calling: HTTP basic credentials (identity and API key, as `psql` takes them as user
//! and password) checked against the identity's active keys.

use airlock_config::IdentityConfig;
use base64::Engine;
use hyper::HeaderMap;
use hyper::header::AUTHORIZATION;

use super::reply::ApiError;
use crate::client_auth;
use crate::state::State;

/// The identity whose key the request carries.
pub async fn caller<'s>(
    state: &'s State,
    headers: &HeaderMap,
) -> Result<&'s IdentityConfig, ApiError> {
    let (user, key) = basic(headers).ok_or(ApiError::Unauthorized)?;
    match client_auth::verify_key(state, &user, key).await {
        Ok(Some(verified)) => Ok(verified.identity),
        Ok(None) => {
            tracing::info!(user = %user, "HTTP authentication failed");
            Err(ApiError::Unauthorized)
        }
        Err(_) => Err(ApiError::KeyCheck),
    }
}

/// The user and password of an `Authorization: Basic` header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, key) = text.split_once(':')?;
    Some((user.to_owned(), key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(AUTHORIZATION, value);
        }
        headers
    }

    #[test]
    fn basic_credentials_are_read_and_anything_else_is_not() {
        let good = base64::engine::general_purpose::STANDARD.encode("carol:alk_1:2");
        assert_eq!(
            basic(&headers(&format!("Basic {good}"))),
            Some(("carol".into(), "alk_1:2".into()))
        );
        assert_eq!(
            basic(&headers(&format!("basic  {good}"))),
            Some(("carol".into(), "alk_1:2".into()))
        );
        assert_eq!(basic(&headers(&format!("Bearer {good}"))), None);
        assert_eq!(basic(&headers("Basic !!!")), None);
        let no_colon = base64::engine::general_purpose::STANDARD.encode("carol");
        assert_eq!(basic(&headers(&format!("Basic {no_colon}"))), None);
        assert_eq!(basic(&HeaderMap::new()), None);
    }
}
