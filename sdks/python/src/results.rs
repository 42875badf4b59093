//! Result objects: thin views over the engine's own answers.
//!
//! A local evaluation keeps the engine's result (which borrows from the compiled snapshot)
//! together with an `Arc` of that snapshot in one [`Held`] cell, so nothing is copied or
//! converted until Python reads a field; `evaluate_all` over a thousand flags therefore builds
//! one Python object, and each flag's object only when asked for. A result that came over the
//! wire (the remote client) holds the edge's JSON, which has the same shape because the edge
//! serializes the same engine types. Both are read through one view, so the two cannot drift.

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::Value;
use vane_engine::eval::{AssignReason, EvalError, FlagReason};
use vane_engine::model::ExperimentStatus;
use vane_engine::{Assignment, CompiledSnapshot, Evaluation, FlagEvaluation};

use crate::convert::{self, to_py};

/// A compiled snapshot and the lookups the binding adds to it.
#[derive(Debug)]
pub struct Loaded {
    pub compiled: CompiledSnapshot,
    /// Flag key → position in snapshot order (and in `evaluate_all`'s list).
    pub flag_index: HashMap<String, usize>,
    /// Experiment key → position.
    pub experiment_index: HashMap<String, usize>,
}

/// What the engine answered.
#[derive(Debug)]
pub enum Answer<'s> {
    Flag(FlagEvaluation<'s>),
    Assignment(Assignment<'s>),
    All(Evaluation<'s>),
}

self_cell::self_cell!(
    /// An engine answer and the snapshot it borrows from.
    pub struct Held {
        owner: Arc<Loaded>,
        #[covariant]
        dependent: Answer,
    }
    impl {Debug}
);

impl Held {
    pub fn loaded(&self) -> &Loaded {
        self.borrow_owner()
    }
}

static NULL: Value = Value::Null;

// ---------------------------------------------------------------------------------------------
// Flags

#[derive(Debug)]
enum FlagSource {
    /// `Held` holds a `Flag` answer, or an `All` answer and this is flag `Some(i)` of it.
    Local(Arc<Held>, Option<usize>),
    /// No flag with this key in the snapshot.
    Missing(String),
    /// The edge's JSON for one flag.
    Wire(Value),
}

/// One flag's value and the reason for it.
#[pyclass(frozen, module = "vane._native", name = "FlagEvaluation")]
#[derive(Debug)]
pub struct PyFlagEvaluation {
    source: FlagSource,
    /// Returned as `value` when the flag could not be evaluated.
    default: Option<Py<PyAny>>,
}

/// Every field of a flag result, borrowed from whichever source holds it.
struct FlagView<'a> {
    key: &'a str,
    value: &'a Value,
    variation: Option<u64>,
    kind: &'a str,
    rule_index: Option<u64>,
    rule_id: Option<&'a str>,
    bucket: Option<u64>,
    holdout: Option<&'a str>,
    prerequisite: Option<&'a str>,
    error: Option<&'a str>,
}

fn eval_error(e: EvalError) -> &'static str {
    match e {
        EvalError::NotFound => "not_found",
        EvalError::InvalidContext => "invalid_context",
    }
}

fn status_name(s: ExperimentStatus) -> &'static str {
    match s {
        ExperimentStatus::Draft => "draft",
        ExperimentStatus::Scheduled => "scheduled",
        ExperimentStatus::Running => "running",
        ExperimentStatus::Stopped => "stopped",
        ExperimentStatus::Concluded => "concluded",
    }
}

