//! Results: an experiment's aggregate rows (any number of streams, shards and days) become
//! sufficient statistics per variant and metric, then the statistics engine's analysis; plus a
//! daily cumulative series (units first exposed up to each day) per metric for plots, and CSV.
//!
//! Pure: the same rows give byte-identical JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::config::{Config, Experiment, Metric, MetricType, SCALE};
use crate::error::AnalyticsError;
use crate::stats::experiment::{
    Comparison, ComparisonOutcome, Method, MetricData, MetricResult, analyze_metrics,
};
use crate::stats::{
    Correction, Moments, Outcome, Proportion, RatioStatistic, RegressionAdjusted, SampleMean,
    Statistic, srm_test,
};

use super::aggregate::{AggKey, AggStats, EXCLUDED, UNITS};

const DAY_MS: i64 = 86_400_000;
/// Longest daily series computed.
const MAX_SERIES_DAYS: i64 = 400;

/// The results of one experiment.
#[derive(Debug, Clone, Serialize)]
pub struct ExperimentResults {
    pub experiment: String,
    pub method: Method,
    pub alpha: f64,
    pub correction: Correction,
    pub variants: Vec<String>,
    /// Exposed units per variant (excluded units not counted).
    pub units: Vec<u64>,
    /// Units seen in several variants, left out of every analysis.
    pub excluded_units: u64,
    pub srm: SrmSummary,
    pub metrics: Vec<MetricSummary>,
    /// Per metric, the analysis of units first exposed up to each day.
    pub series: Vec<MetricSeries>,
}

/// The sample-ratio-mismatch check.
#[derive(Debug, Clone, Serialize)]
pub struct SrmSummary {
    pub traffic_weights: Vec<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    pub mismatch: bool,
}

/// One metric's analysis.
#[derive(Debug, Clone, Serialize)]
pub struct MetricSummary {
    pub key: String,
    #[serde(rename = "type")]
    pub metric_type: MetricType,
    pub inverse: bool,
    #[serde(flatten)]
    pub result: MetricResult,
}

/// One metric over time.
#[derive(Debug, Clone, Serialize)]
pub struct MetricSeries {
    pub metric: String,
    pub points: Vec<SeriesPoint>,
}

/// The cumulative analysis at the end of one day.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesPoint {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    pub variants: Vec<PointVariant>,
}

/// One variant at one point.
#[derive(Debug, Clone, Serialize)]
pub struct PointVariant {
    pub name: String,
    pub units: u64,
    pub mean: f64,
    /// Relative lift over the control and its interval (absent for the control, or when the
    /// data cannot support a comparison).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lift: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci: Option<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chance_to_win: Option<f64>,
}

fn moments(
    proportion: bool,
    n: u64,
    sum: i128,
    sum_squares: i128,
) -> Result<Moments, AnalyticsError> {
    let sum = sum as f64 / SCALE;
    if proportion {
        Ok(Moments::Proportion(Proportion::new(n, sum)?))
    } else {
        let ss = (sum_squares as f64 / (SCALE * SCALE)).max(0.0);
        Ok(Moments::Mean(SampleMean::new(n, sum, ss)?))
    }
}

/// The statistic of one variant of one metric.
pub fn statistic(metric: &Metric, s: &AggStats) -> Result<Statistic, AnalyticsError> {
    let n = u64::try_from(s.n).unwrap_or(0);
    let product = s.sxy as f64 / (SCALE * SCALE);
    let proportion = metric.metric_type == MetricType::Conversion;
    match metric.metric_type {
        MetricType::Mean | MetricType::Ratio => Ok(Statistic::Ratio(RatioStatistic::new(
            n,
            moments(false, n, s.sx, s.sxx)?,
            moments(false, n, s.sy, s.syy)?,
            product,
        )?)),
        _ => {
            let main = moments(proportion, n, s.sx, s.sxx)?;
            if metric.cuped_window_ms.is_some() {
                let pre = moments(proportion, n, s.sy, s.syy)?;
                Ok(Statistic::RegressionAdjusted(RegressionAdjusted::new(
                    n, main, pre, product,
                )?))
            } else {
                Ok(main.into())
            }
        }
    }
}

