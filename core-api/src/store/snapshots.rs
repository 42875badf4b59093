//! Published snapshots: immutable rows, one per environment and version.

use sqlx::{AnyConnection, Row};

use crate::error::ApiResult;

/// A published snapshot.
#[derive(Debug, Clone)]
pub struct SnapshotRow {
    pub environment: String,
    pub version: i64,
    pub content_hash: String,
    pub body: String,
    pub published_at: i64,
}

pub async fn latest_version(conn: &mut AnyConnection, environment: &str) -> ApiResult<i64> {
    let row =
        sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM snapshots WHERE environment = $1")
            .bind(environment)
            .fetch_one(conn)
            .await?;
    Ok(row.try_get("v")?)
}

pub async fn insert(conn: &mut AnyConnection, snapshot: &SnapshotRow) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO snapshots (environment, version, content_hash, body, published_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&snapshot.environment)
    .bind(snapshot.version)
    .bind(&snapshot.content_hash)
    .bind(&snapshot.body)
    .bind(snapshot.published_at)
    .execute(conn)
    .await?;
    Ok(())
}

fn row_to_snapshot(row: &sqlx::any::AnyRow) -> ApiResult<SnapshotRow> {
    Ok(SnapshotRow {
        environment: row.try_get("environment")?,
        version: row.try_get("version")?,
        content_hash: row.try_get("content_hash")?,
        body: row.try_get("body")?,
        published_at: row.try_get("published_at")?,
    })
}

/// The newest snapshot of `environment`, if any was published.
pub async fn latest(conn: &mut AnyConnection, environment: &str) -> ApiResult<Option<SnapshotRow>> {
    let row = sqlx::query(
        "SELECT environment, version, content_hash, body, published_at FROM snapshots \
         WHERE environment = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(environment)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(row_to_snapshot).transpose()
}

pub async fn at_version(
    conn: &mut AnyConnection,
    environment: &str,
    version: i64,
) -> ApiResult<Option<SnapshotRow>> {
    let row = sqlx::query(
        "SELECT environment, version, content_hash, body, published_at FROM snapshots \
         WHERE environment = $1 AND version = $2",
    )
    .bind(environment)
    .bind(version)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(row_to_snapshot).transpose()
}
