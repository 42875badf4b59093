//! API keys per environment (admin only). A key is shown once, at creation; only its SHA-256
//! is stored.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Meta;
use crate::auth::{Access, Caller, KeyKind, new_api_key, random_hex, sha256_hex};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{ApiJson, ApiQuery, IfMatch, Page, PageQuery, tagged};
use crate::state::AppState;
use crate::store::docs::{self, Table};
use crate::store::keys::{self, KeyRow};
use crate::write::Writer;

/// An API key's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub environment: String,
    pub kind: KeyKind,
    pub name: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    pub created_by: String,
    #[serde(flatten)]
    pub meta: Meta,
}

impl From<&KeyRow> for ApiKey {
    fn from(row: &KeyRow) -> Self {
        Self {
            id: row.id.clone(),
            environment: row.environment.clone(),
            kind: row.kind,
            name: row.name.clone(),
            prefix: row.prefix.clone(),
            created_by: row.created_by.clone(),
            meta: Meta::new(row.version, row.created_at, row.updated_at),
        }
    }
}

/// A new key: the only response that contains the key itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The key: `vane_{kind}_{random}`. Store it now; it cannot be shown again.
    pub key: String,
    #[serde(flatten)]
    pub api_key: ApiKey,
}

/// Body of key creation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub kind: KeyKind,
    #[serde(default)]
    pub name: String,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(delete_key))
}

#[utoipa::path(get, path = "/api/v1/environments/{env}/api-keys", tag = "api-keys",
    params(("env" = String, Path), PageQuery),
    responses((status = 200, body = Page<ApiKey>), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path(env): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<ApiKey>>> {
    caller.require(Access::Admin)?;
    let limit = page.limit();
    let mut conn = state.db().pool.acquire().await?;
    if !docs::exists(&mut conn, Table::Environments, &env).await? {
        return Err(ApiError::not_found("environment", env));
    }
    let rows = keys::list(&mut conn, &env, page.cursor.as_deref(), limit + 1).await?;
    let items = rows.iter().map(ApiKey::from).collect();
    Ok(Json(Page::from_overfetch(items, limit, |k: &ApiKey| {
        k.id.clone()
    })))
}

#[utoipa::path(post, path = "/api/v1/environments/{env}/api-keys", tag = "api-keys",
    params(("env" = String, Path)), request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(env): Path<String>,
    body: ApiJson<NewApiKey>,
) -> ApiResult<Response> {
    caller.require(Access::Admin)?;
    let new = body.parse()?;
    let mut writer = Writer::begin(&state, caller.actor(), caller.request_id.clone()).await?;
    if !docs::exists(writer.conn(), Table::Environments, &env).await? {
        return Err(ApiError::not_found("environment", env));
    }
    let key = new_api_key(new.kind)?;
    let now = writer.now();
    let row = KeyRow {
        id: format!("key_{}", random_hex(8)?),
        environment: env.clone(),
        kind: new.kind,
        name: new.name,
        prefix: key.chars().take(new.kind.as_str().len() + 9).collect(),
        key_hash: sha256_hex(&key),
        created_by: caller.actor(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    keys::insert(writer.conn(), &row).await?;
    // Edges learn of the key through the environment's next snapshot.
    writer.affects(&env);
    let api_key = ApiKey::from(&row);
    writer.audit(
        "api_key",
        &row.id,
        "create",
        None,
        serde_json::to_value(&api_key).ok(),
    );
    writer.commit().await?;
    Ok(tagged(
        StatusCode::CREATED,
        row.version,
        &CreatedApiKey { key, api_key },
    ))
}

#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys",
    params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 204), (status = 404, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem)),
    security(("bearer" = [])))]
async fn delete_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    if_match: IfMatch,
) -> ApiResult<Response> {
    caller.require(Access::Admin)?;
    let mut writer = Writer::begin(&state, caller.actor(), caller.request_id.clone()).await?;
    let current = keys::by_id(writer.conn(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("api key", &id))?;
    if_match.check(current.version)?;
    keys::delete(writer.conn(), &id, current.version).await?;
    writer.affects(&current.environment);
    writer.audit(
        "api_key",
        &id,
        "delete",
        serde_json::to_value(ApiKey::from(&current)).ok(),
        None,
    );
    writer.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
