//! Environments (e.g. `staging`, `production`): each has its own snapshot, flag states,
//! experiments and API keys. Creating one publishes its first snapshot.

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use super::flags::FlagSpec;
use super::simple::{Effect, Op, SimpleResource};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::store::docs::{self, Filter, Table};

/// An environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSpec {
    /// Required on create; immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
}

impl SimpleResource for EnvironmentSpec {
    const TABLE: Table = Table::Environments;
    const WRITE_ACCESS: Access<'static> = Access::Admin;

    fn key_field(&mut self) -> &mut Option<String> {
        &mut self.key
    }

    fn validate(&self, _errors: &mut Vec<FieldError>) {}

    fn effect(op: Op) -> Effect {
        match op {
            Op::Create => Effect::OwnSnapshot,
            Op::Update | Op::Delete => Effect::None,
        }
    }

    async fn before_delete(conn: &mut AnyConnection, key: &str) -> ApiResult<()> {
        let experiments =
            sqlx::query("SELECT COUNT(*) AS n FROM experiments WHERE environment = $1")
                .bind(key)
                .fetch_one(&mut *conn)
                .await?;
        let experiments: i64 = experiments.try_get("n")?;
        if experiments > 0 {
            return Err(ApiError::Conflict(format!(
                "environment `{key}` still has {experiments} experiment(s)"
            )));
        }
        let keys = crate::store::keys::count_in(conn, key).await?;
        if keys > 0 {
            return Err(ApiError::Conflict(format!(
                "environment `{key}` still has {keys} API key(s)"
            )));
        }
        let flags = docs::list::<FlagSpec>(conn, Table::Flags, &Filter::default()).await?;
        if let Some(flag) = flags.iter().find(|f| f.body.environments.contains_key(key)) {
            return Err(ApiError::Conflict(format!(
                "flag `{}` still has state in environment `{key}`",
                flag.key
            )));
        }
        Ok(())
    }
}

crate::simple_routes!(
    EnvironmentSpec,
    tag = "environments",
    list = "/api/v1/environments",
    item = "/api/v1/environments/{env}",
    param = "env"
);
