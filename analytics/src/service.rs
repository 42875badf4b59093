//! The HTTP service: the ingest endpoint the edge posts to (embedded mode), results, health,
//! status and metrics.
//!
//! | route | |
//! |---|---|
//! | `POST /v1/ingest` | NDJSON of enriched events; appended to the log and fsynced before `200` |
//! | `GET /api/v1/experiments/{key}/results` | latest stored results (`?format=csv` for CSV) |
//! | `GET /api/v1/experiments/{key}/results.csv` | the same as CSV |
//! | `POST /api/v1/experiments/{key}/results` | compute now, store, return |
//! | `GET /v1/status` | checkpoints, commit sequence, log end, the configuration's source and refresh state |
//! | `GET /healthz`, `GET /metrics` | |

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Notify;

use crate::error::AnalyticsError;
use crate::live::{ConfigStatus, SharedConfig};
use crate::metrics::Metrics;
use crate::pipeline::consumer::Clock;
use crate::pipeline::log::EventLog;
use crate::pipeline::results;
use crate::pipeline::store::{Checkpoint, Store};
use crate::pipeline::validate;

/// The consumer's progress, published after every step.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub stream: String,
    pub worker: String,
    pub commit_seq: i64,
    pub units: usize,
    pub remembered_ids: usize,
    /// Embedded mode: the offset after the last durable record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_end: Option<u64>,
    pub shards: BTreeMap<String, ShardStatus>,
    /// Where the experiment and metric definitions come from, and how their last refresh went.
    pub config: ConfigStatus,
}

/// One held shard.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ShardStatus {
    pub position: Option<String>,
    pub finished: bool,
    pub records: i64,
    pub events: i64,
    pub duplicates: i64,
    pub invalid: i64,
}

impl From<&Checkpoint> for ShardStatus {
    fn from(c: &Checkpoint) -> Self {
        Self {
            position: c.position.clone(),
            finished: c.finished,
            records: c.counters.records,
            events: c.counters.events,
            duplicates: c.counters.duplicates,
            invalid: c.counters.invalid,
        }
    }
}

/// What handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The experiment and metric definitions in use (swapped when core-api's change).
    pub config: Arc<SharedConfig>,
    pub store: Arc<dyn Store>,
    /// The embedded log; `None` when consuming Kinesis.
    pub log: Option<Arc<EventLog>>,
    pub metrics: Arc<Metrics>,
    pub status: Arc<RwLock<Status>>,
    /// Wakes the consumer when events arrive.
    pub wake: Arc<Notify>,
    pub clock: Arc<dyn Clock>,
    pub max_body_bytes: usize,
}

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/ingest", post(ingest))
        .route("/v1/status", get(status))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route(
            "/api/v1/experiments/{key}/results",
            get(get_results).post(refresh_results),
        )
        .route(
            "/api/v1/experiments/{key}/results.csv",
            get(get_results_csv),
        )
        .with_state(state)
}

async fn ingest(State(app): State<AppState>, body: Body) -> Result<Response, AnalyticsError> {
    let outcome = ingest_inner(&app, body).await;
    let label = match &outcome {
        Ok(_) => "accepted",
        Err(e) if e.status().is_client_error() => "rejected",
        Err(_) => "failed",
    };
    app.metrics
        .ingest_requests
        .with_label_values(&[label])
        .inc();
    outcome
}

async fn ingest_inner(app: &AppState, body: Body) -> Result<Response, AnalyticsError> {
    let Some(log) = &app.log else {
        return Err(AnalyticsError::Unavailable(
            "this worker consumes Kinesis: send events to the stream".into(),
        ));
    };
    let bytes = axum::body::to_bytes(body, app.max_body_bytes)
        .await
        .map_err(|_| AnalyticsError::TooLarge {
            limit: app.max_body_bytes,
        })?;
    let checked = bytes.clone();
    let events = tokio::task::spawn_blocking(move || validate::check_body(&checked))
        .await
        .map_err(|e| AnalyticsError::Unavailable(format!("validation failed: {e}")))?
        .map_err(|(line, e)| AnalyticsError::BadLine {
            line,
            field: e.field,
            message: e.message,
        })?;
    if events == 0 {
        return Err(AnalyticsError::EmptyBody);
    }
    let size = bytes.len() as u64;
    log.append(bytes).await?;
    app.metrics.ingest_events.inc_by(events as u64);
    app.metrics.ingest_bytes.inc_by(size);
    app.wake.notify_one();
    Ok(axum::Json(json!({ "accepted": events })).into_response())
}

