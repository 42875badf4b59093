//! The crate's error type and its RFC 9457 `application/problem+json` rendering.
//!
//! Client mistakes get a 4xx naming the line or field; server faults get an opaque 500 whose
//! cause is logged once, here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::stats::StatsError;

/// Everything that can go wrong in the analytics pipeline and its HTTP service.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// The configuration file is invalid at `field`.
    #[error("{field}: {message}")]
    Config { field: String, message: String },
    /// The statistics engine refused its input.
    #[error(transparent)]
    Stats(#[from] StatsError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("JSON encoding: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// The event stream (Kinesis or the local log) failed.
    #[error("stream source: {0}")]
    Source(String),
    /// The data lake failed.
    #[error("data lake: {0}")]
    Lake(String),
    /// Stored data could not be decoded.
    #[error("corrupt {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// One line of an ingested NDJSON body is not a valid event.
    #[error("line {line}: {message}")]
    BadLine {
        line: usize,
        field: Option<String>,
        message: String,
    },
    /// The ingested body is empty.
    #[error("the body holds no events")]
    EmptyBody,
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("experiment `{0}` is not configured")]
    UnknownExperiment(String),
    #[error("no results have been computed for `{0}` yet")]
    NoResults(String),
    /// The request cannot be served by this instance (e.g. ingest while consuming Kinesis).
    #[error("{0}")]
    Unavailable(String),
}

impl AnalyticsError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    pub fn corrupt(what: &'static str, detail: impl Into<String>) -> Self {
        Self::Corrupt {
            what,
            detail: detail.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadLine { .. } | Self::EmptyBody | Self::Config { .. } => StatusCode::BAD_REQUEST,
            Self::Stats(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnknownExperiment(_) | Self::NoResults(_) => StatusCode::NOT_FOUND,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_)
            | Self::Migrate(_)
            | Self::Io { .. }
            | Self::Json(_)
            | Self::Source(_)
            | Self::Lake(_)
            | Self::Corrupt { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            Self::BadLine { .. } => "invalid-event",
            Self::EmptyBody => "empty-body",
            Self::Config { .. } => "invalid-config",
            Self::Stats(_) => "statistics-refused",
            Self::TooLarge { .. } => "body-too-large",
            Self::UnknownExperiment(_) => "unknown-experiment",
            Self::NoResults(_) => "no-results",
            Self::Unavailable(_) => "unavailable",
            _ => "internal",
        }
    }
}

/// RFC 9457 problem details.
#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// 1-based line of the NDJSON body at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The field at fault, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl IntoResponse for AnalyticsError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
            "an internal error occurred; it has been logged".to_owned()
        } else {
            self.to_string()
        };
        let (line, field) = match &self {
            Self::BadLine { line, field, .. } => (Some(*line), field.clone()),
            Self::Config { field, .. } => (None, Some(field.clone())),
            _ => (None, None),
        };
        let problem = Problem {
            kind: format!("https://vane.dev/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            line,
            field,
        };
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