fn flag_view<'a>(f: &'a FlagEvaluation<'a>) -> FlagView<'a> {
    let mut v = FlagView {
        key: f.key,
        value: f.value,
        variation: f.variation.map(|x| x as u64),
        kind: "",
        rule_index: None,
        rule_id: None,
        bucket: None,
        holdout: None,
        prerequisite: None,
        error: None,
    };
    v.kind = match &f.reason {
        FlagReason::Disabled => "disabled",
        FlagReason::OutsideWindow => "outside_window",
        FlagReason::PrerequisiteFailed { flag } => {
            v.prerequisite = Some(flag);
            "prerequisite_failed"
        }
        FlagReason::InHoldout { holdout } => {
            v.holdout = Some(holdout);
            "in_holdout"
        }
        FlagReason::RuleMatch {
            rule_index,
            rule_id,
        } => {
            v.rule_index = Some(*rule_index as u64);
            v.rule_id = Some(rule_id);
            "rule_match"
        }
        FlagReason::Rollout {
            rule_index,
            rule_id,
            bucket,
        } => {
            v.rule_index = Some(*rule_index as u64);
            v.rule_id = Some(rule_id);
            v.bucket = Some(u64::from(*bucket));
            "rollout"
        }
        FlagReason::Default => "default",
        FlagReason::Error { error } => {
            v.error = Some(eval_error(*error));
            "error"
        }
    };
    v
}

fn wire_flag_view(w: &Value) -> FlagView<'_> {
    let reason = &w["reason"];
    FlagView {
        key: w["key"].as_str().unwrap_or(""),
        value: w.get("value").unwrap_or(&NULL),
        variation: w["variation"].as_u64(),
        kind: reason["kind"].as_str().unwrap_or("error"),
        rule_index: reason["rule_index"].as_u64(),
        rule_id: reason["rule_id"].as_str(),
        bucket: reason["bucket"].as_u64(),
        holdout: reason["holdout"].as_str(),
        prerequisite: reason["flag"].as_str(),
        error: reason["error"].as_str(),
    }
}

impl PyFlagEvaluation {
    pub fn local(held: Arc<Held>, index: Option<usize>, default: Option<Py<PyAny>>) -> Self {
        Self {
            source: FlagSource::Local(held, index),
            default,
        }
    }

    pub fn missing(key: String, default: Option<Py<PyAny>>) -> Self {
        Self {
            source: FlagSource::Missing(key),
            default,
        }
    }

    fn with_view<R>(&self, f: impl FnOnce(&FlagView<'_>) -> R) -> R {
        match &self.source {
            FlagSource::Local(held, index) => match (held.borrow_dependent(), index) {
                (Answer::Flag(flag), None) => f(&flag_view(flag)),
                (Answer::All(all), Some(i)) => f(&flag_view(&all.flags[*i])),
                // Never built otherwise; answer as "not found" rather than panic.
                _ => f(&missing_view("")),
            },
            FlagSource::Missing(key) => f(&missing_view(key)),
            FlagSource::Wire(w) => f(&wire_flag_view(w)),
        }
    }

    fn json(&self) -> Value {
        match &self.source {
            FlagSource::Local(held, index) => match (held.borrow_dependent(), index) {
                (Answer::Flag(flag), None) => serde_json::to_value(flag).unwrap_or(Value::Null),
                (Answer::All(all), Some(i)) => {
                    serde_json::to_value(&all.flags[*i]).unwrap_or(Value::Null)
                }
                _ => Value::Null,
            },
            FlagSource::Missing(key) => serde_json::json!({
                "key": key, "value": null, "variation": null,
                "reason": {"kind": "error", "error": "not_found"}
            }),
            FlagSource::Wire(w) => w.clone(),
        }
    }
}

fn missing_view(key: &str) -> FlagView<'_> {
    FlagView {
        key,
        value: &NULL,
        variation: None,
        kind: "error",
        rule_index: None,
        rule_id: None,
        bucket: None,
        holdout: None,
        prerequisite: None,
        error: Some("not_found"),
    }
}

#[pymethods]
impl PyFlagEvaluation {
    /// Builds a result from the JSON an edge answered for one flag (`/v1/evaluate`).
    #[staticmethod]
    #[pyo3(signature = (data, default=None))]
    fn from_wire(data: &Bound<'_, PyAny>, default: Option<Py<PyAny>>) -> PyResult<Self> {
        let value = convert::value(data, "flag")?;
        Ok(Self {
            source: FlagSource::Wire(value),
            default,
        })
    }

