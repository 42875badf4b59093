//! The read routes: assign, evaluate, config, health.

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use vane_engine::model::KeyKind;
use vane_engine::{Assignment, FlagEvaluation, Timestamp};

use crate::EdgeHandler;
use crate::cache::Loaded;
use crate::http::{EdgeResponse, body_too_large, field_problem, json_bytes, json_response};
use crate::limits::MAX_EVAL_BODY_BYTES;
use crate::metrics::seconds_between;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignRequest {
    context: Value,
    /// Evaluate at this RFC 3339 instant instead of now (server keys only: previews, tests).
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    experiments: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluateRequest {
    context: Value,
    /// Evaluate at this RFC 3339 instant instead of now (server keys only: previews, tests).
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    flags: Option<Vec<String>>,
}

#[derive(Serialize)]
struct AssignResponse<'s> {
    environment: &'s str,
    snapshot_version: u64,
    assignments: Vec<Assignment<'s>>,
}

#[derive(Serialize)]
struct EvaluateResponse<'s> {
    environment: &'s str,
    snapshot_version: u64,
    flags: Vec<FlagEvaluation<'s>>,
}

/// Parses a JSON request body within the evaluation size limit; the context must be an object.
fn parse<T: serde::de::DeserializeOwned>(
    body: &Bytes,
    context: impl Fn(&T) -> &Value,
) -> Result<T, Box<EdgeResponse>> {
    if body.len() > MAX_EVAL_BODY_BYTES {
        return Err(Box::new(body_too_large(
            MAX_EVAL_BODY_BYTES,
            Some(body.len()),
        )));
    }
    if let Some(problem) = not_an_object(body) {
        return Err(Box::new(problem));
    }
    let parsed: T = serde_json::from_slice(body).map_err(|e| {
        let status = if e.is_syntax() || e.is_eof() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        Box::new(field_problem(
            status,
            "invalid-body",
            "body",
            &e.to_string(),
        ))
    })?;
    if !context(&parsed).is_object() {
        return Err(Box::new(field_problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "context",
            "must be a JSON object of attributes",
        )));
    }
    Ok(parsed)
}

/// A 422 unless the body is a JSON object: serde reads a struct from an array too
/// (`[{"user_id": "u1"}]` would pass as a request), which no client means.
pub(crate) fn not_an_object(body: &[u8]) -> Option<EdgeResponse> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') | None => None,
        Some(_) => Some(field_problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "body",
            "the body must be a JSON object",
        )),
    }
}

/// The instant to evaluate at: `now`, or the request's `at` for server keys.
fn instant(
    at: Option<&str>,
    kind: KeyKind,
    now: Timestamp,
) -> Result<Timestamp, Box<EdgeResponse>> {
    let Some(at) = at else { return Ok(now) };
    if kind == KeyKind::Client {
        return Err(Box::new(field_problem(
            StatusCode::FORBIDDEN,
            "key-not-allowed",
            "at",
            "only server keys may evaluate at another time",
        )));
    }
    Timestamp::parse_rfc3339(at).map_err(|e| {
        Box::new(field_problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "at",
            &format!("`{at}` is not an RFC 3339 time: {e}"),
        ))
    })
}

fn versioned(mut response: EdgeResponse, version: u64) -> EdgeResponse {
    if let Ok(value) = HeaderValue::from_str(&version.to_string()) {
        response
            .headers_mut()
            .insert("x-vane-snapshot-version", value);
    }
    response
}

pub(crate) fn assign(
    edge: &EdgeHandler,
    loaded: &Loaded,
    kind: KeyKind,
    body: &Bytes,
    now: Timestamp,
) -> EdgeResponse {
    edge.counters.assign.fetch_add(1, Relaxed);
    let request: AssignRequest = match parse(body, |r: &AssignRequest| &r.context) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let now = match instant(request.at.as_deref(), kind, now) {
        Ok(t) => t,
        Err(response) => return *response,
    };
    let compiled = &loaded.compiled;
    let assignments = match &request.experiments {
        // Requested experiments are answered one by one, with the reason when not assigned.
        Some(keys) => keys
            .iter()
            .map(|k| compiled.assign(k, &request.context, now))
            .collect(),
        // Otherwise: the experiments the unit is in.
        None => compiled
            .assign_all(&request.context, now)
            .into_iter()
            .filter(|a| a.in_experiment)
            .collect(),
    };
    let response = json_response(
        StatusCode::OK,
        &AssignResponse {
            environment: compiled.environment(),
            snapshot_version: compiled.version(),
            assignments,
        },
    );
    versioned(response, compiled.version())
}

