//! Experiment types: what clients send ([`ExperimentSpec`]), what is stored
//! ([`StoredExperiment`]), what they read ([`Experiment`]), and the snapshot form.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use vane_engine::Timestamp;
use vane_engine::model::{
    Experiment as EngineExperiment, ExperimentStatus, LayerSlot, Variant as EngineVariant, Window,
};

use crate::resources::Meta;
use crate::store::docs::Doc;

fn one() -> f64 {
    1.0
}

fn user_id() -> String {
    "user_id".to_owned()
}

/// One variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    pub key: String,
    #[serde(default)]
    pub name: String,
    /// Share of covered units, in [0, 1]; the weights sum to 1.
    pub weight: f64,
    /// Optional JSON the client receives with the assignment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
}

/// Metric keys an experiment is judged by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentMetrics {
    #[serde(default)]
    pub primary: Vec<String>,
    #[serde(default)]
    pub secondary: Vec<String>,
    /// Metrics that must not get worse.
    #[serde(default)]
    pub guardrail: Vec<String>,
}

impl ExperimentMetrics {
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.primary
            .iter()
            .chain(&self.secondary)
            .chain(&self.guardrail)
    }
}

/// An experiment's definition, as clients send it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Required on create; immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The environment it runs in. Required on create; immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub hypothesis: String,
    #[serde(default)]
    pub owner: String,
    /// Free labels for finding experiments (the admin UI filters by them).
    #[serde(default)]
    pub tags: Vec<String>,
    pub variants: Vec<VariantSpec>,
    /// Share of eligible units that enter, in [0, 1]. Raising it never moves assigned units.
    #[serde(default = "one")]
    pub coverage: f64,
    /// GrowthBook-style targeting condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub condition: Option<Value>,
    #[serde(default)]
    pub segments: Vec<String>,
    /// The context attribute hashed for assignment.
    #[serde(default = "user_id")]
    pub unit_attribute: String,
    /// `{key, start, end}`: the experiment's share of a layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub layer: Option<LayerSlot>,
    #[serde(default)]
    pub holdouts: Vec<String>,
    /// Forced variants: unit id → variant key.
    #[serde(default)]
    pub overrides: BTreeMap<String, String>,
    #[serde(default)]
    pub metrics: ExperimentMetrics,
    /// `{start, end}` (RFC 3339); set by `schedule`, `start` and `stop` as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub schedule: Option<Window>,
    /// Hash salt: may be given on create (default: generated); afterwards only `restart`
    /// changes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
}

/// The decision that concludes an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Ship the winning variant (`winner` required).
    Ship,
    /// Keep or return to the control experience.
    Rollback,
    /// No conclusive result.
    Inconclusive,
}

/// Lifecycle state, changed only by lifecycle actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentState {
    pub status: ExperimentStatus,
    pub salt: String,
    #[serde(default)]
    pub decision: Option<Decision>,
    #[serde(default)]
    pub winner: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    /// How many times `restart` re-randomized it.
    #[serde(default)]
    pub restarts: u32,
    /// When it last started running (RFC 3339): set by `start` and `restart`, and for a
    /// scheduled start by the scheduler (the scheduled start time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
}

/// What is stored per experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredExperiment {
    pub spec: ExperimentSpec,
    pub state: ExperimentState,
}

impl StoredExperiment {
    /// The experiment as its environment's snapshot carries it.
    pub fn to_engine(&self, key: &str) -> EngineExperiment {
        let spec = &self.spec;
        EngineExperiment {
            key: key.to_owned(),
            status: self.state.status,
            variants: spec
                .variants
                .iter()
                .map(|v| EngineVariant {
                    key: v.key.clone(),
                    weight: v.weight,
                    payload: v.payload.clone(),
                })
                .collect(),
            coverage: spec.coverage,
            condition: spec.condition.clone(),
            segments: spec.segments.clone(),
            unit_attribute: spec.unit_attribute.clone(),
            salt: self.state.salt.clone(),
            layer: spec.layer.clone(),
            holdouts: spec.holdouts.clone(),
            overrides: spec.overrides.clone(),
            schedule: spec.schedule.clone(),
        }
    }