    #[getter]
    fn key(&self) -> String {
        self.with_view(|v| v.key.to_owned())
    }

    /// The served value; the caller's default when the flag could not be evaluated.
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if let Some(default) = &self.default
            && self.with_view(|v| v.kind == "error")
        {
            return Ok(default.bind(py).clone());
        }
        self.with_view(|v| to_py(py, v.value))
    }

    #[getter]
    fn variation(&self) -> Option<u64> {
        self.with_view(|v| v.variation)
    }

    /// `disabled`, `outside_window`, `prerequisite_failed`, `in_holdout`, `rule_match`,
    /// `rollout`, `default` or `error`.
    #[getter]
    fn reason(&self) -> String {
        self.with_view(|v| v.kind.to_owned())
    }

    #[getter]
    fn rule_index(&self) -> Option<u64> {
        self.with_view(|v| v.rule_index)
    }

    #[getter]
    fn rule_id(&self) -> Option<String> {
        self.with_view(|v| v.rule_id.map(str::to_owned))
    }

    #[getter]
    fn bucket(&self) -> Option<u64> {
        self.with_view(|v| v.bucket)
    }

    #[getter]
    fn holdout(&self) -> Option<String> {
        self.with_view(|v| v.holdout.map(str::to_owned))
    }

    /// The prerequisite flag that failed (reason `prerequisite_failed`).
    #[getter]
    fn prerequisite(&self) -> Option<String> {
        self.with_view(|v| v.prerequisite.map(str::to_owned))
    }

    /// `not_found` or `invalid_context` when the reason is `error`.
    #[getter]
    fn error(&self) -> Option<String> {
        self.with_view(|v| v.error.map(str::to_owned))
    }

    /// The result as the engine serializes it (the same JSON as `vane eval` and the edge).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json())
    }

    fn __repr__(&self) -> String {
        self.with_view(|v| {
            format!(
                "FlagEvaluation(key={:?}, value={}, variation={}, reason={:?})",
                v.key,
                v.value,
                v.variation.map_or("None".to_owned(), |x| x.to_string()),
                v.kind
            )
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Experiments

#[derive(Debug)]
enum AssignSource {
    /// `Held` holds an `Assignment` answer (experiment index in the snapshot given), or an
    /// `All` answer and this is experiment `i` of it.
    Local(Arc<Held>, Option<usize>, usize),
    Missing(String),
    Wire(Value),
}

/// One experiment's assignment and the reason for it.
#[pyclass(frozen, module = "vane._native", name = "Assignment")]
#[derive(Debug)]
pub struct PyAssignment {
    source: AssignSource,
}

struct AssignView<'a> {
    experiment: &'a str,
    in_experiment: bool,
    variant: Option<&'a str>,
    variation: Option<u64>,
    payload: Option<&'a Value>,
    kind: &'a str,
    bucket: Option<u64>,
    status: Option<&'a str>,
    attribute: Option<&'a str>,
    segment: Option<&'a str>,
    holdout: Option<&'a str>,
    layer: Option<&'a str>,
    error: Option<&'a str>,
}

fn assign_view<'a>(a: &'a Assignment<'a>) -> AssignView<'a> {
    let mut v = AssignView {
        experiment: a.experiment,
        in_experiment: a.in_experiment,
        variant: a.variant,
        variation: a.variation.map(|x| x as u64),
        payload: a.payload,
        kind: "",
        bucket: None,
        status: None,
        attribute: None,
        segment: None,
        holdout: None,
        layer: None,
        error: None,
    };
    v.kind = match &a.reason {
        AssignReason::Assigned { bucket } => {
            v.bucket = Some(u64::from(*bucket));
            "assigned"
        }
        AssignReason::Override => "override",
        AssignReason::NotRunning { status } => {
            v.status = Some(status_name(*status));
            "not_running"
        }
        AssignReason::OutsideWindow => "outside_window",
        AssignReason::MissingUnit { attribute } => {
            v.attribute = Some(attribute);
            "missing_unit"
        }
        AssignReason::ConditionNotMet => "condition_not_met",
        AssignReason::NotInSegment { segment } => {
            v.segment = Some(segment);
            "not_in_segment"
        }
        AssignReason::InHoldout { holdout } => {
            v.holdout = Some(holdout);
            "in_holdout"
        }
        AssignReason::NotInLayerRange { layer, bucket } => {
            v.layer = Some(layer);
            v.bucket = Some(u64::from(*bucket));
            "not_in_layer_range"
        }
        AssignReason::NotInCoverage { bucket } => {
            v.bucket = Some(u64::from(*bucket));
            "not_in_coverage"
        }
        AssignReason::Error { error } => {
            v.error = Some(eval_error(*error));
            "error"
        }
    };
    v
}

fn wire_assign_view(w: &Value) -> AssignView<'_> {
    let reason = &w["reason"];
    AssignView {
        experiment: w["experiment"].as_str().unwrap_or(""),
        in_experiment: w["in_experiment"].as_bool().unwrap_or(false),
        variant: w["variant"].as_str(),
        variation: w["variation"].as_u64(),
        payload: w.get("payload"),
        kind: reason["kind"].as_str().unwrap_or("error"),
        bucket: reason["bucket"].as_u64(),
        status: reason["status"].as_str(),
        attribute: reason["attribute"].as_str(),
        segment: reason["segment"].as_str(),
        holdout: reason["holdout"].as_str(),
        layer: reason["layer"].as_str(),
        error: reason["error"].as_str(),
    }
}

fn missing_assign_view(key: &str) -> AssignView<'_> {
    AssignView {
        experiment: key,
        in_experiment: false,
        variant: None,
        variation: None,
        payload: None,
        kind: "error",
        bucket: None,
        status: None,
        attribute: None,
        segment: None,
        holdout: None,
        layer: None,
        error: Some("not_found"),
    }
}

