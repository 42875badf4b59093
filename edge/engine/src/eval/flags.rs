//! Flag evaluation.

use serde::Serialize;
use serde_json::Value;

use super::{EvalError, Memo};
use crate::compile::{CFlag, CServe, CompiledSnapshot};
use crate::hash::{self, Bucket};
use crate::time::Timestamp;

static NULL: Value = Value::Null;

/// A flag's value for one context, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagEvaluation<'s> {
    pub key: &'s str,
    pub value: &'s Value,
    /// Index of the served variation; `None` only with an error reason.
    pub variation: Option<usize>,
    pub reason: FlagReason<'s>,
}

/// Why a flag has its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FlagReason<'s> {
    /// The kill switch is off: the off variation.
    Disabled,
    /// `now` is outside the flag's schedule: the off variation.
    OutsideWindow,
    /// A prerequisite flag's value did not satisfy its condition: the off variation.
    PrerequisiteFailed { flag: &'s str },
    /// The unit is in a holdout of this flag: the default variation.
    InHoldout { holdout: &'s str },
    /// A fixed-variation rule matched.
    RuleMatch { rule_index: usize, rule_id: &'s str },
    /// A rollout rule matched and placed the unit by its bucket.
    Rollout {
        rule_index: usize,
        rule_id: &'s str,
        bucket: Bucket,
    },
    /// No rule matched: the default variation.
    Default,
    /// The flag could not be evaluated; the value is null.
    Error { error: EvalError },
}

impl CompiledSnapshot {
    /// Evaluates flag `key` for `attributes` at `now`.
    pub fn evaluate_flag<'s>(
        &'s self,
        key: &'s str,
        attributes: &Value,
        now: Timestamp,
    ) -> FlagEvaluation<'s> {
        match self.flag_index.get(key) {
            Some(&index) => self.eval_flag(index, &mut Memo::new(attributes), now, &mut None),
            None => FlagEvaluation {
                key,
                value: &NULL,
                variation: None,
                reason: FlagReason::Error {
                    error: EvalError::NotFound,
                },
            },
        }
    }

    /// Evaluates every flag, in snapshot order. Prerequisites are evaluated once each.
    pub fn evaluate_flags<'s>(
        &'s self,
        attributes: &Value,
        now: Timestamp,
    ) -> Vec<FlagEvaluation<'s>> {
        self.evaluate_flags_with(&mut Memo::new(attributes), now)
    }

    pub(crate) fn evaluate_flags_with<'s: 'c, 'c>(
        &'s self,
        context: &mut Memo<'c>,
        now: Timestamp,
    ) -> Vec<FlagEvaluation<'s>> {
        let mut memo: Option<Vec<Option<usize>>> = Some(vec![None; self.flags.len()]);
        (0..self.flags.len())
            .map(|i| self.eval_flag(i, context, now, &mut memo))
            .collect()
    }

    /// The served variation of flag `index`, memoized when a memo is given.
    fn variation_of<'s: 'c, 'c>(
        &'s self,
        index: usize,
        context: &mut Memo<'c>,
        now: Timestamp,
        memo: &mut Option<Vec<Option<usize>>>,
    ) -> Option<usize> {
        if let Some(Some(done)) = memo.as_ref().and_then(|m| m.get(index)) {
            return Some(*done);
        }
        self.eval_flag(index, context, now, memo).variation
    }

    fn eval_flag<'s: 'c, 'c>(
        &'s self,
        index: usize,
        context: &mut Memo<'c>,
        now: Timestamp,
        memo: &mut Option<Vec<Option<usize>>>,
    ) -> FlagEvaluation<'s> {
        let flag = &self.flags[index];
        let (variation, reason) = self.decide(flag, context, now, memo);
        if let Some(m) = memo.as_mut().and_then(|m| m.get_mut(index)) {
            *m = Some(variation);
        }
        FlagEvaluation {
            key: &flag.key,
            value: flag.variations.get(variation).unwrap_or(&NULL),
            variation: Some(variation),
            reason,
        }
    }

    fn decide<'s: 'c, 'c>(
        &'s self,
        flag: &'s CFlag,
        context: &mut Memo<'c>,
        now: Timestamp,
        memo: &mut Option<Vec<Option<usize>>>,
    ) -> (usize, FlagReason<'s>) {
        if !flag.enabled {
            return (flag.off_variation, FlagReason::Disabled);
        }
        if !flag.window.contains(now) {
            return (flag.off_variation, FlagReason::OutsideWindow);
        }
        for pre in &flag.prerequisites {
            // Compilation rejects cycles, so this recursion ends.
            let satisfied = self
                .variation_of(pre.flag, context, now, memo)
                .and_then(|v| pre.satisfied_by.get(v).copied())
                .unwrap_or(false);
            if !satisfied {
                return (
                    flag.off_variation,
                    FlagReason::PrerequisiteFailed {
                        flag: &self.flags[pre.flag].key,
                    },
                );
            }
        }
        if let Some(h) = self.holding_out(&flag.holdouts, context) {
            return (
                flag.default_variation,
                FlagReason::InHoldout { holdout: &h.key },
            );
        }
        let attributes = context.attributes;
        for (rule_index, rule) in flag.rules.iter().enumerate() {
            if !rule.condition.matches(attributes, &self.id_lists)
                || self.missing_segment(&rule.segments, attributes).is_some()
            {
                continue;
            }
            match &rule.serve {
                CServe::Variation(v) => {
                    return (
                        *v,
                        FlagReason::RuleMatch {
                            rule_index,
                            rule_id: &rule.id,
                        },
                    );
                }
                CServe::Rollout(hashing) => {
                    // A unit without the attribute, or outside coverage, falls through.
                    let Some(id) = context.unit(&hashing.unit_attribute) else {
                        continue;
                    };
                    let bucket = hash::bucket(&hashing.salt, &id);
                    if let Some(v) = hashing.ranges.find(bucket) {
                        return (
                            v,
                            FlagReason::Rollout {
                                rule_index,
                                rule_id: &rule.id,
                                bucket,
                            },
                        );
                    }
                }
            }
        }
        (flag.default_variation, FlagReason::Default)
    }
}
