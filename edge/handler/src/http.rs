//! HTTP plumbing shared by every route: JSON and problem+json responses, CORS, body limits.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde::Serialize;
use serde_json::json;

/// The response type every shell translates back to its runtime.
pub type EdgeResponse = Response<Bytes>;

pub const PROBLEM_JSON: &str = "application/problem+json";
const JSON: &str = "application/json";

/// A JSON response.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> EdgeResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => with_type(status, JSON, Bytes::from(bytes)),
        Err(_) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
            None,
        ),
    }
}

/// Raw JSON bytes.
pub fn json_bytes(status: StatusCode, body: Bytes) -> EdgeResponse {
    with_type(status, JSON, body)
}

fn with_type(status: StatusCode, content_type: &'static str, body: Bytes) -> EdgeResponse {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// One invalid field, for problem bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// An RFC 9457 problem: `type` is `https://vane.dev/problems/{kind}`; `errors` names fields.
pub fn problem(
    status: StatusCode,
    kind: &str,
    detail: &str,
    errors: Option<&[FieldError]>,
) -> EdgeResponse {
    let mut body = json!({
        "type": format!("https://vane.dev/problems/{kind}"),
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    if let Some(errors) = errors {
        body["errors"] = json!(errors);
    }
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    with_type(status, PROBLEM_JSON, Bytes::from(bytes))
}

/// 413 for a body over `limit` bytes: `size` when it is known, otherwise (a shell that stopped
/// reading at the limit) only that it is larger.
pub fn body_too_large(limit: usize, size: Option<usize>) -> EdgeResponse {
    let detail = match size {
        Some(size) => format!("the body is {size} bytes; the limit is {limit}"),
        None => format!("the body exceeds {limit} bytes"),
    };
    problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        &detail,
        None,
    )
}

/// A problem naming one field.
pub fn field_problem(status: StatusCode, kind: &str, field: &str, message: &str) -> EdgeResponse {
    problem(
        status,
        kind,
        &format!("{field}: {message}"),
        Some(&[FieldError {
            field: field.to_owned(),
            message: message.to_owned(),
        }]),
    )
}

/// Adds the CORS headers browsers need to call an edge from any origin. Keys travel in a
/// header, never in cookies, so a wildcard origin is safe.
pub fn add_cors(response: &mut EdgeResponse) {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("etag, x-vane-snapshot-version"),
    );
}

/// The answer to a CORS preflight.
pub fn preflight() -> EdgeResponse {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, x-vane-key, if-none-match"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}
