//! Experiment results: computed and stored by the analytics service (`vane analytics`), served
//! here. core-api checks the caller and that the experiment exists, then forwards to analytics
//! (`--analytics-url`) and passes its answer through unchanged.

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::StoredExperiment;
use crate::analytics::ResultsRequest;
use crate::auth::{Access, Caller};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::ApiQuery;
use crate::state::AppState;
use crate::store::docs::{self, Table};

/// Query of `GET /experiments/{key}/results`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResultsQuery {
    /// `json` (default) or `csv` (one row per metric × variant).
    pub format: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_results, compute_results))
}

/// 404 unless core knows the experiment; then the analytics client, or 503.
async fn analytics_for(
    state: &AppState,
    key: &str,
) -> ApiResult<crate::analytics::AnalyticsClient> {
    let mut conn = state.db().pool.acquire().await?;
    docs::require::<StoredExperiment>(&mut conn, Table::Experiments, key).await?;
    drop(conn);
    state
        .inner
        .analytics
        .get()
        .cloned()
        .ok_or(ApiError::AnalyticsNotConfigured)
}

#[utoipa::path(get, path = "/api/v1/experiments/{key}/results", tag = "experiments",
    params(("key" = String, Path), ResultsQuery),
    responses(
        (status = 200, description = "The latest results analytics computed (computed now if there are none yet): `{\"computed_at\", \"results\"}` as analytics serves it (docs/analytics.md); with `?format=csv`, CSV (`text/csv`)", body = Object),
        (status = 404, body = Problem), (status = 422, body = Problem),
        (status = 502, description = "Analytics did not answer", body = Problem),
        (status = 503, description = "No analytics service is configured", body = Problem)),
    security(("bearer" = [])))]
async fn get_results(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    ApiQuery(query): ApiQuery<ResultsQuery>,
) -> ApiResult<Response> {
    caller.require(Access::Read)?;
    let request = match query.format.as_deref() {
        None | Some("json") => ResultsRequest::Latest,
        Some("csv") => ResultsRequest::LatestCsv,
        Some(other) => {
            return Err(ApiError::field(
                "format",
                "invalid_value",
                format!("`{other}` is not a results format: json or csv"),
            ));
        }
    };
    let analytics = analytics_for(&state, &key).await?;
    analytics
        .results(&key, request, caller.request_id.as_deref())
        .await
}

#[utoipa::path(post, path = "/api/v1/experiments/{key}/results", tag = "experiments",
    params(("key" = String, Path)),
    responses(
        (status = 200, description = "Results computed now by analytics (and stored there): `{\"computed_at\", \"results\"}`", body = Object),
        (status = 404, body = Problem),
        (status = 502, description = "Analytics did not answer", body = Problem),
        (status = 503, description = "No analytics service is configured", body = Problem)),
    security(("bearer" = [])))]
async fn compute_results(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    caller.require(Access::Edit)?;
    let analytics = analytics_for(&state, &key).await?;
    analytics
        .results(
            &key,
            ResultsRequest::ComputeNow,
            caller.request_id.as_deref(),
        )
        .await
}
