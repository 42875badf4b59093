//! The same configuration as an Unleash client-features document (API v2, the format
//! `unleash-yggdrasil` and Unleash's server-side SDKs load), for side-by-side benchmarks.
//!
//! | Vane | Unleash |
//! |---|---|
//! | flag | feature (`enabled` is the kill switch) |
//! | rule with a condition / segments, fixed variation | `default` strategy with constraints / segments (+ one strategy variant for non-boolean flags) |
//! | rollout rule with coverage | `flexibleRollout` (rollout = coverage, sticky on the unit attribute, `groupId` = salt) with strategy variants for the weights |
//! | `default_variation` other than the off variation | a final catch-all `default` strategy |
//! | `$in` / implicit equality, `$gte`, `$vgte`, `$regex` | `IN`, `NUM_GTE`, `SEMVER_GTE`, `REGEX` |
//! | id-list segment / condition segment | segment whose constraints are `userId IN ids` / the translated clauses |
//! | prerequisite `{"value": true}` | dependency on the parent, `enabled: true` |
//! | schedule | `currentTime` `DATE_AFTER` / `DATE_BEFORE` constraints on every strategy |
//! | experiment | feature with one `flexibleRollout` (coverage) and weighted feature variants with overrides |
//!
//! Unleash has no layers or holdouts: those checks are simply absent from its side, which
//! makes its work per feature slightly smaller, never larger.

use serde_json::{Map, Value, json};
use vane_engine::Timestamp;
use vane_engine::model::{Experiment, Flag, FlagType, SegmentDefinition, Serve, Snapshot, Window};

/// Why a snapshot could not be translated (it uses something the mapping does not cover).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untranslatable(pub String);

impl std::fmt::Display for Untranslatable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot translate to Unleash: {}", self.0)
    }
}

impl std::error::Error for Untranslatable {}

/// The client-features document for `snapshot`'s flags and, when `with_experiments`, its
/// experiments (after the flags). Segment ids are positions in `snapshot.segments` plus one.
pub fn client_features(
    snapshot: &Snapshot,
    with_experiments: bool,
) -> Result<Value, Untranslatable> {
    let segments = snapshot
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let constraints = match &s.definition {
                SegmentDefinition::IdList { attribute, ids } => vec![json!({
                    "contextName": context_name(attribute),
                    "operator": "IN",
                    "values": ids.iter().map(string_of).collect::<Vec<_>>(),
                })],
                SegmentDefinition::Condition(doc) => constraints(doc)?,
            };
            Ok(json!({"id": i + 1, "constraints": constraints}))
        })
        .collect::<Result<Vec<_>, Untranslatable>>()?;
    let segment_id = |key: &str| {
        snapshot
            .segments
            .iter()
            .position(|s| s.key == key)
            .map(|i| i + 1)
            .ok_or_else(|| Untranslatable(format!("unknown segment `{key}`")))
    };
    let mut features = snapshot
        .flags
        .iter()
        .map(|f| flag_feature(f, &segment_id))
        .collect::<Result<Vec<_>, _>>()?;
    if with_experiments {
        for e in &snapshot.experiments {
            features.push(experiment_feature(e, &segment_id)?);
        }
    }
    Ok(json!({
        "version": 2,
        "features": features,
        "segments": segments,
        "query": null,
    }))
}

/// The Unleash context for a Vane context: `user_id` becomes `userId`, every other attribute a
/// string property, and `currentTime` is `now` (so date constraints do not read the clock).
pub fn context(attributes: &Value, now: Timestamp) -> Value {
    let mut properties = Map::new();
    let mut user_id = Value::Null;
    if let Some(attributes) = attributes.as_object() {
        for (name, value) in attributes {
            if name == "user_id" {
                user_id = Value::String(string_of(value));
            } else {
                properties.insert(name.clone(), Value::String(string_of(value)));
            }
        }
    }
    json!({
        "userId": user_id,
        "currentTime": now.to_rfc3339(),
        "properties": properties,
    })
}