fn date(day: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(day * DAY_MS / 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}",
        at.year(),
        u8::from(at.month()),
        at.day()
    )
}

/// Rows summed over streams and shards: (variant, series) → day → stats.
type ByDay = BTreeMap<(String, String), BTreeMap<i64, AggStats>>;

fn cumulative(by_day: &ByDay, variant: &str, series: &str, up_to: i64) -> AggStats {
    let mut total = AggStats::default();
    if let Some(days) = by_day.get(&(variant.to_owned(), series.to_owned())) {
        for (_, s) in days.range(..=up_to) {
            total.add(s);
        }
    }
    total
}

fn analyze(
    config: &Config,
    exp: &Experiment,
    by_day: &ByDay,
    up_to: i64,
) -> Result<(Vec<u64>, u64, Vec<MetricResult>), AnalyticsError> {
    let units: Vec<u64> = exp
        .variants
        .iter()
        .map(|v| u64::try_from(cumulative(by_day, v, UNITS, up_to).n).unwrap_or(0))
        .collect();
    let excluded = u64::try_from(cumulative(by_day, "", EXCLUDED, up_to).n).unwrap_or(0);
    let mut data = Vec::with_capacity(exp.metrics.len());
    for &m in &exp.metrics {
        let metric = &config.metrics[m];
        let variants = exp
            .variants
            .iter()
            .map(|v| {
                let stats = cumulative(by_day, v, &metric.key, up_to);
                statistic(metric, &stats).map(|s| (v.clone(), s))
            })
            .collect::<Result<Vec<_>, _>>()?;
        data.push(MetricData {
            inverse: metric.inverse,
            variants,
        });
    }
    let results = if data.is_empty() {
        Vec::new()
    } else {
        analyze_metrics(&exp.settings, &data)?
    };
    Ok((units, excluded, results))
}

fn relative(c: Option<&Comparison>) -> (Option<f64>, Option<[f64; 2]>, Option<f64>, Option<f64>) {
    match c.map(|c| &c.outcome) {
        Some(ComparisonOutcome::Frequentist(Outcome::Ok(r))) => {
            (Some(r.expected), Some(r.ci), Some(r.p_value), None)
        }
        Some(ComparisonOutcome::Bayesian(Outcome::Ok(r))) => {
            (Some(r.expected), Some(r.ci), None, Some(r.chance_to_win))
        }
        _ => (None, None, None, None),
    }
}