pub(crate) fn evaluate(
    edge: &EdgeHandler,
    loaded: &Loaded,
    kind: KeyKind,
    body: &Bytes,
    now: Timestamp,
) -> EdgeResponse {
    edge.counters.evaluate.fetch_add(1, Relaxed);
    let request: EvaluateRequest = match parse(body, |r: &EvaluateRequest| &r.context) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let now = match instant(request.at.as_deref(), kind, now) {
        Ok(t) => t,
        Err(response) => return *response,
    };
    let compiled = &loaded.compiled;
    let flags = match &request.flags {
        Some(keys) => keys
            .iter()
            .map(|k| compiled.evaluate_flag(k, &request.context, now))
            .collect(),
        None => compiled.evaluate_flags(&request.context, now),
    };
    let response = json_response(
        StatusCode::OK,
        &EvaluateResponse {
            environment: compiled.environment(),
            snapshot_version: compiled.version(),
            flags,
        },
    );
    versioned(response, compiled.version())
}

pub(crate) fn config(loaded: &Loaded, request: &Request<Bytes>) -> EdgeResponse {
    let etag = format!("\"{}\"", loaded.config_hash);
    let matches = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        let mut r = EdgeResponse::new(Bytes::new());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        json_bytes(StatusCode::OK, loaded.config_body.clone())
    };
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    versioned(response, loaded.compiled.version())
}

#[derive(Serialize)]
struct Health<'a> {
    /// `ok`, `stale` (the last refresh failed; serving the last good snapshot) or `no_snapshot`.
    status: &'static str,
    edge_id: &'a str,
    runtime: &'a str,
    environment: &'a str,
    snapshot: Option<SnapshotHealth>,
    last_refresh_at: Option<String>,
    last_refresh_error: Option<RefreshErrorOut>,
    counters: serde_json::Map<String, Value>,
}

#[derive(Serialize)]
struct SnapshotHealth {
    version: u64,
    content_hash: String,
    published_at: Option<String>,
    loaded_at: Option<String>,
    /// Seconds since the served snapshot was published (or loaded, when unknown).
    age_seconds: f64,
}

#[derive(Serialize)]
struct RefreshErrorOut {
    at: Option<String>,
    message: String,
}

pub(crate) fn health(edge: &EdgeHandler, now: Timestamp) -> EdgeResponse {
    let loaded = edge.cache.current();
    let error = edge.cache.last_error();
    let success = edge.cache.last_success();
    let failing = edge.cache.is_failing();
    let status = match (&loaded, failing) {
        (None, _) => "no_snapshot",
        (Some(_), true) => "stale",
        (Some(_), false) => "ok",
    };
    let snapshot = loaded.as_ref().map(|l| SnapshotHealth {
        version: l.compiled.version(),
        content_hash: l.compiled.content_hash().to_owned(),
        published_at: l.published_at.and_then(Timestamp::to_rfc3339),
        loaded_at: l.loaded_at.to_rfc3339(),
        age_seconds: seconds_between(l.published_at.unwrap_or(l.loaded_at), now),
    });
    let counters = edge
        .counters
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::from(v)))
        .collect();
    let body = Health {
        status,
        edge_id: &edge.identity.edge_id,
        runtime: edge.identity.runtime,
        environment: edge.cache.environment(),
        snapshot,
        last_refresh_at: success.and_then(Timestamp::to_rfc3339),
        last_refresh_error: error.map(|e| RefreshErrorOut {
            at: e.at.to_rfc3339(),
            message: e.message,
        }),
        counters,
    };
    // Health answers 200 even while stale: the edge is serving. Only "no snapshot" is 503.
    let code = if loaded.is_some() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(code, &body)
}
