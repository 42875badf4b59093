//! Edge statuses: one row per edge, overwritten by each report of sync's propagation monitor.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::error::ApiResult;

/// The latest reported status of one edge.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeRow {
    pub edge_id: String,
    pub url: String,
    pub environment: Option<String>,
    pub served_version: Option<i64>,
    pub reported_latest_version: Option<i64>,
    pub reported_lag_ms: i64,
    pub reported_stuck: bool,
    pub stuck_after_ms: i64,
    pub last_error: Option<String>,
    pub checked_at: Option<i64>,
    pub reported_by: String,
    pub reported_at: i64,
}

const COLUMNS: &str = "edge_id, url, environment, served_version, reported_latest_version, \
     reported_lag_ms, reported_stuck, stuck_after_ms, last_error, checked_at, reported_by, \
     reported_at";

fn row_to_edge(row: &AnyRow) -> ApiResult<EdgeRow> {
    let stuck: i64 = row.try_get("reported_stuck")?;
    Ok(EdgeRow {
        edge_id: row.try_get("edge_id")?,
        url: row.try_get("url")?,
        environment: row.try_get("environment")?,
        served_version: row.try_get("served_version")?,
        reported_latest_version: row.try_get("reported_latest_version")?,
        reported_lag_ms: row.try_get("reported_lag_ms")?,
        reported_stuck: stuck != 0,
        stuck_after_ms: row.try_get("stuck_after_ms")?,
        last_error: row.try_get("last_error")?,
        checked_at: row.try_get("checked_at")?,
        reported_by: row.try_get("reported_by")?,
        reported_at: row.try_get("reported_at")?,
    })
}

/// Inserts or replaces the status of `edge.edge_id`.
pub async fn upsert(conn: &mut AnyConnection, edge: &EdgeRow) -> ApiResult<()> {
    let sql = format!(
        "INSERT INTO edge_statuses ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (edge_id) DO UPDATE SET url = excluded.url, \
         environment = excluded.environment, served_version = excluded.served_version, \
         reported_latest_version = excluded.reported_latest_version, \
         reported_lag_ms = excluded.reported_lag_ms, reported_stuck = excluded.reported_stuck, \
         stuck_after_ms = excluded.stuck_after_ms, last_error = excluded.last_error, \
         checked_at = excluded.checked_at, reported_by = excluded.reported_by, \
         reported_at = excluded.reported_at"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&edge.edge_id)
        .bind(&edge.url)
        .bind(edge.environment.as_deref())
        .bind(edge.served_version)
        .bind(edge.reported_latest_version)
        .bind(edge.reported_lag_ms)
        .bind(i64::from(edge.reported_stuck))
        .bind(edge.stuck_after_ms)
        .bind(edge.last_error.as_deref())
        .bind(edge.checked_at)
        .bind(&edge.reported_by)
        .bind(edge.reported_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// The environment a stored edge was last reported in (`Some(None)`: stored, environment
/// unknown; `None`: not stored).
pub async fn environment_of(
    conn: &mut AnyConnection,
    edge_id: &str,
) -> ApiResult<Option<Option<String>>> {
    let row = sqlx::query("SELECT environment FROM edge_statuses WHERE edge_id = $1")
        .bind(edge_id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| r.try_get("environment").map_err(Into::into))
        .transpose()
}

/// Edges after `after` in id order, optionally of one environment, at most `limit`.
pub async fn list(
    conn: &mut AnyConnection,
    environment: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> ApiResult<Vec<EdgeRow>> {
    let rows = match environment {
        Some(env) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM edge_statuses WHERE environment = $1 AND edge_id > $2 \
                 ORDER BY edge_id LIMIT $3"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(env)
                .bind(after.unwrap_or(""))
                .bind(limit)
                .fetch_all(conn)
                .await?
        }
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM edge_statuses WHERE edge_id > $1 ORDER BY edge_id LIMIT $2"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(after.unwrap_or(""))
                .bind(limit)
                .fetch_all(conn)
                .await?
        }
    };
    rows.iter().map(row_to_edge).collect()
}

/// Forgets an edge; whether it was stored.
pub async fn delete(conn: &mut AnyConnection, edge_id: &str) -> ApiResult<bool> {
    let done = sqlx::query("DELETE FROM edge_statuses WHERE edge_id = $1")
        .bind(edge_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// When the first version of `environment` newer than `served` was published (the moment an
/// edge serving `served` fell behind), if there is one.
pub async fn behind_since(
    conn: &mut AnyConnection,
    environment: &str,
    served: i64,
) -> ApiResult<Option<i64>> {
    let row = sqlx::query(
        "SELECT published_at FROM snapshots WHERE environment = $1 AND version > $2 \
         ORDER BY version LIMIT 1",
    )
    .bind(environment)
    .bind(served)
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.try_get("published_at").map_err(Into::into))
        .transpose()
}
