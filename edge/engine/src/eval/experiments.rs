//! Experiment assignment.

use serde::Serialize;
use serde_json::Value;

use super::{EvalError, Memo};
use crate::compile::{CExperiment, CompiledSnapshot};
use crate::hash::{self, Bucket};
use crate::model::ExperimentStatus;
use crate::time::Timestamp;

/// An experiment's assignment for one context, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment<'s> {
    pub experiment: &'s str,
    /// Whether the unit is in the experiment (and should log an exposure when it sees it).
    pub in_experiment: bool,
    /// The assigned variant's key, when in the experiment.
    pub variant: Option<&'s str>,
    /// The assigned variant's index, when in the experiment.
    pub variation: Option<usize>,
    /// The assigned variant's payload, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<&'s Value>,
    pub reason: AssignReason<'s>,
}

/// Why a unit is, or is not, in an experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AssignReason<'s> {
    /// Placed by its bucket.
    Assigned { bucket: Bucket },
    /// Forced by the experiment's overrides.
    Override,
    /// Draft, stopped or concluded experiments assign nobody.
    NotRunning { status: ExperimentStatus },
    /// `now` is outside the experiment's schedule.
    OutsideWindow,
    /// The context lacks the attribute the experiment hashes on.
    MissingUnit { attribute: &'s str },
    /// The targeting condition did not match.
    ConditionNotMet,
    /// The unit is not in a required segment.
    NotInSegment { segment: &'s str },
    /// The unit is in a holdout of this experiment.
    InHoldout { holdout: &'s str },
    /// The unit's layer bucket is outside the experiment's share of its layer.
    NotInLayerRange { layer: &'s str, bucket: Bucket },
    /// The unit's bucket is outside the experiment's traffic coverage.
    NotInCoverage { bucket: Bucket },
    /// The experiment could not be evaluated.
    Error { error: EvalError },
}

impl CompiledSnapshot {
    /// The assignment for experiment `key`.
    pub fn assign<'s>(
        &'s self,
        key: &'s str,
        attributes: &Value,
        now: Timestamp,
    ) -> Assignment<'s> {
        match self.experiment_index.get(key) {
            Some(&index) => {
                let mut memo = Memo::new(attributes);
                self.assign_experiment(&self.experiments[index], &mut memo, now)
            }
            None => not_assigned(
                key,
                AssignReason::Error {
                    error: EvalError::NotFound,
                },
            ),
        }
    }

    /// Assignments for every experiment, in snapshot order, including the reasons of those the
    /// unit is not in.
    pub fn assign_all<'s>(&'s self, attributes: &Value, now: Timestamp) -> Vec<Assignment<'s>> {
        self.assign_all_with(&mut Memo::new(attributes), now)
    }

    pub(crate) fn assign_all_with<'s: 'c, 'c>(
        &'s self,
        memo: &mut Memo<'c>,
        now: Timestamp,
    ) -> Vec<Assignment<'s>> {
        self.experiments
            .iter()
            .map(|e| self.assign_experiment(e, memo, now))
            .collect()
    }

    fn assign_experiment<'s: 'c, 'c>(
        &'s self,
        e: &'s CExperiment,
        memo: &mut Memo<'c>,
        now: Timestamp,
    ) -> Assignment<'s> {
        match self.place(e, memo, now) {
            Ok((variation, reason)) => {
                let variant = &e.variants[variation];
                Assignment {
                    experiment: &e.key,
                    in_experiment: true,
                    variant: Some(&variant.key),
                    variation: Some(variation),
                    payload: variant.payload.as_ref(),
                    reason,
                }
            }
            Err(reason) => not_assigned(&e.key, reason),
        }
    }

    /// The checks, in order: status and window, unit id, overrides, targeting, holdouts,
    /// layer range, coverage and variant.
    fn place<'s: 'c, 'c>(
        &'s self,
        e: &'s CExperiment,
        memo: &mut Memo<'c>,
        now: Timestamp,
    ) -> Result<(usize, AssignReason<'s>), AssignReason<'s>> {
        if !e.status.may_assign() {
            return Err(AssignReason::NotRunning { status: e.status });
        }
        if !e.window.contains(now) {
            return Err(AssignReason::OutsideWindow);
        }
        let attribute = e.hashing.unit_attribute.as_str();
        let id = memo
            .unit(attribute)
            .ok_or(AssignReason::MissingUnit { attribute })?;
        if let Some(&forced) = e.overrides.get(id.as_ref()) {
            return Ok((forced, AssignReason::Override));
        }
        let attributes = memo.attributes;
        if !e.condition.matches(attributes, &self.id_lists) {
            return Err(AssignReason::ConditionNotMet);
        }
        if let Some(segment) = self.missing_segment(&e.segments, attributes) {
            return Err(AssignReason::NotInSegment { segment });
        }
        if let Some(h) = self.holding_out(&e.holdouts, memo) {
            return Err(AssignReason::InHoldout { holdout: &h.key });
        }
        if let Some(slot) = e.layer {
            let layer = &self.layers[slot.layer];
            // The layer hashes on the experiment's own unit attribute (checked at compile).
            let bucket = memo.layer_bucket(slot.layer, &layer.salt, &id);
            if bucket < slot.start || bucket >= slot.end {
                return Err(AssignReason::NotInLayerRange {
                    layer: &layer.key,
                    bucket,
                });
            }
        }
        let bucket = hash::bucket(&e.hashing.salt, &id);
        match e.hashing.ranges.find(bucket) {
            Some(variation) => Ok((variation, AssignReason::Assigned { bucket })),
            None => Err(AssignReason::NotInCoverage { bucket }),
        }
    }
}

fn not_assigned<'s>(experiment: &'s str, reason: AssignReason<'s>) -> Assignment<'s> {
    Assignment {
        experiment,
        in_experiment: false,
        variant: None,
        variation: None,
        payload: None,
        reason,
    }
}
