//! Experiments and metric definitions, read from a JSON file or converted from core-api's
//! resources ([`crate::core_config`]).
//!
//! The file is parsed into [`RawConfig`] (the serde model, unknown fields rejected) and then into
//! [`Config`] (validated, with indexes the pipeline uses on every event). Every error names the
//! offending field, e.g. `metrics[2].window_hours`. The format is documented in
//! `docs/analytics.md`.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use vane_engine::time::Timestamp;

use crate::error::AnalyticsError;
use crate::stats::experiment::{AnalysisSettings, Method};
use crate::stats::{Alpha, Correction, TuningParameter};

const HOUR_MS: f64 = 3_600_000.0;
/// Fixed-point scale of metric values: one value unit is `SCALE` micro-units.
pub const SCALE: f64 = 1_000_000.0;

/// The file as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub experiments: Vec<RawExperiment>,
    #[serde(default)]
    pub metrics: Vec<RawMetric>,
    #[serde(default)]
    pub dedup: RawDedup,
}

/// One experiment as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExperiment {
    pub key: String,
    /// Variant keys, the control first.
    pub variants: Vec<String>,
    /// The unit attribute the experiment randomizes on (a key of the events' `units`).
    #[serde(default = "default_unit")]
    pub unit: String,
    /// Exposures before this instant (RFC 3339) are ignored.
    pub start: String,
    /// Exposures at or after this instant are ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Keys of the metrics to analyse, in display order.
    pub metrics: Vec<String>,
    /// Configured traffic share per variant, for the sample-ratio-mismatch check (equal split
    /// when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_weights: Option<Vec<f64>>,
    #[serde(default)]
    pub analysis: RawAnalysis,
}

fn default_unit() -> String {
    "user_id".to_owned()
}

/// How an experiment's results are computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnalysis {
    #[serde(default)]
    pub method: Method,
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    #[serde(default)]
    pub correction: Correction,
    #[serde(default = "default_tuning")]
    pub sequential_tuning_parameter: f64,
}

impl Default for RawAnalysis {
    fn default() -> Self {
        Self {
            method: Method::default(),
            alpha: default_alpha(),
            correction: Correction::None,
            sequential_tuning_parameter: default_tuning(),
        }
    }
}

fn default_alpha() -> f64 {
    Alpha::DEFAULT.get()
}

fn default_tuning() -> f64 {
    TuningParameter::DEFAULT.get()
}

/// A metric as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetric {
    pub key: String,
    #[serde(rename = "type")]
    pub metric_type: MetricType,
    /// The tracked event (all types but `ratio`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Ratio metrics: the numerator's and the denominator's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denominator: Option<String>,
    /// Conversions count only this many hours after the unit's first exposure (unbounded when
    /// absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_hours: Option<f64>,
    /// Per-unit values above the cap count as the cap (winsorization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<f64>,
    /// CUPED: the same metric measured over this many hours before the first exposure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuped: Option<RawCuped>,
    /// Smaller is better.
    #[serde(default)]
    pub inverse: bool,
}

/// The CUPED covariate of a metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCuped {
    pub window_hours: f64,
}

/// Duplicate detection settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDedup {
    /// Event ids are remembered for this many hours of event time.
    #[serde(default = "default_dedup_window")]
    pub window_hours: u32,
    /// At most this many ids are remembered; the oldest hours are forgotten first.
    #[serde(default = "default_dedup_max_ids")]
    pub max_ids: usize,
}

impl Default for RawDedup {
    fn default() -> Self {
        Self {
            window_hours: default_dedup_window(),
            max_ids: default_dedup_max_ids(),
        }
    }
}

fn default_dedup_window() -> u32 {
    // The edge accepts events up to 30 days old: one more day of slack.
    31 * 24
}

fn default_dedup_max_ids() -> usize {
    20_000_000
}

/// The kinds of metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricType {
    /// 1 when the unit did the event at least once in the window, else 0 (a proportion).
    Conversion,
    /// How many times the unit did the event in the window (mean over units).
    Count,
    /// The sum of the event's values per unit in the window (mean over units).
    Sum,
    /// The mean value of the event over all events of exposed units: Σ value / Σ count, a
    /// ratio analysed by the delta method.
    Mean,
    /// Σ numerator values / Σ denominator values, by the delta method.
    Ratio,
}

/// A validated metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub key: String,
    pub metric_type: MetricType,
    /// Event index (see [`Config::event_name`]) of the value (numerator for ratios).
    pub event: u32,
    /// Event index of a ratio's denominator.
    pub denominator: Option<u32>,
    pub window_ms: Option<i64>,
    /// In micro-units.
    pub cap: Option<i64>,
    pub cuped_window_ms: Option<i64>,
    pub inverse: bool,
}