fn flag_feature(
    flag: &Flag,
    segment_id: &impl Fn(&str) -> Result<usize, Untranslatable>,
) -> Result<Value, Untranslatable> {
    let schedule = schedule_constraints(flag.schedule.as_ref());
    let multivariate = flag.kind != FlagType::Bool;
    let mut strategies = Vec::new();
    for rule in &flag.rules {
        let mut constraints = match &rule.condition {
            Some(doc) => constraints(doc)?,
            None => Vec::new(),
        };
        constraints.extend(schedule.iter().cloned());
        let segments = rule
            .segments
            .iter()
            .map(|k| segment_id(k))
            .collect::<Result<Vec<_>, _>>()?;
        let strategy = match &rule.serve {
            Serve::Variation(v) => json!({
                "name": "default",
                "constraints": constraints,
                "segments": segments,
                "parameters": {},
                "variants": if multivariate { vec![variant(flag, *v, 1000)] } else { Vec::new() },
            }),
            Serve::Rollout(rollout) => {
                let weights = thousandths(&rollout.weights);
                let variants: Vec<Value> = if multivariate {
                    weights
                        .iter()
                        .enumerate()
                        .filter(|&(_, &w)| w > 0)
                        .map(|(i, &w)| variant(flag, i, w))
                        .collect()
                } else {
                    Vec::new()
                };
                json!({
                    "name": "flexibleRollout",
                    "constraints": constraints,
                    "segments": segments,
                    "parameters": {
                        "rollout": percent(rollout.coverage).to_string(),
                        "stickiness": stickiness(&rollout.unit_attribute),
                        "groupId": rollout.salt.clone().unwrap_or_else(|| flag.key.clone()),
                    },
                    "variants": variants,
                })
            }
        };
        strategies.push(strategy);
    }
    if flag.default_variation != flag.off_variation {
        strategies.push(json!({
            "name": "default",
            "constraints": schedule,
            "parameters": {},
            "variants": if multivariate {
                vec![variant(flag, flag.default_variation, 1000)]
            } else {
                Vec::new()
            },
        }));
    }
    let dependencies = flag
        .prerequisites
        .iter()
        .map(|p| match p.condition.get("value") {
            Some(Value::Bool(enabled)) => Ok(json!({"feature": p.flag, "enabled": enabled})),
            _ => Err(Untranslatable(format!(
                "prerequisite condition {} of `{}`",
                p.condition, flag.key
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Unleash treats a feature without strategies as on for everyone: a flag that would serve
    // its off variation to all is a disabled feature.
    let enabled = flag.enabled && !strategies.is_empty();
    Ok(json!({
        "name": flag.key,
        "type": "release",
        "enabled": enabled,
        "project": "default",
        "strategies": strategies,
        "dependencies": dependencies,
    }))
}

fn experiment_feature(
    e: &Experiment,
    segment_id: &impl Fn(&str) -> Result<usize, Untranslatable>,
) -> Result<Value, Untranslatable> {
    let mut constraints = match &e.condition {
        Some(doc) => constraints(doc)?,
        None => Vec::new(),
    };
    constraints.extend(schedule_constraints(e.schedule.as_ref()));
    let segments = e
        .segments
        .iter()
        .map(|k| segment_id(k))
        .collect::<Result<Vec<_>, _>>()?;
    let weights = thousandths(&e.variants.iter().map(|v| v.weight).collect::<Vec<_>>());
    let variants: Vec<Value> = e
        .variants
        .iter()
        .zip(weights)
        .map(|(v, weight)| {
            let forced: Vec<&String> = e
                .overrides
                .iter()
                .filter(|&(_, variant)| *variant == v.key)
                .map(|(unit, _)| unit)
                .collect();
            let mut variant = json!({
                "name": v.key,
                "weight": weight,
                "weightType": "variable",
                "stickiness": stickiness(&e.unit_attribute),
            });
            if let Some(payload) = &v.payload {
                variant["payload"] = json!({"type": "json", "value": payload.to_string()});
            }
            if !forced.is_empty() {
                variant["overrides"] =
                    json!([{"contextName": context_name(&e.unit_attribute), "values": forced}]);
            }
            variant
        })
        .collect();
    Ok(json!({
        "name": e.key,
        "type": "experiment",
        "enabled": e.status.may_assign(),
        "project": "default",
        "strategies": [{
            "name": "flexibleRollout",
            "constraints": constraints,
            "segments": segments,
            "parameters": {
                "rollout": percent(e.coverage).to_string(),
                "stickiness": stickiness(&e.unit_attribute),
                "groupId": e.salt,
            },
            "variants": [],
        }],
        "variants": variants,
    }))
}

/// One Unleash constraint per clause of a condition document.
fn constraints(doc: &Value) -> Result<Vec<Value>, Untranslatable> {
    let Some(clauses) = doc.as_object() else {
        return Err(Untranslatable(format!("condition {doc} is not an object")));
    };
    clauses
        .iter()
        .map(|(attribute, test)| {
            let name = context_name(attribute);
            let operator = test
                .as_object()
                .filter(|o| o.len() == 1 && o.keys().all(|k| k.starts_with('$')))
                .and_then(|o| o.iter().next());
            Ok(match operator {
                None => json!({"contextName": name, "operator": "IN", "values": [string_of(test)]}),
                Some((op, arg)) => match op.as_str() {
                    "$eq" => json!({"contextName": name, "operator": "IN", "values": [string_of(arg)]}),
                    "$in" => json!({
                        "contextName": name,
                        "operator": "IN",
                        "values": arg.as_array().map(|a| a.iter().map(string_of).collect::<Vec<_>>()),
                    }),
                    "$gte" => json!({"contextName": name, "operator": "NUM_GTE", "value": string_of(arg)}),
                    "$vgte" => json!({"contextName": name, "operator": "SEMVER_GTE", "value": string_of(arg)}),
                    "$regex" => json!({"contextName": name, "operator": "REGEX", "value": string_of(arg)}),
                    other => {
                        return Err(Untranslatable(format!("operator `{other}` in {doc}")));
                    }
                },
            })
        })
        .collect()
}

fn schedule_constraints(window: Option<&Window>) -> Vec<Value> {
    let Some(window) = window else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(start) = &window.start {
        out.push(json!({"contextName": "currentTime", "operator": "DATE_AFTER", "value": start}));
    }
    if let Some(end) = &window.end {
        out.push(json!({"contextName": "currentTime", "operator": "DATE_BEFORE", "value": end}));
    }
    out
}

/// A strategy variant serving variation `index` of `flag`, named after its value.
fn variant(flag: &Flag, index: usize, weight: u32) -> Value {
    let value = flag.variations.get(index).cloned().unwrap_or(Value::Null);
    json!({
        "name": format!("v{index}"),
        "weight": weight,
        "stickiness": "default",
        "payload": {"type": if value.is_string() { "string" } else { "json" }, "value": string_of(&value)},
    })
}

fn context_name(attribute: &str) -> String {
    match attribute {
        "user_id" => "userId".to_owned(),
        other => other.to_owned(),
    }
}

fn stickiness(unit_attribute: &str) -> String {
    context_name(unit_attribute)
}

/// A share as a whole percentage (Unleash rollouts are integers from 0 to 100).
fn percent(share: f64) -> u32 {
    (share.clamp(0.0, 1.0) * 100.0).round() as u32
}

/// Weights summing to 1 as integer thousandths summing to 1000 (Unleash variant weights).
fn thousandths(weights: &[f64]) -> Vec<u32> {
    let mut cumulative = 0.0;
    let mut previous = 0;
    weights
        .iter()
        .enumerate()
        .map(|(i, w)| {
            cumulative += w;
            let edge = if i + 1 == weights.len() {
                1000
            } else {
                ((cumulative * 1000.0).round() as u32).max(previous)
            };
            let weight = edge - previous;
            previous = edge;
            weight
        })
        .collect()
}

fn string_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GenSpec, generate_snapshot};

    #[test]
    fn every_flag_and_experiment_becomes_one_feature() {
        let snapshot = generate_snapshot(&GenSpec::ISSUE);
        let doc = match client_features(&snapshot, true) {
            Ok(doc) => doc,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(doc["features"].as_array().map(Vec::len), Some(1200));
        assert_eq!(doc["segments"].as_array().map(Vec::len), Some(5));
        let flags_only = client_features(&snapshot, false).ok();
        assert_eq!(
            flags_only.and_then(|d| d["features"].as_array().map(Vec::len)),
            Some(1000)
        );
    }

    #[test]
    fn clauses_become_constraints() {
        let doc = json!({"country": {"$in": ["DE", "FR"]}, "age": {"$gte": 18}, "plan": "pro"});
        let out = constraints(&doc).ok();
        assert_eq!(
            out,
            Some(vec![
                json!({"contextName": "age", "operator": "NUM_GTE", "value": "18"}),
                json!({"contextName": "country", "operator": "IN", "values": ["DE", "FR"]}),
                json!({"contextName": "plan", "operator": "IN", "values": ["pro"]}),
            ])
        );
        assert_eq!(thousandths(&[1.0 / 3.0; 3]), vec![333, 334, 333]);
    }

    #[test]
    fn contexts_become_user_id_and_string_properties() {
        let ctx = json!({"user_id": "user-000001", "age": 34, "beta": false});
        let out = context(&ctx, Timestamp::from_unix_millis(0));
        assert_eq!(out["userId"], "user-000001");
        assert_eq!(out["properties"], json!({"age": "34", "beta": "false"}));
        assert_eq!(out["currentTime"], "1970-01-01T00:00:00Z");
    }
}
