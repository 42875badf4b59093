//! The limits every snapshot respects, shared by core's validation (it compiles every snapshot
//! before publishing it) and by every edge's parsing. Whatever compiles here also parses at
//! an edge: serde_json refuses documents nested deeper than 128 levels, and a snapshot's own
//! structure is at most six levels deep around any embedded value, so values nested at most
//! [`MAX_VALUE_DEPTH`] deep leave a wide margin. Documented in `docs/edge.md` ("Limits").

use serde_json::Value;

use crate::error::{CompileError, CompileErrorKind};
use crate::model::{SegmentDefinition, Snapshot};

/// How deeply a JSON value inside a snapshot may nest (flag variations, variant payloads,
/// conditions): `1` and `"a"` are depth 0, `[1]` is 1, `{"a": [1]}` is 2.
pub const MAX_VALUE_DEPTH: usize = 32;
/// The serialized size of one flag variation or variant payload.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Ids in one id-list segment (GrowthBook's saved group); larger lists belong in an attribute.
pub const MAX_ID_LIST_IDS: usize = 100_000;

/// The nesting depth of `value`, counted no further than `limit + 1` (so a hostile value costs
/// no more than the limit to measure).
pub fn depth(value: &Value, limit: usize) -> usize {
    fn walk(value: &Value, at: usize, limit: usize) -> usize {
        if at > limit {
            return at;
        }
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => return at,
        };
        children
            .map(|child| walk(child, at + 1, limit))
            .max()
            .unwrap_or(at + 1)
    }
    walk(value, 0, limit)
}

fn check_value(errors: &mut Vec<CompileError>, path: String, value: &Value, sized: bool) {
    let found = depth(value, MAX_VALUE_DEPTH);
    if found > MAX_VALUE_DEPTH {
        errors.push(CompileError::new(
            path,
            CompileErrorKind::TooDeep {
                max: MAX_VALUE_DEPTH,
            },
        ));
        return;
    }
    if sized {
        let bytes = serde_json::to_vec(value).map_or(0, |b| b.len());
        if bytes > MAX_VALUE_BYTES {
            errors.push(CompileError::new(
                path,
                CompileErrorKind::TooLarge {
                    what: "bytes of JSON",
                    found: bytes,
                    max: MAX_VALUE_BYTES,
                },
            ));
        }
    }
}

/// Every limit `snapshot` breaks, located by path.
pub fn check(snapshot: &Snapshot) -> Vec<CompileError> {
    let mut errors = Vec::new();
    for (i, flag) in snapshot.flags.iter().enumerate() {
        for (j, value) in flag.variations.iter().enumerate() {
            check_value(
                &mut errors,
                format!("flags[{i}].variations[{j}]"),
                value,
                true,
            );
        }
        for (r, rule) in flag.rules.iter().enumerate() {
            if let Some(condition) = &rule.condition {
                let path = format!("flags[{i}].rules[{r}].condition");
                check_value(&mut errors, path, condition, false);
            }
        }
        for (p, pre) in flag.prerequisites.iter().enumerate() {
            let path = format!("flags[{i}].prerequisites[{p}].condition");
            check_value(&mut errors, path, &pre.condition, false);
        }
    }
    for (i, experiment) in snapshot.experiments.iter().enumerate() {
        if let Some(condition) = &experiment.condition {
            check_value(
                &mut errors,
                format!("experiments[{i}].condition"),
                condition,
                false,
            );
        }
        for (v, variant) in experiment.variants.iter().enumerate() {
            if let Some(payload) = &variant.payload {
                let path = format!("experiments[{i}].variants[{v}].payload");
                check_value(&mut errors, path, payload, true);
            }
        }
    }
    for (i, segment) in snapshot.segments.iter().enumerate() {
        match &segment.definition {
            SegmentDefinition::Condition(condition) => {
                check_value(
                    &mut errors,
                    format!("segments[{i}].condition"),
                    condition,
                    false,
                );
            }
            SegmentDefinition::IdList { ids, .. } => {
                if ids.len() > MAX_ID_LIST_IDS {
                    errors.push(CompileError::new(
                        format!("segments[{i}].id_list.ids"),
                        CompileErrorKind::TooLarge {
                            what: "ids",
                            found: ids.len(),
                            max: MAX_ID_LIST_IDS,
                        },
                    ));
                }
            }
        }
    }
    errors
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> Value {
        let mut value = Value::from(1);
        for i in 0..levels {
            value = if i % 2 == 0 {
                Value::Array(vec![value])
            } else {
                serde_json::json!({ "a": value })
            };
        }
        value
    }

    #[test]
    fn depth_counts_containers() {
        assert_eq!(depth(&Value::from(1), 32), 0);
        assert_eq!(depth(&serde_json::json!([]), 32), 1);
        assert_eq!(depth(&serde_json::json!({"a": [1, [2]]}), 32), 3);
        for n in 0..40 {
            assert_eq!(depth(&nested(n), 64), n);
        }
    }

    #[test]
    fn depth_stops_measuring_past_the_limit() {
        assert_eq!(depth(&nested(1000), 32), 33);
    }
}
