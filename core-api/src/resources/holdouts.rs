//! Holdouts: a share of units kept out of every experiment and flag rule that names the
//! holdout. Every environment's snapshot carries every holdout.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vane_engine::model::Holdout;

use super::simple::{Effect, Op, SimpleResource};
use crate::auth::Access;
use crate::error::FieldError;
use crate::store::docs::Table;

fn user_id() -> String {
    "user_id".to_owned()
}

/// A holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldoutSpec {
    /// Required on create; immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Hash salt; defaults to the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// Share of units held out, in [0, 1].
    pub share: f64,
    #[serde(default = "user_id")]
    pub unit_attribute: String,
}

impl HoldoutSpec {
    pub fn to_engine(&self, key: &str) -> Holdout {
        Holdout {
            key: key.to_owned(),
            salt: self.salt.clone().unwrap_or_else(|| key.to_owned()),
            share: self.share,
            unit_attribute: self.unit_attribute.clone(),
        }
    }
}

impl SimpleResource for HoldoutSpec {
    const TABLE: Table = Table::Holdouts;
    const WRITE_ACCESS: Access<'static> = Access::Edit;

    fn key_field(&mut self) -> &mut Option<String> {
        &mut self.key
    }

    fn validate(&self, _errors: &mut Vec<FieldError>) {}

    fn effect(_op: Op) -> Effect {
        Effect::AllSnapshots
    }
}

crate::simple_routes!(
    HoldoutSpec,
    tag = "holdouts",
    list = "/api/v1/holdouts",
    item = "/api/v1/holdouts/{key}",
    param = "key"
);
