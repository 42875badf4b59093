//! Edge statuses: which snapshot version every edge serves, how far behind it is and whether
//! it is stuck. `vane sync`'s propagation monitor polls the edges and reports what it saw
//! (`POST /edges/report`); core keeps the latest report per edge and serves it
//! (`GET /edges`, and gauges on `/metrics`).
//!
//! Lag is recomputed by core at read time from its own publication times: the time since the
//! first version the edge does not serve was published (0 when it serves the latest). So an
//! edge keeps falling behind on the dashboard even when nobody reports any more (a dead sync),
//! instead of showing its last, frozen lag.

use std::collections::{BTreeSet, HashMap};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vane_engine::Timestamp;

use crate::auth::{Access, Caller, KeyKind, Principal};
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::{ApiJson, ApiQuery, Page, check_key};
use crate::state::AppState;
use crate::store::docs::{self, Table};
use crate::store::edges::{self, EdgeRow};
use crate::store::snapshots;
use crate::write::Writer;

/// Most edges in one report.
pub const MAX_EDGES_PER_REPORT: usize = 1000;
/// The stuck threshold when a report does not name one (sync's default).
pub const DEFAULT_STUCK_AFTER_SECONDS: f64 = 60.0;
/// Longest `last_error` kept; longer ones are cut.
const MAX_ERROR_CHARS: usize = 2000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(report_edges))
        .routes(routes!(list_edges))
        .routes(routes!(delete_edge))
}

/// One edge as the propagation monitor saw it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportedEdge {
    /// The edge's id (as sync names it, `--edge ID=URL`).
    pub id: String,
    /// The base URL whose `/v1/health` was polled.
    pub url: String,
    /// The environment the edge says it serves; absent when it was never reached.
    #[serde(default)]
    pub environment: Option<String>,
    /// The snapshot version it serves; absent when it serves none (or was never reached).
    #[serde(default)]
    pub served_version: Option<u64>,
    /// The newest version the reporter knew of.
    #[serde(default)]
    pub latest_version: Option<u64>,
    /// The lag the reporter computed, in seconds.
    #[serde(default)]
    pub lag_seconds: f64,
    /// Whether the reporter found it stuck (behind for too long, or unreachable).
    #[serde(default)]
    pub stuck: bool,
    /// Why the last poll failed, if it did.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When it was polled (RFC 3339).
    #[serde(default)]
    pub checked_at: Option<String>,
}

/// A batch of edge statuses.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeReport {
    /// At most 1,000 edges, each id at most once.
    pub edges: Vec<ReportedEdge>,
    /// An edge behind for longer than this is stuck (the reporter's threshold; default 60).
    #[serde(default)]
    pub stuck_after_seconds: Option<f64>,
}

/// What a report recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportAnswer {
    pub recorded: usize,
}

/// The latest known status of one edge.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Edge {
    pub id: String,
    pub url: String,
    /// The environment it serves; null while unknown.
    pub environment: Option<String>,
    /// The snapshot version it served when last checked.
    pub served_version: Option<i64>,
    /// The newest version core has published for the environment.
    pub latest_version: Option<i64>,
    /// Seconds, as of now, since the first version the edge does not serve was published
    /// (0 when it serves the latest).
    pub lag_seconds: f64,
    /// Reported stuck (unreachable, or behind for too long), or behind for longer than
    /// `stuck_after_seconds` as of now.
    pub stuck: bool,
    pub stuck_after_seconds: f64,
    pub last_error: Option<String>,
    /// When the reporter last polled it.
    pub checked_at: Option<String>,
    /// Who reported it (`api-key:ID`, `user:EMAIL`).
    pub reported_by: String,
    pub reported_at: String,
}

/// Filters of the edge list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EdgesQuery {
    /// Only edges serving this environment.
    pub environment: Option<String>,
    /// Edges after this cursor (the `next_cursor` of the previous page).
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<u32>,
}

/// The environment a server key is confined to; `None` for admins and admin keys.
fn server_key_scope(caller: &Caller) -> Option<&str> {
    match &caller.principal {
        Principal::Key {
            kind: KeyKind::Server,
            environment,
            ..
        } => Some(environment),
        _ => None,
    }
}

fn to_millis(seconds: f64) -> i64 {
    // Finite and non-negative (validated); saturating cast.
    (seconds * 1000.0).round() as i64
}