impl PyAssignment {
    pub fn local(held: Arc<Held>, index: Option<usize>, experiment: usize) -> Self {
        Self {
            source: AssignSource::Local(held, index, experiment),
        }
    }

    pub fn missing(key: String) -> Self {
        Self {
            source: AssignSource::Missing(key),
        }
    }

    fn with_view<R>(&self, f: impl FnOnce(&AssignView<'_>) -> R) -> R {
        match &self.source {
            AssignSource::Local(held, index, _) => match (held.borrow_dependent(), index) {
                (Answer::Assignment(a), None) => f(&assign_view(a)),
                (Answer::All(all), Some(i)) => f(&assign_view(&all.experiments[*i])),
                _ => f(&missing_assign_view("")),
            },
            AssignSource::Missing(key) => f(&missing_assign_view(key)),
            AssignSource::Wire(w) => f(&wire_assign_view(w)),
        }
    }

    fn json(&self) -> Value {
        match &self.source {
            AssignSource::Local(held, index, _) => match (held.borrow_dependent(), index) {
                (Answer::Assignment(a), None) => serde_json::to_value(a).unwrap_or(Value::Null),
                (Answer::All(all), Some(i)) => {
                    serde_json::to_value(&all.experiments[*i]).unwrap_or(Value::Null)
                }
                _ => Value::Null,
            },
            AssignSource::Missing(key) => serde_json::json!({
                "experiment": key, "in_experiment": false, "variant": null, "variation": null,
                "reason": {"kind": "error", "error": "not_found"}
            }),
            AssignSource::Wire(w) => w.clone(),
        }
    }
}

#[pymethods]
impl PyAssignment {
    /// Builds a result from the JSON an edge answered for one experiment (`/v1/assign`).
    #[staticmethod]
    fn from_wire(data: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            source: AssignSource::Wire(convert::value(data, "assignment")?),
        })
    }

    #[getter]
    fn experiment(&self) -> String {
        self.with_view(|v| v.experiment.to_owned())
    }

    /// Whether the unit is in the experiment (and sees `variant`).
    #[getter]
    fn in_experiment(&self) -> bool {
        self.with_view(|v| v.in_experiment)
    }

    #[getter]
    fn variant(&self) -> Option<String> {
        self.with_view(|v| v.variant.map(str::to_owned))
    }

    #[getter]
    fn variation(&self) -> Option<u64> {
        self.with_view(|v| v.variation)
    }

    /// The variant's payload, if it has one (a fresh copy on every read).
    #[getter]
    fn payload<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.with_view(|v| v.payload.map(|p| to_py(py, p)).transpose())
    }

    /// `assigned`, `override`, `not_running`, `outside_window`, `missing_unit`,
    /// `condition_not_met`, `not_in_segment`, `in_holdout`, `not_in_layer_range`,
    /// `not_in_coverage` or `error`.
    #[getter]
    fn reason(&self) -> String {
        self.with_view(|v| v.kind.to_owned())
    }

    #[getter]
    fn bucket(&self) -> Option<u64> {
        self.with_view(|v| v.bucket)
    }

    /// The experiment's status when the reason is `not_running`.
    #[getter]
    fn status(&self) -> Option<String> {
        self.with_view(|v| v.status.map(str::to_owned))
    }

    /// The unit attribute the context lacked (reason `missing_unit`).
    #[getter]
    fn missing_attribute(&self) -> Option<String> {
        self.with_view(|v| v.attribute.map(str::to_owned))
    }

    #[getter]
    fn segment(&self) -> Option<String> {
        self.with_view(|v| v.segment.map(str::to_owned))
    }

    #[getter]
    fn holdout(&self) -> Option<String> {
        self.with_view(|v| v.holdout.map(str::to_owned))
    }

    #[getter]
    fn layer(&self) -> Option<String> {
        self.with_view(|v| v.layer.map(str::to_owned))
    }

    #[getter]
    fn error(&self) -> Option<String> {
        self.with_view(|v| v.error.map(str::to_owned))
    }

    /// The context attribute this experiment hashes on (`None` when unknown: a missing
    /// experiment, or an answer from an edge).
    #[getter]
    fn unit_attribute(&self) -> Option<String> {
        match &self.source {
            AssignSource::Local(held, _, e) => held
                .loaded()
                .compiled
                .source()
                .experiments
                .get(*e)
                .map(|x| x.unit_attribute.clone()),
            _ => None,
        }
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.json())
    }

    fn __repr__(&self) -> String {
        self.with_view(|v| {
            format!(
                "Assignment(experiment={:?}, in_experiment={}, variant={:?}, reason={:?})",
                v.experiment,
                if v.in_experiment { "True" } else { "False" },
                v.variant,
                v.kind
            )
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Everything for one context

#[derive(Debug)]
enum AllSource {
    Local(Arc<Held>),
    Wire {
        environment: String,
        snapshot_version: u64,
        flags: Vec<Value>,
        experiments: Vec<Value>,
        flag_index: HashMap<String, usize>,
        experiment_index: HashMap<String, usize>,
    },
}

/// Every flag and every experiment for one context. Results are built when read.
#[pyclass(frozen, module = "vane._native", name = "Evaluation")]
#[derive(Debug)]
pub struct PyEvaluation {
    source: AllSource,
}

impl PyEvaluation {
    pub fn local(held: Arc<Held>) -> Self {
        Self {
            source: AllSource::Local(held),
        }
    }

    fn all(&self) -> Option<(&Arc<Held>, &Evaluation<'_>)> {
        match &self.source {
            AllSource::Local(held) => match held.borrow_dependent() {
                Answer::All(all) => Some((held, all)),
                _ => None,
            },
            AllSource::Wire { .. } => None,
        }
    }

    fn flag_at(&self, i: usize, default: Option<Py<PyAny>>) -> PyFlagEvaluation {
        match &self.source {
            AllSource::Local(held) => PyFlagEvaluation::local(held.clone(), Some(i), default),
            AllSource::Wire { flags, .. } => PyFlagEvaluation {
                source: FlagSource::Wire(flags[i].clone()),
                default,
            },
        }
    }

    fn assignment_at(&self, i: usize) -> PyAssignment {
        match &self.source {
            AllSource::Local(held) => PyAssignment::local(held.clone(), Some(i), i),
            AllSource::Wire { experiments, .. } => PyAssignment {
                source: AssignSource::Wire(experiments[i].clone()),
            },
        }
    }

    fn flag_position(&self, key: &str) -> Option<usize> {
        match &self.source {
            AllSource::Local(held) => held.loaded().flag_index.get(key).copied(),
            AllSource::Wire { flag_index, .. } => flag_index.get(key).copied(),
        }
    }

    fn experiment_position(&self, key: &str) -> Option<usize> {
        match &self.source {
            AllSource::Local(held) => held.loaded().experiment_index.get(key).copied(),
            AllSource::Wire {
                experiment_index, ..
            } => experiment_index.get(key).copied(),
        }
    }

    fn counts(&self) -> (usize, usize) {
        match &self.source {
            AllSource::Local(_) => self
                .all()
                .map_or((0, 0), |(_, a)| (a.flags.len(), a.experiments.len())),
            AllSource::Wire {
                flags, experiments, ..
            } => (flags.len(), experiments.len()),
        }
    }
}

fn index_by(items: &[Value], field: &str) -> HashMap<String, usize> {
    items
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v[field].as_str().map(|k| (k.to_owned(), i)))
        .collect()
}

#[pymethods]
impl PyEvaluation {
    /// Builds a result from an edge's `/v1/evaluate` answer and `/v1/assign` answer.
    #[staticmethod]
    fn from_wire(evaluate: &Bound<'_, PyAny>, assign: &Bound<'_, PyAny>) -> PyResult<Self> {
        let evaluate = convert::value(evaluate, "evaluate")?;
        let assign = convert::value(assign, "assign")?;
        let list = |v: &Value, field: &str| v[field].as_array().cloned().unwrap_or_default();
        let flags = list(&evaluate, "flags");
        let experiments = list(&assign, "assignments");
        Ok(Self {
            source: AllSource::Wire {
                environment: evaluate["environment"].as_str().unwrap_or("").to_owned(),
                snapshot_version: evaluate["snapshot_version"].as_u64().unwrap_or(0),
                flag_index: index_by(&flags, "key"),
                experiment_index: index_by(&experiments, "experiment"),
                flags,
                experiments,
            },
        })
    }

    #[getter]
    fn environment(&self) -> String {
        match &self.source {
            AllSource::Local(_) => self
                .all()
                .map(|(_, a)| a.environment.to_owned())
                .unwrap_or_default(),
            AllSource::Wire { environment, .. } => environment.clone(),
        }
    }

    #[getter]
    fn snapshot_version(&self) -> u64 {
        match &self.source {
            AllSource::Local(_) => self.all().map_or(0, |(_, a)| a.snapshot_version),
            AllSource::Wire {
                snapshot_version, ..
            } => *snapshot_version,
        }
    }

    /// Every flag's result, in snapshot order.
    #[getter]
    fn flags(&self) -> Vec<PyFlagEvaluation> {
        (0..self.counts().0)
            .map(|i| self.flag_at(i, None))
            .collect()
    }

    /// Every experiment's assignment, in snapshot order (from an edge: only those the unit is
    /// in).
    #[getter]
    fn experiments(&self) -> Vec<PyAssignment> {
        (0..self.counts().1)
            .map(|i| self.assignment_at(i))
            .collect()
    }

    /// One flag's result (`error`/`not_found` for an unknown key).
    #[pyo3(signature = (key, default=None))]
    fn flag(&self, key: &str, default: Option<Py<PyAny>>) -> PyFlagEvaluation {
        match self.flag_position(key) {
            Some(i) => self.flag_at(i, default),
            None => PyFlagEvaluation::missing(key.to_owned(), default),
        }
    }

    /// One flag's value, or `default` when it is unknown or could not be evaluated.
    #[pyo3(signature = (key, default=None))]
    fn value<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let fallback = || default.clone().unwrap_or_else(|| py.None().into_bound(py));
        let Some(i) = self.flag_position(key) else {
            return Ok(fallback());
        };
        let value = match &self.source {
            AllSource::Local(_) => match self.all() {
                Some((_, all)) => {
                    let f = &all.flags[i];
                    if matches!(f.reason, FlagReason::Error { .. }) {
                        return Ok(fallback());
                    }
                    to_py(py, f.value)?
                }
                None => fallback(),
            },
            AllSource::Wire { flags, .. } => {
                if flags[i]["reason"]["kind"] == "error" {
                    return Ok(fallback());
                }
                to_py(py, flags[i].get("value").unwrap_or(&NULL))?
            }
        };
        Ok(value)
    }

    /// One experiment's assignment (`error`/`not_found` for an unknown key).
    fn assignment(&self, key: &str) -> PyAssignment {
        match self.experiment_position(key) {
            Some(i) => self.assignment_at(i),
            None => PyAssignment::missing(key.to_owned()),
        }
    }

    /// The experiments the unit is in.
    fn assigned(&self) -> Vec<PyAssignment> {
        match &self.source {
            AllSource::Local(_) => match self.all() {
                Some((_, all)) => all
                    .experiments
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| a.in_experiment)
                    .map(|(i, _)| self.assignment_at(i))
                    .collect(),
                None => Vec::new(),
            },
            AllSource::Wire { experiments, .. } => (0..experiments.len())
                .filter(|&i| experiments[i]["in_experiment"] == true)
                .map(|i| self.assignment_at(i))
                .collect(),
        }
    }

    /// `{flag key: value}` for every flag that evaluated (errors left out).
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        match &self.source {
            AllSource::Local(_) => {
                if let Some((_, all)) = self.all() {
                    for f in &all.flags {
                        if !matches!(f.reason, FlagReason::Error { .. }) {
                            out.set_item(f.key, to_py(py, f.value)?)?;
                        }
                    }
                }
            }
            AllSource::Wire { flags, .. } => {
                for f in flags {
                    if f["reason"]["kind"] != "error"
                        && let Some(k) = f["key"].as_str()
                    {
                        out.set_item(k, to_py(py, f.get("value").unwrap_or(&NULL))?)?;
                    }
                }
            }
        }
        Ok(out)
    }

    /// The whole answer as the engine serializes it (the same JSON as `vane eval`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.source {
            AllSource::Local(_) => {
                let json = self
                    .all()
                    .and_then(|(_, a)| serde_json::to_value(a).ok())
                    .unwrap_or(Value::Null);
                to_py(py, &json)
            }
            AllSource::Wire {
                environment,
                snapshot_version,
                flags,
                experiments,
                ..
            } => {
                let dict = PyDict::new(py);
                dict.set_item("environment", environment)?;
                dict.set_item("snapshot_version", snapshot_version)?;
                let f = PyList::empty(py);
                for x in flags {
                    f.append(to_py(py, x)?)?;
                }
                let e = PyList::empty(py);
                for x in experiments {
                    e.append(to_py(py, x)?)?;
                }
                dict.set_item("flags", f)?;
                dict.set_item("experiments", e)?;
                Ok(dict.into_any())
            }
        }
    }

    fn __len__(&self) -> usize {
        let (f, e) = self.counts();
        f + e
    }

    fn __repr__(&self) -> String {
        let (f, e) = self.counts();
        format!(
            "Evaluation(environment={:?}, snapshot_version={}, flags={f}, experiments={e})",
            self.environment(),
            self.snapshot_version()
        )
    }
}