/// Computes an experiment's results from its aggregate rows.
pub fn compute(
    config: &Config,
    experiment: &str,
    rows: &[(AggKey, AggStats)],
) -> Result<ExperimentResults, AnalyticsError> {
    let (_, exp) = config
        .experiment(experiment)
        .ok_or_else(|| AnalyticsError::UnknownExperiment(experiment.to_owned()))?;
    let mut by_day = ByDay::new();
    for (key, stats) in rows.iter().filter(|(k, _)| k.experiment == experiment) {
        by_day
            .entry((key.variant.clone(), key.series.clone()))
            .or_default()
            .entry(key.day)
            .or_default()
            .add(stats);
    }
    // Rows can sum to zero (a unit whose first exposure moved to an earlier day when an earlier
    // exposure arrived late): they are not data.
    for days in by_day.values_mut() {
        days.retain(|_, s| !s.is_zero());
    }
    let days: Vec<i64> = by_day.values().flat_map(|d| d.keys().copied()).collect();
    let (first, last) = (days.iter().min().copied(), days.iter().max().copied());
    let (units, excluded_units, results) = analyze(config, exp, &by_day, i64::MAX)?;
    let srm = match srm_test(&units, &exp.traffic_weights) {
        Ok(r) if units.iter().sum::<u64>() > 0 => SrmSummary {
            traffic_weights: exp.traffic_weights.clone(),
            p_value: Some(r.p_value),
            mismatch: r.mismatch,
        },
        _ => SrmSummary {
            traffic_weights: exp.traffic_weights.clone(),
            p_value: None,
            mismatch: false,
        },
    };
    let mut series: Vec<MetricSeries> = exp
        .metrics
        .iter()
        .map(|&m| MetricSeries {
            metric: config.metrics[m].key.clone(),
            points: Vec::new(),
        })
        .collect();
    if let (Some(first), Some(last)) = (first, last) {
        for day in first.max(last - MAX_SERIES_DAYS + 1)..=last {
            let (_, _, day_results) = analyze(config, exp, &by_day, day)?;
            for (s, r) in series.iter_mut().zip(day_results) {
                let variants = r
                    .variants
                    .iter()
                    .map(|v| {
                        let (lift, ci, p_value, chance_to_win) = relative(v.relative.as_ref());
                        PointVariant {
                            name: v.name.clone(),
                            units: v.n,
                            mean: v.mean,
                            lift,
                            ci,
                            p_value,
                            chance_to_win,
                        }
                    })
                    .collect();
                s.points.push(SeriesPoint {
                    date: date(day),
                    variants,
                });
            }
        }
    }
    let metrics = exp
        .metrics
        .iter()
        .zip(results)
        .map(|(&m, result)| {
            let metric = &config.metrics[m];
            MetricSummary {
                key: metric.key.clone(),
                metric_type: metric.metric_type,
                inverse: metric.inverse,
                result,
            }
        })
        .collect();
    Ok(ExperimentResults {
        experiment: exp.key.clone(),
        method: exp.settings.method,
        alpha: exp.settings.alpha.get(),
        correction: exp.settings.correction,
        variants: exp.variants.clone(),
        units,
        excluded_units,
        srm,
        metrics,
        series,
    })
}

fn cell(out: &mut String, v: Option<&serde_json::Value>) {
    out.push(',');
    match v {
        Some(serde_json::Value::String(s)) => out.push_str(&csv_field(s)),
        Some(serde_json::Value::Null) | None => {}
        Some(other) => {
            let _ = write!(out, "{other}");
        }
    }
}

