//! Experiments and metrics from core-api (`--core-url`): the parts of its REST resources
//! analytics reads, their conversion to a [`Config`], and the client that fetches them.
//!
//! | core-api | analytics |
//! |---|---|
//! | every experiment but drafts | an experiment |
//! | `variants[].key`, in order (the first is the control) | `variants` |
//! | `variants[].weight` | `traffic_weights` (the SRM check) |
//! | `unit_attribute` | `unit` |
//! | `started_at` (else `schedule.start`) | `start` |
//! | `schedule.end` (set when it stops) | `end` |
//! | `metrics.primary`, `.secondary`, `.guardrail`, in that order | `metrics` |
//! | metric `event_name`, `type`, `window_hours` | `event`, `type`, `window_hours` |
//! | ratio: `event_name` / `denominator_event` | `numerator` / `denominator` |
//! | `capping {type: absolute, value}` | `cap` |
//! | `capping {type: percentile}` | ignored, with a warning |
//!
//! A definition analytics cannot use is skipped and reported ([`Loaded::skipped`]); the rest
//! still loads.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;

use crate::config::{Config, MetricType, RawConfig, RawExperiment, RawMetric};
use crate::error::AnalyticsError;
use crate::live::{ConfigSource, Issue, Loaded};

/// Items per page of core's list routes (its maximum).
const PAGE: u32 = 500;
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize)]
struct CoreMetric {
    key: String,
    event_name: String,
    #[serde(rename = "type")]
    kind: MetricType,
    #[serde(default)]
    denominator_event: Option<String>,
    #[serde(default)]
    window_hours: Option<f64>,
    #[serde(default)]
    capping: Option<CoreCapping>,
}

#[derive(Debug, Deserialize)]
struct CoreCapping {
    #[serde(rename = "type")]
    kind: String,
    value: f64,
}

#[derive(Debug, Deserialize)]
struct CoreExperiment {
    key: String,
    status: String,
    variants: Vec<CoreVariant>,
    #[serde(default = "user_id")]
    unit_attribute: String,
    #[serde(default)]
    metrics: CoreMetrics,
    #[serde(default)]
    schedule: Option<CoreWindow>,
    #[serde(default)]
    started_at: Option<String>,
}

fn user_id() -> String {
    "user_id".to_owned()
}

#[derive(Debug, Deserialize)]
struct CoreVariant {
    key: String,
    weight: f64,
}

