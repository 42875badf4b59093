//! The crate's one error type and its RFC 9457 `application/problem+json` rendering.
//!
//! Client mistakes get a 4xx naming the field; server faults get an opaque 500 whose cause is
//! logged once, here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// One problem with a request, located by the path of the field in the request body (or, for
/// problems found in another entity of the configuration, in that entity's representation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Field path, e.g. `variants[1].weight` or `environments.production.rules[0].condition`.
    pub path: String,
    /// Stable, machine-readable error code (e.g. `weights_do_not_sum_to_one`, `required`).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The entity the path belongs to when it is not the one in the request, as `kind:key`
    /// (e.g. `flag:new-checkout`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// The environment whose snapshot the problem was found in, for per-environment state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

impl FieldError {
    pub fn new(path: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            code: code.to_owned(),
            message: message.into(),
            entity: None,
            environment: None,
        }
    }
}

/// Everything that can go wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON, or not an object of the expected shape at the syntax level.
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("expected a JSON body (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// The body is over the request body limit.
    #[error("the request body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// The request is well-formed but its content is invalid; every problem is listed.
    #[error("the request is invalid")]
    Invalid(Vec<FieldError>),
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{kind} `{key}` not found")]
    NotFound { kind: &'static str, key: String },
    #[error("{0}")]
    Conflict(String),
    #[error("the resource changed since you read it (current ETag {current})")]
    PreconditionFailed { current: String },
    #[error("this request must carry If-Match with the ETag of the version it changes")]
    PreconditionRequired,
    /// Too many failed logins for this account or from this address.
    #[error("too many failed logins: try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("migration error")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("internal error: {0}")]
    Internal(String),
    /// Results are computed by the analytics service, and none is configured.
    #[error("analytics is not configured: start core-api with --analytics-url")]
    AnalyticsNotConfigured,
    /// The analytics service did not answer.
    #[error("analytics is unreachable at {url}")]
    AnalyticsUnreachable { url: String, cause: String },
}

impl ApiError {
    pub fn not_found(kind: &'static str, key: impl Into<String>) -> Self {
        Self::NotFound {
            kind,
            key: key.into(),
        }
    }

    /// One invalid field.
    pub fn field(path: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(path, code, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Database(_) | Self::Migrate(_) | Self::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::AnalyticsNotConfigured => StatusCode::SERVICE_UNAVAILABLE,
            Self::AnalyticsUnreachable { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    /// Server faults whose body says nothing about the cause (the other 5xx name a service
    /// the operator configured).
    fn is_opaque(&self) -> bool {
        matches!(
            self,
            Self::Database(_) | Self::Migrate(_) | Self::Internal(_)
        )
    }

    fn type_slug(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed-request",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::BodyTooLarge { .. } => "body-too-large",
            Self::Invalid(_) => "validation-failed",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound { .. } => "not-found",
            Self::Conflict(_) => "conflict",
            Self::PreconditionFailed { .. } => "stale-version",
            Self::PreconditionRequired => "if-match-required",
            Self::TooManyRequests { .. } => "too-many-logins",
            Self::Database(_) | Self::Migrate(_) | Self::Internal(_) => "internal",
            Self::AnalyticsNotConfigured => "analytics-not-configured",
            Self::AnalyticsUnreachable { .. } => "analytics-unreachable",
        }
    }
}

/// RFC 9457 problem details, as every error response carries them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type, e.g. `https://vane.dev/problems/validation-failed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Every field-level problem, for 400 and 422 responses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

const PROBLEM_BASE: &str = "https://vane.dev/problems/";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // Logged once, here; the body says nothing about the cause.
            tracing::error!(error = ?self, "request failed");
        }
        let title = status.canonical_reason().unwrap_or("Error").to_owned();
        let detail = if self.is_opaque() {
            Some("an internal error occurred; it has been logged".to_owned())
        } else {
            Some(self.to_string())
        };
        let errors = match &self {
            Self::Invalid(errors) => errors.clone(),
            _ => Vec::new(),
        };
        let problem = Problem {
            kind: format!("{PROBLEM_BASE}{}", self.type_slug()),
            title,
            status: status.as_u16(),
            detail,
            errors,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            Self::Unauthenticated => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"vane\""),
                );
            }
            Self::PreconditionFailed { current } => {
                if let Ok(value) = HeaderValue::from_str(current) {
                    headers.insert(header::ETAG, value);
                }
            }
            Self::TooManyRequests { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