impl Metric {
    /// Whether the metric has a second component (ratio denominator or CUPED covariate).
    pub fn has_second(&self) -> bool {
        matches!(self.metric_type, MetricType::Mean | MetricType::Ratio)
            || self.cuped_window_ms.is_some()
    }
}

/// A validated experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub key: String,
    pub variants: Vec<String>,
    /// Index into [`Config::attributes`].
    pub unit: u16,
    pub start: i64,
    pub end: Option<i64>,
    /// Indexes into [`Config::metrics`].
    pub metrics: Vec<usize>,
    pub traffic_weights: Vec<f64>,
    pub settings: AnalysisSettings,
}

impl Experiment {
    /// Index of a variant by key.
    pub fn variant_index(&self, key: &str) -> Option<u32> {
        self.variants
            .iter()
            .position(|v| v == key)
            .and_then(|i| u32::try_from(i).ok())
    }
}

/// The validated configuration with the indexes the pipeline needs per event.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub experiments: Vec<Experiment>,
    pub metrics: Vec<Metric>,
    /// Unit attributes used by experiments.
    pub attributes: Vec<String>,
    /// Event names used by metrics.
    pub events: Vec<String>,
    pub dedup_window_hours: i64,
    pub dedup_max_ids: usize,
    experiment_index: HashMap<String, usize>,
    event_index: HashMap<String, u32>,
    /// Per attribute, the experiments randomized on it.
    experiments_by_attribute: Vec<Vec<usize>>,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> AnalyticsError {
    AnalyticsError::Config {
        field: field.into(),
        message: message.into(),
    }
}

fn hours(field: String, value: f64) -> Result<i64, AnalyticsError> {
    if !(value.is_finite() && value > 0.0 && value <= 24.0 * 366.0 * 10.0) {
        return Err(invalid(
            field,
            "must be a positive number of hours (at most ten years)",
        ));
    }
    Ok((value * HOUR_MS).round() as i64)
}

fn time(field: String, text: &str) -> Result<i64, AnalyticsError> {
    Timestamp::parse_rfc3339(text)
        .map(Timestamp::unix_millis)
        .map_err(|e| invalid(field, format!("`{text}` is not an RFC 3339 time: {e}")))
}

fn name(field: String, value: &str) -> Result<(), AnalyticsError> {
    if value.is_empty() || value.len() > 256 {
        return Err(invalid(field, "must be 1 to 256 bytes"));
    }
    Ok(())
}

/// Quantizes a value to micro-units, saturating far outside any sensible range.
pub fn to_micros(value: f64) -> i64 {
    (value * SCALE).round() as i64
}

impl Config {
    /// An empty configuration: events are archived and deduplicated but nothing is attributed.
    pub fn empty() -> Self {
        // An empty configuration is always valid.
        Self::from_raw(RawConfig::default()).unwrap_or_else(|_| unreachable!())
    }