#[derive(Debug, Default, Deserialize)]
struct CoreMetrics {
    #[serde(default)]
    primary: Vec<String>,
    #[serde(default)]
    secondary: Vec<String>,
    #[serde(default)]
    guardrail: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct CoreWindow {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
}

fn issue(kind: &'static str, key: &str, message: impl Into<String>) -> Issue {
    Issue {
        kind,
        key: key.to_owned(),
        message: message.into(),
    }
}

/// The reason a lone definition is invalid, without the `metrics[0].` prefix of its field.
fn reason(error: AnalyticsError) -> String {
    match error {
        AnalyticsError::Config { field, message } => {
            let field = field.split_once("].").map_or(field.as_str(), |(_, f)| f);
            format!("{field}: {message}")
        }
        other => other.to_string(),
    }
}

fn item_key(item: &Value, index: usize) -> String {
    item.get("key")
        .and_then(Value::as_str)
        .map_or_else(|| format!("#{index}"), str::to_owned)
}

fn metric(item: &Value, index: usize, out: &mut Loaded) -> Option<RawMetric> {
    let m: CoreMetric = match serde_json::from_value(item.clone()) {
        Ok(m) => m,
        Err(e) => {
            let key = item_key(item, index);
            out.skipped
                .push(issue("metric", &key, format!("unreadable: {e}")));
            return None;
        }
    };
    let cap = match &m.capping {
        None => None,
        Some(c) if c.kind == "absolute" && m.kind == MetricType::Conversion => {
            out.ignored.push(issue(
                "metric",
                &m.key,
                "capping ignored: a conversion is 0 or 1 per unit",
            ));
            None
        }
        Some(c) if c.kind == "absolute" => Some(c.value),
        Some(c) => {
            out.ignored.push(issue(
                "metric",
                &m.key,
                format!(
                    "{} capping is not supported by the exact-aggregate pipeline: ignored (values are not capped)",
                    c.kind
                ),
            ));
            None
        }
    };
    let (event, numerator, denominator) = match m.kind {
        MetricType::Ratio => (None, Some(m.event_name), m.denominator_event),
        _ => (Some(m.event_name), None, None),
    };
    let raw = RawMetric {
        key: m.key,
        metric_type: m.kind,
        event,
        numerator,
        denominator,
        window_hours: m.window_hours,
        cap,
        cuped: None,
        inverse: false,
    };
    // Checked alone, so that one bad definition does not hold back the others.
    let alone = RawConfig {
        metrics: vec![raw.clone()],
        ..RawConfig::default()
    };
    match Config::from_raw(alone) {
        Ok(_) => Some(raw),
        Err(e) => {
            out.skipped.push(issue("metric", &raw.key, reason(e)));
            None
        }
    }
}

fn experiment(
    item: &Value,
    index: usize,
    metrics: &[RawMetric],
    out: &mut Loaded,
) -> Option<RawExperiment> {
    let e: CoreExperiment = match serde_json::from_value(item.clone()) {
        Ok(e) => e,
        Err(err) => {
            let key = item_key(item, index);
            out.skipped
                .push(issue("experiment", &key, format!("unreadable: {err}")));
            return None;
        }
    };
    if e.status == "draft" {
        return None;
    }
    let schedule = e.schedule.unwrap_or_default();
    let Some(start) = e.started_at.or(schedule.start) else {
        out.skipped.push(issue(
            "experiment",
            &e.key,
            "has no start (neither started_at nor schedule.start)",
        ));
        return None;
    };
    let mut keys: Vec<String> = Vec::new();
    for key in e
        .metrics
        .primary
        .iter()
        .chain(&e.metrics.secondary)
        .chain(&e.metrics.guardrail)
    {
        if keys.contains(key) {
            continue;
        }
        if metrics.iter().any(|m| &m.key == key) {
            keys.push(key.clone());
        } else {
            out.ignored.push(issue(
                "experiment",
                &e.key,
                format!("metric `{key}` left out: it is not usable (see the skipped metrics)"),
            ));
        }
    }
    let raw = RawExperiment {
        key: e.key,
        variants: e.variants.iter().map(|v| v.key.clone()).collect(),
        unit: e.unit_attribute,
        start,
        end: schedule.end,
        metrics: keys,
        traffic_weights: Some(e.variants.iter().map(|v| v.weight).collect()),
        analysis: Default::default(),
    };
    let alone = RawConfig {
        experiments: vec![raw.clone()],
        metrics: metrics
            .iter()
            .filter(|m| raw.metrics.contains(&m.key))
            .cloned()
            .collect(),
        ..RawConfig::default()
    };
    match Config::from_raw(alone) {
        Ok(_) => Some(raw),
        Err(err) => {
            out.skipped.push(issue("experiment", &raw.key, reason(err)));
            None
        }
    }
}

/// Converts core's experiment and metric resources (the `items` of its list routes) into a
/// configuration: every usable metric, and every experiment but drafts. What cannot be used is
/// skipped and reported; what is partly ignored (percentile capping) is reported too.
pub fn convert(experiments: &[Value], metrics: &[Value]) -> Result<Loaded, AnalyticsError> {
    let mut out = Loaded {
        config: Config::empty(),
        skipped: Vec::new(),
        ignored: Vec::new(),
    };
    let metrics: Vec<RawMetric> = metrics
        .iter()
        .enumerate()
        .filter_map(|(i, item)| metric(item, i, &mut out))
        .collect();
    let mut seen = BTreeSet::new();
    let experiments: Vec<RawExperiment> = experiments
        .iter()
        .enumerate()
        .filter_map(|(i, item)| experiment(item, i, &metrics, &mut out))
        .filter(|e| seen.insert(e.key.clone()))
        .collect();
    out.config = Config::from_raw(RawConfig {
        experiments,
        metrics,
        ..RawConfig::default()
    })?;
    Ok(out)
}

/// Percent-encodes a query parameter value.
fn escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// core-api's REST API as a configuration source.
#[derive(Debug)]
pub struct CoreSource {
    /// `http://host:port`, without a trailing slash.
    base: String,
    token: SecretString,
    http: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct Page {
    items: Vec<Value>,
    #[serde(default)]
    next_cursor: Option<String>,
}

impl CoreSource {
    /// A source reading core-api at `url` (plain `http://`) with `token` (an admin API key or a
    /// user's session token: anything core accepts for reading configuration).
    pub fn new(url: &str, token: SecretString) -> Result<Self, AnalyticsError> {
        let base = url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") && base.len() > "http://".len()) {
            return Err(AnalyticsError::Config {
                field: "core_url".into(),
                message: format!("must be an http:// URL of core-api (got `{url}`)"),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            // A fresh connection per refresh (two requests every few seconds): a restarted or
            // moved core-api is reached at once.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| AnalyticsError::Unavailable(format!("HTTP client: {e}")))?;
        Ok(Self { base, token, http })
    }

    /// Every item of a list route, following its cursors.
    async fn list(&self, path: &str) -> Result<Vec<Value>, AnalyticsError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{}{path}?limit={PAGE}", self.base);
            if let Some(c) = &cursor {
                url.push_str("&cursor=");
                url.push_str(&escape(c));
            }
            let request = self.http.get(url).bearer_auth(self.token.expose_secret());
            let failed = |e: reqwest::Error| {
                AnalyticsError::Unavailable(format!("core-api at {}: GET {path}: {e}", self.base))
            };
            let response = request.send().await.map_err(failed)?;
            let status = response.status();
            let body = response.bytes().await.map_err(failed)?;
            if !status.is_success() {
                let detail = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_default();
                return Err(AnalyticsError::Unavailable(format!(
                    "core-api at {}: GET {path}: {status} {detail}",
                    self.base
                )));
            }
            let page: Page = serde_json::from_slice(&body).map_err(|e| {
                AnalyticsError::Unavailable(format!(
                    "core-api at {}: GET {path}: unexpected answer: {e}",
                    self.base
                ))
            })?;
            items.extend(page.items);
            match page.next_cursor {
                Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                _ => return Ok(items),
            }
        }
    }
}

#[async_trait]
impl ConfigSource for CoreSource {
    fn describe(&self) -> String {
        format!("core-api at {}", self.base)
    }

