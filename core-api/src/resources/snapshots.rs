//! Published snapshots: the latest (with `If-None-Match` → 304), a given version, a
//! server-sent-events stream announcing new versions, and evaluation previews.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio_stream::wrappers::BroadcastStream;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vane_engine::{CompiledSnapshot, Timestamp};

use crate::auth::{Access, Caller};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::ApiJson;
use crate::state::{Announcement, AppState};
use crate::store::docs::{self, Table};
use crate::store::snapshots::{self, SnapshotRow};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(latest_snapshot))
        .routes(routes!(snapshot_at_version))
        .routes(routes!(snapshot_events))
        .routes(routes!(evaluate))
        .routes(routes!(rollback))
}

/// `POST /environments/{env}/rollback` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The earlier snapshot version whose configuration to serve again.
    pub to_version: i64,
}

#[utoipa::path(post, path = "/api/v1/environments/{env}/rollback", tag = "snapshots",
    params(("env" = String, Path)),
    request_body = RollbackRequest,
    responses((status = 201, description = "A new snapshot version with the earlier configuration"),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn rollback(
    State(state): State<AppState>,
    caller: Caller,
    Path(env): Path<String>,
    body: ApiJson<RollbackRequest>,
) -> ApiResult<Response> {
    caller.require(Access::Admin)?;
    let request = body.parse()?;
    let mut writer =
        crate::write::Writer::begin(&state, caller.actor(), caller.request_id.clone()).await?;
    if !docs::exists(writer.conn(), Table::Environments, &env).await? {
        return Err(ApiError::not_found("environment", env));
    }
    if snapshots::at_version(writer.conn(), &env, request.to_version)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(
            "snapshot version",
            request.to_version.to_string(),
        ));
    }
    writer.roll_back(&env, request.to_version);
    writer.audit(
        "environment",
        &env,
        "rollback",
        None,
        Some(serde_json::json!({ "to_version": request.to_version })),
    );
    let announcements = writer.commit().await?;
    let published = announcements.iter().find(|a| a.environment == env);
    let body = serde_json::json!({
        "environment": env,
        "rolled_back_to": request.to_version,
        "version": published.map(|a| a.version),
        "content_hash": published.map(|a| a.content_hash.clone()),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn snapshot_etag(hash: &str) -> String {
    format!("\"{hash}\"")
}

fn snapshot_response(row: SnapshotRow, headers: &HeaderMap) -> Response {
    let etag = snapshot_etag(&row.content_hash);
    let matches = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(row.body));
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        r
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&row.version.to_string()) {
        headers.insert("x-vane-snapshot-version", value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn latest_row(state: &AppState, env: &str) -> ApiResult<SnapshotRow> {
    let mut conn = state.db().pool.acquire().await?;
    if !docs::exists(&mut conn, Table::Environments, env).await? {
        return Err(ApiError::not_found("environment", env));
    }
    snapshots::latest(&mut conn, env)
        .await?
        .ok_or_else(|| ApiError::not_found("snapshot of environment", env))
}

#[utoipa::path(get, path = "/api/v1/environments/{env}/snapshot", tag = "snapshots",
    params(("env" = String, Path), ("If-None-Match" = Option<String>, Header)),
    responses((status = 200, description = "The latest snapshot (schema v1); ETag is its content hash", content_type = "application/json"),
              (status = 304, description = "Unchanged since the ETag given in If-None-Match"),
              (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn latest_snapshot(
    State(state): State<AppState>,
    caller: Caller,
    Path(env): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.require(Access::Snapshot(&env))?;
    Ok(snapshot_response(latest_row(&state, &env).await?, &headers))
}

#[utoipa::path(get, path = "/api/v1/environments/{env}/snapshots/{version}", tag = "snapshots",
    params(("env" = String, Path), ("version" = i64, Path), ("If-None-Match" = Option<String>, Header)),
    responses((status = 200, description = "That published snapshot (immutable)", content_type = "application/json"),
              (status = 304, description = "Unchanged"), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn snapshot_at_version(
    State(state): State<AppState>,
    caller: Caller,
    Path((env, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.require(Access::Snapshot(&env))?;
    let version: i64 = version
        .parse()
        .map_err(|_| ApiError::not_found("snapshot version", &version))?;
    let mut conn = state.db().pool.acquire().await?;
    let row = snapshots::at_version(&mut conn, &env, version)
        .await?
        .ok_or_else(|| ApiError::not_found("snapshot version", version.to_string()))?;
    Ok(snapshot_response(row, &headers))
}

fn event(announcement: &Announcement) -> Event {
    Event::default()
        .event("snapshot")
        .id(announcement.version.to_string())
        .json_data(announcement)
        .unwrap_or_else(|_| Event::default().event("snapshot"))
}

#[utoipa::path(get, path = "/api/v1/environments/{env}/snapshot/events", tag = "snapshots",
    params(("env" = String, Path)),
    responses((status = 200, description = "Server-sent events: `snapshot` with {environment, version, content_hash, published_at}, first for the current version, then for each new one", content_type = "text/event-stream", body = Announcement),
              (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn snapshot_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(env): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    caller.require(Access::Snapshot(&env))?;
    // Subscribe before reading the current version, so that nothing published in between is
    // missed (a duplicate is harmless: versions are idempotent for subscribers).
    let receiver = state.inner.announcements.subscribe();
    let current = latest_row(&state, &env).await?;
    let first = Announcement {
        environment: env.clone(),
        version: current.version,
        content_hash: current.content_hash,
        published_at: crate::clock::rfc3339(current.published_at),
    };
    let newer = BroadcastStream::new(receiver).filter_map(move |item| {
        let env = env.clone();
        async move {
            match item {
                Ok(a) if a.environment == env => Some(Ok(event(&a))),
                Ok(_) => None,
                // A slow subscriber missed versions: tell it to refetch the latest.
                Err(_) => Some(Ok(Event::default().event("lagged").data("refetch"))),
            }
        }
    });
    let mut stopping = state.inner.stopping.subscribe();
    let stopped = async move {
        let _ = stopping.wait_for(|stopping| *stopping).await;
    };
    let stream = stream::once(async move { Ok(event(&first)) })
        .chain(newer)
        .take_until(stopped);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// An evaluation preview request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// The context attributes, e.g. `{"user_id": "u1", "country": "DE"}`.
    #[schema(value_type = Object)]
    pub context: Value,
    /// Evaluate as of this time (RFC 3339); default now.
    #[serde(default)]
    pub at: Option<String>,
}

async fn compiled(state: &AppState, env: &str) -> ApiResult<Arc<CompiledSnapshot>> {
    let row = latest_row(state, env).await?;
    if let Ok(cache) = state.inner.compiled.lock()
        && let Some(c) = cache.get(env)
        && i64::try_from(c.version()).ok() == Some(row.version)
    {
        return Ok(c.clone());
    }
    let compiled = vane_engine::compile_json(&row.body)
        .map(Arc::new)
        .map_err(|e| ApiError::Internal(format!("stored snapshot does not compile: {e:?}")))?;
    if let Ok(mut cache) = state.inner.compiled.lock() {
        cache.insert(env.to_owned(), compiled.clone());
    }
    Ok(compiled)
}

#[utoipa::path(post, path = "/api/v1/environments/{env}/evaluate", tag = "snapshots",
    params(("env" = String, Path)), request_body = EvaluateRequest,
    responses((status = 200, description = "Every flag value and experiment assignment with its reason", body = Object),
              (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn evaluate(
    State(state): State<AppState>,
    caller: Caller,
    Path(env): Path<String>,
    body: ApiJson<EvaluateRequest>,
) -> ApiResult<Json<Value>> {
    caller.require(Access::Evaluate(&env))?;
    let request = body.parse()?;
    let now = match &request.at {
        Some(at) => Timestamp::parse_rfc3339(at)
            .map_err(|e| ApiError::field("at", "invalid_value", format!("`{at}`: {e}")))?,
        None => Timestamp::from_unix_millis(state.now_millis()),
    };
    let compiled = compiled(&state, &env).await?;
    let evaluation = compiled.evaluate_all(&request.context, now);
    serde_json::to_value(&evaluation)
        .map(Json)
        .map_err(|e| ApiError::Internal(format!("serializing an evaluation: {e}")))
}
