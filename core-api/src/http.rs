//! HTTP plumbing shared by the routes: JSON bodies whose errors name the field, `If-Match` /
//! ETags, and pagination.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{CONTENT_TYPE, ETAG, IF_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, FieldError};
use crate::state::AppState;

/// A JSON request body, parsed only when the handler asks ([`ApiJson::parse`]) so that
/// authorization comes before validation. A body that is not JSON is 400 (415 without a JSON
/// content type); a body of the wrong shape is 422 naming the field
/// (`variants[1].weight: invalid type: string "x", expected f64`).
#[derive(Debug)]
pub struct ApiJson<T> {
    bytes: Bytes,
    is_json: bool,
    _type: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> ApiJson<T> {
    pub fn parse(self) -> ApiResult<T> {
        if !self.is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse_json(&self.bytes)
    }
}

impl<T> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> ApiResult<Self> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::BodyTooLarge {
                    limit: MAX_BODY_BYTES,
                }
            } else {
                ApiError::Malformed(e.body_text())
            }
        })?;
        Ok(Self {
            bytes,
            is_json,
            _type: std::marker::PhantomData,
        })
    }
}

/// The request body limit: axum's default (2 MiB), named so that errors can say it.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Parses `bytes` as `T`, reporting where it fails.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => Ok(value),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                Err(ApiError::Malformed(format!(
                    "the body is not valid JSON: {inner}"
                )))
            } else {
                let path = if path == "." { "$".to_owned() } else { path };
                let message = strip_position(&inner.to_string());
                let code = if message.starts_with("missing field") {
                    "required"
                } else if message.starts_with("unknown field") {
                    "unknown_field"
                } else {
                    "invalid_type"
                };
                Err(ApiError::Invalid(vec![FieldError::new(
                    path, code, message,
                )]))
            }
        }
    }
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Query parameters, with errors as problem+json.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> ApiResult<Self> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded_from_str(query).map(ApiQuery)
    }
}

fn serde_urlencoded_from_str<T: DeserializeOwned>(query: &str) -> ApiResult<T> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| ApiError::Malformed("unreadable query string".to_owned()))?,
    )
    .map(|q| q.0)
    .map_err(|e| ApiError::field("query", "invalid_query", e.body_text()))
}

/// The `If-Match` header: the version an update expects to replace.
#[derive(Debug, Clone)]
pub struct IfMatch(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> ApiResult<Self> {
        Ok(Self(
            parts
                .headers
                .get(IF_MATCH)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned()),
        ))
    }
}

impl IfMatch {
    /// 428 when absent, 412 when it names another version than `current`.
    pub fn check(&self, current: i64) -> ApiResult<()> {
        let Some(tag) = &self.0 else {
            return Err(ApiError::PreconditionRequired);
        };
        let current_tag = etag(current);
        if tag.split(',').any(|t| t.trim() == current_tag) {
            Ok(())
        } else {
            Err(ApiError::PreconditionFailed {
                current: current_tag,
            })
        }
    }
}

/// The strong ETag of an entity version: `"7"`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// A JSON response with an ETag.
pub fn tagged<T: Serialize>(status: StatusCode, version: i64, body: &T) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(ETAG, value);
    }
    response
}

/// Keyset pagination parameters.
#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items after this cursor (the `next_cursor` of the previous page).
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<u32>,
}

impl PageQuery {
    pub fn limit(&self) -> i64 {
        i64::from(self.limit.unwrap_or(100).clamp(1, 500))
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` items (the extra one says there is more).
    pub fn from_overfetch(mut items: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Self {
        let limit = usize::try_from(limit).unwrap_or(100);
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(cursor_of)
        } else {
            None
        };
        Self { items, next_cursor }
    }
}

/// Checks a key's syntax: 1–256 characters of `A-Z a-z 0-9 _ - . :` (the engine's rule), and
/// not `.` or `..` (keys appear in URL paths and KV keys, where those mean something else).
pub fn check_key(path: &str, key: &str, errors: &mut Vec<FieldError>) {
    let ok = !key.is_empty()
        && key != "."
        && key != ".."
        && key.len() <= 256
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
    if !ok {
        errors.push(FieldError::new(
            path,
            "invalid_key",
            format!("`{key}` is not a valid key (1-256 of A-Z a-z 0-9 _ - . :, not `.` or `..`)"),
        ));
    }
}

/// The key of a new entity from its body (required), or of an updated one (must match the URL).
pub fn body_key(body_key: &Option<String>, url_key: Option<&str>) -> ApiResult<String> {
    let mut errors = Vec::new();
    let key = match (body_key, url_key) {
        (Some(k), None) => {
            check_key("key", k, &mut errors);
            k.clone()
        }
        (None, None) => {
            errors.push(FieldError::new("key", "required", "missing field `key`"));
            String::new()
        }
        (Some(k), Some(url)) if k != url => {
            errors.push(FieldError::new(
                "key",
                "immutable",
                format!("the key cannot change (`{url}` in the URL, `{k}` in the body)"),
            ));
            String::new()
        }
        (_, Some(url)) => url.to_owned(),
    };
    if errors.is_empty() {
        Ok(key)
    } else {
        Err(ApiError::Invalid(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        variants: Vec<Inner>,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        weight: f64,
    }

    #[test]
    fn a_wrongly_typed_field_is_named_by_its_path() {
        let err =
            parse_json::<Outer>(br#"{"variants": [{"weight": 1}, {"weight": "x"}]}"#).unwrap_err();
        match err {
            ApiError::Invalid(errors) => assert_eq!(errors[0].path, "variants[1].weight"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn broken_json_is_a_bad_request() {
        assert!(matches!(
            parse_json::<Outer>(b"{\"variants\": ["),
            Err(ApiError::Malformed(_))
        ));
    }

    #[test]
    fn if_match_must_name_the_current_version() {
        assert!(IfMatch(Some("\"3\"".into())).check(3).is_ok());
        assert!(matches!(
            IfMatch(Some("\"2\"".into())).check(3),
            Err(ApiError::PreconditionFailed { .. })
        ));
        assert!(matches!(
            IfMatch(None).check(3),
            Err(ApiError::PreconditionRequired)
        ));
    }
}
