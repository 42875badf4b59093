//! Layers: mutually exclusive experiments share one, each taking a disjoint range of its
//! buckets. Every environment's snapshot carries every layer.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vane_engine::model::Layer;

use super::simple::{Effect, Op, SimpleResource};
use crate::auth::Access;
use crate::error::FieldError;
use crate::store::docs::Table;

fn user_id() -> String {
    "user_id".to_owned()
}

/// A layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// Required on create; immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Hash salt of the layer's buckets; defaults to the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// The attribute hashed; experiments in the layer must hash the same one.
    #[serde(default = "user_id")]
    pub unit_attribute: String,
}

impl LayerSpec {
    pub fn to_engine(&self, key: &str) -> Layer {
        Layer {
            key: key.to_owned(),
            salt: self.salt.clone().unwrap_or_else(|| key.to_owned()),
            unit_attribute: self.unit_attribute.clone(),
        }
    }
}

impl SimpleResource for LayerSpec {
    const TABLE: Table = Table::Layers;
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
    LayerSpec,
    tag = "layers",
    list = "/api/v1/layers",
    item = "/api/v1/layers/{key}",
    param = "key"
);