async fn status(State(app): State<AppState>) -> Response {
    let mut status = app.status.read().map(|s| s.clone()).unwrap_or_default();
    status.log_end = app.log.as_ref().map(|l| l.end());
    status.config = app.config.status();
    axum::Json(status).into_response()
}

async fn healthz(State(app): State<AppState>) -> Response {
    match app.store.ping().await {
        Ok(()) => axum::Json(json!({ "status": "ok" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({ "status": "unavailable", "database": "unreachable" })),
            )
                .into_response()
        }
    }
}

async fn metrics(State(app): State<AppState>) -> Response {
    let mut response = app.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

/// Computes an experiment's results from the stored aggregates and stores them.
pub async fn compute_and_store(
    app: &AppState,
    experiment: &str,
) -> Result<(i64, String), AnalyticsError> {
    let config = app.config.get();
    if config.experiment(experiment).is_none() {
        return Err(AnalyticsError::UnknownExperiment(experiment.to_owned()));
    }
    let rows = app.store.experiment_aggregates(experiment).await?;
    let key = experiment.to_owned();
    let body = tokio::task::spawn_blocking(move || {
        let results = results::compute(&config, &key, &rows)?;
        Ok::<_, AnalyticsError>(serde_json::to_string(&results)?)
    })
    .await
    .map_err(|e| AnalyticsError::Unavailable(format!("results computation failed: {e}")))??;
    let now = app.clock.now_ms();
    app.store.save_results(experiment, now, &body).await?;
    app.metrics.results_computed.inc();
    Ok((now, body))
}

fn rfc3339(ms: i64) -> String {
    vane_engine::time::Timestamp::from_unix_millis(ms)
        .to_rfc3339()
        .unwrap_or_default()
}

fn results_response(computed_at: i64, body: &str) -> Response {
    let text = format!(
        "{{\"computed_at\":\"{}\",\"results\":{body}}}",
        rfc3339(computed_at)
    );
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn csv_response(body: &str) -> Result<Response, AnalyticsError> {
    let value: serde_json::Value = serde_json::from_str(body)?;
    let mut response = results::to_csv(&value).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(response)
}

async fn latest(app: &AppState, key: &str) -> Result<(i64, String), AnalyticsError> {
    if app.config.get().experiment(key).is_none() {
        return Err(AnalyticsError::UnknownExperiment(key.to_owned()));
    }
    match app.store.latest_results(key).await? {
        Some(found) => Ok(found),
        None => compute_and_store(app, key).await,
    }
}

#[derive(Debug, Deserialize)]
struct Format {
    #[serde(default)]
    format: Option<String>,
}

async fn get_results(
    State(app): State<AppState>,
    Path(key): Path<String>,
    Query(format): Query<Format>,
) -> Result<Response, AnalyticsError> {
    let (at, body) = latest(&app, &key).await?;
    match format.format.as_deref() {
        None | Some("json") => Ok(results_response(at, &body)),
        Some("csv") => csv_response(&body),
        Some(other) => Err(AnalyticsError::Config {
            field: "format".into(),
            message: format!("unknown format `{other}`; expected json or csv"),
        }),
    }
}

async fn get_results_csv(
    State(app): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, AnalyticsError> {
    let (_, body) = latest(&app, &key).await?;
    csv_response(&body)
}

async fn refresh_results(
    State(app): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, AnalyticsError> {
    let (at, body) = compute_and_store(&app, &key).await?;
    Ok(results_response(at, &body))
}