/// Checks every field of a report; returns the rows to store (without `reported_*`).
fn validate(report: &EdgeReport, errors: &mut Vec<FieldError>) -> Vec<EdgeRow> {
    let stuck_after = report
        .stuck_after_seconds
        .unwrap_or(DEFAULT_STUCK_AFTER_SECONDS);
    if !(stuck_after.is_finite() && stuck_after > 0.0) {
        errors.push(FieldError::new(
            "stuck_after_seconds",
            "invalid_value",
            format!("{stuck_after} is not a positive number of seconds"),
        ));
    }
    if report.edges.len() > MAX_EDGES_PER_REPORT {
        errors.push(FieldError::new(
            "edges",
            "too_many",
            format!(
                "{} edges in one report (at most {MAX_EDGES_PER_REPORT})",
                report.edges.len()
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut rows = Vec::with_capacity(report.edges.len());
    for (i, edge) in report.edges.iter().enumerate() {
        let at = |field: &str| format!("edges[{i}].{field}");
        check_key(&at("id"), &edge.id, errors);
        if !seen.insert(edge.id.as_str()) {
            errors.push(FieldError::new(
                at("id"),
                "duplicate",
                format!("edge `{}` is reported twice", edge.id),
            ));
        }
        let url_ok = edge.url.len() <= 2048
            && (edge.url.starts_with("http://") || edge.url.starts_with("https://"));
        if !url_ok {
            errors.push(FieldError::new(
                at("url"),
                "invalid_value",
                "an http:// or https:// URL of at most 2048 characters",
            ));
        }
        if let Some(env) = &edge.environment {
            check_key(&at("environment"), env, errors);
        }
        let version = |field: &str, v: Option<u64>, errors: &mut Vec<FieldError>| {
            v.and_then(|v| match i64::try_from(v) {
                Ok(v) => Some(v),
                Err(_) => {
                    errors.push(FieldError::new(at(field), "invalid_value", "out of range"));
                    None
                }
            })
        };
        let served_version = version("served_version", edge.served_version, errors);
        let reported_latest_version = version("latest_version", edge.latest_version, errors);
        if !(edge.lag_seconds.is_finite() && edge.lag_seconds >= 0.0) {
            errors.push(FieldError::new(
                at("lag_seconds"),
                "invalid_value",
                "a non-negative number of seconds",
            ));
        }
        let checked_at = match &edge.checked_at {
            Some(text) => match Timestamp::parse_rfc3339(text) {
                Ok(t) => Some(t.unix_millis()),
                Err(e) => {
                    errors.push(FieldError::new(
                        at("checked_at"),
                        "invalid_value",
                        format!("`{text}`: {e}"),
                    ));
                    None
                }
            },
            None => None,
        };
        rows.push(EdgeRow {
            edge_id: edge.id.clone(),
            url: edge.url.clone(),
            environment: edge.environment.clone(),
            served_version,
            reported_latest_version,
            reported_lag_ms: if edge.lag_seconds.is_finite() {
                to_millis(edge.lag_seconds.max(0.0))
            } else {
                0
            },
            reported_stuck: edge.stuck,
            stuck_after_ms: to_millis(stuck_after.clamp(0.001, 1e9)),
            last_error: edge
                .last_error
                .as_ref()
                .map(|e| e.chars().take(MAX_ERROR_CHARS).collect()),
            checked_at,
            reported_by: String::new(),
            reported_at: 0,
        });
    }
    rows
}

#[utoipa::path(post, path = "/api/v1/edges/report", tag = "edges", request_body = EdgeReport,
    responses((status = 200, description = "Every edge's status replaced by the reported one", body = ReportAnswer),
              (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn report_edges(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<EdgeReport>,
) -> ApiResult<Json<ReportAnswer>> {
    caller.require(Access::ReportEdges)?;
    let report = body.parse()?;
    let mut errors = Vec::new();
    let mut rows = validate(&report, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let scope = server_key_scope(&caller);
    let mut conn = state.db().pool.acquire().await?;
    let mut known = HashMap::new();
    for (i, row) in rows.iter_mut().enumerate() {
        // A server key watches its own environment's edges: an edge it never reached is
        // recorded as one of them.
        if row.environment.is_none() {
            row.environment = scope.map(str::to_owned);
        }
        let Some(env) = row.environment.clone() else {
            continue;
        };
        if let Some(scope) = scope
            && env != scope
        {
            return Err(ApiError::Forbidden(format!(
                "edge `{}` serves `{env}`; a server key of `{scope}` reports only `{scope}` edges",
                row.edge_id
            )));
        }
        let exists = match known.get(&env) {
            Some(exists) => *exists,
            None => {
                let exists = docs::exists(&mut conn, Table::Environments, &env).await?;
                known.insert(env.clone(), exists);
                exists
            }
        };
        if !exists {
            errors.push(FieldError::new(
                format!("edges[{i}].environment"),
                "unknown_environment",
                format!("unknown environment `{env}`"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let now = state.now_millis();
    let actor = caller.actor();
    // Reads (the edge's stored environment) and then writes, beside the configuration writers.
    let mut tx = state.db().begin_write().await?;
    for row in &mut rows {
        if let Some(scope) = scope
            && let Some(Some(stored)) = edges::environment_of(&mut tx, &row.edge_id).await?
            && stored != scope
        {
            return Err(ApiError::Forbidden(format!(
                "edge `{}` is recorded as serving `{stored}`; a server key of `{scope}` cannot report it",
                row.edge_id
            )));
        }
        row.reported_by = actor.clone();
        row.reported_at = now;
        edges::upsert(&mut tx, row).await?;
    }
    tx.commit().await?;
    Ok(Json(ReportAnswer {
        recorded: rows.len(),
    }))
}

/// Latest versions and fall-behind times, looked up once per environment and version.
#[derive(Debug, Default)]
struct Lags {
    latest: HashMap<String, Option<i64>>,
    behind_since: HashMap<(String, i64), Option<i64>>,
}

impl Lags {
    async fn latest(&mut self, conn: &mut AnyConnection, env: &str) -> ApiResult<Option<i64>> {
        if let Some(v) = self.latest.get(env) {
            return Ok(*v);
        }
        let v = Some(snapshots::latest_version(conn, env).await?).filter(|v| *v > 0);
        self.latest.insert(env.to_owned(), v);
        Ok(v)
    }

    async fn behind_since(
        &mut self,
        conn: &mut AnyConnection,
        env: &str,
        served: i64,
    ) -> ApiResult<Option<i64>> {
        let key = (env.to_owned(), served);
        if let Some(t) = self.behind_since.get(&key) {
            return Ok(*t);
        }
        let t = edges::behind_since(conn, env, served).await?;
        self.behind_since.insert(key, t);
        Ok(t)
    }

    /// The edge as of `now`.
    async fn view(&mut self, conn: &mut AnyConnection, row: &EdgeRow, now: i64) -> ApiResult<Edge> {
        let latest = match &row.environment {
            Some(env) => self.latest(conn, env).await?,
            None => None,
        };
        let lag_ms = match (&row.environment, latest) {
            (Some(env), Some(latest)) => {
                let since = match row.served_version {
                    Some(served) if served >= latest => None,
                    Some(served) => self.behind_since(conn, env, served).await?,
                    // Serving nothing: behind since the latest version was published.
                    None => self.behind_since(conn, env, latest - 1).await?,
                };
                since.map_or(0, |t| (now - t).max(0))
            }
            // Core knows no publication times for it: the reporter's figure.
            _ => row.reported_lag_ms,
        };
        Ok(Edge {
            id: row.edge_id.clone(),
            url: row.url.clone(),
            environment: row.environment.clone(),
            served_version: row.served_version,
            latest_version: latest,
            lag_seconds: lag_ms as f64 / 1000.0,
            stuck: row.reported_stuck || lag_ms > row.stuck_after_ms,
            stuck_after_seconds: row.stuck_after_ms as f64 / 1000.0,
            last_error: row.last_error.clone(),
            checked_at: row.checked_at.map(rfc3339),
            reported_by: row.reported_by.clone(),
            reported_at: rfc3339(row.reported_at),
        })
    }
}

/// Every stored edge as of now, for `/metrics`.
pub async fn all(state: &AppState) -> ApiResult<Vec<Edge>> {
    let mut conn = state.db().pool.acquire().await?;
    let now = state.now_millis();
    let mut lags = Lags::default();
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let rows = edges::list(&mut conn, None, after.as_deref(), 500).await?;
        for row in &rows {
            out.push(lags.view(&mut conn, row, now).await?);
        }
        match rows.last() {
            Some(last) if rows.len() == 500 => after = Some(last.edge_id.clone()),
            _ => return Ok(out),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/edges", tag = "edges", params(EdgesQuery),
    responses((status = 200, body = Page<Edge>), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn list_edges(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<EdgesQuery>,
) -> ApiResult<Json<Page<Edge>>> {
    caller.require(Access::Read)?;
    let limit = i64::from(query.limit.unwrap_or(100).clamp(1, 500));
    let mut conn = state.db().pool.acquire().await?;
    let rows = edges::list(
        &mut conn,
        query.environment.as_deref(),
        query.cursor.as_deref(),
        limit + 1,
    )
    .await?;
    let now = state.now_millis();
    let mut lags = Lags::default();
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        items.push(lags.view(&mut conn, row, now).await?);
    }
    Ok(Json(Page::from_overfetch(items, limit, |e: &Edge| {
        e.id.clone()
    })))
}

#[utoipa::path(delete, path = "/api/v1/edges/{id}", tag = "edges",
    params(("id" = String, Path)),
    responses((status = 204, description = "Forgotten (a later report records it again)"),
              (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn delete_edge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller.require(Access::Admin)?;
    let mut writer = Writer::begin(&state, caller.actor(), caller.request_id.clone()).await?;
    if !edges::delete(writer.conn(), &id).await? {
        return Err(ApiError::not_found("edge", id));
    }
    writer.audit("edge", &id, "delete", None, None);
    writer.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
