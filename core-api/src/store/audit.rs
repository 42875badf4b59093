//! The append-only audit log. There is no update or delete here, and the database refuses
//! them (triggers in both migration sets).

use serde::Serialize;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use super::{decode, encode};
use crate::error::ApiResult;

/// One changed field between the before and after states.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct Change {
    /// Path of the field, e.g. `environments.production.enabled`.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// An audit entry to append.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub at: i64,
    pub actor: String,
    pub entity_type: String,
    pub entity_key: String,
    pub action: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: Option<String>,
}

/// A stored audit entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Entry {
    pub id: i64,
    /// RFC 3339 time of the change.
    pub at: String,
    /// Who made it: `user:EMAIL`, `api-key:ID` or `system:scheduler`.
    pub actor: String,
    pub entity_type: String,
    pub entity_key: String,
    /// `create`, `update`, `delete`, or a lifecycle action (`start`, `stop`, `restart`, ...).
    pub action: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
    pub diff: Vec<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Which entries to list, newest first.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub entity_type: Option<String>,
    pub entity_key: Option<String>,
    pub actor: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Only entries with an id below this one (the cursor of the previous page).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// The changed leaves between two JSON values, in path order.
pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Vec<Change> {
    let mut out = Vec::new();
    diff_into(&mut out, String::new(), before, after);
    out
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

fn diff_into(out: &mut Vec<Change>, path: String, before: Option<&Value>, after: Option<&Value>) {
    match (before, after) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                diff_into(out, join(&path, key), a.get(key), b.get(key));
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff_into(out, format!("{path}[{i}]"), Some(x), Some(y));
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(Change {
            path: if path.is_empty() {
                "$".to_owned()
            } else {
                path
            },
            before: a.cloned(),
            after: b.cloned(),
        }),
    }
}

pub async fn append(conn: &mut AnyConnection, entry: &NewEntry) -> ApiResult<()> {
    let changes = diff(entry.before.as_ref(), entry.after.as_ref());
    let before = entry.before.as_ref().map(encode).transpose()?;
    let after = entry.after.as_ref().map(encode).transpose()?;
    sqlx::query(
        "INSERT INTO audit_log (at, actor, entity_type, entity_key, action, before, after, diff, request_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(entry.at)
    .bind(&entry.actor)
    .bind(&entry.entity_type)
    .bind(&entry.entity_key)
    .bind(&entry.action)
    .bind(before)
    .bind(after)
    .bind(encode(&changes)?)
    .bind(entry.request_id.clone())
    .execute(conn)
    .await?;
    Ok(())
}

fn row_to_entry(row: &AnyRow) -> ApiResult<Entry> {
    let before: Option<String> = row.try_get("before")?;
    let after: Option<String> = row.try_get("after")?;
    let diff: String = row.try_get("diff")?;
    let at: i64 = row.try_get("at")?;
    Ok(Entry {
        id: row.try_get("id")?,
        at: crate::clock::rfc3339(at),
        actor: row.try_get("actor")?,
        entity_type: row.try_get("entity_type")?,
        entity_key: row.try_get("entity_key")?,
        action: row.try_get("action")?,
        before: before.map(|b| decode("audit_log", &b)).transpose()?,
        after: after.map(|a| decode("audit_log", &a)).transpose()?,
        diff: decode("audit_log", &diff)?,
        request_id: row.try_get("request_id")?,
    })
}

pub async fn list(conn: &mut AnyConnection, filter: &Filter) -> ApiResult<Vec<Entry>> {
    let mut sql = String::from(
        "SELECT id, at, actor, entity_type, entity_key, action, before, after, diff, request_id \
         FROM audit_log WHERE 1 = 1",
    );
    let mut texts: Vec<String> = Vec::new();
    let mut numbers: Vec<i64> = Vec::new();
    // Text parameters come first, numbers after: `$N` positions are assigned accordingly.
    let mut text_conditions = Vec::new();
    for (column, value) in [
        ("entity_type", &filter.entity_type),
        ("entity_key", &filter.entity_key),
        ("actor", &filter.actor),
    ] {
        if let Some(value) = value {
            texts.push(value.clone());
            text_conditions.push(format!(" AND {column} = ${}", texts.len()));
        }
    }
    for condition in text_conditions {
        sql.push_str(&condition);
    }
    for (condition, value) in [
        ("at >=", filter.since),
        ("at <", filter.until),
        ("id <", filter.before_id),
    ] {
        if let Some(value) = value {
            numbers.push(value);
            sql.push_str(&format!(
                " AND {condition} ${}",
                texts.len() + numbers.len()
            ));
        }
    }
    sql.push_str(&format!(
        " ORDER BY id DESC LIMIT ${}",
        texts.len() + numbers.len() + 1
    ));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for text in texts {
        query = query.bind(text);
    }
    for number in numbers {
        query = query.bind(number);
    }
    let rows = query.bind(filter.limit).fetch_all(conn).await?;
    rows.iter().map(row_to_entry).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_diff_lists_changed_leaves_with_their_paths() {
        let before =
            json!({"name": "a", "environments": {"prod": {"enabled": false}}, "tags": ["x"]});
        let after =
            json!({"name": "a", "environments": {"prod": {"enabled": true}}, "tags": ["x", "y"]});
        let changes = diff(Some(&before), Some(&after));
        assert_eq!(
            changes,
            vec![
                Change {
                    path: "environments.prod.enabled".into(),
                    before: Some(json!(false)),
                    after: Some(json!(true))
                },
                Change {
                    path: "tags".into(),
                    before: Some(json!(["x"])),
                    after: Some(json!(["x", "y"]))
                },
            ]
        );
    }

    #[test]
    fn a_creation_diffs_against_nothing() {
        let changes = diff(None, Some(&json!({"a": 1})));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].path, "$");
    }
}
