//! Users and their login sessions. Passwords are stored as argon2id PHC strings; session
//! tokens as their SHA-256.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::auth::{Role, normalize_email};
use crate::error::{ApiError, ApiResult};

/// A user row.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, email, name, role, password_hash, version, created_at, updated_at";

fn row_to_user(row: &AnyRow) -> ApiResult<UserRow> {
    let role: String = row.try_get("role")?;
    Ok(UserRow {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: Role::parse(&role)
            .ok_or_else(|| ApiError::Internal(format!("unknown role {role} in users")))?,
        password_hash: row.try_get("password_hash")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub async fn by_id(conn: &mut AnyConnection, id: &str) -> ApiResult<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(row_to_user).transpose()
}

/// The user of an email, whatever its capitalization: by the unique `email_key`
/// ([`normalize_email`]), or by the exact spelling for the newer accounts that shared an
/// address before emails were normalized (migration 0003 left those without a key).
pub async fn by_email(conn: &mut AnyConnection, email: &str) -> ApiResult<Option<UserRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM users WHERE email_key = $1 OR email = $2 \
         ORDER BY CASE WHEN email = $2 THEN 0 ELSE 1 END LIMIT 1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(normalize_email(email))
        .bind(email.trim())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(row_to_user).transpose()
}

pub async fn list(
    conn: &mut AnyConnection,
    after: Option<&str>,
    limit: i64,
) -> ApiResult<Vec<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(row_to_user).collect()
}

pub async fn count_admins(conn: &mut AnyConnection) -> ApiResult<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin'")
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("n")?)
}

pub async fn insert(conn: &mut AnyConnection, user: &UserRow) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO users (id, email, email_key, name, role, password_hash, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&user.id)
    .bind(&user.email)
    .bind(normalize_email(&user.email))
    .bind(&user.name)
    .bind(user.role.as_str())
    .bind(&user.password_hash)
    .bind(user.version)
    .bind(user.created_at)
    .bind(user.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes name, role and password hash at `expected` version.
pub async fn update(conn: &mut AnyConnection, user: &UserRow, expected: i64) -> ApiResult<()> {
    let done = sqlx::query(
        "UPDATE users SET name = $1, role = $2, password_hash = $3, version = version + 1, \
         updated_at = $4 WHERE id = $5 AND version = $6",
    )
    .bind(&user.name)
    .bind(user.role.as_str())
    .bind(&user.password_hash)
    .bind(user.updated_at)
    .bind(&user.id)
    .bind(expected)
    .execute(conn)
    .await?;
    if done.rows_affected() != 1 {
        return Err(ApiError::PreconditionFailed {
            current: "unknown".to_owned(),
        });
    }
    Ok(())
}

pub async fn delete(conn: &mut AnyConnection, id: &str, expected: i64) -> ApiResult<()> {
    let done = sqlx::query("DELETE FROM users WHERE id = $1 AND version = $2")
        .bind(id)
        .bind(expected)
        .execute(conn)
        .await?;
    if done.rows_affected() != 1 {
        return Err(ApiError::PreconditionFailed {
            current: "unknown".to_owned(),
        });
    }
    Ok(())
}

pub async fn insert_session(
    conn: &mut AnyConnection,
    token_hash: &str,
    user_id: &str,
    now: i64,
    expires_at: i64,
) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The user of an unexpired session.
pub async fn by_session(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> ApiResult<Option<UserRow>> {
    let sql = format!(
        "SELECT {} FROM users u JOIN sessions s ON s.user_id = u.id \
         WHERE s.token_hash = $1 AND s.expires_at > $2",
        COLUMNS
            .split(", ")
            .map(|c| format!("u.{c} AS {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(row_to_user).transpose()
}

/// When an unexpired session ends (Unix milliseconds).
pub async fn session_expiry(conn: &mut AnyConnection, token_hash: &str) -> ApiResult<Option<i64>> {
    let row = sqlx::query("SELECT expires_at FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .fetch_optional(conn)
        .await?;
    row.map(|r| r.try_get("expires_at").map_err(ApiError::from))
        .transpose()
}

pub async fn delete_session(conn: &mut AnyConnection, token_hash: &str) -> ApiResult<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends every session of a user (after a password or role change).
pub async fn delete_sessions_of(conn: &mut AnyConnection, user_id: &str) -> ApiResult<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}