    /// The status at `now`: a scheduled experiment whose start has passed is running, and a
    /// scheduled or running one whose end has passed is stopped, whether or not the scheduler
    /// has recorded it yet (edges flip on time from the snapshot's window).
    pub fn status_at(&self, now: i64) -> ExperimentStatus {
        let (start, end) = window_millis(self.spec.schedule.as_ref());
        match self.state.status {
            ExperimentStatus::Scheduled | ExperimentStatus::Running
                if end.is_some_and(|e| now >= e) =>
            {
                ExperimentStatus::Stopped
            }
            ExperimentStatus::Scheduled if start.is_none_or(|s| now >= s) => {
                ExperimentStatus::Running
            }
            status => status,
        }
    }

    /// When it started running, given its status as of now: the recorded start, or for an
    /// experiment the clock started (a scheduled start the scheduler has not recorded yet, or
    /// one stored before starts were recorded) its schedule's start.
    pub fn started_at(&self, status: ExperimentStatus) -> Option<String> {
        match status {
            ExperimentStatus::Draft | ExperimentStatus::Scheduled => None,
            _ => self
                .state
                .started_at
                .clone()
                .or_else(|| self.spec.schedule.as_ref().and_then(|w| w.start.clone())),
        }
    }
}

/// The start and end of a window in Unix milliseconds (unparsable ends count as absent; the
/// engine rejects them on every write).
pub fn window_millis(window: Option<&Window>) -> (Option<i64>, Option<i64>) {
    let parse = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| Timestamp::parse_rfc3339(t).ok())
            .map(Timestamp::unix_millis)
    };
    match window {
        Some(w) => (parse(&w.start), parse(&w.end)),
        None => (None, None),
    }
}

/// An experiment as clients read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Experiment {
    pub key: String,
    pub environment: String,
    #[serde(flatten)]
    pub spec: ExperimentSpec,
    /// `draft`, `scheduled`, `running`, `stopped` or `concluded`, as of now.
    #[schema(value_type = String)]
    pub status: ExperimentStatus,
    pub salt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub winner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
    pub restarts: u32,
    /// When it started running (RFC 3339): set by `start` and `restart` (and by a scheduled
    /// start); absent while it has not started. Read-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(flatten)]
    pub meta: Meta,
}

impl Experiment {
    pub fn from_doc(doc: Doc<StoredExperiment>, now: i64) -> Self {
        let meta = Meta::of(&doc);
        let status = doc.body.status_at(now);
        let started_at = doc.body.started_at(status);
        let StoredExperiment { mut spec, state } = doc.body;
        let environment = spec.environment.take().unwrap_or_default();
        spec.salt = None;
        Self {
            key: doc.key,
            environment,
            spec,
            status,
            salt: state.salt,
            decision: state.decision,
            winner: state.winner,
            conclusion: state.conclusion,
            restarts: state.restarts,
            started_at,
            meta,
        }
    }
}

pub fn status_str(status: ExperimentStatus) -> &'static str {
    match status {
        ExperimentStatus::Draft => "draft",
        ExperimentStatus::Scheduled => "scheduled",
        ExperimentStatus::Running => "running",
        ExperimentStatus::Stopped => "stopped",
        ExperimentStatus::Concluded => "concluded",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiment(
        status: ExperimentStatus,
        start: Option<&str>,
        end: Option<&str>,
    ) -> StoredExperiment {
        StoredExperiment {
            spec: serde_json::from_value(serde_json::json!({
                "name": "x", "variants": [],
                "schedule": {"start": start, "end": end}
            }))
            .unwrap(),
            state: ExperimentState {
                status,
                salt: "s".into(),
                decision: None,
                winner: None,
                conclusion: None,
                restarts: 0,
                started_at: None,
            },
        }
    }

    #[test]
    fn a_scheduled_experiment_runs_from_its_start_and_stops_at_its_end() {
        let e = experiment(
            ExperimentStatus::Scheduled,
            Some("2026-01-01T00:00:00Z"),
            Some("2026-01-02T00:00:00Z"),
        );
        let start = Timestamp::parse_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .unix_millis();
        assert_eq!(e.status_at(start - 1), ExperimentStatus::Scheduled);
        assert_eq!(e.status_at(start), ExperimentStatus::Running);
        assert_eq!(e.status_at(start + 86_400_000), ExperimentStatus::Stopped);
    }

    #[test]
    fn a_draft_stays_a_draft_whatever_its_window() {
        let e = experiment(ExperimentStatus::Draft, Some("2020-01-01T00:00:00Z"), None);
        assert_eq!(e.status_at(i64::MAX), ExperimentStatus::Draft);
    }
}
