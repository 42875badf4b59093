//! Conditional answers for evaluation routes: the `ETag` of a 200 answer is a hash of its
//! body, so a client that sends it back in `If-None-Match` gets `304 Not Modified` (and no
//! body) until the snapshot or its context changes what it would receive.

use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};

use crate::http::EdgeResponse;

/// The entity tag of a body: XXH64 of its bytes, quoted.
pub fn of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    format!("\"{:016x}\"", vane_engine::hash::hash("etag", &text))
}

/// Whether an `If-None-Match` header value lists `etag` (or `*`); weak tags compare equal.
pub fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').any(|t| {
        let t = t.trim();
        t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag
    })
}

/// Adds the ETag to a 200 answer and turns it into a 304 when the request already has it.
pub fn conditional(request: &Request<Bytes>, mut response: EdgeResponse) -> EdgeResponse {
    if response.status() != StatusCode::OK {
        return response;
    }
    let etag = of(response.body());
    let fresh = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches(v, &etag));
    if fresh {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        *response.body_mut() = Bytes::new();
        response.headers_mut().remove(header::CONTENT_TYPE);
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_if_none_match_list_matches_strong_and_weak_forms() {
        let tag = of(b"{}");
        assert!(matches(&tag, &tag));
        assert!(matches(&format!("\"x\", W/{tag}"), &tag));
        assert!(matches("*", &tag));
        assert!(!matches("\"other\"", &tag));
    }
}
