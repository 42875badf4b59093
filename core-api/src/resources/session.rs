//! Login sessions: `POST /auth/login` exchanges email and password for a bearer token
//! (throttled like every login, see [`authenticate`]).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::browser_session::{ClientAddr, authenticate, open_session};
use super::users::{User, check_password};
use crate::auth::{Access, Caller, Principal, hash_password, verify_password};
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::ApiJson;
use crate::state::AppState;
use crate::store::users;
use crate::write::Writer;

/// Login credentials.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

/// A new session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionToken {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: String,
    pub user: User,
}

/// Who the caller is.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    /// `user` or `api_key`.
    pub kind: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The user's role or the key's kind.
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schema(value_type = String, format = Password)]
    pub current_password: SecretString,
    #[schema(value_type = String, format = Password)]
    pub new_password: SecretString,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Login,
    responses((status = 200, body = SessionToken), (status = 401, body = Problem), (status = 429, body = Problem)))]
async fn login(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    body: ApiJson<Login>,
) -> ApiResult<Json<SessionToken>> {
    let login = body.parse()?;
    let user = authenticate(&state, address, &login.email, login.password).await?;
    let (token, expires_at) = open_session(&state, &user).await?;
    Ok(Json(SessionToken {
        token,
        expires_at: rfc3339(expires_at),
        user: User::from(&user),
    }))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Access::Session)?;
    if let Principal::User { session, .. } = &caller.principal {
        let mut conn = state.db().pool.acquire().await?;
        users::delete_session(&mut conn, session).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, body = WhoAmI), (status = 401, body = Problem)),
    security(("bearer" = [])))]
async fn me(caller: Caller) -> ApiResult<Json<WhoAmI>> {
    Ok(Json(match caller.principal {
        Principal::User {
            id, email, role, ..
        } => WhoAmI {
            kind: "user".into(),
            id,
            email: Some(email),
            role: role.as_str().into(),
            environment: None,
        },
        Principal::Key {
            id,
            environment,
            kind,
        } => WhoAmI {
            kind: "api_key".into(),
            id,
            email: None,
            role: kind.as_str().into(),
            environment: Some(environment),
        },
    }))
}

#[utoipa::path(put, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordChange,
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<PasswordChange>,
) -> ApiResult<Response> {
    caller.require(Access::Session)?;
    let change = body.parse()?;
    let mut errors = Vec::new();
    check_password("new_password", &change.new_password, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let id = caller.user_id().unwrap_or_default().to_owned();
    let cost = state.inner.password_cost;
    let mut writer = Writer::begin(&state, caller.actor(), caller.request_id.clone()).await?;
    let current = users::by_id(writer.conn(), &id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    if !verify_password(
        change.current_password,
        Some(current.password_hash.clone()),
        cost,
    )
    .await?
    {
        return Err(ApiError::field(
            "current_password",
            "incorrect",
            "the current password is not correct",
        ));
    }
    let mut next = current.clone();
    next.password_hash = hash_password(change.new_password, cost).await?;
    next.updated_at = writer.now();
    users::update(writer.conn(), &next, current.version).await?;
    users::delete_sessions_of(writer.conn(), &id).await?;
    writer.audit("user", &id, "change_password", None, None);
    writer.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
