//! Browser sessions for the admin UI: `POST /auth/session` logs in and sets the session in an
//! `HttpOnly; SameSite=Strict` cookie (`Secure` behind HTTPS), `GET /auth/session` says who is
//! logged in and gives the session's CSRF token (which every cookie-authenticated write must
//! send as `X-CSRF-Token`), `DELETE /auth/session` logs out and clears the cookie.
//!
//! Both login routes (this one and the bearer-token `POST /auth/login`) go through
//! [`authenticate`]: throttled per account and per address, failures logged and counted.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::session::Login;
use super::users::User;
use crate::auth::{
    Access, Caller, Principal, SESSION_COOKIE, csrf_token, new_session_token, normalize_email,
    sha256_hex, verify_password,
};
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::ApiJson;
use crate::state::AppState;
use crate::store::users::{self, UserRow};

/// The client's address (the TCP peer), when the server knows it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// Checks a login: refused with 429 while the account or the address is throttled (before
/// any hashing), 401 for a wrong email or password (logged and counted).
pub async fn authenticate(
    state: &AppState,
    address: Option<IpAddr>,
    email: &str,
    password: SecretString,
) -> ApiResult<UserRow> {
    let account = normalize_email(email);
    let throttle = &state.inner.login_throttle;
    if let Err(retry) = throttle.check(&account, address, state.now_millis()) {
        tracing::warn!(account, address = ?address, retry_after_secs = retry.0, "login refused: too many failures");
        state.inner.metrics.login_failed("throttled");
        return Err(ApiError::TooManyRequests {
            retry_after_secs: retry.0,
        });
    }
    let mut conn = state.db().pool.acquire().await?;
    let user = users::by_email(&mut conn, email).await?;
    drop(conn);
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let ok = verify_password(password, stored, state.inner.password_cost).await?;
    match user.filter(|_| ok) {
        Some(user) => {
            throttle.succeeded(&account);
            Ok(user)
        }
        None => {
            throttle.failed(&account, address, state.now_millis());
            tracing::warn!(account, address = ?address, "login failed: wrong email or password");
            state.inner.metrics.login_failed("wrong_credentials");
            Err(ApiError::Unauthenticated)
        }
    }
}

/// Creates a session for `user`; returns its token and expiry (Unix milliseconds).
pub async fn open_session(state: &AppState, user: &UserRow) -> ApiResult<(String, i64)> {
    let token = new_session_token()?;
    let now = state.now_millis();
    let ttl_ms = i64::try_from(state.inner.session_ttl.whole_milliseconds()).unwrap_or(i64::MAX);
    let expires_at = now.saturating_add(ttl_ms);
    let mut conn = state.db().pool.acquire().await?;
    users::insert_session(&mut conn, &sha256_hex(&token), &user.id, now, expires_at).await?;
    tracing::info!(user = %user.id, "logged in");
    Ok((token, expires_at))
}

/// The logged-in browser session.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrowserSession {
    pub user: User,
    /// Send as `X-CSRF-Token` with every write.
    pub csrf_token: String,
    pub expires_at: String,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_session, current_session, end_session))
}

#[utoipa::path(post, path = "/api/v1/auth/session", tag = "auth", request_body = Login,
    responses((status = 200, body = BrowserSession, description = "Sets the `vane_session` cookie"),
        (status = 401, body = Problem), (status = 429, body = Problem)))]
async fn create_session(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    body: ApiJson<Login>,
) -> ApiResult<Response> {
    let login = body.parse()?;
    let user = authenticate(&state, address, &login.email, login.password).await?;
    let (token, expires_at) = open_session(&state, &user).await?;
    let max_age = (expires_at - state.now_millis()) / 1000;
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if is_secure(&state, &headers) {
            "; Secure"
        } else {
            ""
        }
    );
    let body = BrowserSession {
        user: User::from(&user),
        csrf_token: csrf_token(&sha256_hex(&token)),
        expires_at: rfc3339(expires_at),
    };
    with_cookie(Json(body).into_response(), &cookie)
}

#[utoipa::path(get, path = "/api/v1/auth/session", tag = "auth",
    responses((status = 200, body = BrowserSession), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn current_session(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<BrowserSession>> {
    caller.require(Access::Session)?;
    let Principal::User { id, session, .. } = &caller.principal else {
        return Err(ApiError::Unauthenticated);
    };
    let mut conn = state.db().pool.acquire().await?;
    let user = users::by_id(&mut conn, id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let expires_at = users::session_expiry(&mut conn, session)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    Ok(Json(BrowserSession {
        user: User::from(&user),
        csrf_token: csrf_token(session),
        expires_at: rfc3339(expires_at),
    }))
}

#[utoipa::path(delete, path = "/api/v1/auth/session", tag = "auth",
    responses((status = 204, description = "Clears the `vane_session` cookie"), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn end_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> ApiResult<Response> {
    caller.require(Access::Session)?;
    if let Principal::User { session, .. } = &caller.principal {
        let mut conn = state.db().pool.acquire().await?;
        users::delete_session(&mut conn, session).await?;
    }
    let cookie = format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if is_secure(&state, &headers) {
            "; Secure"
        } else {
            ""
        }
    );
    with_cookie(StatusCode::NO_CONTENT.into_response(), &cookie)
}

/// Whether the cookie must be `Secure`: configured so, or the proxy says the browser came over
/// HTTPS.
fn is_secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.inner.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

fn with_cookie(mut response: Response, cookie: &str) -> ApiResult<Response> {
    let value = HeaderValue::from_str(cookie)
        .map_err(|e| ApiError::Internal(format!("session cookie: {e}")))?;
    let headers = response.headers_mut();
    headers.insert(header::SET_COOKIE, value);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
