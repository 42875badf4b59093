//! Building an environment's snapshot (schema v1) from the stored configuration, and mapping
//! the engine's validation errors back to the API's field paths.
//!
//! Path mapping: the API's representations mirror the snapshot's, so an engine path such as
//! `experiments[3].variants[1].weight` becomes `variants[1].weight` of experiment `checkout`
//! (the third in the snapshot), and a flag's per-environment fields move under
//! `environments.{env}`: `flags[0].rules[2].condition` becomes
//! `environments.production.rules[2].condition`. Errors about the entity in the request body
//! are relative to the body; errors found in other entities name them (`entity: "flag:beta"`).

use serde_json::Value;
use sqlx::AnyConnection;
use vane_engine::model::{ExperimentStatus, SCHEMA_VERSION};
use vane_engine::{CompileError, Snapshot};

use crate::error::{ApiResult, FieldError};
use crate::resources::experiments::model::StoredExperiment;
use crate::resources::flags::FlagSpec;
use crate::resources::holdouts::HoldoutSpec;
use crate::resources::layers::LayerSpec;
use crate::resources::segments::SegmentSpec;
use crate::store::docs::{self, Filter, Table};

/// The entity a request changes, for relative error paths.
#[derive(Debug, Clone)]
pub struct Subject {
    /// `flag`, `experiment`, `segment`, `layer` or `holdout`.
    pub kind: &'static str,
    pub key: String,
    /// A prefix of the entity's paths that the request body starts below, e.g.
    /// `environments.production.` for `PUT /flags/{key}/environments/production`.
    pub body_prefix: Option<String>,
}

impl Subject {
    pub fn new(kind: &'static str, key: &str) -> Self {
        Self {
            kind,
            key: key.to_owned(),
            body_prefix: None,
        }
    }
}

/// The snapshot of `environment` at `version` from the configuration visible to `conn`.
/// Concluded experiments are left out; drafts are kept (edges report them as not running).
pub async fn build(
    conn: &mut AnyConnection,
    environment: &str,
    version: i64,
    published_at: &str,
) -> ApiResult<Snapshot> {
    let all = Filter::default();
    let mut snapshot = Snapshot::empty(environment, u64::try_from(version).unwrap_or(0));
    snapshot.schema_version = SCHEMA_VERSION;
    snapshot.published_at = Some(published_at.to_owned());
    snapshot.flags = docs::list::<FlagSpec>(conn, Table::Flags, &all)
        .await?
        .into_iter()
        .map(|d| d.body.to_engine(&d.key, environment))
        .collect();
    let experiments = Filter {
        equals: vec![("environment", environment.to_owned())],
        not_equals: vec![("status", "concluded".to_owned())],
        ..Filter::default()
    };
    snapshot.experiments = docs::list::<StoredExperiment>(conn, Table::Experiments, &experiments)
        .await?
        .into_iter()
        .filter(|d| d.body.state.status != ExperimentStatus::Concluded)
        .map(|d| d.body.to_engine(&d.key))
        .collect();
    snapshot.segments = docs::list::<SegmentSpec>(conn, Table::Segments, &all)
        .await?
        .into_iter()
        .map(|d| d.body.to_engine(&d.key))
        .collect();
    snapshot.layers = docs::list::<LayerSpec>(conn, Table::Layers, &all)
        .await?
        .into_iter()
        .map(|d| d.body.to_engine(&d.key))
        .collect();
    snapshot.holdouts = docs::list::<HoldoutSpec>(conn, Table::Holdouts, &all)
        .await?
        .into_iter()
        .map(|d| d.body.to_engine(&d.key))
        .collect();
    // Edges authenticate requests against these digests; never the keys themselves.
    snapshot.api_keys = crate::store::keys::list(conn, environment, None, i64::MAX)
        .await?
        .into_iter()
        .map(|k| vane_engine::model::ApiKeyDigest {
            sha256: k.key_hash,
            kind: match k.kind {
                crate::auth::KeyKind::Client => vane_engine::model::KeyKind::Client,
                crate::auth::KeyKind::Server => vane_engine::model::KeyKind::Server,
                crate::auth::KeyKind::Admin => vane_engine::model::KeyKind::Admin,
            },
        })
        .collect();
    Ok(snapshot)
}

/// Flag fields that are per environment in the API.
const FLAG_ENVIRONMENT_FIELDS: [&str; 6] = [
    "enabled",
    "off_variation",
    "default_variation",
    "rules",
    "holdouts",
    "schedule",
];

/// Maps engine errors on `snapshot` to API field errors.
pub fn map_errors(
    snapshot: &Snapshot,
    errors: Vec<CompileError>,
    subject: Option<&Subject>,
) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|error| map_error(snapshot, &error, subject))
        .collect()
}

