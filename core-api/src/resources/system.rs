//! Operational routes: health, Prometheus metrics, and the OpenAPI document.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiResult, Problem};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(metrics))
        .routes(routes!(openapi_json))
}

#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "The service and its database answer", body = String),
              (status = 500, body = Problem)))]
async fn healthz(State(state): State<AppState>) -> ApiResult<&'static str> {
    state.db().ping().await?;
    Ok("ok")
}

#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> Response {
    let mut body = state.inner.metrics.render();
    match crate::resources::edges::all(&state).await {
        Ok(edges) => body.push_str(&crate::metrics::render_edges(&edges)),
        Err(e) => tracing::error!(error = %e, "reading edge statuses for /metrics"),
    }
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system",
    responses((status = 200, description = "This API's OpenAPI 3.1 document", body = Object)))]
async fn openapi_json(State(state): State<AppState>) -> Response {
    let body = state.inner.openapi.get().cloned().unwrap_or_default();
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