/// One row per metric and variant, from results as JSON (stored or just computed).
pub fn to_csv(results: &serde_json::Value) -> String {
    let mut out = String::from(
        "experiment,metric,type,variant,units,mean,stddev,status,relative_lift,relative_ci_lower,relative_ci_upper,p_value,p_value_adjusted,chance_to_win,absolute_lift,absolute_ci_lower,absolute_ci_upper\n",
    );
    let empty = Vec::new();
    let experiment = results.get("experiment");
    for m in results["metrics"].as_array().unwrap_or(&empty) {
        for v in m["variants"].as_array().unwrap_or(&empty) {
            let rel = &v["relative"];
            let abs = &v["absolute"];
            let status = rel
                .get("status")
                .and_then(|s| s.as_str())
                .map(|s| match rel.get("reason").and_then(|r| r.as_str()) {
                    Some(reason) => reason.to_owned(),
                    None => s.to_owned(),
                })
                .unwrap_or_else(|| "control".to_owned());
            out.push_str(&csv_field(
                experiment.and_then(|e| e.as_str()).unwrap_or(""),
            ));
            cell(&mut out, m.get("key"));
            cell(&mut out, m.get("type"));
            cell(&mut out, v.get("name"));
            cell(&mut out, v.get("n"));
            cell(&mut out, v.get("mean"));
            cell(&mut out, v.get("stddev"));
            out.push(',');
            out.push_str(&status);
            cell(&mut out, rel.get("expected"));
            cell(&mut out, rel.get("ci").and_then(|c| c.get(0)));
            cell(&mut out, rel.get("ci").and_then(|c| c.get(1)));
            cell(&mut out, rel.get("p_value"));
            cell(&mut out, rel.get("p_value_adjusted"));
            cell(&mut out, rel.get("chance_to_win"));
            cell(&mut out, abs.get("expected"));
            cell(&mut out, abs.get("ci").and_then(|c| c.get(0)));
            cell(&mut out, abs.get("ci").and_then(|c| c.get(1)));
            out.push('\n');
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::state::aggregate_all;
    use crate::pipeline::testing::{config, exposure, track};
    use std::sync::Arc;

    fn rows() -> Vec<(AggKey, AggStats)> {
        let mut events = Vec::new();
        for u in 0..200 {
            let unit = format!("u{u}");
            let variant = if u % 2 == 0 { "control" } else { "treatment" };
            let day = i64::from(u % 3) * 24 * 60;
            events.push(track(
                &format!("pre{u}"),
                &unit,
                "purchase",
                day - 60,
                Some(f64::from(u % 5)),
            ));
            events.push(exposure(&format!("x{u}"), &unit, "checkout", variant, day));
            events.push(track(&format!("c{u}"), &unit, "checkout", day + 1, None));
            if u % 3 == 0 || (u % 2 == 1 && u % 4 == 1) {
                events.push(track(
                    &format!("p{u}"),
                    &unit,
                    "purchase",
                    day + 5,
                    Some(f64::from(10 + u % 7)),
                ));
            }
        }
        aggregate_all(Arc::new(config()), &events, 64)
            .into_iter()
            .collect()
    }

    #[test]
    fn results_cover_every_metric_and_variant_with_a_daily_series() {
        let config = config();
        let results = compute(&config, "checkout", &rows()).unwrap();
        assert_eq!(results.units, vec![100, 100]);
        assert_eq!(results.excluded_units, 0);
        assert_eq!(results.metrics.len(), 3);
        assert!(results.metrics[1].result.cuped);
        let conv = &results.metrics[0].result.variants;
        assert_eq!(conv[0].n, 100);
        // Control: units 0, 6, 12, ... (u % 6 == 0) purchased: 34 of 100.
        assert!((conv[0].mean - 0.34).abs() < 1e-12, "{}", conv[0].mean);
        assert_eq!(results.series[0].points.len(), 3);
        let last = results.series[0].points.last().unwrap();
        assert_eq!(last.variants[0].units, 100);
        assert_eq!(results.series[0].points[0].variants[0].units, 34);
        assert!(last.variants[1].lift.is_some());
    }

    #[test]
    fn splitting_rows_across_shards_gives_identical_json() {
        let config = config();
        let rows = rows();
        let mut split = Vec::new();
        for (i, (k, s)) in rows.iter().enumerate() {
            // Half of each row on one shard, the rest on another.
            let mut a = *s;
            a.n /= 2;
            a.sx /= 2;
            let mut b = *s;
            b.sub(&a);
            split.push((k.clone(), if i % 2 == 0 { a } else { b }));
            split.push((k.clone(), if i % 2 == 0 { b } else { a }));
        }
        let one = serde_json::to_string(&compute(&config, "checkout", &rows).unwrap()).unwrap();
        let two = serde_json::to_string(&compute(&config, "checkout", &split).unwrap()).unwrap();
        assert_eq!(one, two);
    }

    #[test]
    fn csv_has_one_row_per_metric_and_variant() {
        let config = config();
        let results = serde_json::to_value(compute(&config, "checkout", &rows()).unwrap()).unwrap();
        let csv = to_csv(&results);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + 3 * 2);
        assert!(
            lines[1].starts_with("checkout,purchased,conversion,control,100,"),
            "{}",
            lines[1]
        );
        assert!(lines[2].contains(",ok,"), "{}", lines[2]);
    }

    #[test]
    fn an_unknown_experiment_is_an_error() {
        assert!(matches!(
            compute(&config(), "nope", &[]),
            Err(AnalyticsError::UnknownExperiment(_))
        ));
    }
}
