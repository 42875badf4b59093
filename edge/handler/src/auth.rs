//! API keys at the edge: `Authorization: Bearer <key>` or `X-Vane-Key: <key>`, checked against
//! the SHA-256 digests the snapshot carries. Missing or unknown keys get 401; a client key on a
//! server route gets 403.

use http::{HeaderMap, StatusCode};
use vane_engine::model::{KeyKind, sha256_hex};

use crate::cache::Loaded;
use crate::http::{EdgeResponse, problem};

/// What a route needs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Need {
    /// Any key of the environment.
    Client,
    /// A server or admin key.
    Server,
}

fn presented(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let text = value.to_str().ok()?;
        let (scheme, key) = text.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then_some(key.trim());
    }
    headers.get("x-vane-key")?.to_str().ok().map(str::trim)
}

pub(crate) fn check(
    headers: &HeaderMap,
    loaded: &Loaded,
    need: Need,
) -> Result<KeyKind, Box<EdgeResponse>> {
    let Some(key) = presented(headers).filter(|k| !k.is_empty()) else {
        return Err(Box::new(problem(
            StatusCode::UNAUTHORIZED,
            "missing-key",
            "send an API key as `Authorization: Bearer <key>` or `X-Vane-Key: <key>`",
            None,
        )));
    };
    let digest = sha256_hex(key.as_bytes());
    let Some(&(_, kind)) = loaded.keys.iter().find(|(d, _)| *d == digest) else {
        return Err(Box::new(problem(
            StatusCode::UNAUTHORIZED,
            "unknown-key",
            "the API key is not valid for this environment",
            None,
        )));
    };
    match (need, kind) {
        (Need::Client, _) | (Need::Server, KeyKind::Server | KeyKind::Admin) => Ok(kind),
        (Need::Server, KeyKind::Client) => Err(Box::new(problem(
            StatusCode::FORBIDDEN,
            "key-not-allowed",
            "this route needs a server key; client keys may only evaluate, assign and send events",
            None,
        ))),
    }
}