    /// Parses the JSON text of a configuration file.
    pub fn from_json(text: &str) -> Result<Self, AnalyticsError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let raw: RawConfig = serde_path_to_error::deserialize(de)
            .map_err(|e| invalid(e.path().to_string(), e.inner().to_string()))?;
        Self::from_raw(raw)
    }

    /// Validates a parsed configuration.
    pub fn from_raw(raw: RawConfig) -> Result<Self, AnalyticsError> {
        let mut events: Vec<String> = Vec::new();
        let mut event_index: HashMap<String, u32> = HashMap::new();
        let mut intern = |name: &str| -> u32 {
            if let Some(i) = event_index.get(name) {
                return *i;
            }
            let i = u32::try_from(events.len()).unwrap_or(u32::MAX);
            events.push(name.to_owned());
            event_index.insert(name.to_owned(), i);
            i
        };
        let mut metrics = Vec::with_capacity(raw.metrics.len());
        let mut metric_index: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, m) in raw.metrics.iter().enumerate() {
            let at = |f: &str| format!("metrics[{i}].{f}");
            name(at("key"), &m.key)?;
            if m.key.starts_with('$') {
                return Err(invalid(at("key"), "must not start with `$` (reserved)"));
            }
            if metric_index.insert(&m.key, i).is_some() {
                return Err(invalid(at("key"), format!("`{}` is defined twice", m.key)));
            }
            let (event, denominator) = match m.metric_type {
                MetricType::Ratio => {
                    if m.event.is_some() {
                        return Err(invalid(
                            at("event"),
                            "a ratio metric names `numerator` and `denominator` instead",
                        ));
                    }
                    let num = m
                        .numerator
                        .as_deref()
                        .ok_or_else(|| invalid(at("numerator"), "is required for a ratio"))?;
                    let den = m
                        .denominator
                        .as_deref()
                        .ok_or_else(|| invalid(at("denominator"), "is required for a ratio"))?;
                    name(at("numerator"), num)?;
                    name(at("denominator"), den)?;
                    (intern(num), Some(intern(den)))
                }
                _ => {
                    if m.numerator.is_some() || m.denominator.is_some() {
                        return Err(invalid(
                            at("numerator"),
                            "only ratio metrics have a numerator and a denominator",
                        ));
                    }
                    let event = m
                        .event
                        .as_deref()
                        .ok_or_else(|| invalid(at("event"), "is required"))?;
                    name(at("event"), event)?;
                    (intern(event), None)
                }
            };
            let window_ms = m
                .window_hours
                .map(|h| hours(at("window_hours"), h))
                .transpose()?;
            let cap = match m.cap {
                None => None,
                Some(c) if c.is_finite() && c > 0.0 && c < 9.0e12 => Some(to_micros(c)),
                Some(_) => return Err(invalid(at("cap"), "must be a positive number below 9e12")),
            };
            if cap.is_some() && m.metric_type == MetricType::Conversion {
                return Err(invalid(
                    at("cap"),
                    "a conversion is 0 or 1 and needs no cap",
                ));
            }
            let cuped_window_ms = match &m.cuped {
                None => None,
                Some(_) if matches!(m.metric_type, MetricType::Mean | MetricType::Ratio) => {
                    return Err(invalid(
                        at("cuped"),
                        "CUPED applies to conversion, count and sum metrics",
                    ));
                }
                Some(c) => Some(hours(at("cuped.window_hours"), c.window_hours)?),
            };
            metrics.push(Metric {
                key: m.key.clone(),
                metric_type: m.metric_type,
                event,
                denominator,
                window_ms,
                cap,
                cuped_window_ms,
                inverse: m.inverse,
            });
        }

        let mut attributes: Vec<String> = Vec::new();
        let mut experiments = Vec::with_capacity(raw.experiments.len());
        let mut experiment_index = HashMap::new();
        for (i, e) in raw.experiments.iter().enumerate() {
            let at = |f: &str| format!("experiments[{i}].{f}");
            name(at("key"), &e.key)?;
            if experiment_index.insert(e.key.clone(), i).is_some() {
                return Err(invalid(at("key"), format!("`{}` is defined twice", e.key)));
            }
            if e.variants.len() < 2 {
                return Err(invalid(
                    at("variants"),
                    "needs a control and at least one treatment",
                ));
            }
            for (vi, v) in e.variants.iter().enumerate() {
                name(at(&format!("variants[{vi}]")), v)?;
                if e.variants[..vi].contains(v) {
                    return Err(invalid(
                        at(&format!("variants[{vi}]")),
                        format!("`{v}` is listed twice"),
                    ));
                }
            }
            name(at("unit"), &e.unit)?;
            let unit = match attributes.iter().position(|a| a == &e.unit) {
                Some(p) => p,
                None => {
                    attributes.push(e.unit.clone());
                    attributes.len() - 1
                }
            };
            let unit =
                u16::try_from(unit).map_err(|_| invalid(at("unit"), "too many unit attributes"))?;
            let start = time(at("start"), &e.start)?;
            let end = e.end.as_deref().map(|t| time(at("end"), t)).transpose()?;
            if end.is_some_and(|end| end <= start) {
                return Err(invalid(at("end"), "must be after `start`"));
            }
            let mut ms = Vec::with_capacity(e.metrics.len());
            for (mi, key) in e.metrics.iter().enumerate() {
                let index = metric_index.get(key.as_str()).copied().ok_or_else(|| {
                    invalid(
                        at(&format!("metrics[{mi}]")),
                        format!("no metric `{key}` is defined"),
                    )
                })?;
                if ms.contains(&index) {
                    return Err(invalid(
                        at(&format!("metrics[{mi}]")),
                        format!("`{key}` is listed twice"),
                    ));
                }
                ms.push(index);
            }
            let traffic_weights = match &e.traffic_weights {
                None => vec![1.0 / e.variants.len() as f64; e.variants.len()],
                Some(w) if w.len() != e.variants.len() => {
                    return Err(invalid(
                        at("traffic_weights"),
                        "needs one weight per variant",
                    ));
                }
                Some(w)
                    if w.iter().any(|x| !(x.is_finite() && *x >= 0.0))
                        || w.iter().sum::<f64>() <= 0.0 =>
                {
                    return Err(invalid(
                        at("traffic_weights"),
                        "must be non-negative numbers with a positive sum",
                    ));
                }
                Some(w) => w.clone(),
            };
            let settings = AnalysisSettings {
                method: e.analysis.method,
                alpha: Alpha::new(e.analysis.alpha)
                    .map_err(|err| invalid(at("analysis.alpha"), err.to_string()))?,
                tuning: TuningParameter::new(e.analysis.sequential_tuning_parameter).map_err(
                    |err| invalid(at("analysis.sequential_tuning_parameter"), err.to_string()),
                )?,
                prior: Default::default(),
                correction: e.analysis.correction,
            };
            if settings.method == Method::Bayesian && settings.correction != Correction::None {
                return Err(invalid(
                    at("analysis.correction"),
                    "corrections apply to p-values: use the frequentist or sequential method",
                ));
            }
            experiments.push(Experiment {
                key: e.key.clone(),
                variants: e.variants.clone(),
                unit,
                start,
                end,
                metrics: ms,
                traffic_weights,
                settings,
            });
        }
        if raw.dedup.window_hours == 0 {
            return Err(invalid("dedup.window_hours", "must be at least 1"));
        }
        if raw.dedup.max_ids == 0 {
            return Err(invalid("dedup.max_ids", "must be at least 1"));
        }
        let mut experiments_by_attribute = vec![Vec::new(); attributes.len()];
        for (i, e) in experiments.iter().enumerate() {
            experiments_by_attribute[usize::from(e.unit)].push(i);
        }
        Ok(Self {
            experiments,
            metrics,
            attributes,
            events,
            dedup_window_hours: i64::from(raw.dedup.window_hours),
            dedup_max_ids: raw.dedup.max_ids,
            experiment_index,
            event_index,
            experiments_by_attribute,
        })
    }

    /// The experiment with this key.
    pub fn experiment(&self, key: &str) -> Option<(usize, &Experiment)> {
        let i = *self.experiment_index.get(key)?;
        Some((i, &self.experiments[i]))
    }

    /// Index of an event name used by some metric.
    pub fn event(&self, name: &str) -> Option<u32> {
        self.event_index.get(name).copied()
    }

    /// The name of an event index.
    pub fn event_name(&self, index: u32) -> Option<&str> {
        self.events.get(index as usize).map(String::as_str)
    }

    /// Index of a unit attribute used by some experiment.
    pub fn attribute(&self, name: &str) -> Option<u16> {
        self.attributes
            .iter()
            .position(|a| a == name)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// The experiments randomized on an attribute.
    pub fn experiments_on(&self, attribute: u16) -> &[usize] {
        self.experiments_by_attribute
            .get(usize::from(attribute))
            .map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const EXAMPLE: &str = r#"{
      "experiments": [{
        "key": "checkout", "variants": ["control", "treatment"], "unit": "user_id",
        "start": "2026-11-01T00:00:00Z", "metrics": ["purchased", "revenue", "aov"]
      }],
      "metrics": [
        {"key": "purchased", "type": "conversion", "event": "purchase", "window_hours": 72},
        {"key": "revenue", "type": "sum", "event": "purchase", "cap": 500,
         "cuped": {"window_hours": 336}},
        {"key": "aov", "type": "ratio", "numerator": "purchase", "denominator": "checkout"}
      ]
    }"#;

    #[test]
    fn a_valid_file_is_indexed_by_event_and_attribute() {
        let config = Config::from_json(EXAMPLE).unwrap();
        assert_eq!(config.events, vec!["purchase", "checkout"]);
        assert_eq!(config.attributes, vec!["user_id"]);
        assert_eq!(config.metrics[1].cap, Some(500_000_000));
        assert_eq!(config.metrics[0].window_ms, Some(72 * 3_600_000));
        assert_eq!(config.experiments[0].metrics, vec![0, 1, 2]);
        assert_eq!(config.experiments_on(0), &[0]);
    }

    #[test]
    fn errors_name_the_field() {
        let bad = EXAMPLE.replace("\"window_hours\": 72", "\"window_hours\": -1");
        let err = Config::from_json(&bad).unwrap_err();
        assert!(err.to_string().contains("metrics[0].window_hours"), "{err}");
        let bad = EXAMPLE.replace("\"aov\"]", "\"nope\"]");
        let err = Config::from_json(&bad).unwrap_err();
        assert!(
            err.to_string().contains("experiments[0].metrics[2]"),
            "{err}"
        );
        let bad = EXAMPLE.replace("\"unit\"", "\"units\"");
        assert!(Config::from_json(&bad).is_err());
    }

    #[test]
    fn cuped_is_refused_for_ratio_metrics() {
        let bad = EXAMPLE.replace(
            "\"denominator\": \"checkout\"",
            "\"denominator\": \"checkout\", \"cuped\": {\"window_hours\": 1}",
        );
        let err = Config::from_json(&bad).unwrap_err();
        assert!(err.to_string().contains("metrics[2].cuped"), "{err}");
    }
}
