//! What a browser sends: forms (`application/x-www-form-urlencoded`, bounded), and where it says
//! they come from (`Origin`, `Sec-Fetch-Site`).

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::StatusCode;
use hyper::body::Incoming;
use hyper::header::{HOST, HeaderMap, HeaderValue};

use super::reply::{Reply, plain};

/// Largest form read (a reason, a login).
const MAX_FORM: usize = 16 * 1024;

/// A form read from a POST.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The refusal of a request the browser says comes from another site, if it does.
pub fn cross_site(headers: &HeaderMap) -> Option<Reply> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let refused = || {
        Some(plain(
            StatusCode::FORBIDDEN,
            "cross-site form posts are refused",
        ))
    };
    if let Some(site) = text("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return refused();
    }
    if let Some(origin) = text("origin") {
        let host = text(HOST.as_str()).unwrap_or_default();
        let origin_host = origin.split_once("://").map_or("", |(_, h)| h);
        if origin == "null" || !origin_host.eq_ignore_ascii_case(host) {
            return refused();
        }
    }
    None
}

pub async fn read(request: hyper::Request<Incoming>) -> Result<Form, Reply> {
    let is_form = request
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the form as application/x-www-form-urlencoded",
        ));
    }
    let bytes: Bytes = Limited::new(request.into_body(), MAX_FORM)
        .collect()
        .await
        .map_err(|_| plain(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large"))?
        .to_bytes();
    Ok(Form(
        form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_site_posts_are_refused() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            h
        };
        let same = |pairs| cross_site(&headers(pairs)).is_none();
        assert!(same(&[("host", "gw:8080"), ("origin", "http://gw:8080")]));
        assert!(same(&[("host", "gw:8080")]));
        assert!(!same(&[("host", "gw:8080"), ("origin", "http://evil")]));
        assert!(!same(&[("host", "gw:8080"), ("origin", "null")]));
        assert!(!same(&[("sec-fetch-site", "cross-site")]));
        assert!(same(&[("sec-fetch-site", "same-origin")]));
    }
}
