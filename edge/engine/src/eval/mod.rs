//! Evaluation: flag values and experiment assignments for one context at a time `now`.
//!
//! Results borrow from the compiled snapshot (no cloning on the hot path) and carry a reason.
//! Nothing here panics or fails as a whole: a problem with one flag becomes that flag's
//! `error` reason while the others evaluate normally.

mod experiments;
mod flags;

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;

pub use experiments::{AssignReason, Assignment};
pub use flags::{FlagEvaluation, FlagReason};

use crate::compile::{CHoldout, CSegment, CompiledSnapshot};
use crate::hash::{self, Bucket};

/// Why an evaluation could not be done normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalError {
    /// No flag or experiment with the requested key.
    NotFound,
    /// The context is not a JSON object.
    InvalidContext,
}

/// Every flag value and every experiment assignment for one context.
#[derive(Debug, Serialize)]
pub struct Evaluation<'s> {
    pub environment: &'s str,
    pub snapshot_version: u64,
    pub flags: Vec<FlagEvaluation<'s>>,
    pub experiments: Vec<Assignment<'s>>,
}

impl CompiledSnapshot {
    /// All flags and all experiments for `attributes` at `now`.
    pub fn evaluate_all<'s>(&'s self, attributes: &Value, now: crate::Timestamp) -> Evaluation<'s> {
        let mut memo = Memo::new(attributes);
        Evaluation {
            environment: &self.environment,
            snapshot_version: self.version,
            flags: self.evaluate_flags_with(&mut memo, now),
            experiments: self.assign_all_with(&mut memo, now),
        }
    }
}

/// What one evaluation call works out at most once, however many flags and experiments ask:
/// the unit id of each attribute, each layer's bucket and each holdout's decision. All of them
/// depend only on the context and the snapshot, never on the flag or experiment asking.
pub(crate) struct Memo<'c> {
    pub(crate) attributes: &'c Value,
    /// The first unit attribute asked for (almost always the only one) is kept inline, so a
    /// single-key evaluation allocates nothing; others go to `more_units`.
    unit: Option<(&'c str, Option<Cow<'c, str>>)>,
    more_units: Vec<(&'c str, Option<Cow<'c, str>>)>,
    layer_buckets: Vec<Option<Bucket>>,
    held_out: Vec<Option<bool>>,
}

impl<'c> Memo<'c> {
    pub(crate) fn new(attributes: &'c Value) -> Self {
        Self {
            attributes,
            unit: None,
            more_units: Vec::new(),
            layer_buckets: Vec::new(),
            held_out: Vec::new(),
        }
    }

    /// [`unit_id`] of `attribute`, looked up once per call. Cloning a borrowed id is free.
    pub(crate) fn unit(&mut self, attribute: &'c str) -> Option<Cow<'c, str>> {
        if let Some((_, id)) = self
            .unit
            .iter()
            .chain(&self.more_units)
            .find(|(a, _)| *a == attribute)
        {
            return id.clone();
        }
        let id = unit_id(self.attributes, attribute);
        if self.unit.is_none() {
            self.unit = Some((attribute, id.clone()));
        } else {
            self.more_units.push((attribute, id.clone()));
        }
        id
    }

    /// The unit's bucket in layer `index` (salt `salt`), hashed once per call.
    pub(crate) fn layer_bucket(&mut self, index: usize, salt: &str, id: &str) -> Bucket {
        if self.layer_buckets.len() <= index {
            self.layer_buckets.resize(index + 1, None);
        }
        *self.layer_buckets[index].get_or_insert_with(|| hash::bucket(salt, id))
    }
}

/// The unit id a context gives for `attribute`: strings as they are, numbers as JavaScript's
/// `String(n)` prints them. Missing, empty, and other types give `None`.
pub(crate) fn unit_id<'a>(attributes: &'a Value, attribute: &str) -> Option<Cow<'a, str>> {
    match attributes.get(attribute)? {
        Value::String(s) if !s.is_empty() => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(js_number_string(n))),
        _ => None,
    }
}

fn js_number_string(n: &serde_json::Number) -> String {
    if let Some(f) = n.as_f64()
        && !n.is_i64()
        && !n.is_u64()
        && f.fract() == 0.0
        && f.abs() < 9_007_199_254_740_992.0
    {
        return format!("{}", f as i64);
    }
    n.to_string()
}

impl CompiledSnapshot {
    /// Whether the unit belongs to segment `index`.
    pub(crate) fn in_segment(&self, index: usize, attributes: &Value) -> bool {
        match &self.segments[index] {
            CSegment::Condition { condition, .. } => condition.matches(attributes, &self.id_lists),
            CSegment::IdList {
                attribute, list, ..
            } => attributes
                .get(attribute)
                .is_some_and(|v| self.id_lists[*list].contains(v)),
        }
    }

    /// The first of `segments` the unit is not in, if any.
    pub(crate) fn missing_segment(&self, segments: &[usize], attributes: &Value) -> Option<&str> {
        segments
            .iter()
            .find(|&&s| !self.in_segment(s, attributes))
            .map(|&s| self.segments[s].key())
    }

    /// The first of `holdouts` that holds the unit out, if any. A unit without the holdout's
    /// unit attribute cannot be placed and is not held out.
    pub(crate) fn holding_out<'s: 'c, 'c>(
        &'s self,
        holdouts: &[usize],
        memo: &mut Memo<'c>,
    ) -> Option<&'s CHoldout> {
        holdouts
            .iter()
            .find(|&&index| self.held_out(index, memo))
            .map(|&index| &self.holdouts[index])
    }

    fn held_out<'s: 'c, 'c>(&'s self, index: usize, memo: &mut Memo<'c>) -> bool {
        if let Some(Some(decided)) = memo.held_out.get(index) {
            return *decided;
        }
        let h = &self.holdouts[index];
        let decided = memo
            .unit(&h.unit_attribute)
            .is_some_and(|id| hash::bucket(&h.salt, &id) < h.share);
        if memo.held_out.len() <= index {
            memo.held_out.resize(index + 1, None);
        }
        memo.held_out[index] = Some(decided);
        decided
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_unit_ids_print_like_javascript() {
        let ctx: Value = serde_json::json!({"a": 42, "b": 42.0, "c": 1.5, "d": "", "e": true});
        assert_eq!(unit_id(&ctx, "a").as_deref(), Some("42"));
        assert_eq!(unit_id(&ctx, "b").as_deref(), Some("42"));
        assert_eq!(unit_id(&ctx, "c").as_deref(), Some("1.5"));
        assert_eq!(unit_id(&ctx, "d"), None);
        assert_eq!(unit_id(&ctx, "e"), None);
        assert_eq!(unit_id(&ctx, "zzz"), None);
    }
}
