//! Metric definitions: what analytics measures for experiments. They are not part of
//! snapshots (edges do not need them).

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

use super::experiments::model::StoredExperiment;
use super::simple::{Effect, Op, SimpleResource};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::store::docs::{self, Filter, Table};

/// How a metric aggregates its events per unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricType {
    /// Share of units with at least one event.
    Conversion,
    /// Events per unit.
    Count,
    /// Sum of event values per unit.
    Sum,
    /// Mean event value per unit.
    Mean,
    /// Sum of event values over sum of the denominator event's values.
    Ratio,
}

/// How per-unit values are capped to tame outliers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CappingKind {
    /// Cap at `value`.
    Absolute,
    /// Cap at the `value` quantile (0 < value < 1) of units' values.
    Percentile,
}

/// Optional capping of per-unit values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Capping {
    #[serde(rename = "type")]
    pub kind: CappingKind,
    pub value: f64,
}

/// A metric definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    /// Required on create; immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The tracked event counted or summed, e.g. `purchase`.
    pub event_name: String,
    #[serde(rename = "type")]
    pub kind: MetricType,
    /// For `ratio` metrics: the event whose values form the denominator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denominator_event: Option<String>,
    /// Only events within this many hours after a unit's first exposure count (default: no
    /// limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_hours: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capping: Option<Capping>,
}

impl SimpleResource for MetricSpec {
    const TABLE: Table = Table::Metrics;
    const WRITE_ACCESS: Access<'static> = Access::Edit;

    fn key_field(&mut self) -> &mut Option<String> {
        &mut self.key
    }

    fn validate(&self, errors: &mut Vec<FieldError>) {
        if self.event_name.trim().is_empty() {
            errors.push(FieldError::new(
                "event_name",
                "required",
                "must not be empty",
            ));
        }
        match (self.kind, &self.denominator_event) {
            (MetricType::Ratio, None) => errors.push(FieldError::new(
                "denominator_event",
                "required",
                "a ratio metric needs a denominator event",
            )),
            (MetricType::Ratio, Some(d)) if d.trim().is_empty() => errors.push(FieldError::new(
                "denominator_event",
                "required",
                "must not be empty",
            )),
            (kind, Some(_)) if kind != MetricType::Ratio => errors.push(FieldError::new(
                "denominator_event",
                "not_allowed",
                "only ratio metrics have a denominator event",
            )),
            _ => {}
        }
        if let Some(hours) = self.window_hours
            && !(hours.is_finite() && hours > 0.0)
        {
            errors.push(FieldError::new(
                "window_hours",
                "invalid_value",
                format!("{hours} is not a positive number of hours"),
            ));
        }
        if let Some(capping) = &self.capping {
            let ok = match capping.kind {
                CappingKind::Absolute => capping.value.is_finite() && capping.value > 0.0,
                CappingKind::Percentile => capping.value > 0.0 && capping.value < 1.0,
            };
            if !ok {
                errors.push(FieldError::new(
                    "capping.value",
                    "invalid_value",
                    format!(
                        "{} is not a valid {} cap",
                        capping.value,
                        match capping.kind {
                            CappingKind::Absolute => "absolute (> 0)",
                            CappingKind::Percentile => "percentile (0 < p < 1)",
                        }
                    ),
                ));
            }
        }
    }

    fn effect(_op: Op) -> Effect {
        Effect::None
    }

    async fn before_delete(conn: &mut AnyConnection, key: &str) -> ApiResult<()> {
        let experiments =
            docs::list::<StoredExperiment>(conn, Table::Experiments, &Filter::default()).await?;
        if let Some(user) = experiments
            .iter()
            .find(|e| e.body.spec.metrics.all().any(|m| m == key))
        {
            return Err(ApiError::Conflict(format!(
                "metric `{key}` is used by experiment `{}`",
                user.key
            )));
        }
        Ok(())
    }
}

crate::simple_routes!(
    MetricSpec,
    tag = "metrics",
    list = "/api/v1/metrics",
    item = "/api/v1/metrics/{key}",
    param = "key"
);
