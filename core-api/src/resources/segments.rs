//! Segments: named sets of units used by targeting, defined by a condition or an id list.
//! Every environment's snapshot carries every segment.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use vane_engine::model::{Segment, SegmentDefinition};

use super::simple::{Effect, Op, SimpleResource};
use crate::auth::Access;
use crate::error::FieldError;
use crate::store::docs::Table;

/// An id-list segment's definition (GrowthBook's saved group).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdList {
    /// The context attribute compared with the ids, e.g. `user_id`.
    pub attribute: String,
    #[schema(value_type = Vec<Object>)]
    pub ids: Vec<Value>,
}

/// A segment: exactly one of `condition` and `id_list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentSpec {
    /// Required on create; immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// A GrowthBook-style condition document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub condition: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_list: Option<IdList>,
}

impl SegmentSpec {
    pub fn to_engine(&self, key: &str) -> Segment {
        let definition = match (&self.condition, &self.id_list) {
            (_, Some(list)) => SegmentDefinition::IdList {
                attribute: list.attribute.clone(),
                ids: list.ids.clone(),
            },
            (Some(condition), None) => SegmentDefinition::Condition(condition.clone()),
            (None, None) => SegmentDefinition::Condition(Value::Object(Default::default())),
        };
        Segment {
            key: key.to_owned(),
            definition,
        }
    }
}

impl SimpleResource for SegmentSpec {
    const TABLE: Table = Table::Segments;
    const WRITE_ACCESS: Access<'static> = Access::Edit;

    fn key_field(&mut self) -> &mut Option<String> {
        &mut self.key
    }

    fn validate(&self, errors: &mut Vec<FieldError>) {
        match (&self.condition, &self.id_list) {
            (Some(_), Some(_)) => errors.push(FieldError::new(
                "id_list",
                "exclusive",
                "a segment has either `condition` or `id_list`, not both",
            )),
            (None, None) => errors.push(FieldError::new(
                "condition",
                "required",
                "a segment needs `condition` or `id_list`",
            )),
            _ => {}
        }
    }

    fn effect(_op: Op) -> Effect {
        Effect::AllSnapshots
    }
}

crate::simple_routes!(
    SegmentSpec,
    tag = "segments",
    list = "/api/v1/segments",
    item = "/api/v1/segments/{key}",
    param = "key"
);