    async fn load(&self) -> Result<Loaded, AnalyticsError> {
        // Metrics first: an experiment can only name metrics that exist.
        let metrics = self.list("/api/v1/metrics").await?;
        let experiments = self.list("/api/v1/experiments").await?;
        convert(&experiments, &metrics)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn metrics() -> Vec<Value> {
        vec![
            json!({"key": "purchased", "name": "Purchased", "event_name": "purchase",
                   "type": "conversion", "window_hours": 72.0, "version": 1,
                   "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z"}),
            json!({"key": "revenue", "event_name": "purchase", "type": "sum",
                   "capping": {"type": "absolute", "value": 500.0}}),
            json!({"key": "revenue_p99", "event_name": "purchase", "type": "sum",
                   "capping": {"type": "percentile", "value": 0.99}}),
            json!({"key": "aov", "event_name": "purchase", "type": "ratio",
                   "denominator_event": "checkout"}),
            json!({"key": "$reserved", "event_name": "purchase", "type": "count"}),
            json!({"key": "forever", "event_name": "purchase", "type": "count",
                   "window_hours": 1.0e9}),
            json!({"key": "odd", "event_name": "purchase", "type": "median"}),
        ]
    }

    fn experiment(key: &str, status: &str) -> Value {
        json!({
            "key": key, "environment": "production", "name": key, "status": status,
            "variants": [{"key": "control", "weight": 0.4}, {"key": "treatment", "weight": 0.6,
                          "payload": {"color": "green"}}],
            "unit_attribute": "account_id",
            "metrics": {"primary": ["aov"], "secondary": ["revenue", "$reserved", "aov"],
                        "guardrail": ["purchased", "revenue_p99"]},
            "schedule": {"start": "2026-11-01T00:00:00Z"},
            "started_at": "2026-11-02T10:00:00Z",
            "salt": "s", "restarts": 1, "version": 3
        })
    }

    fn keys(issues: &[Issue]) -> Vec<(&str, &str)> {
        issues.iter().map(|i| (i.kind, i.key.as_str())).collect()
    }

    #[test]
    fn core_definitions_become_the_configuration_the_pipeline_uses() {
        let mut stopped = experiment("banner", "stopped");
        stopped["schedule"]["end"] = json!("2026-11-09T00:00:00Z");
        stopped.as_object_mut().unwrap().remove("started_at");
        let loaded = convert(
            &[
                experiment("checkout", "running"),
                experiment("sketch", "draft"),
                stopped,
            ],
            &metrics(),
        )
        .unwrap();
        let config = &loaded.config;
        let metric_keys: Vec<&str> = config.metrics.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(metric_keys, ["purchased", "revenue", "revenue_p99", "aov"]);
        assert_eq!(config.metrics[1].cap, Some(500_000_000));
        assert_eq!(config.metrics[2].cap, None, "percentile capping is ignored");
        assert_eq!(config.metrics[0].window_ms, Some(72 * 3_600_000));
        assert_eq!(config.metrics[3].metric_type, MetricType::Ratio);
        assert_eq!(config.event_name(config.metrics[3].event), Some("purchase"));
        assert_eq!(
            config.metrics[3]
                .denominator
                .and_then(|d| config.event_name(d)),
            Some("checkout")
        );

        // Drafts are left out; the others keep core's order.
        let exp_keys: Vec<&str> = config.experiments.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(exp_keys, ["checkout", "banner"]);
        let (_, checkout) = config.experiment("checkout").unwrap();
        assert_eq!(checkout.variants, ["control", "treatment"]);
        assert_eq!(checkout.traffic_weights, [0.4, 0.6]);
        assert_eq!(config.attributes[usize::from(checkout.unit)], "account_id");
        assert_eq!(
            checkout.start, 1_793_613_600_000,
            "started_at: 2026-11-02T10:00Z"
        );
        assert_eq!(checkout.end, None);
        // Primary, secondary, guardrail; each once; unusable ones left out.
        let names: Vec<&str> = checkout
            .metrics
            .iter()
            .map(|&m| config.metrics[m].key.as_str())
            .collect();
        assert_eq!(names, ["aov", "revenue", "purchased", "revenue_p99"]);
        let (_, banner) = config.experiment("banner").unwrap();
        assert_eq!(
            banner.start, 1_793_491_200_000,
            "schedule.start: 2026-11-01"
        );
        assert_eq!(
            banner.end,
            Some(1_794_182_400_000),
            "schedule.end: 2026-11-09"
        );

        assert_eq!(
            keys(&loaded.skipped),
            [
                ("metric", "$reserved"),
                ("metric", "forever"),
                ("metric", "odd")
            ]
        );
        assert!(
            loaded.skipped[0]
                .message
                .contains("must not start with `$`"),
            "{:?}",
            loaded.skipped[0]
        );
        assert!(
            loaded.skipped[1].message.starts_with("window_hours:"),
            "{:?}",
            loaded.skipped[1]
        );
        assert_eq!(
            keys(&loaded.ignored),
            [
                ("metric", "revenue_p99"),
                ("experiment", "checkout"),
                ("experiment", "banner")
            ]
        );
        assert!(loaded.ignored[0].message.contains("percentile capping"));
        assert!(loaded.ignored[1].message.contains("`$reserved`"));
    }

    #[test]
    fn an_unusable_experiment_is_skipped_and_the_others_load() {
        let mut lonely = experiment("lonely", "running");
        lonely["variants"] = json!([{"key": "only", "weight": 1.0}]);
        let mut garbled = experiment("garbled", "running");
        garbled["variants"] = json!("not a list");
        let mut unstarted = experiment("unstarted", "scheduled");
        unstarted.as_object_mut().unwrap().remove("started_at");
        unstarted.as_object_mut().unwrap().remove("schedule");
        let mut capped = metrics();
        capped.push(
            json!({"key": "converted", "event_name": "signup", "type": "conversion",
                           "capping": {"type": "absolute", "value": 3.0}}),
        );
        let loaded = convert(
            &[
                lonely,
                experiment("checkout", "running"),
                garbled,
                unstarted,
            ],
            &capped,
        )
        .unwrap();
        let exp_keys: Vec<&str> = loaded
            .config
            .experiments
            .iter()
            .map(|e| e.key.as_str())
            .collect();
        assert_eq!(exp_keys, ["checkout"]);
        assert_eq!(
            keys(&loaded.skipped)[3..],
            [
                ("experiment", "lonely"),
                ("experiment", "garbled"),
                ("experiment", "unstarted")
            ]
        );
        assert!(
            loaded.skipped[3].message.starts_with("variants:"),
            "{:?}",
            loaded.skipped[3]
        );
        // A cap on a conversion is meaningless: dropped, the metric kept.
        let converted = loaded.config.metrics.iter().find(|m| m.key == "converted");
        assert_eq!(converted.map(|m| m.cap), Some(None));
        assert!(keys(&loaded.ignored).contains(&("metric", "converted")));
    }

    #[test]
    fn the_core_url_must_be_plain_http() {
        assert!(CoreSource::new("http://127.0.0.1:8080/", SecretString::from("t")).is_ok());
        let err = CoreSource::new("https://core.example", SecretString::from("t")).unwrap_err();
        assert!(err.to_string().contains("core_url"), "{err}");
    }
}
