//! Reading the audit log. There is deliberately no route that changes it.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vane_engine::Timestamp;

use crate::auth::{Access, Caller};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{ApiQuery, Page};
use crate::state::AppState;
use crate::store::audit::{self, Entry, Filter};

/// Filters of the audit log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `flag`, `experiment`, `segment`, `layer`, `holdout`, `metric`, `environment`, `user`,
    /// `api_key`.
    pub entity_type: Option<String>,
    pub entity_key: Option<String>,
    /// `user:EMAIL`, `api-key:ID` or `system:scheduler`.
    pub actor: Option<String>,
    /// Entries at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Entries before this time (RFC 3339).
    pub until: Option<String>,
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<u32>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

fn time(field: &str, text: Option<&str>) -> ApiResult<Option<i64>> {
    text.map(|t| {
        Timestamp::parse_rfc3339(t)
            .map(Timestamp::unix_millis)
            .map_err(|e| ApiError::field(field, "invalid_value", format!("`{t}`: {e}")))
    })
    .transpose()
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Page<Entry>), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Page<Entry>>> {
    caller.require(Access::Read)?;
    let limit = i64::from(query.limit.unwrap_or(100).clamp(1, 500));
    let before_id = query
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>().map_err(|_| {
                ApiError::field("cursor", "invalid_value", "not a cursor of this list")
            })
        })
        .transpose()?;
    let filter = Filter {
        entity_type: query.entity_type,
        entity_key: query.entity_key,
        actor: query.actor,
        since: time("since", query.since.as_deref())?,
        until: time("until", query.until.as_deref())?,
        before_id,
        limit: limit + 1,
    };
    let mut conn = state.db().pool.acquire().await?;
    let entries = audit::list(&mut conn, &filter).await?;
    Ok(Json(Page::from_overfetch(entries, limit, |e: &Entry| {
        e.id.to_string()
    })))
}
