//! API keys. Only the SHA-256 of a key is stored; the key itself is shown once, at creation.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::auth::KeyKind;
use crate::error::{ApiError, ApiResult};

/// An API key row.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: String,
    pub environment: String,
    pub kind: KeyKind,
    pub name: String,
    /// The key's first characters, to recognise it in lists.
    pub prefix: String,
    pub key_hash: String,
    pub created_by: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, environment, kind, name, prefix, key_hash, created_by, version, created_at, updated_at";

fn row_to_key(row: &AnyRow) -> ApiResult<KeyRow> {
    let kind: String = row.try_get("kind")?;
    Ok(KeyRow {
        id: row.try_get("id")?,
        environment: row.try_get("environment")?,
        kind: KeyKind::parse(&kind)
            .ok_or_else(|| ApiError::Internal(format!("unknown key kind {kind}")))?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        key_hash: row.try_get("key_hash")?,
        created_by: row.try_get("created_by")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub async fn by_hash(conn: &mut AnyConnection, key_hash: &str) -> ApiResult<Option<KeyRow>> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key_hash)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(row_to_key).transpose()
}

pub async fn by_id(conn: &mut AnyConnection, id: &str) -> ApiResult<Option<KeyRow>> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(row_to_key).transpose()
}

pub async fn list(
    conn: &mut AnyConnection,
    environment: &str,
    after: Option<&str>,
    limit: i64,
) -> ApiResult<Vec<KeyRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM api_keys WHERE environment = $1 AND id > $2 ORDER BY id LIMIT $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(environment)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(row_to_key).collect()
}

pub async fn count_in(conn: &mut AnyConnection, environment: &str) -> ApiResult<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM api_keys WHERE environment = $1")
        .bind(environment)
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("n")?)
}

pub async fn insert(conn: &mut AnyConnection, key: &KeyRow) -> ApiResult<()> {
    let sql = format!(
        "INSERT INTO api_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&key.id)
        .bind(&key.environment)
        .bind(key.kind.as_str())
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.key_hash)
        .bind(&key.created_by)
        .bind(key.version)
        .bind(key.created_at)
        .bind(key.updated_at)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete(conn: &mut AnyConnection, id: &str, expected: i64) -> ApiResult<()> {
    let done = sqlx::query("DELETE FROM api_keys WHERE id = $1 AND version = $2")
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
