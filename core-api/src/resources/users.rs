//! Users (admin only). Passwords are argon2id hashes; they are never returned.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Meta;
use crate::auth::{Access, Caller, Role, hash_password, normalize_email, random_hex};
use crate::config::PasswordCost;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::{ApiJson, ApiQuery, IfMatch, Page, PageQuery, tagged};
use crate::state::AppState;
use crate::store::users::{self, UserRow};
use crate::write::Writer;

/// The shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;

/// A user as returned by the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    #[serde(flatten)]
    pub meta: Meta,
}

impl From<&UserRow> for User {
    fn from(row: &UserRow) -> Self {
        Self {
            id: row.id.clone(),
            email: row.email.clone(),
            name: row.name.clone(),
            role: row.role,
            meta: Meta::new(row.version, row.created_at, row.updated_at),
        }
    }
}

/// The audit form of a user (no password hash).
fn audit_user(row: &UserRow) -> Option<serde_json::Value> {
    Some(serde_json::json!({"email": row.email, "name": row.name, "role": row.role}))
}

/// Body of user creation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    #[serde(default)]
    pub name: String,
    pub role: Role,
    /// At least 12 characters.
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

/// Body of a user update.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub name: String,
    pub role: Role,
}

pub fn check_email(email: &str, errors: &mut Vec<FieldError>) {
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if !valid {
        errors.push(FieldError::new(
            "email",
            "invalid_email",
            format!("`{email}` is not an email address"),
        ));
    }
}

pub fn check_password(field: &str, password: &SecretString, errors: &mut Vec<FieldError>) {
    use secrecy::ExposeSecret;
    if password.expose_secret().chars().count() < MIN_PASSWORD_LEN {
        errors.push(FieldError::new(
            field,
            "too_short",
            format!("a password needs at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
}

/// Creates a user inside `writer`'s transaction, its email normalized; 409 when the email is
/// taken in any capitalization.
pub async fn insert_user(
    writer: &mut Writer<'_>,
    email: &str,
    name: &str,
    role: Role,
    password: SecretString,
    cost: PasswordCost,
) -> ApiResult<UserRow> {
    let email = normalize_email(email);
    if users::by_email(writer.conn(), &email).await?.is_some() {
        return Err(ApiError::Conflict(format!(
            "a user with email `{email}` exists (emails are compared without case)"
        )));
    }
    let now = writer.now();
    let row = UserRow {
        id: format!("usr_{}", random_hex(8)?),
        email,
        name: name.to_owned(),
        role,
        password_hash: hash_password(password, cost).await?,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    users::insert(writer.conn(), &row).await?;
    writer.audit("user", &row.id, "create", None, audit_user(&row));
    Ok(row)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(PageQuery),
    responses((status = 200, body = Page<User>), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<User>>> {
    caller.require(Access::Admin)?;
    let limit = page.limit();
    let mut conn = state.db().pool.acquire().await?;
    let rows = users::list(&mut conn, page.cursor.as_deref(), limit + 1).await?;
    let items = rows.iter().map(User::from).collect();
    Ok(Json(Page::from_overfetch(items, limit, |u: &User| {
        u.id.clone()
    })))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = User), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    body: ApiJson<NewUser>,
) -> ApiResult<Response> {
    caller.require(Access::Admin)?;
    let new = body.parse()?;
    let mut errors = Vec::new();
    check_email(&new.email, &mut errors);
    check_password("password", &new.password, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let mut writer = Writer::begin(&state, caller.actor(), caller.request_id.clone()).await?;
    let row = insert_user(
        &mut writer,
        &new.email,
        &new.name,
        new.role,
        new.password,
        state.inner.password_cost,
    )
    .await?;
    writer.commit().await?;
    Ok(tagged(StatusCode::CREATED, row.version, &User::from(&row)))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = User), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller.require(Access::Admin)?;
    let mut conn = state.db().pool.acquire().await?;
    let row = users::by_id(&mut conn, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("user", &id))?;
    Ok(tagged(StatusCode::OK, row.version, &User::from(&row)))
}

#[utoipa::path(put, path = "/api/v1/users/{id}", tag = "users", request_body = UserUpdate,
    params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = User), (status = 409, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem)),
    security(("bearer" = [])))]
async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    if_match: IfMatch,
    body: ApiJson<UserUpdate>,
) -> ApiResult<Response> {
    caller.require(Access::Admin)?;
    let update = body.parse()?;
    let mut writer = Writer::begin(&state, caller.actor(), caller.request_id.clone()).await?;
    let current = users::by_id(writer.conn(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("user", &id))?;
    if_match.check(current.version)?;
    if current.role == Role::Admin
        && update.role != Role::Admin
        && users::count_admins(writer.conn()).await? <= 1
    {
        return Err(ApiError::Conflict(
            "the last admin cannot lose the admin role".to_owned(),
        ));
    }
    let mut next = current.clone();
    next.name = update.name;
    next.role = update.role;
    next.updated_at = writer.now();
    users::update(writer.conn(), &next, current.version).await?;
    if next.role != current.role {
        users::delete_sessions_of(writer.conn(), &id).await?;
    }
    writer.audit(
        "user",
        &id,
        "update",
        audit_user(&current),
        audit_user(&next),
    );
    writer.commit().await?;
    next.version += 1;
    Ok(tagged(StatusCode::OK, next.version, &User::from(&next)))
}

#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 204), (status = 409, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem)),
    security(("bearer" = [])))]
async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    if_match: IfMatch,
) -> ApiResult<Response> {
    caller.require(Access::Admin)?;
    if caller.user_id() == Some(id.as_str()) {
        return Err(ApiError::Conflict("you cannot delete yourself".to_owned()));
    }
    let mut writer = Writer::begin(&state, caller.actor(), caller.request_id.clone()).await?;
    let current = users::by_id(writer.conn(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("user", &id))?;
    if_match.check(current.version)?;
    if current.role == Role::Admin && users::count_admins(writer.conn()).await? <= 1 {
        return Err(ApiError::Conflict(
            "the last admin cannot be deleted".to_owned(),
        ));
    }
    users::delete(writer.conn(), &id, current.version).await?;
    writer.audit("user", &id, "delete", audit_user(&current), None);
    writer.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