fn map_error(snapshot: &Snapshot, error: &CompileError, subject: Option<&Subject>) -> FieldError {
    let code = serde_json::to_value(&error.kind)
        .ok()
        .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "invalid".to_owned());
    let message = error.kind.to_string();
    let environment = snapshot.environment.as_str();
    let Some((kind, key, rest)) = locate(snapshot, &error.path) else {
        let mut field = FieldError::new(error.path.clone(), &code, message);
        field.environment = Some(environment.to_owned());
        return field;
    };
    let mut path = rest.trim_start_matches('.').to_owned();
    let mut per_environment = false;
    if kind == "flag" {
        let first = path.split(['.', '[']).next().unwrap_or("");
        if FLAG_ENVIRONMENT_FIELDS.contains(&first) {
            path = format!("environments.{environment}.{path}");
            per_environment = true;
        }
    }
    let is_subject = subject.is_some_and(|s| s.kind == kind && s.key == key);
    let mut field = FieldError::new(String::new(), &code, message);
    if is_subject {
        if let Some(prefix) = subject.and_then(|s| s.body_prefix.as_deref())
            && let Some(stripped) = path.strip_prefix(prefix)
        {
            path = stripped.to_owned();
        }
    } else {
        field.entity = Some(format!("{kind}:{key}"));
    }
    if per_environment || kind == "experiment" {
        field.environment = Some(environment.to_owned());
    }
    field.path = if path.is_empty() {
        "$".to_owned()
    } else {
        path
    };
    field
}

/// Splits `flags[3].rules[0]` into (`flag`, the key of flags[3], `.rules[0]`).
fn locate<'p>(snapshot: &Snapshot, path: &'p str) -> Option<(&'static str, String, &'p str)> {
    let open = path.find('[')?;
    let close = path[open..].find(']')? + open;
    let index: usize = path[open + 1..close].parse().ok()?;
    let rest = &path[close + 1..];
    let (kind, key) = match &path[..open] {
        "flags" => ("flag", snapshot.flags.get(index)?.key.clone()),
        "experiments" => ("experiment", snapshot.experiments.get(index)?.key.clone()),
        "segments" => ("segment", snapshot.segments.get(index)?.key.clone()),
        "layers" => ("layer", snapshot.layers.get(index)?.key.clone()),
        "holdouts" => ("holdout", snapshot.holdouts.get(index)?.key.clone()),
        _ => return None,
    };
    Some((kind, key, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vane_engine::CompileErrorKind;

    fn snapshot() -> Snapshot {
        serde_json::from_value(serde_json::json!({
            "schema_version": 1, "environment": "production", "version": 3,
            "flags": [{"key": "beta", "type": "bool", "variations": [false, true], "enabled": true,
                       "off_variation": 0, "default_variation": 0}],
            "experiments": [{"key": "cta", "status": "draft", "salt": "s",
                             "variants": [{"key": "a", "weight": 0.5}, {"key": "b", "weight": 0.5}]}]
        }))
        .unwrap()
    }

    #[test]
    fn flag_rules_map_under_their_environment() {
        let errors = vec![CompileError::new(
            "flags[0].rules[2].segments[0]",
            CompileErrorKind::UnknownSegment("eu".into()),
        )];
        let mapped = map_errors(&snapshot(), errors, None);
        assert_eq!(
            mapped[0].path,
            "environments.production.rules[2].segments[0]"
        );
        assert_eq!(mapped[0].entity.as_deref(), Some("flag:beta"));
        assert_eq!(mapped[0].code, "unknown_segment");
    }

    #[test]
    fn errors_in_the_subject_are_relative_to_the_body() {
        let errors = vec![CompileError::new(
            "experiments[0].variants",
            CompileErrorKind::WeightsDoNotSumToOne { sum: "1.2".into() },
        )];
        let subject = Subject::new("experiment", "cta");
        let mapped = map_errors(&snapshot(), errors, Some(&subject));
        assert_eq!(mapped[0].path, "variants");
        assert_eq!(mapped[0].entity, None);
        assert_eq!(mapped[0].code, "weights_do_not_sum_to_one");
    }

    #[test]
    fn a_body_prefix_is_stripped_for_per_environment_bodies() {
        let errors = vec![CompileError::new(
            "flags[0].default_variation",
            CompileErrorKind::VariationOutOfRange { index: 5, count: 2 },
        )];
        let subject = Subject {
            kind: "flag",
            key: "beta".into(),
            body_prefix: Some("environments.production.".into()),
        };
        let mapped = map_errors(&snapshot(), errors, Some(&subject));
        assert_eq!(mapped[0].path, "default_variation");
    }
}
