//! Versioned JSON documents keyed by a string: environments, flags, experiments, segments,
//! layers, holdouts and metric definitions share this shape.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{decode, encode};
use crate::error::{ApiError, ApiResult};

/// The tables of keyed documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Environments,
    Flags,
    Experiments,
    Segments,
    Layers,
    Holdouts,
    Metrics,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Self::Environments => "environments",
            Self::Flags => "flags",
            Self::Experiments => "experiments",
            Self::Segments => "segments",
            Self::Layers => "layers",
            Self::Holdouts => "holdouts",
            Self::Metrics => "metrics",
        }
    }

    /// The singular entity name used in errors and the audit log.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Environments => "environment",
            Self::Flags => "flag",
            Self::Experiments => "experiment",
            Self::Segments => "segment",
            Self::Layers => "layer",
            Self::Holdouts => "holdout",
            Self::Metrics => "metric",
        }
    }
}

/// A stored document with its version and times (Unix milliseconds).
#[derive(Debug, Clone)]
pub struct Doc<T> {
    pub key: String,
    pub body: T,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Extra indexed columns of a table, beside the document (e.g. an experiment's status).
pub type Columns = Vec<(&'static str, String)>;

/// Which documents to list: keyset pagination by key, equality filters on indexed columns,
/// and for flags a tag.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub after: Option<String>,
    pub limit: Option<i64>,
    pub equals: Vec<(&'static str, String)>,
    pub not_equals: Vec<(&'static str, String)>,
    pub tag: Option<String>,
}

fn row_to_doc<T: DeserializeOwned>(table: Table, row: &AnyRow) -> ApiResult<Doc<T>> {
    let body: String = row.try_get("body")?;
    Ok(Doc {
        key: row.try_get("key")?,
        body: decode(table.name(), &body)?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub async fn get<T: DeserializeOwned>(
    conn: &mut AnyConnection,
    table: Table,
    key: &str,
) -> ApiResult<Option<Doc<T>>> {
    let sql = format!(
        "SELECT key, body, version, created_at, updated_at FROM {} WHERE key = $1",
        table.name()
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(conn)
        .await?;
    row.map(|r| row_to_doc(table, &r)).transpose()
}

/// Like [`get`], but a missing document is a 404.
pub async fn require<T: DeserializeOwned>(
    conn: &mut AnyConnection,
    table: Table,
    key: &str,
) -> ApiResult<Doc<T>> {
    get(conn, table, key)
        .await?
        .ok_or_else(|| ApiError::not_found(table.kind(), key))
}

pub async fn exists(conn: &mut AnyConnection, table: Table, key: &str) -> ApiResult<bool> {
    let sql = format!("SELECT key FROM {} WHERE key = $1", table.name());
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(conn)
        .await?
        .is_some())
}

pub async fn list<T: DeserializeOwned>(
    conn: &mut AnyConnection,
    table: Table,
    filter: &Filter,
) -> ApiResult<Vec<Doc<T>>> {
    let mut sql = format!(
        "SELECT key, body, version, created_at, updated_at FROM {} WHERE 1 = 1",
        table.name()
    );
    let mut binds: Vec<String> = Vec::new();
    if let Some(after) = &filter.after {
        binds.push(after.clone());
        sql.push_str(&format!(" AND key > ${}", binds.len()));
    }
    for (column, value) in &filter.equals {
        binds.push(value.clone());
        sql.push_str(&format!(" AND {column} = ${}", binds.len()));
    }
    for (column, value) in &filter.not_equals {
        binds.push(value.clone());
        sql.push_str(&format!(" AND {column} <> ${}", binds.len()));
    }
    if let Some(tag) = &filter.tag {
        binds.push(tag.clone());
        sql.push_str(&format!(
            " AND key IN (SELECT flag_key FROM flag_tags WHERE tag = ${})",
            binds.len()
        ));
    }
    sql.push_str(" ORDER BY key");
    if filter.limit.is_some() {
        sql.push_str(&format!(" LIMIT ${}", binds.len() + 1));
    }
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for value in binds {
        query = query.bind(value);
    }
    if let Some(limit) = filter.limit {
        query = query.bind(limit);
    }
    let rows = query.fetch_all(conn).await?;
    rows.iter().map(|r| row_to_doc(table, r)).collect()
}

pub async fn insert<T: Serialize + Clone>(
    conn: &mut AnyConnection,
    table: Table,
    key: &str,
    body: &T,
    columns: Columns,
    now: i64,
) -> ApiResult<Doc<T>> {
    let mut names = String::from("key, body, version, created_at, updated_at");
    let mut params = String::from("$1, $2, 1, $3, $3");
    for (i, (column, _)) in columns.iter().enumerate() {
        names.push_str(&format!(", {column}"));
        params.push_str(&format!(", ${}", i + 4));
    }
    let sql = format!("INSERT INTO {} ({names}) VALUES ({params})", table.name());
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .bind(encode(body)?)
        .bind(now);
    for (_, value) in columns {
        query = query.bind(value);
    }
    query.execute(conn).await?;
    Ok(Doc {
        key: key.to_owned(),
        body: body.clone(),
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

/// Replaces the document at `expected` version; returns the new version.
pub async fn update<T: Serialize>(
    conn: &mut AnyConnection,
    table: Table,
    key: &str,
    body: &T,
    columns: Columns,
    expected: i64,
    now: i64,
) -> ApiResult<i64> {
    let mut sets = String::from("body = $1, version = version + 1, updated_at = $2");
    for (i, (column, _)) in columns.iter().enumerate() {
        sets.push_str(&format!(", {column} = ${}", i + 5));
    }
    let sql = format!(
        "UPDATE {} SET {sets} WHERE key = $3 AND version = $4",
        table.name()
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(encode(body)?)
        .bind(now)
        .bind(key)
        .bind(expected);
    for (_, value) in columns {
        query = query.bind(value);
    }
    let done = query.execute(conn).await?;
    if done.rows_affected() != 1 {
        return Err(ApiError::PreconditionFailed {
            current: "unknown".to_owned(),
        });
    }
    Ok(expected + 1)
}

pub async fn delete(
    conn: &mut AnyConnection,
    table: Table,
    key: &str,
    expected: i64,
) -> ApiResult<()> {
    let sql = format!(
        "DELETE FROM {} WHERE key = $1 AND version = $2",
        table.name()
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key)
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

/// Replaces a flag's tags.
pub async fn set_flag_tags(conn: &mut AnyConnection, flag: &str, tags: &[String]) -> ApiResult<()> {
    sqlx::query("DELETE FROM flag_tags WHERE flag_key = $1")
        .bind(flag)
        .execute(&mut *conn)
        .await?;
    let mut unique: Vec<&String> = tags.iter().collect();
    unique.sort();
    unique.dedup();
    for tag in unique {
        sqlx::query("INSERT INTO flag_tags (flag_key, tag) VALUES ($1, $2)")
            .bind(flag)
            .bind(tag)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
