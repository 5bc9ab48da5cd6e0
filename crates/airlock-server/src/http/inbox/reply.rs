//! The inbox's answers: HTML pages, plain-text refusals, the stylesheet and redirects, each sent
//! with headers that keep pages out of caches, frames and script.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, LOCATION};
use hyper::{Response, StatusCode};

pub use crate::http::reply::Reply;

const CSS: &str = include_str!("inbox.css");
const CSP: &str = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn html(status: StatusCode, body: String) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body)));
    *reply.status_mut() = status;
    set_header(
        &mut reply,
        hyper::header::CONTENT_TYPE,
        "text/html; charset=utf-8",
    );
    guard(&mut reply);
    reply
}

pub fn plain(status: StatusCode, text: &str) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *reply.status_mut() = status;
    set_header(
        &mut reply,
        hyper::header::CONTENT_TYPE,
        "text/plain; charset=utf-8",
    );
    guard(&mut reply);
    reply
}

pub fn css() -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from_static(CSS.as_bytes())));
    set_header(
        &mut reply,
        hyper::header::CONTENT_TYPE,
        "text/css; charset=utf-8",
    );
    set_header(&mut reply, hyper::header::CACHE_CONTROL, "max-age=3600");
    reply
}

/// 303: after a POST, the browser GETs the page.
pub fn redirect(to: &str) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::new()));
    *reply.status_mut() = StatusCode::SEE_OTHER;
    set_header(&mut reply, LOCATION, to);
    guard(&mut reply);
    reply
}

/// Pages are not cached, framed, sniffed or given scripts.
fn guard(reply: &mut Reply) {
    set_header(reply, hyper::header::CACHE_CONTROL, "no-store");
    set_header(reply, hyper::header::CONTENT_SECURITY_POLICY, CSP);
    set_header(reply, hyper::header::X_FRAME_OPTIONS, "DENY");
    set_header(reply, hyper::header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set_header(reply, hyper::header::REFERRER_POLICY, "same-origin");
}

pub fn set_header(reply: &mut Reply, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        reply.headers_mut().insert(name, value);
    }
}
